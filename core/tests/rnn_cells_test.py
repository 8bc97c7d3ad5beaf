"""TF1's RNN cells (`tf.compat.v1.nn.rnn_cell`) against TF1 itself.

The reference is tf-keras's legacy cells (TF1's `rnn_cell_impl`, what
`tf.compat.v1.nn.rnn_cell` is under `TF_USE_LEGACY_KERAS=1`), run in a TF1
graph in a subprocess. For each scenario it writes the variables (names in
creation order, shapes, trainable flags), then, with every variable set to
random values, the outputs and final states, the gradients of a random
linear loss of them (variables and inputs), and the variables after one
`GradientDescentOptimizer(0.1)` step. This process runs the same scenario
functions after `tf1shim.install()`: in a TF1 graph, in a decorated Keras 3
layer eagerly and under `tf.function`, and in a `model.fit` step, with the
reference's values copied in by TF1 name.

Tolerances (float32, eps 1.2e-7): outputs and states are tanh/sigmoid
products of magnitude <= ~2 after 5 steps, so rtol 1e-5 / atol 1e-6 allow a
few ulps per step for kernels that sum in another order (eager, tf.function
and graph pick different matmul paths). Gradients sum over batch and time
(magnitudes up to ~10): rtol 1e-5 / atol 1e-5. Dropout scenarios draw under
the deterministic random tools (TF's own in the reference, tf1shim's here),
so masks are equal: same tolerances.
"""

import os
import sys

import numpy as np
import pytest
import tensorflow as tf

from testing import legacy_reference
from testing.pytest_main import pytest_main

v1 = tf.compat.v1

BATCH, TIME, DEPTH = 3, 5, 4
LENGTHS = [5, 2, 4]
OUTPUT_RTOL, OUTPUT_ATOL = 1e-5, 1e-6
GRADIENT_RTOL, GRADIENT_ATOL = 1e-5, 1e-5
LEARNING_RATE = 0.1


def _cells():
  # Looked up at call time: tf-keras's in the reference, tf1shim's here.
  return tf.compat.v1.nn.rnn_cell


# --- Scenarios: TF1 code as teams write it; x is [BATCH, TIME, DEPTH] -------


def lstm_dynamic_sequence_length(x):
  cell = _cells().LSTMCell(6)
  return v1.nn.dynamic_rnn(cell, x, sequence_length=LENGTHS,
                           dtype=tf.float32)


def basic_lstm_dynamic(x):
  cell = _cells().BasicLSTMCell(6, forget_bias=0.5)
  return v1.nn.dynamic_rnn(cell, x, dtype=tf.float32)


def gru_dynamic_sequence_length(x):
  cell = _cells().GRUCell(5)
  return v1.nn.dynamic_rnn(cell, x, sequence_length=LENGTHS,
                           dtype=tf.float32)


def basic_rnn_initial_state(x):
  cell = _cells().BasicRNNCell(5, activation=tf.nn.relu)
  state = 0.1 * tf.ones([BATCH, 5])
  return v1.nn.dynamic_rnn(cell, x, initial_state=state)


def multi_lstm_dropout_keep_one(x):
  """The sequence example's stack (dropout off): MultiRNNCell of LSTMs."""
  cells = _cells()
  stack = cells.MultiRNNCell([
      cells.DropoutWrapper(cells.LSTMCell(6), output_keep_prob=1.0),
      cells.DropoutWrapper(cells.LSTMCell(5), output_keep_prob=1.0)])
  return v1.nn.dynamic_rnn(stack, x, sequence_length=LENGTHS,
                           dtype=tf.float32)


def lstm_peepholes_projection_clipping(x):
  cell = _cells().LSTMCell(6, use_peepholes=True, num_proj=3, cell_clip=0.5,
                           proj_clip=0.8, forget_bias=0.3)
  return v1.nn.dynamic_rnn(cell, x, sequence_length=LENGTHS,
                           dtype=tf.float32)


def lstm_peepholes_fused(x):
  """Peepholes without a projection or clipping: tf1shim runs this step on
  TensorFlow's fused LSTM kernel (tf1shim/rnn/lstm_kernel.py)."""
  cell = _cells().LSTMCell(6, use_peepholes=True, forget_bias=0.7)
  return v1.nn.dynamic_rnn(cell, x, sequence_length=LENGTHS,
                           dtype=tf.float32)


