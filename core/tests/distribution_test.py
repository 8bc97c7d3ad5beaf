"""Decorated layers under tf.distribute.MirroredStrategy on two logical CPUs.

Logical devices must be configured before TensorFlow initializes, which
another test in the same pytest process may already have done; the scenario
therefore runs in a fresh interpreter (`python distribution_test.py
--scenario NAME`) and the test checks its report.

Scenarios:
* `float32`: a decorated regressor (get_variable, a TF1 layer, regularizers)
  takes the same `model.fit` step on two replicas as on one device.
* `mixed`: under Keras's `mixed_float16` policy, TF1 code on two replicas gets
  the mirrored variables as TF1 variables read in float16 (the single-device
  semantics, core/README "Mixed precision"), so the same model written with
  Keras 3 layers under the same policy and strategy is the reference: one
  `model.fit` step through `LossScaleOptimizer` moves the weights alike. TF1
  code's own moving average (`assign_moving_average` on a `get_variable`
  variable, in a replica) is checked against numpy: the mean over the global
  batch, as one device computes it.
"""

import json
import os
import sys

import numpy as np

from testing.pytest_main import pytest_main
from testing.subprocesses import run_python


def run_float32_scenario():
  import keras  # pylint: disable=g-import-not-at-top
  import tensorflow as tf  # pylint: disable=g-import-not-at-top

  cpu = tf.config.list_physical_devices("CPU")[0]
  tf.config.set_logical_device_configuration(
      cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
  import tf1shim  # pylint: disable=g-import-not-at-top
  v1 = tf.compat.v1

  class TF1Regressor(keras.layers.Layer):

    @tf1shim.track_tf1_style_variables
    def call(self, inputs):
      with v1.variable_scope("model"):
        with v1.variable_scope("hidden"):
          kernel = v1.get_variable(
              "kernel", [inputs.shape[-1], 6],
              initializer=v1.glorot_uniform_initializer(seed=3),
              regularizer=keras.regularizers.L2(0.01))
          bias = v1.get_variable("bias", [6],
                                 initializer=v1.constant_initializer(0.1))
        out = tf.nn.tanh(tf.matmul(inputs, kernel) + bias)
        return tf1shim.layers.dense(
            out, 1, kernel_initializer=v1.glorot_uniform_initializer(seed=4),
            kernel_regularizer="l2")

  def make_model():
    inputs = keras.Input((5,))
    model = keras.Model(inputs, TF1Regressor()(inputs))
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
    return model

  rng = np.random.RandomState(0)
  x = rng.randn(8, 5).astype(np.float32)
  y = rng.randn(8, 1).astype(np.float32)

  single = make_model()
  initial = [w.numpy() for w in single.weights]
  single.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0)

  strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
  with strategy.scope():
    mirrored = make_model()
  for w, value in zip(mirrored.weights, initial):
    w.assign(value)
  mirrored.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0)

  return {
      "replicas": strategy.num_replicas_in_sync,
      "paths": [w.path for w in mirrored.weights],
      "mirrored": [isinstance(w.value, tf.distribute.DistributedValues)
                   for w in mirrored.weights],
      "tf1_names": [tf1shim.tf1_name(w) for w in mirrored.weights],
      "max_abs_diff": max(
          float(np.max(np.abs(a.numpy() - b.numpy())))
          for a, b in zip(single.weights, mirrored.weights)),
      "moved": min(float(np.max(np.abs(w.numpy() - i)))
                   for w, i in zip(single.weights, initial)),
  }


