"""`track_tf1_style_variables(graph_function=True)`: graph-only TF1 habits.

Each model is run in a real TF1 graph (`tf.compat.v1.Graph` and `Session`,
the reference) and under the shim with the graph's variable values copied in
by TF1 name: an eager call (the option runs it as a graph function), a
`tf.function` call and one `model.fit` step (compared with one
`GradientDescentOptimizer` step of the graph) must all equal the graph.

Tolerance: inputs N(0, 1), weights Glorot-sized, values O(1) float32; both
sides run the same ops with possibly different kernels and summation orders
over a few dozen terms, so 1e-5 relative to max(1, max |expected|).
"""

import re

import keras
import numpy as np
import tensorflow as tf

import tf1shim
from testing.pytest_main import pytest_main

# tf.compat.v1.layers and nn.rnn_cell are tf1shim's, in the TF1 graph too
# (their math is tested against TF1's in layers_test and rnn_cells_test).
tf1shim.install()

v1 = tf.compat.v1
LEARNING_RATE = 0.1
RNN_INPUTS = np.random.RandomState(3).randn(3, 6, 4).astype(np.float32)


def close(actual, expected, what):
  expected = np.asarray(expected, np.float64)
  scale = max(1.0, float(np.max(np.abs(expected)))) if expected.size else 1.0
  np.testing.assert_allclose(np.asarray(actual, np.float64), expected,
                             rtol=1e-5, atol=1e-5 * scale, err_msg=what)


# --- TF1 model functions with graph-only habits -----------------------------


# BERT (google-research/bert modeling.py): shape helpers name the tensor in
# their messages, and read `tensor.name` whether or not they fail.
def get_shape_list(tensor, expected_rank=None, name=None):
  if name is None:
    name = tensor.name
  shape = tensor.shape.as_list()
  if expected_rank is not None and len(shape) != expected_rank:
    raise ValueError("For the tensor `%s`, the actual rank `%d` is not "
                     "equal to the expected rank `%s`" %
                     (name, len(shape), expected_rank))
  return shape


def bert_style_model(x, training=None):
  del training
  batch, width = get_shape_list(x, expected_rank=2)
  h = v1.layers.dense(x, width, activation=tf.nn.tanh, name="dense")
  # CIFAR-10 tutorial habit: a tag from the op name; graph-scoped constant.
  tag = re.sub("tower_[0-9]*/", "", h.op.name)
  with h.graph.as_default():
    scale = tf.constant(0.5, name=tag.replace("/", "_") + "_scale")
  out = v1.layers.dense(h * scale, 3, name="output")
  assert get_shape_list(out, expected_rank=2)[0] == batch
  return out


# WGAN-GP (igul222/improved_wgan_training): a gradient penalty from
# tf.gradients of the critic with respect to interpolated inputs.
def wgan_gp_model(x, training=None):
  del training

  def critic(t):
    with v1.variable_scope("critic", reuse=v1.AUTO_REUSE):
      h = v1.layers.dense(t, 8, activation=tf.nn.softplus, name="fc1")
      return v1.layers.dense(h, 1, name="fc2")

  alpha = tf.constant([[0.0], [0.3], [0.6], [1.0]])
  fake = tf.reverse(x, [0])
  interpolates = fake + alpha * (x - fake)
  gradients = tf.gradients(critic(interpolates), [interpolates])[0]
  slopes = tf.sqrt(tf.reduce_sum(tf.square(gradients), axis=1))
  penalty = tf.reduce_mean((slopes - 1.0) ** 2)
  return critic(x) + 10.0 * penalty


def activity_regularized_model(x, training=None):
  del training
  h = v1.layers.dense(x, 4, name="fc", kernel_regularizer="l2",
                      activity_regularizer=lambda t: 0.01 * tf.reduce_sum(
                          tf.square(t)))
  v1.losses.add_loss(tf.reduce_mean(h) * 0.0 + 0.25,
                     loss_collection=v1.GraphKeys.REGULARIZATION_LOSSES)
  return h + tf.zeros_like(h[:, :1], name=h.op.name.replace("/", "_"))


