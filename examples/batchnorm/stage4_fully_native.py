"""Stage 4, fully native: Keras 3 only, no TF1 API and no tf1shim.

The convolutions and the output layer become Keras 3 layers named as TF1
named them (`conv2d`, `conv2d_1`, `dense`), the global average pooling a
`GlobalAveragePooling2D`, and the decorator and `variable_scope` go. Every
variable path is still its TF1 name, so TF1 checkpoints load with
`tf1shim.checkpoints.restore_checkpoint` or convert once to `.weights.h5`.
Batch normalization stays `TF1BatchNormalization`, plain Keras 3.
"""

import keras

from tf1_keras_layers import TF1BatchNormalization

L2_SCALE = 1e-3
MOMENTUM = 0.9


@keras.saving.register_keras_serializable(package="examples.batchnorm.stage4")
class BatchNormCNN(keras.Model):
  """The batch-norm CNN in Keras 3."""

  def __init__(self, num_classes=10, name="bn_cnn", **kwargs):
    super().__init__(name=name, **kwargs)
    self.num_classes = num_classes
    self.conv1 = keras.layers.Conv2D(
        16, 3, padding="same", use_bias=False,
        kernel_initializer="glorot_uniform",
        kernel_regularizer=keras.regularizers.L2(L2_SCALE / 2), name="conv2d")
    self.bn1 = TF1BatchNormalization(momentum=MOMENTUM,
                                     name="batch_normalization")
    self.pool = keras.layers.MaxPooling2D(2, 2)
    self.conv2 = keras.layers.Conv2D(
        32, 3, padding="same", use_bias=False,
        kernel_initializer="glorot_uniform",
        kernel_regularizer=keras.regularizers.L2(L2_SCALE / 2),
        name="conv2d_1")
    self.bn2 = TF1BatchNormalization(momentum=MOMENTUM,
                                     name="batch_normalization_1")
    self.global_pool = keras.layers.GlobalAveragePooling2D()
    self.logits = keras.layers.Dense(
        num_classes, kernel_initializer="glorot_uniform", name="dense")

  def call(self, images, training=False):
    x = self.conv1(images)
    x = self.bn1(x, training=training)
    x = keras.ops.relu(x)
    x = self.pool(x)
    x = self.conv2(x)
    x = self.bn2(x, training=training)
    x = keras.ops.relu(x)
    x = self.global_pool(x)
    return self.logits(x)

  def get_config(self):
    return {**super().get_config(), "num_classes": self.num_classes}


def build_model(num_classes=10):
  """The stage's model: `build_model()(images, training=...) -> logits`."""
  return BatchNormCNN(num_classes)
