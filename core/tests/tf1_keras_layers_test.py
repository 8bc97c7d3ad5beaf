"""TF1BatchNormalization matches TF1's fused batch norm kernel, in a TF1 graph:
outputs, moving statistics (Bessel's correction), gradients; fused and not.
Where TF1 did not fuse (inputs of rank 2 or 3), it matches TF1's
`tf.compat.v1.layers.batch_normalization` itself: tf-keras's legacy layer in
a TF1 graph, in a subprocess (`--reference DIR`, TF_USE_LEGACY_KERAS=1).
TF1Conv2D matches a TF1 graph's convolution, bias and gated gradients, and
runs the filter gradient's kernel that graph ran. TF1L2Regularizer and
FusedSGD match TF1's `l2_loss` and Keras's `SGD`."""

import os

import keras
import numpy as np
import pytest
import tensorflow as tf

from tf1_keras_layers import FusedSGD
from tf1_keras_layers import TF1Conv2D
from tf1_keras_layers import TF1BatchNormalization
from tf1_keras_layers import TF1L2Regularizer
from testing import legacy_reference
from tf1shim.comparison import op_profile
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


def _tf1_fused_inference(x, gamma, beta, mean, variance):
  with tf.Graph().as_default():
    outputs, _, _ = v1.nn.fused_batch_norm(
        tf.constant(x), gamma, beta, mean=mean, variance=variance,
        epsilon=1e-3, is_training=False)
    with v1.Session() as sess:
      return sess.run(outputs)


def _layer_with(shape, gamma, beta, mean, variance, **kwargs):
  layer = TF1BatchNormalization(momentum=MOMENTUM, **kwargs)
  layer.build(shape)
  for variable, value in zip(
      (layer.gamma, layer.beta, layer.moving_mean, layer.moving_variance),
      (gamma, beta, mean, variance)):
    variable.assign(value)
  return layer


def _parameters(channels, seed):
  rng = np.random.RandomState(seed)
  return (rng.uniform(0.5, 1.5, channels).astype(np.float32),
          rng.normal(size=channels).astype(np.float32),
          rng.normal(size=channels).astype(np.float32),
          rng.uniform(0.5, 2.0, channels).astype(np.float32))


def test_inference_matches_tf1_fused_kernel():
  x = np.random.RandomState(1).normal(1.0, 2.0, (2, 3, 3, 4)).astype(
      np.float32)
  parameters = _parameters(4, seed=2)
  layer = _layer_with(x.shape, *parameters)
  want = _tf1_fused_inference(x, *parameters)
  # The same kernel on the same values: equal to float32 rounding of O(1)
  # outputs.
  np.testing.assert_allclose(layer(x, training=False), want, rtol=1e-6,
                             atol=1e-6)
  # Keras's unfused inference computes the same function, rounded in
  # another order.
  reference = keras.layers.BatchNormalization()
  reference.build(x.shape)
  for a, b in zip(reference.weights, layer.weights):
    a.assign(b)
  np.testing.assert_allclose(reference(x, training=False), want, rtol=1e-5,
                             atol=1e-5)


def test_gradients_match_tf1_fused_kernel():
  """Training-mode gradients (FusedBatchNormGradV3 in TF1's graph) of a
  weighted sum, with respect to the inputs, gamma and beta."""
  rng = np.random.RandomState(3)
  x = rng.normal(0.5, 1.5, (4, 5, 5, 3)).astype(np.float32)
  weights = rng.normal(size=x.shape).astype(np.float32)
  gamma, beta, mean, variance = _parameters(3, seed=4)
  with tf.Graph().as_default():
    inputs = tf.constant(x)
    g, b = tf.constant(gamma), tf.constant(beta)
    outputs, _, _ = v1.nn.fused_batch_norm(inputs, g, b, epsilon=1e-3,
                                           is_training=True)
    wanted = tf.gradients(tf.reduce_sum(outputs * weights), [inputs, g, b])
    with v1.Session() as sess:
      want = sess.run(wanted)
  layer = _layer_with(x.shape, gamma, beta, mean, variance)
  inputs = tf.constant(x)
  with tf.GradientTape() as tape:
    tape.watch(inputs)
    loss = tf.reduce_sum(layer(inputs, training=True) * weights)
  got = tape.gradient(loss, [inputs, layer.gamma.value, layer.beta.value])
  # Gradients are sums over the 100 values per channel of O(1) terms.
  for g_got, g_want in zip(got, want):
    np.testing.assert_allclose(g_got, g_want, rtol=1e-5, atol=1e-5)


