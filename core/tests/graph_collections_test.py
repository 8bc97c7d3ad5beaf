"""TF1 graph collections inside decorated calls (graph_collections.py).

Every scenario builds the same TF1 function in a real `tf.compat.v1.Graph`
(the reference: what TF1 collections hold) and runs it in a decorated
Keras 3 layer or tf.Module (first call, a later call, `tf.function`), with
the graph's initial values copied in: the names listed in each collection,
in order, and the values computed from them (regularization and total
losses) must be equal.
"""

import keras
import numpy as np
import pytest
import tensorflow as tf

import tf1shim
from tf1shim import layers
from testing.pytest_main import pytest_main
from testing.shim_models import ShimLayer
from testing.shim_models import ShimModule

v1 = tf.compat.v1
KEYS = v1.GraphKeys
X = np.random.RandomState(0).randn(3, 5).astype(np.float32)


def names(values):
  return [v.name for v in values]


def collections_model(x, record, training=False):
  """Layers and get_variable, then everything TF1 code reads back."""
  with v1.variable_scope("net"):
    h = layers.dense(x, 4, kernel_regularizer=lambda w: 0.1 * tf.reduce_sum(
        tf.square(w)), name="fc")
    with v1.variable_scope("extra", regularizer=lambda w: 0.5 * tf.reduce_sum(
        tf.abs(w))):
      scale = v1.get_variable("scale", [4],
                              initializer=v1.constant_initializer(0.5))
      v1.get_variable("frozen", [4], trainable=False,
                      collections=[KEYS.GLOBAL_VARIABLES,
                                   KEYS.MODEL_VARIABLES, "my_collection"])
    with v1.variable_scope("counters"):
      v1.get_variable("steps", [], dtype=tf.int64, trainable=False,
                      collections=[KEYS.LOCAL_VARIABLES])
    h = layers.batch_normalization(h * scale, training=training)
    # Reused: listed once, as in TF1.
    with v1.variable_scope("extra", reuse=True):
      h = h + v1.get_variable("scale", [4])
    h = layers.dense(h, 2, name="head")
  record.append({
      "trainable": names(v1.trainable_variables()),
      "global": names(v1.global_variables()),
      "local": names(v1.local_variables()),
      "model": names(v1.model_variables()),
      "custom": names(v1.get_collection("my_collection")),
      "scoped": names(v1.get_collection(KEYS.TRAINABLE_VARIABLES,
                                        scope="net/extra")),
      "regularization": len(v1.losses.get_regularization_losses()),
      "scoped_regularization": len(
          v1.losses.get_regularization_losses(scope="net/fc")),
  })
  # The idioms: weight decay on every non-bias variable found by name, and
  # the regularization and total losses read from the collections.
  decay = tf.add_n([tf.nn.l2_loss(v) for v in v1.trainable_variables()
                    if "bias" not in v.name])
  data_loss = tf.reduce_mean(tf.square(h))
  v1.add_to_collection(KEYS.LOSSES, data_loss)
  return tf.stack([data_loss, decay, v1.losses.get_regularization_loss(),
                   v1.losses.get_total_loss()])


def run_graph(model_fn, x):
  record = []
  with tf.Graph().as_default():
    output = model_fn(tf.constant(x), record)
    variables = v1.global_variables() + v1.local_variables()
    trainable = v1.trainable_variables()
    gradients = tf.gradients(output[3], trainable)
    with v1.Session() as sess:
      sess.run(v1.global_variables_initializer())
      sess.run(v1.local_variables_initializer())
      initial = dict(zip(names(variables), sess.run(variables)))
      out, grads = sess.run([output, gradients])
  return record, initial, out, dict(zip(names(trainable), grads))


def run_shim(model_fn, x, initial, mode, module):
  record = []
  holder = (ShimModule if module else ShimLayer)(
      lambda inputs, training=None: model_fn(inputs, record))
  holder(tf.constant(x))
  variables = holder.variables if module else holder.weights
  for v in variables:
    v.assign(initial[tf1shim.tf1_name(v)])

  def loss_and_gradients(inputs):
    trainable = [v for v in variables if v.trainable]
    with tf.GradientTape() as tape:
      output = holder(inputs)
      total_loss = output[3]
    grads = tape.gradient(total_loss, trainable)
    return output, {tf1shim.tf1_name(v): g for v, g in zip(trainable, grads)}

  if mode == "tf_function":
    loss_and_gradients = tf.function(loss_and_gradients)
  out, grads = loss_and_gradients(tf.constant(x))
  return record, out.numpy(), {k: g.numpy() for k, g in grads.items()}


