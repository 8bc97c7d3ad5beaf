"""inception_v1's stages: the standard tests of `tf1shim.staging` and slim's
(slim_port/staging/stage_tests.py), and two of its own, for every stage: slim's weight decay, and the moving
variances moving by the Bessel-corrected batch variance, as slim's fused
batch norm moves them.

Why the batch-norm test: slim's inception_v1 decays its averages by 0.9997, so
one training step changes a moving variance near 1 by 3e-4 times the batch
variance; the standard test's tolerance (1e-4) cannot tell the unbiased
batch variance (slim, `TF1BatchNormalization`) from the biased one (Keras
3's `BatchNormalization`). From moving variances set to 0, one step leaves
0.0003 * (batch variance) * n / (n - 1), and the biased variance is 1 / (n - 1)
smaller: 1% for the last modules (n = 2 * 7 * 7 values per channel at the
test's input size), 8e-4 for Mixed_3b (n = 2 * 25 * 25), 2e-4 for the
stem's last convolution (n = 2 * 49 * 49), 5e-5 for its first
(n = 2 * 97 * 97).

The tolerance is float32 noise, tied to the network: a batch variance
carries twice its inputs' relative error, and those are bounded by
`MIGRATION.output_scale_tolerance` (2.9e-4 here), so rtol = 5.7e-4. Measured,
correct stages agree within 6.4e-5 (oneDNN kernels) and 5.2e-5 (Eigen);
already at the first convolution, Keras's `ops.moments` and TF1's fused
kernel differ by 3.4e-5 (variances over 18818 values). So the biased
variance is told apart where 1 / (n - 1) exceeds the tolerance: every
Inception module (stage 4: all of them are Keras layers), not stage 3's
Keras stem, whose 2e-4 and 5e-5 are within float32 noise of other CPUs
(an earlier rtol of 1e-4 told them apart on one machine only). Stage 3's
stem uses stage 4's `ConvBN` pattern and `TF1BatchNormalization`, which
examples/batchnorm tests against numpy.
"""

import numpy as np
import pytest
import tensorflow as tf

from tf1shim import staging
from slim_port.inception_v1 import migration
from slim_port.staging import reference
from slim_port.staging import stage_tests
from testing.pytest_main import pytest_main

globals().update(stage_tests.test_namespace(migration.MIGRATION,
                                            migration.NETWORK))

MIGRATION, NETWORK = migration.MIGRATION, migration.NETWORK
NUM_CLASSES = MIGRATION.stage(1).builder_arguments["num_classes"]
v1 = tf.compat.v1


def _with_zero_moving_variances(prefix, out_prefix):
  """Writes `prefix`'s checkpoint with every moving_variance set to 0."""
  reader = tf.train.load_checkpoint(prefix)
  with tf.Graph().as_default():
    variables = {}
    for name in reader.get_variable_to_shape_map():
      value = reader.get_tensor(name)
      if name.endswith("/moving_variance"):
        value = np.zeros_like(value)
      variables[name] = v1.Variable(value, name=name)
    saver = v1.train.Saver(variables)
    with v1.Session() as sess:
      sess.run(v1.global_variables_initializer())
      saver.save(sess, out_prefix, write_meta_graph=False, write_state=False)
  return out_prefix


@pytest.fixture(scope="module")
def zero_variance_training(slim_checkpoint, tmp_path_factory):
  """(checkpoint, {moving_variance name: value after one graph training
  forward}) from moving variances set to 0."""
  prefix, images = slim_checkpoint
  zeroed = _with_zero_moving_variances(
      prefix, str(tmp_path_factory.mktemp("zeroed") / "model.ckpt"))
  _, values = reference.training_forward(
      NETWORK.slim_model_fn, images, NUM_CLASSES, zeroed,
      stage_tests.random_tool())
  return zeroed, {name: value for name, value in values.items()
                  if name.endswith("/moving_variance")}


@pytest.mark.parametrize("number", [1, 2, 3, 4])
def test_moving_variance_moves_by_the_unbiased_batch_variance(
    number, slim_checkpoint, zero_variance_training):
  _, images = slim_checkpoint
  zeroed, want = zero_variance_training
  stage = MIGRATION.stage(number)
  with stage_tests.random_tool().scope():
    model = stage_tests.restored(MIGRATION, stage, images, zeroed)
    model(images, training=True)
  names = stage.tf1_name_map(model)
  got = {names[staging.variable_name(v)]: v.numpy()
         for v in model.weights}
  assert len(want) == 57
  # Relative, elementwise: the values are 3e-4 times batch variances, and
  # the biased variance is off by the same 1 / (n - 1) in every element;
  # float32 noise, twice the activations' bound (see above).
  rtol = 2 * MIGRATION.output_scale_tolerance
  for name, value in want.items():
    np.testing.assert_allclose(got[name], value, rtol=rtol, atol=1e-10,
                               err_msg=name)


@pytest.mark.parametrize("number", [1, 2, 3, 4])
def test_weight_decay_is_slims(number, slim_checkpoint):
  """One L2 loss per convolution's weights, slim's `scale * sum(w**2) / 2`
  with inception_v1_arg_scope's weight_decay (0.00004): the standard tests
  do not look at regularization."""
  prefix, images = slim_checkpoint
  reader = tf.train.load_checkpoint(prefix)
  weights = [reader.get_tensor(name)
             for name in reader.get_variable_to_shape_map()
             if name.endswith("/weights")]
  want = sum(0.00004 * np.sum(np.square(w, dtype=np.float64)) / 2
             for w in weights)
  model = stage_tests.restored(MIGRATION, MIGRATION.stage(number), images)
  assert len(model.losses) == len(weights) == 58
  np.testing.assert_allclose(float(sum(model.losses)), want, rtol=1e-5)


if __name__ == "__main__":
  raise SystemExit(pytest_main(__file__))
