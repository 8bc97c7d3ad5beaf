"""Stage 1, functional v1: the TF1 CNN, unchanged, inside a Keras 3 model.

`cnn` is TF1 code in the guide's `CompatModel` style: functional
`tf.compat.v1.layers` calls (conv2d, max_pooling2d, flatten, dropout, dense)
that name themselves (`conv2d`, `conv2d_1`, `dense`, `dense_1`) inside
`variable_scope("cnn")`, and dropout driven by the `training` argument.
`tf1shim.install()` brings `tf.compat.v1.layers` back on Keras 3; `CNN` runs
the function in a `track_tf1_style_variables`-decorated `call`, which keeps
the TF1 names, collects the regularization losses into `model.losses` and
forwards `training`. `cnn` still runs in a TF1 graph: the tests' reference.
"""

import keras
import tensorflow as tf

import tf1shim

tf1shim.install()  # tf.compat.v1.layers on Keras 3.
v1 = tf.compat.v1

L2_SCALE = 1e-3
DROPOUT_RATE = 0.25


def l2_regularizer(scale):
  """TF1's `tf.contrib.layers.l2_regularizer`: `scale * sum(w ** 2) / 2`."""
  return lambda weights: scale * tf.nn.l2_loss(weights)


def cnn(images, training=False, num_classes=10):
  """The TF1 model function: images [batch, h, w, c] -> logits."""
  with v1.variable_scope("cnn"):
    x = v1.layers.conv2d(images, 16, 3, padding="same",
                         activation=tf.nn.relu,
                         kernel_regularizer=l2_regularizer(L2_SCALE))
    x = v1.layers.max_pooling2d(x, 2, 2)
    x = v1.layers.conv2d(x, 32, 3, padding="same", activation=tf.nn.relu,
                         kernel_regularizer=l2_regularizer(L2_SCALE))
    x = v1.layers.max_pooling2d(x, 2, 2)
    x = v1.layers.flatten(x)
    x = v1.layers.dropout(x, DROPOUT_RATE, training=training)
    x = v1.layers.dense(x, 64, activation=tf.nn.relu,
                        kernel_regularizer=l2_regularizer(L2_SCALE))
    return v1.layers.dense(x, num_classes)


@keras.saving.register_keras_serializable(package="examples.conv.stage1")
class CNN(keras.Model):
  """`cnn` as a Keras 3 model."""

  def __init__(self, num_classes=10, name="cnn", **kwargs):
    super().__init__(name=name, **kwargs)
    self.num_classes = num_classes

  @tf1shim.track_tf1_style_variables
  def call(self, images, training=False):
    return cnn(images, training=training, num_classes=self.num_classes)

  def get_config(self):
    return {**super().get_config(), "num_classes": self.num_classes}


def build_model(num_classes=10):
  """The stage's model: `build_model()(images, training=...) -> logits`."""
  return CNN(num_classes)


# The TF1 model function the tests run in a TF1 graph (stage 1 only).
TF1_MODEL_FN = cnn
