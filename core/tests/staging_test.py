"""`tf1shim.staging`: a migration declared once yields the standard tests.

The migration here appears nowhere else: a TF1 function of a dict of two
tensors (float features and an int count), a stage 1 under the shim and a
native stage 2, written as a user would write them, in their own folder.
Its generated tests pass under pytest; a stage 2 that forgot the
regularizer fails the generated equality test.
"""

import dataclasses
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from tf1shim import staging
from testing.pytest_main import pytest_main

L2_SCALE = 1e-3

STAGE1 = '''\
"""Stage 1: the TF1 function of a dict of two tensors, under the shim."""
import keras
import tensorflow as tf
import tf1shim

v1 = tf.compat.v1


def tiny_model(inputs, training=False):
  del training
  x = tf.concat([inputs["features"], tf.cast(inputs["count"], tf.float32)],
                axis=1)
  with v1.variable_scope("tiny"), v1.variable_scope("dense"):
    kernel = v1.get_variable(
        "kernel", [5, 2], initializer=v1.glorot_uniform_initializer(),
        regularizer=lambda w: {scale} * tf.nn.l2_loss(w))
    bias = v1.get_variable("bias", [2], initializer=v1.zeros_initializer())
  return tf.matmul(x, kernel) + bias


@keras.saving.register_keras_serializable(package="tiny_stage1")
class Tiny(keras.Model):

  def __init__(self, name="tiny_model", **kwargs):
    super().__init__(name=name, **kwargs)

  @tf1shim.track_tf1_style_variables
  def call(self, inputs, training=False):
    return tiny_model(inputs, training=training)


def build_model():
  return Tiny()
'''.format(scale=L2_SCALE)

STAGE2 = '''\
"""Stage 2: Keras 3 only, the TF1 names kept as variable paths."""
import keras


@keras.saving.register_keras_serializable(package="tiny_stage2")
class Tiny(keras.Model):

  def __init__(self, regularize=True, name="tiny", **kwargs):
    super().__init__(name=name, **kwargs)
    self.regularize = regularize
    self.dense = keras.layers.Dense(
        2, name="dense", kernel_regularizer=(
            keras.regularizers.L2({scale} / 2) if regularize else None))

  def call(self, inputs, training=False):
    count = keras.ops.cast(inputs["count"], "float32")
    return self.dense(keras.ops.concatenate([inputs["features"], count], 1))

  def get_config(self):
    return {{**super().get_config(), "regularize": self.regularize}}


def build_model():
  return Tiny()


def build_model_without_the_regularizer():
  return Tiny(regularize=False)
'''.format(scale=L2_SCALE)

MIGRATION = '''\
"""The tiny migration, declared once."""
import os

import numpy as np
import tensorflow as tf

from tf1shim import staging
import tiny_stage1
import tiny_stage2


def sample_batches(split, count, data_dir=None):
  rng = np.random.RandomState({{"train": 0, "test": 1}}[split])
  return [({{"features": rng.normal(size=(8, 4)).astype(np.float32),
            "count": rng.randint(0, 3, (8, 1)).astype(np.int32)}},
           rng.randint(0, 2, 8).astype(np.int32)) for _ in range(count)]


def loss(labels, logits):
  return tf.reduce_mean(
      tf.nn.sparse_softmax_cross_entropy_with_logits(labels, logits))


MIGRATION = staging.Migration(
    name="tiny",
    tf1_model_fn=tiny_stage1.tiny_model,
    stages=staging.stages_from_modules([tiny_stage1, tiny_stage2]),
    sample_batches=sample_batches,
    loss=loss,
    golden=staging.GoldenCheckpoint(
        os.path.join(os.path.dirname(os.path.abspath(__file__)), "golden")),
    equivalence_steps={steps})
'''

STAGES_TEST = '''\
from tf1shim import staging
import tiny_migration

globals().update(staging.test_namespace(tiny_migration.MIGRATION))
'''


