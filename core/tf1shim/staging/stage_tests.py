"""The standard tests of a migration's stages, one pytest class per stage.

A test module declares them with one line:

    globals().update(staging.test_namespace(MIGRATION))

which defines the fixtures and `TestStage1` ... `TestStageN`. Bazel runs
each class as its own target (the `migration_stages` macro, `-k
TestStageN`); pytest runs them all.

Every stage:
* keeps the TF1 variable names and shapes (through its rules);
* loads the golden TF1 checkpoint (strictly, by TF1 name) and gives the TF1
  graph's outputs;
* saves and reloads a `.keras` file, and exports a SavedModel, that serve
  the same predictions.
Stage 1 equals its TF1 graph run (no weights copied: the random tool draws
the same ones). Later stages equal stage 1, and stages 3 on the previous
stage, with weights copied through both stages' rules (`checkpoints.between`,
transforms included) under `copied_weights_random_tool()`: outputs
(inference and training), regularization losses, gradients and
`equivalence_steps` training steps. Stage 3 loads stage 2's object-based
checkpoint or, when its rules transform tensors (a Keras LSTM for a TF1
cell), shows that only the rules carry it over; a stage 3 whose variable
names are not stage 2's takes stage 2's weights through the rules. The last stage (when there
are at least two) runs without tf1shim and takes the golden checkpoint
converted by the `tf1shim-ckpt` command line (`convert --to keras`, its
rules as a rules file).

Tolerances are the migration's (`Migration.tolerances`, elementwise, and
for deep networks `output_scale_tolerance`: outputs and gradients may also
differ by that fraction of their own largest |value|, the float32 noise of
sums that other kernels run in other orders). The last stage's builder is
imported by name and called with its bound `builder_arguments`; it must run
without any package of `forbidden_in_last_stage`.

A stage still a template (its module sets `TEMPLATE`, e.g. a scaffolded
stage, `tf1shim-migrate new`) has its whole class skipped with the message
saying which lesson to follow. A written stage after a template compares
with the last written stage before it: "the previous stage" skips the
template(s), and when that is stage 1 the test skips (`test_equals_stage1`
makes that comparison); stage 3's object-checkpoint test skips while stage
2 is a template.
"""

import dataclasses
import os
import pickle
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

from tf1shim import checkpoints
from tf1shim import comparison
from tf1shim.staging import golden
from tf1shim.staging import random_tools
from tf1shim.staging import structures
from tf1shim.staging.migration import variable_name

# Set by the Bazel macro: its stage list, comma-separated.
STAGES_VARIABLE = "TF1SHIM_STAGES"


def assert_output_close(migration, actual, expected):
  """An output (any structure) equals `expected` within the migration's
  output tolerances (`Migration.output_tolerances`: the elementwise
  `tolerances.outputs_*`, widened by `output_scale_tolerance` times the
  largest |expected|)."""
  rtol, atol = migration.output_tolerances(expected)
  tf.nest.map_structure(
      lambda a, e: np.testing.assert_allclose(a, e, rtol=rtol, atol=atol),
      actual, expected)


def _mapping_between(candidate, reference):
  """Candidate variables from reference variables, through both stages'
  rules (transforms composed: the reference's inverse, then the candidate's
  forward), or None when both have the TF1 names."""
  if candidate.tf1_names is None and reference.tf1_names is None:
    return None
  return checkpoints.between(candidate.tf1_names, reference.tf1_names)


def _gradients_per_unit_of_scale(reference, candidate, mapping):
  """Both runs' gradients divided by the largest |value| of each reference
  gradient (through the mapping, for the candidate's): with
  `output_scale_tolerance`, a gradient's float32 noise is a fraction of its
  own scale (backprop through batch norm subtracts means, so an element
  near 0 carries the noise of the largest), and each variable's gradient
  has its own scale."""
  scales = {}
  for name, value in reference.gradients.items():
    largest = float(np.max(np.abs(value))) if value is not None else 0.0
    scales[name] = largest if largest > 0 else 1.0
  planned = comparison.report.plan_mapping(mapping, candidate.variables,
                                           reference.variables)
  for name, g in list(candidate.gradients.items()):
    target = planned.targets.get(name)
    if g is not None and target is not None:
      candidate.gradients[name] = np.asarray(g) / max(
          scales.get(source, 1.0) for source in target.sources)
  reference.gradients = {
      name: None if g is None else np.asarray(g) / scales[name]
      for name, g in reference.gradients.items()}


