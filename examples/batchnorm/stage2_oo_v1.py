"""Stage 2, OO v1: the TF1 layers become objects created in `__init__`.

Each functional `tf.compat.v1.layers` call becomes a layer object created
once in `__init__` and called in the same order inside
`variable_scope("bn_cnn")`; unnamed, each takes its TF1 name at its first
call (`bn_cnn/batch_normalization`, `..._1`), so TF1 checkpoints still load.
The `training` flag is passed to each batch-norm object's call, as it was to
the function. As attributes, the layers are also in object-based
checkpoints, which stage 3 relies on.
"""

import keras
import tensorflow as tf

import tf1shim

tf1shim.install()  # tf.compat.v1.layers on Keras 3.
v1 = tf.compat.v1

L2_SCALE = 1e-3
MOMENTUM = 0.9


def l2_regularizer(scale):
  """TF1's `tf.contrib.layers.l2_regularizer`: `scale * sum(w ** 2) / 2`."""
  return lambda weights: scale * tf.nn.l2_loss(weights)


@keras.saving.register_keras_serializable(package="examples.batchnorm.stage2")
class BatchNormCNN(keras.Model):
  """The batch-norm CNN with its TF1 layers as attributes."""

  def __init__(self, num_classes=10, name="bn_cnn", **kwargs):
    super().__init__(name=name, **kwargs)
    self.num_classes = num_classes
    self.conv1 = v1.layers.Conv2D(16, 3, padding="same", use_bias=False,
                                  kernel_regularizer=l2_regularizer(L2_SCALE))
    self.bn1 = v1.layers.BatchNormalization(momentum=MOMENTUM)
    self.pool = v1.layers.MaxPooling2D(2, 2)
    self.conv2 = v1.layers.Conv2D(32, 3, padding="same", use_bias=False,
                                  kernel_regularizer=l2_regularizer(L2_SCALE))
    self.bn2 = v1.layers.BatchNormalization(momentum=MOMENTUM)
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
