"""The standard tests of a ported slim network, one class per stage.

A network's `stages_test.py` does

    globals().update(stage_tests.test_namespace("vgg_16"))

Reference: the tf_slim network (stage 1's `SLIM_MODEL_FN`, with its
arg_scope) trained a few steps in a TF1 graph and saved by `Saver` with the
published slim checkpoints' layout and number of classes. Every stage:

* has slim's variables (through its `TF1_NAMES`), with their shapes;
* loads that checkpoint strictly and gives the graph's logits and end
  points with `is_training=False`;
* in training mode, gives the graph's logits and moves the batch-norm
  averages as the graph's UPDATE_OPS do (dropout masks equal under the
  random tool);
and stage 4 runs with neither tf1shim nor tf_slim loaded. The naming table
is tested as data, and the checkpoint converts with the `ckpt` CLI into the
stage-4 model's `.weights.h5`, which Keras loads and which gives the same
logits.

Portable numbers: the checkpoint's batch-norm statistics are calibrated on
data (`reference.write_checkpoint`), so activations and logits are O(1) as
in a trained network (checked: `LOGITS_RANGE`), and outputs are compared
within a tolerance tied to their scale (`output_tolerance`), wide enough
for any CPU's kernels (oneDNN or Eigen, any instruction set), narrow
enough for a wrong batch norm (epsilon, statistics, Bessel's correction)
to fail.
"""

import os
import subprocess
import sys

import numpy as np
import pytest

import tf1shim
from tf1shim import checkpoints
from tf1shim import staging
from tf1shim.checkpoints import cli
from slim_port.staging import network as network_lib
from slim_port.staging import reference

EPS32 = float(np.finfo(np.float32).eps)  # 1.2e-7
# Variables after a training-mode forward, relative to each variable's
# largest value. Weights are restored exactly; a moving average moves by
# `(1 - decay) * batch statistic` (decay 0.997 or more), so it carries 0.003
# of the statistic's float32 error (output_tolerance, below) plus the update
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
BATCH = 2
TRAIN_STEPS = 2


def output_tolerance(prefix):
  """Absolute tolerance of an output, per unit of its largest |value|.

  Different CPUs run different kernels (oneDNN or Eigen, blocked by
  instruction set; the TF1 graph fuses convolution and batch norm, eager
  does not), which sum in different orders. A sum of K float32 terms is off
  by about EPS32 * sqrt(K) of the terms' size, and each layer passes its
  input's error on: over L weighted layers, EPS32 * sqrt(K_max) * L of the
  output's scale. From the checkpoint's weights: resnet_v1_50 4.4e-4 (54
  layers, K up to 3 * 3 * 512), inception_v1 2.9e-4, vgg_16 3.0e-4.
  Measured between oneDNN and Eigen on the same CPU: up to 4.4e-5 (end
  points of resnet_v1_50's block4), 1.7e-5 (logits). A wrong batch-norm
  epsilon or moving statistic changes outputs by 1e-2 or more.
  """
  reader = checkpoints.CheckpointReader(prefix)
  fan_ins = [int(np.prod(entry.shape[:-1]))
             for name, entry in reader.entries.items()
             if name.endswith("/weights")]
  return EPS32 * np.sqrt(max(fan_ins)) * len(fan_ins)


def assert_close(actual, want, tolerance, err_msg=""):
  """|actual - want| <= tolerance * max |want|, elementwise."""
  want = np.asarray(want)
  scale = float(np.max(np.abs(want))) if want.size else 0.0
  np.testing.assert_allclose(actual, want, rtol=0, atol=tolerance * scale,
                             err_msg=err_msg)


def _random_tool():
  # "constant": every random op draws the same values, whatever the order in
  # which a stage creates its variables and dropout ops.
  return tf1shim.DeterministicRandomTestTool(mode="constant")


def _restore(stage, model, prefix):
  return checkpoints.restore_checkpoint(prefix, model,
                                        mapping=stage.tf1_names, strict=True)