def compare(migration, reference, candidate, batches, random_tool,
            mapping=None, copy_weights=False):
  """The `ComparisonReport` of two stages (`tf1shim.comparison` stages: a
  `tf1_graph` or a builder) under the migration's tolerances. With
  `output_scale_tolerance`, each output (inference, training) may differ by
  that fraction of its own largest |value|, and each gradient by that
  fraction of its own (see `Migration`)."""
  reference_run = comparison.run_stage(
      reference, batches, migration.loss, migration.optimizer, random_tool,
      create_first=copy_weights)
  candidate_run = comparison.run_stage(
      candidate, batches, migration.loss, migration.optimizer, random_tool,
      initial_values=reference_run.initial_variables if copy_weights
      else None, mapping=mapping)
  if not migration.output_scale_tolerance:
    return comparison.compare_runs(reference_run, candidate_run, mapping,
                                   migration.tolerances)
  _gradients_per_unit_of_scale(reference_run, candidate_run, mapping)
  reports = {}
  for mode in ("inference", "training"):
    tolerances = migration.comparison_tolerances(
        getattr(reference_run, mode + "_output"))
    tolerances = dataclasses.replace(
        tolerances, gradients_atol=(tolerances.gradients_atol +
                                    migration.output_scale_tolerance))
    reports[mode] = comparison.compare_runs(reference_run, candidate_run,
                                            mapping, tolerances)
  # Each output's check from the comparison at its own scale; the rest (no
  # output scale in them) from the training mode's.
  checks = [reports["inference"].checks[i]
            if c.quantity == "output (inference)" else c
            for i, c in enumerate(reports["training"].checks)]
  return comparison.ComparisonReport(checks)


def _assert_matches(report):
  if not report.ok:
    raise AssertionError(str(report))


def assert_stage_equals(migration, reference, candidate, batches):
  """`candidate` equals `reference` (stages) with copied weights."""
  batches, _, (build_reference, build_candidate) = structures.packed(
      batches, migration.tf1_model_fn,
      [reference.build_model, candidate.build_model])
  _assert_matches(compare(
      migration, build_reference, build_candidate, batches,
      random_tools.copied_weights_random_tool,
      mapping=_mapping_between(candidate, reference), copy_weights=True))


def assert_stage_equals_tf1_graph(migration, stage, batches):
  """`stage` equals the TF1 model function run in a TF1 graph, no weights
  copied: under the random tool the stage draws the graph's."""
  batches, tf1_fn, (build,) = structures.packed(
      batches, migration.tf1_model_fn, [stage.build_model])
  _assert_matches(compare(migration, comparison.tf1_graph(tf1_fn), build,
                          batches, random_tools.random_tool))


class StageTests:
  """Tests every stage has; `migration` and `stage` are set per class."""
  migration = None
  stage = None

  def test_variables_have_the_tf1_names_and_shapes(self, batches):
    with tf.Graph().as_default():
      self.migration.tf1_model_fn(golden.placeholders_like(batches[0][0]),
                                  training=True)
      expected = {variable_name(v): tuple(v.shape)
                  for v in tf.compat.v1.global_variables()}
    model = self.stage.build_model()
    model(batches[0][0])
    # Through the inverse of the stage's rules, which must rebuild every
    # TF1 variable from the model's variables, each element exactly once.
    assert self.stage.tf1_variables(model) == expected


