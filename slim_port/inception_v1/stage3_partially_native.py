"""Stage 3, partially native: the stem becomes Keras 3 layers.

The five layers before the first Inception module (`Conv2d_1a_7x7` to
`MaxPool_3a_3x3`) are Keras 3 layers created in `__init__`: each slim
`conv2d` + `batch_norm` + ReLU is a `ConvBN` layer (a `Conv2D` without
biases, a `TF1BatchNormalization` with `beta` only, a ReLU), each max pool a
`MaxPooling2D`. The nine Inception modules and the classifier stay TF1, in
the decorated `call` under `variable_scope("InceptionV1")`.

The batch norm is `TF1BatchNormalization` (core/tf1_keras_layers.py), not Keras's
own: Keras 3 moves the moving variance towards the biased batch variance,
slim's fused kernel towards the Bessel-corrected one, and training would
drift away from slim's statistics.

Names: a Keras 3 path is model name / layer names / variable; a `ConvBN`
named like slim's scope holds `conv2d/kernel` and `BatchNorm/beta`,
`moving_mean`, `moving_variance`, which are slim's batch-norm names already.
`TF1_NAMES` maps the Keras convolutions' `conv2d/kernel` to slim's
`weights`, before the TF1 layers' `kernel`/`bias`. The regularizer is
`keras.regularizers.L2(0.00004 / 2)` (slim's has the 1/2, Keras's not).
"""

import keras
import numpy as np
import tensorflow as tf

import tf1shim
from tf1_keras_layers import TF1BatchNormalization

tf1shim.install()  # tf.compat.v1.layers on Keras 3.
v1 = tf.compat.v1

PUBLISHED_NUM_CLASSES = 1001
WEIGHT_DECAY = 0.00004
BATCH_NORM_DECAY = 0.9997
BATCH_NORM_EPSILON = 0.001
DROPOUT_KEEP_PROB = 0.8
# slim's variance_scaling_initializer() draws a truncated normal with stddev
# sqrt(1.3 * 2 / fan_in); TF's variance scaling divides by the truncated
# distribution's own stddev (0.8796...) instead of using 1.3: this scale
# makes the two equal.
LOGITS_INIT_SCALE = 1.3 * 2.0 * 0.87962566103423978 ** 2

# The layers before the classifier, in order, each named like its end point:
# ("conv", name, filters, size, strides), ("pool", name, size, strides),
# ("mixed", name, branch_0 1x1, branch_1 (1x1, 3x3), branch_2 (1x1, 3x3),
#  branch_3 1x1 after a 3x3 max pool) filters.
STEM = (("conv", "Conv2d_1a_7x7", 64, 7, 2),
        ("pool", "MaxPool_2a_3x3", 3, 2),
        ("conv", "Conv2d_2b_1x1", 64, 1, 1),
        ("conv", "Conv2d_2c_3x3", 192, 3, 1),
        ("pool", "MaxPool_3a_3x3", 3, 2))
MODULES = (("mixed", "Mixed_3b", 64, (96, 128), (16, 32), 32),
           ("mixed", "Mixed_3c", 128, (128, 192), (32, 96), 64),
           ("pool", "MaxPool_4a_3x3", 3, 2),
           ("mixed", "Mixed_4b", 192, (96, 208), (16, 48), 64),
           ("mixed", "Mixed_4c", 160, (112, 224), (24, 64), 64),
           ("mixed", "Mixed_4d", 128, (128, 256), (24, 64), 64),
           ("mixed", "Mixed_4e", 112, (144, 288), (32, 64), 64),
           ("mixed", "Mixed_4f", 256, (160, 320), (32, 128), 128),
           ("pool", "MaxPool_5a_2x2", 2, 2),
           ("mixed", "Mixed_5b", 256, (160, 320), (32, 128), 128),
           ("mixed", "Mixed_5c", 384, (192, 384), (48, 128), 128))


def branch_2_3x3_scope(module):
  """Slim's Mixed_5b names its Branch_2 3x3 `Conv2d_0a_3x3` (every other
  module `Conv2d_0b_3x3`); the checkpoints carry the quirk."""
  return "Conv2d_0a_3x3" if module == "Mixed_5b" else "Conv2d_0b_3x3"


TF1_NAMES = r"""
# Keras 3 ConvBN layers' convolutions:
#   InceptionV1/Conv2d_1a_7x7/conv2d/kernel -> InceptionV1/Conv2d_1a_7x7/weights
^(InceptionV1/.+)/conv2d/kernel$  ->  \1/weights
# TF1 layers' variable names -> slim's
^(.*)/kernel$  ->  \1/weights
^(.*)/bias$    ->  \1/biases
"""


def l2_regularizer(scale):
  """slim's `l2_regularizer`: `scale * sum(w ** 2) / 2`."""
  return lambda weights: scale * tf.nn.l2_loss(weights)


def _conv_bn(inputs, filters, size, scope, training, strides=1):
  """slim.conv2d under inception_v1_arg_scope: conv, batch norm, ReLU."""
  net = v1.layers.conv2d(
      inputs, filters, size, strides, padding="same", use_bias=False,
      activation=None,
      kernel_initializer=v1.truncated_normal_initializer(0.0, 0.01),
      kernel_regularizer=l2_regularizer(WEIGHT_DECAY), name=scope)
  with v1.variable_scope(scope):
    net = v1.layers.batch_normalization(
        net, momentum=BATCH_NORM_DECAY, epsilon=BATCH_NORM_EPSILON,
        center=True, scale=False, training=training, name="BatchNorm")
  return tf.nn.relu(net)


@keras.saving.register_keras_serializable(
    package="slim_port.inception_v1.stage3")