@pytest.fixture(name="project")
def _project(tmp_path, monkeypatch):
  """A user's folder with the tiny migration and its golden checkpoint."""
  files = {"tiny_stage1.py": STAGE1, "tiny_stage2.py": STAGE2,
           "tiny_migration.py": MIGRATION.format(steps=3),
           "tiny_stages_test.py": STAGES_TEST}
  for name, text in files.items():
    (tmp_path / name).write_text(textwrap.dedent(text))
  monkeypatch.syspath_prepend(str(tmp_path))
  import tiny_migration  # pylint: disable=g-import-not-at-top
  migration = tiny_migration.MIGRATION
  staging.golden.write_golden(migration,
                              migration.sample_batches("train", 4),
                              migration.golden.folder)
  yield tmp_path, migration
  for name in ("tiny_migration", "tiny_stage1", "tiny_stage2"):
    sys.modules.pop(name, None)


def test_the_generated_stage_tests_pass_under_pytest(project):
  folder, _ = project
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3",
             PYTHONPATH=os.pathsep.join([str(folder)] + sys.path))
  env.pop("TF1SHIM_STAGES", None)
  done = subprocess.run(
      [sys.executable, "-m", "pytest", "tiny_stages_test.py", "-q",
       "-p", "no:cacheprovider", "-W", "ignore::DeprecationWarning"],
      cwd=str(folder), env=env, capture_output=True, text=True,
      timeout=900, check=False)
  assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
  # Stage 1: names, golden, .keras/SavedModel, its TF1 graph. Stage 2, the
  # last: the same three, stage 1, without tf1shim, the ckpt CLI.
  assert "10 passed" in done.stdout, done.stdout[-2000:]


def test_the_stages_and_classes_follow_the_declaration(project):
  _, migration = project
  namespace = staging.test_namespace(migration)
  assert sorted(n for n in namespace if n.startswith("Test")) == [
      "TestStage1", "TestStage2"]
  assert [s.name for s in migration.stages] == ["tiny_stage1", "tiny_stage2"]
  assert hasattr(namespace["TestStage2"], "test_runs_without_tf1shim")
  assert not hasattr(namespace["TestStage1"], "test_runs_without_tf1shim")


def test_a_bazel_stage_list_other_than_the_declared_one_is_refused(
    project, monkeypatch):
  _, migration = project
  monkeypatch.setenv("TF1SHIM_STAGES", "tiny_stage1,tiny_stage3")
  with pytest.raises(ValueError, match="tiny_stage3"):
    staging.test_namespace(migration)


def test_a_stage_without_the_regularizer_fails_the_equality_test(project):
  _, migration = project
  import tiny_stage2  # pylint: disable=g-import-not-at-top
  wrong = staging.Stage(2, "tiny_stage2",
                        tiny_stage2.build_model_without_the_regularizer)
  wrong_migration = staging.Migration(
      name="tiny_wrong", tf1_model_fn=migration.tf1_model_fn,
      stages=(migration.stage(1), wrong),
      sample_batches=migration.sample_batches, loss=migration.loss,
      equivalence_steps=3)
  batches = wrong_migration.equivalence_batches()
  right = staging.test_namespace(migration)["TestStage2"]()
  right.test_equals_stage1(batches)
  test = staging.test_namespace(wrong_migration)["TestStage2"]()
  with pytest.raises(AssertionError, match="regularization"):
    test.test_equals_stage1(batches)


def test_packed_inputs_come_back_with_their_structure_and_dtypes():
  from tf1shim.staging import structures  # pylint: disable=g-import-not-at-top
  inputs = {"a": np.arange(6, dtype=np.float32).reshape(2, 3),
            "b": (np.array([[1], [2]], np.int32),)}
  seen = []

  def fn(x, training=False):
    seen.append(x)
    return x["a"]

  batches, tf1_fn, _ = structures.packed([(inputs, np.zeros(2))], fn, [])
  assert batches[0][0].shape == (2, 4)
  tf1_fn(batches[0][0])
  np.testing.assert_array_equal(seen[0]["a"], inputs["a"])
  assert seen[0]["b"][0].dtype == np.int32
  np.testing.assert_array_equal(seen[0]["b"][0], inputs["b"][0])



