"""A ported slim network's tests: the library's standard ones, and slim's.

A network's `stages_test.py` does

    globals().update(stage_tests.test_namespace(migration.MIGRATION,
                                                migration.NETWORK))

The standard tests come from `tf1shim.staging.test_namespace` (see
slim_port/staging/migration.py for the declaration): TF1 names and shapes
against the TF1 graph; stage 1 equal to tf_slim's network in a TF1 graph
and every later stage equal to stage 1 and to the previous stage with
copied weights (outputs in both modes, regularization, gradients, a
training step); the checkpoint the TF1 graph writes at test time loaded
by every stage with the graph's logits; `.keras` and SavedModel; stage
3 reading stage 2's object-based checkpoint; stage 4 run without tf1shim
or tf_slim and fed the checkpoint converted by the `ckpt` CLI through the
naming table. Added here, slim's own, on that same checkpoint:

* every stage gives slim's end points with `is_training=False`;
* in training mode, every stage gives the graph's logits and moves the
  batch-norm averages as the graph's UPDATE_OPS do (dropout masks equal
  under the random tool);
* the naming table maps stage 4 one to one onto slim's names, every rule
  used.

Portable numbers: the checkpoint's batch-norm statistics are calibrated on
data (`reference.write_checkpoint`), so activations and logits are O(1) as
in a trained network (checked: `LOGITS_RANGE`), and outputs are compared
within a tolerance tied to their scale (`MIGRATION.output_scale_tolerance`,
see `migration.float32_noise`), wide enough for any CPU's kernels (oneDNN
or Eigen, any instruction set), narrow enough for a wrong batch norm
(epsilon, statistics, Bessel's correction) to fail.
"""

import numpy as np
import pytest

import tf1shim
from tf1shim import checkpoints
from tf1shim import staging
from slim_port.staging import network as network_lib
from slim_port.staging import reference

# Variables after a training-mode forward, relative to each variable's
# largest value. Weights are restored exactly; a moving average moves by
# `(1 - decay) * batch statistic` (decay 0.997 or more), so it carries 0.003
# of the statistic's float32 error (output_scale_tolerance) plus the update
# formula's rounding (Keras vs TF1 form: a few EPS32): measured 4e-7 between
# oneDNN and Eigen. 1e-5 leaves 25x; a moving variance without Bessel's
# correction is off by 0.003 / (n - 1) of it, 4e-4 in resnet_v1_50's block4
# (n = 8 values per channel at the tests' batch and input size).
VARIABLES_TOLERANCE = 1e-5
# The reference's logits, largest |value|: O(1) for an untrained network
# with sane statistics (measured: vgg_16 0.01, inception_v1 2, resnet_v1_50
# 12-18). A checkpoint whose inference activations blow up (uncalibrated
# statistics gave resnet_v1_50 logits of 5e6) fails here, not as float32
# noise on some CPU.
LOGITS_RANGE = (1e-3, 1e2)


def assert_close(actual, want, tolerance, err_msg=""):
  """|actual - want| <= tolerance * max |want|, elementwise."""
  want = np.asarray(want)
  scale = float(np.max(np.abs(want))) if want.size else 0.0
  np.testing.assert_allclose(actual, want, rtol=0, atol=tolerance * scale,
                             err_msg=err_msg)


def random_tool():
  # "constant": every random op draws the same values, whatever the order in
  # which a stage creates its variables and dropout ops.
  return tf1shim.DeterministicRandomTestTool(mode="constant")


def restored(migration, stage, images, prefix=None):
  """The stage's model with the checkpoint (default: the migration's)
  restored strictly by slim's names."""
  model = stage.build_model()
  model(images, training=False)
  report = checkpoints.restore_checkpoint(
      prefix or migration.golden.prefix(), model, mapping=stage.tf1_names,
      strict=True)
  assert not report.missing and not report.unused
  return model