class GoldenCheckpointTests:
  """Tests of a migration with a golden checkpoint."""

  def test_loads_the_golden_tf1_checkpoint(self, test_batch):
    inputs, _ = test_batch
    expected = golden.tf1_graph_outputs(self.migration, inputs,
                                        self.migration.golden.prefix())
    model = self.stage.build_model()
    report = golden.restore(self.migration, self.stage, model, inputs)
    assert not report.missing and not report.unused
    assert_output_close(self.migration, model(inputs, training=False),
                        expected)

  def test_keras_file_and_saved_model_serve_the_same_predictions(
      self, test_batch, tmp_path):
    inputs, _ = test_batch
    model = self.stage.build_model()
    golden.restore(self.migration, self.stage, model, inputs)
    expected = np.asarray(model(inputs, training=False))

    path = str(tmp_path / "model.keras")
    model.save(path)
    reloaded = keras.models.load_model(path)
    np.testing.assert_array_equal(reloaded(inputs, training=False), expected)

    export_dir = str(tmp_path / "saved_model")
    # The inputs' signature, dtypes included: Keras infers float32 for every
    # input of a subclassed model (an int tensor of a dict would not fit).
    signature = tf.nest.map_structure(
        lambda x: tf.TensorSpec((None,) + np.shape(x)[1:],
                                tf.as_dtype(np.asarray(x).dtype)), inputs)
    model.export(export_dir, verbose=False, input_signature=[signature])
    # Keep the loaded object: its functions hold only weak references to
    # its variables.
    loaded = tf.saved_model.load(export_dir)
    served = loaded.serve(tf.nest.map_structure(tf.constant, inputs))
    assert_output_close(self.migration, served, expected)


def _test_equals_its_tf1_graph(self, batches):
  assert_stage_equals_tf1_graph(self.migration, self.stage, batches)


def _test_equals_stage1(self, batches):
  assert_stage_equals(self.migration, self.migration.stage(1), self.stage,
                      batches)


def _test_equals_the_previous_stage(self, batches):
  previous = self.migration.written_stage_before(self.stage.number)
  if previous.number == 1:
    pytest.skip("the stages between stage 1 and this one are templates; "
                "test_equals_stage1 compares this stage with stage 1")
  assert_stage_equals(self.migration, previous, self.stage, batches)


def _skip_while_stage2_is_a_template(migration):
  if migration.stage(2).template:
    pytest.skip("no object-based checkpoint of stage 2 to read: " +
                migration.stage(2).template)


def _stage2_checkpoint_and_this_stage(test, test_batch, folder):
  """(inputs, stage 2 with the golden weights, its object-based checkpoint,
  this stage's model built): what stage 3's checkpoint tests start from."""
  _skip_while_stage2_is_a_template(test.migration)
  inputs, _ = test_batch
  migration = test.migration
  stage2 = migration.stage(2).build_model()
  golden.restore(migration, migration.stage(2), stage2, inputs)
  path = tf.train.Checkpoint(model=stage2).write(
      os.path.join(str(folder), "ckpt"))
  model = test.stage.build_model()
  model(inputs, training=False)
  return inputs, stage2, path, model


def _test_loads_the_object_checkpoint_of_stage2(self, test_batch, tmp_path):
  inputs, stage2, path, model = _stage2_checkpoint_and_this_stage(
      self, test_batch, tmp_path)
  if (sorted(variable_name(v) for v in model.weights) ==
      sorted(variable_name(v) for v in stage2.weights)):
    status = tf.train.Checkpoint(model=model).read(path)
    status.assert_existing_objects_matched()
  else:
    # Other variable names than stage 2's (a slim stage 3's Keras
    # convolutions for its TF1 layers): other objects, whose keys in the
    # object-based checkpoint need not be this stage's, nor mean the same
    # variables (inception_v1's stage 3 reads stage 2's checkpoint without
    # an error and gives other logits). The TF1 names are the contract: the
    # weights reach it through them.
    _assign_through_the_rules(self, inputs, path, model)
  assert_output_close(self.migration, model(inputs, training=False),
                      stage2(inputs, training=False))


