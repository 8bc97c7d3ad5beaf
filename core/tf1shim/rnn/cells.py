"""TF1's RNN cells: BasicRNNCell, GRUCell, BasicLSTMCell, LSTMCell.

Variables, defaults and math as in TF1's `rnn_cell_impl` (tf-keras
`legacy_cells.py`, Copyright 2015 The TensorFlow Authors, Apache-2.0):
`kernel` `[input_depth + h_depth, k * num_units]` (TF1's default initializer,
Glorot uniform, unless one is given), `bias` (zeros); GRU's `gates/*` and
`candidate/*`; LSTM's peepholes `w_f_diag`, `w_i_diag`, `w_o_diag` and
`projection/kernel`.
"""

import tensorflow as tf

from tf1shim.layers import utils
from tf1shim.rnn import base
from tf1shim.rnn import lstm_kernel

_KERNEL = "kernel"
_BIAS = "bias"


def _activation(activation):
  return utils.get_activation(activation) if activation else tf.tanh


def _input_depth(cell, input_shape):
  depth = tf.TensorShape(input_shape)[-1]
  if depth is None:
    raise ValueError(
        "%s needs the last dimension of its inputs to create its kernel, but "
        "the inputs have shape %s. Give the inputs a static depth (e.g. "
        "inputs.set_shape([None, None, depth]) before dynamic_rnn)." %
        (type(cell).__name__, tf.TensorShape(input_shape)))
  return int(depth)


class BasicRNNCell(base.RNNCell):
  """`output = new_state = activation(W [inputs, state] + b)`."""

  def __init__(self, num_units, activation=None, reuse=None, name=None,
               dtype=None, **kwargs):
    super().__init__(_reuse=reuse, name=name, dtype=dtype, **kwargs)
    self._num_units = int(num_units)
    self._activation = _activation(activation)

  @property
  def state_size(self):
    return self._num_units

  @property
  def output_size(self):
    return self._num_units

  def create_variables(self, input_shape):
    depth = _input_depth(self, input_shape)
    self._kernel = self.add_tf1_variable(
        _KERNEL, [depth + self._num_units, self._num_units])
    self._bias = self.add_tf1_variable(
        _BIAS, [self._num_units], initializer=tf.compat.v1.zeros_initializer())

  def call(self, inputs, state):
    base.check_float_inputs(self, (inputs, state), "inputs/state")
    gate_inputs = tf.matmul(tf.concat([inputs, state], 1), self._kernel)
    output = self._activation(tf.nn.bias_add(gate_inputs, self._bias))
    return output, output


class GRUCell(base.RNNCell):
  """Gated recurrent unit; gate bias defaults to 1 as in TF1."""

  def __init__(self, num_units, activation=None, reuse=None,
               kernel_initializer=None, bias_initializer=None, name=None,
               dtype=None, **kwargs):
    super().__init__(_reuse=reuse, name=name, dtype=dtype, **kwargs)
    self._num_units = int(num_units)
    self._activation = _activation(activation)
    self._kernel_initializer = utils.get_initializer(kernel_initializer)
    self._bias_initializer = utils.get_initializer(bias_initializer)

  @property
  def state_size(self):
    return self._num_units

  @property
  def output_size(self):
    return self._num_units

  def create_variables(self, input_shape):
    depth = _input_depth(self, input_shape) + self._num_units
    units = self._num_units
    bias_init = self._bias_initializer
    self._gate_kernel = self.add_tf1_variable(
        "gates/" + _KERNEL, [depth, 2 * units],
        initializer=self._kernel_initializer)
    self._gate_bias = self.add_tf1_variable(
        "gates/" + _BIAS, [2 * units],
        initializer=bias_init if bias_init is not None else
        tf.compat.v1.constant_initializer(1.0))
    self._candidate_kernel = self.add_tf1_variable(
        "candidate/" + _KERNEL, [depth, units],
        initializer=self._kernel_initializer)
    self._candidate_bias = self.add_tf1_variable(
        "candidate/" + _BIAS, [units],
        initializer=bias_init if bias_init is not None else
        tf.compat.v1.zeros_initializer())

  def call(self, inputs, state):
    base.check_float_inputs(self, (inputs, state), "inputs/state")
    gate_inputs = tf.nn.bias_add(
        tf.matmul(tf.concat([inputs, state], 1), self._gate_kernel),
        self._gate_bias)
    r, u = tf.split(tf.sigmoid(gate_inputs), num_or_size_splits=2, axis=1)
    candidate = tf.nn.bias_add(
        tf.matmul(tf.concat([inputs, r * state], 1), self._candidate_kernel),
        self._candidate_bias)
    c = self._activation(candidate)
    new_h = u * state + (1 - u) * c
    return new_h, new_h


