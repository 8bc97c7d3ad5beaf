"""`RNNCell`, `LSTMStateTuple` and zero states: TF1's RNN cell protocol.

Semantics after TF1's `rnn_cell_impl` (tf-keras `legacy_cells.py`,
Copyright 2015 The TensorFlow Authors, Apache-2.0), rebuilt on tf1shim's
`layers.Layer`, which gives a cell its TF1 variable scope (`lstm_cell`,
`lstm_cell_1`, ... in the enclosing scope, chosen on the first call) and
routes its variables to the right store: the decorated object's, the TF1
graph's, or the cell's own.

A cell is called as TF1 called it, `cell(inputs, state, scope=None)`, by
`tf.compat.v1.nn.dynamic_rnn` and friends, inside `tf.while_loop` bodies and
once per time step in `static_rnn`. Keras 3's `Layer.__call__` (argument
conversion, input specs, autocasting, its name scopes) has no TF1 meaning
here and costs time on every step, so cells skip it: a call opens the cell's
variable scope, builds the cell on the first call, and runs `call`.
"""

import collections
import contextlib

import tensorflow as tf

from tf1shim import _keras_internal
from tf1shim.layers import base as layers_base


class LSTMStateTuple(collections.namedtuple("LSTMStateTuple", ("c", "h"))):
  """`(c, h)`: the state of the LSTM cells (`state_is_tuple=True`)."""

  __slots__ = ()

  @property
  def dtype(self):
    c, h = self
    if c.dtype != h.dtype:
      raise TypeError("Inconsistent dtypes for internal state: %s vs %s" %
                      (c.dtype, h.dtype))
    return c.dtype


def _state_shape(batch_size, size):
  """(dynamic shape for tf.zeros, static shape) of `[batch_size] + size`."""
  size = tf.TensorShape(size)
  if tf.is_tensor(batch_size):
    static_batch = tf.get_static_value(batch_size)
    batch = tf.reshape(tf.cast(batch_size, tf.int32), [1])
    dynamic = tf.concat([batch, tf.constant(size.as_list(), tf.int32)], 0)
    return dynamic, tf.TensorShape([static_batch]).concatenate(size)
  shape = [int(batch_size)] + size.as_list()
  return shape, tf.TensorShape(shape)


def zero_state_tensors(state_size, batch_size, dtype):
  """Zeros of shape `[batch_size] + s` for each `s` in `state_size`."""

  def zeros(size):
    dynamic, static = _state_shape(batch_size, size)
    value = tf.zeros(dynamic, dtype=dtype)
    if not tf.executing_eagerly():
      value.set_shape(static)
    return value

  return tf.nest.map_structure(zeros, state_size)


def check_float_inputs(cell, values, argument):
  """TF1's cells compute tanh and sigmoid: floats only."""
  for value in tf.nest.flatten(values):
    dtype = tf.as_dtype(value.dtype)
    if not (dtype.is_floating or dtype.is_complex):
      raise ValueError(
          "%s only supports floating point inputs, but its `%s` has dtype %s. "
          "Cast it first, e.g. tf.cast(%s, tf.float32)." %
          (type(cell).__name__, argument, dtype.name, argument))


