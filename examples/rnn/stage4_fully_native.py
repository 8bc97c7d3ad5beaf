"""Stage 4, fully native: Keras 3 only, no TF1 API and no tf1shim.

The second cell becomes a second `keras.layers.LSTM`, the dense layers
`keras.layers.Dense` named `dense` and `dense_1` as TF1 named them, and the
sequence lengths `keras.ops`. The decorator and `variable_scope` go. Both
LSTM layers load the TF1 checkpoint through the transform rules in
`TF1_NAMES` (`tf1shim.checkpoints.restore_checkpoint`, or converted once to
`.weights.h5` with `tf1shim-ckpt convert`).

Written for speed (README, "Stage 4"; measured against the TF1 graph):
* both layers unrolled (`unroll=True`): the 8 steps are fixed, so no while
  loop;
* no mask: the model reads the second layer's output at each sequence's
  last step (`output_at_length`), which is TF1's final state `h`; the
  steps past a length (padding, at the end) are computed and never read,
  so the logits and gradients are those of a masked model, without the
  selects a mask costs at every step;
* the batch/time transposes of Keras's RNN paired with the model's own
  (`swap_batch_and_time`), which TensorFlow's graph optimizer removes.
"""

import keras
from keras import ops

UNITS = 16
L2_SCALE = 1e-3
INPUT_KEEP_PROB = 0.75

# Keras variable (regex) -> TF1 checkpoint name | transforms of the TF1 tensor.
TF1_NAMES = """
^rnn_model/lstm/lstm_cell/kernel$              ->  rnn_model/rnn/multi_rnn_cell/cell_0/lstm_cell/kernel | rows 0:16 | gates i,j,f,o -> i,f,j,o
^rnn_model/lstm/lstm_cell/recurrent_kernel$    ->  rnn_model/rnn/multi_rnn_cell/cell_0/lstm_cell/kernel | rows 16: | gates i,j,f,o -> i,f,j,o
^rnn_model/lstm/lstm_cell/bias$                ->  rnn_model/rnn/multi_rnn_cell/cell_0/lstm_cell/bias | gates i,j,f,o -> i,f,j,o | add f 1.0
^rnn_model/lstm_1/lstm_cell/kernel$            ->  rnn_model/rnn/multi_rnn_cell/cell_1/lstm_cell/kernel | rows 0:16 | gates i,j,f,o -> i,f,j,o
^rnn_model/lstm_1/lstm_cell/recurrent_kernel$  ->  rnn_model/rnn/multi_rnn_cell/cell_1/lstm_cell/kernel | rows 16: | gates i,j,f,o -> i,f,j,o
^rnn_model/lstm_1/lstm_cell/bias$              ->  rnn_model/rnn/multi_rnn_cell/cell_1/lstm_cell/bias | gates i,j,f,o -> i,f,j,o | add f 1.0
"""


def sequence_lengths(sequences):
  """Steps up to the last one with any nonzero input: [batch, time, depth]
  -> [batch] int32 (padding is all-zero steps at the end), what TF1's
  `sequence_length` said."""
  used = ops.cast(ops.max(ops.abs(sequences), axis=2) > 0, "int32")
  steps = ops.arange(1, ops.shape(sequences)[1] + 1, dtype="int32")
  return ops.max(used * steps, axis=1)


def time_major_copy(x):
  """[batch, time, depth] -> [time, batch, depth], by unstack and stack."""
  return ops.stack(ops.unstack(x, axis=1))


def swap_batch_and_time(x):
  """[batch, time, depth] <-> [time, batch, depth].

  Keras's RNN on TensorFlow runs time-major: it transposes its input to
  [time, batch, depth] and a returned sequence back. On TensorFlow's CPU
  build a Transpose runs oneDNN's kernel, 0.09-0.26 ms for these 32 x 8 x
  16 floats in our op profiles (a forward pass is 0.5-0.9 ms); TensorFlow's
  graph optimizer removes a transpose that undoes another. So the model
  hands the first layer this swap of a time-major copy (`time_major_copy`,
  10-25 us under the profiler) and reads the second layer's sequence
  through this swap: under `tf.function` (fit, predict) no transpose runs.
  Eagerly (no graph optimizer) they all run.
  """
  return ops.transpose(x, (1, 0, 2))


def output_at_length(outputs, lengths):
  """Each sequence's output at its last step, TF1's final state `h`:
  outputs [time, batch, units], lengths [batch] -> [batch, units] (zeros
  for length 0, TF1's zero initial state).

  A one-hot sum, exact: the other steps' outputs (finite: an LSTM's `h` is
  in (-1, 1)) times 0 add zeros, and their gradient is 0, as under a mask.
  """
  last = ops.one_hot(lengths - 1, ops.shape(outputs)[0], axis=0,
                     dtype=outputs.dtype)
  return ops.sum(outputs * last[:, :, None], axis=0)


@keras.saving.register_keras_serializable(package="examples.rnn.stage4")
class LSTMClassifier(keras.Model):
  """The classifier in Keras 3."""

  def __init__(self, num_classes=10, name="rnn_model", **kwargs):
    super().__init__(name=name, **kwargs)
    self.num_classes = num_classes
    self.projection = keras.layers.Dense(
        UNITS, kernel_initializer="glorot_uniform",
        kernel_regularizer=keras.regularizers.L2(L2_SCALE / 2), name="dense")
    self.input_dropout = keras.layers.Dropout(1.0 - INPUT_KEEP_PROB,
                                              noise_shape=(1, 1, UNITS))
    # unroll: 8 steps of straight-line ops, faster than a while loop here;
    # it needs a fixed number of steps.
    self.lstm = keras.layers.LSTM(UNITS, return_sequences=True, unroll=True,
                                  name="lstm")
    self.lstm_1 = keras.layers.LSTM(UNITS, return_sequences=True,
                                    unroll=True, name="lstm_1")
    self.logits = keras.layers.Dense(
        num_classes, kernel_initializer="glorot_uniform",
        kernel_regularizer=keras.regularizers.L2(L2_SCALE / 2),
        name="dense_1")

  def call(self, images, training=False):
    shape = ops.shape(images)
    sequences = ops.reshape(images, (-1, shape[1], shape[2] * shape[3]))
    lengths = sequence_lengths(sequences)
    x = self.projection(sequences)
    x = self.input_dropout(x, training=training)
    # Unmasked, both layers also run over the padding; only the outputs
    # at the lengths are read (`output_at_length`), and an LSTM's output
    # at a step depends on no later step.
    x = self.lstm(swap_batch_and_time(time_major_copy(x)), training=training)
    x = self.lstm_1(x, training=training)
    return self.logits(output_at_length(swap_batch_and_time(x), lengths))

  def get_config(self):
    return {**super().get_config(), "num_classes": self.num_classes}


def build_model(num_classes=10):
  """The stage's model: `build_model()(images, training=...) -> logits`."""
  return LSTMClassifier(num_classes)
