"""Stage 3, partially native: the first conv and dense layers become Keras 3.

`conv1` and `hidden` (with their pooling and dropout neighbours) become
Keras 3 layers; `conv2` and `logits` stay TF1. The guide's step 4, with its
two pitfalls:

* The remaining TF1 layers are unnamed: TF1 names them by counting the
  layers of their kind already created in the scope. With `conv2d` and
  `dense` gone, `conv2` would become `cnn/conv2d` and `logits` `cnn/dense`,
  and a TF1 checkpoint would load the wrong tensors into them (or fail on
  shapes). `tf1shim.record_scope("conv2d")` where the removed layer was
  keeps the count, so they stay `cnn/conv2d_1` and `cnn/dense_1`.
* The Keras layers get their TF1 names the Keras way: a Keras 3 variable's
  name is its path, model name then layer name, so the model is named `cnn`
  and the layers `conv2d` and `dense`: paths `cnn/conv2d/kernel`, ... are the
  TF1 names. The regularizer is `L2(scale / 2)` (Keras 3's `L2` has no 1/2),
  and Keras's `Dropout` gets `training` from `call`.

Object-based checkpoints of stage 2 load here: the swapped layers sit at the
same attribute paths and keep their variables under the same keys.
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


@keras.saving.register_keras_serializable(package="examples.conv.stage3")
class CNN(keras.Model):
  """The CNN, half Keras 3, half TF1."""

  def __init__(self, num_classes=10, name="cnn", **kwargs):
    super().__init__(name=name, **kwargs)
    self.num_classes = num_classes
    self.conv1 = keras.layers.Conv2D(
        16, 3, padding="same", activation="relu",
        kernel_initializer="glorot_uniform",
        kernel_regularizer=keras.regularizers.L2(L2_SCALE / 2), name="conv2d")
    self.pool1 = keras.layers.MaxPooling2D(2, 2)
    self.conv2 = v1.layers.Conv2D(32, 3, padding="same",
                                  activation=tf.nn.relu,
                                  kernel_regularizer=l2_regularizer(L2_SCALE))
    self.pool2 = v1.layers.MaxPooling2D(2, 2)
    self.flatten = v1.layers.Flatten()
    self.dropout = keras.layers.Dropout(DROPOUT_RATE)
    self.hidden = keras.layers.Dense(
        64, activation="relu", kernel_initializer="glorot_uniform",
        kernel_regularizer=keras.regularizers.L2(L2_SCALE / 2), name="dense")
    self.logits = v1.layers.Dense(num_classes)

  @tf1shim.track_tf1_style_variables
  def call(self, images, training=False):
    with v1.variable_scope("cnn"):
      x = self.conv1(images)
      tf1shim.record_scope("conv2d")  # keeps conv2 at cnn/conv2d_1
      x = self.pool1(x)
      x = self.conv2(x)
      x = self.pool2(x)
      x = self.flatten(x)
      x = self.dropout(x, training=training)
      x = self.hidden(x)
      tf1shim.record_scope("dense")  # keeps logits at cnn/dense_1
      return self.logits(x)

  def get_config(self):
    return {**super().get_config(), "num_classes": self.num_classes}


def build_model(num_classes=10):
  """The stage's model: `build_model()(images, training=...) -> logits`."""
  return CNN(num_classes)