def test_channels_first_takes_the_unfused_ops_with_tf1s_update():
  """axis=1 is not the fused kernel's layout on CPU: Keras's ops, still
  TF1's update; compared with the fused kernel on the transposed input."""
  rng = np.random.RandomState(5)
  x = rng.normal(2.0, 3.0, (4, 5, 5, 3)).astype(np.float32)
  gamma, beta, _, _ = _parameters(3, seed=6)
  layer = TF1BatchNormalization(axis=1, momentum=MOMENTUM)
  layer.build((4, 3, 5, 5))
  layer.gamma.assign(gamma)
  layer.beta.assign(beta)
  for _ in range(3):
    y = layer(np.transpose(x, (0, 3, 1, 2)), training=True)
  want_y, want_mean, want_variance = _tf1_fused(
      x, gamma, beta, np.zeros(3, np.float32), np.ones(3, np.float32),
      steps=3)
  np.testing.assert_allclose(np.transpose(y, (0, 2, 3, 1)), want_y,
                             rtol=1e-5, atol=1e-5)
  np.testing.assert_allclose(layer.moving_mean, want_mean, rtol=1e-6,
                             atol=1e-6)
  np.testing.assert_allclose(layer.moving_variance, want_variance,
                             rtol=1e-6, atol=1e-6)