class RNNCell(layers_base.Layer):
  """`tf.compat.v1.nn.rnn_cell.RNNCell`: the base of TF1's RNN cells.

  Subclasses define `state_size`, `output_size` and
  `call(inputs, state) -> (output, new_state)`, and create their variables
  in `create_variables(input_shape)` (or TF1-style in `build`, with
  `add_weight`, or with `tf.compat.v1.get_variable` inside `call`).

  Args:
    trainable: whether the cell's variables are trainable.
    name: the cell's TF1 name (its variable scope); default: the snake-cased
      class name (`lstm_cell`).
    dtype: the dtype of the cell's variables; default: that of the first
      inputs, as in TF1.
    **kwargs: TF1's `_reuse`/`_scope` and Keras layer arguments.
  """

  def __init__(self, trainable=True, name=None, dtype=None, **kwargs):
    super().__init__(trainable=trainable, name=name, dtype=dtype, **kwargs)
    self._tf1_dtype = None if dtype is None else tf.as_dtype(dtype)

  @property
  def state_size(self):
    raise NotImplementedError(
        "%s must define the property `state_size`." % type(self).__name__)

  @property
  def output_size(self):
    raise NotImplementedError(
        "%s must define the property `output_size`." % type(self).__name__)

  @property
  def variable_dtype(self):
    # TF1 cells without a dtype take their inputs' dtype (set on first call).
    dtype = self.__dict__.get("_tf1_dtype")
    if dtype is not None:
      return dtype
    return super().variable_dtype

  def __call__(self, inputs, state, scope=None, **kwargs):
    """Runs the cell one step: `(output, new_state)`."""
    with self._variable_context(scope), self._capturing_graph_variables():
      if self.built:
        return self.call(inputs, state, **kwargs)
      inputs = tf.nest.map_structure(tf.convert_to_tensor, inputs)
      if self._tf1_dtype is None:
        # TF1: the inputs' dtype; under a mixed Keras policy, its variable
        # dtype (float32, read as float16 inside the mixed call).
        policy = layers_base.mixed_policy()
        self._tf1_dtype = tf.as_dtype(
            policy.variable_dtype if policy is not None else
            tf.nest.flatten(inputs)[0].dtype)
      self.build(tf.nest.map_structure(lambda x: x.shape, inputs))
      # TF1 cells may also call get_variable in `call` on the first step:
      # Keras 3 locked the cell's state after `build`; reopen it for that.
      with _keras_internal.creating_state(self):
        return self.call(inputs, state, **kwargs)

  def _capturing_graph_variables(self):
    """In a TF1 graph, records the cell's variables (TF1's custom getter).

    TF1 code reads `cell.trainable_weights` (e.g. to regularize an LSTM's
    kernels); graph variables are not Keras variables, so Keras does not
    track them. Nested cells' variables are recorded too, as in TF1.
    """
    if not layers_base.in_tf1_graph():
      return contextlib.nullcontext()
    captured = self.__dict__.setdefault("_tf1_graph_variables", [])

    def capture(getter, *args, **kwargs):
      variable = getter(*args, **kwargs)
      if all(variable is not v for v in captured):
        captured.append(variable)
      return variable

    return tf.compat.v1.variable_scope(tf.compat.v1.get_variable_scope(),
                                       custom_getter=capture,
                                       auxiliary_name_scope=False)

  def _graph_weights(self):
    """(trainable, non-trainable) variables, as TF1 lists them in a graph."""
    captured = self.__dict__["_tf1_graph_variables"]
    listed = tf.compat.v1.trainable_variables()
    trainable = [v for v in captured if any(v is t for t in listed)]
    others = [v for v in captured if all(v is not t for t in trainable)]
    if not self.trainable:
      return [], trainable + others
    return trainable, others

  def _used_in_tf1_graph(self):
    return self.__dict__.get("_tf1_graph_variables") is not None

  @property
  def weights(self):
    if self._used_in_tf1_graph():
      trainable, others = self._graph_weights()
      return trainable + others
    return super().weights

  @property
  def trainable_weights(self):
    if self._used_in_tf1_graph():
      return self._graph_weights()[0]
    return super().trainable_weights

  @property
  def non_trainable_weights(self):
    if self._used_in_tf1_graph():
      return self._graph_weights()[1]
    return super().non_trainable_weights

  @property
  def variables(self):
    return self.weights if self._used_in_tf1_graph() else super().variables

  @property
  def trainable_variables(self):
    if self._used_in_tf1_graph():
      return self.trainable_weights
    return super().trainable_variables

  @property
  def non_trainable_variables(self):
    if self._used_in_tf1_graph():
      return self.non_trainable_weights
    return super().non_trainable_variables

  def call(self, inputs, state):  # pylint: disable=arguments-differ
    raise NotImplementedError(
        "%s must define `call(inputs, state)`." % type(self).__name__)

  def get_initial_state(self, inputs=None, batch_size=None, dtype=None):
    """TF1's `get_initial_state`: zeros, batch and dtype from `inputs`."""
    if inputs is not None:
      inputs = tf.convert_to_tensor(inputs, name="inputs")
      if dtype is not None and inputs.dtype != dtype:
        raise ValueError(
            "get_initial_state: `dtype` (%s) differs from the dtype of "
            "`inputs` (%s). Pass one of them." % (dtype, inputs.dtype))
      batch_size = inputs.shape[0] or tf.shape(inputs)[0]
      dtype = inputs.dtype
    if batch_size is None or dtype is None:
      raise ValueError(
          "get_initial_state needs `inputs`, or both `batch_size` and "
          "`dtype` (got batch_size=%s, dtype=%s)." % (batch_size, dtype))
    return self.zero_state(batch_size, dtype)

  def zero_state(self, batch_size, dtype):
    """Zeros shaped like the state, for a batch of `batch_size`."""
    with tf.name_scope(type(self).__name__ + "ZeroState"):
      return zero_state_tensors(self.state_size, batch_size, dtype)

  def compute_output_shape(self, input_shape):
    del input_shape
    raise NotImplementedError(
        "TF1 RNN cells are called as cell(inputs, state); use "
        "tf.compat.v1.nn.dynamic_rnn or keras.layers.RNN with a Keras cell.")


# TF1's `LayerRNNCell` differs from `RNNCell` only in how the cell captures
# variables made by `get_variable` inside `call`; tf1shim's store does both.
LayerRNNCell = RNNCell
