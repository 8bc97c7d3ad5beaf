"""Stage 4, fully native: Keras 3 only, no TF1 API and no tf1shim.

The second cell becomes a second `keras.layers.LSTM` (returning its final
output, which under the mask is the output at each sequence's last step:
TF1's final state `h`), the dense layers `keras.layers.Dense` named `dense`
and `dense_1` as TF1 named them, and the sequence lengths and mask
`keras.ops`. The decorator and `variable_scope` go. Both LSTM layers load
the TF1 checkpoint through the transform rules in `TF1_NAMES`
(`tf1shim.checkpoints.restore_checkpoint`, or converted once to
`.weights.h5` with `tf1shim-ckpt convert`).
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


def sequence_mask(sequences):
  """True up to each sequence's last step with any nonzero input:
  [batch, time, depth] -> [batch, time] (padding: all-zero steps at the
  end), what TF1's `sequence_length` said."""
  used = ops.cast(ops.max(ops.abs(sequences), axis=2) > 0, "int32")
  steps = ops.arange(1, ops.shape(sequences)[1] + 1, dtype="int32")
  lengths = ops.max(used * steps, axis=1)
  return steps[None, :] <= lengths[:, None]


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
    self.lstm = keras.layers.LSTM(UNITS, return_sequences=True, name="lstm")
    self.lstm_1 = keras.layers.LSTM(UNITS, name="lstm_1")
    self.logits = keras.layers.Dense(
        num_classes, kernel_initializer="glorot_uniform",
        kernel_regularizer=keras.regularizers.L2(L2_SCALE / 2),
        name="dense_1")

  def call(self, images, training=False):
    shape = ops.shape(images)
    sequences = ops.reshape(images, (-1, shape[1], shape[2] * shape[3]))
    mask = sequence_mask(sequences)
    x = self.projection(sequences)
    x = self.input_dropout(x, training=training)
    x = self.lstm(x, mask=mask, training=training)
    x = self.lstm_1(x, mask=mask, training=training)
    return self.logits(x)

  def get_config(self):
    return {**super().get_config(), "num_classes": self.num_classes}


def build_model(num_classes=10):
  """The stage's model: `build_model()(images, training=...) -> logits`."""
  return LSTMClassifier(num_classes)