def test_under_tf_function_and_xla_as_eagerly():
  x = np.random.RandomState(7).normal(size=(2, 4, 4, 3)).astype(np.float32)
  parameters = _parameters(3, seed=8)
  eager = _layer_with(x.shape, *parameters)
  eager_y = eager(x, training=True)
  for jit_compile in (False, True):
    layer = _layer_with(x.shape, *parameters)
    step = tf.function(lambda v, l=layer: l(v, training=True),
                       jit_compile=jit_compile)
    # XLA's fused batch norm rounds in its own order: float32 rounding of
    # O(1) values.
    np.testing.assert_allclose(step(x), eager_y, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(layer.moving_variance, eager.moving_variance,
                               rtol=1e-6, atol=1e-6)


def test_serializes_and_refuses_what_tf1_did_not_have():
  layer = TF1BatchNormalization(momentum=MOMENTUM)
  clone = TF1BatchNormalization.from_config(layer.get_config())
  assert clone.momentum == MOMENTUM
  with pytest.raises(ValueError, match="renorm"):
    TF1BatchNormalization(renorm=True)(np.ones((2, 2, 2, 1), np.float32),
                                       training=True)


def test_l2_regularizer_is_tf1s_value_and_gradient():
  """TF1's `scale * l2_loss(w)` in a TF1 graph (what `l2_regularizer` built)."""
  w = np.random.RandomState(9).normal(size=(3, 3, 4, 5)).astype(np.float32)
  scale = 1e-4
  with tf.Graph().as_default():
    weights = tf.constant(w)
    loss = scale * v1.nn.l2_loss(weights)
    gradient = tf.gradients(loss, weights)[0]
    with v1.Session() as sess:
      want_loss, want_gradient = sess.run([loss, gradient])
  variable = tf.Variable(w)
  with tf.GradientTape() as tape:
    got_loss = TF1L2Regularizer(scale)(variable)
  np.testing.assert_allclose(got_loss, want_loss, rtol=1e-6)
  np.testing.assert_allclose(tape.gradient(got_loss, variable),
                             want_gradient, rtol=1e-6)
  # The function Keras's L2(scale / 2) computes, to float32 rounding of a
  # sum of 180 squares.
  np.testing.assert_allclose(got_loss, keras.regularizers.L2(scale / 2)(w),
                             rtol=1e-5)
  assert TF1L2Regularizer.from_config(
      TF1L2Regularizer(scale).get_config()).scale == scale


@pytest.mark.parametrize("arguments", [
    {"momentum": 0.9}, {"momentum": 0.9, "nesterov": True}, {}])
def test_fused_sgd_trains_as_keras_sgd(arguments):
  """The same formula in one kernel: Keras's SGD's weights and slots after
  three steps of `train_on_batch`, to float32 rounding."""
  rng = np.random.RandomState(10)
  x = rng.normal(size=(8, 5)).astype(np.float32)
  y = rng.normal(size=(8, 3)).astype(np.float32)
  kernel = rng.normal(size=(5, 3)).astype(np.float32)
  results = []
  for optimizer_class in (keras.optimizers.SGD, FusedSGD):
    model = keras.Sequential([
        keras.Input((5,)),
        keras.layers.Dense(
            3, kernel_initializer=keras.initializers.Constant(kernel))])
    optimizer = optimizer_class(0.1, **arguments)
    model.compile(optimizer, "mse")
    initial = [w.copy() for w in model.get_weights()]
    for _ in range(3):
      model.train_on_batch(x, y)
    results.append((initial, model.get_weights(),
                    [np.asarray(v) for v in optimizer.variables]))
  (keras_initial, keras_weights, keras_slots), (_, fused_weights,
                                                fused_slots) = results
  assert not np.allclose(keras_weights[0], keras_initial[0])
  for got, want in zip(fused_weights + fused_slots,
                       keras_weights + keras_slots):
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-7)


# --- TF1Conv2D: Conv2D with TF1's gated bias gradient ----------------------

# oneDNN's kernel for a filter gradient fused with its bias gradient, which
# oneDNN's graph pass makes of an ungated Conv2DBackpropFilter + BiasAddGrad.
FUSED_FILTER_AND_BIAS_GRADIENT = "_MklNativeConv2DBackpropFilterWithBias"
ONEDNN = os.environ.get("TF_ENABLE_ONEDNN_OPTS", "1") != "0"


def _tf1_conv_gradients(x, kernel, bias, weights, strides, padding):
  """A TF1 graph's conv + bias + ReLU, its loss `sum(y * weights)` and the
  gradients TF1's `minimize` took (`compute_gradients`, GATE_OP)."""
  with tf.Graph().as_default():
    inputs = v1.placeholder(tf.float32, x.shape)
    kernel_variable = v1.Variable(kernel)
    bias_variable = v1.Variable(bias)
    outputs = tf.nn.relu(v1.nn.bias_add(
        v1.nn.conv2d(inputs, kernel_variable, [1, strides, strides, 1],
                     padding.upper()), bias_variable))
    loss = tf.reduce_sum(outputs * weights)
    optimizer = v1.train.GradientDescentOptimizer(0.1)
    gradients = optimizer.compute_gradients(
        loss, [kernel_variable, bias_variable],
        gate_gradients=optimizer.GATE_OP)
    with v1.Session() as sess:
      sess.run(v1.global_variables_initializer())
      return sess.run([outputs, [g for g, _ in gradients]], {inputs: x})


def _conv_case(seed, shape=(2, 9, 9, 3), filters=4):
  rng = np.random.RandomState(seed)
  x = rng.normal(size=shape).astype(np.float32)
  kernel = rng.normal(0.0, 1.0 / np.sqrt(9 * shape[-1]),
                      (3, 3, shape[-1], filters)).astype(np.float32)
  bias = rng.normal(0.0, 0.5, filters).astype(np.float32)
  return x, kernel, bias


