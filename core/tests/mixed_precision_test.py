"""Mixed precision: float16 TF1 code, and Keras's mixed_float16 policy.

Two semantics (core/README.md, "Mixed precision"):

1. TF1's own: a TF1 layer (or RNN cell) without a `dtype` takes the dtype of
   its first input, so `tf.compat.v1.layers.conv2d(tf.cast(x, tf.float16))`
   makes float16 variables and computes in float16; `get_variable` makes
   what it is asked for. The reference is TF1 itself: tf-keras's legacy
   layers (`tf.compat.v1.layers` under TF_USE_LEGACY_KERAS=1) in a TF1
   graph, in a subprocess; this process runs the same functions after
   `tf1shim.install()` in a TF1 graph and in a decorated Keras 3 layer
   (eagerly and under `tf.function`): names, dtypes, outputs, gradients.
2. Keras's: under a `mixed_float16` policy (global, or the decorated layer's
   `dtype=`), the decorated layer's TF1 code computes in float16 on float32
   variables, as Keras layers do. The reference is the same model written
   with Keras 3 layers under the same policy, with the same weights: output
   dtypes, variable dtypes, outputs, and one `model.fit` step through
   Keras's `LossScaleOptimizer`.

Tolerances. Values are O(1) (inputs and weights uniform in [-0.5, 0.5] or
N(0, 1), sums of at most ~30 products). Both sides compute the same float16
ops (products rounded to float16, eps 9.8e-4) with possibly different
kernels and summation orders, so a difference of `FP16_TOL * scale` is
allowed, FP16_TOL = 4e-3 (four float16 eps), scale = max(1, max |expected|)
of the compared quantity. The fit step compares each variable's move
(lr * gradient, ~0.01 to 0.1) with the native one at the move's own scale
(FP16_TOL * max |move|). Float32 statistics (batch-norm averages) keep 1e-5.
"""

import os

import numpy as np
import pytest
import tensorflow as tf

from testing import legacy_reference
from testing.pytest_main import pytest_main

v1 = tf.compat.v1
FP16_TOL = 4e-3


def _close(actual, expected, what, tolerance=FP16_TOL):
  expected = np.asarray(expected, np.float64)
  scale = max(1.0, float(np.max(np.abs(expected)))) if expected.size else 1.0
  np.testing.assert_allclose(np.asarray(actual, np.float64), expected,
                             rtol=tolerance, atol=tolerance * scale,
                             err_msg=what)


# --- 1. TF1's semantics: float16 inputs make float16 TF1 layers ------------


def conv_dense_float16(x):
  """fp16 inference code: layers take float16 from their input; an explicit
  get_variable dtype (float16, or the float32 default) is what it says."""
  layers = tf.compat.v1.layers
  h = layers.conv2d(tf.cast(x, tf.float16), 4, 3, activation=tf.nn.relu,
                    name="conv")
  h = layers.flatten(h)
  with v1.variable_scope("head"):
    h = layers.Dense(5, activation=tf.nn.relu)(h)
    w = v1.get_variable("w", [5, 2], dtype=tf.float16)
    b = v1.get_variable("b", [2], initializer=v1.zeros_initializer())
    return tf.cast(tf.matmul(h, w), tf.float32) + b


def lstm_float16(x):
  """A TF1 LSTM cell on float16 sequences: float16 kernel and state."""
  seq = tf.cast(tf.reshape(x, [2, 6, 6]), tf.float16)
  cell = v1.nn.rnn_cell.LSTMCell(3)
  out, _ = v1.nn.dynamic_rnn(cell, seq, dtype=tf.float16)
  return tf.cast(out[:, -1], tf.float32)


SCENARIOS = {f.__name__: f for f in (conv_dense_float16, lstm_float16)}


def _inputs():
  return np.random.RandomState(0).uniform(-1, 1, (2, 6, 6, 1)).astype(
      np.float32)


def reference_scenarios(out_dir):
  """Runs in the subprocess, with TF_USE_LEGACY_KERAS=1 (TF1's layers)."""
  assert tf.keras.__name__.startswith("tf_keras"), tf.keras.__name__
  for name, fn in SCENARIOS.items():
    rng = np.random.RandomState(1)
    with tf.Graph().as_default():
      out = fn(tf.constant(_inputs()))
      variables = v1.global_variables()
      weight = rng.uniform(-1, 1, out.shape.as_list()).astype(np.float32)
      gradients = tf.gradients(tf.reduce_sum(out * weight),
                               v1.trainable_variables())
      with v1.Session() as sess:
        sess.run(v1.global_variables_initializer())
        values = [rng.uniform(-0.5, 0.5, v.shape.as_list()).astype(
            v.dtype.base_dtype.as_numpy_dtype) for v in variables]
        for variable, value in zip(variables, values):
          variable.load(value, sess)
        output, grads = sess.run([out, gradients])
    record = {"names": np.array([v.name for v in variables]),
              "dtypes": np.array([v.dtype.base_dtype.name
                                  for v in variables]),
              "output": output, "weight": weight}
    for i, value in enumerate(values):
      record["value_%d" % i] = value
    for i, value in enumerate(grads):
      record["gradient_%d" % i] = value
    np.savez(os.path.join(out_dir, name + ".npz"), **record)


