"""Stage 3, partially native: the hidden layers become Keras 3 layers.

The hidden `tf.compat.v1.layers.Dense` objects are swapped for
`keras.layers.Dense`; the output layer stays TF1, inside the decorated
`call`. What must not change, and how it is kept:

* Names. A Keras 3 variable's name is its path: the model's name, then the
  layer's (`mlp/hidden1/kernel`). With the model named `mlp` and each layer
  named as its old scope, the paths are the TF1 names, so the TF1 checkpoint
  still loads by name. The remaining TF1 layer keeps its name because it has
  an explicit one; unnamed TF1 layers would need `tf1shim.record_scope` for
  the removed ones (see the conv example).
* The regularizer. TF1's `l2_regularizer(scale)` is `scale * sum(w**2) / 2`;
  Keras 3's `L2(l2)` is `l2 * sum(w**2)`: the same loss is `L2(scale / 2)`.
* The initializer: `GlorotUniform`, as TF1's `get_variable` default.

Object-based checkpoints of stage 2 load here: each swapped layer sits at the
same attribute path (`hidden1`) and keeps its variables at the same keys.
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


@keras.saving.register_keras_serializable(package="examples.dense.stage3")
class MLP(keras.Model):
  """The MLP with Keras 3 hidden layers and its TF1 output layer."""

  def __init__(self, num_classes=10, name="mlp", **kwargs):
    super().__init__(name=name, **kwargs)
    self.num_classes = num_classes
    self.hidden1 = keras.layers.Dense(
        64, activation="relu", kernel_initializer="glorot_uniform",
        kernel_regularizer=keras.regularizers.L2(L2_SCALE / 2),
        name="hidden1")
    self.hidden2 = keras.layers.Dense(
        32, activation="relu", kernel_initializer="glorot_uniform",
        kernel_regularizer=keras.regularizers.L2(L2_SCALE / 2),
        name="hidden2")
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
