"""tf1shim.estimator: a TF1 Estimator model_fn run by a Keras 3 model.

The reference is the model_fn run as Estimator ran it, in a TF1
`Graph`/`Session`: the global step made first, the TRAIN spec's `train_op`
(its `minimize` under `control_dependencies(UPDATE_OPS)`) run once per
batch, `Saver` checkpoints `model.ckpt-N` in a model_dir; the EVAL spec's
metric update ops run per batch and their values read at the end; the
PREDICT spec's outputs. The Keras model starts from the TF1 graph's initial
weights (its model.ckpt-0, restored from the model_dir) and must give the
same loss at every step, the same weights, batch-norm averages and global
step after training, the same evaluation metrics, and a SavedModel whose
signatures are the spec's export_outputs.
"""

import re

import keras
import numpy as np
import pytest
import tensorflow as tf

import tf1shim
from tf1shim import checkpoints
from tf1shim import estimator
from tf1shim.estimator import optimizers as optimizers_lib
from testing.pytest_main import pytest_main

tf1shim.install()
v1 = tf.compat.v1
BATCH, STEPS, CLASSES = 16, 4, 3
# Float32 losses and weights of O(1): the graph and Keras run the same math
# with kernels that may differ in summation order (oneDNN vs Eigen), and the
# rounding compounds over a few steps; 1e-5 of the values' scale is ~100
# float32 ulps, far below what a wrong loss term or a missed update moves.
RTOL, ATOL = 1e-5, 1e-5
L2_SCALE = 0.01


def model_fn(features, labels, mode, params):
  """An Estimator model_fn as TF1 teams wrote them (dict features, L2 via a
  regularizer, batch norm with UPDATE_OPS, the global step, TF1 metrics,
  export outputs)."""
  training = mode == tf.estimator.ModeKeys.TRAIN
  x = tf.concat([features["pixels"], features["extra"]], axis=1)
  with v1.variable_scope("classifier"):
    h = v1.layers.dense(
        x, 16, use_bias=False,
        kernel_regularizer=lambda w: L2_SCALE * tf.nn.l2_loss(w))
    h = v1.layers.batch_normalization(h, momentum=0.9, training=training)
    h = tf.nn.relu(h)
    logits = v1.layers.dense(
        h, CLASSES, kernel_regularizer=lambda w: L2_SCALE * tf.nn.l2_loss(w))
  probabilities = tf.nn.softmax(logits)
  predictions = {"classes": tf.argmax(logits, axis=1),
                 "probabilities": probabilities, "logits": logits}
  if mode == tf.estimator.ModeKeys.PREDICT:
    return tf.estimator.EstimatorSpec(mode, predictions=predictions,
                                      export_outputs={
        "serving_default": tf.estimator.export.PredictOutput(predictions),
        "scores": tf.estimator.export.ClassificationOutput(
            scores=probabilities)})
  loss = (v1.losses.sparse_softmax_cross_entropy(labels, logits) +
          v1.losses.get_regularization_loss())
  if mode == tf.estimator.ModeKeys.EVAL:
    return tf.estimator.EstimatorSpec(mode, loss=loss, predictions=predictions,
                                      eval_metric_ops={
        "accuracy": v1.metrics.accuracy(labels, predictions["classes"]),
        "confidence": v1.metrics.mean(tf.reduce_max(probabilities, axis=1)),
    })
  optimizer = params["optimizer"]()
  if params.get("group_update_ops"):
    # The official ResNet model_fn's way: the train op grouped with them.
    train_op = tf.group(
        optimizer.minimize(loss, global_step=v1.train.get_global_step()),
        v1.get_collection(v1.GraphKeys.UPDATE_OPS))
  else:
    with tf.control_dependencies(v1.get_collection(v1.GraphKeys.UPDATE_OPS)):
      train_op = optimizer.minimize(
          loss, global_step=v1.train.get_global_step())
  return tf.estimator.EstimatorSpec(mode, loss=loss, train_op=train_op,
                                    predictions=predictions)


def linear_model_fn(features, labels, mode, params):
  """A small model_fn for the optimizer mappings (no batch norm)."""
  with v1.variable_scope("linear"):
    h = v1.layers.dense(features, 8, activation=tf.nn.tanh)
    logits = v1.layers.dense(h, CLASSES)
  if mode == tf.estimator.ModeKeys.PREDICT:
    return tf.estimator.EstimatorSpec(mode, predictions=logits)
  loss = v1.losses.sparse_softmax_cross_entropy(labels, logits)
  make_train_op = params.get("train_op", minimize)
  return tf.estimator.EstimatorSpec(mode, loss=loss,
                                    train_op=make_train_op(loss, params))


def minimize(loss, params):
  return params["optimizer"]().minimize(
      loss, global_step=v1.train.get_or_create_global_step())


def digits_like_batches(count, seed=0):
  """Realistic inputs (O(1)) with learnable labels."""
  rng = np.random.RandomState(seed)
  projection = rng.randn(6, CLASSES)
  batches = []
  for _ in range(count):
    pixels = rng.randn(BATCH, 4).astype(np.float32)
    extra = rng.uniform(-1, 1, (BATCH, 2)).astype(np.float32)
    labels = np.argmax(np.concatenate([pixels, extra], 1) @ projection +
                       0.5 * rng.randn(BATCH, CLASSES), 1).astype(np.int64)
    batches.append(({"pixels": pixels, "extra": extra}, labels))
  return batches


def dataset(batches):
  """What an input_fn returns: a Dataset of (features, labels) batches."""
  def generator():
    yield from batches
  features, labels = batches[0]
  signature = (tf.nest.map_structure(
      lambda x: tf.TensorSpec((None,) + x.shape[1:], x.dtype), features),
               tf.TensorSpec((None,), tf.int64))
  return tf.data.Dataset.from_generator(generator, output_signature=signature)


def placeholders(features):
  return tf.nest.map_structure(
      lambda x: v1.placeholder(x.dtype, (None,) + x.shape[1:]), features)


def feed(placeholder_structure, values):
  return dict(zip(tf.nest.flatten(placeholder_structure),
                  tf.nest.flatten(values)))


def tf1_train(fn, params, batches, model_dir, save_after=()):
  """Estimator's training: model.ckpt-0, one train_op run per batch,
  model.ckpt-N (and after the steps `save_after`); returns the losses and
  the final variables."""
  with tf.Graph().as_default():
    global_step = v1.train.get_or_create_global_step()
    features = placeholders(batches[0][0])
    labels = v1.placeholder(tf.int64, (None,))
    spec = fn(features, labels, tf.estimator.ModeKeys.TRAIN, params)
    saver = v1.train.Saver()
    with v1.Session() as sess:
      sess.run(v1.global_variables_initializer())
      saver.save(sess, model_dir + "/model.ckpt", global_step=0)
      losses = []
      for x, y in batches:
        values = feed(features, x)
        values[labels] = y
        _, loss = sess.run([spec.train_op, spec.loss], values)
        losses.append(loss)
        if len(losses) in save_after:
          saver.save(sess, model_dir + "/model.ckpt", global_step=global_step)
      saver.save(sess, model_dir + "/model.ckpt", global_step=global_step)
      final = {v.op.name: sess.run(v) for v in v1.global_variables()}
  return np.array(losses), final


