"""TF1BatchNormalization matches TF1's fused batch norm kernel, in a TF1 graph."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from tf1_keras_layers import TF1BatchNormalization
from testing.pytest_main import pytest_main

v1 = tf.compat.v1
MOMENTUM = 0.9


def _tf1_fused(x, gamma, beta, mean, variance, steps):
  """TF1's training-mode update: FusedBatchNorm's batch statistics (the
  variance Bessel-corrected), moved as TF1's `batch_normalization` did."""
  with tf.Graph().as_default():
    inputs = v1.placeholder(tf.float32, x.shape)
    moving_mean = v1.Variable(mean)
    moving_variance = v1.Variable(variance)
    outputs, batch_mean, batch_variance = v1.nn.fused_batch_norm(
        inputs, gamma, beta, epsilon=1e-3, is_training=True)
    updates = [
        v1.assign_sub(moving_mean, (moving_mean - batch_mean) * (1 - MOMENTUM)),
        v1.assign_sub(moving_variance,
                      (moving_variance - batch_variance) * (1 - MOMENTUM))]
    with v1.Session() as sess:
      sess.run(v1.global_variables_initializer())
      for _ in range(steps):
        y, _ = sess.run([outputs, updates], {inputs: x})
      return y, sess.run(moving_mean), sess.run(moving_variance)


@pytest.mark.parametrize("shape", [(4, 5, 5, 3), (2, 3, 3, 2)])
def test_training_matches_tf1_fused_kernel(shape):
  rng = np.random.RandomState(0)
  x = rng.normal(2.0, 3.0, shape).astype(np.float32)
  channels = shape[-1]
  gamma = rng.uniform(0.5, 1.5, channels).astype(np.float32)
  beta = rng.normal(size=channels).astype(np.float32)
  layer = TF1BatchNormalization(momentum=MOMENTUM)
  layer.build(shape)
  layer.gamma.assign(gamma)
  layer.beta.assign(beta)
  for _ in range(3):
    y = layer(x, training=True)
  want_y, want_mean, want_variance = _tf1_fused(
      x, gamma, beta, np.zeros(channels, np.float32),
      np.ones(channels, np.float32), steps=3)
  np.testing.assert_allclose(y, want_y, rtol=1e-5, atol=1e-5)
  np.testing.assert_allclose(layer.moving_mean, want_mean, rtol=1e-6,
                             atol=1e-6)
  np.testing.assert_allclose(layer.moving_variance, want_variance,
                             rtol=1e-6, atol=1e-6)
  # The point of the layer: Keras 3's own update lands elsewhere.
  keras_layer = keras.layers.BatchNormalization(momentum=MOMENTUM)
  keras_layer.build(shape)
  for _ in range(3):
    keras_layer(x, training=True)
  assert not np.allclose(keras_layer.moving_variance, want_variance,
                         rtol=1e-4)


def test_inference_is_keras_batch_norm():
  x = np.random.RandomState(1).rand(2, 3, 3, 2).astype(np.float32)
  layer = TF1BatchNormalization()
  reference = keras.layers.BatchNormalization()
  layer.build(x.shape)
  reference.build(x.shape)
  for a, b in zip(layer.weights, reference.weights):
    value = np.random.RandomState(len(a.path)).rand(*a.shape) + 0.5
    a.assign(value)
    b.assign(value)
  np.testing.assert_array_equal(layer(x, training=False),
                                reference(x, training=False))


def test_serializes_and_refuses_what_tf1_did_not_have():
  layer = TF1BatchNormalization(momentum=MOMENTUM)
  clone = TF1BatchNormalization.from_config(layer.get_config())
  assert clone.momentum == MOMENTUM
  with pytest.raises(ValueError, match="renorm"):
    TF1BatchNormalization(renorm=True)(np.ones((2, 2, 2, 1), np.float32),
                                       training=True)


if __name__ == "__main__":
  raise SystemExit(pytest_main(__file__))