def concatenated_states(x):
  cells = _cells()
  stack = cells.MultiRNNCell(
      [cells.LSTMCell(4, state_is_tuple=False), cells.GRUCell(3)],
      state_is_tuple=False)
  return v1.nn.dynamic_rnn(stack, x, dtype=tf.float32, time_major=False)


def static_rnn_sequence_length(x):
  cell = _cells().LSTMCell(5)
  return v1.nn.static_rnn(cell, tf.unstack(x, axis=1),
                          sequence_length=LENGTHS, dtype=tf.float32)


def bidirectional_dynamic(x):
  cells = _cells()
  return v1.nn.bidirectional_dynamic_rnn(
      cells.LSTMCell(4), cells.GRUCell(3), x, sequence_length=LENGTHS,
      dtype=tf.float32)


def static_bidirectional(x):
  cells = _cells()
  outputs, state_fw, state_bw = v1.nn.static_bidirectional_rnn(
      cells.BasicLSTMCell(4), cells.BasicLSTMCell(3), tf.unstack(x, axis=1),
      sequence_length=LENGTHS, dtype=tf.float32)
  return outputs, (state_fw, state_bw)


def raw_rnn_sequence_length(x):
  """TF's raw_rnn example, inputs from a TensorArray."""
  cell = _cells().LSTMCell(5)
  lengths = tf.constant(LENGTHS)
  inputs_ta = tf.TensorArray(tf.float32, size=TIME).unstack(
      tf.transpose(x, [1, 0, 2]))

  def loop_fn(time, cell_output, cell_state, loop_state):
    emit_output = cell_output
    if cell_output is None:
      next_cell_state = cell.zero_state(BATCH, tf.float32)
    else:
      next_cell_state = cell_state
    finished = time >= lengths
    next_input = tf.cond(
        tf.reduce_all(finished), lambda: tf.zeros([BATCH, DEPTH]),
        lambda: inputs_ta.read(time))
    return finished, next_input, next_cell_state, emit_output, loop_state

  outputs_ta, final_state, _ = v1.nn.raw_rnn(cell, loop_fn)
  outputs = outputs_ta.stack()
  # Every row is finished after max(LENGTHS) == TIME steps.
  outputs.set_shape([TIME, BATCH, 5])
  return tf.transpose(outputs, [1, 0, 2]), final_state


def residual_and_device_wrappers(x):
  cells = _cells()
  stack = cells.MultiRNNCell([
      cells.ResidualWrapper(cells.LSTMCell(DEPTH)),
      cells.DeviceWrapper(cells.GRUCell(3), "/cpu:0")])
  return v1.nn.dynamic_rnn(stack, x, dtype=tf.float32)


def scopes_and_compat_v1_spelling(x):
  """`import tensorflow.compat.v1 as tf` spelling; named scopes; reuse."""
  import tensorflow.compat.v1 as tf1  # pylint: disable=g-import-not-at-top
  cell = tf1.nn.rnn_cell.BasicLSTMCell(4, name="shared_lstm")
  with tf1.variable_scope("encoder"):
    first = tf1.nn.dynamic_rnn(cell, x, dtype=tf.float32)
  # The same cell again: its variables (encoder/shared_lstm/...) are reused.
  with tf1.variable_scope("decoder"):
    second = tf1.nn.dynamic_rnn(cell, x[:, ::-1], dtype=tf.float32,
                                scope="rnn")
  gru = tf1.nn.rnn_cell.GRUCell(3)
  third = tf1.nn.dynamic_rnn(gru, first[0], dtype=tf.float32, scope="top")
  return first, second, third


def custom_cell_with_get_variable_in_call(x):
  """A TF1 `RNNCell` subclass making its variables in `call`."""

  class MinimalRNNCell(_cells().RNNCell):

    def __init__(self, units):
      super().__init__()
      self._units = units

    @property
    def state_size(self):
      return self._units

    @property
    def output_size(self):
      return self._units

    def call(self, inputs, state):
      kernel = v1.get_variable(
          "kernel", [int(inputs.shape[-1]) + self._units, self._units])
      bias = v1.get_variable("bias", [self._units],
                             initializer=v1.zeros_initializer())
      output = tf.tanh(tf.matmul(tf.concat([inputs, state], 1), kernel) +
                       bias)
      return output, output

  return v1.nn.dynamic_rnn(MinimalRNNCell(4), x, sequence_length=LENGTHS,
                           dtype=tf.float32)


