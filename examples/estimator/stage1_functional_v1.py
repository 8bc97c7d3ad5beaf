"""Stage 1, functional v1: the TF1 Estimator `model_fn`, unchanged, in Keras 3.

`model_fn` is the TF1 code a team ran with `tf.estimator.Estimator`:
`model_fn(features, labels, mode, params)` builds the network from the
feature dict with `tf.compat.v1.layers` (an L2 regularizer on the kernels,
batch normalization in training mode only in TRAIN), and returns an
`EstimatorSpec`: predictions and export outputs in PREDICT, the loss (data
loss + `get_regularization_loss()`) and `eval_metric_ops` in EVAL, and in
TRAIN a `GradientDescentOptimizer` train op under
`control_dependencies(UPDATE_OPS)` advancing the global step.

The only change: `tf1shim.install()` (so `tf.estimator` exists on TF 2.21)
and a `tf1shim.estimator.EstimatorModel`, which calls the `model_fn` in
the mode Keras asks for: `fit` trains with the spec's loss and the Keras
optimizer of its train op, `evaluate` reports its metrics, `predict` and
`model(features)` its predictions (here: the logits), `export` its export
outputs, `restore` loads an Estimator model_dir.
"""

import keras
import tensorflow as tf

import tf1shim
from tf1shim import estimator
from examples.curriculum import training
from examples.estimator import data

tf1shim.install()  # tf.estimator and tf.compat.v1.layers on Keras 3.
v1 = tf.compat.v1

PARAMS = {"learning_rate": training.LEARNING_RATE, "hidden_units": 32,
          "l2_scale": 1e-3, "momentum": 0.9, "num_classes": 10}


def l2_regularizer(scale):
  """TF1's `tf.contrib.layers.l2_regularizer`: `scale * sum(w ** 2) / 2`."""
  return lambda weights: scale * tf.nn.l2_loss(weights)


def model_fn(features, labels, mode, params):
  """The TF1 Estimator model_fn (as it ran under tf.estimator)."""
  training = mode == tf.estimator.ModeKeys.TRAIN
  regularizer = l2_regularizer(params["l2_scale"])
  with v1.variable_scope("digits"):
    x = tf.concat([v1.layers.flatten(features["pixels"]), features["ink"]],
                  axis=1)
    x = v1.layers.dense(x, params["hidden_units"], use_bias=False,
                        kernel_regularizer=regularizer)
    x = v1.layers.batch_normalization(x, momentum=params["momentum"],
                                      training=training)
    x = tf.nn.relu(x)
    logits = v1.layers.dense(x, params["num_classes"],
                             kernel_regularizer=regularizer)
  predictions = {"classes": tf.argmax(logits, axis=1),
                 "probabilities": tf.nn.softmax(logits), "logits": logits}
  if mode == tf.estimator.ModeKeys.PREDICT:
    return tf.estimator.EstimatorSpec(mode, predictions=predictions,
                                      export_outputs={
        "serving_default": tf.estimator.export.PredictOutput(predictions),
        "classify": tf.estimator.export.ClassificationOutput(
            scores=predictions["probabilities"])})
  loss = (v1.losses.sparse_softmax_cross_entropy(labels, logits) +
          v1.losses.get_regularization_loss())
  if mode == tf.estimator.ModeKeys.EVAL:
    return tf.estimator.EstimatorSpec(mode, loss=loss, eval_metric_ops={
        "accuracy": v1.metrics.accuracy(labels, predictions["classes"])})
  optimizer = v1.train.GradientDescentOptimizer(params["learning_rate"])
  with tf.control_dependencies(v1.get_collection(v1.GraphKeys.UPDATE_OPS)):
    train_op = optimizer.minimize(loss,
                                  global_step=v1.train.get_global_step())
  return tf.estimator.EstimatorSpec(mode, loss=loss, train_op=train_op,
                                    predictions=predictions)


@keras.saving.register_keras_serializable(package="examples.estimator.stage1")
class DigitsEstimator(estimator.EstimatorModel):
  """`model_fn` as a Keras 3 model; `model(features)` gives the logits."""

  def __init__(self, params=None, predictions_key="logits", name="digits",
               **kwargs):
    super().__init__(model_fn, params=params or PARAMS,
                     predictions_key=predictions_key,
                     labels_spec=data.LABELS_SPEC, name=name, **kwargs)


def build_model(num_classes=10):
  """The stage's model: `build_model()(features, training=...) -> logits`."""
  return DigitsEstimator(dict(PARAMS, num_classes=num_classes))


# The TF1 function the tests run in a TF1 graph: the model_fn's logits,
# TRAIN mode when training (stage 1 only).
TF1_MODEL_FN = estimator.model_function(model_fn, PARAMS,
                                        predictions_key="logits",
                                        labels_spec=data.LABELS_SPEC)
