"""Decorated layers under tf.distribute.MirroredStrategy on two logical CPUs.

Logical devices must be configured before TensorFlow initializes, which
another test in the same pytest process may already have done; the scenario
therefore runs in a fresh interpreter (`python distribution_test.py
--scenario`) and the test checks its report.
"""

import json
import os
import sys

import numpy as np

from testing.pytest_main import pytest_main
from testing.subprocesses import run_python


def run_scenario():
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


def test_mirrored_strategy_matches_single_device_step():
  done = run_python([os.path.abspath(__file__), "--scenario"])
  assert done.returncode == 0, done.stderr[-4000:]
  report = json.loads(done.stdout.strip().splitlines()[-1])
  assert report["replicas"] == 2
  assert report["paths"] == ["model/hidden/kernel", "model/hidden/bias",
                             "model/dense/kernel", "model/dense/bias"]
  assert all(report["mirrored"]), report
  assert report["tf1_names"][0] == "model/hidden/kernel:0"
  assert report["moved"] > 1e-4  # the step changed every weight
  assert report["max_abs_diff"] < 1e-6, report


if __name__ == "__main__":
  if "--scenario" in sys.argv:
    print(json.dumps(run_scenario()))
  else:
    raise SystemExit(pytest_main(__file__))