def _test_object_checkpoint_of_stage2_loads_only_through_the_rules(
    self, test_batch, tmp_path):
  # A stage whose rules transform tensors (a Keras LSTM for a TF1 cell)
  # cannot read stage 2's object-based checkpoint: it stores each tensor as
  # it was (a TF1 cell's joint kernel), under other keys.
  inputs, stage2, path, model = _stage2_checkpoint_and_this_stage(
      self, test_batch, tmp_path)
  with pytest.raises(AssertionError, match="not bound to checkpointed"):
    tf.train.Checkpoint(model=model).read(
        path).assert_existing_objects_matched()
  _assign_through_the_rules(self, inputs, path, model)
  assert_output_close(self.migration, model(inputs, training=False),
                      stage2(inputs, training=False))


def _assign_through_the_rules(self, inputs, path, model):
  """Sets `model` (this stage, built) to stage 2's object-based checkpoint
  at `path` through the TF1 names: stage 2 reads its checkpoint, the rules
  map."""
  stage2 = self.migration.stage(2)
  loaded = stage2.build_model()
  loaded(inputs, training=False)
  tf.train.Checkpoint(model=loaded).read(
      path).assert_existing_objects_matched()
  names = stage2.tf1_name_map(loaded)
  self.stage.assign_tf1_values(model, {
      names[variable_name(v)]: v.numpy() for v in loaded.weights})


_WITHOUT_TF1SHIM = """\
import pickle, sys
from {module} import {builder} as build_model
with open({inputs!r}, "rb") as f:
  inputs = pickle.load(f)
build_model(**{arguments!r})(inputs)
bad = sorted(m for m in sys.modules if m.split(".")[0] in {forbidden!r})
assert not bad, bad
"""


def _test_runs_without_tf1shim(self, test_batch, tmp_path):
  module, builder = self.stage.import_path
  inputs_file = str(tmp_path / "inputs.pickle")
  with open(inputs_file, "wb") as f:
    pickle.dump(tf.nest.map_structure(np.asarray, test_batch[0]), f)
  code = _WITHOUT_TF1SHIM.format(
      module=module, builder=builder, inputs=inputs_file,
      arguments=self.stage.builder_arguments,
      forbidden=tuple(self.migration.forbidden_in_last_stage))
  # This process's import path: the stage's module is importable as here.
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3",
             PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
  done = subprocess.run([sys.executable, "-c", code], env=env,
                        capture_output=True, text=True, timeout=300,
                        check=False)
  assert done.returncode == 0, done.stderr[-2000:]


_CLI_FACTORY = '''\
import pickle
from {module} import {builder} as build_model


def built_model():
  model = build_model(**{arguments!r})
  with open({inputs!r}, "rb") as f:
    model(pickle.load(f), training=False)
  return model
'''


def _test_converts_the_golden_checkpoint_with_the_ckpt_cli(
    self, test_batch, tmp_path, monkeypatch):
  # The way a team converts its TF1 checkpoint once for the native model:
  # `tf1shim-ckpt convert CKPT --model MODULE:FACTORY --rules FILE --to keras`.
  from tf1shim.checkpoints import cli  # pylint: disable=g-import-not-at-top
  inputs, _ = test_batch
  inputs_file = str(tmp_path / "inputs.pickle")
  with open(inputs_file, "wb") as f:
    pickle.dump(tf.nest.map_structure(np.asarray, inputs), f)
  # A module name per migration: the tool imports it in this process, and
  # Python would hand a later migration the first one's module.
  factory = "%s_%s_factory" % (
      "".join(c if c.isalnum() else "_" for c in self.migration.name),
      self.stage.name)
  module, builder = self.stage.import_path
  (tmp_path / (factory + ".py")).write_text(_CLI_FACTORY.format(
      module=module, builder=builder, inputs=inputs_file,
      arguments=self.stage.builder_arguments))
  prefix = self.migration.golden.prefix()
  argv = ["convert", prefix, "--model", factory + ":built_model", "--to",
          "keras", str(tmp_path / "stage.weights.h5")]
  if self.stage.rules.strip():
    (tmp_path / "tf1_names.rules").write_text(self.stage.rules)
    argv += ["--rules", str(tmp_path / "tf1_names.rules")]
  monkeypatch.chdir(tmp_path)  # the tool imports MODULE from the cwd
  monkeypatch.syspath_prepend(str(tmp_path))
  assert cli.main(argv) == 0
  model = self.stage.build_model()
  model(inputs, training=False)
  model.load_weights(str(tmp_path / "stage.weights.h5"))
  expected = golden.tf1_graph_outputs(self.migration, inputs, prefix)
  assert_output_close(self.migration, model(inputs, training=False),
                      expected)


