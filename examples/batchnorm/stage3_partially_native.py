"""Stage 3, partially native: the batch normalizations become Keras 3 layers.

`bn1` and `bn2` become Keras 3 batch normalization, the convolutions and the
output layer stay TF1. What must not change, and how it is kept:

* The moving-variance update. Keras 3's `BatchNormalization` moves the
  moving variance towards the batch's biased variance; TF1's fused kernel
  moved it towards the unbiased one (`n / (n - 1)` times larger). The layer
  used here, `TF1BatchNormalization` (core/tf1_keras_layers.py), is Keras 3's with
  TF1's update, so the model keeps matching through training.
* Momentum and epsilon: Keras 3's defaults are TF1's (0.99, 1e-3); the
  example's momentum 0.9 is passed explicitly on both sides.
* The `training` flag: Keras layers take it from `call`, as before.
* Names: the model is named `bn_cnn` and the layers `batch_normalization`
  and `batch_normalization_1`, so the Keras paths are the TF1 names. Both
  batch norms are replaced, so the remaining TF1 layers keep their counts
  without `record_scope`.

Object-based checkpoints of stage 2 load here (same attributes, same keys).
"""

import keras
import tensorflow as tf

import tf1shim
from tf1_keras_layers import TF1BatchNormalization

tf1shim.install()  # tf.compat.v1.layers on Keras 3.
v1 = tf.compat.v1

L2_SCALE = 1e-3
MOMENTUM = 0.9


def l2_regularizer(scale):
  """TF1's `tf.contrib.layers.l2_regularizer`: `scale * sum(w ** 2) / 2`."""
  return lambda weights: scale * tf.nn.l2_loss(weights)


@keras.saving.register_keras_serializable(package="examples.batchnorm.stage3")
class BatchNormCNN(keras.Model):
  """The batch-norm CNN with Keras 3 batch normalization."""

  def __init__(self, num_classes=10, name="bn_cnn", **kwargs):
    super().__init__(name=name, **kwargs)
    self.num_classes = num_classes
    self.conv1 = v1.layers.Conv2D(16, 3, padding="same", use_bias=False,
                                  kernel_regularizer=l2_regularizer(L2_SCALE))
    self.bn1 = TF1BatchNormalization(momentum=MOMENTUM,
                                     name="batch_normalization")
    self.pool = v1.layers.MaxPooling2D(2, 2)
    self.conv2 = v1.layers.Conv2D(32, 3, padding="same", use_bias=False,
                                  kernel_regularizer=l2_regularizer(L2_SCALE))
    self.bn2 = TF1BatchNormalization(momentum=MOMENTUM,
                                     name="batch_normalization_1")
    self.logits = v1.layers.Dense(num_classes)

  @tf1shim.track_tf1_style_variables
  def call(self, images, training=False):
    with v1.variable_scope("bn_cnn"):
      x = self.conv1(images)
      x = self.bn1(x, training=training)
      x = tf.nn.relu(x)
      x = self.pool(x)
      x = self.conv2(x)
      x = self.bn2(x, training=training)
      x = tf.nn.relu(x)
      x = tf.reduce_mean(x, axis=[1, 2])  # global average pooling
      return self.logits(x)

  def get_config(self):
    return {**super().get_config(), "num_classes": self.num_classes}


def build_model(num_classes=10):
  """The stage's model: `build_model()(images, training=...) -> logits`."""
  return BatchNormCNN(num_classes)
