"""Stage 1, functional v1: the TF1 LSTM classifier, unchanged, in Keras 3.

`lstm_classifier` is TF1 sequence code as teams wrote it: each digit read as
a sequence of rows, its length found from the padding, a `dense` input
projection, a `MultiRNNCell` of two `LSTMCell`s (the first behind a
variational `DropoutWrapper` while training) unrolled by
`tf.compat.v1.nn.dynamic_rnn` with `sequence_length`, and `dense` logits on
the top layer's final state, L2 on the dense kernels. `tf1shim.install()`
brings `tf.compat.v1.nn.rnn_cell` back on Keras 3; `LSTMClassifier` runs the
function in a `track_tf1_style_variables`-decorated `call`, which keeps the
TF1 names (`rnn_model/rnn/multi_rnn_cell/cell_0/lstm_cell/kernel`, ...). The
function still runs in a TF1 graph: the tests' reference.
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


def lstm_classifier(images, training=False, num_classes=10):
  """The TF1 model function: images [batch, h, w, c] -> logits."""
  with v1.variable_scope("rnn_model"):
    sequences = tf.reshape(images, [-1, images.shape[1],
                                    images.shape[2] * images.shape[3]])
    lengths = sequence_lengths(sequences)
    x = v1.layers.dense(sequences, UNITS,
                        kernel_regularizer=l2_regularizer(L2_SCALE))
    first = v1.nn.rnn_cell.LSTMCell(UNITS)
    if training:
      # One input mask per sequence, the same at every step (variational).
      first = v1.nn.rnn_cell.DropoutWrapper(
          first, input_keep_prob=INPUT_KEEP_PROB, variational_recurrent=True,
          input_size=UNITS, dtype=tf.float32)
    cells = v1.nn.rnn_cell.MultiRNNCell([first, v1.nn.rnn_cell.LSTMCell(UNITS)])
    _, states = v1.nn.dynamic_rnn(cells, x, sequence_length=lengths,
                                  dtype=tf.float32)
    return v1.layers.dense(states[-1].h, num_classes,
                           kernel_regularizer=l2_regularizer(L2_SCALE))


@keras.saving.register_keras_serializable(package="examples.rnn.stage1")
class LSTMClassifier(keras.Model):
  """`lstm_classifier` as a Keras 3 model."""

  def __init__(self, num_classes=10, name="rnn_model", **kwargs):
    super().__init__(name=name, **kwargs)
    self.num_classes = num_classes

  @tf1shim.track_tf1_style_variables
  def call(self, images, training=False):
    return lstm_classifier(images, training=training,
                           num_classes=self.num_classes)

  def get_config(self):
    return {**super().get_config(), "num_classes": self.num_classes}


def build_model(num_classes=10):
  """The stage's model: `build_model()(images, training=...) -> logits`."""
  return LSTMClassifier(num_classes)


# The TF1 model function the tests run in a TF1 graph (stage 1 only).
TF1_MODEL_FN = lstm_classifier