@pytest.mark.parametrize("strides,padding", [(1, "same"), (2, "valid")])
def test_conv2d_matches_a_tf1_graph_and_its_gated_gradients(strides,
                                                            padding):
  x, kernel, bias = _conv_case(seed=20 + strides)
  layer = TF1Conv2D(4, 3, strides=strides, padding=padding,
                    activation="relu")
  layer.build(x.shape)
  layer.kernel.assign(kernel)
  layer.bias.assign(bias)
  weights = np.random.RandomState(30).normal(
      size=layer.compute_output_shape(x.shape)).astype(np.float32)
  with tf.GradientTape() as tape:
    outputs = layer(x)
    loss = tf.reduce_sum(outputs * weights)
  got_kernel, got_bias = tape.gradient(loss, [layer.kernel, layer.bias])
  want_outputs, (want_kernel, want_bias) = _tf1_conv_gradients(
      x, kernel, bias, weights, strides, padding)
  # O(1) outputs; the gradients sum up to 2 * 9 * 9 O(1) products, so
  # float32 rounding in another summation order (oneDNN's or Eigen's
  # kernels, fused or not) is about 1e-6 of their scale.
  np.testing.assert_allclose(outputs, want_outputs, rtol=1e-5, atol=1e-5)
  for got, want in ((got_kernel, want_kernel), (got_bias, want_bias)):
    np.testing.assert_allclose(got, want, rtol=1e-5,
                               atol=1e-5 * np.abs(want).max())


def test_conv2d_is_keras_conv2d_without_bias_and_serializes():
  x, kernel, _ = _conv_case(seed=24)
  ours = TF1Conv2D(4, 3, use_bias=False)
  theirs = keras.layers.Conv2D(4, 3, use_bias=False)
  for layer in (ours, theirs):
    layer.build(x.shape)
    layer.kernel.assign(kernel)
  np.testing.assert_array_equal(ours(x), theirs(x))
  clone = TF1Conv2D.from_config(TF1Conv2D(4, 3, name="c").get_config())
  assert isinstance(clone, TF1Conv2D) and clone.filters == 4


def _trained_ops(layer, x):
  """The op types one `tf.function` training step of `layer` ran."""
  layer.build(x.shape)
  variables = layer.trainable_variables

  @tf.function
  def step():
    with tf.GradientTape() as tape:
      loss = tf.reduce_sum(tf.square(layer(x)))
    for variable, gradient in zip(variables,
                                  tape.gradient(loss, variables)):
      variable.assign_sub(0.01 * gradient)

  step()  # traced and run once: the profile below is one plain step
  return op_profile.traced_ops(step)


def test_conv2d_runs_the_filter_gradient_the_tf1_graph_ran():
  """With oneDNN, Keras's Conv2D's ungated gradients become one fused
  kernel; TF1Conv2D's, gated, stay TF1's two, as in the TF1 graph."""
  x, _, _ = _conv_case(seed=25, shape=(2, 16, 16, 8))
  ours = _trained_ops(TF1Conv2D(8, 3, padding="same", activation="relu"), x)
  theirs = _trained_ops(
      keras.layers.Conv2D(8, 3, padding="same", activation="relu"), x)
  assert FUSED_FILTER_AND_BIAS_GRADIENT not in ours, sorted(ours)
  assert "BiasAddGrad" in ours, sorted(ours)
  if ONEDNN:  # what the gating prevents: the profile does see the fusion
    assert FUSED_FILTER_AND_BIAS_GRADIENT in theirs, sorted(theirs)


