"""resnet_v1_50's Keras 3 layers, shared by stage 3 (root and block1) and
stage 4 (everything): slim's functions as small custom layers.

* `SlimBatchNormalization`: slim's `batch_norm` (`TF1BatchNormalization`:
  TF1's fused kernel and its Bessel-corrected moving variance);
* `ConvBN`: `slim.conv2d` under `resnet_arg_scope` (convolution without
  bias, batch norm, ReLU or none; `conv2d_same`'s explicit padding);
* `Bottleneck`: `resnet_v1.bottleneck`;
* `ResNetBlock`: one block of `resnet_utils.stack_blocks_dense`.

Keras 3 only: no TensorFlow API, no tf1shim, no tf-slim (the TensorFlow
kernels the fast paths use are behind `tf1_keras_layers`). Variable paths are
`<model>/<block>/<unit>/<conv>/conv/kernel`, `.../batch_norm/gamma`;
`slim_names.rules` maps them to slim's names.
"""

import keras
from keras import ops

from tf1_keras_layers import TF1BatchNormalization
from tf1_keras_layers import TF1L2Regularizer

# resnet_arg_scope()'s defaults.
WEIGHT_DECAY = 0.0001
BATCH_NORM_DECAY = 0.997
BATCH_NORM_EPSILON = 1e-5
# slim's variance_scaling_initializer() draws a truncated normal of stddev
# sqrt(1.3 * 2.0 / fan_in); Keras's "truncated_normal" VarianceScaling
# divides sqrt(scale / fan_in) by 0.8796...: this scale gives slim's
# distribution exactly.
VARIANCE_SCALE = 1.3 * 2.0 * 0.87962566103423978 ** 2
# (scope, base depth, units, stride of the last unit): resnet_v1_50's blocks.
BLOCKS = (("block1", 64, 3, 2), ("block2", 128, 4, 2), ("block3", 256, 6, 2),
          ("block4", 512, 3, 1))

_PACKAGE = "slim_port.resnet_v1_50"


def kernel_initializer():
  """slim's `variance_scaling_initializer()` (factor 2, FAN_IN, normal)."""
  return keras.initializers.VarianceScaling(
      scale=VARIANCE_SCALE, mode="fan_in", distribution="truncated_normal")


def kernel_regularizer():
  """slim's `l2_regularizer(0.0001)`: `scale * sum(w**2) / 2` (Keras's
  `L2(scale / 2)`), as TF1's one `L2Loss` op per kernel (see
  core/tf1_keras_layers.py: faster than Keras's Square, Sum and Mul)."""
  return TF1L2Regularizer(WEIGHT_DECAY)


@keras.saving.register_keras_serializable(package=_PACKAGE)
class SlimBatchNormalization(TF1BatchNormalization):
  """slim's `batch_norm` in Keras 3: in training the batch's statistics,
  and the moving variance moves towards the Bessel-corrected batch
  variance, as TF1's fused kernel moved it (Keras 3's `BatchNormalization`
  moves it towards the biased one).

  It runs slim's kernel, `FusedBatchNormV3` (`TF1BatchNormalization` does
  on NHWC float32 inputs), so the arithmetic is the TF1 graph's too, and
  so is the speed: Keras's unfused ops made stage 4's training step
  slower than slim's (slim_port/README.md, "Speed")."""


@keras.saving.register_keras_serializable(package=_PACKAGE)
class ConvBN(keras.layers.Layer):
  """`slim.conv2d` under resnet_arg_scope: convolution, batch norm, ReLU.

  Args:
    filters, size, stride: of the convolution.
    activation: "relu" (slim's default) or None (shortcuts and `conv3`).
    explicit_padding: `resnet_utils.conv2d_same`: when strided, pad
      `size - 1` zeros (half before) and convolve VALID, so that the output
      does not depend on the input's parity; SAME otherwise.
  """

  def __init__(self, filters, size, stride=1, activation="relu",
               explicit_padding=False, **kwargs):
    super().__init__(**kwargs)
    self.filters = filters
    self.size = size
    self.stride = stride
    self.activation = activation
    self.explicit_padding = explicit_padding
    self._pad = explicit_padding and stride > 1
    self.conv = keras.layers.Conv2D(
        filters, size, strides=stride,
        padding="valid" if self._pad else "same", use_bias=False,
        kernel_initializer=kernel_initializer(),
        kernel_regularizer=kernel_regularizer(), name="conv")
    self.batch_norm = SlimBatchNormalization(
        axis=-1, momentum=BATCH_NORM_DECAY, epsilon=BATCH_NORM_EPSILON,
        center=True, scale=True, name="batch_norm")

  def call(self, inputs, training=False):
    if self._pad:
      begin = (self.size - 1) // 2
      end = self.size - 1 - begin
      inputs = ops.pad(inputs, [[0, 0], [begin, end], [begin, end], [0, 0]])
    net = self.batch_norm(self.conv(inputs), training=training)
    return ops.relu(net) if self.activation == "relu" else net

  def get_config(self):
    return {**super().get_config(), "filters": self.filters,
            "size": self.size, "stride": self.stride,
            "activation": self.activation,
            "explicit_padding": self.explicit_padding}