def tf1_evaluate(batches, prefix, fn=model_fn):
  """Estimator's evaluation: update ops per batch, values at the end, the
  loss as the mean of the batches' losses."""
  with tf.Graph().as_default():
    v1.train.get_or_create_global_step()
    features = placeholders(batches[0][0])
    labels = v1.placeholder(tf.int64, (None,))
    spec = fn(features, labels, tf.estimator.ModeKeys.EVAL, {})
    loss_mean = v1.metrics.mean(spec.loss)
    ops = dict(spec.eval_metric_ops, loss=loss_mean)
    with v1.Session() as sess:
      sess.run(v1.local_variables_initializer())
      v1.train.Saver(v1.global_variables()).restore(sess, prefix)
      for x, y in batches:
        values = feed(features, x)
        values[labels] = y
        sess.run([update for _, update in ops.values()], values)
      return sess.run({name: value for name, (value, _) in ops.items()})


def tf1_predict(features_value, prefix):
  with tf.Graph().as_default():
    v1.train.get_or_create_global_step()
    features = placeholders(features_value)
    spec = model_fn(features, None, tf.estimator.ModeKeys.PREDICT, {})
    outputs = {key: output.outputs
               for key, output in spec.export_outputs.items()}
    with v1.Session() as sess:
      v1.train.Saver(v1.global_variables()).restore(sess, prefix)
      return sess.run(outputs, feed(features, features_value))


class LossPerStep(keras.callbacks.Callback):

  def __init__(self):
    super().__init__()
    self.losses, self.steps = [], []

  def on_train_batch_end(self, batch, logs=None):
    self.losses.append(logs["loss"])
    self.steps.append(logs["global_step"])


def momentum():
  return v1.train.MomentumOptimizer(0.1, 0.9)


def built_model(fn, params, features):
  model = estimator.EstimatorModel(fn, params)
  model(features)  # PREDICT mode: makes the variables, moves nothing
  return model


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
  """The TF1 reference run, and the Keras model trained from its start."""
  model_dir = str(tmp_path_factory.mktemp("model_dir"))
  batches = digits_like_batches(STEPS)
  losses, final = tf1_train(model_fn, {"optimizer": momentum}, batches,
                            model_dir)
  model = built_model(model_fn, {"optimizer": momentum}, batches[0][0])
  report = model.restore(model_dir + "/model.ckpt-0")
  model.compile()
  record = LossPerStep()
  model.fit(dataset(batches), epochs=1, verbose=0, callbacks=[record])
  return dict(model_dir=model_dir, batches=batches, tf1_losses=losses,
              tf1_final=final, model=model, record=record, report=report)


def test_fit_gives_the_tf1_graphs_loss_at_every_step(trained):
  np.testing.assert_allclose(trained["record"].losses, trained["tf1_losses"],
                             rtol=RTOL, atol=ATOL)
  # The spec's loss includes the L2 terms the model_fn read from
  # REGULARIZATION_LOSSES: without them the first loss would differ by
  # their sum (> 1e-3 here), far more than the tolerance.
  assert not trained["report"].missing and not trained["report"].unused


def test_optimizer_is_the_train_ops_and_global_step_advances(trained):
  model = trained["model"]
  assert isinstance(model.optimizer, keras.optimizers.SGD)
  assert model.optimizer.momentum == pytest.approx(0.9)
  assert trained["record"].steps == [1, 2, 3, 4]
  assert int(model.global_step.numpy()) == STEPS == int(
      trained["tf1_final"]["global_step"])


def test_weights_and_batch_norm_averages_equal_the_tf1_graphs(trained):
  # Moving averages updated exactly once per step, as UPDATE_OPS with the
  # train op: a second update per step would move moving_mean by
  # another 10% of the batch mean.
  # The TF1 graph's variables but its training state (global step,
  # Momentum slots), which the model keeps elsewhere.
  final = {name: value for name, value in trained["tf1_final"].items()
           if not any(re.search(p, name) for p in checkpoints.TRAINING_STATE)}
  model = trained["model"]
  assert {tf1shim.tf1_name(v)[:-2] for v in model.weights} == set(final)
  for variable in model.weights:
    expected = final[tf1shim.tf1_name(variable)[:-2]]
    np.testing.assert_allclose(variable.numpy(), expected, rtol=RTOL,
                               atol=ATOL * max(1.0, np.abs(expected).max()),
                               err_msg=variable.path)


def test_model_dir_restores_strictly_with_the_global_step(trained):
  batches = trained["batches"]
  model = built_model(model_fn, {"optimizer": momentum}, batches[0][0])
  report = model.restore(trained["model_dir"])
  assert report.checkpoint.endswith("model.ckpt-%d" % STEPS)
  assert not report.missing and not report.unused and not report.mismatched
  assert int(model.global_step.numpy()) == STEPS
  for variable in model.weights:
    np.testing.assert_array_equal(
        variable.numpy(), trained["tf1_final"][tf1shim.tf1_name(variable)[:-2]])


def test_evaluate_reports_the_tf1_metrics(trained):
  eval_batches = digits_like_batches(3, seed=1)
  prefix = trained["model_dir"] + "/model.ckpt-%d" % STEPS
  expected = tf1_evaluate(eval_batches, prefix)
  model = built_model(model_fn, {}, eval_batches[0][0])
  model.restore(trained["model_dir"])
  logs = model.evaluate(dataset(eval_batches), verbose=0, return_dict=True)
  assert set(logs) == {"loss", "accuracy", "confidence", "global_step"}
  for name in ("loss", "accuracy", "confidence"):
    # Means of O(1) values over 48 examples.
    np.testing.assert_allclose(logs[name], expected[name], rtol=RTOL,
                               atol=ATOL, err_msg=name)
  assert logs["global_step"] == STEPS
  # A second evaluate starts its metrics anew, as Estimator's.
  again = model.evaluate(dataset(eval_batches), verbose=0, return_dict=True)
  np.testing.assert_allclose(again["accuracy"], expected["accuracy"])


def auc_model_fn(features, labels, mode, params):
  """model_fn evaluated by TF1's auc in each of its forms: the
  probability of class 1 against labels == 1, weighted or not."""
  spec = model_fn(features, labels, mode, params)
  if mode != tf.estimator.ModeKeys.EVAL:
    return spec
  scores = spec.predictions["probabilities"][:, 1]
  is_one = tf.equal(labels, 1)
  weights = 0.5 + tf.abs(features["extra"][:, 0])  # per example, in [0.5, 1.5)
  return spec._replace(eval_metric_ops={
      "roc": v1.metrics.auc(is_one, scores),
      "roc_weighted": v1.metrics.auc(is_one, scores, weights=weights),
      "pr": v1.metrics.auc(is_one, scores, curve="PR"),
      "pr_careful": v1.metrics.auc(
          is_one, scores, curve="PR", summation_method="careful_interpolation"),
      "roc_majoring": v1.metrics.auc(is_one, scores, num_thresholds=50,
                                     summation_method="majoring"),
      "pr_minoring_thresholds": v1.metrics.auc(
          is_one, scores, curve="PR", summation_method="minoring",
          thresholds=[0.6, 0.2, 0.35, 0.5]),
  })


def test_auc_in_every_form_is_tf1s(trained):
  # Confusion counts at TF1's thresholds accumulated over 3 batches, then
  # TF1's formula: sums of O(1) weights and ratios of them, 1e-5.
  eval_batches = digits_like_batches(3, seed=3)
  prefix = trained["model_dir"] + "/model.ckpt-%d" % STEPS
  expected = tf1_evaluate(eval_batches, prefix, auc_model_fn)
  model = built_model(auc_model_fn, {}, eval_batches[0][0])
  model.restore(trained["model_dir"])
  logs = model.evaluate(dataset(eval_batches), verbose=0, return_dict=True)
  names = ("roc", "roc_weighted", "pr", "pr_careful", "roc_majoring",
           "pr_minoring_thresholds")
  for name in names:
    np.testing.assert_allclose(logs[name], expected[name], rtol=RTOL,
                               atol=ATOL, err_msg=name)