@pytest.mark.parametrize("module", [False, True], ids=["layer", "module"])
@pytest.mark.parametrize("mode", ["eager", "tf_function"])
def test_collections_and_losses_match_tf1_graph(mode, module):
  record, initial, out, grads = run_graph(collections_model, X)
  shim_record, shim_out, shim_grads = run_shim(collections_model, X, initial,
                                               mode, module)
  # The first call creates, the later one reuses; both list as a new graph.
  assert shim_record[0] == record[0]
  assert shim_record[-1] == record[0]
  assert record[0]["custom"] == ["net/extra/frozen:0"]
  assert record[0]["model"] == ["net/extra/frozen:0"]
  # fc's kernel (the layer's), scale and frozen (the scope's).
  assert record[0]["regularization"] == 3
  # Losses are O(1)-O(10); float32 sums in a different order: 1e-5.
  np.testing.assert_allclose(shim_out, out, rtol=1e-5, atol=1e-6)
  assert sorted(shim_grads) == sorted(grads)
  for name, grad in grads.items():
    np.testing.assert_allclose(shim_grads[name], grad, rtol=1e-5, atol=1e-6,
                               err_msg=name)


def test_fit_trains_with_losses_tf1_code_adds_to_the_collection():
  """`add_to_collection(REGULARIZATION_LOSSES, ...)` is a loss Keras sees.

  The reference is TF1's training loss: data loss plus every loss in
  REGULARIZATION_LOSSES, minimized by GradientDescentOptimizer.
  """

  def model_fn(x, training=None):
    del training
    with v1.variable_scope("m"):
      out = layers.dense(x, 2, name="fc")
    decay = 0.05 * tf.add_n([tf.nn.l2_loss(v) for v in
                             v1.trainable_variables() if "bias" not in v.name])
    v1.add_to_collection(KEYS.REGULARIZATION_LOSSES, decay)
    return out

  y = np.random.RandomState(1).randn(3, 2).astype(np.float32)
  with tf.Graph().as_default():
    out = model_fn(tf.constant(X))
    loss = tf.reduce_mean(tf.square(y - out)) + tf.add_n(
        v1.get_collection(KEYS.REGULARIZATION_LOSSES))
    train = v1.train.GradientDescentOptimizer(0.1).minimize(loss)
    variables = v1.global_variables()
    with v1.Session() as sess:
      sess.run(v1.global_variables_initializer())
      initial = dict(zip(names(variables), sess.run(variables)))
      graph_loss, _ = sess.run([loss, train])
      after = dict(zip(names(variables), sess.run(variables)))
  inputs = keras.Input((5,))
  model = keras.Model(inputs, ShimLayer(model_fn)(inputs))
  for v in model.weights:
    v.assign(initial[tf1shim.tf1_name(v)])
  model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
  history = model.fit(X, y, batch_size=3, epochs=1, shuffle=False, verbose=0)
  np.testing.assert_allclose(history.history["loss"][0], graph_loss,
                             rtol=1e-5)
  for v in model.weights:
    np.testing.assert_allclose(v.numpy(), after[tf1shim.tf1_name(v)],
                               rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("mode", ["eager", "tf_function"])
def test_tf1_losses_functions_fill_the_total_loss_eagerly_too(mode):
  """`tf.compat.v1.losses.*` add to LOSSES (TensorFlow skips it eagerly)."""
  labels = np.random.RandomState(4).randn(3, 2).astype(np.float32)

  def model_fn(x, record):
    del record
    with v1.variable_scope("m"):
      out = layers.dense(x, 2, kernel_regularizer="l2", name="fc")
    v1.losses.mean_squared_error(labels, out)
    v1.losses.absolute_difference(labels, out, weights=0.5)
    return tf.stack([float(len(v1.losses.get_losses())),
                     v1.losses.get_regularization_loss(),
                     tf.reduce_sum(out), v1.losses.get_total_loss()])

  _, initial, out, grads = run_graph(model_fn, X)
  _, shim_out, shim_grads = run_shim(model_fn, X, initial, mode,
                                     module=False)
  assert out[0] == 2.0
  for name, grad in grads.items():
    np.testing.assert_allclose(shim_grads[name], grad, rtol=1e-5, atol=1e-6,
                               err_msg=name)
  # A sum of three O(1) losses in float32: 1e-5.
  np.testing.assert_allclose(shim_out, out, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("mode", ["eager", "tf_function"])
def test_the_models_own_collections_are_per_call_as_in_a_new_graph(mode):
  """A custom collection holds this call's values only, as in each graph."""

  def model_fn(x, record):
    h = layers.dense(x, 4, activation=tf.nn.relu, name="fc1")
    v1.add_to_collection("activations", h)
    out = layers.dense(h, 3, name="fc2")
    v1.add_to_collection("activations", out)
    acts = v1.get_collection("activations")
    record.append(len(acts))
    return tf.stack([tf.reduce_sum(out), 0.0, 0.0, tf.add_n(
        [tf.reduce_mean(tf.square(a)) for a in acts])])

  record, initial, out, grads = run_graph(model_fn, X)
  before = len(v1.get_collection("activations"))
  shim_record, shim_out, shim_grads = run_shim(model_fn, X, initial, mode,
                                               module=False)
  assert record == [2] and set(shim_record) == {2}
  assert len(v1.get_collection("activations")) == before  # nothing leaked
  # O(1) values, float32 sums of a few terms: 1e-5.
  np.testing.assert_allclose(shim_out, out, rtol=1e-5, atol=1e-6)
  for name, grad in grads.items():
    np.testing.assert_allclose(shim_grads[name], grad, rtol=1e-5, atol=1e-6,
                               err_msg=name)


def test_nested_decorated_calls_share_one_set_of_collections():
  seen = []

  class Inner(keras.layers.Layer):

    @tf1shim.track_tf1_style_variables
    def call(self, x):
      with v1.variable_scope("inner"):
        out = x * v1.get_variable("v", [1])
      seen.append(("inner", names(v1.global_variables())))
      return out

  class Outer(keras.layers.Layer):

    def __init__(self, **kwargs):
      super().__init__(**kwargs)
      self.inner = Inner()

    @tf1shim.track_tf1_style_variables
    def call(self, x):
      with v1.variable_scope("outer"):
        x = x * v1.get_variable("u", [1])
        x = self.inner(x)
      seen.append(("outer", names(v1.global_variables())))
      return x

  def graph_fn(x):
    with v1.variable_scope("outer"):
      x = x * v1.get_variable("u", [1])
      with v1.variable_scope("inner"):
        x = x * v1.get_variable("v", [1])
    return names(v1.global_variables())

  with tf.Graph().as_default():
    expected = graph_fn(tf.ones([1]))
  Outer()(tf.ones([1]))
  assert seen[-1] == ("outer", expected)
  assert seen[-2] == ("inner", expected)


def test_outside_decorated_calls_collections_are_tensorflows():
  before = {key: list(v1.get_collection(key)) for key in (
      KEYS.GLOBAL_VARIABLES, KEYS.TRAINABLE_VARIABLES,
      KEYS.REGULARIZATION_LOSSES, KEYS.LOSSES)}

  def model_fn(x, record):
    del record
    v = v1.get_variable("w", [5], regularizer=lambda w: tf.reduce_sum(w))
    v1.add_to_collection(KEYS.LOSSES, tf.reduce_sum(x * v))
    # A TF1 graph built inside the call keeps its own collections.
    with tf.Graph().as_default():
      v1.get_variable("in_graph", [1])
      assert names(v1.global_variables()) == ["in_graph:0"]
      assert v1.get_collection(KEYS.LOSSES) == []
    return x * v

  ShimLayer(lambda x, training=None: model_fn(x, None))(tf.constant(X))
  after = {key: list(v1.get_collection(key)) for key in before}
  assert {k: len(v) for k, v in after.items()} == {
      k: len(v) for k, v in before.items()}
  with tf.Graph().as_default():
    v1.get_variable("plain", [1], regularizer=lambda w: tf.reduce_sum(w))
    assert names(v1.global_variables()) == ["plain:0"]
    assert len(v1.losses.get_regularization_losses()) == 1


if __name__ == "__main__":
  raise SystemExit(pytest_main(__file__))
