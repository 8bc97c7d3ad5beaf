"""The training setup every example shares: loss, optimizer, data.

One place, so that the tests, the golden checkpoint and the curriculum train
the same way (and a TF1 graph and a Keras 3 stage train identically:
`tf1shim.comparison.Optimizer` is the same optimizer on both sides). The
random tools the stages are compared under are `tf1shim.staging`'s.
"""

import tensorflow as tf

from tf1shim import comparison
from examples.data import pipeline

BATCH_SIZE = 32
LEARNING_RATE = 0.1
# Training steps compared stage against stage (the issue asks for >= 20).
EQUIVALENCE_STEPS = 20
OPTIMIZER = comparison.Optimizer("sgd", learning_rate=LEARNING_RATE)


def loss(labels, logits):
  """Mean softmax cross-entropy; written with TF ops, so it runs in a TF1
  graph and eagerly alike. Regularization losses are added by the caller."""
  return tf.reduce_mean(
      tf.nn.sparse_softmax_cross_entropy_with_logits(labels, logits))


def digits_batches(split, count, data_dir=None, transform=None):
  """The first `count` batches of the digits' `split` ("train" or "test"),
  in file order (`transform`: the example's `data_transform`): an example's
  sample batches."""
  return pipeline.numpy_batches(split, count, BATCH_SIZE, data_dir=data_dir,
                                transform=transform)


def equivalence_batches(data_dir=None, transform=None):
  """Batch 0 for the forward passes, then one batch per training step."""
  return digits_batches("train", EQUIVALENCE_STEPS + 1, data_dir, transform)


def test_batch(data_dir=None, transform=None):
  """The first test batch (checkpoint and export checks)."""
  return digits_batches("test", 1, data_dir, transform)[0]