class SlimStageTests:
  """slim's tests of one stage (mixed into the library's `TestStageN`)."""
  migration = None
  stage = None

  def test_gives_slims_end_points(self, slim_checkpoint, slim_inference):
    _, images = slim_checkpoint
    _, want_end_points = slim_inference
    model = restored(self.migration, self.stage, images)
    _, end_points = model(images, training=False, return_end_points=True)
    assert sorted(end_points) == sorted(want_end_points)
    for name, want in want_end_points.items():
      assert_close(end_points[name], want,
                   self.migration.output_scale_tolerance, err_msg=name)

  def test_training_mode_moves_batch_norm_as_the_graph(
      self, slim_checkpoint, slim_training_forward):
    _, images = slim_checkpoint
    want_logits, want_values = slim_training_forward
    with random_tool().scope():
      model = restored(self.migration, self.stage, images)
      logits = model(images, training=True)
    assert_close(logits, want_logits, self.migration.output_scale_tolerance)
    names = self.stage.tf1_name_map(model)
    moving = 0
    for v in model.weights:
      name = names[staging.variable_name(v)]
      if "moving_" in name:
        moving += 1
      assert_close(v.numpy(), want_values[name], VARIABLES_TOLERANCE,
                   err_msg=name)
    assert moving == sum("moving_" in n for n in want_values)


class NamingTableTests:
  migration = None
  network = None

  def test_naming_table_maps_stage4_one_to_one_onto_slim(
      self, slim_checkpoint):
    prefix, images = slim_checkpoint
    model = self.migration.stage(4).build_model()
    model(images, training=False)
    rules = checkpoints.parse_rules(network_lib.naming_table(
        self.network.name))
    paths = [staging.variable_name(v) for v in model.weights]
    used = set()
    mapped = {}
    for path in paths:
      # The one rules engine: the first matching rule wins.
      rule, (mapped[path],) = rules.match(path)
      if rule is not None:
        used.add(rule.line)
    reader = checkpoints.CheckpointReader(prefix)
    assert sorted(mapped.values()) == sorted(reader.entries)
    assert len(set(mapped.values())) == len(paths)
    assert used == {rule.line for rule in rules}, "unused rules"


def test_namespace(migration, network, skip=None):
  """The library's fixtures and `TestStage1`..`TestStage4` with slim's tests
  mixed in, slim's fixtures, and `TestNamingTable`; `skip` as for
  `staging.test_namespace`."""
  namespace = staging.test_namespace(migration, skip)
  namespace.update(_fixtures(migration, network))
  for stage in migration.stages:
    name = "TestStage%d" % stage.number
    namespace[name] = type(name, (namespace[name], SlimStageTests), {})
  namespace["TestNamingTable"] = type(
      "TestNamingTable", (NamingTableTests,),
      {"migration": migration, "network": network})
  return namespace


def _fixtures(migration, network):
  num_classes = migration.stage(1).builder_arguments["num_classes"]

  @pytest.fixture(scope="module")
  def slim_checkpoint(test_batch):
    """(the checkpoint's prefix, the test images)."""
    return migration.golden.prefix(), test_batch[0]

  @pytest.fixture(scope="module")
  def slim_inference(slim_checkpoint):
    prefix, images = slim_checkpoint
    logits, end_points = reference.inference(network.slim_model_fn, images,
                                             num_classes, prefix)
    largest = float(np.max(np.abs(logits)))
    assert LOGITS_RANGE[0] <= largest <= LOGITS_RANGE[1], (
        "the reference's logits reach %g: not a realistic network" % largest)
    return logits, end_points

  @pytest.fixture(scope="module")
  def slim_training_forward(slim_checkpoint):
    prefix, images = slim_checkpoint
    return reference.training_forward(network.slim_model_fn, images,
                                      num_classes, prefix, random_tool())

  return {"slim_checkpoint": slim_checkpoint,
          "slim_inference": slim_inference,
          "slim_training_forward": slim_training_forward}