def rnn_dropout_model(x, training=None):
  del training
  cell = v1.nn.rnn_cell.LSTMCell(5)
  cell = v1.nn.rnn_cell.DropoutWrapper(cell, input_keep_prob=0.5,
                                       output_keep_prob=0.7)
  # parallel_iterations=1: with TF1's default (32) the loop's iterations
  # run concurrently, so which step's input dropout draws first from the
  # op's stream varies between runs of the TF1 graph itself.
  out, _ = v1.nn.dynamic_rnn(cell, x, dtype=tf.float32,
                             parallel_iterations=1)
  return out


def dropout_model(x, training=None):
  del training
  h = v1.layers.dense(x, 6, name="fc")
  return v1.layers.dropout(h, rate=0.5, training=True)


# TF1 tutorial habits: a streaming metric updated by the forward pass, and
# the summaries merged there (both live in graph collections).
def slim_metrics():
  import tf_slim  # pylint: disable=g-import-not-at-top
  return tf_slim.metrics


def streaming_metric_model(x, training=None):
  del training
  h = v1.layers.dense(x, 3, name="fc")
  count, update = v1.metrics.true_positives(
      labels=tf.ones_like(h, tf.bool), predictions=h > 0.0, name="positives")
  del count
  # tf-slim's wrapper of the same metrics (its own local variables).
  _, total = slim_metrics().streaming_mean(tf.abs(h), name="abs_mean")
  # Both grow with each run: the positives counted, the running mean.
  return h + 0.01 * update + total


def merged_summaries_model(x, training=None):
  del training
  h = v1.layers.dense(x, 3, name="fc")
  v1.summary.scalar("mean_activation", tf.reduce_mean(h))
  v1.summary.histogram("activations", h)
  merged = v1.summary.merge_all()
  return h, merged


# --- The reference and the shim ---------------------------------------------


def tf1_graph(model_fn, x, target=None, runs=1, random_tool=None):
  """The TF1 graph: variables, `runs` outputs, losses, one SGD step."""
  with tf.Graph().as_default():
    if random_tool is not None:
      with random_tool.scope():
        out = model_fn(tf.constant(x))
    else:
      out = model_fn(tf.constant(x))
    variables = v1.global_variables()
    reg = v1.get_collection(v1.GraphKeys.REGULARIZATION_LOSSES)
    step = None
    if target is not None:
      loss = tf.reduce_mean(tf.square(out - target)) + (
          tf.add_n(reg) if reg else 0.0)
      step = v1.train.GradientDescentOptimizer(LEARNING_RATE).minimize(loss)
    with v1.Session() as sess:
      sess.run(v1.global_variables_initializer())
      initial = {v.name: sess.run(v) for v in variables}
      outputs = [sess.run(out) for _ in range(runs)]
      losses = sess.run(reg)
      after_step = None
      if step is not None:
        for v in variables:
          v.load(initial[v.name], sess)
        sess.run(step)
        after_step = {v.name: sess.run(v) for v in variables}
  return dict(initial=initial, outputs=outputs, losses=sorted(losses),
              after_step=after_step)


class GraphFunctionLayer(keras.layers.Layer):

  def __init__(self, model_fn, **kwargs):
    super().__init__(**kwargs)
    self.model_fn = model_fn
    self.traces = 0

  @tf1shim.track_tf1_style_variables(graph_function=True)
  def call(self, inputs, training=None):
    self.traces += 1  # Python: runs once per trace
    return self.model_fn(inputs, training=training)


class EagerLayer(keras.layers.Layer):
  """The same, decorated without the option."""

  def __init__(self, model_fn, **kwargs):
    super().__init__(**kwargs)
    self.model_fn = model_fn

  @tf1shim.track_tf1_style_variables
  def call(self, inputs, training=None):
    return self.model_fn(inputs, training=training)