def stage_test_class(migration, stage):
  """The test class of one stage (see the module docstring)."""
  last = len(migration.stages)
  tests = {"migration": migration, "stage": stage}
  if stage.number == 1:
    tests["test_equals_its_tf1_graph"] = _test_equals_its_tf1_graph
  else:
    tests["test_equals_stage1"] = _test_equals_stage1
  if stage.number >= 3:
    tests["test_equals_the_previous_stage"] = _test_equals_the_previous_stage
  has_golden = migration.golden is not None
  if has_golden and stage.number == 3:
    if stage.tf1_names and stage.tf1_names.transforms:
      tests["test_object_checkpoint_of_stage2_loads_only_through_the_rules"] = (
          _test_object_checkpoint_of_stage2_loads_only_through_the_rules)
    else:
      tests["test_loads_the_object_checkpoint_of_stage2"] = (
          _test_loads_the_object_checkpoint_of_stage2)
  if stage.number == last and last >= 2:
    tests["test_runs_without_tf1shim"] = _test_runs_without_tf1shim
    if has_golden:
      tests["test_converts_the_golden_checkpoint_with_the_ckpt_cli"] = (
          _test_converts_the_golden_checkpoint_with_the_ckpt_cli)
  if stage.template:
    # Skipped before any fixture runs: a template's `build_model` is a stub.
    tests["pytestmark"] = [pytest.mark.skip(reason=stage.template)]
  bases = (StageTests, GoldenCheckpointTests) if has_golden else (StageTests,)
  name = "TestStage%d" % stage.number
  return type(name, bases, tests)


def _skipped(reason):
  # A new function per test: marking the shared test function would skip
  # it in every migration of the process. No fixtures: nothing is set up.
  def test(self):
    del self
    pytest.skip(reason)
  return test


def _skipping(test_class, skip):
  """`test_class` with the tests named in `skip` skipped, each with its
  reason."""
  for name, reason in skip.items():
    if hasattr(test_class, name):
      setattr(test_class, name, _skipped(reason))
  return test_class


def test_namespace(migration, skip=None):
  """Fixtures and `TestStage1`..`TestStageN` for a test module's globals.

  `skip`: {test name: reason}, standard tests skipped in every stage with
  that reason (shown in the test report), for a model too large for some
  of them on its CI machine (say the measured cost in the reason)."""
  skip = dict(skip or {})
  known = {name for name in dir(StageTests) + dir(GoldenCheckpointTests)
           if name.startswith("test_")} | {
               name[1:] for name in globals() if name.startswith("_test_")}
  unknown = sorted(set(skip) - known)
  if unknown:
    raise ValueError("No standard test is named %s; they are: %s." % (
        ", ".join(unknown), ", ".join(sorted(known))))
  # Under Bazel the `migration_stages` macro passes its explicit stage list:
  # a stage added to one list and not the other fails here, by name.
  listed = os.environ.get(STAGES_VARIABLE)
  declared = [stage.name for stage in migration.stages]
  if listed and listed.split(",") != declared:
    raise ValueError(
        "The BUILD target lists the stages %s; migration %r declares %s. "
        "List the same stages, in the same order, in both." % (
            listed.split(","), migration.name, declared))

  @pytest.fixture(scope="module")
  def batches(data_dir):
    return migration.equivalence_batches(data_dir)

  @pytest.fixture(scope="module")
  def test_batch(data_dir):
    return migration.test_batch(data_dir)

  @pytest.fixture(scope="module")
  def data_dir(tmp_path_factory):
    return str(tmp_path_factory.mktemp("data"))

  namespace = {"batches": batches, "test_batch": test_batch,
               "data_dir": data_dir}
  for stage in migration.stages:
    test_class = _skipping(stage_test_class(migration, stage), skip)
    namespace[test_class.__name__] = test_class
  return namespace