def test_a_golden_model_dir_is_written_and_verified_with_its_state_file(
    tmp_path):
  # A golden checkpoint in an Estimator model_dir's layout: `model.ckpt-3`
  # and the `checkpoint` state file, written by a custom TF1 trainer; the
  # manifest covers the state file too.
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  v1 = tf.compat.v1
  folder = str(tmp_path / "golden")
  migration = staging.Migration(
      name="model_dir", tf1_model_fn=None, stages=(), sample_batches=None,
      loss=None, golden=staging.GoldenCheckpoint(
          folder, "regenerate it", checkpoint="model.ckpt-3",
          extra_files=("checkpoint",)))

  def train(migration_, batches, out):
    del migration_
    with tf.Graph().as_default():
      step = v1.train.get_or_create_global_step()
      v1.get_variable("w", [2])
      with v1.Session() as sess:
        sess.run(v1.global_variables_initializer())
        sess.run(step.assign(len(batches)))
        v1.train.Saver(save_relative_paths=True).save(
            sess, os.path.join(out, "model.ckpt"), global_step=step,
            write_meta_graph=False)
    return [1.0, 0.5]

  manifest = staging.golden.write_golden(migration, [None] * 3, folder,
                                         train=train)
  assert sorted(manifest["sha256"]) == [
      "checkpoint", "model.ckpt-3.data-00000-of-00001", "model.ckpt-3.index"]
  assert migration.golden.prefix() == os.path.join(folder, "model.ckpt-3")
  with open(os.path.join(folder, "checkpoint"), "a") as f:
    f.write("# changed\n")
  with pytest.raises(staging.GoldenError, match="checkpoint differs"):
    migration.golden.verify()


def test_bound_builder_arguments_are_literals_passed_by_name():
  import functools  # pylint: disable=g-import-not-at-top
  bound = staging.Stage(1, "s", functools.partial(staging.variable_name,
                                                  variable=None))
  assert bound.import_path == ("tf1shim.staging.migration", "variable_name")
  assert bound.builder_arguments == {"variable": None}
  with pytest.raises(ValueError, match="by keyword"):
    staging.Stage(1, "s", functools.partial(
        staging.variable_name, None)).builder_arguments
  with pytest.raises(ValueError, match="not Python literals"):
    staging.Stage(1, "s", functools.partial(
        staging.variable_name, variable=object())).builder_arguments


def _without_tf1shim_test(migration, number):
  return staging.test_namespace(migration)["TestStage%d" % number]()


def test_the_last_stage_runs_with_its_bound_arguments_without_what_it_must_not_import(
    project, tmp_path):
  # The fresh process imports the builder by name and calls it with the
  # bound arguments (an argument the builder does not take fails there),
  # and fails on any module of `forbidden_in_last_stage`.
  _, migration = project
  import tiny_stage1  # pylint: disable=g-import-not-at-top
  import tiny_stage2  # pylint: disable=g-import-not-at-top
  test_batch = migration.test_batch()

  def declared(builder_arguments, forbidden):
    stages = staging.stages_from_modules(
        [tiny_stage1, tiny_stage2], builder="Tiny",
        builder_arguments=builder_arguments)
    return dataclasses.replace(
        migration, stages=(migration.stage(1), stages[1]),
        forbidden_in_last_stage=forbidden)

  bound = declared({"regularize": False}, ("tf1shim",))
  assert bound.stage(2).builder_arguments == {"regularize": False}
  _without_tf1shim_test(bound, 2).test_runs_without_tf1shim(
      test_batch, tmp_path)
  with pytest.raises(AssertionError, match="units"):
    _without_tf1shim_test(declared({"units": 3}, ("tf1shim",)), 2
                          ).test_runs_without_tf1shim(test_batch, tmp_path)
  with pytest.raises(AssertionError, match="keras"):
    _without_tf1shim_test(declared(None, ("tf1shim", "keras")), 2
                          ).test_runs_without_tf1shim(test_batch, tmp_path)


def test_output_scale_tolerance_admits_noise_relative_to_each_outputs_scale(
    project):
  # A stage 1 whose outputs are off by 1e-4 of their scale (float32 noise of
  # a deep network): the elementwise default tolerances (1e-6) refuse it;
  # an output_scale_tolerance of 1e-3 admits it, one of 1e-5 does not.
  import keras  # pylint: disable=g-import-not-at-top
  import tiny_stage1  # pylint: disable=g-import-not-at-top
  _, migration = project

  class Noisy(tiny_stage1.Tiny):

    def call(self, inputs, training=False):
      outputs = super().call(inputs, training=training)
      return outputs + 1e-4 * keras.ops.max(keras.ops.abs(outputs))

  noisy = staging.Stage(1, "noisy", Noisy)
  batches = migration.equivalence_batches()
  for scale_tolerance, passes in ((0.0, False), (1e-5, False), (1e-3, True)):
    declared = dataclasses.replace(
        migration, stages=(noisy,) + migration.stages[1:],
        output_scale_tolerance=scale_tolerance)
    test = staging.test_namespace(declared)["TestStage1"]()
    if passes:
      test.test_equals_its_tf1_graph(batches)
    else:
      with pytest.raises(AssertionError, match="output"):
        test.test_equals_its_tf1_graph(batches)
  rtol, atol = dataclasses.replace(
      migration, output_scale_tolerance=1e-3).output_tolerances(
          {"a": np.array([-4.0, 1.0]), "b": np.array([2.0])})
  assert (rtol, atol) == (1e-6, 1e-6 + 1e-3 * 4.0)


