"""Estimator's workflows in every stage, against the model_fn run by a TF1
Session as `tf.estimator` ran it.

From the golden model_dir (written by the TF1 Session, `golden.py`): three
more training steps (the train op under `UPDATE_OPS`, the global step
advancing), an evaluation (`eval_metric_ops` updated per batch) and the
export outputs, in a TF1 graph; then the same with each stage's Keras
workflow: stages 1-3 (`EstimatorModel`: `restore(model_dir)`, `compile()`,
`fit`, `evaluate`, `export`, the spec's loss and metrics), stage 4 (plain
Keras 3: `compile(optimizer, loss, metrics)`, `fit`, `evaluate`, an
`ExportArchive`). Each must give the TF1 losses per step (stages 1-3: the
spec's loss, L2 included), the TF1 weights, batch-norm averages and step
count after training, the TF1 evaluation, and the TF1 export signatures.
"""

import keras
import numpy as np
import pytest
import tensorflow as tf

from tf1shim import checkpoints
from tf1shim.checkpoints import model_dir as model_dir_lib
from tf1shim.staging import golden as staging_golden
from examples.estimator import data
from examples.estimator import migration
from examples.estimator import stage1_functional_v1
from examples.estimator import stage4_fully_native
from testing.pytest_main import pytest_main

v1 = tf.compat.v1
ModeKeys = tf.estimator.ModeKeys
STEPS = 3
# Float32 losses and weights of O(1); the graph and Keras may sum in another
# order (oneDNN vs Eigen kernels), and rounding compounds over the steps:
# 1e-5 of the scale is ~100 ulps, while a missing L2 term moves the loss
# by ~1e-2 and an extra batch-norm update the moving averages by ~1e-1.
RTOL, ATOL = 1e-5, 1e-5


def _feed(placeholders, values):
  return dict(zip(tf.nest.flatten(placeholders), tf.nest.flatten(values)))


@pytest.fixture(scope="module")
def batches(tmp_path_factory):
  data_dir = str(tmp_path_factory.mktemp("data"))
  train = data.sample_batches("train", migration.GOLDEN_STEPS + STEPS,
                              data_dir)[-STEPS:]
  test = data.sample_batches("test", 3, data_dir)
  return train, test


@pytest.fixture(scope="module")
def tf1_reference(batches):
  """The TF1 Session's run from the golden model_dir."""
  train, test = batches
  golden = migration.MIGRATION.golden.prefix()
  params = stage1_functional_v1.PARAMS
  model_fn = stage1_functional_v1.model_fn
  result = {}
  with tf.Graph().as_default():
    global_step = v1.train.get_or_create_global_step()
    features = staging_golden.placeholders_like(train[0][0])
    labels = v1.placeholder(tf.int32, [None])
    spec = model_fn(features, labels, ModeKeys.TRAIN, params)
    with v1.Session() as sess:
      v1.train.Saver().restore(sess, golden)
      losses = []
      for x, y in train:
        feed = _feed(features, x)
        feed[labels] = y
        losses.append(sess.run([spec.train_op, spec.loss], feed)[1])
      result["losses"] = np.array(losses)
      result["variables"] = {v.op.name: sess.run(v)
                             for v in v1.global_variables()}
  trained = result["variables"]
  with tf.Graph().as_default():
    v1.train.get_or_create_global_step()
    features = staging_golden.placeholders_like(test[0][0])
    labels = v1.placeholder(tf.int32, [None])
    spec = model_fn(features, labels, ModeKeys.EVAL, params)
    ops = dict(spec.eval_metric_ops, loss=v1.metrics.mean(spec.loss))
    assign = [v.assign(trained[v.op.name]) for v in v1.global_variables()]
    with v1.Session() as sess:
      sess.run([assign, v1.local_variables_initializer()])
      for x, y in test:
        feed = _feed(features, x)
        feed[labels] = y
        sess.run([update for _, update in ops.values()], feed)
      result["evaluation"] = sess.run(
          {name: value for name, (value, _) in ops.items()})
  with tf.Graph().as_default():
    v1.train.get_or_create_global_step()
    features = staging_golden.placeholders_like(test[0][0])
    spec = model_fn(features, None, ModeKeys.PREDICT, params)
    assign = [v.assign(trained[v.op.name]) for v in v1.global_variables()]
    with v1.Session() as sess:
      sess.run(assign)
      result["exported"] = sess.run(
          {key: output.outputs for key, output in spec.export_outputs.items()},
          _feed(features, test[0][0]))
  return result


