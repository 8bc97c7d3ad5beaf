"""Stage 1, slim: tf_slim's own `resnet_v1_50`, unchanged, inside a Keras 3 model.

`tf1shim.install()` repairs tf-slim on TF 2.21 (`tf1shim.slim_compat`: its
`batch_norm` among others), and `ResNetV1_50`'s `call`, decorated with
`track_tf1_style_variables`, runs the slim network under its
`resnet_arg_scope`: slim's variable names
(`resnet_v1_50/block1/unit_1/bottleneck_v1/conv1/weights`,
`.../conv1/BatchNorm/moving_mean`), so published slim checkpoints load by
name; the weight decay in `model.losses`; batch norm in training mode (and
its moving averages updated) when `training`.

tf-slim 1.1.0's `resnet_v1_50` returns 4-D logits `[batch, 1, 1, classes]`
(it has no `spatial_squeeze`); the model, like every stage, returns them
squeezed to `[batch, classes]`, and keeps slim's 4-D end points `logits`
and `predictions`.
"""

import keras
import numpy as np
import tensorflow as tf
import tf_slim as slim
from tf_slim.nets import resnet_v1

import tf1shim

tf1shim.install()  # tf-slim on TF 2.21 / Keras 3, and the TF1 layers.

PUBLISHED_NUM_CLASSES = 1000
# Global average pooling before the logits: any input size from 33 up works;
# at 64 block4 is 2x2.
TEST_INPUT_SIZE = 64


def slim_resnet_v1_50(images, training=False,
                      num_classes=PUBLISHED_NUM_CLASSES):
  """The tf_slim network: images -> (logits [batch, classes], end_points)."""
  with slim.arg_scope(resnet_v1.resnet_arg_scope()):
    logits, end_points = resnet_v1.resnet_v1_50(
        images, num_classes=num_classes, is_training=training)
  return tf.squeeze(logits, [1, 2], name="SpatialSqueeze"), end_points


@keras.saving.register_keras_serializable(
    package="slim_port.resnet_v1_50.stage1")
class ResNetV1_50(keras.Model):  # pylint: disable=invalid-name
  """tf_slim's resnet_v1_50 as a Keras 3 model."""

  def __init__(self, num_classes=PUBLISHED_NUM_CLASSES, name="resnet_v1_50",
               **kwargs):
    super().__init__(name=name, **kwargs)
    self.num_classes = num_classes

  @tf1shim.track_tf1_style_variables
  def call(self, images, training=False, return_end_points=False):
    logits, end_points = slim_resnet_v1_50(images, training=training,
                                           num_classes=self.num_classes)
    return (logits, end_points) if return_end_points else logits

  def get_config(self):
    return {**super().get_config(), "num_classes": self.num_classes}


def build_model(num_classes=PUBLISHED_NUM_CLASSES, input_size=None):
  """The stage's model (built on zeros of `input_size` when given)."""
  model = ResNetV1_50(num_classes)
  if input_size:
    model(np.zeros((1, input_size, input_size, 3), np.float32))
  return model


# The TF1 reference the tests run in TF1 graphs.
SLIM_MODEL_FN = slim_resnet_v1_50
