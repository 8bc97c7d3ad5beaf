"""Stage 3, partially native: the dense layers become Keras 3 layers.

`hidden` and `logits` become `keras.layers.Dense`, named `dense` and
`dense_1` as TF1 named them; the model is named `digits`, the TF1 scope,
so their Keras paths (`digits/dense/kernel`) are the TF1 names and the
Estimator's model_dir still loads. Keras's Dense has TF1's defaults
(Glorot uniform kernel, zero bias); TF1's `scale * l2_loss(w)` is Keras's
`L2(scale / 2)`. Their L2 is no longer in TF1's `REGULARIZATION_LOSSES`
(which holds what TF1 variables' regularizers make) but in the model's
`losses`, so the spec's loss adds `tf.add_n(self.losses)` instead of
`get_regularization_loss()`. Batch normalization stays TF1 (a step of
its own: see examples/batchnorm), and so does everything the spec carries:
the loss, `eval_metric_ops`, the train op, the export outputs.

Object-based checkpoints of stage 2 load here (same attributes, same keys).
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


@keras.saving.register_keras_serializable(package="examples.estimator.stage3")
class DigitsEstimator(estimator.EstimatorModel):
  """The model_fn as a method; Keras 3 dense layers, TF1 batch norm."""

  def __init__(self, params=None, predictions_key="logits", name="digits",
               **kwargs):
    super().__init__(self.model_fn, params=params or PARAMS,
                     predictions_key=predictions_key,
                     labels_spec=data.LABELS_SPEC, name=name, **kwargs)
    regularizer = keras.regularizers.L2(self.params["l2_scale"] / 2)
    self.flatten = v1.layers.Flatten()
    self.hidden = keras.layers.Dense(self.params["hidden_units"],
                                     use_bias=False,
                                     kernel_regularizer=regularizer,
                                     name="dense")
    self.batch_norm = v1.layers.BatchNormalization(
        momentum=self.params["momentum"])
    self.logits = keras.layers.Dense(self.params["num_classes"],
                                     kernel_regularizer=regularizer,
                                     name="dense_1")

  def model_fn(self, features, labels, mode, params):
    """The TF1 model_fn, its dense layers now Keras 3's."""
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
    # REGULARIZATION_LOSSES holds only TF1 variables' losses: the Keras
    # layers' L2 is in the model's `losses`, as Keras's fit adds it.
    loss = (v1.losses.sparse_softmax_cross_entropy(labels, logits) +
            tf.add_n(self.losses))
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