class BasicLSTMCell(base.RNNCell):
  """LSTM without peepholes, clipping or projection; `forget_bias` added."""

  def __init__(self, num_units, forget_bias=1.0, state_is_tuple=True,
               activation=None, reuse=None, name=None, dtype=None, **kwargs):
    super().__init__(_reuse=reuse, name=name, dtype=dtype, **kwargs)
    self._num_units = int(num_units)
    self._forget_bias = forget_bias
    self._state_is_tuple = state_is_tuple
    self._activation = _activation(activation)

  @property
  def state_size(self):
    if self._state_is_tuple:
      return base.LSTMStateTuple(self._num_units, self._num_units)
    return 2 * self._num_units

  @property
  def output_size(self):
    return self._num_units

  def create_variables(self, input_shape):
    depth = _input_depth(self, input_shape)
    self._kernel = self.add_tf1_variable(
        _KERNEL, [depth + self._num_units, 4 * self._num_units])
    self._bias = self.add_tf1_variable(
        _BIAS, [4 * self._num_units],
        initializer=tf.compat.v1.zeros_initializer())

  def call(self, inputs, state):
    base.check_float_inputs(self, (inputs, state), "inputs/state")
    if self._state_is_tuple:
      c, h = state
    else:
      c, h = tf.split(state, num_or_size_splits=2, axis=1)
    if lstm_kernel.fused_step_applies(inputs.dtype, self._activation,
                                      self._forget_bias, None):
      # The same step in TensorFlow's fused kernel (lstm_kernel.py).
      new_c, new_h = lstm_kernel.fused_step(
          inputs, c, h, self._kernel, self._bias, self._forget_bias)
    else:
      gate_inputs = tf.nn.bias_add(
          tf.matmul(tf.concat([inputs, h], 1), self._kernel), self._bias)
      # i = input gate, j = new input, f = forget gate, o = output gate.
      i, j, f, o = tf.split(gate_inputs, num_or_size_splits=4, axis=1)
      forget_bias = tf.constant(self._forget_bias, dtype=f.dtype)
      new_c = tf.add(tf.multiply(c, tf.sigmoid(tf.add(f, forget_bias))),
                     tf.multiply(tf.sigmoid(i), self._activation(j)))
      new_h = tf.multiply(self._activation(new_c), tf.sigmoid(o))
    if self._state_is_tuple:
      return new_h, base.LSTMStateTuple(new_c, new_h)
    return new_h, tf.concat([new_c, new_h], 1)


