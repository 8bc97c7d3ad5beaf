"""A bare `tf.Variable(...)` in TF1 code inside a decorated call (issue 11).

In a TF1 graph `tf.Variable(0.5)` / `tf.compat.v1.Variable(...)` is a global
variable named by the name scope (`Variable`, `scope/Variable_1`, `name=`),
in GLOBAL_VARIABLES (and TRAINABLE_VARIABLES when trainable), saved and
restored by `Saver`. Under the shim it is a variable of the decorated object:
made on the first call, the same one on every later call, trained, and
checkpointed under its TF1 name. Keras layers used inside the call keep their
own variables (not captured a second time).
"""

import os

import keras
import numpy as np
import pytest
import tensorflow as tf

import tf1shim
from tf1shim import checkpoints
from testing.pytest_main import pytest_main

v1 = tf.compat.v1


def tf1_model(x):
  """TF1 model code with bare variables (ptb_word_lm's `_lr`, MNIST's
  `weight_variable`), a name= and a name scope, and a get_variable."""
  step = v1.Variable(0, trainable=False, name="global_step")
  scale = v1.Variable(0.5, trainable=False)
  w1 = tf.Variable(tf.constant(0.1, shape=[6, 5]))
  with v1.variable_scope("block"):
    b1 = tf.Variable(tf.zeros([5]), name="bias")
    w2 = v1.get_variable("w2", [5, 3])
  with tf.name_scope("head"):
    b2 = tf.Variable(v1.truncated_normal([3], stddev=0.1))
  del step
  h = tf.nn.relu(tf.matmul(x, w1) + b1)
  return (tf.matmul(h, w2) + b2) * scale


NAMES = ["global_step:0", "Variable:0", "Variable_1:0", "block/bias:0",
         "block/w2:0", "head/Variable:0"]
TRAINABLE = ["Variable_1:0", "block/bias:0", "block/w2:0", "head/Variable:0"]


class Model(keras.layers.Layer):

  def __init__(self, **kwargs):
    super().__init__(**kwargs)
    self.seen = []

  @tf1shim.track_tf1_style_variables
  def call(self, x):
    out = tf1_model(x)
    self.seen.append(([v.name for v in v1.global_variables()],
                      [v.name for v in v1.trainable_variables()]))
    return out


def _x_value():
  return np.random.RandomState(0).randn(4, 6).astype(np.float32)


def _x():
  return tf.constant(_x_value())


def test_tf1_graph_names_are_the_expectation():
  with tf.Graph().as_default():
    tf1_model(tf.constant(_x_value()))
    assert [v.name for v in v1.global_variables()] == NAMES
    assert [v.name for v in v1.trainable_variables()] == TRAINABLE


class GraphFunctionModel(Model):

  @tf1shim.track_tf1_style_variables(graph_function=True)
  def call(self, x):
    out = tf1_model(x)
    self.seen.append(([v.name for v in v1.global_variables()],
                      [v.name for v in v1.trainable_variables()]))
    return out


@pytest.mark.parametrize("mode", ["eager", "function", "graph_function"])
def test_created_once_named_as_tf1_in_collections_and_weights(mode):
  layer = GraphFunctionModel() if mode == "graph_function" else Model()
  call = tf.function(layer.__call__) if mode == "function" else layer
  first = call(_x())
  weights = [v.path + ":0" for v in layer.weights]
  for _ in range(2):
    again = call(_x())
  np.testing.assert_allclose(again, first)
  assert sorted(weights) == sorted(NAMES)
  assert [v.path + ":0" for v in layer.weights] == weights  # none added
  assert sorted(v.path + ":0" for v in layer.trainable_weights) == sorted(
      TRAINABLE)
  # Every call lists them in its collections, in TF1's order.
  for global_names, trainable_names in layer.seen:
    assert global_names == NAMES
    assert trainable_names == TRAINABLE


def test_tf1_code_gets_the_same_variable_object_on_later_calls():
  got = []

  class Keeper(keras.layers.Layer):

    @tf1shim.track_tf1_style_variables
    def call(self, x):
      v = tf.Variable(2.0, name="keep")
      got.append(v)
      return x * v

  layer = Keeper()
  layer(tf.ones([2]))
  layer(tf.ones([2]))
  assert got[0] is got[1]
  assert got[0].name == "keep:0"
  # The storage is the Keras variable's: assigning through TF1's object
  # changes what Keras sees.
  got[0].assign(3.0)
  assert float(layer.weights[0].numpy()) == 3.0
  np.testing.assert_allclose(layer(tf.ones([2])), [3.0, 3.0])


def test_fit_trains_bare_trainable_variables_and_not_the_others():
  layer = Model()
  inputs = keras.Input((6,))
  model = keras.Model(inputs, layer(inputs))
  before = {v.path: v.numpy().copy() for v in layer.weights}
  model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
  x = _x_value()
  model.fit(x, np.ones((4, 3), np.float32), epochs=1, batch_size=4,
            verbose=0)
  for v in layer.weights:
    changed = not np.array_equal(v.numpy(), before[v.path])
    assert changed == (v.path + ":0" in TRAINABLE), v.path