def cell_weights_in_graph():
  """`cell.trainable_weights` and friends as TF1 code reads them."""
  cells = _cells()
  wrapped = cells.DropoutWrapper(cells.LSTMCell(3), output_keep_prob=1.0)
  frozen = cells.GRUCell(2, trainable=False)
  stack = cells.MultiRNNCell([wrapped, frozen])
  with tf.Graph().as_default():
    v1.nn.dynamic_rnn(stack, tf.ones([BATCH, TIME, DEPTH]), dtype=tf.float32)
    return {"%s_%s" % (label, what): [v.name for v in getattr(cell, what)]
            for what in ("trainable_weights", "non_trainable_weights")
            for label, cell in (("stack", stack), ("lstm", wrapped.cell),
                                ("frozen", frozen))}


SCENARIOS = {f.__name__: f for f in (
    custom_cell_with_get_variable_in_call,
    lstm_dynamic_sequence_length, basic_lstm_dynamic,
    gru_dynamic_sequence_length, basic_rnn_initial_state,
    multi_lstm_dropout_keep_one, lstm_peepholes_projection_clipping,
    lstm_peepholes_fused, concatenated_states, static_rnn_sequence_length, bidirectional_dynamic,
    static_bidirectional, raw_rnn_sequence_length,
    residual_and_device_wrappers, scopes_and_compat_v1_spelling)}


# Dropout: the masks are drawn under the deterministic random tools. The
# kernels take TF1's `glorot_uniform_initializer` explicitly: tf-keras's
# legacy cells default to Keras 2's GlorotUniform, another random op than
# TF1's default (`get_variable`'s, which tf1shim's cells use), and these
# scenarios compare the first call's draws, initial values included.


def _glorot():
  return v1.glorot_uniform_initializer()


def dropout_stack_dynamic(x):
  cells = _cells()
  stack = cells.MultiRNNCell([
      cells.DropoutWrapper(cells.LSTMCell(6, initializer=_glorot()),
                           input_keep_prob=0.8, output_keep_prob=0.7,
                           state_keep_prob=0.9),
      cells.DropoutWrapper(cells.LSTMCell(5, initializer=_glorot()),
                           output_keep_prob=0.6)])
  # One iteration at a time: with TF's default of 32, a step's input dropout
  # may draw before the previous step's (it does not wait for the state), so
  # which step gets which mask varies from run to run, in TF1 too.
  return v1.nn.dynamic_rnn(stack, x, sequence_length=LENGTHS,
                           dtype=tf.float32, parallel_iterations=1)


def dropout_variational(x):
  cell = _cells().DropoutWrapper(
      _cells().LSTMCell(6, initializer=_glorot()), input_keep_prob=0.8,
      output_keep_prob=0.7, state_keep_prob=0.9, variational_recurrent=True,
      input_size=DEPTH, dtype=tf.float32, seed=7)
  return v1.nn.dynamic_rnn(cell, x, dtype=tf.float32)


def dropout_static_rnn(x):
  cell = _cells().DropoutWrapper(
      _cells().GRUCell(5, kernel_initializer=_glorot()),
      input_keep_prob=0.7, output_keep_prob=0.8, seed=3)
  return v1.nn.static_rnn(cell, tf.unstack(x, axis=1), dtype=tf.float32)


DROPOUT_SCENARIOS = {f.__name__: f for f in (
    dropout_stack_dynamic, dropout_variational, dropout_static_rnn)}


def _inputs():
  return np.random.RandomState(0).uniform(
      -1, 1, (BATCH, TIME, DEPTH)).astype(np.float32)


# --- The reference: tf-keras's legacy cells in a TF1 graph (subprocess) -----


