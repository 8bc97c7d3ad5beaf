"""TF1 code sees TF1 variables inside decorated methods (tf1_variable.py).

Each scenario runs the same TF1 function in a real `tf.compat.v1.Graph` (the
reference) and in a decorated Keras 3 layer with the graph's initial values
copied in, eagerly and under `tf.function`: names, outputs and the variables
after the call (the function assigns to them) must be equal.
"""

import keras
import numpy as np
import pytest
import tensorflow as tf
from tensorflow.python.training import moving_averages

import tf1shim
from testing.pytest_main import pytest_main
from testing.shim_models import ShimLayer
from testing.shim_models import ShimModule

v1 = tf.compat.v1
X = np.random.RandomState(0).randn(2, 3).astype(np.float32)


def variable_api(x, record):
  """Uses the tf.Variable API TF1 code uses; records what it sees."""
  with v1.variable_scope("api"):
    w = v1.get_variable("w", [3, 4])
    b = v1.get_variable("bias", [4], initializer=v1.constant_initializer(0.25))
    counts = v1.get_variable("counts", [4], trainable=False,
                             initializer=v1.zeros_initializer())
    avg = v1.get_variable("avg", [4], trainable=False,
                          initializer=v1.ones_initializer())
    table = v1.get_variable("table", [5, 4],
                            initializer=v1.constant_initializer(2.0))
  variables = (w, b, counts, avg, table)
  record.append([(v.name, v.op.name, v.dtype.base_dtype.name,
                  v.get_shape().as_list(), v.trainable) for v in variables])
  # Identity semantics of TF1 variables: sets, dicts, `in`.
  record.append((len({w, b, w, table}), b in [w, b], table in [w, b],
                 {v: i for i, v in enumerate(variables)}[table]))
  h = tf.matmul(x, w.read_value()) + b.value()
  rows = table.sparse_read([0, 3])
  initial_bias = b.initial_value
  # Explicit dependencies: a TF1 graph runs stateful ops in no fixed order.
  with tf.control_dependencies([h, rows]):
    added = v1.assign_add(counts, tf.reduce_sum(h, 0))
  with tf.control_dependencies([added]):
    moved = moving_averages.assign_moving_average(
        avg, tf.reduce_mean(h, 0), 0.9, zero_debias=False)
  with tf.control_dependencies([moved]):
    scattered = v1.scatter_update(table, [1],
                                  tf.reshape(tf.reduce_mean(h, 0), [1, 4]))
  with tf.control_dependencies([scattered]):
    subtracted = v1.assign_sub(b, 0.5 * initial_bias)
  with tf.control_dependencies([subtracted]):
    final = tf.identity(w.read_value())
    # "L2 on every variable whose name has no `bias`" (filters on TF1 names).
    decay = tf.add_n([tf.nn.l2_loss(v) for v in (w, b, table)
                      if "bias" not in v.name])
    assigned = v1.assign(counts, tf.convert_to_tensor(counts) * 2.0)
  return tf.concat([tf.reshape(h, [-1]), tf.reshape(rows, [-1]),
                    tf.reshape(final, [-1]), [decay],
                    tf.reshape(assigned, [-1])], 0)


def run_graph(model_fn, x):
  """(record, initial values, output, values after) of a TF1 graph run."""
  record = []
  with tf.Graph().as_default():
    output = model_fn(tf.constant(x), record)
    variables = v1.global_variables()
    with v1.Session() as sess:
      sess.run(v1.global_variables_initializer())
      initial = dict(zip([v.name for v in variables], sess.run(variables)))
      out = sess.run(output)
      after = dict(zip([v.name for v in variables], sess.run(variables)))
  return record, initial, out, after


def run_shim(model_fn, x, initial, mode, module=False):
  record = []
  holder = (ShimModule if module else ShimLayer)(
      lambda inputs, training=None: model_fn(inputs, record))
  call = tf.function(holder) if mode == "tf_function" else holder
  call(tf.constant(x))  # creates the variables
  first_record = list(record[:2])  # tf.function may trace more than once
  variables = holder.variables if module else holder.weights
  for v in variables:
    v.assign(initial[tf1shim.tf1_name(v)])
  out = call(tf.constant(x))
  after = {tf1shim.tf1_name(v): v.numpy() for v in variables}
  return first_record, out.numpy(), after


@pytest.mark.parametrize("module", [False, True], ids=["layer", "module"])
@pytest.mark.parametrize("mode", ["eager", "tf_function"])
def test_tf_variable_api_matches_tf1_graph(mode, module):
  record, initial, out, after = run_graph(variable_api, X)
  shim_record, shim_out, shim_after = run_shim(variable_api, X, initial,
                                               mode, module)
  assert shim_record == record
  assert record[0][0][:2] == ("api/w:0", "api/w")
  assert record[1] == (3, True, False, 4)
  # Same kernels on both sides; tolerance for float32 rounding of sums of
  # O(1) values (outputs are at most ~10 in magnitude).
  np.testing.assert_allclose(shim_out, out, rtol=1e-6, atol=1e-6)
  assert sorted(shim_after) == sorted(after)
  for name, value in after.items():
    np.testing.assert_allclose(shim_after[name], value, rtol=1e-6,
                               atol=1e-6, err_msg=name)


