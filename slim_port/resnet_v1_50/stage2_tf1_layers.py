"""Stage 2, TF1 layers: resnet_v1_50 rewritten without tf-slim and without arg_scope.

Every slim call becomes the TF1 layers it stands for, with every default
that `resnet_arg_scope` and slim's layers supplied written out:

* `slim.conv2d` (under `resnet_arg_scope`) -> `tf.compat.v1.layers.conv2d`
  without bias (slim adds none when a `normalizer_fn` is set), SAME padding,
  slim's `variance_scaling_initializer()` (truncated normal, stddev
  `sqrt(1.3 * 2 / fan_in)`), L2 weight decay 0.0001 as slim's
  `l2_regularizer` (`scale * sum(w**2) / 2`), then
  `tf.compat.v1.layers.batch_normalization` in the scope `<conv>/BatchNorm`
  (decay 0.997, epsilon 1e-5, center and scale, the fused kernel, training
  by the `training` flag), then ReLU — except the shortcut and `conv3`
  projections, which have no activation;
* `resnet_utils.conv2d_same` -> explicit zero padding then a VALID
  convolution when strided (the root `conv1` and the strided `conv2`s), a
  SAME convolution otherwise;
* `slim.max_pool2d` -> `max_pooling2d` with SAME padding (resnet_arg_scope
  sets it for `pool1`), and `resnet_utils.subsample` -> a 1x1 max pooling;
* the global average pooling `pool5`, the `logits` 1x1 convolution (with
  biases, no batch norm, no activation) and slim's `predictions` softmax;
* the scopes of `stack_blocks_dense` and `bottleneck`
  (`block1/unit_1/bottleneck_v1`) and the end points slim collected
  (`outputs_collections`) are written out too.

The names change in one way: TF1 layers call their variables `kernel` and
`bias`, slim `weights` and `biases`. `TF1_NAMES` says so, and slim
checkpoints load through it (`tf1shim.checkpoints.restore_checkpoint(...,
mapping=TF1_NAMES rules)`). Batch norm's `gamma`, `beta`, `moving_mean` and
`moving_variance` are slim's names already.
"""

import keras
import numpy as np
import tensorflow as tf

import tf1shim

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

TF1_NAMES = r"""
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


def resnet_v1_50(images, training=False, num_classes=PUBLISHED_NUM_CLASSES):
  """images -> (logits, end_points), slim's variables and end points."""
  end_points = {}
  with v1.variable_scope("resnet_v1_50"):
    net = conv_bn_same(images, 64, 7, 2, "conv1", training)
    end_points["resnet_v1_50/conv1"] = net
    net = v1.layers.max_pooling2d(net, 3, 2, padding="same", name="pool1")
    for block, base_depth, units, stride in BLOCKS:
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
    package="slim_port.resnet_v1_50.stage2")
class ResNetV1_50(keras.Model):  # pylint: disable=invalid-name
  """resnet_v1_50 on TF1 layers, as a Keras 3 model."""

  def __init__(self, num_classes=PUBLISHED_NUM_CLASSES, name="resnet_v1_50",
               **kwargs):
    super().__init__(name=name, **kwargs)
    self.num_classes = num_classes

  @tf1shim.track_tf1_style_variables
  def call(self, images, training=False, return_end_points=False):
    logits, end_points = resnet_v1_50(images, training=training,
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
