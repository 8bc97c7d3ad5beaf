"""Stage 2, OO v1: the dense layers and LSTM cells become objects in `__init__`.

The projection and logits become `tf.compat.v1.layers.Dense` objects, the
two cells `LSTMCell` objects, created once in `__init__` and called in the
same order inside `variable_scope("rnn_model")`. Unnamed, each takes its
TF1 name at its first call, in the scope it is called in (`dense`,
`rnn/multi_rnn_cell/cell_0/lstm_cell`, ...), so TF1 checkpoints still load,
and as attributes they are now in object-based checkpoints too.

Two things stay in `call`: the `MultiRNNCell`, which only sequences the
cells (no variables of its own), and the `DropoutWrapper`. A variational
`DropoutWrapper` draws its masks when it is constructed: in a TF1 graph
that made random ops, which drew anew at every `Session.run`; an object
built once in `__init__` under TF2 would draw one mask for the model's whole
life (and no wrapper at all belongs in inference).
"""

import keras
import tensorflow as tf

import tf1shim

tf1shim.install()  # tf.compat.v1.layers and nn.rnn_cell on Keras 3.
v1 = tf.compat.v1

UNITS = 16
L2_SCALE = 1e-3
INPUT_KEEP_PROB = 0.75


def l2_regularizer(scale):
  """TF1's `tf.contrib.layers.l2_regularizer`: `scale * sum(w ** 2) / 2`."""
  return lambda weights: scale * tf.nn.l2_loss(weights)


def sequence_lengths(sequences):
  """Steps up to the last one with any nonzero input: [batch, time, depth]
  -> [batch] int32 (padding is all-zero steps at the end)."""
  used = tf.cast(tf.reduce_max(tf.abs(sequences), 2) > 0, tf.int32)
  steps = tf.range(1, tf.shape(sequences)[1] + 1)
  return tf.reduce_max(used * steps, 1)


@keras.saving.register_keras_serializable(package="examples.rnn.stage2")
class LSTMClassifier(keras.Model):
  """The classifier with its TF1 layers and cells as attributes."""

  def __init__(self, num_classes=10, name="rnn_model", **kwargs):
    super().__init__(name=name, **kwargs)
    self.num_classes = num_classes
    self.projection = v1.layers.Dense(
        UNITS, kernel_regularizer=l2_regularizer(L2_SCALE))
    self.cell0 = v1.nn.rnn_cell.LSTMCell(UNITS)
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
      first = self.cell0
      if training:
        # Made per call: it draws its masks when constructed (see above).
        first = v1.nn.rnn_cell.DropoutWrapper(
            first, input_keep_prob=INPUT_KEEP_PROB,
            variational_recurrent=True, input_size=UNITS, dtype=tf.float32)
      cells = v1.nn.rnn_cell.MultiRNNCell([first, self.cell1])
      _, states = v1.nn.dynamic_rnn(cells, x, sequence_length=lengths,
                                    dtype=tf.float32)
      return self.logits(states[-1].h)

  def get_config(self):
    return {**super().get_config(), "num_classes": self.num_classes}


def build_model(num_classes=10):
  """The stage's model: `build_model()(images, training=...) -> logits`."""
  return LSTMClassifier(num_classes)
