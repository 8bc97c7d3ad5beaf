"""TF1 LSTM and GRU models and their Keras 3 counterparts, with the rules
that carry a TF1 checkpoint across (tensor transforms), for the tests of
those rules in the library (core/tests/rules_transform_test.py) and in the
`ckpt` tool (tools/ckpt_test.py, which names these factories as
`--model testing.rnn_checkpoint_models:keras_lstm`).

The TF1 side runs `tf1shim.rnn`'s cells (equal to tf-keras's legacy cells,
core/tests/rnn_cells_test.py) in a `tf.compat.v1.Graph` through
`dynamic_rnn`; checkpoints are written by `tf.compat.v1.train.Saver` after
every variable is set to random values, so each gate block differs from the
others and the biases are not zero: a wrong gate order or a missing forget
bias changes the outputs.
"""

import os

import keras
import numpy as np
import tensorflow as tf

import tf1shim

v1 = tf.compat.v1
BATCH, TIME, DEPTH = 3, 5, 4
X = np.random.RandomState(0).randn(BATCH, TIME, DEPTH).astype(np.float32)

# Two stacked LSTMs: the first reads DEPTH = 4 inputs, the second the 6
# outputs of the first, so each layer's `rows` split differs.
LSTM_RULES = r"""
# Keras 3 LSTM (i,f,c,o; forget bias in `bias`) <- TF1 LSTMCell (i,j,f,o)
^rnn_model/lstm_0/lstm_cell/kernel$            ->  rnn/multi_rnn_cell/cell_0/lstm_cell/kernel | rows 0:4 | gates i,j,f,o -> i,f,j,o
^rnn_model/lstm_0/lstm_cell/recurrent_kernel$  ->  rnn/multi_rnn_cell/cell_0/lstm_cell/kernel | rows 4: | gates i,j,f,o -> i,f,j,o
^rnn_model/lstm_0/lstm_cell/bias$              ->  rnn/multi_rnn_cell/cell_0/lstm_cell/bias | gates i,j,f,o -> i,f,j,o | add f 1.0
^rnn_model/lstm_1/lstm_cell/kernel$            ->  rnn/multi_rnn_cell/cell_1/lstm_cell/kernel | rows 0:6 | gates i,j,f,o -> i,f,j,o
^rnn_model/lstm_1/lstm_cell/recurrent_kernel$  ->  rnn/multi_rnn_cell/cell_1/lstm_cell/kernel | rows 6: | gates i,j,f,o -> i,f,j,o
^rnn_model/lstm_1/lstm_cell/bias$              ->  rnn/multi_rnn_cell/cell_1/lstm_cell/bias | gates i,j,f,o -> i,f,j,o | add f 1.0
"""

# Keras 3 GRU(reset_after=False): z,r,h blocks; TF1 GRUCell: gates (r,u)
# and candidate (h) kernels; TF1's u is Keras's z.
GRU_RULES = r"""
^rnn_model/gru/gru_cell/kernel$            ->  concat(rnn/gru_cell/gates/kernel | rows 0:4 | gates r,u -> u,r ; rnn/gru_cell/candidate/kernel | rows 0:4)
^rnn_model/gru/gru_cell/recurrent_kernel$  ->  concat(rnn/gru_cell/gates/kernel | rows 4: | gates r,u -> u,r ; rnn/gru_cell/candidate/kernel | rows 4:)
^rnn_model/gru/gru_cell/bias$              ->  concat(rnn/gru_cell/gates/bias | gates r,u -> u,r ; rnn/gru_cell/candidate/bias)
"""

# The mistake transforms exist to catch: TF1's gate order kept.
WRONG_GATES = LSTM_RULES.replace("i,j,f,o -> i,f,j,o", "i,j,f,o -> i,j,f,o")


def tf1_lstm(x, training=None):
  del training
  stack = tf1shim.rnn.MultiRNNCell([tf1shim.rnn.LSTMCell(6),
                                    tf1shim.rnn.LSTMCell(5)])
  outputs, _ = v1.nn.dynamic_rnn(stack, x, dtype=tf.float32)
  return outputs


def tf1_gru(x, training=None):
  del training
  outputs, _ = v1.nn.dynamic_rnn(tf1shim.rnn.GRUCell(5), x,
                                 dtype=tf.float32)
  return outputs


def keras_lstm():
  return keras.Sequential([
      keras.Input((TIME, DEPTH)),
      keras.layers.LSTM(6, return_sequences=True, name="lstm_0"),
      keras.layers.LSTM(5, return_sequences=True, name="lstm_1")],
      name="rnn_model")


def keras_gru():
  return keras.Sequential([
      keras.Input((TIME, DEPTH)),
      keras.layers.GRU(5, return_sequences=True, reset_after=False,
                       name="gru")], name="rnn_model")


def write_tf1_checkpoint(directory, model_fn):
  """`model_fn` in a TF1 graph, variables random, saved by Saver: (prefix,
  the graph's outputs on X)."""
  rng = np.random.RandomState(1)
  with tf.Graph().as_default():
    x = v1.placeholder(tf.float32, [None, TIME, DEPTH])
    outputs = model_fn(x)
    with v1.Session() as sess:
      sess.run(v1.global_variables_initializer())
      for v in v1.global_variables():
        sess.run(v.assign(rng.uniform(-0.5, 0.5, v.shape).astype(
            np.float32)))
      prefix = v1.train.Saver().save(sess, os.path.join(directory,
                                                        "model.ckpt"))
      return prefix, sess.run(outputs, {x: X})