def test_auc_of_one_batch_is_what_tf1_code_reads(trained):
  # The (value, update_op) pair's value inside the model_fn (what TF1 code
  # logs): one batch's AUC, TF1's after one update.
  def batch_auc_model_fn(features, labels, mode, params):
    spec = model_fn(features, labels, mode, params)
    scores = spec.predictions["probabilities"][:, 1]
    value, update = v1.metrics.auc(features["extra"][:, 0] > 0, scores,
                                   curve="PR")
    return spec._replace(predictions={"auc": value, "update": update})
  features_value = digits_like_batches(1, seed=4)[0][0]
  prefix = trained["model_dir"] + "/model.ckpt-%d" % STEPS
  with tf.Graph().as_default():
    v1.train.get_or_create_global_step()
    features = placeholders(features_value)
    spec = batch_auc_model_fn(features, None, tf.estimator.ModeKeys.PREDICT,
                              {})
    with v1.Session() as sess:
      sess.run(v1.local_variables_initializer())
      v1.train.Saver(v1.global_variables()).restore(sess, prefix)
      sess.run(spec.predictions["update"], feed(features, features_value))
      expected = sess.run(spec.predictions["auc"])
  model = built_model(batch_auc_model_fn, {}, features_value)
  model.restore(trained["model_dir"])
  found = model(features_value)
  np.testing.assert_allclose(found["auc"], expected, rtol=RTOL, atol=ATOL)
  np.testing.assert_allclose(found["update"], expected, rtol=RTOL, atol=ATOL)


def tpu_model_fn(features, labels, mode, params):
  """model_fn returning TPUEstimatorSpecs as BERT's and EfficientNet's did:
  eval_metrics as (metric_fn, tensors), a list or a dict, a scaffold_fn, a
  CrossShardOptimizer only on TPUs."""
  spec = model_fn(features, labels, mode, params)
  if mode == tf.estimator.ModeKeys.PREDICT:
    return tf.estimator.tpu.TPUEstimatorSpec(mode,
                                             predictions=spec.predictions)
  if mode == tf.estimator.ModeKeys.TRAIN:
    return tf.estimator.tpu.TPUEstimatorSpec(
        mode, loss=spec.loss, train_op=spec.train_op,
        scaffold_fn=lambda: v1.train.Scaffold())

  def metric_fn(labels, classes, probabilities):
    return {"accuracy": v1.metrics.accuracy(labels, classes),
            "confidence": v1.metrics.mean(
                tf.reduce_max(probabilities, axis=1))}
  tensors = [labels, spec.predictions["classes"],
             spec.predictions["probabilities"]]
  if params.get("dict_tensors"):
    tensors = dict(zip(["labels", "classes", "probabilities"], tensors))
  return tf.estimator.tpu.TPUEstimatorSpec(
      mode, loss=spec.loss, eval_metrics=(metric_fn, tensors))


@pytest.mark.parametrize("dict_tensors", [False, True])
def test_tpu_estimator_spec_runs_as_tpu_estimator_did_off_tpus(
    dict_tensors, trained, tmp_path):
  # TPUEstimator with use_tpu=False ran as_estimator_spec(): the
  # eval_metrics' metric_fn(*tensors) as eval_metric_ops. The reference is
  # model_fn, whose EstimatorSpec has those metrics, in a TF1 Session.
  params = {"optimizer": momentum, "dict_tensors": dict_tensors}
  eval_batches = digits_like_batches(3, seed=1)
  prefix = trained["model_dir"] + "/model.ckpt-%d" % STEPS
  expected = tf1_evaluate(eval_batches, prefix)
  model = built_model(tpu_model_fn, params, eval_batches[0][0])
  model.restore(trained["model_dir"])
  logs = model.evaluate(dataset(eval_batches), verbose=0, return_dict=True)
  for name in ("loss", "accuracy", "confidence"):
    np.testing.assert_allclose(logs[name], expected[name], rtol=RTOL,
                               atol=ATOL, err_msg=name)
  np.testing.assert_allclose(
      model.predict(eval_batches[0][0], verbose=0)["probabilities"],
      tf1_predict(eval_batches[0][0], prefix)["scores"]["scores"],
      rtol=RTOL, atol=ATOL)
  # TRAIN: the train op's optimizer, the scaffold reported (not run).
  model = built_model(tpu_model_fn, params, eval_batches[0][0])
  model.restore(trained["model_dir"] + "/model.ckpt-0")
  model.compile()
  record = LossPerStep()
  with pytest.warns(UserWarning, match="scaffold"):
    model.fit(dataset(trained["batches"]), verbose=0, callbacks=[record])
  np.testing.assert_allclose(record.losses, trained["tf1_losses"], rtol=RTOL,
                             atol=ATOL)


def efficientnet_style_model_fn(features, labels, mode, params):
  """EfficientNet's main.py model_fn, small: batch norm and swish, label
  smoothing, L2 of the non-batch-norm weights, a warmed-up exponentially
  decayed rate (tf.where on the global step), RMSProp under UPDATE_OPS,
  moving averages after the train op, TPUEstimatorSpec (eval_metrics,
  host_call) or, for the TF1 reference, the EstimatorSpec TPUEstimator
  made of it off TPUs."""
  training = mode == tf.estimator.ModeKeys.TRAIN
  x = tf.concat([features["pixels"], features["extra"]], 1)
  with v1.variable_scope("net"):
    h = v1.layers.dense(x, 16, use_bias=False)
    h = v1.layers.batch_normalization(h, momentum=0.99, epsilon=1e-3,
                                      training=training)
    h = tf.nn.swish(h)
    logits = v1.layers.dense(h, CLASSES)
  if mode == tf.estimator.ModeKeys.PREDICT:
    spec_class = (tf.estimator.tpu.TPUEstimatorSpec if params["tpu"] else
                  tf.estimator.EstimatorSpec)
    return spec_class(mode, predictions={"logits": logits})
  one_hot = tf.one_hot(labels, CLASSES)
  loss = v1.losses.softmax_cross_entropy(one_hot, logits, label_smoothing=0.1)
  loss += 1e-3 * tf.add_n([tf.nn.l2_loss(v) for v in v1.trainable_variables()
                           if "batch_normalization" not in v.name])
  global_step = v1.train.get_global_step()
  train_op = None
  if training:
    lr = v1.train.exponential_decay(0.2, global_step, 2, 0.9, staircase=True)
    warmup = tf.cast(global_step, tf.float32) / 3.0 * 0.2
    lr = tf.where(global_step < 3, warmup, lr)
    optimizer = v1.train.RMSPropOptimizer(lr, decay=0.9, momentum=0.9,
                                          epsilon=1e-3)
    update_ops = v1.get_collection(v1.GraphKeys.UPDATE_OPS)
    with tf.control_dependencies(update_ops):
      train_op = optimizer.minimize(loss, global_step)
    ema = v1.train.ExponentialMovingAverage(0.9, num_updates=global_step)
    with tf.control_dependencies([train_op]):
      train_op = ema.apply(averaged_variables())
  def metric_fn(labels, logits):
    return {"top_1_accuracy": v1.metrics.accuracy(labels,
                                                  tf.argmax(logits, 1))}
  if params["tpu"]:
    return tf.estimator.tpu.TPUEstimatorSpec(
        mode, loss=loss, train_op=train_op,
        eval_metrics=(metric_fn, [labels, logits]),
        host_call=(lambda step, loss: [], [tf.reshape(global_step, [1]),
                                          tf.reshape(loss, [1])]))
  return tf.estimator.EstimatorSpec(
      mode, loss=loss, train_op=train_op,
      eval_metric_ops=(metric_fn(labels, logits)
                       if mode == tf.estimator.ModeKeys.EVAL else None))