def _dataset(batches):
  return tf.data.Dataset.from_tensor_slices((
      {key: np.concatenate([x[key] for x, _ in batches])
       for key in batches[0][0]},
      np.concatenate([y for _, y in batches]))).batch(len(batches[0][1]))


class LossPerStep(keras.callbacks.Callback):

  def __init__(self):
    super().__init__()
    self.losses = []

  def on_train_batch_end(self, batch, logs=None):
    self.losses.append(logs["loss"])


def _assert_trained_as_tf1(model, reference):
  # Every stage's variable paths are the TF1 names.
  for variable in model.weights:
    name = variable.path
    expected = reference["variables"][name]
    np.testing.assert_allclose(
        variable.numpy(), expected, rtol=RTOL,
        atol=ATOL * max(1.0, float(np.abs(expected).max())), err_msg=name)


def _assert_exports_as_tf1(loaded, test_features, reference):
  inputs = {key: tf.constant(value) for key, value in test_features.items()}
  for key in ("serving_default", "classify"):
    served = loaded.signatures[key](**inputs)
    expected = reference["exported"][key]
    assert set(served) == set(expected), key
    for name, value in expected.items():
      np.testing.assert_allclose(served[name], value, rtol=RTOL, atol=ATOL,
                                 err_msg="%s/%s" % (key, name))


@pytest.mark.parametrize("number", [1, 2, 3])
def test_estimator_model_stage_runs_the_estimator_workflow(
    number, batches, tf1_reference, tmp_path):
  train, test = batches
  stage = migration.MIGRATION.stage(number)
  model = stage.build_model()
  model(train[0][0])
  report = model.restore(migration.MIGRATION.golden.folder)  # the model_dir
  assert not report.missing and not report.unused
  assert int(model.global_step.numpy()) == migration.GOLDEN_STEPS
  model.compile()  # the optimizer: the train op's GradientDescentOptimizer
  record = LossPerStep()
  model.fit(_dataset(train), verbose=0, callbacks=[record])
  np.testing.assert_allclose(record.losses, tf1_reference["losses"],
                             rtol=RTOL, atol=ATOL)
  assert int(model.global_step.numpy()) == migration.GOLDEN_STEPS + STEPS
  _assert_trained_as_tf1(model, tf1_reference)

  logs = model.evaluate(_dataset(test), verbose=0, return_dict=True)
  for name in ("loss", "accuracy"):
    np.testing.assert_allclose(logs[name], tf1_reference["evaluation"][name],
                               rtol=RTOL, atol=ATOL, err_msg=name)
  assert logs["global_step"] == migration.GOLDEN_STEPS + STEPS

  model.export(str(tmp_path / "saved_model"), verbose=False)
  _assert_exports_as_tf1(tf.saved_model.load(str(tmp_path / "saved_model")),
                         test[0][0], tf1_reference)


def test_plain_keras_stage_runs_the_same_workflow(batches, tf1_reference,
                                                  tmp_path):
  train, test = batches
  model = stage4_fully_native.build_model()
  model(train[0][0])
  resolved = model_dir_lib.resolve(migration.MIGRATION.golden.folder)
  assert resolved.global_step == migration.GOLDEN_STEPS
  report = checkpoints.restore_checkpoint(
      resolved.prefix, model, strict=True, ignore=checkpoints.TRAINING_STATE)
  assert report.ignored == ["global_step"]
  stage4_fully_native.compile_model(model)
  history = model.fit(_dataset(train), verbose=0, shuffle=False)
  # Keras logs the mean loss of the epoch: TF1's mean, here over 3 steps.
  np.testing.assert_allclose(history.history["loss"][0],
                             tf1_reference["losses"].mean(), rtol=RTOL,
                             atol=ATOL)
  assert int(model.optimizer.iterations.numpy()) == STEPS  # the global step
  _assert_trained_as_tf1(model, tf1_reference)

  logs = model.evaluate(_dataset(test), verbose=0, return_dict=True)
  for name in ("loss", "accuracy"):
    np.testing.assert_allclose(logs[name], tf1_reference["evaluation"][name],
                               rtol=RTOL, atol=ATOL, err_msg=name)

  stage4_fully_native.export(
      model, str(tmp_path / "saved_model"),
      {key: tf.TensorSpec((None,) + value.shape[1:], value.dtype)
       for key, value in test[0][0].items()})
  _assert_exports_as_tf1(tf.saved_model.load(str(tmp_path / "saved_model")),
                         test[0][0], tf1_reference)


if __name__ == "__main__":
  raise SystemExit(pytest_main(__file__))