class GraphFunctionModule(tf.Module):

  def __init__(self, model_fn):
    super().__init__()
    self.model_fn = model_fn

  @tf1shim.track_tf1_style_variables(graph_function=True)
  def __call__(self, inputs):
    return self.model_fn(inputs)


class Wrapper(keras.Model):

  def __init__(self, layer, **kwargs):
    super().__init__(**kwargs)
    self.inner = layer

  def call(self, inputs):
    return self.inner(inputs)


def shim_layer(model_fn, x, initial):
  layer = GraphFunctionLayer(model_fn)
  layer(tf.constant(x))  # creates the variables
  assert sorted(tf1shim.tf1_name(w) for w in layer.weights) == sorted(initial)
  for w in layer.weights:
    w.assign(initial[tf1shim.tf1_name(w)])
  return layer


def check_eager_function_and_fit_equal_tf1_graph(model_fn, x):
  target = np.random.RandomState(5).randn(
      *tf1_graph(model_fn, x)["outputs"][0].shape).astype(np.float32)
  graph = tf1_graph(model_fn, x, target=target)
  layer = shim_layer(model_fn, x, graph["initial"])
  eager = layer(tf.constant(x))
  assert isinstance(eager, tf.__internal__.EagerTensor)
  close(eager, graph["outputs"][0], "eager output")
  close(sorted(float(l) for l in layer.losses), graph["losses"],
        "regularization losses")
  close(tf.function(layer.__call__)(tf.constant(x)), graph["outputs"][0],
        "tf.function output")
  model = Wrapper(layer)
  model.compile(optimizer=keras.optimizers.SGD(LEARNING_RATE), loss="mse",
                jit_compile=False)
  model.fit(x, target, batch_size=len(x), epochs=1, shuffle=False, verbose=0)
  for w in layer.weights:
    name = tf1shim.tf1_name(w)
    close(w.numpy(), graph["after_step"][name], name + " after one step")


def test_bert_style_shape_helpers_eager_function_fit_equal_tf1_graph():
  x = np.random.RandomState(0).randn(4, 6).astype(np.float32)
  check_eager_function_and_fit_equal_tf1_graph(bert_style_model, x)


def test_tf_gradients_in_model_eager_function_fit_equal_tf1_graph():
  x = np.random.RandomState(1).randn(4, 6).astype(np.float32)
  check_eager_function_and_fit_equal_tf1_graph(wgan_gp_model, x)


def test_call_losses_are_eager_values_equal_to_tf1_graph():
  """Per-call losses (activity regularizer, REGULARIZATION_LOSSES added by
  TF1 code) leave the graph function as values, on every call."""
  x = np.random.RandomState(2).randn(4, 6).astype(np.float32)
  graph = tf1_graph(activity_regularized_model, x)
  layer = shim_layer(activity_regularized_model, x, graph["initial"])
  for _ in range(2):  # Keras clears its per-call losses on each call
    close(layer(tf.constant(x)), graph["outputs"][0], "output")
    assert all(isinstance(l, tf.__internal__.EagerTensor)
               for l in layer.losses)
    close(sorted(float(l) for l in layer.losses), graph["losses"],
          "regularization losses")

  module = GraphFunctionModule(activity_regularized_model)
  module(tf.constant(x))
  for v in module.variables:
    v.assign(graph["initial"][v.name])
  close(module(tf.constant(x)), graph["outputs"][0], "module output")
  close(sorted(float(l) for l in module.regularization_losses),
        graph["losses"], "module regularization losses")


