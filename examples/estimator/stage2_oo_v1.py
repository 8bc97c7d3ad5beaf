"""Stage 2, OO v1: the network leaves the `model_fn` for layer objects.

The TF1 layers become `tf.compat.v1.layers` objects created once in
`__init__` of the Keras model, and the `model_fn` becomes a method that
calls them in the same order inside the same `variable_scope("digits")`;
unnamed, each takes its TF1 name at its first call (`digits/dense`,
`digits/batch_normalization`, `digits/dense_1`), so the Estimator's
model_dir still loads. Everything else stays the spec's: the loss and
`eval_metric_ops`, the train op (its optimizer is still what `fit` uses),
the export outputs. As attributes, the layers are also in object-based
checkpoints, which stage 3 relies on.
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


@keras.saving.register_keras_serializable(package="examples.estimator.stage2")
class DigitsEstimator(estimator.EstimatorModel):
  """The model_fn as a method; its TF1 layers as attributes."""

  def __init__(self, params=None, predictions_key="logits", name="digits",
               **kwargs):
    super().__init__(self.model_fn, params=params or PARAMS,
                     predictions_key=predictions_key,
                     labels_spec=data.LABELS_SPEC, name=name, **kwargs)
    regularizer = l2_regularizer(self.params["l2_scale"])
    self.flatten = v1.layers.Flatten()
    self.hidden = v1.layers.Dense(self.params["hidden_units"],
                                  use_bias=False,
                                  kernel_regularizer=regularizer)
    self.batch_norm = v1.layers.BatchNormalization(
        momentum=self.params["momentum"])
    self.logits = v1.layers.Dense(self.params["num_classes"],
                                  kernel_regularizer=regularizer)

  def model_fn(self, features, labels, mode, params):
    """The TF1 model_fn, its network now the model's layers."""
    training = mode == tf.estimator.ModeKeys.TRAIN
    with v1.variable_scope("digits"):
      x = tf.concat([self.flatten(features["pixels"]), features["ink"]],
                    axis=1)
      x = self.hidden(x)
      x = self.batch_norm(x, training=training)
      x = tf.nn.relu(x)
      logits = self.logits(x)
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


def build_model(num_classes=10):
  """The stage's model: `build_model()(features, training=...) -> logits`."""
  return DigitsEstimator(dict(PARAMS, num_classes=num_classes))
