"""Stage 3, partially native: the root and block1 become Keras 3 layers.

The root (`conv1`, `pool1`) and `block1` (three bottleneck units) are Keras
3 layers created in `__init__`: the custom layers of `keras_layers.py`,
which read like slim's functions — `ConvBN` (`slim.conv2d` with its batch
norm), `Bottleneck` (`resnet_v1.bottleneck`), `ResNetBlock`
(`stack_blocks_dense`'s loop over units). `block2` to `block4` and the
`logits` stay TF1: stage 2's functions, unchanged, in the decorated `call`
under `variable_scope("resnet_v1_50")`.

What changes with the Keras layers (see `keras_layers.py`): batch norm is
`TF1BatchNormalization` (slim's fused kernel moves the moving variance with
Bessel's correction, Keras 3's `BatchNormalization` without); weight decay is
`keras.regularizers.L2(0.0001 / 2)` (slim's has the 1/2, Keras's not);
slim's `variance_scaling_initializer()` is Keras's `VarianceScaling` with a
truncated normal and a rescaled factor.

Names: a Keras 3 path is model name / layer names / variable, and a layer
name cannot hold `/`: the nested layers give
`resnet_v1_50/block1/unit_1/conv1/conv/kernel`, which `TF1_NAMES` maps to
slim's `resnet_v1_50/block1/unit_1/bottleneck_v1/conv1/weights` (slim's
extra `bottleneck_v1` scope, `BatchNorm` for `batch_norm`), as it maps the
TF1 layers' `kernel`/`bias`.
"""

import keras
import numpy as np
import tensorflow as tf

import tf1shim
from slim_port.resnet_v1_50 import keras_layers

tf1shim.install()  # tf.compat.v1.layers on Keras 3.
v1 = tf.compat.v1

PUBLISHED_NUM_CLASSES = 1000
WEIGHT_DECAY = 0.0001
BATCH_NORM_DECAY = 0.997
BATCH_NORM_EPSILON = 1e-5
# slim's variance_scaling_initializer() draws a truncated normal of stddev
# sqrt(1.3 * 2.0 / fan_in); TF's (and Keras's) "truncated_normal"
# variance scaling divides sqrt(scale / fan_in) by 0.8796...: this scale
# gives slim's distribution exactly.
VARIANCE_SCALE = 1.3 * 2.0 * 0.87962566103423978 ** 2
# (scope, base depth, units, stride of the last unit): resnet_v1_50's blocks.
BLOCKS = (("block1", 64, 3, 2), ("block2", 128, 4, 2), ("block3", 256, 6, 2),
          ("block4", 512, 3, 1))
KERAS_BLOCKS = 1  # block1 is Keras 3; the following blocks stay TF1

TF1_NAMES = r"""
# Keras 3 layers (root and block1) -> slim's names
^resnet_v1_50/conv1/conv/kernel$                         ->  resnet_v1_50/conv1/weights
^resnet_v1_50/conv1/batch_norm/(\w+)$                    ->  resnet_v1_50/conv1/BatchNorm/\1
^resnet_v1_50/(block1/unit_\d+)/(\w+)/conv/kernel$       ->  resnet_v1_50/\1/bottleneck_v1/\2/weights
^resnet_v1_50/(block1/unit_\d+)/(\w+)/batch_norm/(\w+)$  ->  resnet_v1_50/\1/bottleneck_v1/\2/BatchNorm/\3
# TF1 layers' variable names -> slim's
^(.*)/kernel$  ->  \1/weights
^(.*)/bias$    ->  \1/biases
"""


def l2_regularizer(scale):
  """slim's `l2_regularizer`: `scale * sum(w ** 2) / 2`."""
  return lambda weights: scale * tf.nn.l2_loss(weights)


def variance_scaling_initializer():
  """slim's `variance_scaling_initializer()` (factor 2, FAN_IN, normal)."""
  return v1.variance_scaling_initializer(
      scale=VARIANCE_SCALE, mode="fan_in", distribution="truncated_normal")


def conv_bn(inputs, filters, size, scope, training, stride=1,
            padding="same", activation=tf.nn.relu):
  """`slim.conv2d` under resnet_arg_scope: convolution, BatchNorm, ReLU."""
  net = v1.layers.conv2d(
      inputs, filters, size, strides=stride, padding=padding,
      use_bias=False, kernel_initializer=variance_scaling_initializer(),
      kernel_regularizer=l2_regularizer(WEIGHT_DECAY), name=scope)
  with v1.variable_scope(scope):
    net = v1.layers.batch_normalization(
        net, axis=-1, momentum=BATCH_NORM_DECAY, epsilon=BATCH_NORM_EPSILON,
        center=True, scale=True, fused=True, training=training,
        name="BatchNorm")
  return activation(net) if activation is not None else net