reference = legacy_reference.fixture(__file__, "mixed_precision_reference")


@pytest.fixture(scope="module", autouse=True)
def installed():
  import tf1shim  # pylint: disable=g-import-not-at-top
  tf1shim.install()


_records = legacy_reference.records


def test_reference_makes_float16_variables(reference):
  """The premise, in TF1 itself: layer variables follow the input dtype."""
  ref = reference("conv_dense_float16")
  dtypes = dict(zip(ref["names"], ref["dtypes"]))
  assert dtypes == {"conv/kernel:0": "float16", "conv/bias:0": "float16",
                    "head/dense/kernel:0": "float16",
                    "head/dense/bias:0": "float16",
                    "head/w:0": "float16", "head/b:0": "float32"}


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_tf1_graph_equals_reference(reference, name):
  ref = reference(name)
  with tf.Graph().as_default():
    out = SCENARIOS[name](tf.constant(_inputs()))
    variables = v1.global_variables()
    assert [v.name for v in variables] == list(ref["names"])
    assert [v.dtype.base_dtype.name for v in variables] == list(
        ref["dtypes"])
    gradients = tf.gradients(tf.reduce_sum(out * ref["weight"]),
                             v1.trainable_variables())
    with v1.Session() as sess:
      for variable, value in zip(variables, _records(ref, "value")):
        variable.load(value, sess)
      output, grads = sess.run([out, gradients])
  _close(output, ref["output"], "output")
  for i, (g, e) in enumerate(zip(grads, _records(ref, "gradient"))):
    _close(g, e, "gradient %d" % i)


@pytest.mark.parametrize("compiled", [False, True], ids=["eager", "function"])
@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_decorated_layer_equals_reference(reference, name, compiled):
  import keras  # pylint: disable=g-import-not-at-top
  import tf1shim  # pylint: disable=g-import-not-at-top
  ref = reference(name)
  fn = SCENARIOS[name]

  class Model(keras.layers.Layer):

    @tf1shim.track_tf1_style_variables
    def call(self, inputs):
      return fn(inputs)

  layer = Model()  # float32 policy: only the TF1 code's casts matter
  x = tf.constant(_inputs())

  def forward(x):
    with tf.GradientTape() as tape:
      out = layer(x)
      loss = tf.reduce_sum(out * ref["weight"])
    return out, tape.gradient(loss, layer.trainable_weights)

  step = tf.function(forward) if compiled else forward
  step(x)  # creates
  by_name = {tf1shim.tf1_name(v): v for v in layer.weights}
  assert sorted(by_name) == sorted(ref["names"])
  dtypes = dict(zip(ref["names"], ref["dtypes"]))
  assert {n: v.dtype for n, v in by_name.items()} == dtypes
  for name_, value in zip(ref["names"], _records(ref, "value")):
    by_name[name_].assign(value)
  out, grads = step(x)
  _close(out, ref["output"], "output")
  ours = dict(zip([tf1shim.tf1_name(v) for v in layer.trainable_weights],
                  grads))
  for n, expected in zip(ref["names"], _records(ref, "gradient")):
    _close(ours[n], expected, "gradient of " + n)


def test_explicit_dtype_wins_over_the_input():
  """TF1: `dtype=` on the layer (not the input) sets its variables."""
  import tf1shim  # pylint: disable=g-import-not-at-top
  layer = tf1shim.layers.Dense(3, dtype="float16")
  out = layer(tf.ones([2, 4], tf.float16))
  assert (layer.kernel.dtype, out.dtype) == ("float16", tf.float16)
  float32_layer = tf1shim.layers.Dense(3)
  float32_layer(tf.ones([2, 4]))
  assert float32_layer.kernel.dtype == "float32"


# --- 2. Keras's mixed_float16 policy ----------------------------------------


@pytest.fixture
def global_mixed_policy():
  import keras  # pylint: disable=g-import-not-at-top
  previous = keras.mixed_precision.global_policy()
  keras.mixed_precision.set_global_policy("mixed_float16")
  try:
    yield
  finally:
    keras.mixed_precision.set_global_policy(previous)