def reference_scenarios(out_dir):
  """Runs in the subprocess, with TF_USE_LEGACY_KERAS=1."""
  assert tf.keras.__name__.startswith("tf_keras"), tf.keras.__name__
  assert _cells().LSTMCell.__module__.startswith("tf_keras"), (
      _cells().LSTMCell.__module__)
  x_value = _inputs()
  for name, fn in SCENARIOS.items():
    rng = np.random.RandomState(1)
    with tf.Graph().as_default():
      x = tf.constant(x_value)
      flat = tf.nest.flatten(fn(x))
      variables = v1.global_variables()
      trainable = v1.trainable_variables()
      weights = [rng.uniform(-1, 1, t.shape.as_list()).astype(np.float32)
                 for t in flat]
      loss = tf.add_n([tf.reduce_sum(t * w) for t, w in zip(flat, weights)])
      gradients = tf.gradients(loss, trainable + [x])
      train = v1.train.GradientDescentOptimizer(LEARNING_RATE).minimize(loss)
      with v1.Session() as sess:
        sess.run(v1.global_variables_initializer())
        values = [rng.uniform(-0.5, 0.5, v.shape.as_list()).astype(np.float32)
                  for v in variables]
        for variable, value in zip(variables, values):
          variable.load(value, sess)
        outputs, grads, loss_value = sess.run([flat, gradients, loss])
        sess.run(train)
        trained = sess.run(variables)
    record = {"names": np.array([v.name for v in variables]),
              "trainable": np.array([v.name for v in trainable]),
              "loss": np.array(loss_value)}
    for i in range(len(variables)):
      record["value_%d" % i] = values[i]
      record["trained_%d" % i] = trained[i]
    for i in range(len(flat)):
      record["output_%d" % i] = outputs[i]
      record["weight_%d" % i] = weights[i]
    for i, g in enumerate(grads):
      record["gradient_%d" % i] = g
    np.savez(os.path.join(out_dir, name + ".npz"), **record)
  np.savez(os.path.join(out_dir, "cell_weights.npz"),
           **{k: np.array(v) for k, v in cell_weights_in_graph().items()})
  tool_class = tf.compat.v1.keras.utils.DeterministicRandomTestTool
  for name, fn in DROPOUT_SCENARIOS.items():
    with tool_class(mode="num_random_ops").scope():
      with tf.Graph().as_default():
        flat = tf.nest.flatten(fn(tf.constant(x_value)))
        variables = v1.global_variables()
        with v1.Session() as sess:
          sess.run(v1.global_variables_initializer())
          values, outputs = sess.run([variables, flat])
    record = {"names": np.array([v.name for v in variables])}
    for i, value in enumerate(values):
      record["value_%d" % i] = value
    for i, value in enumerate(outputs):
      record["output_%d" % i] = value
    np.savez(os.path.join(out_dir, "dropout_" + name + ".npz"), **record)


reference = legacy_reference.fixture(__file__, "rnn_reference")


@pytest.fixture(scope="module", autouse=True)
def installed():
  import tf1shim  # pylint: disable=g-import-not-at-top
  tf1shim.install()


_records = legacy_reference.records


def _assert_all_close(actual, expected, what, rtol=OUTPUT_RTOL,
                      atol=OUTPUT_ATOL):
  legacy_reference.assert_all_close(actual, expected, what, rtol, atol)


# --- tf1shim in a TF1 graph --------------------------------------------------


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_tf1_graph_equals_reference(reference, name):
  ref = reference(name)
  with tf.Graph().as_default():
    x = tf.constant(_inputs())
    flat = tf.nest.flatten(SCENARIOS[name](x))
    variables = v1.global_variables()
    trainable = v1.trainable_variables()
    assert [v.name for v in variables] == list(ref["names"])
    assert [v.name for v in trainable] == list(ref["trainable"])
    weights = _records(ref, "weight")
    loss = tf.add_n([tf.reduce_sum(t * w) for t, w in zip(flat, weights)])
    gradients = tf.gradients(loss, trainable + [x])
    train = v1.train.GradientDescentOptimizer(LEARNING_RATE).minimize(loss)
    with v1.Session() as sess:
      sess.run(v1.global_variables_initializer())
      for variable, value in zip(variables, _records(ref, "value")):
        assert variable.shape.as_list() == list(value.shape), variable.name
        variable.load(value, sess)
      outputs, grads = sess.run([flat, gradients])
      sess.run(train)
      trained = sess.run(variables)
  _assert_all_close(outputs, _records(ref, "output"), "output")
  _assert_all_close(grads, _records(ref, "gradient"), "gradient",
                    GRADIENT_RTOL, GRADIENT_ATOL)
  _assert_all_close(trained, _records(ref, "trained"), "trained",
                    GRADIENT_RTOL, GRADIENT_ATOL)