def conv_bn_same(inputs, filters, size, stride, scope, training):
  """`resnet_utils.conv2d_same`: 'SAME' output size whatever the input's
  parity, by explicit padding and a VALID convolution when strided."""
  if stride == 1:
    return conv_bn(inputs, filters, size, scope, training)
  pad_begin = (size - 1) // 2
  pad_end = size - 1 - pad_begin
  inputs = tf.pad(inputs, [[0, 0], [pad_begin, pad_end],
                           [pad_begin, pad_end], [0, 0]])
  return conv_bn(inputs, filters, size, scope, training, stride=stride,
                 padding="valid")


def bottleneck(inputs, depth, depth_bottleneck, stride, training, prefix,
               end_points):
  """`resnet_v1.bottleneck` in the current (`blockN/unit_M`) scope."""
  scope = prefix + "/bottleneck_v1"
  with v1.variable_scope("bottleneck_v1"):
    if inputs.shape[-1] == depth:
      shortcut = inputs if stride == 1 else v1.layers.max_pooling2d(
          inputs, 1, stride, padding="same", name="shortcut")
    else:
      shortcut = conv_bn(inputs, depth, 1, "shortcut", training,
                         stride=stride, activation=None)
      end_points[scope + "/shortcut"] = shortcut
    residual = conv_bn(inputs, depth_bottleneck, 1, "conv1", training)
    end_points[scope + "/conv1"] = residual
    residual = conv_bn_same(residual, depth_bottleneck, 3, stride, "conv2",
                            training)
    end_points[scope + "/conv2"] = residual
    residual = conv_bn(residual, depth, 1, "conv3", training,
                       activation=None)
    end_points[scope + "/conv3"] = residual
    output = tf.nn.relu(shortcut + residual)
  end_points[scope] = output
  return output


def logits_layer(inputs, num_classes):
  """slim's `logits`: a 1x1 convolution with biases, no batch norm, no
  activation (`normalizer_fn=None, activation_fn=None`)."""
  return v1.layers.conv2d(
      inputs, num_classes, 1, padding="same", use_bias=True,
      kernel_initializer=variance_scaling_initializer(),
      bias_initializer=v1.zeros_initializer(),
      kernel_regularizer=l2_regularizer(WEIGHT_DECAY), name="logits")


def tf1_blocks(net, end_points, training=False,
               num_classes=PUBLISHED_NUM_CLASSES):
  """block1's output -> (logits, end_points): block2-block4 and the logits,
  TF1 as in stage 2, slim's variables and end points."""
  with v1.variable_scope("resnet_v1_50"):
    for block, base_depth, units, stride in BLOCKS[KERAS_BLOCKS:]:
      with v1.variable_scope(block):
        for unit in range(1, units + 1):
          with v1.variable_scope("unit_%d" % unit):
            net = bottleneck(
                net, base_depth * 4, base_depth,
                stride if unit == units else 1, training,
                "resnet_v1_50/%s/unit_%d" % (block, unit), end_points)
      end_points["resnet_v1_50/" + block] = net
    net = tf.reduce_mean(net, [1, 2], keepdims=True, name="pool5")
    net = logits_layer(net, num_classes)
    end_points["resnet_v1_50/logits"] = net
    end_points["predictions"] = tf.nn.softmax(net, name="predictions")
    logits = tf.squeeze(net, [1, 2], name="SpatialSqueeze")
  return logits, end_points


@keras.saving.register_keras_serializable(
    package="slim_port.resnet_v1_50.stage3")
class ResNetV1_50(keras.Model):  # pylint: disable=invalid-name
  """resnet_v1_50 with a Keras 3 root and block1, TF1 blocks 2-4 and logits."""

  def __init__(self, num_classes=PUBLISHED_NUM_CLASSES, name="resnet_v1_50",
               **kwargs):
    super().__init__(name=name, **kwargs)
    self.num_classes = num_classes
    self.conv1, self.pool1, self.blocks = keras_layers.root_and_blocks(
        KERAS_BLOCKS)

  @tf1shim.track_tf1_style_variables
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
    logits, end_points = tf1_blocks(net, end_points, training=training,
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
