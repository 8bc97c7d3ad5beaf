"""A ported slim network as a `tf1shim.staging` migration.

`declare("resnet_v1_50")` is what `slim_port/<network>/migration.py` holds:
the network's four stages (builders bound to `NUM_CLASSES` classes, so
that the library's tests can import and call them by name), tf_slim's own
network in a TF1 graph as the TF1 model function, deterministic images as
sample batches, and a checkpoint written at test time by that TF1 graph
(trained a few steps, batch-norm statistics calibrated on data:
`reference.write_checkpoint`), too large to commit. The library gives the
standard stage tests; slim_port/staging/stage_tests.py adds slim's own.

Tolerances: stage 1 runs slim eagerly, the TF1 graph fuses convolution and
batch norm, and oneDNN and Eigen kernels differ per CPU: outputs and
gradients differ by float32 noise tied to the network's depth and fan-in
(`float32_noise`), relative to each value's scale
(`Migration.output_scale_tolerance`).
"""

import numpy as np
import tensorflow as tf

from tf1shim import comparison
from tf1shim import staging
from slim_port.staging import network as network_lib
from slim_port.staging import reference

# Fewer classes than the published checkpoints (1000, 1001): every
# network's classifier allows it, and its weights shrink (resnet_v1_50's
# logits layer from 2M to 20k values). The naming table does not depend on it.
NUM_CLASSES = 10
BATCH = 2
# Steps the checkpoint is trained, and steps the stages are compared over:
# few, the networks are large (the comparison checks the first step's
# gradients and every step's loss and variables).
TRAIN_STEPS = 2
EQUIVALENCE_STEPS = 1
TEST_SEED = 100
EPS32 = float(np.finfo(np.float32).eps)  # 1.2e-7
# Variables compared after a training-mode forward: the batch-norm moving
# averages moved once, by TF1's fused update in the graph and by Keras's
# `BatchNormalization` in later stages, which round differently (measured:
# 1.2e-7 absolute, 7e-6 relative, on moving means of 0.02).
TOLERANCES = comparison.Tolerances(variables_rtol=1e-5, variables_atol=1e-6)


def float32_noise(tf1_model_fn, input_shape):
  """The float32 noise of the network's outputs, per unit of their scale.

  A sum of K float32 terms is off by about EPS32 * sqrt(K) of the terms'
  size, and each layer passes its input's error on: over L weighted
  layers, EPS32 * sqrt(K_max) * L. From the TF1 graph's weights:
  resnet_v1_50 4.4e-4 (54 layers, K up to 3 * 3 * 512), inception_v1
  2.9e-4, vgg_16 3.0e-4. Measured between oneDNN and Eigen on one CPU: up
  to 4.4e-5 (end points of resnet_v1_50's block4). A wrong batch-norm
  epsilon or moving statistic changes outputs by 1e-2 or more.
  """
  with tf.Graph().as_default():
    tf1_model_fn(tf.compat.v1.placeholder(tf.float32, input_shape),
                 training=False)
    fan_ins = [int(np.prod(v.shape[:-1]))
               for v in tf.compat.v1.global_variables()
               if v.op.name.endswith("/weights")]
  return EPS32 * np.sqrt(max(fan_ins)) * len(fan_ins)


def declare(network_name, num_classes=NUM_CLASSES):
  """(the slim network `network_name` as a `staging.Migration`, its
  `network_lib.Network`)."""
  network = network_lib.load(network_name)
  size = network.test_input_size
  stages = staging.stages_from_modules(
      network_lib.stage_modules(network_name),
      builder_arguments={"num_classes": num_classes})

  def tf1_model_fn(images, training=False):
    return network.slim_model_fn(images, training, num_classes)[0]

  def sample_batches(split, count, data_dir=None):
    del data_dir  # generated, not read
    first = 0 if split == "train" else TEST_SEED
    return [reference.batch(BATCH, size, num_classes, seed)
            for seed in range(first, first + count)]

  def write_checkpoint(prefix):
    reference.write_checkpoint(network.slim_model_fn,
                               sample_batches("train", TRAIN_STEPS),
                               num_classes, prefix)

  migration = staging.Migration(
      name=network_name,
      tf1_model_fn=tf1_model_fn,
      stages=stages,
      sample_batches=sample_batches,
      loss=reference.loss,
      golden=staging.CheckpointWrittenAtTestTime(write_checkpoint),
      optimizer=comparison.Optimizer("sgd", reference.LEARNING_RATE),
      equivalence_steps=EQUIVALENCE_STEPS,
      tolerances=TOLERANCES,
      output_scale_tolerance=float32_noise(tf1_model_fn,
                                           (None, size, size, 3)),
      forbidden_in_last_stage=("tf1shim", "tf_slim"))
  return migration, network