def test_an_efficientnet_style_model_fn_trains_as_tf1(tmp_path):
  # The pieces together, 6 steps (the warmup's 3 and the decay's steps):
  # losses, weights and moving averages equal TF1's.
  batches = digits_like_batches(6, seed=11)
  losses, final = tf1_train(efficientnet_style_model_fn, {"tpu": False},
                            batches, str(tmp_path))
  model = built_model(efficientnet_style_model_fn, {"tpu": True},
                      batches[0][0])
  model.restore(str(tmp_path / "model.ckpt-0"))
  model.compile()
  record = LossPerStep()
  with pytest.warns(UserWarning, match="host_call"):
    model.fit(dataset(batches), verbose=0, callbacks=[record])
  np.testing.assert_allclose(record.losses, losses, rtol=RTOL, atol=ATOL)
  _assert_weights_are(model, final)
  assert len(model.moving_averages.shadows) == 7
  for name, shadow in model.moving_averages.shadows.items():
    np.testing.assert_allclose(shadow.numpy(), final[name], rtol=RTOL,
                               atol=ATOL, err_msg=name)


def test_tpu_estimator_says_what_replaces_it():
  with pytest.raises(AttributeError, match="EstimatorModel"):
    tf.compat.v1.estimator.tpu.TPUEstimator  # pylint: disable=pointless-statement
  assert v1.estimator.tpu.CrossShardOptimizer(momentum()).__class__ is (
      v1.train.MomentumOptimizer)


def test_export_has_the_export_outputs_signatures(trained, tmp_path):
  features = digits_like_batches(1, seed=2)[0][0]
  prefix = trained["model_dir"] + "/model.ckpt-%d" % STEPS
  expected = tf1_predict(features, prefix)
  model = built_model(model_fn, {}, features)
  model.restore(trained["model_dir"])
  model.export(str(tmp_path / "saved_model"), verbose=False)
  loaded = tf.saved_model.load(str(tmp_path / "saved_model"))
  assert {"serving_default", "scores", "serve"} <= set(loaded.signatures)
  inputs = {k: tf.constant(v) for k, v in features.items()}
  served = loaded.signatures["serving_default"](**inputs)
  assert set(served) == {"classes", "probabilities", "logits"}
  for key in served:
    np.testing.assert_allclose(served[key], expected["serving_default"][key],
                               rtol=RTOL, atol=ATOL, err_msg=key)
  scores = loaded.signatures["scores"](**inputs)
  np.testing.assert_allclose(scores["scores"], expected["scores"]["scores"],
                             rtol=RTOL, atol=ATOL)
  # predict: the PREDICT spec's predictions.
  predictions = model.predict(features, verbose=0)
  np.testing.assert_allclose(predictions["logits"],
                             expected["serving_default"]["logits"],
                             rtol=RTOL, atol=ATOL)


def test_fit_with_validation_data_is_train_and_evaluate(trained):
  # train_and_evaluate(TrainSpec, EvalSpec) -> fit(validation_data=...):
  # the validation logs are evaluate's (the spec's eval_metric_ops).
  batches = trained["batches"]
  eval_batches = digits_like_batches(2, seed=5)
  model = built_model(model_fn, {"optimizer": momentum}, batches[0][0])
  model.restore(trained["model_dir"] + "/model.ckpt-0")
  model.compile()
  history = model.fit(dataset(batches), validation_data=dataset(eval_batches),
                      verbose=0)
  logs = model.evaluate(dataset(eval_batches), verbose=0, return_dict=True)
  for name in ("loss", "accuracy", "confidence"):
    np.testing.assert_allclose(history.history["val_" + name][0], logs[name],
                               rtol=RTOL, atol=ATOL, err_msg=name)


def linear_batches(count, seed):
  rng = np.random.RandomState(seed)
  return [(rng.randn(BATCH, 5).astype(np.float32),
           rng.randint(0, CLASSES, BATCH).astype(np.int64))
          for _ in range(count)]


def fit_linear_from(prefix, params, batches, run_eagerly=False):
  """linear_model_fn's Keras model restored from the TF1 checkpoint
  `prefix` (None: not restored) and trained on `batches`: (its LossPerStep
  record, the model)."""
  model = built_model(linear_model_fn, params, batches[0][0])
  if prefix is not None:
    model.restore(prefix)
  model.compile(run_eagerly=run_eagerly)
  record = LossPerStep()
  model.fit(tf.data.Dataset.from_tensor_slices(
      (np.concatenate([x for x, _ in batches]),
       np.concatenate([y for _, y in batches]))).batch(BATCH),
            verbose=0, callbacks=[record])
  return record, model


# TF1 optimizer -> the same update rule in Keras, 3 steps.
OPTIMIZERS = {
    "gradient_descent": lambda: v1.train.GradientDescentOptimizer(0.3),
    "momentum": lambda: v1.train.MomentumOptimizer(0.1, 0.8),
    "nesterov": lambda: v1.train.MomentumOptimizer(0.1, 0.8,
                                                   use_nesterov=True),
    "adam": lambda: v1.train.AdamOptimizer(0.01, beta1=0.8, epsilon=1e-6),
    "adagrad": lambda: v1.train.AdagradOptimizer(0.1),
    "rmsprop": lambda: v1.train.RMSPropOptimizer(0.01, momentum=0.3),
    "rmsprop_momentum_centered": lambda: v1.train.RMSPropOptimizer(
        0.01, momentum=0.5, centered=True),
    "adadelta": lambda: v1.train.AdadeltaOptimizer(1.0, rho=0.9,
                                                   epsilon=1e-6),
    # l1 clips some weights to 0; shrinkage and beta change the rule.
    "ftrl": lambda: v1.train.FtrlOptimizer(
        0.5, l1_regularization_strength=0.01, l2_regularization_strength=0.01,
        l2_shrinkage_regularization_strength=0.01, beta=0.1),
}


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_train_op_optimizer_maps_to_keras(name, tmp_path):
  batches = linear_batches(3, seed=3)
  params = {"optimizer": OPTIMIZERS[name]}
  losses, final = tf1_train(linear_model_fn, params, batches, str(tmp_path))
  record, model = fit_linear_from(str(tmp_path / "model.ckpt-0"), params,
                                  batches)
  np.testing.assert_allclose(record.losses, losses, rtol=RTOL, atol=ATOL)
  for variable in model.weights:
    expected = final[tf1shim.tf1_name(variable)[:-2]]
    # Adam and RMSProp divide by sqrt of small accumulators: rounding of
    # near-zero weights differs by a few 1e-6 (see core/README.md).
    np.testing.assert_allclose(variable.numpy(), expected, rtol=RTOL,
                               atol=ATOL, err_msg=variable.path)


def _resumed_after_two_steps(params, tmp_path, run_eagerly=False):
  """Estimator restarted from its model_dir: TF1 trains linear_model_fn 4
  steps, saving after 2; the Keras model restores model.ckpt-2 and trains
  steps 3-4. Returns (TF1's losses, TF1's final variables, the model's
  losses of steps 3-4, the model)."""
  batches = linear_batches(4, seed=4)
  losses, final = tf1_train(linear_model_fn, params, batches, str(tmp_path),
                            save_after=(2,))
  record, model = fit_linear_from(str(tmp_path / "model.ckpt-2"), params,
                                  batches[2:], run_eagerly)
  assert record.steps == [3, 4]  # from the restored global step, 2
  return losses, final, record.losses, model


