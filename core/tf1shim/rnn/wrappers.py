"""TF1's cell wrappers: DropoutWrapper, ResidualWrapper, DeviceWrapper.

As TF1's (tf-keras `legacy_cell_wrappers.py`, Copyright 2015 The TensorFlow
Authors, Apache-2.0): a wrapper calls the wrapped cell's `__call__` itself,
so it adds no variable scope (`rnn/lstm_cell/kernel` with or without a
DropoutWrapper). Dropout draws through `tf.nn.dropout` and
`tf.random.uniform` with TF1's operation seeds (derived from `seed`), the
ops `DeterministicRandomTestTool` covers.
"""

import hashlib
import numbers

import tensorflow as tf

from tf1shim.layers import base as layers_base
from tf1shim.rnn import base


def _is_like_rnn_cell(cell):
  """TF1's duck-typed check (what dynamic_rnn asks of a cell)."""
  missing = []
  for attribute in ("output_size", "state_size"):
    try:
      getattr(cell, attribute)
    except AttributeError:
      missing.append("'%s' property is missing" % attribute)
  if not (hasattr(cell, "get_initial_state") or hasattr(cell, "zero_state")):
    missing.append("either 'zero_state' or 'get_initial_state' method is "
                   "required")
  if not callable(cell):
    missing.append("is not callable")
  return missing


def _children(structure):
  """The elements of a tuple, list or namedtuple, or a dict's by sorted key."""
  if isinstance(structure, dict):
    return [structure[k] for k in sorted(structure)]
  return list(structure)


def _rebuild(structure, children):
  if isinstance(structure, dict):
    return type(structure)(zip(sorted(structure), children))
  if hasattr(structure, "_fields"):  # a namedtuple (LSTMStateTuple)
    return type(structure)(*children)
  return type(structure)(children)


def _map_up_to(shallow, fn, *structures):
  """`fn(*leaves)` over `structures`, descending only as deep as `shallow`.

  TF's `nest.map_structure_up_to`, in TF's flattening order: a
  `DropoutWrapper` maps its masks over the state sizes this way.
  """
  if not tf.nest.is_nested(shallow):
    return fn(*structures)
  children = zip(*[_children(s) for s in structures])
  return _rebuild(shallow, [_map_up_to(sub, fn, *subs)
                            for sub, subs in zip(_children(shallow),
                                                 children)])


def _enumerated_map_up_to(shallow, fn, *structures):
  """`fn(i, *leaves)`: as `_map_up_to`, with the leaf's flat index `i`."""
  index = [0]

  def numbered(*leaves):
    result = fn(index[0], *leaves)
    index[0] += 1
    return result

  return _map_up_to(shallow, numbered, *structures)


def _shallow_structure(visitor, structure):
  """TF's `nest.get_traverse_shallow_structure`: where to apply dropout.

  `visitor(sub)` says, for a substructure, False (leave it whole), True
  (descend into it) or one bool per element (descend into the True ones).
  """
  flags = visitor(structure)
  if not tf.nest.is_nested(structure):
    if not isinstance(flags, bool):
      raise TypeError("dropout_state_filter_visitor must return a bool for "
                      "a tensor, received %r." % (flags,))
    return flags
  if isinstance(flags, bool):
    if not flags:
      return False
    flags = _rebuild(structure, [True] * len(_children(structure)))
  return _rebuild(structure, [
      _shallow_structure(visitor, child) if flag else False
      for flag, child in zip(_children(flags), _children(structure))])