def test_nested_keras_layer_losses_leave_the_graph_function_as_values():
  """A Keras layer called in the method (its own `add_loss`): its losses
  are eager values equal to a `tf.function` call's, not graph tensors."""

  class WithKerasLayer(keras.layers.Layer):

    def __init__(self, **kwargs):
      super().__init__(**kwargs)
      self.dense = keras.layers.Dense(
          3, activity_regularizer=keras.regularizers.L2(0.1))

    @tf1shim.track_tf1_style_variables(graph_function=True)
    def call(self, inputs):
      # And one made during the first call (its trace).
      head = tf1shim.get_or_create_layer("head", lambda: keras.layers.Dense(
          2, activity_regularizer=keras.regularizers.L1(0.1)))
      return head(self.dense(v1.layers.dense(inputs, 4, name="fc")))

  layer = WithKerasLayer()
  x = tf.constant(np.random.RandomState(6).randn(4, 6).astype(np.float32))
  for _ in range(2):
    out = layer(x)
    eager_losses = [float(l) for l in layer.losses]
    assert len(eager_losses) == 2, eager_losses
  with tf.GradientTape() as tape:  # the loss is differentiable eagerly too
    layer(x)
    loss = tf.add_n(layer.losses)
  assert tape.gradient(loss, layer.dense.kernel) is not None

  @tf.function
  def in_function(t):
    return layer(t), layer.losses

  function_out, function_losses = in_function(x)
  close(out, function_out, "output")
  close(eager_losses, [float(l) for l in function_losses], "losses")


def test_dropout_in_dynamic_rnn_draws_the_tf1_graph_masks():
  """Under the random tool, the loop is one while op with one dropout op per
  place, as in the TF1 graph: the same seeds, so the same masks at every
  step; and the discarded first trace (TF traces again after creating
  variables) takes no seeds of the sequence."""
  graph_tool = tf1shim.DeterministicRandomTestTool(mode="num_random_ops")
  graph = tf1_graph(rnn_dropout_model, RNN_INPUTS, random_tool=graph_tool)
  tool = tf1shim.DeterministicRandomTestTool(mode="num_random_ops")
  with tool.scope():
    layer = GraphFunctionLayer(rnn_dropout_model)
    out = layer(tf.constant(RNN_INPUTS))
  assert layer.traces == 2  # TensorFlow's variable-creating double trace
  assert tool.operation_seed == graph_tool.operation_seed
  for w in layer.weights:  # the initializers drew the graph's numbers too
    close(w.numpy(), graph["initial"][tf1shim.tf1_name(w)], "initial value")
  close(out, graph["outputs"][0], "output")

  # The check can fail: eagerly, TensorFlow's Python loop makes a new
  # dropout op (a new seed) per step, and the masks differ.
  eager_tool = tf1shim.DeterministicRandomTestTool(mode="num_random_ops")
  with eager_tool.scope():
    eager = EagerLayer(rnn_dropout_model)(tf.constant(RNN_INPUTS))
  assert eager_tool.operation_seed > graph_tool.operation_seed
  assert np.max(np.abs(eager - graph["outputs"][0])) > 0.1


def test_dropout_stream_continues_across_calls_as_in_a_session():
  """Outside loops, a random op of the graph function continues its stream
  on every call, as the TF1 graph's op does on every `Session.run`."""
  x = np.random.RandomState(4).randn(4, 6).astype(np.float32)
  graph_tool = tf1shim.DeterministicRandomTestTool(mode="num_random_ops")
  graph = tf1_graph(dropout_model, x, runs=3, random_tool=graph_tool)
  tool = tf1shim.DeterministicRandomTestTool(mode="num_random_ops")
  with tool.scope():
    layer = GraphFunctionLayer(dropout_model)
    outputs = [layer(tf.constant(x)) for _ in range(3)]
  assert tool.operation_seed == graph_tool.operation_seed
  for i, (out, expected) in enumerate(zip(outputs, graph["outputs"])):
    close(out, expected, "call %d" % i)


def test_retracing_rules():
  """Python arguments trace once per value, new shapes once per shape; only
  the first call creates variables; calls inside a graph run directly."""
  layer = GraphFunctionLayer(bert_style_model)
  x = tf.ones([4, 6])
  layer(x, training=False)
  traces = layer.traces
  weights = list(layer.weights)
  layer(x, training=False)
  assert layer.traces == traces  # same arguments: no trace
  layer(x, training=True)
  assert layer.traces == traces + 1  # a new Python value
  layer(tf.ones([7, 6]), training=True)
  assert layer.traces == traces + 2  # a new shape
  assert layer.weights == weights
  # Inside tf.function the method is traced into the caller's graph.
  tf.function(lambda t: layer(t, training=True))(tf.ones([2, 6]))
  assert layer.traces == traces + 3
  assert layer.weights == weights