@keras.saving.register_keras_serializable(package=_PACKAGE)
class Bottleneck(keras.layers.Layer):
  """`resnet_v1.bottleneck`, named after slim's unit scope (`unit_1`).

  Returns (output, end points): the outputs of `shortcut` (a projection),
  `conv1`-`conv3` and the unit, under `bottleneck_v1/...` as in slim.
  """

  def __init__(self, depth, depth_bottleneck, stride, depth_in, **kwargs):
    super().__init__(**kwargs)
    self.depth = depth
    self.depth_bottleneck = depth_bottleneck
    self.stride = stride
    self.depth_in = depth_in
    self.shortcut = self.subsample = None
    if depth != depth_in:
      self.shortcut = ConvBN(depth, 1, stride, activation=None,
                             name="shortcut")
    elif stride > 1:  # resnet_utils.subsample
      self.subsample = keras.layers.MaxPooling2D(1, stride, padding="same")
    self.conv1 = ConvBN(depth_bottleneck, 1, name="conv1")
    self.conv2 = ConvBN(depth_bottleneck, 3, stride, explicit_padding=True,
                        name="conv2")
    self.conv3 = ConvBN(depth, 1, activation=None, name="conv3")

  def call(self, inputs, training=False):
    end_points = {}
    if self.shortcut is not None:
      shortcut = self.shortcut(inputs, training=training)
      end_points["bottleneck_v1/shortcut"] = shortcut
    elif self.subsample is not None:
      shortcut = self.subsample(inputs)
    else:
      shortcut = inputs
    residual = inputs
    for conv in (self.conv1, self.conv2, self.conv3):
      residual = conv(residual, training=training)
      end_points["bottleneck_v1/" + conv.name] = residual
    output = ops.relu(shortcut + residual)
    end_points["bottleneck_v1"] = output
    return output, end_points

  def get_config(self):
    return {**super().get_config(), "depth": self.depth,
            "depth_bottleneck": self.depth_bottleneck,
            "stride": self.stride, "depth_in": self.depth_in}


@keras.saving.register_keras_serializable(package=_PACKAGE)
class ResNetBlock(keras.layers.Layer):
  """A block of `Bottleneck` units (depth `4 * base_depth`), strided in the
  last unit. Returns (output, end points under the block: `unit_1/...`)."""

  def __init__(self, base_depth, units, stride, depth_in, **kwargs):
    super().__init__(**kwargs)
    self.base_depth = base_depth
    self.num_units = units
    self.stride = stride
    self.depth_in = depth_in
    self.units = [
        Bottleneck(base_depth * 4, base_depth, stride if unit == units else 1,
                   depth_in if unit == 1 else base_depth * 4,
                   name="unit_%d" % unit)
        for unit in range(1, units + 1)]

  def call(self, inputs, training=False):
    end_points = {}
    net = inputs
    for unit in self.units:
      net, unit_points = unit(net, training=training)
      end_points.update({"%s/%s" % (unit.name, key): value
                         for key, value in unit_points.items()})
    return net, end_points

  def get_config(self):
    return {**super().get_config(), "base_depth": self.base_depth,
            "units": self.num_units, "stride": self.stride,
            "depth_in": self.depth_in}


def root_and_blocks(num_blocks=len(BLOCKS)):
  """`conv1` (7x7/2, conv2d_same), `pool1` (3x3/2 max, SAME, as
  resnet_arg_scope sets it) and the first `num_blocks` blocks."""
  conv1 = ConvBN(64, 7, 2, explicit_padding=True, name="conv1")
  pool1 = keras.layers.MaxPooling2D(3, 2, padding="same", name="pool1")
  blocks = []
  depth_in = 64
  for block, base_depth, units, stride in BLOCKS[:num_blocks]:
    blocks.append(ResNetBlock(base_depth, units, stride, depth_in,
                              name=block))
    depth_in = base_depth * 4
  return conv1, pool1, blocks
