"""The standard tests of an example's stages, one test class per stage.

An example's `stages_test.py` is two lines:

    globals().update(stage_tests.test_namespace("dense"))

which defines `TestStage1` ... `TestStage4` (and their fixtures). Bazel runs
each class as its own target (`//examples/dense:stage2_oo_v1_test`, made by
the `example_stages` macro with `-k TestStage2`); pytest runs them all.

Every stage:
* keeps the TF1 variable names and shapes (through its `TF1_NAMES` rules);
* loads the golden TF1 checkpoint (written by a TF1 graph with `Saver`) and
  gives the TF1 graph's logits;
* saves and reloads a `.keras` file, and exports a SavedModel, that serve the
  same predictions.
Stage 1 equals its TF1 graph run (no weights copied: the random tool draws
the same ones). Stages 2-4 equal stage 1, and stages 3-4 the previous stage,
with weights copied and under the random tool: outputs (inference and
training), regularization losses, gradients and `EQUIVALENCE_STEPS` training
steps on digits batches. Stage 3 loads stage 2's object-based checkpoint (the
guide's step 4); stage 4 runs without tf1shim.
"""

import os
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

from tf1shim import comparison
from examples.curriculum import example as example_lib
from examples.curriculum import golden
from examples.curriculum import training

# Stages that run the same kernels give bitwise-equal logits; a Keras layer
# may run a different kernel for the same math (e.g. fused vs plain batch
# norm), a few float32 ulps apart.
OUTPUT_RTOL, OUTPUT_ATOL = 1e-6, 1e-6


def _mapping_between(example, candidate, reference, images):
  """candidate name -> reference name, through both stages' TF1 names."""
  if candidate.tf1_names is None and reference.tf1_names is None:
    return None
  reference_model = reference.build_model()
  reference_model(images)
  by_tf1 = {tf1: name for name, tf1 in
            reference.tf1_name_map(reference_model).items()}
  to_tf1 = candidate.tf1_names
  return lambda name: by_tf1.get(
      comparison.report.resolve_mapping(to_tf1, [name])[name], name)


def _assert_stages_match(example, reference, candidate, batches):
  comparison.assert_stages_match(
      reference.build_model, candidate.build_model, batches, training.loss,
      optimizer=training.OPTIMIZER,
      mapping=_mapping_between(example, candidate, reference, batches[0][0]),
      random_tool=training.random_tool, copy_weights=True)


class _StageTests:
  """Tests every stage has; `example` and `stage` are set per class."""
  example = None
  stage = None

  def test_variables_have_the_tf1_names_and_shapes(self, batches):
    with tf.Graph().as_default():
      self.example.tf1_model_fn(
          tf.compat.v1.placeholder(tf.float32, (None,) + batches[0][0].shape[
              1:]), training=True)
      expected = {example_lib.variable_name(v): tuple(v.shape)
                  for v in tf.compat.v1.global_variables()}
    model = self.stage.build_model()
    model(batches[0][0])
    names = self.stage.tf1_name_map(model)
    got = {names[example_lib.variable_name(v)]: tuple(v.shape)
           for v in model.weights}
    assert got == expected

  def test_loads_the_golden_tf1_checkpoint(self, test_batch):
    images, _ = test_batch
    expected = golden.tf1_graph_logits(self.example, images,
                                       golden.prefix(self.example))
    model = self.stage.build_model()
    report = golden.restore(self.example, self.stage, model, images)
    assert not report.missing and not report.unused
    np.testing.assert_allclose(model(images, training=False), expected,
                               rtol=OUTPUT_RTOL, atol=OUTPUT_ATOL)

  def test_keras_file_and_saved_model_serve_the_same_predictions(
      self, test_batch, tmp_path):
    images, _ = test_batch
    model = self.stage.build_model()
    golden.restore(self.example, self.stage, model, images)
    expected = np.asarray(model(images, training=False))

    path = str(tmp_path / "model.keras")
    model.save(path)
    reloaded = keras.models.load_model(path)
    np.testing.assert_array_equal(reloaded(images, training=False), expected)

    export_dir = str(tmp_path / "saved_model")
    model.export(export_dir, verbose=False)
    # Keep the loaded object: its functions hold only weak references to
    # its variables.
    loaded = tf.saved_model.load(export_dir)
    served = loaded.serve(tf.constant(images))
    np.testing.assert_allclose(served, expected, rtol=OUTPUT_RTOL,
                               atol=OUTPUT_ATOL)


