"""DeterministicRandomTestTool: the same draws whichever API asks.

Reference values come from TF's own stateful ops and TF1 initializers (in
eager mode and in TF1 graphs); the tool must make Keras 3's draws equal them.
"""

import keras
import numpy as np
import pytest
import tensorflow as tf

import tf1shim
from tf1shim import layers
from testing.pytest_main import pytest_main
from testing.shim_models import ShimLayer

v1 = tf.compat.v1
Tool = tf1shim.DeterministicRandomTestTool
SHAPE = (4, 6)

# Keras 3 initializer -> the TF1 initializer that draws the same numbers.
INITIALIZER_PAIRS = {
    "GlorotUniform": (keras.initializers.GlorotUniform,
                      v1.glorot_uniform_initializer),
    "GlorotNormal": (keras.initializers.GlorotNormal,
                     v1.glorot_normal_initializer),
    "HeNormal": (keras.initializers.HeNormal, v1.initializers.he_normal),
    "HeUniform": (keras.initializers.HeUniform, v1.initializers.he_uniform),
    "LecunNormal": (keras.initializers.LecunNormal,
                    v1.initializers.lecun_normal),
    "RandomNormal": (lambda: keras.initializers.RandomNormal(0.5, 2.0),
                     lambda: v1.random_normal_initializer(0.5, 2.0)),
    "RandomUniform": (lambda: keras.initializers.RandomUniform(-3.0, 1.0),
                      lambda: v1.random_uniform_initializer(-3.0, 1.0)),
    "TruncatedNormal": (lambda: keras.initializers.TruncatedNormal(0.0, 0.3),
                        lambda: v1.truncated_normal_initializer(0.0, 0.3)),
    "VarianceScaling": (
        lambda: keras.initializers.VarianceScaling(0.5, "fan_out", "uniform"),
        lambda: v1.variance_scaling_initializer(0.5, "fan_out", "uniform")),
    "Orthogonal": (lambda: keras.initializers.Orthogonal(gain=1.3),
                   lambda: v1.orthogonal_initializer(gain=1.3)),
}
PRECEDING_DRAWS = 3  # so the compared draw is not the first of the sequence


def draw_eager(make_initializer, mode, wrap=lambda f: f):
  with Tool(mode=mode).scope():
    for _ in range(PRECEDING_DRAWS):
      tf.random.uniform([2])
    return np.asarray(wrap(lambda: make_initializer()(SHAPE))())


def draw_in_tf1_graph(make_initializer, mode):
  with tf.Graph().as_default():
    with Tool(mode=mode).scope():
      for _ in range(PRECEDING_DRAWS):
        tf.random.uniform([2])
      value = make_initializer()(SHAPE)
    with v1.Session() as sess:
      return sess.run(value)


def nested_functions(fn):
  return tf.function(lambda: tf.function(fn)())


@pytest.mark.parametrize("mode", ["constant", "num_random_ops"])
@pytest.mark.parametrize("name", sorted(INITIALIZER_PAIRS))
def test_keras_and_tf1_initializers_draw_the_same_numbers(name, mode):
  make_keras, make_tf1 = INITIALIZER_PAIRS[name]
  reference = draw_eager(make_tf1, mode)
  np.testing.assert_array_equal(draw_eager(make_keras, mode), reference)
  np.testing.assert_array_equal(
      draw_eager(make_keras, mode, wrap=nested_functions), reference)
  np.testing.assert_array_equal(
      draw_eager(make_tf1, mode, wrap=nested_functions), reference)
  np.testing.assert_array_equal(draw_in_tf1_graph(make_tf1, mode),
                                reference)


def test_draws_follow_the_op_index_in_num_random_ops_mode():
  with Tool(mode="num_random_ops").scope():
    first = keras.initializers.GlorotUniform()(SHAPE)
    second = keras.initializers.GlorotUniform()(SHAPE)
  assert not np.array_equal(first, second)
  tool = Tool(mode="num_random_ops")
  with tool.scope():
    tf.random.normal([1])
    again = v1.glorot_uniform_initializer()(SHAPE)
  np.testing.assert_array_equal(again, second)
  assert tool.operation_seed == 2


def test_keras_random_functions_and_seed_generators_follow_the_tool():
  generator = keras.random.SeedGenerator(123)
  with Tool(mode="num_random_ops").scope():
    k_normal = keras.random.normal((3,), seed=generator)
    k_uniform = keras.random.uniform((3,), seed=7)
    k_truncated = keras.random.truncated_normal((3,), seed=generator)
  with Tool(mode="num_random_ops").scope():
    t_normal = tf.random.normal((3,))
    t_uniform = tf.random.uniform((3,))
    t_truncated = tf.random.truncated_normal((3,))
  np.testing.assert_array_equal(k_normal, t_normal)
  np.testing.assert_array_equal(k_uniform, t_uniform)
  np.testing.assert_array_equal(k_truncated, t_truncated)


