"""Stage 2, TF1 layers: inception_v1 rewritten without tf-slim and arg_scope.

Every slim call becomes the TF1 layers it stands for, with every default
that `inception_v1_arg_scope`, the arg_scopes inside the network and slim's
layers supplied written out:

- `slim.conv2d` in the base -> `tf.compat.v1.layers.conv2d` (SAME padding,
  stride 1 unless given, no biases because a normalizer follows, weights
  truncated normal with stddev 0.01 — the base's own arg_scope overrides the
  arg_scope's variance scaling — L2 weight decay 0.00004 as slim's
  `l2_regularizer`: `scale * sum(w**2) / 2`), then `batch_normalization`
  (slim's `batch_norm` with the arg_scope's decay 0.9997 and epsilon 0.001,
  slim's `center=True, scale=False`: a `beta`, no `gamma`; TF1's fused
  kernel), then ReLU;
- `slim.max_pool2d` -> `max_pooling2d` (SAME, stride 1 unless given);
- the classifier: `slim.avg_pool2d([7, 7], stride=1)` -> `average_pooling2d`
  (VALID, slim's default; scope `MaxPool_0a_7x7` although it averages),
  `slim.dropout(0.8)` -> `dropout(rate=0.2)`, and a 1x1 `conv2d` with biases,
  no activation and slim's `variance_scaling_initializer()` (truncated
  normal, stddev sqrt(1.3 * 2 / fan_in)), the only weights the arg_scope's
  initializer reaches.

Slim's scopes are kept: a `conv2d` layer named like slim's scope holds the
weights and the scope re-entered holds `BatchNorm`. So the names change in
one way: TF1 layers call their variables `kernel` and `bias`, slim `weights`
and `biases`. `TF1_NAMES` says so, and slim checkpoints load through it.
"""

import keras
import numpy as np
import tensorflow as tf

import tf1shim

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


def inception_v1(images, training=False, num_classes=PUBLISHED_NUM_CLASSES):
  """images -> (logits, end_points), slim's variables and end points."""
  end_points = {}
  with v1.variable_scope("InceptionV1"):
    net = _layers(images, STEM + MODULES, training, end_points)
    logits = _logits(net, training, num_classes, end_points)
  return logits, end_points


@keras.saving.register_keras_serializable(
    package="slim_port.inception_v1.stage2")
class InceptionV1(keras.Model):
  """inception_v1 on TF1 layers, as a Keras 3 model."""

  def __init__(self, num_classes=PUBLISHED_NUM_CLASSES, name="InceptionV1",
               **kwargs):
    super().__init__(name=name, **kwargs)
    self.num_classes = num_classes

  @tf1shim.track_tf1_style_variables
  def call(self, images, training=False, return_end_points=False):
    logits, end_points = inception_v1(images, training=training,
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