def test_cell_weights_in_tf1_graph_equal_reference(reference):
  ref = reference("cell_weights")
  ours = cell_weights_in_graph()
  assert sorted(ours) == sorted(ref)
  for key, names in ours.items():
    assert names == list(ref[key]), key


# --- tf1shim in a decorated Keras 3 layer ------------------------------------


def _shim_layer(fn):
  import keras  # pylint: disable=g-import-not-at-top
  import tf1shim  # pylint: disable=g-import-not-at-top

  class RNNModel(keras.Model):

    @tf1shim.track_tf1_style_variables
    def call(self, inputs):
      return tf.nest.flatten(fn(inputs))

  return RNNModel()


def _set_reference_values(layer, ref):
  import tf1shim  # pylint: disable=g-import-not-at-top
  by_name = {tf1shim.tf1_name(v): v for v in layer.weights}
  assert sorted(by_name) == sorted(ref["names"])
  assert sorted(tf1shim.tf1_name(v) for v in layer.trainable_weights) == (
      sorted(ref["trainable"]))
  for name, value in zip(ref["names"], _records(ref, "value")):
    assert tuple(by_name[name].shape) == value.shape, name
    by_name[name].assign(value)
  return [by_name[n] for n in ref["trainable"]]


def _loss(flat, ref):
  return tf.add_n([tf.reduce_sum(t * w)
                   for t, w in zip(flat, _records(ref, "weight"))])


@pytest.mark.parametrize("compiled", [False, True], ids=["eager", "function"])
@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_decorated_layer_equals_reference(reference, name, compiled):
  ref = reference(name)
  layer = _shim_layer(SCENARIOS[name])
  x = tf.constant(_inputs())

  def forward_and_gradients(x):
    with tf.GradientTape() as tape:
      tape.watch(x)
      flat = layer(x)
      loss = _loss(flat, ref)
    return flat, tape.gradient(loss, trainable + [x])

  trainable = []
  run = tf.function(forward_and_gradients) if compiled else (
      forward_and_gradients)
  first, _ = run(x)  # creates the variables
  trainable[:] = _set_reference_values(layer, ref)
  # A new trace, now that the gradients are asked for the variables too.
  run = tf.function(forward_and_gradients) if compiled else run
  flat, grads = run(x)
  _assert_all_close(flat, _records(ref, "output"), "output")
  _assert_all_close(grads, _records(ref, "gradient"), "gradient",
                    GRADIENT_RTOL, GRADIENT_ATOL)
  assert all(np.any(np.asarray(g) != 0) for g in grads[:-1])
  # Later calls create nothing and name nothing anew.
  assert len(layer.weights) == len(ref["names"])
  assert len(first) == len(flat)


@pytest.mark.parametrize("name", ["multi_lstm_dropout_keep_one",
                                  "lstm_dynamic_sequence_length",
                                  "static_bidirectional"])
def test_model_fit_step_equals_tf1_train_op(reference, name):
  import keras  # pylint: disable=g-import-not-at-top
  import tf1shim  # pylint: disable=g-import-not-at-top
  ref = reference(name)
  fn = SCENARIOS[name]
  weights = _records(ref, "weight")

  class Trained(keras.Model):

    @tf1shim.track_tf1_style_variables
    def call(self, inputs):
      flat = tf.nest.flatten(fn(inputs))
      self.add_loss(tf.add_n([tf.reduce_sum(t * w)
                              for t, w in zip(flat, weights)]))
      return flat[0]

  model = Trained()
  x = _inputs()
  model(x)
  _set_reference_values(model, ref)
  model.compile(optimizer=keras.optimizers.SGD(LEARNING_RATE),
                jit_compile=False)
  history = model.fit(x, batch_size=BATCH, epochs=1, shuffle=False,
                      verbose=0)
  np.testing.assert_allclose(history.history["loss"][0], ref["loss"],
                             rtol=GRADIENT_RTOL)
  by_name = {tf1shim.tf1_name(v): v for v in model.weights}
  _assert_all_close([by_name[n] for n in ref["names"]],
                    _records(ref, "trained"), "trained", GRADIENT_RTOL,
                    GRADIENT_ATOL)


