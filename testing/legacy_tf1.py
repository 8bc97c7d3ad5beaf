"""TF1 as the reference, in a subprocess with TF_USE_LEGACY_KERAS=1.

There `tf.compat.v1.layers` and `tf.compat.v1.nn.rnn_cell` are tf-keras's
legacy TF1 layers and cells (TF1's own code); `setup()` also lets tf-slim
1.1.0 run as on TF1: `slim.batch_norm` on tf-keras's legacy
BatchNormalization, and the names TF 2.21 moved put back where tf-slim looks
for them (the same objects), as slim_port/tests/slim_compat_test.py's
oracle does. tf1shim is not imported.
"""


def setup():
  """Prepares this (legacy-Keras) process; returns the `tensorflow` module."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  assert tf.keras.__name__.startswith("tf_keras"), (
      "run with TF_USE_LEGACY_KERAS=1", tf.keras.__name__)
  # pylint: disable=g-import-not-at-top
  from tensorflow.python.framework import indexed_slices
  from tensorflow.python.framework import ops
  from tensorflow.python.framework import tensor
  from tensorflow.python.layers import normalization as tf_normalization
  from tensorflow.python.ops import cond
  from tensorflow.python.ops import control_flow_ops
  from tf_keras.src.legacy_tf_layers import normalization as legacy
  # pylint: enable=g-import-not-at-top
  tf_normalization.normalization = legacy
  ops.Tensor = tensor.Tensor
  ops.IndexedSlices = indexed_slices.IndexedSlices
  control_flow_ops.cond = cond.cond
  return tf
