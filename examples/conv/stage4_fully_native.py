"""Stage 4, fully native: Keras 3 only, no TF1 API and no tf1shim.

`conv2` and `logits` become Keras 3 layers, named `conv2d_1` and `dense_1`
as TF1 had named them, so every variable path (`cnn/conv2d_1/kernel`) is
still its TF1 name and the team's TF1 checkpoints load with
`tf1shim.checkpoints.restore_checkpoint` or convert once to `.weights.h5`
(`tf1shim-ckpt convert`). The decorator, the `variable_scope` and the
`record_scope` calls go.
"""

import keras

L2_SCALE = 1e-3
DROPOUT_RATE = 0.25


@keras.saving.register_keras_serializable(package="examples.conv.stage4")
class CNN(keras.Model):
  """The CNN in Keras 3."""

  def __init__(self, num_classes=10, name="cnn", **kwargs):
    super().__init__(name=name, **kwargs)
    self.num_classes = num_classes
    self.conv1 = keras.layers.Conv2D(
        16, 3, padding="same", activation="relu",
        kernel_initializer="glorot_uniform",
        kernel_regularizer=keras.regularizers.L2(L2_SCALE / 2), name="conv2d")
    self.pool1 = keras.layers.MaxPooling2D(2, 2)
    self.conv2 = keras.layers.Conv2D(
        32, 3, padding="same", activation="relu",
        kernel_initializer="glorot_uniform",
        kernel_regularizer=keras.regularizers.L2(L2_SCALE / 2),
        name="conv2d_1")
    self.pool2 = keras.layers.MaxPooling2D(2, 2)
    self.flatten = keras.layers.Flatten()
    self.dropout = keras.layers.Dropout(DROPOUT_RATE)
    self.hidden = keras.layers.Dense(
        64, activation="relu", kernel_initializer="glorot_uniform",
        kernel_regularizer=keras.regularizers.L2(L2_SCALE / 2), name="dense")
    self.logits = keras.layers.Dense(
        num_classes, kernel_initializer="glorot_uniform", name="dense_1")

  def call(self, images, training=False):
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