# --- Dropout under the deterministic random tools ----------------------------


@pytest.mark.parametrize("name", sorted(DROPOUT_SCENARIOS))
def test_dropout_in_tf1_graph_draws_the_reference_masks(reference, name):
  import tf1shim  # pylint: disable=g-import-not-at-top
  ref = reference("dropout_" + name)
  with tf1shim.DeterministicRandomTestTool(mode="num_random_ops").scope():
    with tf.Graph().as_default():
      flat = tf.nest.flatten(DROPOUT_SCENARIOS[name](tf.constant(_inputs())))
      variables = v1.global_variables()
      with v1.Session() as sess:
        sess.run(v1.global_variables_initializer())
        values, outputs = sess.run([variables, flat])
  assert [v.name for v in variables] == list(ref["names"])
  _assert_all_close(values, _records(ref, "value"), "initial value")
  _assert_all_close(outputs, _records(ref, "output"), "output")


def test_dropout_in_decorated_layer_draws_the_reference_masks(reference):
  """A TF2 call draws in the TF1 graph's order: the first call compares.

  The static unroll has one dropout op per step in the graph and in eager
  code. Not compared: eager `dynamic_rnn` (its loop runs in Python, a new op
  per step where the graph runs one op per step) and a first call under
  `tf.function` (TensorFlow traces it twice when it creates variables, and
  the second trace's ops take the next seeds of the tool's sequence).
  """
  import tf1shim  # pylint: disable=g-import-not-at-top
  ref = reference("dropout_dropout_static_rnn")
  with tf1shim.DeterministicRandomTestTool(mode="num_random_ops").scope():
    layer = _shim_layer(dropout_static_rnn)
    outputs = layer(tf.constant(_inputs()))
  by_name = {tf1shim.tf1_name(v): v for v in layer.weights}
  assert sorted(by_name) == sorted(ref["names"])
  _assert_all_close([by_name[n] for n in ref["names"]],
                    _records(ref, "value"), "initial value")
  _assert_all_close(outputs, _records(ref, "output"), "output")


# --- Installation and errors -------------------------------------------------


def _train_step_op_counts(model, weights, x):
  """Op types of a tf.function train step: top level, loop body, gradient."""
  import collections  # pylint: disable=g-import-not-at-top

  @tf.function
  def step():
    with tf.GradientTape() as tape:
      loss = tf.reduce_sum(tf.square(model(x)))
    return tape.gradient(loss, weights())

  graph = step.get_concrete_function().graph
  counts = {"top": collections.Counter(o.type for o in graph.get_operations())}
  for f in graph.as_graph_def().library.function:
    kind = ("grad" if "grad" in f.signature.name else "body"
            if "body" in f.signature.name else "cond")
    counts.setdefault(kind, collections.Counter()).update(
        n.op for n in f.node_def)
  return counts


def test_shim_lstm_train_step_runs_the_fused_kernel():
  """Under tf.function a TF1 LSTM step is TensorFlow's fused LSTM op.

  The train step of `LSTMCell` + `dynamic_rnn` in a decorated layer runs
  `LSTMBlockCell` in the loop body and `LSTMBlockCellGrad` in its gradient,
  with none of TF1's per-step gate ops (which TF1's own cells run: the
  control below). The values are TF1's: the scenarios above compare them
  with TF1's own cells.
  """
  import keras  # pylint: disable=g-import-not-at-top
  import tf1shim  # pylint: disable=g-import-not-at-top
  x = tf.constant(np.random.RandomState(0).randn(3, 4, 5), tf.float32)

  def shim_lstm(**cell_kwargs):
    class ShimLSTM(keras.layers.Layer):

      @tf1shim.track_tf1_style_variables
      def call(self, inputs):
        cell = tf1shim.rnn.LSTMCell(6, **cell_kwargs)
        outputs, _ = v1.nn.dynamic_rnn(cell, inputs, dtype=tf.float32)
        return outputs[:, -1]

    layer = ShimLSTM()
    layer(x)
    return _train_step_op_counts(layer, lambda: layer.trainable_weights, x)

  fused = shim_lstm()
  assert fused["body"]["LSTMBlockCell"] >= 1, fused["body"]
  assert fused["grad"]["LSTMBlockCellGrad"] >= 1, fused["grad"]
  for gate_op in ("Sigmoid", "Tanh", "Split"):
    assert gate_op not in fused["body"], (gate_op, fused["body"])
  for gate_op in ("SigmoidGrad", "TanhGrad"):
    assert gate_op not in fused["grad"], (gate_op, fused["grad"])
  # Control: with a projection the step is TF1's ops, and the asserts above
  # would fail.
  projected = shim_lstm(num_proj=4)
  assert "LSTMBlockCell" not in projected["body"]
  assert projected["body"]["Sigmoid"] and projected["grad"]["SigmoidGrad"]