class _StageTests:
  network = None
  stage = None

  def _built(self, images):
    model = self.stage.build_model(
        num_classes=self.network.published_num_classes)
    model(images, training=False)
    return model

  def test_variables_are_slims_with_their_shapes(self, slim_checkpoint):
    prefix, images = slim_checkpoint
    model = self._built(images)
    names = self.stage.tf1_name_map(model)
    got = {names[staging.variable_name(v)]: tuple(v.shape)
           for v in model.weights}
    reader = checkpoints.CheckpointReader(prefix)
    assert got == {name: tuple(entry.shape)
                   for name, entry in reader.entries.items()}

  def test_loads_the_checkpoint_with_slims_logits_and_end_points(
      self, slim_checkpoint, slim_inference):
    prefix, images = slim_checkpoint
    want_logits, want_end_points = slim_inference
    model = self._built(images)
    report = _restore(self.stage, model, prefix)
    assert not report.missing and not report.unused
    logits, end_points = model(images, training=False,
                               return_end_points=True)
    tolerance = output_tolerance(prefix)
    assert_close(logits, want_logits, tolerance)
    assert sorted(end_points) == sorted(want_end_points)
    for name, want in want_end_points.items():
      assert_close(end_points[name], want, tolerance, err_msg=name)

  def test_training_mode_moves_batch_norm_as_the_graph(
      self, slim_checkpoint, slim_training_forward):
    prefix, images = slim_checkpoint
    want_logits, want_values = slim_training_forward
    with _random_tool().scope():
      model = self._built(images)
      _restore(self.stage, model, prefix)
      logits = model(images, training=True)
    assert_close(logits, want_logits, output_tolerance(prefix))
    names = self.stage.tf1_name_map(model)
    moving = 0
    for v in model.weights:
      name = names[staging.variable_name(v)]
      if "moving_" in name:
        moving += 1
      assert_close(v.numpy(), want_values[name], VARIABLES_TOLERANCE,
                   err_msg=name)
    assert moving == sum("moving_" in n for n in want_values)


def _test_runs_without_tf1shim_or_tf_slim(self, slim_checkpoint):
  _, images = slim_checkpoint
  code = ("import sys, numpy as np\n"
          "from slim_port.%s import %s as stage\n"
          "stage.build_model(input_size=%d)\n"
          "bad = sorted(m for m in sys.modules if m.split('.')[0] in "
          "('tf1shim', 'tf_slim'))\n"
          "assert not bad, bad\n" % (self.network.name, self.stage.name,
                                     images.shape[1]))
  root = os.path.dirname(network_lib.SLIM_PORT_DIR)
  # This process's path: the repository and core/ (plain-Keras modules such
  # as tf1_keras_layers live there), whether from pytest or Bazel runfiles.
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3",
             PYTHONPATH=os.pathsep.join([root] + [p for p in sys.path if p]))
  done = subprocess.run([sys.executable, "-c", code], env=env, cwd=root,
                        capture_output=True, text=True, timeout=600,
                        check=False)
  assert done.returncode == 0, done.stderr[-2000:]


class _NamingTableTests:
  network = None

  def test_naming_table_maps_stage4_one_to_one_onto_slim(
      self, slim_checkpoint):
    prefix, images = slim_checkpoint
    stage4 = self.network.stage(4)
    model = stage4.build_model(
        num_classes=self.network.published_num_classes)
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

  def test_converts_with_the_ckpt_cli_into_stage4_weights(
      self, slim_checkpoint, slim_inference, tmp_path, capsys):
    prefix, images = slim_checkpoint
    out = str(tmp_path / ("%s.weights.h5" % self.network.name))
    table = os.path.join(self.network.folder, network_lib.NAMING_TABLE)
    factory = "slim_port.%s.stage4_keras:published_model" % (
        self.network.name)
    code = cli.main(["convert", prefix, "--model", factory, "--to", "keras",
                     out, "--rules", table])
    assert code == 0, capsys.readouterr()
    model = self.network.stage(4).build_model(
        num_classes=self.network.published_num_classes)
    model(images, training=False)
    model.load_weights(out)
    assert_close(model(images, training=False), slim_inference[0],
                 output_tolerance(prefix))


def test_namespace(network_name):
  """Fixtures, `TestStage1`..`TestStage4` and `TestNamingTable`."""
  network = network_lib.load(network_name)
  namespace = _fixtures(network)
  for stage in network.stages:
    tests = {"network": network, "stage": stage}
    if stage.number == 4:
      tests["test_runs_without_tf1shim_or_tf_slim"] = (
          _test_runs_without_tf1shim_or_tf_slim)
    name = "TestStage%d" % stage.number
    namespace[name] = type(name, (_StageTests,), tests)
  namespace["TestNamingTable"] = type("TestNamingTable", (_NamingTableTests,),
                                      {"network": network})
  return namespace


def _fixtures(network):
  num_classes = network.published_num_classes

  @pytest.fixture(scope="module")
  def slim_checkpoint(tmp_path_factory):
    size = network.test_input_size
    batches = [reference.batch(BATCH, size, num_classes, seed)
               for seed in range(TRAIN_STEPS)]
    prefix = str(tmp_path_factory.mktemp("slim") / "model.ckpt")
    reference.write_checkpoint(network.slim_model_fn, batches, num_classes,
                               prefix)
    images, _ = reference.batch(BATCH, size, num_classes, seed=100)
    return prefix, images

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
                                      num_classes, prefix, _random_tool())

  return {"slim_checkpoint": slim_checkpoint,
          "slim_inference": slim_inference,
          "slim_training_forward": slim_training_forward}