def _assert_weights_are(model, final):
  for variable in model.weights:
    np.testing.assert_allclose(
        variable.numpy(), final[tf1shim.tf1_name(variable)[:-2]], rtol=RTOL,
        atol=ATOL, err_msg=variable.path)


@pytest.mark.parametrize("name", ["momentum", "nesterov", "adam", "adagrad",
                                  "rmsprop", "rmsprop_momentum_centered",
                                  "adadelta", "ftrl"])
def test_training_resumed_from_a_model_dir_continues_the_optimizer(
    name, tmp_path):
  # With the optimizer's slots (Momentum's accumulators, Adam's moments
  # and beta powers): steps 3-4 must be TF1's (with fresh slots they
  # differ).
  losses, final, keras_losses, model = _resumed_after_two_steps(
      {"optimizer": OPTIMIZERS[name]}, tmp_path)
  np.testing.assert_allclose(keras_losses, losses[2:], rtol=RTOL, atol=ATOL)
  _assert_weights_are(model, final)


# TF1's learning-rate decays of the global step, each changing the rate
# by a factor 1.3-4 between steps 2 and 4.
DECAYS = {
    "exponential_decay": lambda step: v1.train.exponential_decay(
        0.1, step, decay_steps=1, decay_rate=0.5, staircase=True),
    "piecewise_constant": lambda step: v1.train.piecewise_constant(
        step, boundaries=[np.int64(2)], values=[0.1, 0.02]),
    "polynomial_decay": lambda step: v1.train.polynomial_decay(
        0.1, step, decay_steps=4, end_learning_rate=0.01, power=2.0),
    "cosine_decay": lambda step: v1.train.cosine_decay(0.1, step, 5),
}
DECAYED_OPTIMIZERS = {
    "gradient_descent": v1.train.GradientDescentOptimizer,
    "momentum": lambda lr: v1.train.MomentumOptimizer(lr, 0.8),
    "nesterov": lambda lr: v1.train.MomentumOptimizer(lr, 0.8,
                                                      use_nesterov=True),
    "adam": lambda lr: v1.train.AdamOptimizer(lr, beta1=0.8, epsilon=1e-6),
    "adagrad": v1.train.AdagradOptimizer,
    "rmsprop": lambda lr: v1.train.RMSPropOptimizer(lr, momentum=0.3),
}


@pytest.mark.parametrize("decay,name,run_eagerly", [
    (decay, "momentum", False) for decay in sorted(DECAYS)] + [
        ("exponential_decay", name, False) for name in sorted(
            DECAYED_OPTIMIZERS) if name != "momentum"] + [
                ("piecewise_constant", "momentum", True)])
def test_a_learning_rate_decayed_by_the_global_step_is_tf1s(
    decay, name, run_eagerly, tmp_path):
  # The model_fn's rate of each step, from the global step (restored: 2),
  # not Keras's iterations (0 after a restore): with those, steps 3-4
  # would use the rates of steps 1-2. Momentum needs TF1's own update
  # rule: Keras's SGD weighs past gradients by past rates.
  def optimizer():
    return DECAYED_OPTIMIZERS[name](
        DECAYS[decay](v1.train.get_global_step()))
  losses, final, keras_losses, model = _resumed_after_two_steps(
      {"optimizer": optimizer}, tmp_path, run_eagerly)
  np.testing.assert_allclose(keras_losses, losses[2:], rtol=RTOL, atol=ATOL)
  _assert_weights_are(model, final)


GRADIENT_CLIP_NORM = 0.05  # below the gradients' norm (~0.3-1) here
LOSS_SCALE = 128.0


def processed_gradients_train_op(loss, params):
  """linear_model_fn's train op, its gradients processed between
  compute_gradients (or tf.gradients) and apply_gradients as TF1 model_fns
  did: clipped (NMT's, BERT's), loss-scaled (the official ResNet's), or a
  var_list leaving the first layer frozen."""
  optimizer = v1.train.MomentumOptimizer(0.5, 0.8)
  how = params["gradients"]
  if how == "clip_by_global_norm":
    pairs = optimizer.compute_gradients(loss)
    clipped, _ = tf.clip_by_global_norm([g for g, _ in pairs],
                                        GRADIENT_CLIP_NORM)
    pairs = zip(clipped, [v for _, v in pairs])
  elif how == "tf.gradients":
    variables = v1.trainable_variables()
    clipped, _ = tf.clip_by_global_norm(tf.gradients(loss, variables),
                                        GRADIENT_CLIP_NORM)
    pairs = zip(clipped, variables)
  elif how == "loss_scale":
    pairs = [(g / LOSS_SCALE, v) for g, v in
             optimizer.compute_gradients(loss * LOSS_SCALE)]
  else:  # "var_list"
    pairs = optimizer.compute_gradients(
        loss, var_list=v1.trainable_variables("linear/dense_1"))
  return optimizer.apply_gradients(
      pairs, global_step=v1.train.get_global_step())


@pytest.mark.parametrize("how,run_eagerly", [
    ("clip_by_global_norm", False), ("clip_by_global_norm", True),
    ("tf.gradients", False), ("loss_scale", False), ("var_list", False)])
def test_gradients_processed_before_apply_gradients_are_applied(
    how, run_eagerly, tmp_path):
  # The applied gradients are the model_fn's, not the loss's: without the
  # clipping the first step would move the weights ~10x more.
  batches = linear_batches(3, seed=7)
  params = {"train_op": processed_gradients_train_op, "gradients": how}
  losses, final = tf1_train(linear_model_fn, params, batches, str(tmp_path))
  record, model = fit_linear_from(str(tmp_path / "model.ckpt-0"), params,
                                  batches, run_eagerly)
  np.testing.assert_allclose(record.losses, losses, rtol=RTOL, atol=ATOL)
  assert record.steps == [1, 2, 3]
  _assert_weights_are(model, final)


def wide_and_deep_train_op(loss, params):
  """A wide & deep model_fn's train op: the head (the "wide" part) by
  Ftrl, the hidden layer by Adagrad on the loss plus its own L2 (the
  optimizers' losses differ from the spec's), one advancing the global
  step; tf.group of the two."""
  head = v1.trainable_variables("linear/dense_1/")
  body = v1.trainable_variables("linear/dense/")
  body_loss = loss + 0.05 * tf.add_n([tf.nn.l2_loss(v) for v in body])
  return tf.group(
      v1.train.FtrlOptimizer(0.3, l2_regularization_strength=0.01).minimize(
          loss, var_list=head),
      v1.train.AdagradOptimizer(0.2).minimize(
          body_loss, global_step=v1.train.get_global_step(), var_list=body))


def test_a_train_op_of_two_optimizers_is_tf1s(tmp_path):
  # Each optimizer on its variables with the gradients of its own loss,
  # computed from the same forward pass; both continue from a model_dir
  # with their slots (Ftrl's, Adagrad's).
  losses, final, keras_losses, model = _resumed_after_two_steps(
      {"train_op": wide_and_deep_train_op}, tmp_path)
  np.testing.assert_allclose(keras_losses, losses[2:], rtol=RTOL, atol=ATOL)
  _assert_weights_are(model, final)
  assert [type(o).__name__ for o in model.train_op_optimizers()] == [
      "TF1Ftrl", "TF1Adagrad"]


