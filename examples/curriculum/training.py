"""The training setup every example shares: loss, optimizer, data, random tool.

One place, so that the tests, the golden checkpoint and the curriculum train
the same way (and a TF1 graph and a Keras 3 stage train identically:
`tf1shim.comparison.Optimizer` is the same optimizer on both sides).
"""

import tensorflow as tf

import tf1shim
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


def random_tool():
  """A fresh tool: every stage draws the same initial weights and dropout
  masks as the TF1 graph (random ops seeded by their index)."""
  return tf1shim.DeterministicRandomTestTool(mode="num_random_ops")


def equivalence_batches(data_dir=None):
  """Batch 0 for the forward passes, then one batch per training step: the
  first training batches of the digits, in file order."""
  return pipeline.numpy_batches("train", EQUIVALENCE_STEPS + 1, BATCH_SIZE,
                                data_dir=data_dir)


def test_batch(data_dir=None):
  """The first test batch (checkpoint and export checks)."""
  return pipeline.numpy_batches("test", 1, BATCH_SIZE, data_dir=data_dir)[0]