def test_tf1_saver_checkpoint_restores_strictly_by_tf1_name(tmp_path):
  prefix = os.path.join(str(tmp_path), "model.ckpt")
  x = _x_value()
  with tf.Graph().as_default():
    out = tf1_model(tf.constant(x))
    with v1.Session() as session:
      session.run(v1.global_variables_initializer())
      expected = session.run(out)
      v1.train.Saver().save(session, prefix)
  layer = Model()
  layer(_x())
  checkpoints.restore_checkpoint(prefix, layer, strict=True)
  np.testing.assert_allclose(layer(_x()), expected, rtol=1e-6)


def test_module_owner_keeps_bare_variables_in_module_variables():

  class Module(tf.Module):

    @tf1shim.track_tf1_style_variables
    def __call__(self, x):
      return tf1_model(x)

  module = Module()
  module(_x())
  module(_x())
  assert sorted(v.name for v in module.variables) == sorted(NAMES)
  assert sorted(v.name for v in module.trainable_variables) == sorted(
      TRAINABLE)


def test_keras_layers_inside_the_call_are_not_captured_twice():

  class Inner(keras.layers.Layer):

    @tf1shim.track_tf1_style_variables
    def call(self, x):
      return x * tf.Variable(1.5, name="inner_scale")

  class Outer(keras.layers.Layer):

    def __init__(self, **kwargs):
      super().__init__(**kwargs)
      self.inner = Inner()
      self.late = None

    @tf1shim.track_tf1_style_variables
    def call(self, x):
      dense = tf1shim.get_or_create_layer(
          "dense", lambda: keras.layers.Dense(3, name="dense"))
      if self.late is None:  # A Keras layer made in the first call.
        self.late = keras.layers.Dense(2, name="late")
      y = self.late(dense(self.inner(x)))
      with v1.variable_scope("tf1"):
        y = y * tf.Variable(2.0, name="scale")
      self.globals = [v.name for v in v1.global_variables()]
      return y

  layer = Outer()
  layer(_x())
  layer(_x())
  paths = [v.path for v in layer.weights]
  assert len(paths) == len(set(paths)) == 6, paths
  storages = {id(getattr(v, "value", v)) for v in layer.weights}
  assert len(storages) == 6
  assert sorted(p for p in paths if "scale" in p) == [
      "inner_scale", "tf1/scale"]
  # TF1 code's collections hold its bare variables only (the Keras layers'
  # are Keras's, as before).
  assert layer.globals == ["inner_scale:0", "tf1/scale:0"]


def test_keras_variables_made_eagerly_in_the_call_stay_keras_own():
  # Eagerly, Keras's variables are made by `tf.Variable` under the call's
  # creator too: they are not TF1 code's.

  class Simple(keras.layers.Layer):

    def __init__(self, **kwargs):
      super().__init__(**kwargs)
      self.late = None

    @tf1shim.track_tf1_style_variables
    def call(self, x):
      if self.late is None:
        self.late = keras.layers.Dense(2, name="late")
        self.counter = keras.Variable(0.0, name="counter", trainable=False)
      y = self.late(x) * tf.Variable(3.0, name="tf1_scale")
      self.globals = [v.name for v in v1.global_variables()]
      return y

  layer = Simple()
  for _ in range(2):
    layer(tf.ones([2, 3]))
  paths = sorted(v.path for v in layer.weights)
  assert paths == ["simple/counter", "simple/late/bias", "simple/late/kernel",
                   "tf1_scale"], (
      paths)
  assert layer.globals == ["tf1_scale:0"]
  assert layer.counter.path == "simple/counter"


def test_a_new_bare_variable_on_a_later_call_is_an_error_naming_it():

  class Branchy(keras.layers.Layer):

    def __init__(self, **kwargs):
      super().__init__(**kwargs)
      self.calls = 0

    @tf1shim.track_tf1_style_variables
    def call(self, x):
      self.calls += 1
      if self.calls > 1:
        x = x * tf.Variable(2.0, name="extra")
      return x * tf.Variable(1.0)

  layer = Branchy()
  layer(tf.ones([2]))
  with pytest.raises(ValueError, match="extra"):
    layer(tf.ones([2]))


def test_initial_value_depending_on_the_inputs_is_a_clear_error():

  class FromInputs(keras.layers.Layer):

    @tf1shim.track_tf1_style_variables
    def call(self, x):
      return tf.Variable(x * 2.0, name="state")

  with pytest.raises(ValueError, match="depends on the inputs"):
    tf.function(FromInputs().__call__)(tf.ones([2]))


def test_local_variable_collections_as_in_tf1():

  class Local(keras.layers.Layer):

    @tf1shim.track_tf1_style_variables
    def call(self, x):
      count = v1.Variable(0.0, trainable=False, name="count",
                          collections=[v1.GraphKeys.LOCAL_VARIABLES])
      self.local = [v.name for v in v1.local_variables()]
      self.globals = [v.name for v in v1.global_variables()]
      return x + count

  layer = Local()
  layer(tf.ones([2]))
  assert layer.local == ["count:0"]
  assert layer.globals == []


def test_outside_decorated_calls_tf_variable_is_untouched():
  layer = Model()
  layer(_x())
  v = tf.Variable(1.0)
  assert v.name == "Variable:0"
  assert not isinstance(v, tf1shim.tf1_variable.TF1Variable)


if __name__ == "__main__":
  raise SystemExit(pytest_main(__file__))