def run_mixed_scenario():
  import keras  # pylint: disable=g-import-not-at-top
  import tensorflow as tf  # pylint: disable=g-import-not-at-top

  cpu = tf.config.list_physical_devices("CPU")[0]
  tf.config.set_logical_device_configuration(
      cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
  import tf1shim  # pylint: disable=g-import-not-at-top
  from tensorflow.python.training import moving_averages  # pylint: disable=g-import-not-at-top
  v1 = tf.compat.v1
  keras.mixed_precision.set_global_policy("mixed_float16")
  seen = {}

  class ShimModel(keras.Model):

    @tf1shim.track_tf1_style_variables
    def call(self, inputs, training=None):
      with v1.variable_scope("net"):
        h = tf1shim.layers.dense(inputs, 16, activation=tf.nn.relu,
                                 name="fc1")
        w = v1.get_variable("w", [16, 4])
        b = v1.get_variable("b", [4], initializer=v1.zeros_initializer())
        moving = v1.get_variable("moving_mean", [16], trainable=False,
                                 initializer=v1.zeros_initializer())
        seen.update(w_name=w.name, w_dtype=w.dtype.name,
                    w_is_variable=isinstance(w, tf.Variable),
                    h_dtype=h.dtype.name, w_read_dtype=(w * 1).dtype.name)
        if training:
          # TF1 batch-norm style: the average of float32 batch statistics.
          mean = tf.reduce_mean(tf.cast(h, tf.float32), axis=0)
          moving_averages.assign_moving_average(moving, mean, 0.9,
                                                zero_debias=False)
        return tf.nn.bias_add(tf.matmul(h, w), b)

  class NativeModel(keras.Model):

    def __init__(self):
      super().__init__()
      self.fc1 = keras.layers.Dense(16, activation="relu")
      self.fc2 = keras.layers.Dense(4)

    def call(self, inputs):
      return self.fc2(self.fc1(inputs))

  rng = np.random.RandomState(3)
  x = rng.randn(8, 10).astype(np.float32)
  y = rng.randn(8, 4).astype(np.float32)
  strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
  with strategy.scope():
    shim, native = ShimModel(), NativeModel()
    shim(x)
    native(x)
  by_role = {"net/fc1/kernel": 0, "net/fc1/bias": 1, "net/w": 2, "net/b": 3}
  shim_trainable = sorted(shim.trainable_weights,
                          key=lambda v: by_role[v.path])
  for mine, theirs in zip(shim_trainable, native.weights):
    mine.assign(theirs)
  before = [v.numpy() for v in native.weights]
  fc1_kernel, fc1_bias = before[0], before[1]
  losses, scales = {}, {}
  for kind, model in (("shim", shim), ("native", native)):
    with strategy.scope():
      # A small initial scale: Keras's default (2**15) overflows float16
      # gradients of O(1) activations on the first step, which is then
      # skipped on both sides: nothing would move.
      optimizer = keras.optimizers.LossScaleOptimizer(
          keras.optimizers.SGD(0.1), initial_scale=2.0 ** 8)
      model.compile(optimizer=optimizer, loss="mse", jit_compile=False)
    history = model.fit(x, y, batch_size=len(x), epochs=1, shuffle=False,
                        verbose=0)
    losses[kind] = history.history["loss"][0]
    scales[kind] = float(optimizer.dynamic_scale.numpy())
  moving = [v for v in shim.weights if v.path == "net/moving_mean"][0]
  # numpy: relu(x @ kernel + bias) in float32 (the float16 h differs by
  # float16 rounding, ~1e-3 relative), averaged over the global batch.
  hidden = np.maximum(x @ fc1_kernel + fc1_bias, 0)
  return {
      "replicas": strategy.num_replicas_in_sync,
      "seen": seen,
      "variable_dtypes": sorted((v.path, v.dtype) for v in shim.weights),
      "losses": losses,
      "scales": scales,
      "moves": [[(mine.numpy() - start).tolist(),
                 (theirs.numpy() - start).tolist()]
                for mine, theirs, start in zip(shim_trainable, native.weights,
                                               before)],
      "moving_mean": moving.numpy().tolist(),
      "moving_mean_numpy": (0.1 * hidden.mean(axis=0)).tolist(),
  }


SCENARIOS = {"float32": run_float32_scenario, "mixed": run_mixed_scenario}


def _report(scenario):
  done = run_python([os.path.abspath(__file__), "--scenario", scenario])
  assert done.returncode == 0, done.stderr[-4000:]
  return json.loads(done.stdout.strip().splitlines()[-1])


def test_mirrored_strategy_mixed_precision_as_native_keras():
  report = _report("mixed")
  assert report["replicas"] == 2
  seen = report["seen"]
  assert seen["w_name"] == "net/w:0"
  assert seen["w_is_variable"] and seen["w_dtype"] == "float32"
  # float16 math on float32 storage, as a mixed Keras layer.
  assert seen["h_dtype"] == "float16" and seen["w_read_dtype"] == "float16"
  assert all(dtype == "float32" for _, dtype in report["variable_dtypes"])
  assert report["scales"] == {"shim": 2.0 ** 8, "native": 2.0 ** 8}
  # Tolerances as core/tests/mixed_precision_test.py: float16 products
  # (eps 9.8e-4) summed in other orders; FP16_TOL = four eps, at the scale
  # of the compared quantity (the loss O(1); each move lr * gradient).
  fp16_tol = 4e-3
  loss = report["losses"]
  assert abs(loss["shim"] - loss["native"]) <= fp16_tol * max(
      1.0, abs(loss["native"])), loss
  for mine, theirs in report["moves"]:
    mine, theirs = np.asarray(mine), np.asarray(theirs)
    scale = float(np.max(np.abs(theirs)))
    assert scale > 1e-4  # the step moved this weight
    np.testing.assert_allclose(mine, theirs, rtol=fp16_tol,
                               atol=fp16_tol * scale)
  # The moving mean of float16 activations (cast to float32), O(0.1):
  # float16 rounding of h, relative 4e-3 at the mean's scale.
  expected = np.asarray(report["moving_mean_numpy"])
  np.testing.assert_allclose(report["moving_mean"], expected, rtol=fp16_tol,
                             atol=fp16_tol * float(np.max(np.abs(expected))))
  assert float(np.max(np.abs(expected))) > 1e-3


def test_mirrored_strategy_matches_single_device_step():
  report = _report("float32")
  assert report["replicas"] == 2
  assert report["paths"] == ["model/hidden/kernel", "model/hidden/bias",
                             "model/dense/kernel", "model/dense/bias"]
  assert all(report["mirrored"]), report
  assert report["tf1_names"][0] == "model/hidden/kernel:0"
  assert report["moved"] > 1e-4  # the step changed every weight
  assert report["max_abs_diff"] < 1e-6, report


if __name__ == "__main__":
  if "--scenario" in sys.argv:
    print(json.dumps(SCENARIOS[sys.argv[sys.argv.index("--scenario") + 1]]()))
  else:
    raise SystemExit(pytest_main(__file__))