def test_streaming_metrics_and_merged_summaries_run_as_in_a_tf1_graph():
  """`tf.compat.v1.metrics` accumulate across calls as across a session's
  runs; `summary.merge_all` gives the serialized summaries of the call."""
  x = np.random.RandomState(4).randn(4, 6).astype(np.float32)
  with tf.Graph().as_default():
    out = streaming_metric_model(tf.constant(x))
    kernel, bias = v1.global_variables()
    local = [v.op.name for v in v1.local_variables()]
    with v1.Session() as sess:
      sess.run([v1.global_variables_initializer(),
                v1.local_variables_initializer()])
      initial = dict(zip(("fc/kernel:0", "fc/bias:0"),
                         sess.run([kernel, bias])))
      graph_runs = [sess.run(out) for _ in range(3)]
  layer = GraphFunctionLayer(streaming_metric_model)
  layer(tf.constant(x))  # creates the variables (and counts once)
  names = {tf1shim.tf1_name(w): w for w in layer.weights}
  assert sorted(names) == sorted(list(initial) + [n + ":0" for n in local])
  for name, value in initial.items():
    names[name].assign(value)
  for name in local:  # counted once by the creating call
    names[name + ":0"].assign(tf.zeros_like(names[name + ":0"]))
  for i, expected in enumerate(graph_runs):
    close(layer(tf.constant(x)), expected, "call %d" % i)

  layer = GraphFunctionLayer(merged_summaries_model)
  out, merged = layer(tf.constant(x))
  summary = tf.compat.v1.Summary.FromString(merged.numpy())
  assert [v.tag for v in summary.value] == ["mean_activation", "activations"]
  close(summary.value[0].simple_value, np.mean(out), "summary value")


def test_eager_error_names_the_option():
  x = tf.ones([4, 6])
  for model_fn, graph_only in [(bert_style_model, "Tensor.name"),
                               (wgan_gp_model, "tf.gradients"),
                               (streaming_metric_model, "tf.metrics"),
                               (merged_summaries_model, "tf.summary")]:
    for holder in [EagerLayer(model_fn)]:
      try:
        holder(x)
      except (AttributeError, RuntimeError) as e:
        message = str(e)
      else:
        raise AssertionError("no error")
      assert graph_only in message, message
      assert "track_tf1_style_variables(graph_function=True)" in message, (
          message)

  class Module(tf.Module):

    @tf1shim.track_tf1_style_variables
    def __call__(self, inputs):
      return bert_style_model(inputs)

  try:
    Module()(x)
  except AttributeError as e:
    assert "graph_function=True" in str(e), str(e)
    # Chained: the original error stays visible.
    assert isinstance(e.__cause__, AttributeError)
    assert "graph_function" not in str(e.__cause__)
  else:
    raise AssertionError("no error")

  # Other AttributeErrors pass unchanged.
  class Other(tf.Module):

    @tf1shim.track_tf1_style_variables
    def __call__(self, inputs):
      return inputs.no_such_attribute

  try:
    Other()(x)
  except AttributeError as e:
    assert "graph_function" not in str(e), str(e)
    assert e.__cause__ is None
  else:
    raise AssertionError("no error")


def test_decorator_arguments():
  """Without arguments as before; options only by name."""
  assert EagerLayer.call.tf1shim_graph_function is False
  assert GraphFunctionLayer.call.tf1shim_graph_function is True
  try:
    tf1shim.track_tf1_style_variables(True)
  except TypeError as e:
    assert "graph_function=True" in str(e)
  else:
    raise AssertionError("no error")


if __name__ == "__main__":
  raise SystemExit(pytest_main(__file__))
