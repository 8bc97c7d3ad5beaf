"""Stage 3, partially native: the first LSTM layer becomes `keras.layers.LSTM`.

`cell0` and its `DropoutWrapper` become a Keras 3 `LSTM` (returning the
whole sequence, masked by the sequence lengths) after a Keras `Dropout`;
the projection, the second cell and the logits stay TF1. What changes:

* Weights: Keras's LSTM keeps `kernel [input, 4 units]` and
  `recurrent_kernel [units, 4 units]` with the gates in the order i, f, c, o
  and the forget bias inside `bias`; TF1's `LSTMCell` keeps one
  `kernel [input + units, 4 units]` with the gates i, j (= c), f, o and adds
  `forget_bias` (1.0) at every step. A TF1 checkpoint loads through the
  transform rules in `TF1_NAMES`: rows, gate order, +1.0 on the f block.
* Dropout: the variational `DropoutWrapper` drew one [1, units] input mask
  per run, shared by batch and time steps; `keras.layers.Dropout` with
  `noise_shape=(1, 1, units)` draws the same mask (Keras's LSTM `dropout=`
  would draw one per sequence: another model).
* Sequence lengths: `mask=` (True up to each length). `dynamic_rnn` zeroes
  the outputs past the length and carries the state; Keras carries the
  last output and state. The second layer reads only steps within the
  length, and the classifier reads its final state, so both agree.
* Names: the second cell runs in its own `dynamic_rnn` under the scope its
  variables had (`rnn/multi_rnn_cell/cell_1`), so its TF1 names are kept;
  the Keras layer is named `lstm` in the model `rnn_model`.
"""

import keras
import tensorflow as tf

import tf1shim

tf1shim.install()  # tf.compat.v1.layers and nn.rnn_cell on Keras 3.
v1 = tf.compat.v1

UNITS = 16
L2_SCALE = 1e-3
INPUT_KEEP_PROB = 0.75

# Keras variable (regex) -> TF1 checkpoint name | transforms of the TF1 tensor.
TF1_NAMES = """
^rnn_model/lstm/lstm_cell/kernel$            ->  rnn_model/rnn/multi_rnn_cell/cell_0/lstm_cell/kernel | rows 0:16 | gates i,j,f,o -> i,f,j,o
^rnn_model/lstm/lstm_cell/recurrent_kernel$  ->  rnn_model/rnn/multi_rnn_cell/cell_0/lstm_cell/kernel | rows 16: | gates i,j,f,o -> i,f,j,o
^rnn_model/lstm/lstm_cell/bias$              ->  rnn_model/rnn/multi_rnn_cell/cell_0/lstm_cell/bias | gates i,j,f,o -> i,f,j,o | add f 1.0
"""


def l2_regularizer(scale):
  """TF1's `tf.contrib.layers.l2_regularizer`: `scale * sum(w ** 2) / 2`."""
  return lambda weights: scale * tf.nn.l2_loss(weights)


def sequence_lengths(sequences):
  """Steps up to the last one with any nonzero input: [batch, time, depth]
  -> [batch] int32 (padding is all-zero steps at the end)."""
  used = tf.cast(tf.reduce_max(tf.abs(sequences), 2) > 0, tf.int32)
  steps = tf.range(1, tf.shape(sequences)[1] + 1)
  return tf.reduce_max(used * steps, 1)


@keras.saving.register_keras_serializable(package="examples.rnn.stage3")
class LSTMClassifier(keras.Model):
  """The classifier: first LSTM layer Keras 3, the rest TF1."""

  def __init__(self, num_classes=10, name="rnn_model", **kwargs):
    super().__init__(name=name, **kwargs)
    self.num_classes = num_classes
    self.projection = v1.layers.Dense(
        UNITS, kernel_regularizer=l2_regularizer(L2_SCALE))
    self.input_dropout = keras.layers.Dropout(1.0 - INPUT_KEEP_PROB,
                                              noise_shape=(1, 1, UNITS))
    self.lstm = keras.layers.LSTM(UNITS, return_sequences=True, name="lstm")
    self.cell1 = v1.nn.rnn_cell.LSTMCell(UNITS)
    self.logits = v1.layers.Dense(
        num_classes, kernel_regularizer=l2_regularizer(L2_SCALE))

  @tf1shim.track_tf1_style_variables
  def call(self, images, training=False):
    with v1.variable_scope("rnn_model"):
      sequences = tf.reshape(images, [-1, images.shape[1],
                                      images.shape[2] * images.shape[3]])
      lengths = sequence_lengths(sequences)
      x = self.projection(sequences)
      x = self.input_dropout(x, training=training)
      x = self.lstm(x, mask=tf.sequence_mask(lengths, tf.shape(x)[1]),
                    training=training)
      _, state = v1.nn.dynamic_rnn(self.cell1, x, sequence_length=lengths,
                                   dtype=tf.float32,
                                   scope="rnn/multi_rnn_cell/cell_1")
      return self.logits(state.h)

  def get_config(self):
    return {**super().get_config(), "num_classes": self.num_classes}


def build_model(num_classes=10):
  """The stage's model: `build_model()(images, training=...) -> logits`."""
  return LSTMClassifier(num_classes)
