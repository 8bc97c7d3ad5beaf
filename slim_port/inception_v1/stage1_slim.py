"""Stage 1, slim: tf_slim's own `inception_v1`, unchanged, in a Keras 3 model.

`tf1shim.install()` repairs tf-slim on TF 2.21 (`tf1shim.slim_compat`: among
others `slim.batch_norm`, which fails without it), and `InceptionV1`'s
`call`, decorated with `track_tf1_style_variables`, runs the slim network
under its `inception_v1_arg_scope`: slim's variable names
(`InceptionV1/Mixed_3b/Branch_1/Conv2d_0b_3x3/weights`,
`.../BatchNorm/moving_mean`), so published slim checkpoints load by name;
the weight decay in `model.losses`; batch norm and dropout in training mode
when `training`, the moving averages updated by training calls (no
`UPDATE_OPS` to run).
"""

import keras
import numpy as np
import tf_slim as slim
from tf_slim.nets import inception_v1

import tf1shim

tf1shim.install()  # tf-slim on TF 2.21 / Keras 3, and the TF1 layers.

# The published checkpoint (inception_v1_2016_08_28) has a background class.
PUBLISHED_NUM_CLASSES = 1001
# The classifier averages the last 7x7 feature map with a 7x7 VALID pooling
# (`Logits/MaxPool_0a_7x7`, an average pool despite its name) and squeezes
# it to [batch, classes]; this tf-slim has no global-pool option. Five
# stride-2 SAME layers take the input to ceil(size / 32), which is 7 for
# sizes 193 to 224: 193, the smallest, costs three quarters of 224's work,
# and its odd sizes (97, 49, 25, 13, 7) exercise SAME's uneven padding.
TEST_INPUT_SIZE = 193


def slim_inception_v1(images, training=False,
                      num_classes=PUBLISHED_NUM_CLASSES):
  """The tf_slim network: images -> (logits, end_points)."""
  with slim.arg_scope(inception_v1.inception_v1_arg_scope()):
    return inception_v1.inception_v1(images, num_classes=num_classes,
                                     is_training=training)


@keras.saving.register_keras_serializable(
    package="slim_port.inception_v1.stage1")
class InceptionV1(keras.Model):
  """tf_slim's inception_v1 as a Keras 3 model."""

  def __init__(self, num_classes=PUBLISHED_NUM_CLASSES, name="InceptionV1",
               **kwargs):
    super().__init__(name=name, **kwargs)
    self.num_classes = num_classes

  @tf1shim.track_tf1_style_variables
  def call(self, images, training=False, return_end_points=False):
    logits, end_points = slim_inception_v1(images, training=training,
                                           num_classes=self.num_classes)
    return (logits, end_points) if return_end_points else logits

  def get_config(self):
    return {**super().get_config(), "num_classes": self.num_classes}


def build_model(num_classes=PUBLISHED_NUM_CLASSES, input_size=None):
  """The stage's model (built on zeros of `input_size` when given)."""
  model = InceptionV1(num_classes)
  if input_size:
    model(np.zeros((1, input_size, input_size, 3), np.float32))
  return model


# The TF1 reference the tests run in TF1 graphs.
SLIM_MODEL_FN = slim_inception_v1