def test_conv2d_forward_runs_the_ops_conv2d_runs():
  """The gate is in the gradient only: the forward's ops are Conv2D's (with
  oneDNN, conv + bias + ReLU still one fused kernel)."""
  x, _, _ = _conv_case(seed=26, shape=(2, 16, 16, 8))
  profiles = []
  for layer_class in (TF1Conv2D, keras.layers.Conv2D):
    layer = layer_class(8, 3, padding="same", activation="relu")
    layer.build(x.shape)
    forward = tf.function(lambda layer=layer: layer(x))
    forward()
    profiles.append(sorted(op_profile.traced_ops(forward)))
  assert profiles[0] == profiles[1]


# --- Inputs TF1 did not fuse: rank 2 (a dense layer's) and rank 3 ----------

UNFUSED_SHAPES = {"rank2": (16, 5), "rank3": (4, 6, 3)}
UNFUSED_STEPS = 3


def _unfused_case(name):
  shape = UNFUSED_SHAPES[name]
  rng = np.random.RandomState(len(shape))
  x = rng.normal(2.0, 3.0, shape).astype(np.float32)
  gamma, beta, _, _ = _parameters(shape[-1], seed=len(shape) + 10)
  return x, gamma, beta


def reference_scenarios(out_dir):
  """TF1's batch_normalization (tf-keras's legacy layer) in a TF1 graph,
  trained `UNFUSED_STEPS` times with its UPDATE_OPS, as TF1 code ran it."""
  from testing import legacy_tf1  # pylint: disable=g-import-not-at-top
  tf1 = legacy_tf1.setup().compat.v1
  for name in UNFUSED_SHAPES:
    x, gamma, beta = _unfused_case(name)
    with tf1.Graph().as_default():
      inputs = tf1.placeholder(tf1.float32, x.shape)
      outputs = tf1.layers.batch_normalization(
          inputs, momentum=MOMENTUM, epsilon=1e-3, training=True,
          gamma_initializer=tf1.constant_initializer(gamma),
          beta_initializer=tf1.constant_initializer(beta))
      updates = tf1.get_collection(tf1.GraphKeys.UPDATE_OPS)
      moving = [v for v in tf1.global_variables() if "moving_" in v.name]
      with tf1.Session() as sess:
        sess.run(tf1.global_variables_initializer())
        for _ in range(UNFUSED_STEPS):
          y, _ = sess.run([outputs, updates], {inputs: x})
        values = dict(zip([v.name.split("/")[-1][:-2] for v in moving],
                          sess.run(moving)))
    np.savez(os.path.join(out_dir, name + ".npz"), output=y, **values)


reference = legacy_reference.fixture(__file__, "batch_norm_reference")


@pytest.mark.parametrize("name", sorted(UNFUSED_SHAPES))
def test_inputs_tf1_did_not_fuse_move_the_biased_variance(reference, name):
  x, gamma, beta = _unfused_case(name)
  want = reference(name)
  layer = TF1BatchNormalization(momentum=MOMENTUM)
  layer.build(x.shape)
  layer.gamma.assign(gamma)
  layer.beta.assign(beta)
  for _ in range(UNFUSED_STEPS):
    y = layer(x, training=True)
  # O(1) values (normalized outputs, statistics of N(2, 3**2) data moved
  # three times by 0.1): float32 rounding of moments over <= 24 values.
  np.testing.assert_allclose(y, want["output"], rtol=1e-5, atol=1e-5)
  np.testing.assert_allclose(layer.moving_mean, want["moving_mean"],
                             rtol=1e-6, atol=1e-6)
  np.testing.assert_allclose(layer.moving_variance,
                             want["moving_variance"], rtol=1e-6, atol=1e-6)
  # Bessel's correction here would be off by 1/(n - 1) of the batch
  # variance's share (n = 16 or 24 values per channel): far outside 1e-6.


if __name__ == "__main__":
  import sys  # pylint: disable=g-import-not-at-top
  if "--reference" in sys.argv:
    reference_scenarios(sys.argv[sys.argv.index("--reference") + 1])
  else:
    raise SystemExit(pytest_main(__file__))
