"""tf_slim's networks in the course: short runs on the digits, small inputs.

Each slim network of `slim_port/` (four stages, slim's names through each
stage's `TF1_NAMES`) becomes a course example: the digits resized to the
network's smallest convenient input (gray repeated on three channels), ten
classes, a few steps of a few images (the networks are large; the course
shows that the stages train alike, not a trained network). The reference
row is tf_slim's own network (stage 1's `SLIM_MODEL_FN`) in a TF1 graph.
They have no golden checkpoint (`slim_port`'s tests write theirs), and the
stage comparison is `slim_port`'s tests' (with tolerances tied to each
network's scale), not the course's.

The course takes each network as `slim_port/<network>/migration.py`
declares it, a `tf1shim.staging.Migration` (its stages, with builders bound
to ten classes, and its TF1 model function), found by module name: the
curriculum imports nothing of `slim_port`, the two wings share only the
library.

Batch-norm statistics: the rows start from stage 1's initial weights with
the moving statistics calibrated on the first batch (TF1's own update with
decay 0, `tf1shim.staging.batch_norm_calibration_ops`). A few steps at
slim's decay (0.997) would leave them at mean 0, variance 1, and in
inference resnet_v1_50's activations grow to 1e18 (measured): calibrated,
the loss after training is that of a network, not an overflow.

Train loss: the mean training-mode loss of the last `TRAIN_LOSS_LAST_STEPS`
steps (each step's loss before its update, batch norm on the batch's
statistics), the loss these rows train on, equal in every row to float32
rounding like each step's. Not the inference-mode loss over the train split
the small examples show: after training, the statistics calibrated before
it no longer fit the weights, and that loss read 1577 (resnet_v1_50) and
2294 (inception_v1), where the training-mode losses of the last steps
average 5.1 and 2.5 (examples/README.md).
"""

import dataclasses
import importlib
import os

import tensorflow as tf

from tf1shim import comparison
from tf1shim import staging
from examples.curriculum import example as example_lib
from examples.curriculum import training

# The examples' SGD at 0.1 (and slim's reference's 0.01) throw these large
# networks, untrained, out of their calibrated statistics within a few steps
# (resnet_v1_50's loss rose from 6.5 to 13 in 4 steps at 0.01): smaller steps.
OPTIMIZER = comparison.Optimizer("sgd", learning_rate=0.001)
# The train loss column: the mean of the last steps' training-mode losses
# (one step's, on a few images, is noisy).
TRAIN_LOSS_LAST_STEPS = 5


@dataclasses.dataclass(frozen=True)
class Setting:
  input_size: int  # see each stage1_slim.py's TEST_INPUT_SIZE
  batch_size: int
  steps: int  # at most, per row
  eval_examples: int  # of each split, after training


SETTINGS = {
    # Global average pooling: any size from 33; at 64 block4 is 2x2.
    "resnet_v1_50": Setting(64, 8, 20, 128),
    # A 7x7 VALID pool on the last map: 193 is the smallest input.
    "inception_v1": Setting(193, 4, 8, 32),
    # fc6 is a 7x7 VALID convolution over pool5: 224 is the smallest input.
    "vgg_16": Setting(224, 2, 5, 16),
}


def _to_network_input(size):
  def transform(image, label):
    image = tf.image.resize(image, (size, size))
    return tf.image.grayscale_to_rgb(image), label
  return transform


def _calibrated(tf1_model_fn):
  """`prepare_initial`: the moving statistics set to the batch's."""
  v1 = tf.compat.v1

  def prepare(initial, images):
    with tf.Graph().as_default():
      inputs = v1.placeholder(tf.float32, (None,) + images.shape[1:])
      tf1_model_fn(inputs, training=True)
      variables = {v.op.name: v for v in v1.global_variables()}
      assign = [variables[name].assign(value)
                for name, value in initial.items()]
      calibrate = staging.batch_norm_calibration_ops()
      moving = {name: v for name, v in variables.items()
                if "moving_" in name}
      with v1.Session() as sess:
        sess.run(assign)
        sess.run(calibrate, {inputs: images})
        return {**initial, **sess.run(moving)}
  return prepare


def _declared_migration(name):
  """(the network's `tf1shim.staging.Migration`, its folder), from
  `slim_port/<name>/migration.py`."""
  module = importlib.import_module("slim_port.%s.migration" % name)
  return module.MIGRATION, os.path.dirname(os.path.abspath(module.__file__))


def load(name):
  """The slim network `name` as a course example (`example.Example`)."""
  migration, folder = _declared_migration(name)
  setting = SETTINGS[name]
  transform = _to_network_input(setting.input_size)
  # Its builders are bound to its number of classes: the course's.
  stages = migration.stages
  tf1_model_fn = migration.tf1_model_fn

  def sample_batches(split, count, data_dir=None):
    from examples.data import pipeline  # pylint: disable=g-import-not-at-top
    return pipeline.numpy_batches(split, count, setting.batch_size,
                                  data_dir=data_dir, transform=transform)

  return example_lib.Example(
      name=name, tf1_model_fn=tf1_model_fn, stages=stages,
      sample_batches=sample_batches, loss=training.loss, golden=None,
      optimizer=OPTIMIZER, equivalence_steps=2,
      data_transform=transform, batch_size=setting.batch_size,
      max_course_steps=setting.steps, eval_examples=setting.eval_examples,
      eval_batch_size=setting.batch_size, lessons_folder=folder,
      compared_in_course=False, prepare_initial=_calibrated(tf1_model_fn),
      train_loss_last_steps=TRAIN_LOSS_LAST_STEPS)