def test_keras_dropout_layer_equals_tf1_dropout_eager_and_in_tf_function():
  x = tf.ones([6, 8])
  keras_dropout = keras.layers.Dropout(0.4)
  for wrap in (lambda f: f, tf.function):
    with Tool(mode="num_random_ops").scope():
      native = wrap(lambda: keras_dropout(x, training=True))()
    with Tool(mode="num_random_ops").scope():
      tf1 = wrap(lambda: layers.dropout(x, 0.4, training=True))()
    np.testing.assert_array_equal(native, tf1)
    assert 0 < np.count_nonzero(native) < np.size(native)


def test_tf1_conv_kernel_equals_keras_conv_kernel_at_the_same_index():
  with Tool(mode="num_random_ops").scope():
    conv = keras.layers.Conv2D(4, 3)
    conv.build((None, 8, 8, 2))
  with Tool(mode="num_random_ops").scope():
    shim = ShimLayer(lambda x, training=None: layers.conv2d(x, 4, 3))
    shim(tf.zeros([1, 8, 8, 2]))
  np.testing.assert_array_equal(conv.kernel.numpy(), shim.weights[0].numpy())


def test_tf1_graph_and_eager_shim_draw_the_same_weights_and_dropout():

  def model(x, training=None):
    with v1.variable_scope("model"):
      out = layers.conv2d(x, 3, 3, activation=tf.nn.relu)
      out = layers.flatten(out)
      out = layers.dropout(out, 0.3, training=training)
      return layers.dense(out, 4)

  x = np.linspace(-1, 1, 2 * 6 * 6 * 2, dtype=np.float32).reshape(2, 6, 6, 2)
  with tf.Graph().as_default():
    with Tool(mode="num_random_ops").scope():
      out = model(tf.constant(x), training=True)
    variables = v1.global_variables()
    with v1.Session() as sess:
      sess.run(v1.global_variables_initializer())
      graph_out, graph_values = sess.run([out, variables])
      graph_second_out = sess.run(out)  # the dropout op's next mask
  with Tool(mode="num_random_ops").scope():
    shim = ShimLayer(model)
    shim_out = shim(x, training=True)
  for variable, value in zip(shim.weights, graph_values):
    np.testing.assert_array_equal(variable.numpy(), value)
  np.testing.assert_allclose(shim_out, graph_out, rtol=1e-6, atol=1e-6)

  # Under the caller's own tf.function (core/README.md): built by an eager
  # call in a step; the traced dropout op then takes the seed of the TF1
  # graph's, and its calls draw the masks of the session's runs.
  tool = Tool(mode="num_random_ops")
  with tool.scope():
    shim = ShimLayer(model)
    with tool.step():
      shim(x, training=True)
    step = tf.function(lambda v: shim(v, training=True))
    for expected in (graph_out, graph_second_out):
      with tool.step():
        np.testing.assert_allclose(step(x), expected, rtol=1e-6, atol=1e-6)


def test_nothing_is_patched_outside_the_scope():
  from keras.src import backend  # pylint: disable=g-import-not-at-top
  from tensorflow.python.framework import random_seed  # pylint: disable=g-import-not-at-top
  before = (backend.random.uniform, random_seed.get_seed)
  with Tool().scope():
    assert backend.random.uniform is not before[0]
    assert random_seed.get_seed is not before[1]
  assert (backend.random.uniform, random_seed.get_seed) == before
  a = keras.initializers.GlorotUniform()(SHAPE)
  b = keras.initializers.GlorotUniform()(SHAPE)
  assert not np.array_equal(a, b)  # Keras's own unseeded behaviour again


def test_reusing_an_operation_seed_is_an_error():
  tool = Tool(mode="num_random_ops")
  with tool.scope():
    tf.random.uniform([1])
    tool.operation_seed = 0
    with pytest.raises(ValueError, match="re-use the already-used operation"):
      tf.random.uniform([1])


def test_bad_mode_is_refused():
  with pytest.raises(ValueError, match="'constant' or 'num_random_ops'"):
    Tool(mode="sometimes")


def test_install_provides_the_tool_under_its_tf1_name():
  tf1shim.install()
  assert v1.keras.utils.DeterministicRandomTestTool is Tool


if __name__ == "__main__":
  raise SystemExit(pytest_main(__file__))