class _Wrapper(base.RNNCell):
  """A cell around `cell`, with the same state and output sizes."""

  def __init__(self, cell, **kwargs):
    super().__init__(**kwargs)
    missing = _is_like_rnn_cell(cell)
    if missing:
      raise TypeError("The argument 'cell' (%r) is not an RNNCell: %s." %
                      (cell, ", ".join(missing)))
    self.cell = cell

  @property
  def wrapped_cell(self):
    return self.cell

  @property
  def state_size(self):
    return self.cell.state_size

  @property
  def output_size(self):
    return self.cell.output_size

  def zero_state(self, batch_size, dtype):
    with tf.name_scope(type(self).__name__ + "ZeroState"):
      return self.cell.zero_state(batch_size, dtype)

  def build(self, input_shape):
    self.cell.build(input_shape)
    self.built = True

  def __call__(self, inputs, state, scope=None, **kwargs):
    # As TF1: the wrapped cell's own __call__, without a scope of ours.
    if layers_base.in_tf1_graph():
      self.__dict__.setdefault("_tf1_graph_variables", [])
    return self._call_wrapped_cell(inputs, state, self.cell.__call__,
                                   scope=scope, **kwargs)

  def _graph_weights(self):
    # TF1's wrappers do not list the wrapped cell's variables in a graph
    # (`wrapper.trainable_weights == []`), and TF1 code was written so.
    return [], []

  def _call_wrapped_cell(self, inputs, state, cell_call_fn, **kwargs):
    raise NotImplementedError


def _default_dropout_state_filter_visitor(substate):
  """Drop out everything but the memory `c` of LSTM states."""
  if isinstance(substate, base.LSTMStateTuple):
    return base.LSTMStateTuple(c=False, h=True)
  if isinstance(substate, tf.TensorArray):
    return False
  return True


class DropoutWrapper(_Wrapper):
  """Dropout on the inputs, outputs and states of `cell`.

  Args (TF1's): cell, input_keep_prob, output_keep_prob, state_keep_prob
  (floats or scalar tensors), variational_recurrent (the same mask at every
  step; needs `dtype`, and `input_size` when inputs are dropped), input_size,
  dtype, seed, dropout_state_filter_visitor.
  """

  def __init__(self, cell, input_keep_prob=1.0, output_keep_prob=1.0,
               state_keep_prob=1.0, variational_recurrent=False,
               input_size=None, dtype=None, seed=None,
               dropout_state_filter_visitor=None, **kwargs):
    super().__init__(cell, dtype=dtype, **kwargs)
    if (dropout_state_filter_visitor is not None and
        not callable(dropout_state_filter_visitor)):
      raise TypeError("DropoutWrapper: dropout_state_filter_visitor must be "
                      "callable, received: %r" %
                      (dropout_state_filter_visitor,))
    self._dropout_state_filter = (dropout_state_filter_visitor or
                                  _default_dropout_state_filter_visitor)
    with tf.name_scope("DropoutWrapperInit"):
      for value, attribute in ((input_keep_prob, "input_keep_prob"),
                               (state_keep_prob, "state_keep_prob"),
                               (output_keep_prob, "output_keep_prob")):
        tensor_value = tf.convert_to_tensor(value)
        constant = tf.get_static_value(tensor_value)
        if constant is not None:
          if not 0 <= constant <= 1:
            raise ValueError(
                "DropoutWrapper: %s must be between 0 and 1 (a keep "
                "probability, 1 - the dropout rate); received %s." %
                (attribute, constant))
          setattr(self, "_" + attribute, float(constant))
        else:
          setattr(self, "_" + attribute, tensor_value)
    self._variational_recurrent = variational_recurrent
    self._input_size = input_size
    self._dropout_seed = seed
    self._recurrent_input_noise = None
    self._recurrent_state_noise = None
    self._recurrent_output_noise = None
    if variational_recurrent:
      self._make_recurrent_noise(cell, input_size, dtype)

  def _make_recurrent_noise(self, cell, input_size, dtype):
    """One mask per run (TF1: drawn when the wrapper is made)."""
    if dtype is None:
      raise ValueError("DropoutWrapper: variational_recurrent=True needs "
                       "`dtype` (the dtype of the inputs and states).")

    def batch_noise(size, seed):
      shape = [1] + tf.TensorShape(size).as_list()
      return tf.random.uniform(shape, seed=seed, dtype=dtype)

    if (not isinstance(self._input_keep_prob, numbers.Real) or
        self._input_keep_prob < 1.0):
      if input_size is None:
        raise ValueError(
            "DropoutWrapper: variational_recurrent=True with input dropout "
            "(input_keep_prob < 1 or a tensor) needs `input_size`, the depth "
            "of the inputs (e.g. input_size=inputs.shape[-1]).")
      self._recurrent_input_noise = _enumerated_map_up_to(
          input_size,
          lambda i, s: batch_noise(s, self._gen_seed("input", i)),
          input_size)
    self._recurrent_state_noise = _enumerated_map_up_to(
        cell.state_size,
        lambda i, s: batch_noise(s, self._gen_seed("state", i)),
        cell.state_size)
    self._recurrent_output_noise = _enumerated_map_up_to(
        cell.output_size,
        lambda i, s: batch_noise(s, self._gen_seed("output", i)),
        cell.output_size)

  def _gen_seed(self, salt_prefix, index):
    """TF1's per-tensor operation seed, derived from `seed`."""
    if self._dropout_seed is None:
      return None
    salt = "%s_%d" % (salt_prefix, index)
    string = (str(self._dropout_seed) + salt).encode("utf-8")
    return int(hashlib.md5(string).hexdigest()[:8], 16) & 0x7FFFFFFF

  def _dropout(self, values, salt_prefix, recurrent_noise, keep_prob,
               shallow=None):
    if shallow is None:
      shallow = values
    if not self._variational_recurrent:

      def dropout(i, do_dropout, value):
        if not isinstance(do_dropout, bool) or do_dropout:
          return tf.nn.dropout(value, rate=1.0 - keep_prob,
                               seed=self._gen_seed(salt_prefix, i))
        return value

      return _enumerated_map_up_to(shallow, dropout, shallow, values)

    def variational(i, do_dropout, value, noise):
      del i
      if not isinstance(do_dropout, bool) or do_dropout:
        kept = tf.floor(keep_prob + noise)
        result = tf.divide(value, keep_prob) * kept
        result.set_shape(value.shape)
        return result
      return value

    return _enumerated_map_up_to(shallow, variational, shallow, values,
                                 recurrent_noise)

  def _call_wrapped_cell(self, inputs, state, cell_call_fn, **kwargs):

    def should_dropout(p):
      return not isinstance(p, float) or p < 1

    if should_dropout(self._input_keep_prob):
      inputs = self._dropout(inputs, "input", self._recurrent_input_noise,
                             self._input_keep_prob)
    output, new_state = cell_call_fn(inputs, state, **kwargs)
    if should_dropout(self._state_keep_prob):
      shallow = _shallow_structure(self._dropout_state_filter, new_state)
      new_state = self._dropout(new_state, "state",
                                self._recurrent_state_noise,
                                self._state_keep_prob, shallow)
    if should_dropout(self._output_keep_prob):
      output = self._dropout(output, "output", self._recurrent_output_noise,
                             self._output_keep_prob)
    return output, new_state