class LSTMCell(base.RNNCell):
  """LSTM with optional peepholes, cell clipping and a projection.

  Args (TF1's): num_units, use_peepholes, cell_clip, initializer (of the
  kernels and peepholes), num_proj, proj_clip, forget_bias, state_is_tuple,
  activation, reuse, name, dtype. `num_unit_shards`/`num_proj_shards`
  (partitioned kernels) exist in TF1 graphs only and are refused.
  """

  def __init__(self, num_units, use_peepholes=False, cell_clip=None,
               initializer=None, num_proj=None, proj_clip=None,
               num_unit_shards=None, num_proj_shards=None, forget_bias=1.0,
               state_is_tuple=True, activation=None, reuse=None, name=None,
               dtype=None, **kwargs):
    super().__init__(_reuse=reuse, name=name, dtype=dtype, **kwargs)
    if num_unit_shards is not None or num_proj_shards is not None:
      raise ValueError(
          "LSTMCell: num_unit_shards/num_proj_shards make partitioned "
          "variables, which tf1shim does not provide (TF1 deprecated them in "
          "2017). Remove them; shard large variables with a tf.distribute "
          "strategy instead.")
    self._num_units = int(num_units)
    self._use_peepholes = use_peepholes
    self._cell_clip = cell_clip
    self._initializer = utils.get_initializer(initializer)
    self._num_proj = None if num_proj is None else int(num_proj)
    self._proj_clip = proj_clip
    self._forget_bias = forget_bias
    self._state_is_tuple = state_is_tuple
    self._activation = _activation(activation)
    h_size = self._num_proj or self._num_units
    if state_is_tuple:
      self._state_size = base.LSTMStateTuple(self._num_units, h_size)
    else:
      self._state_size = self._num_units + h_size
    self._output_size = h_size

  @property
  def state_size(self):
    return self._state_size

  @property
  def output_size(self):
    return self._output_size

  def create_variables(self, input_shape):
    depth = _input_depth(self, input_shape)
    units = self._num_units
    h_depth = self._num_proj or units
    self._kernel = self.add_tf1_variable(
        _KERNEL, [depth + h_depth, 4 * units], initializer=self._initializer)
    self._bias = self.add_tf1_variable(
        _BIAS, [4 * units], initializer=tf.compat.v1.zeros_initializer())
    if self._use_peepholes:
      self._w_f_diag = self.add_tf1_variable(
          "w_f_diag", [units], initializer=self._initializer)
      self._w_i_diag = self.add_tf1_variable(
          "w_i_diag", [units], initializer=self._initializer)
      self._w_o_diag = self.add_tf1_variable(
          "w_o_diag", [units], initializer=self._initializer)
    if self._num_proj is not None:
      self._proj_kernel = self.add_tf1_variable(
          "projection/" + _KERNEL, [units, self._num_proj],
          initializer=self._initializer)

  def call(self, inputs, state):
    base.check_float_inputs(self, (inputs, state), "inputs/state")
    num_proj = self._num_proj or self._num_units
    if self._state_is_tuple:
      c_prev, m_prev = state
    else:
      c_prev = tf.slice(state, [0, 0], [-1, self._num_units])
      m_prev = tf.slice(state, [0, self._num_units], [-1, num_proj])
    if self._num_proj is None and lstm_kernel.fused_step_applies(
        inputs.dtype, self._activation, self._forget_bias, self._cell_clip):
      # The same step in TensorFlow's fused kernel (lstm_kernel.py); with a
      # projection h_prev has num_proj columns, which the kernel refuses.
      peepholes = ((self._w_i_diag, self._w_f_diag, self._w_o_diag)
                   if self._use_peepholes else None)
      c, m = lstm_kernel.fused_step(
          inputs, c_prev, m_prev, self._kernel, self._bias,
          self._forget_bias, peepholes)
      if self._state_is_tuple:
        return m, base.LSTMStateTuple(c, m)
      return m, tf.concat([c, m], 1)
    lstm_matrix = tf.nn.bias_add(
        tf.matmul(tf.concat([inputs, m_prev], 1), self._kernel), self._bias)
    i, j, f, o = tf.split(lstm_matrix, num_or_size_splits=4, axis=1)
    sigmoid = tf.sigmoid
    if self._use_peepholes:
      c = (sigmoid(f + self._forget_bias + self._w_f_diag * c_prev) * c_prev +
           sigmoid(i + self._w_i_diag * c_prev) * self._activation(j))
    else:
      c = (sigmoid(f + self._forget_bias) * c_prev +
           sigmoid(i) * self._activation(j))
    if self._cell_clip is not None:
      c = tf.clip_by_value(c, -self._cell_clip, self._cell_clip)
    if self._use_peepholes:
      m = sigmoid(o + self._w_o_diag * c) * self._activation(c)
    else:
      m = sigmoid(o) * self._activation(c)
    if self._num_proj is not None:
      m = tf.matmul(m, self._proj_kernel)
      if self._proj_clip is not None:
        m = tf.clip_by_value(m, -self._proj_clip, self._proj_clip)
    if self._state_is_tuple:
      return m, base.LSTMStateTuple(c, m)
    return m, tf.concat([c, m], 1)