def test_a_checkpoint_written_at_test_time_is_written_once(tmp_path):
  del tmp_path
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  v1 = tf.compat.v1
  writes = []

  def write(prefix):
    writes.append(prefix)
    with tf.Graph().as_default():
      v1.get_variable("w", [2])
      with v1.Session() as sess:
        sess.run(v1.global_variables_initializer())
        v1.train.Saver().save(sess, prefix, write_meta_graph=False,
                              write_state=False)

  checkpoint = staging.CheckpointWrittenAtTestTime(write)
  prefix = checkpoint.prefix()
  assert checkpoint.prefix() == prefix and writes == [prefix]
  assert tf.train.load_checkpoint(prefix).get_variable_to_shape_map() == {
      "w": [2]}


def test_skipped_standard_tests_say_why_and_only_for_their_migration(project):
  _, migration = project
  skipping = staging.test_namespace(
      migration, skip={"test_equals_stage1": "too costly here"})
  with pytest.raises(pytest.skip.Exception, match="too costly here"):
    skipping["TestStage2"]().test_equals_stage1()
  # The other migrations' classes keep the test.
  plain = staging.test_namespace(migration)["TestStage2"]
  assert "batches" in plain.test_equals_stage1.__code__.co_varnames
  with pytest.raises(ValueError, match="test_equals_stag1"):
    staging.test_namespace(migration, skip={"test_equals_stag1": "typo"})


def test_batch_norm_calibration_sets_moving_statistics_to_the_batchs():
  """TF1's update with decay 0 (numpy: the batch mean and the
  Bessel-corrected variance the fused kernel reports); a moving statistic
  without an update is an error."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  from tensorflow.python.training import moving_averages  # pylint: disable=g-import-not-at-top
  v1 = tf.compat.v1
  rng = np.random.RandomState(0)
  x = rng.normal(2.0, 3.0, (4, 3, 3, 2)).astype(np.float32)
  with tf.Graph().as_default():
    inputs = v1.placeholder(tf.float32, x.shape)
    mean_var = v1.get_variable("bn/moving_mean", [2],
                               initializer=v1.zeros_initializer())
    variance_var = v1.get_variable("bn/moving_variance", [2],
                                   initializer=v1.ones_initializer())
    _, mean, variance = v1.nn.fused_batch_norm(
        inputs, tf.ones([2]), tf.zeros([2]), is_training=True)
    for variable, value in ((mean_var, mean), (variance_var, variance)):
      v1.add_to_collection(v1.GraphKeys.UPDATE_OPS,
                           moving_averages.assign_moving_average(
                               variable, value, 0.997, zero_debias=False))
    calibrate = staging.batch_norm_calibration_ops()
    with v1.Session() as sess:
      sess.run(v1.global_variables_initializer())
      sess.run(calibrate, {inputs: x})
      got_mean, got_variance = sess.run([mean_var, variance_var])
    v1.get_variable("other/moving_mean", [2])  # no update feeds it
    with pytest.raises(ValueError, match="3 moving statistics, 2 calibrated"):
      staging.batch_norm_calibration_ops()
  flat = x.reshape(-1, 2).astype(np.float64)
  # Values O(1) to O(10) over 36 per channel: float32 rounding.
  np.testing.assert_allclose(got_mean, flat.mean(axis=0), rtol=1e-5)
  np.testing.assert_allclose(got_variance, flat.var(axis=0, ddof=1),
                             rtol=1e-5)


if __name__ == "__main__":
  raise SystemExit(pytest_main(__file__))