def _models(where):
  """(shim, native) models; `where` the policy is set: "global", "layer"."""
  import keras  # pylint: disable=g-import-not-at-top
  import tf1shim  # pylint: disable=g-import-not-at-top
  dtype = "mixed_float16" if where == "layer" else None

  class ShimModel(keras.Model):

    @tf1shim.track_tf1_style_variables
    def call(self, inputs):
      with v1.variable_scope("net"):
        h = v1.layers.dense(inputs, 16, activation=tf.nn.relu, name="fc1")
        assert h.dtype == tf.float16, h.dtype
        w = v1.get_variable("w", [16, 4])  # float32, read as float16 here
        b = v1.get_variable("b", [4], initializer=v1.zeros_initializer())
        return tf.nn.bias_add(tf.matmul(h, w), b)

  class NativeModel(keras.Model):

    def __init__(self, **kwargs):
      super().__init__(**kwargs)
      self.fc1 = keras.layers.Dense(16, activation="relu", dtype=dtype)
      self.fc2 = keras.layers.Dense(4, dtype=dtype)

    def call(self, inputs):
      return self.fc2(self.fc1(inputs))

  return ShimModel(dtype=dtype), NativeModel(dtype=dtype)


SHIM_TO_NATIVE = {"net/fc1/kernel": 0, "net/fc1/bias": 1, "net/w": 2,
                  "net/b": 3}


def _same_weights(shim, native):
  """Gives `shim` the native model's weights, by role; returns shim's by
  native order."""
  ordered = sorted(shim.weights, key=lambda v: SHIM_TO_NATIVE[v.path])
  for mine, theirs in zip(ordered, native.weights):
    mine.assign(theirs)
  return ordered


def _data():
  rng = np.random.RandomState(3)
  return (rng.randn(8, 10).astype(np.float32),
          rng.randn(8, 4).astype(np.float32))


@pytest.fixture(params=["global", "layer"])
def policy_where(request):
  if request.param == "global":
    request.getfixturevalue("global_mixed_policy")
  return request.param


def test_mixed_policy_float16_math_on_float32_variables(policy_where):
  shim, native = _models(policy_where)
  x, _ = _data()
  native(x)
  out = shim(x)
  assert shim.dtype_policy.name == "mixed_float16"
  assert out.dtype == tf.float16
  assert sorted((v.path, v.dtype) for v in shim.weights) == [
      ("net/b", "float32"), ("net/fc1/bias", "float32"),
      ("net/fc1/kernel", "float32"), ("net/w", "float32")]
  _same_weights(shim, native)
  expected = native(x)
  assert expected.dtype == tf.float16
  _close(shim(x), expected, "eager output")
  _close(tf.function(shim)(x), expected, "tf.function output")
  # Really float16 math: a float32 model with these weights differs by more
  # than float32 rounding (float16 rounds products to ~1e-3).
  float32_out = np.maximum(x @ native.weights[0].numpy() +
                           native.weights[1].numpy(), 0) @ (
                               native.weights[2].numpy()) + (
                                   native.weights[3].numpy())
  assert np.max(np.abs(np.asarray(expected, np.float64) - float32_out)) > 1e-5


def test_mixed_policy_keeps_explicit_dtypes():
  """Explicit dtypes win, as in TF1: a float16 or float64 `get_variable`
  is made and read as asked; a TF1 layer with `dtype="float32"` computes
  in float32; TF1 code can still read a float32 variable as float32."""
  import keras  # pylint: disable=g-import-not-at-top
  import tf1shim  # pylint: disable=g-import-not-at-top
  seen = {}

  class Model(keras.layers.Layer):

    @tf1shim.track_tf1_style_variables
    def call(self, inputs):
      w16 = v1.get_variable("w16", [3, 2], dtype=tf.float16)
      w64 = v1.get_variable("w64", [2], dtype=tf.float64)
      w32 = v1.get_variable("w32", [2])
      seen["reads"] = (tf.convert_to_tensor(w16).dtype,
                       tf.convert_to_tensor(w64).dtype,
                       tf.convert_to_tensor(w32).dtype,
                       w32.read_value().dtype, w32.value().dtype,
                       tf.convert_to_tensor(w32, dtype=tf.float32).dtype,
                       w32.dtype)
      h = tf.matmul(inputs, w16) + w32
      seen["float32 layer"] = v1.layers.dense(
          tf.cast(h, tf.float32), 2, dtype="float32", name="exact").dtype
      return h

  layer = Model(dtype="mixed_float16")
  out = layer(tf.ones([2, 3]))
  assert out.dtype == tf.float16
  assert seen["reads"] == (tf.float16, tf.float64, tf.float16, tf.float16,
                           tf.float16, tf.float32, tf.float32)
  assert seen["float32 layer"] == tf.float32
  assert {v.path: v.dtype for v in layer.weights} == {
      "w16": "float16", "w64": "float64", "w32": "float32",
      "exact/kernel": "float32", "exact/bias": "float32"}
  # Outside the call nothing is cast.
  assert layer.weights[2].value.dtype == tf.float32


