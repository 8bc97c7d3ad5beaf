"""`tf.compat.v1.train.init_from_checkpoint` inside decorated calls.

The reference is TF1: the same modeling function in a `tf.Graph`, whose
`init_from_checkpoint` replaced the named variables' initializers, so
`global_variables_initializer()` gave them the checkpoint's values and the
others their own initializers'. Under the shim the variables the same
assignment map names must hold the same checkpoint values after the first
call, the others not, and later calls must not assign again (TF1's
initializers ran once), eagerly and under `tf.function`. A variable
restored by `restore_checkpoint` before the first call that asks keeps the
restored value, as TF1's `Saver.restore` came after the initializers.

Values are copied, not computed: compared exactly.
"""

import keras
import numpy as np
import pytest
import tensorflow as tf

import tf1shim
from tf1shim import checkpoints
from testing.pytest_main import pytest_main

tf1shim.install()
v1 = tf.compat.v1
INPUTS = np.linspace(-1.0, 1.0, 12, dtype=np.float32).reshape(3, 4)


def network(x):
  with v1.variable_scope("net"):
    h = v1.layers.dense(x, 5, activation=tf.nn.tanh)
    return v1.layers.dense(h, 2)


@pytest.fixture(scope="module")
def pretrained(tmp_path_factory):
  """A TF1 checkpoint of the same network under the scope `pre`, plus an
  entry nothing maps."""
  prefix = str(tmp_path_factory.mktemp("pretrained") / "model.ckpt")
  with tf.Graph().as_default():
    with v1.variable_scope("pre"):
      h = v1.layers.dense(v1.placeholder(tf.float32, (None, 4)), 5)
      v1.layers.dense(h, 2)
    v1.get_variable("other/w", [3])
    with v1.Session() as sess:
      sess.run(v1.global_variables_initializer())
      v1.train.Saver().save(sess, prefix)
  return prefix


# Assignment maps as TF1 code writes them: checkpoint name -> current name.
MAPS = {
    "scope": {"pre/": "net/"},
    "names_and_a_scope": {"pre/dense/kernel": "net/dense/kernel",
                          "pre/dense_1/": "net/dense_1/"},
    "one_layer": {"pre/dense_1/": "net/dense_1/"},
}


def tf1_initialized(prefix, assignment_map):
  """TF1's values after global_variables_initializer()."""
  with tf.Graph().as_default():
    network(v1.placeholder(tf.float32, (None, 4)))
    v1.train.init_from_checkpoint(prefix, assignment_map)
    with v1.Session() as sess:
      sess.run(v1.global_variables_initializer())
      return {v.op.name: sess.run(v) for v in v1.global_variables()}


class WarmStarted(keras.layers.Layer):
  """TF1 code that warm-starts its variables in its forward pass, on the
  calls with `warm_start` (BERT's model_fn only in TRAIN mode)."""

  def __init__(self, assignment_map, prefix, **kwargs):
    super().__init__(**kwargs)
    self.assignment_map = assignment_map
    self.prefix = prefix

  @tf1shim.track_tf1_style_variables
  def call(self, x, warm_start=True):
    out = network(x)
    if warm_start:
      v1.train.init_from_checkpoint(self.prefix, self.assignment_map)
    return out


def values(layer):
  return {tf1shim.tf1_name(v)[:-2]: v.numpy() for v in layer.weights}


def checkpoint_values(prefix):
  reader = tf.train.load_checkpoint(prefix)
  return {name: reader.get_tensor(name)
          for name in reader.get_variable_to_shape_map()}


def warm_started_names(found, saved):
  """The variables whose values are the checkpoint's `pre/...` entry."""
  return {name for name, value in found.items()
          if name.startswith("net/") and np.array_equal(
              value, saved.get("pre/" + name[len("net/"):]))}


@pytest.mark.parametrize("traced", [False, True])
@pytest.mark.parametrize("map_name", sorted(MAPS))
def test_first_call_takes_the_values_tf1_initialized(map_name, traced,
                                                     pretrained):
  expected = tf1_initialized(pretrained, MAPS[map_name])
  saved = checkpoint_values(pretrained)
  layer = WarmStarted(MAPS[map_name], pretrained)
  call = tf.function(layer) if traced else layer
  call(INPUTS)
  found = values(layer)
  assert set(found) == set(expected)
  assert warm_started_names(found, saved) == warm_started_names(
      expected, saved)
  assert warm_started_names(found, saved)  # the map named something
  for name in warm_started_names(expected, saved):
    np.testing.assert_array_equal(found[name], expected[name])


@pytest.mark.parametrize("traced", [False, True])
def test_later_calls_do_not_assign_again(traced, pretrained):
  layer = WarmStarted(MAPS["scope"], pretrained)
  call = tf.function(layer) if traced else layer
  call(INPUTS)
  for variable in layer.weights:  # what training would do
    variable.assign(tf.zeros_like(variable))
  outputs = call(INPUTS)
  assert all(not v.numpy().any() for v in layer.weights)
  np.testing.assert_array_equal(outputs, np.zeros((3, 2), np.float32))


def test_a_restored_variable_keeps_the_restored_value(pretrained, tmp_path):
  # The first call that warm-starts comes after a restore: TF1 restored
  # after running the initializers, so the restored values win.
  layer = WarmStarted(MAPS["scope"], pretrained)
  layer(INPUTS, warm_start=False)
  restored = {name: np.full(value.shape, 0.5, np.float32)
              for name, value in values(layer).items()}
  with tf.Graph().as_default():
    holders = [v1.get_variable(name, initializer=value)
               for name, value in restored.items()]
    with v1.Session() as sess:
      sess.run(v1.variables_initializer(holders))
      prefix = v1.train.Saver(holders).save(sess, str(tmp_path / "ckpt"))
  checkpoints.restore_checkpoint(prefix, layer, strict=True)
  layer(INPUTS, warm_start=True)
  for name, value in values(layer).items():
    np.testing.assert_array_equal(value, restored[name], err_msg=name)


def test_a_missing_entry_is_tensorflows_error(pretrained):
  layer = WarmStarted({"pre/nothing/": "net/"}, pretrained)
  with pytest.raises(ValueError, match="pre/nothing/dense/bias.*not found"):
    layer(INPUTS)


def test_outside_decorated_calls_it_is_tensorflows(pretrained):
  # Eager TF2 code: TensorFlow assigns at once (its own behaviour).
  with v1.variable_scope("eager_net"):
    variable = v1.get_variable("w", [3])
  v1.train.init_from_checkpoint(pretrained, {"other/w": variable})
  np.testing.assert_array_equal(variable.numpy(),
                                checkpoint_values(pretrained)["other/w"])


if __name__ == "__main__":
  pytest_main(__file__)