def test_minimize_trains_its_own_loss_not_the_specs(tmp_path):
  # minimize(loss + L2) with the spec's loss without it: TF1 trained the
  # sum, as it must here.
  def train_op(loss, params):
    total = loss + 0.1 * tf.add_n(
        [tf.nn.l2_loss(v) for v in v1.trainable_variables()])
    return minimize(total, params)
  batches = linear_batches(3, seed=12)
  params = {"optimizer": momentum, "train_op": train_op}
  losses, final = tf1_train(linear_model_fn, params, batches, str(tmp_path))
  record, model = fit_linear_from(str(tmp_path / "model.ckpt-0"), params,
                                  batches)
  np.testing.assert_allclose(record.losses, losses, rtol=RTOL, atol=ATOL)
  _assert_weights_are(model, final)


class WeightDecaySGD(v1.train.Optimizer):
  """BERT's AdamWeightDecayOptimizer's shape, with a plain SGD step: its
  own apply_gradients, slots made by get_variable, the global step left to
  the model_fn."""

  def __init__(self, learning_rate):
    super().__init__(False, "WeightDecaySGD")
    self.learning_rate = learning_rate

  def apply_gradients(self, grads_and_vars, global_step=None, name=None):
    del global_step, name
    updates = []
    for gradient, variable in grads_and_vars:
      slot = v1.get_variable(variable.name.split(":")[0] + "/m",
                             variable.shape.as_list(), trainable=False,
                             initializer=tf.zeros_initializer())
      updates.append(variable.assign(variable - self.learning_rate *
                                     gradient))
      updates.append(slot.assign(0.9 * slot + 0.1 * gradient))
    return tf.group(*updates)


def bert_style_train_op(loss, params):
  """BERT's create_optimizer: tf.gradients, clipped by global norm, its own
  optimizer's apply_gradients, the global step advanced by the model_fn."""
  del params
  global_step = v1.train.get_or_create_global_step()
  variables = v1.trainable_variables()
  gradients, _ = tf.clip_by_global_norm(tf.gradients(loss, variables), 0.05)
  train_op = WeightDecaySGD(0.5).apply_gradients(
      zip(gradients, variables), global_step=global_step)
  return tf.group(train_op, [global_step.assign(global_step + 1)])


def test_an_optimizer_with_its_own_apply_gradients_takes_a_keras_one(
    tmp_path):
  # Its slots would be new variables of the training call: its update (the
  # clipped gradients) goes to the Keras optimizer given, the same rule
  # here; the global step advances once per step, by the model_fn.
  batches = linear_batches(3, seed=13)
  params = {"train_op": bert_style_train_op}
  losses, final = tf1_train(linear_model_fn, params, batches, str(tmp_path))
  model = estimator.EstimatorModel(linear_model_fn, params,
                                   optimizer=keras.optimizers.SGD(0.5))
  model(batches[0][0])
  report = model.restore(str(tmp_path / "model.ckpt-0"), strict=False)
  assert not report.missing  # the unused entries: its slots, `.../m`
  assert report.unused and all(n.endswith("/m") for n in report.unused)
  model.compile()
  record = LossPerStep()
  model.fit(tf.data.Dataset.from_tensor_slices(
      (np.concatenate([x for x, _ in batches]),
       np.concatenate([y for _, y in batches]))).batch(BATCH),
            verbose=0, callbacks=[record])
  np.testing.assert_allclose(record.losses, losses, rtol=RTOL, atol=ATOL)
  assert record.steps == [1, 2, 3]
  _assert_weights_are(model, final)
  # Without optimizer=, the error names it and says what to do.
  model = built_model(linear_model_fn, params, batches[0][0])
  model.compile()
  with pytest.raises(estimator.UnsupportedOptimizerError,
                     match="WeightDecaySGD.*optimizer="):
    model.fit(batches[0][0], batches[0][1], verbose=0)


def test_one_keras_optimizer_for_two_tf1_ones_is_an_error():
  model = estimator.EstimatorModel(
      linear_model_fn, {"train_op": wide_and_deep_train_op},
      optimizer=keras.optimizers.SGD(0.1))
  model(linear_batches(1, seed=0)[0][0])
  model.compile()
  with pytest.raises(estimator.UnsupportedOptimizerError,
                     match="2 optimizers.*FtrlOptimizer and AdagradOptimizer"):
    model.fit(linear_batches(1, seed=0)[0][0],
              linear_batches(1, seed=0)[0][1], verbose=0)


def warm_started_train_op(loss, params):
  """linear_model_fn's train op after a warm start from a pretrained
  checkpoint, as BERT's run_classifier did (`init_from_checkpoint` after
  building the model, before the optimizer's slots exist): in TRAIN mode
  only."""
  v1.train.init_from_checkpoint(params["pretrained"],
                                {"pretrained/": "linear/"})
  return minimize(loss, params)


@pytest.fixture(scope="module")
def pretrained_linear(tmp_path_factory):
  """A TF1 checkpoint of linear_model_fn's network under `pretrained/`."""
  prefix = str(tmp_path_factory.mktemp("pretrained") / "model.ckpt")
  with tf.Graph().as_default():
    rng = np.random.RandomState(8)
    with v1.variable_scope("pretrained"):
      for name, shape in (("dense/kernel", (5, 8)), ("dense/bias", (8,)),
                          ("dense_1/kernel", (8, CLASSES)),
                          ("dense_1/bias", (CLASSES,))):
        v1.get_variable(name, initializer=rng.uniform(
            -0.5, 0.5, shape).astype(np.float32))
    with v1.Session() as sess:
      sess.run(v1.global_variables_initializer())
      v1.train.Saver().save(sess, prefix)
  return prefix


def test_warm_start_from_a_checkpoint_in_train_mode_is_tf1s(
    pretrained_linear, tmp_path):
  # TF1's TRAIN graph initialized every variable from the pretrained
  # checkpoint; the model's first call (PREDICT) does not warm-start, its
  # first fit does, once: training must follow TF1's from the same start.
  params = {"optimizer": momentum, "pretrained": pretrained_linear,
            "train_op": warm_started_train_op}
  batches = linear_batches(3, seed=9)
  losses, final = tf1_train(linear_model_fn, params, batches, str(tmp_path))
  record, model = fit_linear_from(None, params, batches)
  np.testing.assert_allclose(record.losses, losses, rtol=RTOL, atol=ATOL)
  _assert_weights_are(model, final)


def test_warm_start_yields_to_a_restored_model_dir(pretrained_linear,
                                                   tmp_path):
  # Estimator warm-started only when its model_dir had no checkpoint: a
  # model restored from model.ckpt-2 trains steps 3-4 as TF1's run did,
  # not from the pretrained weights.
  losses, final, keras_losses, model = _resumed_after_two_steps(
      {"optimizer": momentum, "pretrained": pretrained_linear,
       "train_op": warm_started_train_op}, tmp_path)
  np.testing.assert_allclose(keras_losses, losses[2:], rtol=RTOL, atol=ATOL)
  _assert_weights_are(model, final)


def test_train_op_grouped_with_update_ops_trains_as_tf1(tmp_path):
  # tf.group(minimize_op, UPDATE_OPS): the group is the train op, the
  # batch-norm averages move once per step.
  params = {"optimizer": momentum, "group_update_ops": True}
  batches = digits_like_batches(STEPS, seed=5)
  losses, final = tf1_train(model_fn, params, batches, str(tmp_path))
  model = built_model(model_fn, params, batches[0][0])
  model.restore(str(tmp_path / "model.ckpt-0"))
  model.compile()
  record = LossPerStep()
  model.fit(dataset(batches), verbose=0, callbacks=[record])
  np.testing.assert_allclose(record.losses, losses, rtol=RTOL, atol=ATOL)
  assert record.steps == [1, 2, 3, 4]
  for variable in model.weights:
    expected = final[tf1shim.tf1_name(variable)[:-2]]
    np.testing.assert_allclose(variable.numpy(), expected, rtol=RTOL,
                               atol=ATOL, err_msg=variable.path)


