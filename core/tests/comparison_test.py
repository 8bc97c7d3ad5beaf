"""The stage-comparison harness: equal stages match, broken ones are caught
with the right culprit, and the TF1 reference equals the eager shim."""

import re

import keras
import numpy as np
import pytest
import tensorflow as tf

import tf1shim
from tf1shim import comparison
from tf1shim import layers
from testing.pytest_main import pytest_main
from testing.shim_models import ShimLayer

v1 = tf.compat.v1
RNG = np.random.RandomState(0)
IMAGES = [(RNG.randn(8, 6, 6, 3).astype(np.float32),
           RNG.randint(0, 4, size=8).astype(np.int64)) for _ in range(6)]


def cross_entropy(labels, logits):
  return tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(
      labels=labels, logits=logits))


def tool():
  return tf1shim.DeterministicRandomTestTool(mode="num_random_ops")


def cnn(momentum=0.9, rate=0.3, kernel_regularizer="l2",
        bias_initializer=v1.zeros_initializer(), transposed=False):
  """A TF1 model function with batch norm and dropout; knobs to break it."""

  def model_fn(x, training=None):
    with v1.variable_scope("model"):
      out = layers.conv2d(x, 4, 3, use_bias=False,
                          kernel_regularizer=kernel_regularizer)
      out = layers.batch_normalization(out, momentum=momentum,
                                       training=training)
      out = tf.nn.relu(out)
      out = layers.flatten(out)
      out = layers.dropout(out, rate, training=training)
      with v1.variable_scope("logits"):
        units, features = 4, out.shape[-1]
        shape = [units, features] if transposed else [features, units]
        kernel = v1.get_variable("kernel", shape)
        bias = v1.get_variable("bias", [units], initializer=bias_initializer)
        return tf.matmul(out, kernel, transpose_b=transposed) + bias

  return model_fn


def shim_stage(model_fn):
  return lambda: ShimLayer(model_fn)


@pytest.mark.parametrize("optimizer", ["sgd", "momentum", "adam"])
def test_tf1_graph_equals_eager_shim_with_dropout_and_batch_norm(optimizer):
  # TF1's AdamOptimizer and Keras's Adam order their float ops differently;
  # near-zero weights then differ by a few 1e-6 after a few steps.
  tolerances = comparison.Tolerances(
      training_atol=1e-5 if optimizer == "adam" else 1e-6)
  report = comparison.assert_stages_match(
      comparison.tf1_graph(cnn()), shim_stage(cnn()), IMAGES, cross_entropy,
      optimizer=comparison.Optimizer(optimizer, learning_rate=0.05),
      random_tool=tool, tolerances=tolerances)
  assert len([c for c in report.checks if c.quantity.startswith("loss")]) == 5


@pytest.mark.parametrize("broken, quantity, where", [
    (dict(transposed=True), "variables", "model/logits/kernel"),
    (dict(kernel_regularizer=None), "regularization loss", ""),
    (dict(momentum=0.99), "variables",
     "model/batch_normalization/moving_mean"),
    (dict(rate=0.4), "output (training)", ""),
    (dict(bias_initializer=v1.ones_initializer()), "variables",
     "model/logits/bias"),
], ids=["transposed_kernel", "missing_regularizer", "bn_momentum",
        "dropout_rate", "bias_initializer"])
def test_broken_pairs_name_the_culprit(broken, quantity, where):
  report = comparison.compare_stages(
      shim_stage(cnn()), shim_stage(cnn(**broken)), IMAGES, cross_entropy,
      random_tool=tool)
  first = report.first_divergence
  assert first is not None, str(report)
  assert (first.quantity, first.where) == (quantity, where), str(report)
  assert first.max_abs_error > 0
  with pytest.raises(AssertionError,
                     match=re.escape("First divergence: " + quantity)):
    comparison.assert_stages_match(
        shim_stage(cnn()), shim_stage(cnn(**broken)), IMAGES,
        cross_entropy, random_tool=tool)


