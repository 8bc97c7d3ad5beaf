"""Stage 4, Keras 3: resnet_v1_50 with no TF1 API, no tf1shim and no tf-slim.

Blocks 2 to 4 and the logits become Keras 3 too: the whole network is the
custom layers of `keras_layers.py` (`ConvBN`, `Bottleneck`, `ResNetBlock`,
which stage 3 used for its root and block1), the global average pooling
`pool5` is `ops.mean`, and `logits` a 1x1 `Conv2D` with bias (slim's
`logits` are a convolution: published weights fit as they are).
`model(images, return_end_points=True)` gives slim's end points under
slim's names (every `slim.conv2d` output, each unit's and block's output,
the 4-D `logits` and `predictions`); logits are returned squeezed to
`[batch, classes]`.

Slim checkpoints load through the naming table `slim_names.rules` (data:
Keras 3 paths -> slim names), with `tf1shim.checkpoints.restore_checkpoint`
or converted once with the checkpoint CLI:

    tf1shim-ckpt convert resnet_v1_50.ckpt --to keras resnet_v1_50.weights.h5 \\
        --model slim_port.resnet_v1_50.stage4_keras:published_model \\
        --rules slim_port/resnet_v1_50/slim_names.rules
"""

import os

import keras
import numpy as np
from keras import ops

from slim_port.resnet_v1_50 import keras_layers

PUBLISHED_NUM_CLASSES = 1000
PUBLISHED_INPUT_SIZE = 224

with open(os.path.join(os.path.dirname(os.path.abspath(__file__)),
                       "slim_names.rules")) as _table:
  TF1_NAMES = _table.read()


@keras.saving.register_keras_serializable(
    package="slim_port.resnet_v1_50.stage4")
class ResNetV1_50(keras.Model):  # pylint: disable=invalid-name
  """resnet_v1_50 in Keras 3, with slim's end points."""

  def __init__(self, num_classes=PUBLISHED_NUM_CLASSES, name="resnet_v1_50",
               **kwargs):
    super().__init__(name=name, **kwargs)
    self.num_classes = num_classes
    self.conv1, self.pool1, self.blocks = keras_layers.root_and_blocks()
    self.logits = keras.layers.Conv2D(
        num_classes, 1, padding="same", use_bias=True,
        kernel_initializer=keras_layers.kernel_initializer(),
        bias_initializer="zeros",
        kernel_regularizer=keras_layers.kernel_regularizer(), name="logits")

  def call(self, images, training=False, return_end_points=False):
    end_points = {}
    net = self.conv1(images, training=training)
    end_points["resnet_v1_50/conv1"] = net
    net = self.pool1(net)
    for block in self.blocks:
      net, block_points = block(net, training=training)
      end_points.update({"resnet_v1_50/%s/%s" % (block.name, key): value
                         for key, value in block_points.items()})
      end_points["resnet_v1_50/" + block.name] = net
    net = ops.mean(net, axis=(1, 2), keepdims=True)  # pool5
    net = self.logits(net)
    end_points["resnet_v1_50/logits"] = net
    end_points["predictions"] = ops.softmax(net, axis=-1)
    logits = ops.squeeze(net, axis=(1, 2))
    return (logits, end_points) if return_end_points else logits

  def get_config(self):
    return {**super().get_config(), "num_classes": self.num_classes}


def build_model(num_classes=PUBLISHED_NUM_CLASSES, input_size=None):
  """The stage's model (built on zeros of `input_size` when given)."""
  model = ResNetV1_50(num_classes)
  if input_size:
    model(np.zeros((1, input_size, input_size, 3), np.float32))
  return model


def published_model():
  """The model the published slim checkpoint fits (for the checkpoint CLI)."""
  return build_model(PUBLISHED_NUM_CLASSES, PUBLISHED_INPUT_SIZE)