def test_keras_still_sees_keras_variables_on_the_same_storage():
  record = []
  layer = ShimLayer(lambda x, training=None: variable_api(x, record))
  layer(tf.constant(X))
  assert all(isinstance(v, keras.Variable) for v in layer.weights)
  assert [v.path for v in layer.weights] == [
      "api/w", "api/bias", "api/table", "api/counts", "api/avg"]
  # What TF1 code got writes to the storage Keras sees, and back.
  store = tf1shim.tracking.store_of(layer, "")
  tf1_w = store.tf1_variable("api/w")
  assert isinstance(tf1_w, tf.Variable) and tf1_w.name == "api/w:0"
  layer.weights[0].assign(np.full([3, 4], 3.0, np.float32))
  np.testing.assert_array_equal(tf1_w.numpy(), np.full([3, 4], 3.0))
  tf1_w.assign(np.full([3, 4], 4.0, np.float32))
  np.testing.assert_array_equal(layer.weights[0].numpy(), np.full([3, 4], 4.0))
  # TF1's initialized_value(): the value (a TF2 variable is initialized);
  # TF 2.21's resource variables no longer implement it, even in graphs.
  np.testing.assert_array_equal(tf1_w.initialized_value(), tf1_w.numpy())
  assert tf.function(tf1_w.initialized_value)().numpy()[0, 0] == 4.0


def test_model_fit_step_trains_through_the_tf1_variables():
  """One SGD step by model.fit equals TF1's GradientDescentOptimizer step."""

  def model_fn(x, training=None):
    del training
    with v1.variable_scope("fit"):
      w = v1.get_variable("w", [3, 2])
      b = v1.get_variable("bias", [2], initializer=v1.constant_initializer(0.1))
    return tf.matmul(x, w.read_value()) + b.value()

  y = np.random.RandomState(1).randn(2, 2).astype(np.float32)
  with tf.Graph().as_default():
    out = model_fn(tf.constant(X))
    loss = tf.reduce_mean(tf.square(y - out))
    train = v1.train.GradientDescentOptimizer(0.1).minimize(loss)
    variables = v1.global_variables()
    with v1.Session() as sess:
      sess.run(v1.global_variables_initializer())
      initial = dict(zip([v.name for v in variables], sess.run(variables)))
      graph_loss, _ = sess.run([loss, train])
      after = dict(zip([v.name for v in variables], sess.run(variables)))
  inputs = keras.Input((3,))
  model = keras.Model(inputs, ShimLayer(model_fn)(inputs))
  for v in model.weights:
    v.assign(initial[tf1shim.tf1_name(v)])
  model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
  history = model.fit(X, y, batch_size=2, epochs=1, shuffle=False, verbose=0)
  np.testing.assert_allclose(history.history["loss"][0], graph_loss,
                             rtol=1e-5)
  for v in model.weights:
    np.testing.assert_allclose(v.numpy(), after[tf1shim.tf1_name(v)],
                               rtol=1e-5, atol=1e-6)


def test_guide_batch_norm_read_value_on_non_trainable_variables():
  """The guide's own code: `var.read_value()` on the model's variables."""

  class CompatV1BatchNorm(keras.layers.Layer):

    @tf1shim.track_tf1_style_variables
    def call(self, inputs, training=None):
      with v1.variable_scope("batch_norm_layer"):
        return tf1shim.layers.batch_normalization(inputs, training=training)

  x = np.random.RandomState(2).randn(8, 5, 5, 5).astype(np.float32)
  with tf.Graph().as_default():
    out = tf1shim.layers.batch_normalization(tf.constant(x), training=True,
                                             name="batch_normalization")
    updates = v1.get_collection(v1.GraphKeys.UPDATE_OPS)
    moving = [v for v in v1.global_variables() if "moving" in v.name]
    with v1.Session() as sess:
      sess.run(v1.global_variables_initializer())
      sess.run([out, updates])
      expected = dict(zip(["batch_norm_layer/" + v.name for v in moving],
                          sess.run(moving)))
  inputs = keras.Input(shape=(5, 5, 5))
  model = keras.Model(inputs, CompatV1BatchNorm()(inputs))
  model(x, training=True)
  read = {tf1shim.tf1_name(var): var.read_value()
          for var in model.non_trainable_variables}
  assert sorted(read) == sorted(expected)
  for name, value in read.items():
    # Batch statistics of 200 values per channel, float32 sums: 1e-5.
    np.testing.assert_allclose(value, expected[name], rtol=1e-5, atol=1e-6)


def test_variable_made_in_a_symbolic_build_is_real_for_later_calls():
  """A TF1 layer built while Keras traces symbolically keeps its variables."""
  seen = []

  def model_fn(x, training=None):
    del training
    v = v1.get_variable("v", [3], initializer=v1.ones_initializer())
    seen.append(v)
    return x * v.read_value()

  inputs = keras.Input((3,))
  model = keras.Model(inputs, ShimLayer(model_fn)(inputs))
  model.weights[0].assign([1.0, 2.0, 3.0])
  np.testing.assert_array_equal(model(np.ones([1, 3], np.float32)),
                                [[1.0, 2.0, 3.0]])
  # The variable TF1 code got during the symbolic build is the same one.
  np.testing.assert_array_equal(seen[0].numpy(), [1.0, 2.0, 3.0])
  assert all(s is seen[0] for s in seen)


if __name__ == "__main__":
  raise SystemExit(pytest_main(__file__))