EMA_DECAY = 0.9


def averaged_variables():
  """What EfficientNet's model_fn averaged: the trainable variables and
  the batch-norm averages."""
  return v1.trainable_variables() + [
      v for v in v1.global_variables() if "moving_" in v.name]


def averaged_model_fn(features, labels, mode, params):
  """model_fn, its weights and batch-norm averages averaged after the train
  op as EfficientNet's model_fn did (the decay bounded by the global step,
  so the averages move by 0.18-0.36 of the distance per step here)."""
  spec = model_fn(features, labels, mode, params)
  if mode != tf.estimator.ModeKeys.TRAIN:
    return spec
  averages = v1.train.ExponentialMovingAverage(
      EMA_DECAY, num_updates=v1.train.get_global_step())
  averaged = averaged_variables()
  with tf.control_dependencies([spec.train_op]):
    train_op = averages.apply(averaged)
  return spec._replace(train_op=train_op)


def _shadows(values):
  return {name: value for name, value in values.items()
          if name.endswith("/ExponentialMovingAverage")}


@pytest.mark.parametrize("run_eagerly", [False, True])
def test_moving_averages_after_the_train_op_continue_as_tf1s(run_eagerly,
                                                             tmp_path):
  # TF1 trains 4 steps, saving after 2 (weights, averages, Momentum slots);
  # the Keras model restores model.ckpt-2 and trains steps 3-4. Its averages
  # must be TF1's after step 4: made with TF1's names, loaded from the
  # checkpoint (at step 2 they are not the weights: starting them from the
  # weights would be off by far more than the tolerance), moved once per step
  # after the optimizer's step with the decay of the advanced global step.
  params = {"optimizer": momentum}
  batches = digits_like_batches(STEPS, seed=6)
  losses, final = tf1_train(averaged_model_fn, params, batches,
                            str(tmp_path), save_after=(2,))
  reader = checkpoints.CheckpointReader(str(tmp_path / "model.ckpt-2"))
  kernel = "classifier/dense/kernel"
  assert np.abs(reader.read(kernel + "/ExponentialMovingAverage") -
                reader.read(kernel)).max() > 1e-3
  model = built_model(averaged_model_fn, params, batches[0][0])
  report = model.restore(str(tmp_path / "model.ckpt-2"))
  assert not report.missing and not report.unused
  assert set(_shadows(final)) <= set(report.ignored)
  model.compile(run_eagerly=run_eagerly)
  record = LossPerStep()
  model.fit(dataset(batches[2:]), verbose=0, callbacks=[record])
  np.testing.assert_allclose(record.losses, losses[2:], rtol=RTOL, atol=ATOL)
  shadows = model.moving_averages.shadows
  assert set(shadows) == set(_shadows(final))
  assert len(shadows) == 5 + 2  # 2 kernels, beta, gamma, bias; 2 averages
  for name, shadow in shadows.items():
    np.testing.assert_allclose(shadow.numpy(), final[name], rtol=RTOL,
                               atol=ATOL, err_msg=name)
  for variable in model.weights:
    np.testing.assert_allclose(
        variable.numpy(), final[tf1shim.tf1_name(variable)[:-2]], rtol=RTOL,
        atol=ATOL, err_msg=variable.path)
  # Not weights of the network; saved with the model by tf.train.Checkpoint.
  assert not set(shadows) & {tf1shim.tf1_name(v)[:-2] for v in model.weights}
  saved = tf.train.Checkpoint(model=model).write(str(tmp_path / "keras"))
  values = [tf.train.load_variable(saved, key) for key, _ in
            tf.train.list_variables(saved) if "moving_averages" in key]
  assert len(values) == len(shadows)

  # TF1 evaluated and exported the averages through a Saver of
  # ema.variables_to_restore(averaged) into a PREDICT graph.
  features_value = batches[0][0]
  with tf.Graph().as_default():
    v1.train.get_or_create_global_step()
    features = placeholders(features_value)
    spec = averaged_model_fn(features, None, tf.estimator.ModeKeys.PREDICT,
                             params)
    restore_averages = v1.train.ExponentialMovingAverage(
        EMA_DECAY).variables_to_restore(averaged_variables())
    with v1.Session() as sess:
      v1.train.Saver(restore_averages).restore(
          sess, str(tmp_path / "model.ckpt-4"))
      expected = sess.run(spec.predictions, feed(features, features_value))
  with model.moving_averages.in_weights():
    averaged_predictions = model.predict(features_value, verbose=0)
  predictions = model.predict(features_value, verbose=0)
  np.testing.assert_allclose(averaged_predictions["logits"],
                             expected["logits"], rtol=RTOL, atol=ATOL)
  # The weights came back: not the averages' predictions.
  assert np.abs(predictions["logits"] - expected["logits"]).max() > 1e-3
  for variable in model.weights:
    np.testing.assert_allclose(
        variable.numpy(), final[tf1shim.tf1_name(variable)[:-2]], rtol=RTOL,
        atol=ATOL, err_msg=variable.path)
  # Restoring again loads the averages the model already keeps.
  model.restore(str(tmp_path / "model.ckpt-2"))
  for name, shadow in shadows.items():
    np.testing.assert_array_equal(shadow.numpy(), reader.read(name))


def test_moving_averages_model_function_builds_in_a_tf1_graph():
  # model_function's TRAIN mode builds no train op: the averages are
  # recorded, not made; control_dependencies([train_op]) takes the marker.
  batches = digits_like_batches(1)
  function = estimator.model_function(
      averaged_model_fn, {"optimizer": momentum}, predictions_key="logits",
      labels_spec=tf.TensorSpec([None], tf.int64))
  with tf.Graph().as_default():
    v1.train.get_or_create_global_step()
    features = placeholders(batches[0][0])
    logits = function(features, training=True)
    names = [v.op.name for v in v1.global_variables()]
    with v1.Session() as sess:
      sess.run(v1.global_variables_initializer())
      assert sess.run(logits, feed(features, batches[0][0])).shape == (
          BATCH, CLASSES)
  assert "classifier/dense/kernel" in names
  assert not [n for n in names if "ExponentialMovingAverage" in n]


def test_moving_averages_missing_from_the_checkpoint(trained):
  # The model_dir of model_fn (no averages): a strict restore fails on the
  # first fit, naming them, as TF1's Saver would; strict=False starts them
  # from the weights, and a step moves them by TF1's rule (numpy).
  params = {"optimizer": momentum}
  batches = trained["batches"]
  model = built_model(averaged_model_fn, params, batches[0][0])
  model.restore(trained["model_dir"])
  with pytest.raises(ValueError, match="no moving averages"):
    with model.moving_averages.in_weights():
      pass
  model.compile()
  with pytest.raises(ValueError, match="no entry for the moving averages "
                     "classifier/batch_normalization/beta/Exponential"):
    model.fit(dataset(batches[:1]), verbose=0)

  model = built_model(averaged_model_fn, params, batches[0][0])
  model.restore(trained["model_dir"], strict=False)
  before = {tf1shim.tf1_name(v)[:-2]: v.numpy() for v in model.weights}
  model.compile()
  model.fit(dataset(batches[:1]), verbose=0)
  steps = float(STEPS + 1)  # the global step after this step
  decay = min(EMA_DECAY, (1 + steps) / (10 + steps))
  for variable in model.weights:
    name = tf1shim.tf1_name(variable)[:-2]
    expected = before[name] + (variable.numpy() - before[name]) * (1 - decay)
    np.testing.assert_allclose(
        model.moving_averages.shadows[name + "/ExponentialMovingAverage"],
        expected, rtol=RTOL, atol=ATOL, err_msg=name)