def test_each_broken_pair_also_diverges_from_the_tf1_graph():
  report = comparison.compare_stages(
      comparison.tf1_graph(cnn()), shim_stage(cnn(rate=0.4)), IMAGES,
      cross_entropy, random_tool=tool)
  assert report.first_divergence.quantity == "output (training)"


class NativeCNN(keras.layers.Layer):
  """The fully native stage of `cnn()`."""

  def __init__(self, rate=0.3, **kwargs):
    super().__init__(**kwargs)
    self.conv = keras.layers.Conv2D(4, 3, use_bias=False,
                                    kernel_regularizer="l2")
    self.bn = keras.layers.BatchNormalization(momentum=0.9, epsilon=1e-3)
    self.flatten = keras.layers.Flatten()
    self.dropout = keras.layers.Dropout(rate)
    self.logits = keras.layers.Dense(4)

  def call(self, x, training=None):
    out = tf.nn.relu(self.bn(self.conv(x), training=training))
    out = self.dropout(self.flatten(out), training=training)
    return self.logits(out)


NATIVE_TO_TF1 = [(r"^native_cnn(_\d+)?/conv2d(_\d+)?/", "model/conv2d/"),
                 (r"^native_cnn(_\d+)?/batch_normalization(_\d+)?/",
                  "model/batch_normalization/"),
                 (r"^native_cnn(_\d+)?/dense(_\d+)?/", "model/logits/")]


def test_native_stage_with_copied_weights_shows_the_batch_norm_pitfall():
  # Without the random tool, dropout masks differ: compare with rate 0.
  report = comparison.compare_stages(
      comparison.tf1_graph(cnn(rate=0.0)), lambda: NativeCNN(rate=0.0),
      IMAGES, cross_entropy, mapping=NATIVE_TO_TF1, copy_weights=True)
  by_quantity = {}
  for check in report.checks:
    by_quantity.setdefault(check.quantity, []).append(check)
  # Copied weights, same forward in training mode (batch statistics)...
  assert all(c.passed for c in by_quantity["output (training)"])
  assert all(c.passed for c in by_quantity["gradients"])
  # ...but Keras 3's BatchNormalization moves the variance without Bessel's
  # correction, TF1's fused batch norm with it: a real migration pitfall,
  # reported at its source.
  first = report.first_divergence
  assert first.quantity == "variables", str(report)
  assert first.where.endswith("moving_variance"), str(report)
  # Exactly Bessel's factor: TF1's update of the moving variance (from 1,
  # momentum 0.9) is n / (n - 1) times Keras 3's.
  reference = comparison.run_stage(comparison.tf1_graph(cnn(rate=0.0)),
                                   IMAGES[:1], cross_entropy,
                                   comparison.Optimizer(), create_first=True)
  candidate = comparison.run_stage(
      lambda: NativeCNN(rate=0.0), IMAGES[:1], cross_entropy,
      comparison.Optimizer(), initial_values=reference.initial_variables,
      mapping=NATIVE_TO_TF1)
  keras_name = [n for n in candidate.variables
                if n.endswith("moving_variance")][0]
  tf1_update = reference.variables[
      "model/batch_normalization/moving_variance"] - 0.9
  keras_update = candidate.variables[keras_name] - 0.9
  n = 8 * 4 * 4  # samples per channel
  np.testing.assert_allclose(tf1_update / keras_update, n / (n - 1),
                             rtol=1e-4)


def test_mapping_errors_are_reported_as_variable_divergences():
  report = comparison.compare_stages(
      shim_stage(cnn()), NativeCNN, IMAGES[:1], cross_entropy,
      random_tool=tool)  # no mapping: Keras paths are not TF1 names
  first = report.first_divergence
  assert first.quantity == "variables" and "no reference variable" in (
      first.detail)


def test_report_text_lists_every_check():
  report = comparison.compare_stages(
      shim_stage(cnn()), shim_stage(cnn()), IMAGES[:2], cross_entropy,
      random_tool=tool)
  text = str(report)
  assert text.startswith("The stages match")
  assert "loss at step 1" in text and "gradients [model/conv2d/kernel]" in (
      text)


if __name__ == "__main__":
  raise SystemExit(pytest_main(__file__))
