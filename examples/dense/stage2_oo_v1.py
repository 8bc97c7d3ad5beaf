"""Stage 2, OO v1: the TF1 layers become objects created in `__init__`.

The hand-written `get_variable` layers become `tf.compat.v1.layers.Dense`
objects, created once in `__init__` and called inside the same
`variable_scope("mlp")`. Naming each layer after its old scope (`hidden1`,
...) and giving it the old initializer and regularizer keeps every variable's
TF1 name, so TF1 checkpoints still load by name; as attributes, the layers
are now also saved in object-based checkpoints by their attribute path
(`hidden1/_kernel`), which is what lets stage 3 swap them for Keras layers.
"""

import keras
import numpy as np
import tensorflow as tf

import tf1shim

tf1shim.install()  # tf.compat.v1.layers on Keras 3.
v1 = tf.compat.v1

L2_SCALE = 1e-3


def l2_regularizer(scale):
  """TF1's `tf.contrib.layers.l2_regularizer`: `scale * sum(w ** 2) / 2`."""
  return lambda weights: scale * tf.nn.l2_loss(weights)


@keras.saving.register_keras_serializable(package="examples.dense.stage2")
class MLP(keras.Model):
  """The MLP with its TF1 layers as attributes."""

  def __init__(self, num_classes=10, name="mlp", **kwargs):
    super().__init__(name=name, **kwargs)
    self.num_classes = num_classes
    self.hidden1 = v1.layers.Dense(
        64, activation=tf.nn.relu,
        kernel_initializer=v1.glorot_uniform_initializer(),
        kernel_regularizer=l2_regularizer(L2_SCALE), name="hidden1")
    self.hidden2 = v1.layers.Dense(
        32, activation=tf.nn.relu,
        kernel_initializer=v1.glorot_uniform_initializer(),
        kernel_regularizer=l2_regularizer(L2_SCALE), name="hidden2")
    self.logits = v1.layers.Dense(
        num_classes, kernel_initializer=v1.glorot_uniform_initializer(),
        kernel_regularizer=l2_regularizer(L2_SCALE), name="logits")

  @tf1shim.track_tf1_style_variables
  def call(self, images, training=False):
    with v1.variable_scope("mlp"):
      x = tf.reshape(images, [-1, int(np.prod(images.shape[1:]))])
      x = self.hidden1(x)
      x = self.hidden2(x)
      return self.logits(x)

  def get_config(self):
    return {**super().get_config(), "num_classes": self.num_classes}


def build_model(num_classes=10):
  """The stage's model: `build_model()(images, training=...) -> logits`."""
  return MLP(num_classes)
