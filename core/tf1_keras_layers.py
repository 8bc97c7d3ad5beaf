"""Keras 3 layers that compute what TF1's layers computed, without tf1shim.

For the fully native stage of a migration: plain Keras 3 (this module imports
neither tf1shim nor TensorFlow's TF1 API), shipped with the tf1shim package so
that examples, slim ports and your own native stages share one copy.

`TF1BatchNormalization`: a batch normalization that moves its averages as
TF1's did.

TF1's `tf.compat.v1.layers.batch_normalization` ran the fused kernel on 4-D
inputs (its default, `fused=None`). That kernel normalizes with the batch's
biased variance but moves `moving_variance` towards the *unbiased* one,
`n / (n - 1)` times larger (n: values per channel in the batch). Keras 3's
`BatchNormalization` moves it towards the biased one. Same names, same
defaults (momentum 0.99, epsilon 1e-3), yet after training the moving
variances differ, and so do inference outputs.

`TF1BatchNormalization` is Keras 3's layer with TF1's update, so a migrated
model keeps matching the TF1 model and its checkpoints' statistics through
training. Plain Keras only: it belongs to the fully native model. (Models
that retrain from scratch can use `keras.layers.BatchNormalization` and
accept the difference; see README.md.)
"""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="tf1_keras_layers")
class TF1BatchNormalization(keras.layers.BatchNormalization):
  """`keras.layers.BatchNormalization` whose moving variance follows TF1's
  fused kernel (Bessel-corrected batch variance). Masks, renorm and
  synchronized statistics are Keras's own and are not supported here."""

  def call(self, inputs, training=None, mask=None):
    if not (training and self.trainable):
      return super().call(inputs, training=training, mask=mask)
    if mask is not None or self.renorm or self.synchronized:
      raise ValueError("TF1BatchNormalization supports neither masks, "
                       "renorm nor synchronized statistics; TF1's fused "
                       "batch norm had none of them.")
    inputs = ops.cast(inputs, "float32")
    rank = len(inputs.shape)
    axis = self.axis % rank
    reduction_axes = [a for a in range(rank) if a != axis]
    mean, variance = ops.moments(inputs, axes=reduction_axes)
    count = ops.cast(ops.size(inputs) // ops.shape(inputs)[axis], "float32")
    unbiased = variance * count / ops.maximum(count - 1.0, 1.0)
    self.moving_mean.assign(self.moving_mean * self.momentum +
                            mean * (1.0 - self.momentum))
    self.moving_variance.assign(self.moving_variance * self.momentum +
                                unbiased * (1.0 - self.momentum))
    outputs = ops.batch_normalization(
        inputs, mean, variance, axis=axis,
        offset=self.beta if self.center else None,
        scale=self.gamma if self.scale else None, epsilon=self.epsilon)
    return ops.cast(outputs, self.compute_dtype)
