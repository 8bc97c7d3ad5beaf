"""Stage 1, functional v1: the TF1 batch-norm CNN, unchanged, in Keras 3.

`bn_cnn` is TF1 code with `tf.compat.v1.layers.batch_normalization` and a
`training` flag. In TF1 the moving averages moved only because the train op
ran the `UPDATE_OPS` collection (`tf.control_dependencies`); in the
`track_tf1_style_variables`-decorated `call` of `BatchNormCNN` they move
eagerly whenever the model is called with `training=True` (in `model.fit`
too), and `training=False` uses them. `bn_cnn` still runs in a TF1 graph,
with `UPDATE_OPS` grouped with the train op: the tests' reference.
"""

import keras
import tensorflow as tf

import tf1shim

tf1shim.install()  # tf.compat.v1.layers on Keras 3.
v1 = tf.compat.v1

L2_SCALE = 1e-3
# 0.9, not TF1's default 0.99, so that the moving averages move visibly in
# a short training run.
MOMENTUM = 0.9


def l2_regularizer(scale):
  """TF1's `tf.contrib.layers.l2_regularizer`: `scale * sum(w ** 2) / 2`."""
  return lambda weights: scale * tf.nn.l2_loss(weights)


def bn_cnn(images, training=False, num_classes=10):
  """The TF1 model function: images [batch, h, w, c] -> logits."""
  with v1.variable_scope("bn_cnn"):
    x = v1.layers.conv2d(images, 16, 3, padding="same", use_bias=False,
                         kernel_regularizer=l2_regularizer(L2_SCALE))
    x = v1.layers.batch_normalization(x, momentum=MOMENTUM,
                                      training=training)
    x = tf.nn.relu(x)
    x = v1.layers.max_pooling2d(x, 2, 2)
    x = v1.layers.conv2d(x, 32, 3, padding="same", use_bias=False,
                         kernel_regularizer=l2_regularizer(L2_SCALE))
    x = v1.layers.batch_normalization(x, momentum=MOMENTUM,
                                      training=training)
    x = tf.nn.relu(x)
    x = tf.reduce_mean(x, axis=[1, 2])  # global average pooling
    return v1.layers.dense(x, num_classes)


@keras.saving.register_keras_serializable(package="examples.batchnorm.stage1")
class BatchNormCNN(keras.Model):
  """`bn_cnn` as a Keras 3 model."""

  def __init__(self, num_classes=10, name="bn_cnn", **kwargs):
    super().__init__(name=name, **kwargs)
    self.num_classes = num_classes

  @tf1shim.track_tf1_style_variables
  def call(self, images, training=False):
    return bn_cnn(images, training=training, num_classes=self.num_classes)

  def get_config(self):
    return {**super().get_config(), "num_classes": self.num_classes}


def build_model(num_classes=10):
  """The stage's model: `build_model()(images, training=...) -> logits`."""
  return BatchNormCNN(num_classes)


# The TF1 model function the tests run in a TF1 graph (stage 1 only).
TF1_MODEL_FN = bn_cnn
