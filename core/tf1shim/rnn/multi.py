"""`MultiRNNCell`: cells stacked, each in its scope `cell_<i>`.

As TF1's (tf-keras `legacy_cells.py`, Copyright 2015 The TensorFlow Authors,
Apache-2.0): called in `rnn`, the variables are
`rnn/multi_rnn_cell/cell_0/lstm_cell/kernel`, ...
"""

import tensorflow as tf

from tf1shim.rnn import base


class MultiRNNCell(base.RNNCell):
  """Runs `cells` in order, the output of each the input of the next.

  Args:
    cells: a non-empty list or tuple of RNN cells.
    state_is_tuple: states as an n-tuple (True) or concatenated on axis 1.
  """

  def __init__(self, cells, state_is_tuple=True):
    super().__init__()
    if not isinstance(cells, (list, tuple)):
      raise TypeError("MultiRNNCell: `cells` must be a list or tuple of RNN "
                      "cells, but received: %r." % (cells,))
    if not cells:
      raise ValueError("MultiRNNCell: `cells` is empty; give at least one "
                       "cell.")
    if not state_is_tuple and any(tf.nest.is_nested(c.state_size)
                                  for c in cells):
      raise ValueError(
          "MultiRNNCell: some cells have tuple states but state_is_tuple is "
          "False. State sizes are: %s. Pass state_is_tuple=True." %
          ([c.state_size for c in cells],))
    # A tuple: Keras tracks the cells (weights, checkpoints) without
    # wrapping them in a list of its own.
    self._cells = tuple(cells)
    self._state_is_tuple = state_is_tuple

  @property
  def state_size(self):
    if self._state_is_tuple:
      return tuple(cell.state_size for cell in self._cells)
    return sum(cell.state_size for cell in self._cells)

  @property
  def output_size(self):
    return self._cells[-1].output_size

  def zero_state(self, batch_size, dtype):
    with tf.name_scope(type(self).__name__ + "ZeroState"):
      if self._state_is_tuple:
        return tuple(cell.zero_state(batch_size, dtype)
                     for cell in self._cells)
      return base.zero_state_tensors(self.state_size, batch_size, dtype)

  def _graph_weights(self):
    # TF1's MultiRNNCell lists its cells' weights (a wrapper lists none).
    trainable, others = [], []
    for cell in self._cells:
      if isinstance(cell, base.RNNCell):
        trainable += cell.trainable_weights
        others += cell.non_trainable_weights
    if not self.trainable:
      return [], trainable + others
    return trainable, others

  def __call__(self, inputs, state, scope=None, **kwargs):
    # The stacked cells make the variables (in `cell_<i>/...`); this cell
    # only opens its scope, so nothing to build.
    del kwargs
    with self._variable_context(scope), self._capturing_graph_variables():
      self.built = True
      return self.call(inputs, state)

  def call(self, inputs, state):
    position = 0
    current = inputs
    new_states = []
    for i, cell in enumerate(self._cells):
      with tf.compat.v1.variable_scope("cell_%d" % i):
        if self._state_is_tuple:
          if not tf.nest.is_nested(state):
            raise ValueError(
                "MultiRNNCell: expected `state` to be a tuple of length %d "
                "(one state per cell), but received: %s" %
                (len(self.state_size), state))
          cell_state = state[i]
        else:
          cell_state = tf.slice(state, [0, position], [-1, cell.state_size])
          position += cell.state_size
        current, new_state = cell(current, cell_state)
        new_states.append(new_state)
    if self._state_is_tuple:
      return current, tuple(new_states)
    return current, tf.concat(new_states, 1)