# --- Errors a team meets ----------------------------------------------------


def _fit_one_step(fn, params=None):
  batches = digits_like_batches(1)
  model = estimator.EstimatorModel(fn, params or {})
  model.compile()
  model.fit(dataset(batches), verbose=0)


def proximal_adagrad_model_fn(features, labels, mode, params):
  del params
  return model_fn(features, labels, mode, {
      "optimizer": lambda: v1.train.ProximalAdagradOptimizer(0.1)})


def test_unsupported_optimizer_is_named():
  with pytest.raises(estimator.UnsupportedOptimizerError,
                     match="ProximalAdagradOptimizer.*GradientDescent"):
    _fit_one_step(proximal_adagrad_model_fn)


def test_an_explicit_keras_optimizer_replaces_an_unsupported_one():
  model = estimator.EstimatorModel(proximal_adagrad_model_fn, {},
                                   optimizer=keras.optimizers.Adagrad(0.1))
  model.compile()
  model.fit(dataset(digits_like_batches(2)), verbose=0)
  assert int(model.global_step.numpy()) == 2


def test_an_optimizer_made_outside_the_model_fn_maps_too():
  # params carrying a TF1 optimizer made after install(), as teams did.
  optimizer = v1.train.AdamOptimizer(0.01, beta1=0.8)

  def given(features, labels, mode, params):
    return model_fn(features, labels, mode, {"optimizer": lambda: optimizer})
  model = estimator.EstimatorModel(given)
  model.compile()
  model.fit(dataset(digits_like_batches(1)), verbose=0)
  assert isinstance(model.optimizer, keras.optimizers.Adam)
  assert float(model.optimizer.beta_1) == pytest.approx(0.8)


def test_missing_loss_in_train_mode():
  def no_loss(features, labels, mode, params):
    spec = model_fn(features, labels, mode, {"optimizer": momentum})
    if mode != tf.estimator.ModeKeys.TRAIN:
      return spec
    return tf.estimator.EstimatorSpec(mode, train_op=spec.train_op)
  with pytest.raises(estimator.EstimatorSpecError, match="Missing loss"):
    _fit_one_step(no_loss)


def test_missing_train_op_in_train_mode():
  with pytest.raises(estimator.EstimatorSpecError, match="Missing train_op"):
    tf.estimator.EstimatorSpec(tf.estimator.ModeKeys.TRAIN,
                               loss=tf.constant(1.0))


def test_unsupported_metric_is_named():
  def iou_model_fn(features, labels, mode, params):
    spec = model_fn(features, labels, mode, params)
    if mode != tf.estimator.ModeKeys.EVAL:
      return spec
    return spec._replace(eval_metric_ops={"iou": v1.metrics.mean_iou(
        labels, spec.predictions["classes"], CLASSES)})
  batches = digits_like_batches(1)
  model = built_model(iou_model_fn, {}, batches[0][0])
  with pytest.raises(estimator.UnsupportedMetricError,
                     match="tf.compat.v1.metrics.mean_iou"):
    model.evaluate(dataset(batches), verbose=0)


def test_a_training_call_without_labels_says_what_to_do():
  features = digits_like_batches(1)[0][0]
  model = built_model(model_fn, {"optimizer": momentum}, features)
  with pytest.raises(ValueError, match="labels_spec"):
    model(features, training=True)
  # With the labels' spec, TRAIN mode runs (batch norm in training mode).
  model = estimator.EstimatorModel(model_fn, {"optimizer": momentum},
                                   labels_spec=tf.TensorSpec([None], tf.int64))
  model(features)
  before = [v.numpy() for v in model.non_trainable_weights]
  model(features, training=True)
  assert any(not np.array_equal(a, v.numpy())
             for a, v in zip(before, model.non_trainable_weights))


def test_model_fn_gets_what_it_names_as_estimator_passed_it():
  seen = []
  config = tf.estimator.RunConfig(model_dir="/tmp/m", tf_random_seed=3,
                                  save_checkpoints_steps=10)

  def with_config(features, mode, config):  # no labels, no params
    seen.append((mode, config.model_dir, config.is_chief,
                 config.num_worker_replicas))
    return tf.estimator.EstimatorSpec(mode, predictions=tf.concat(
        [features["pixels"], features["extra"]], 1))

  model = estimator.EstimatorModel(with_config, config=config)
  model.predict(digits_like_batches(1)[0][0], verbose=0)
  assert seen[-1] == (tf.estimator.ModeKeys.PREDICT, "/tmp/m", True, 1)
  with pytest.raises(ValueError, match="Can not provide both"):
    tf.estimator.RunConfig(save_checkpoints_steps=1, save_checkpoints_secs=1)


def test_hooks_are_accepted_and_reported():
  class Hook:  # a tf.compat.v1.train.SessionRunHook, as far as Keras cares
    pass

  def hooked(features, labels, mode, params):
    spec = model_fn(features, labels, mode, params)
    return spec._replace(training_hooks=(Hook(),)) if (
        mode == tf.estimator.ModeKeys.TRAIN) else spec
  model = estimator.EstimatorModel(hooked, {"optimizer": momentum})
  model.compile()
  with pytest.warns(UserWarning, match="training_hooks.*keras.callbacks"):
    model.fit(dataset(digits_like_batches(1)), verbose=0)
  assert int(model.global_step.numpy()) == 1


def test_estimator_class_says_what_replaces_it():
  with pytest.raises(AttributeError, match="loop.*EstimatorModel.*fit"):
    tf.estimator.Estimator(model_fn)
  with pytest.raises(AttributeError, match="validation_data"):
    # pylint: disable-next=pointless-statement
    tf.compat.v1.estimator.train_and_evaluate


def test_install_makes_tf_estimator_tf1shims():
  import tensorflow.compat.v1 as tf_v1  # pylint: disable=g-import-not-at-top
  for module in (tf.estimator, tf.compat.v1.estimator, tf_v1.estimator):
    assert module.EstimatorSpec is estimator.EstimatorSpec
    assert module.ModeKeys.PREDICT == "infer"
    assert module.export.PredictOutput is estimator.PredictOutput
  from tensorflow.estimator import (  # pylint: disable=g-import-not-at-top
      RunConfig)
  assert RunConfig().is_chief
  with pytest.raises(AttributeError, match="DNNClassifier"):
    tf.estimator.DNNClassifier  # pylint: disable=pointless-statement


def test_optimizers_and_metrics_are_tensorflows_outside_the_model():
  # In a TF1 graph (the references above) they build TF1 ops as before.
  with tf.Graph().as_default():
    w = v1.get_variable("w", [2], initializer=tf.ones_initializer())
    train_op = v1.train.AdamOptimizer(0.1).minimize(tf.reduce_sum(w ** 2))
    value, update = v1.metrics.mean(w)
    assert isinstance(train_op, tf.Operation)
    assert isinstance(update, tf.Tensor) and isinstance(value, tf.Tensor)
  assert optimizers_lib.current() is None


if __name__ == "__main__":
  raise SystemExit(pytest_main(__file__))
