"""Stage 2, OO v1: the TF1 layers become objects created in `__init__`.

Each functional `tf.compat.v1.layers` call becomes a layer object
(`tf.compat.v1.layers.Conv2D`, ...) created once in `__init__` with the same
arguments and called in the same order inside `variable_scope("cnn")`. The
objects are created without names, as the functions were called: a TF1
layer object takes its name when it is first called, in the enclosing scope
(`cnn/conv2d`, `cnn/conv2d_1`, ...), so every variable keeps its TF1 name and
TF1 checkpoints still load. As attributes, the layers are now also in
object-based checkpoints (`conv1/_kernel`), which stage 3 relies on.
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


@keras.saving.register_keras_serializable(package="examples.conv.stage2")
class CNN(keras.Model):
  """The CNN with its TF1 layers as attributes."""

  def __init__(self, num_classes=10, name="cnn", **kwargs):
    super().__init__(name=name, **kwargs)
    self.num_classes = num_classes
    self.conv1 = v1.layers.Conv2D(16, 3, padding="same",
                                  activation=tf.nn.relu,
                                  kernel_regularizer=l2_regularizer(L2_SCALE))
    self.pool1 = v1.layers.MaxPooling2D(2, 2)
    self.conv2 = v1.layers.Conv2D(32, 3, padding="same",
                                  activation=tf.nn.relu,
                                  kernel_regularizer=l2_regularizer(L2_SCALE))
    self.pool2 = v1.layers.MaxPooling2D(2, 2)
    self.flatten = v1.layers.Flatten()
    self.dropout = v1.layers.Dropout(DROPOUT_RATE)
    self.hidden = v1.layers.Dense(64, activation=tf.nn.relu,
                                  kernel_regularizer=l2_regularizer(L2_SCALE))
    self.logits = v1.layers.Dense(num_classes)

  @tf1shim.track_tf1_style_variables
  def call(self, images, training=False):
    with v1.variable_scope("cnn"):
      x = self.conv1(images)
      x = self.pool1(x)
      x = self.conv2(x)
      x = self.pool2(x)
      x = self.flatten(x)
      x = self.dropout(x, training=training)
      x = self.hidden(x)
      return self.logits(x)

  def get_config(self):
    return {**super().get_config(), "num_classes": self.num_classes}


def build_model(num_classes=10):
  """The stage's model: `build_model()(images, training=...) -> logits`."""
  return CNN(num_classes)
