"""Stage 4, Keras 3: vgg_16 with no TF1 API, no tf1shim and no tf-slim.

The classifier becomes Keras 3 too: `fc6` (7x7 VALID), `fc7` and `fc8` (1x1)
stay convolutions, as in slim, so published weights fit as they are; the
dropouts are `keras.layers.Dropout(0.5)`; the weight decay is slim's
`l2_regularizer(0.0005)` as TF1's one `L2Loss` op per kernel
(`TF1L2Regularizer`; Keras's `L2(0.0005 / 2)` is the same function in three
ops). The convolutions are `TF1Conv2D`: Keras's `Conv2D` with the bias
gradient gated as TF1's `minimize` gated it, so that oneDNN computes the
filter gradients with the graph's kernel, not a fused one that is slower on
vgg's large feature maps (slim_port/README.md, "Speed"). `model(images,
return_end_points=True)` gives slim's end points, under slim's names.

Slim checkpoints load through the naming table `slim_names.rules` (data:
Keras 3 paths -> slim names), with `tf1shim.checkpoints.restore_checkpoint`
or converted once with the checkpoint CLI:

    tf1shim-ckpt convert vgg_16.ckpt --to keras vgg_16.weights.h5 \\
        --model slim_port.vgg_16.stage4_keras:published_model \\
        --rules slim_port/vgg_16/slim_names.rules
"""

import os

import keras
import numpy as np

from tf1_keras_layers import TF1Conv2D
from tf1_keras_layers import TF1L2Regularizer

PUBLISHED_NUM_CLASSES = 1000
PUBLISHED_INPUT_SIZE = 224
WEIGHT_DECAY = 0.0005
DROPOUT_RATE = 0.5
BLOCKS = ((1, 2, 64), (2, 2, 128), (3, 3, 256), (4, 3, 512), (5, 3, 512))

with open(os.path.join(os.path.dirname(os.path.abspath(__file__)),
                       "slim_names.rules")) as _table:
  TF1_NAMES = _table.read()


def _conv(filters, size, name, padding="same", activation="relu"):
  return TF1Conv2D(
      filters, size, padding=padding, activation=activation,
      kernel_initializer="glorot_uniform", bias_initializer="zeros",
      kernel_regularizer=TF1L2Regularizer(WEIGHT_DECAY), name=name)


@keras.saving.register_keras_serializable(package="slim_port.vgg_16.stage4")
class VGG16(keras.Model):
  """vgg_16 in Keras 3, with slim's end points."""

  def __init__(self, num_classes=PUBLISHED_NUM_CLASSES, name="vgg_16",
               **kwargs):
    super().__init__(name=name, **kwargs)
    self.num_classes = num_classes
    self.blocks = []
    for block, repeat, filters in BLOCKS:
      convs = [_conv(filters, 3, "conv%d_%d" % (block, unit))
               for unit in range(1, repeat + 1)]
      for conv in convs:  # named attributes: tracked in object checkpoints
        setattr(self, conv.name, conv)
      pool = keras.layers.MaxPooling2D(2, 2, padding="valid",
                                       name="pool%d" % block)
      setattr(self, pool.name, pool)
      self.blocks.append((block, convs, pool))
    self.fc6 = _conv(4096, 7, "fc6", padding="valid")
    self.dropout6 = keras.layers.Dropout(DROPOUT_RATE)
    self.fc7 = _conv(4096, 1, "fc7")
    self.dropout7 = keras.layers.Dropout(DROPOUT_RATE)
    self.fc8 = _conv(num_classes, 1, "fc8", activation=None)

  def call(self, images, training=False, return_end_points=False):
    end_points = {}
    net = images
    for block, convs, pool in self.blocks:
      for conv in convs:
        net = conv(net)
        end_points["vgg_16/conv%d/%s" % (block, conv.name)] = net
      net = pool(net)
      end_points["vgg_16/pool%d" % block] = net
    net = self.fc6(net)
    end_points["vgg_16/fc6"] = net
    net = self.fc7(self.dropout6(net, training=training))
    end_points["vgg_16/fc7"] = net
    net = self.fc8(self.dropout7(net, training=training))
    net = keras.ops.squeeze(net, axis=(1, 2))
    end_points["vgg_16/fc8"] = net
    return (net, end_points) if return_end_points else net

  def get_config(self):
    return {**super().get_config(), "num_classes": self.num_classes}


def build_model(num_classes=PUBLISHED_NUM_CLASSES, input_size=None):
  """The stage's model (built on zeros of `input_size` when given)."""
  model = VGG16(num_classes)
  if input_size:
    model(np.zeros((1, input_size, input_size, 3), np.float32))
  return model


def published_model():
  """The model the published slim checkpoint fits (for the checkpoint CLI)."""
  return build_model(PUBLISHED_NUM_CLASSES, PUBLISHED_INPUT_SIZE)