def _test_equals_its_tf1_graph(self, batches):
  # No weights copied: under the random tool the stage draws the graph's.
  comparison.assert_stages_match(
      comparison.tf1_graph(self.example.tf1_model_fn), self.stage.build_model,
      batches, training.loss, optimizer=training.OPTIMIZER,
      random_tool=training.random_tool)


def _test_equals_stage1(self, batches):
  _assert_stages_match(self.example, self.example.stage(1), self.stage,
                       batches)


def _test_equals_the_previous_stage(self, batches):
  _assert_stages_match(self.example,
                       self.example.stage(self.stage.number - 1), self.stage,
                       batches)


def _test_loads_the_object_checkpoint_of_stage2(self, test_batch, tmp_path):
  images, _ = test_batch
  stage2 = self.example.stage(2).build_model()
  golden.restore(self.example, self.example.stage(2), stage2, images)
  path = tf.train.Checkpoint(model=stage2).write(str(tmp_path / "ckpt"))
  model = self.stage.build_model()
  model(images, training=False)
  status = tf.train.Checkpoint(model=model).read(path)
  status.assert_existing_objects_matched()
  np.testing.assert_allclose(model(images, training=False),
                             stage2(images, training=False),
                             rtol=OUTPUT_RTOL, atol=OUTPUT_ATOL)


def _test_runs_without_tf1shim(self, batches):
  code = ("import sys, numpy as np\n"
          "from examples.%s import %s as stage\n"
          "stage.build_model()(np.zeros((2, 8, 8, 1), np.float32))\n"
          "bad = sorted(m for m in sys.modules if m.split('.')[0] == "
          "'tf1shim')\n"
          "assert not bad, bad\n" % (self.example.name, self.stage.name))
  root = os.path.dirname(example_lib.EXAMPLES_DIR)
  env = dict(os.environ, PYTHONPATH=root, TF_CPP_MIN_LOG_LEVEL="3")
  done = subprocess.run([sys.executable, "-c", code], env=env, cwd=root,
                        capture_output=True, text=True, timeout=300,
                        check=False)
  assert done.returncode == 0, done.stderr[-2000:]


def test_namespace(example_name):
  """Fixtures and `TestStage1`..`TestStage4` for a test module's globals."""
  example = example_lib.load(example_name)
  namespace = {"batches": _batches, "test_batch": _test_batch,
               "data_dir": _data_dir}
  for stage in example.stages:
    tests = {"example": example, "stage": stage}
    if stage.number == 1:
      tests["test_equals_its_tf1_graph"] = _test_equals_its_tf1_graph
    else:
      tests["test_equals_stage1"] = _test_equals_stage1
    if stage.number >= 3:
      tests["test_equals_the_previous_stage"] = (
          _test_equals_the_previous_stage)
    if stage.number == 3:
      tests["test_loads_the_object_checkpoint_of_stage2"] = (
          _test_loads_the_object_checkpoint_of_stage2)
    if stage.number == 4:
      tests["test_runs_without_tf1shim"] = _test_runs_without_tf1shim
    name = "TestStage%d" % stage.number
    namespace[name] = type(name, (_StageTests,), tests)
  return namespace


@pytest.fixture(scope="module")
def _data_dir(tmp_path_factory):
  return str(tmp_path_factory.mktemp("tensorflow_datasets"))


@pytest.fixture(scope="module")
def _batches(data_dir):
  return training.equivalence_batches(data_dir)


@pytest.fixture(scope="module")
def _test_batch(data_dir):
  return training.test_batch(data_dir)
