"""Stage 1, slim: tf_slim's own `vgg_16`, unchanged, inside a Keras 3 model.

`tf1shim.install()` repairs tf-slim on TF 2.21 (`tf1shim.slim_compat`), and
`VGG16`'s `call`, decorated with `track_tf1_style_variables`, runs the slim
network under its `vgg_arg_scope`: slim's variable names
(`vgg_16/conv1/conv1_1/weights`), so published slim checkpoints load by
name; the weight decay in `model.losses`; dropout on when `training`.
"""

import keras
import numpy as np
import tf_slim as slim
from tf_slim.nets import vgg

import tf1shim

tf1shim.install()  # tf-slim on TF 2.21 / Keras 3, and the TF1 layers.

PUBLISHED_NUM_CLASSES = 1000
# fc6 is a 7x7 VALID convolution over pool5: 224 is the smallest input.
TEST_INPUT_SIZE = 224


def slim_vgg_16(images, training=False, num_classes=PUBLISHED_NUM_CLASSES):
  """The tf_slim network: images -> (logits, end_points)."""
  with slim.arg_scope(vgg.vgg_arg_scope()):
    return vgg.vgg_16(images, num_classes=num_classes, is_training=training)


@keras.saving.register_keras_serializable(package="slim_port.vgg_16.stage1")
class VGG16(keras.Model):
  """tf_slim's vgg_16 as a Keras 3 model."""

  def __init__(self, num_classes=PUBLISHED_NUM_CLASSES, name="vgg_16",
               **kwargs):
    super().__init__(name=name, **kwargs)
    self.num_classes = num_classes

  @tf1shim.track_tf1_style_variables
  def call(self, images, training=False, return_end_points=False):
    logits, end_points = slim_vgg_16(images, training=training,
                                     num_classes=self.num_classes)
    return (logits, end_points) if return_end_points else logits

  def get_config(self):
    return {**super().get_config(), "num_classes": self.num_classes}


def build_model(num_classes=PUBLISHED_NUM_CLASSES, input_size=None):
  """The stage's model (built on zeros of `input_size` when given)."""
  model = VGG16(num_classes)
  if input_size:
    model(np.zeros((1, input_size, input_size, 3), np.float32))
  return model


# The TF1 reference the tests run in TF1 graphs.
SLIM_MODEL_FN = slim_vgg_16
