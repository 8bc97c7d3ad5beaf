"""Batch-norm statistics calibrated on data, in a TF1 graph.

A model trained a few steps at a TF1 decay (0.997 and more) keeps its
moving statistics near their initial values (mean 0, variance 1); in
inference every batch norm is then nearly the identity and deep networks'
activations grow layer after layer (resnet_v1_50's logits reached 5e6), far
from what a trained checkpoint gives, and float32 sums of that size differ
by whole units between CPU kernels. `batch_norm_calibration_ops` sets every
moving statistic to the batch's: TF1's own update with decay 0 (the value
UPDATE_OPS move the average towards, the fused kernel's Bessel-corrected
variance included), so inference normalizes as a trained network does.
"""

import tensorflow as tf

v1 = tf.compat.v1


def _batch_statistic(update):
  """The fused batch norm's batch statistic that an UPDATE_OPS op moves its
  moving average towards (output 1: mean, 2: variance)."""
  stack, seen = list(update.inputs[1:]), set()
  while stack:
    tensor = stack.pop()
    if tensor.name in seen:
      continue
    seen.add(tensor.name)
    if tensor.op.type.startswith("FusedBatchNorm"):
      if tensor.value_index in (1, 2):
        return tensor
      continue
    stack.extend(tensor.op.inputs)
  raise ValueError("No fused batch-norm statistic feeds %s." % update.name)


def batch_norm_calibration_ops():
  """In the default TF1 graph, built in training mode with fused batch
  norms: one op that sets every moving statistic (every global variable
  named `moving_*`) to the batch's, as UPDATE_OPS with decay 0 would.

  Raises:
    ValueError: an UPDATE_OPS op is not fed by a fused batch norm, or some
      moving statistic has no update.
  """
  assigns = []
  by_handle = {v.handle.name: v for v in v1.global_variables()
               if hasattr(v, "handle")}
  for update in v1.get_collection(v1.GraphKeys.UPDATE_OPS):
    update = getattr(update, "op", update)
    variable = by_handle[update.inputs[0].name]
    assigns.append(variable.assign(_batch_statistic(update)))
  moving = [v for v in v1.global_variables() if "moving_" in v.op.name]
  if len(assigns) != len(moving):
    raise ValueError("%d moving statistics, %d calibrated." % (
        len(moving), len(assigns)))
  return tf.group(*assigns)