def test_mixed_policy_lstm_cell_float32_variables():
  """TF1 RNN cells follow the mixed policy too: float32 kernels, float16
  math (the cell's inputs are float16 inside the mixed call)."""
  import keras  # pylint: disable=g-import-not-at-top
  import tf1shim  # pylint: disable=g-import-not-at-top

  class Model(keras.layers.Layer):

    @tf1shim.track_tf1_style_variables
    def call(self, inputs):
      cell = v1.nn.rnn_cell.LSTMCell(4)
      out, _ = v1.nn.dynamic_rnn(cell, inputs, dtype=inputs.dtype)
      return out

  layer = Model(dtype="mixed_float16")
  out = layer(tf.ones([2, 3, 5]))
  assert out.dtype == tf.float16
  assert {v.path: v.dtype for v in layer.weights} == {
      "rnn/lstm_cell/kernel": "float32", "rnn/lstm_cell/bias": "float32"}


def test_mixed_policy_batch_normalization_as_keras():
  """TF1 batch normalization under the policy: float32 parameters read
  uncast, float16 output, equal to Keras's BatchNormalization (same
  defaults: momentum 0.99, epsilon 1e-3) in training mode."""
  import keras  # pylint: disable=g-import-not-at-top
  import tf1shim  # pylint: disable=g-import-not-at-top

  class Model(keras.layers.Layer):

    @tf1shim.track_tf1_style_variables
    def call(self, inputs, training=None):
      return v1.layers.batch_normalization(inputs, training=training)

  x = np.random.RandomState(5).randn(4, 3, 3, 2).astype(np.float32)
  layer = Model(dtype="mixed_float16")
  native = keras.layers.BatchNormalization(dtype="mixed_float16")
  out, expected = layer(x, training=True), native(x, training=True)
  assert out.dtype == expected.dtype == tf.float16
  assert {v.path: v.dtype for v in layer.weights} == {
      "batch_normalization/gamma": "float32",
      "batch_normalization/beta": "float32",
      "batch_normalization/moving_mean": "float32",
      "batch_normalization/moving_variance": "float32"}
  _close(out, expected, "output")
  moving_mean = {v.path: v for v in layer.weights}[
      "batch_normalization/moving_mean"]
  # Batch means of O(1) values, moved by 0.01: float32 statistics.
  _close(moving_mean.numpy(), native.moving_mean.numpy(), "moving mean",
         tolerance=1e-5)


def test_compile_wraps_the_optimizer_in_loss_scaling(policy_where):
  import keras  # pylint: disable=g-import-not-at-top
  shim, _ = _models(policy_where)
  shim.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
  assert isinstance(shim.optimizer, keras.optimizers.LossScaleOptimizer)


def test_fit_step_with_loss_scaling_moves_weights_as_native(policy_where):
  import keras  # pylint: disable=g-import-not-at-top
  shim, native = _models(policy_where)
  x, y = _data()
  native(x)
  shim(x)
  ordered = _same_weights(shim, native)
  before = [v.numpy() for v in native.weights]
  losses = {}
  for kind, model in (("shim", shim), ("native", native)):
    # A small initial scale: Keras's default (2**15) overflows float16
    # gradients of O(1) activations on the first step, which then is
    # skipped on both sides (and the scale halved): nothing would move.
    optimizer = keras.optimizers.LossScaleOptimizer(
        keras.optimizers.SGD(0.1), initial_scale=2.0 ** 8)
    model.compile(optimizer=optimizer, loss="mse", jit_compile=False)
    history = model.fit(x, y, batch_size=len(x), epochs=1, shuffle=False,
                        verbose=0)
    losses[kind] = history.history["loss"][0]
    assert float(optimizer.dynamic_scale) == 2.0 ** 8, kind  # not skipped
  assert np.isfinite(losses["shim"])
  _close(losses["shim"], losses["native"], "loss")
  for mine, theirs, start in zip(ordered, native.weights, before):
    moved = theirs.numpy() - start
    assert np.max(np.abs(moved)) > 1e-4, theirs.path
    # The step is lr * a float16 gradient: compare the moves, at the scale
    # of the move (its own float16 rounding, ~1e-3 relative).
    scale = float(np.max(np.abs(moved)))
    np.testing.assert_allclose(mine.numpy() - start, moved, rtol=FP16_TOL,
                               atol=FP16_TOL * scale,
                               err_msg="step of " + mine.path)


if __name__ == "__main__":
  import sys  # pylint: disable=g-import-not-at-top
  if "--reference" in sys.argv:
    reference_scenarios(sys.argv[sys.argv.index("--reference") + 1])
  else:
    raise SystemExit(pytest_main(__file__))
