"""tf1shim.comparison.op_profile counts the ops a step ran, by type: a TF1
graph's `Session.run` (step stats) and a `tf.function` (profiler trace)."""

import numpy as np
import tensorflow as tf

from tf1shim.comparison import op_profile
from testing.pytest_main import pytest_main

v1 = tf.compat.v1


def test_session_ops_counts_the_ops_a_session_run_ran():
  with tf.Graph().as_default():
    x = v1.placeholder(tf.float32, [4])
    y = v1.placeholder(tf.float32, [4])
    z = tf.maximum(tf.minimum(tf.maximum(x, y), x * 2.0), y * 3.0)
    unrun = tf.exp(x)  # not fetched: not run, not counted
    with v1.Session() as session:
      ops = op_profile.session_ops(session, z, {
          x: np.ones(4, np.float32), y: np.full(4, 2.0, np.float32)})
  assert ops["Maximum"][0] == 2 and ops["Minimum"][0] == 1, ops
  assert "Exp" not in ops and unrun is not None
  assert all(ms >= 0.0 for _, ms in ops.values())


def test_traced_ops_counts_the_ops_a_function_call_ran():
  x = tf.Variable(np.ones(4, np.float32))
  y = tf.Variable(np.full(4, 2.0, np.float32))

  @tf.function
  def f():
    return tf.maximum(tf.minimum(tf.maximum(x, y), x * 2.0), y * 3.0)

  f()
  ops = op_profile.traced_ops(f)
  assert ops["Maximum"][0] == 2 and ops["Minimum"][0] == 1, ops
  assert not any(kind.startswith("__inference") for kind in ops)


def test_traced_ops_stops_the_profiler_when_the_call_fails():
  def fails():
    raise RuntimeError("boom")

  try:
    op_profile.traced_ops(fails)
  except RuntimeError:
    pass
  # The profiler was stopped: a second profile can start.
  assert "Sqrt" in op_profile.traced_ops(lambda: tf.sqrt(tf.constant(4.0)))


if __name__ == "__main__":
  raise SystemExit(pytest_main(__file__))