@pytest.mark.parametrize("make, dtype", [
    (lambda c: c.LSTMCell(4, num_proj=3), tf.float32),
    (lambda c: c.LSTMCell(4, cell_clip=0.4), tf.float32),
    (lambda c: c.LSTMCell(4, forget_bias=tf.constant(0.5)), tf.float32),
    (lambda c: c.LSTMCell(4, activation=tf.nn.relu), tf.float32),
    (lambda c: c.BasicLSTMCell(4, activation=tf.nn.softsign), tf.float32),
    (lambda c: c.LSTMCell(4), tf.float64),
])
def test_lstm_runs_tf1_ops_where_the_fused_kernel_differs(make, dtype):
  """A projection, cell clipping (the kernel's gradient ignores the clip),
  a forget_bias tensor, another activation or a float64 step run TF1's
  ops."""
  with tf.Graph().as_default() as graph:
    cell = make(v1.nn.rnn_cell)
    v1.nn.dynamic_rnn(cell, tf.zeros([2, 3, 5], dtype), dtype=dtype)
    op_types = {op.type for op in graph.get_operations()}
    for f in graph.as_graph_def().library.function:
      op_types.update(n.op for n in f.node_def)
  assert "LSTMBlockCell" not in op_types
  assert "MatMul" in op_types


def test_fused_step_gradient_equals_tf1_ops_gradient():
  """The registered LSTMBlockCell gradient against autodiff of TF1's ops.

  float32 with O(1) values, peepholes on; rtol 1e-5 / atol 1e-6 allow a few
  ulps for the kernel's other summation order (as for the outputs).
  """
  from tf1shim.rnn import lstm_kernel  # pylint: disable=g-import-not-at-top
  rng = np.random.RandomState(3)
  batch, depth, units = 4, 5, 3
  values = [tf.constant(rng.uniform(-1, 1, shape).astype(np.float32))
            for shape in ([batch, depth], [batch, units], [batch, units],
                          [depth + units, 4 * units], [4 * units],
                          [units], [units], [units])]
  weights = [tf.constant(rng.uniform(-1, 1, [batch, units]).astype(
      np.float32)) for _ in range(2)]

  def tf1_ops(x, c, h, w, b, w_i, w_f, w_o):
    i, j, f, o = tf.split(tf.matmul(tf.concat([x, h], 1), w) + b, 4, axis=1)
    c = (tf.sigmoid(f + 0.7 + w_f * c) * c +
         tf.sigmoid(i + w_i * c) * tf.tanh(j))
    return c, tf.sigmoid(o + w_o * c) * tf.tanh(c)

  def fused(x, c, h, w, b, w_i, w_f, w_o):
    return lstm_kernel.fused_step(x, c, h, w, b, 0.7, (w_i, w_f, w_o))

  results = []
  for step in (tf1_ops, fused):
    with tf.GradientTape() as tape:
      tape.watch(values)
      c, h = step(*values)
      loss = tf.reduce_sum(c * weights[0]) + tf.reduce_sum(h * weights[1])
    results.append([c, h] + tape.gradient(loss, values))
  names = ["c", "h", "x", "c_prev", "h_prev", "kernel", "bias", "w_i_diag",
           "w_f_diag", "w_o_diag"]
  for name, expected, actual in zip(names, *results):
    np.testing.assert_allclose(actual, expected, rtol=1e-5, atol=1e-6,
                               err_msg=name)