class ConvBN(keras.layers.Layer):
  """slim.conv2d under inception_v1_arg_scope, in Keras 3: conv, batch
  norm, ReLU. Variables: `<name>/conv2d/kernel`, `<name>/BatchNorm/beta`,
  `.../moving_mean`, `.../moving_variance`."""

  def __init__(self, filters, kernel_size, strides=1, **kwargs):
    super().__init__(**kwargs)
    self.filters = filters
    self.kernel_size = kernel_size
    self.strides = strides
    self.conv2d = keras.layers.Conv2D(
        filters, kernel_size, strides, padding="same", use_bias=False,
        kernel_initializer=keras.initializers.TruncatedNormal(0.0, 0.01),
        kernel_regularizer=keras.regularizers.L2(WEIGHT_DECAY / 2),
        name="conv2d")
    self.batch_norm = TF1BatchNormalization(
        momentum=BATCH_NORM_DECAY, epsilon=BATCH_NORM_EPSILON, center=True,
        scale=False, name="BatchNorm")

  def build(self, input_shape):
    self.conv2d.build(input_shape)
    self.batch_norm.build(self.conv2d.compute_output_shape(input_shape))

  def call(self, inputs, training=False):
    net = self.batch_norm(self.conv2d(inputs), training=training)
    return keras.ops.relu(net)

  def compute_output_shape(self, input_shape):
    return self.conv2d.compute_output_shape(input_shape)

  def get_config(self):
    return {**super().get_config(), "filters": self.filters,
            "kernel_size": self.kernel_size, "strides": self.strides}


def _keras_stem_layer(kind, name, *args):
  """The Keras 3 layer of one row of STEM."""
  if kind == "conv":
    filters, size, strides = args
    return ConvBN(filters, size, strides, name=name)
  size, strides = args
  return keras.layers.MaxPooling2D(size, strides, padding="same", name=name)


def _max_pool(inputs, size, strides, scope):
  return v1.layers.max_pooling2d(inputs, size, strides, padding="same",
                                 name=scope)


def _mixed(net, module, training, branch_0, branch_1, branch_2, branch_3):
  """An Inception module: four branches concatenated on channels."""
  with v1.variable_scope(module):
    with v1.variable_scope("Branch_0"):
      b0 = _conv_bn(net, branch_0, 1, "Conv2d_0a_1x1", training)
    with v1.variable_scope("Branch_1"):
      b1 = _conv_bn(net, branch_1[0], 1, "Conv2d_0a_1x1", training)
      b1 = _conv_bn(b1, branch_1[1], 3, "Conv2d_0b_3x3", training)
    with v1.variable_scope("Branch_2"):
      b2 = _conv_bn(net, branch_2[0], 1, "Conv2d_0a_1x1", training)
      b2 = _conv_bn(b2, branch_2[1], 3, branch_2_3x3_scope(module), training)
    with v1.variable_scope("Branch_3"):
      b3 = _max_pool(net, 3, 1, "MaxPool_0a_3x3")
      b3 = _conv_bn(b3, branch_3, 1, "Conv2d_0b_1x1", training)
    return tf.concat([b0, b1, b2, b3], 3)


def _layers(net, specs, training, end_points):
  for kind, name, *args in specs:
    if kind == "conv":
      filters, size, strides = args
      net = _conv_bn(net, filters, size, name, training, strides)
    elif kind == "pool":
      net = _max_pool(net, *args, name)
    else:
      net = _mixed(net, name, training, *args)
    end_points[name] = net
  return net


def _logits(net, training, num_classes, end_points):
  """Slim's classifier: 7x7 average, dropout, 1x1 conv with biases."""
  with v1.variable_scope("Logits"):
    net = v1.layers.average_pooling2d(net, 7, 1, padding="valid",
                                      name="MaxPool_0a_7x7")
    net = v1.layers.dropout(net, 1 - DROPOUT_KEEP_PROB, training=training,
                            name="Dropout_0b")
    logits = v1.layers.conv2d(
        net, num_classes, 1, padding="same", activation=None,
        use_bias=True,
        kernel_initializer=v1.variance_scaling_initializer(
            LOGITS_INIT_SCALE, "fan_in", "truncated_normal"),
        bias_initializer=v1.zeros_initializer(),
        kernel_regularizer=l2_regularizer(WEIGHT_DECAY),
        name="Conv2d_0c_1x1")
    logits = tf.squeeze(logits, [1, 2], name="SpatialSqueeze")
  end_points["Logits"] = logits
  end_points["Predictions"] = tf.nn.softmax(logits, name="Predictions")
  return logits


@keras.saving.register_keras_serializable(
    package="slim_port.inception_v1.stage3")
class InceptionV1(keras.Model):
  """inception_v1 with a Keras 3 stem and its TF1 modules and classifier."""

  def __init__(self, num_classes=PUBLISHED_NUM_CLASSES, name="InceptionV1",
               **kwargs):
    super().__init__(name=name, **kwargs)
    self.num_classes = num_classes
    self.stem = [_keras_stem_layer(*row) for row in STEM]

  @tf1shim.track_tf1_style_variables
  def call(self, images, training=False, return_end_points=False):
    end_points = {}
    net = images
    for layer in self.stem:
      net = layer(net, training=training)
      end_points[layer.name] = net
    with v1.variable_scope("InceptionV1"):
      net = _layers(net, MODULES, training, end_points)
      logits = _logits(net, training, self.num_classes, end_points)
    return (logits, end_points) if return_end_points else logits

  def get_config(self):
    return {**super().get_config(), "num_classes": self.num_classes}


def build_model(num_classes=PUBLISHED_NUM_CLASSES, input_size=None):
  """The stage's model (built on zeros of `input_size` when given)."""
  model = InceptionV1(num_classes)
  if input_size:
    model(np.zeros((1, input_size, input_size, 3), np.float32))
  return model