class ResidualWrapper(_Wrapper):
  """Adds the cell's inputs to its outputs (or `residual_fn(inputs, out)`)."""

  def __init__(self, cell, residual_fn=None, **kwargs):
    super().__init__(cell, **kwargs)
    self._residual_fn = residual_fn

  def _call_wrapped_cell(self, inputs, state, cell_call_fn, **kwargs):
    outputs, new_state = cell_call_fn(inputs, state, **kwargs)

    def default_residual_fn(inputs, outputs):
      tf.nest.assert_same_structure(inputs, outputs)

      def add(inp, out):
        if not inp.shape.is_compatible_with(out.shape):
          raise ValueError(
              "ResidualWrapper: the cell's inputs %s and outputs %s must "
              "have the same shape (use an input depth equal to the cell's "
              "output size, or pass residual_fn)." % (inp.shape, out.shape))
        return inp + out

      return tf.nest.map_structure(add, inputs, outputs)

    residual_fn = self._residual_fn or default_residual_fn
    return residual_fn(inputs, outputs), new_state


class DeviceWrapper(_Wrapper):
  """Runs the wrapped cell (and its zero state) on `device`."""

  def __init__(self, cell, device, **kwargs):
    super().__init__(cell, **kwargs)
    self._device = device

  def zero_state(self, batch_size, dtype):
    with tf.name_scope(type(self).__name__ + "ZeroState"):
      with tf.compat.v1.device(self._device):
        return self.cell.zero_state(batch_size, dtype)

  def _call_wrapped_cell(self, inputs, state, cell_call_fn, **kwargs):
    with tf.compat.v1.device(self._device):
      return cell_call_fn(inputs, state, **kwargs)