def test_every_spelling_of_rnn_cell_reaches_tf1shim():
  import tensorflow.compat.v1 as tf1  # pylint: disable=g-import-not-at-top
  import tf1shim  # pylint: disable=g-import-not-at-top
  for name in tf1shim.rnn.CELL_NAMES:
    for module in (tf.compat.v1.nn.rnn_cell, tf1.nn.rnn_cell,
                   sys.modules["tensorflow.compat.v1.nn.rnn_cell"]):
      assert getattr(module, name) is getattr(tf1shim.rnn, name), name
  with pytest.raises(AttributeError, match="NASCell is not provided"):
    tf1.nn.rnn_cell.NASCell  # pylint: disable=pointless-statement


def test_cell_used_in_init_and_on_its_own():
  """A cell made in __init__ is reused across calls; a cell outside any
  decorated method owns its variables (TF1's `lstm_cell` scope)."""
  import keras  # pylint: disable=g-import-not-at-top
  import tf1shim  # pylint: disable=g-import-not-at-top

  class Encoder(keras.layers.Layer):

    def __init__(self):
      super().__init__()
      self.cell = v1.nn.rnn_cell.GRUCell(3)

    @tf1shim.track_tf1_style_variables
    def call(self, x):
      return v1.nn.dynamic_rnn(self.cell, x, dtype=tf.float32)[0]

  layer = Encoder()
  x = tf.constant(_inputs())
  first = layer(x)
  np.testing.assert_array_equal(layer(x), first)
  assert [v.path for v in layer.weights] == [
      "rnn/gru_cell/gates/kernel", "rnn/gru_cell/gates/bias",
      "rnn/gru_cell/candidate/kernel", "rnn/gru_cell/candidate/bias"]
  cell = v1.nn.rnn_cell.BasicLSTMCell(2)
  out, state = cell(x[:, 0], cell.zero_state(BATCH, tf.float32))
  assert [v.path for v in cell.weights] == ["basic_lstm_cell/kernel",
                                            "basic_lstm_cell/bias"]
  assert out.shape == (BATCH, 2) and isinstance(state,
                                                v1.nn.rnn_cell.LSTMStateTuple)


@pytest.mark.parametrize("make,message", [
    (lambda c: c.LSTMCell(3, num_unit_shards=2), "num_unit_shards"),
    (lambda c: c.DropoutWrapper(c.GRUCell(2), output_keep_prob=1.5),
     "output_keep_prob must be between 0 and 1"),
    (lambda c: c.DropoutWrapper(c.GRUCell(2), variational_recurrent=True),
     "needs `dtype`"),
    (lambda c: c.DropoutWrapper(c.GRUCell(2), input_keep_prob=0.5,
                                variational_recurrent=True,
                                dtype=tf.float32), "needs `input_size`"),
    (lambda c: c.DropoutWrapper(object()), "'cell' .* is not an RNNCell"),
    (lambda c: c.MultiRNNCell([]), "`cells` is empty"),
    (lambda c: c.MultiRNNCell(c.GRUCell(2)), "must be a list or tuple"),
    (lambda c: c.MultiRNNCell([c.LSTMCell(2)], state_is_tuple=False),
     "state_is_tuple is False"),
])
def test_bad_arguments_fail_naming_the_argument(make, message):
  with pytest.raises((ValueError, TypeError), match=message):
    make(v1.nn.rnn_cell)


def test_bad_inputs_fail_naming_what_to_do():
  cell = v1.nn.rnn_cell.LSTMCell(3)
  with pytest.raises(ValueError, match="floating point.*tf.cast"):
    v1.nn.dynamic_rnn(cell, tf.ones([2, 3, 4], tf.int32), dtype=tf.float32)
  with tf.Graph().as_default():
    x = v1.placeholder(tf.float32, [2, 3, None])
    with pytest.raises(ValueError, match="depth"):
      v1.nn.rnn_cell.GRUCell(2)(x[:, 0], tf.zeros([2, 2]))


if __name__ == "__main__":
  if "--reference" in sys.argv:
    reference_scenarios(sys.argv[sys.argv.index("--reference") + 1])
  else:
    raise SystemExit(pytest_main(__file__))
