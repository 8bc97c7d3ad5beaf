"""Class 4: TF1's RNN API (cells, wrappers, dynamic/static/raw rnn)."""

import tensorflow as tf

from tf1_idioms.registry import idiom

v1 = tf.compat.v1


def rnn_cell():
  return v1.nn.rnn_cell


# PTB LM (tensorflow/models tutorials/rnn/ptb ptb_word_lm.py): MultiRNNCell
# of BasicLSTMCells (forget_bias=0), zero_state, unrolled by hand with
# reuse_variables().
@idiom(cls=4, inputs="seq")
def ptb_multi_lstm_unrolled(x, training):
  del training
  cells = [rnn_cell().BasicLSTMCell(3, forget_bias=0.0, state_is_tuple=True)
           for _ in range(2)]
  cell = rnn_cell().MultiRNNCell(cells, state_is_tuple=True)
  state = cell.zero_state(x.shape[0], tf.float32)
  outputs = []
  with v1.variable_scope("RNN"):
    for t in range(x.shape[1]):
      if t > 0:
        v1.get_variable_scope().reuse_variables()
      out, state = cell(x[:, t, :], state)
      outputs.append(out)
  return tf.stack(outputs, 1)


# Seq2seq encoders (TF1 NMT tutorial): dynamic_rnn over an LSTMCell with
# sequence_length.
@idiom(cls=4, inputs="seq")
def nmt_encoder_sequence_length(x, training):
  del training
  cell = rnn_cell().LSTMCell(3)
  outputs, state = v1.nn.dynamic_rnn(cell, x, sequence_length=[5, 3, 1],
                                     dtype=tf.float32, scope="encoder")
  return tf.concat([tf.reshape(outputs, [3, -1]), state.c, state.h], 1)


# Sentence encoders (TF1 code): GRUCell under dynamic_rnn, final state.
@idiom(cls=4, inputs="seq")
def gru_dynamic_rnn_final_state(x, training):
  del training
  _, state = v1.nn.dynamic_rnn(rnn_cell().GRUCell(4), x, dtype=tf.float32)
  return state


# Taggers (TF1 BiLSTM-CRF code): bidirectional_dynamic_rnn of LSTMCells,
# outputs concatenated.
@idiom(cls=4, inputs="seq")
def bilstm_tagger(x, training):
  del training
  (fw, bw), _ = v1.nn.bidirectional_dynamic_rnn(
      rnn_cell().LSTMCell(3), rnn_cell().LSTMCell(3), x,
      sequence_length=[5, 5, 4], dtype=tf.float32)
  return v1.layers.dense(tf.concat([fw, bw], -1), 2, name="proj")


# RNN tutorials (aymericdamien/TensorFlow-Examples, MIT): static_rnn over
# unstacked time steps.
@idiom(cls=4, inputs="seq")
def static_rnn_unstack(x, training):
  del training
  inputs = tf.unstack(x, axis=1)
  outputs, _ = v1.nn.static_rnn(rnn_cell().BasicRNNCell(4), inputs,
                                dtype=tf.float32)
  return outputs[-1]


# RNN tutorials (aymericdamien/TensorFlow-Examples, MIT):
# static_bidirectional_rnn of BasicLSTMCells.
@idiom(cls=4, inputs="seq")
def static_bidirectional_lstm(x, training):
  del training
  outputs, _, _ = v1.nn.static_bidirectional_rnn(
      rnn_cell().BasicLSTMCell(2), rnn_cell().BasicLSTMCell(2),
      tf.unstack(x, axis=1), dtype=tf.float32)
  return tf.stack(outputs, 1)


# PTB LM (tensorflow/models ptb_word_lm.py): DropoutWrapper with
# output_keep_prob, evaluated (keep_prob 1.0 outside training).
@idiom(cls=4, inputs="seq", training=False)
def dropout_wrapper_eval(x, training):
  keep_prob = 0.5 if training else 1.0
  cell = rnn_cell().DropoutWrapper(rnn_cell().LSTMCell(3),
                                   output_keep_prob=keep_prob)
  outputs, _ = v1.nn.dynamic_rnn(cell, x, dtype=tf.float32)
  return outputs


# GNMT (TF1 NMT tutorial): MultiRNNCell of GRUs with a ResidualWrapper on
# the upper layer.
@idiom(cls=4, inputs="seq")
def gnmt_residual_stack(x, training):
  del training
  cell = rnn_cell().MultiRNNCell([
      rnn_cell().GRUCell(4),
      rnn_cell().ResidualWrapper(rnn_cell().GRUCell(4))])
  outputs, _ = v1.nn.dynamic_rnn(cell, x, dtype=tf.float32)
  return outputs


# Speech models (TF1 code): LSTMCell with peepholes, a projection and
# cell clipping.
@idiom(cls=4, inputs="seq")
def lstm_peephole_projection(x, training):
  del training
  cell = rnn_cell().LSTMCell(4, use_peepholes=True, num_proj=2,
                             cell_clip=3.0)
  outputs, _ = v1.nn.dynamic_rnn(cell, x, dtype=tf.float32)
  return outputs


# Decoders (TF1 raw_rnn docs): raw_rnn with a loop_fn reading a
# TensorArray of inputs.
@idiom(cls=4, inputs="seq")
def raw_rnn_loop_fn(x, training):
  del training
  batch, steps, depth = x.shape.as_list()
  inputs_ta = tf.TensorArray(tf.float32, size=steps).unstack(
      tf.transpose(x, [1, 0, 2]))
  cell = rnn_cell().LSTMCell(3)

  def loop_fn(time, cell_output, cell_state, loop_state):
    emit = cell_output
    if cell_output is None:
      next_state = cell.zero_state(batch, tf.float32)
    else:
      next_state = cell_state
    finished = time >= steps
    next_input = tf.cond(tf.reduce_all(finished),
                         lambda: tf.zeros([batch, depth]),
                         lambda: inputs_ta.read(tf.minimum(time, steps - 1)))
    return (tf.fill([batch], finished), next_input, next_state, emit,
            loop_state)

  outputs_ta, _, _ = v1.nn.raw_rnn(cell, loop_fn)
  outputs = outputs_ta.stack()
  outputs.set_shape([steps, batch, 3])  # the while loop loses the length
  return tf.transpose(outputs, [1, 0, 2])


# Luong attention over an LSTM encoder (TF1 NMT tutorial style): dynamic_rnn
# then a dot-product attention with the final state.
@idiom(cls=4, inputs="seq")
def lstm_encoder_luong_attention(x, training):
  del training
  outputs, state = v1.nn.dynamic_rnn(rnn_cell().LSTMCell(4), x,
                                     dtype=tf.float32, scope="encoder")
  scores = tf.einsum("bsd,bd->bs", outputs, state.h)
  context = tf.einsum("bs,bsd->bd", tf.nn.softmax(scores), outputs)
  return v1.layers.dense(tf.concat([context, state.h], 1), 3,
                         activation=tf.tanh, name="attention_layer")
