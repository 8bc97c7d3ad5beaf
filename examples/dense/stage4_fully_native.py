"""Stage 4, fully native: Keras 3 only, no TF1 API and no tf1shim.

The last TF1 layer becomes `keras.layers.Dense`, the decorator and the
`variable_scope` go, and the reshape becomes `keras.layers.Flatten`. The
variable paths are still the TF1 names (`mlp/logits/kernel`: the model is
named `mlp`, the layer `logits`), so the team's TF1 checkpoints load with
`tf1shim.checkpoints.restore_checkpoint` (or convert once to `.weights.h5`
with `tf1shim-ckpt convert`) and this file needs nothing from the migration.
"""

import keras

L2_SCALE = 1e-3


@keras.saving.register_keras_serializable(package="examples.dense.stage4")
class MLP(keras.Model):
  """The MLP in Keras 3."""

  def __init__(self, num_classes=10, name="mlp", **kwargs):
    super().__init__(name=name, **kwargs)
    self.num_classes = num_classes
    self.flatten = keras.layers.Flatten()
    self.hidden1 = keras.layers.Dense(
        64, activation="relu", kernel_initializer="glorot_uniform",
        kernel_regularizer=keras.regularizers.L2(L2_SCALE / 2),
        name="hidden1")
    self.hidden2 = keras.layers.Dense(
        32, activation="relu", kernel_initializer="glorot_uniform",
        kernel_regularizer=keras.regularizers.L2(L2_SCALE / 2),
        name="hidden2")
    self.logits = keras.layers.Dense(
        num_classes, kernel_initializer="glorot_uniform",
        kernel_regularizer=keras.regularizers.L2(L2_SCALE / 2),
        name="logits")

  def call(self, images, training=False):
    x = self.flatten(images)
    x = self.hidden1(x)
    x = self.hidden2(x)
    return self.logits(x)

  def get_config(self):
    return {**super().get_config(), "num_classes": self.num_classes}


def build_model(num_classes=10):
  """The stage's model: `build_model()(images, training=...) -> logits`."""
  return MLP(num_classes)
