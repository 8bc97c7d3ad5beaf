"""Stage 2, TF1 layers: vgg_16 rewritten without tf-slim and without arg_scope.

Every slim call becomes the TF1 layer it stands for, with every default that
`vgg_arg_scope` and slim's layers supplied written out:
`slim.conv2d` -> `tf.compat.v1.layers.conv2d` (ReLU, SAME padding, Glorot
uniform weights, zero biases, L2 weight decay 0.0005 as slim's
`l2_regularizer`: `scale * sum(w**2) / 2`), `slim.max_pool2d` ->
`max_pooling2d` (2x2, stride 2, VALID), `slim.dropout(keep_prob)` ->
`dropout(rate=1 - keep_prob)`; `slim.repeat`'s scopes (`conv1/conv1_1`) and
the end points are written out too.

The names change in one way: TF1 layers call their variables `kernel` and
`bias`, slim `weights` and `biases`. `TF1_NAMES` says so, and slim
checkpoints load through it (`tf1shim.checkpoints.restore_checkpoint(...,
mapping=TF1_NAMES rules)`).
"""

import keras
import numpy as np
import tensorflow as tf

import tf1shim

tf1shim.install()  # tf.compat.v1.layers on Keras 3.
v1 = tf.compat.v1

PUBLISHED_NUM_CLASSES = 1000
WEIGHT_DECAY = 0.0005
DROPOUT_KEEP_PROB = 0.5
BLOCKS = ((1, 2, 64), (2, 2, 128), (3, 3, 256), (4, 3, 512), (5, 3, 512))

TF1_NAMES = r"""
# TF1 layers' variable names -> slim's
^(.*)/kernel$  ->  \1/weights
^(.*)/bias$    ->  \1/biases
"""


def l2_regularizer(scale):
  """slim's `l2_regularizer`: `scale * sum(w ** 2) / 2`."""
  return lambda weights: scale * tf.nn.l2_loss(weights)


def _conv(inputs, filters, size, name, padding="same",
          activation=tf.nn.relu):
  return v1.layers.conv2d(
      inputs, filters, size, padding=padding, activation=activation,
      kernel_initializer=v1.glorot_uniform_initializer(),
      bias_initializer=v1.zeros_initializer(),
      kernel_regularizer=l2_regularizer(WEIGHT_DECAY), name=name)


def vgg_16(images, training=False, num_classes=PUBLISHED_NUM_CLASSES):
  """images -> (logits, end_points), slim's variables and end points."""
  end_points = {}
  with v1.variable_scope("vgg_16"):
    net = images
    for block, repeat, filters in BLOCKS:
      with v1.variable_scope("conv%d" % block):
        for unit in range(1, repeat + 1):
          name = "conv%d_%d" % (block, unit)
          net = _conv(net, filters, 3, name)
          end_points["vgg_16/conv%d/%s" % (block, name)] = net
      net = v1.layers.max_pooling2d(net, 2, 2, padding="valid",
                                    name="pool%d" % block)
      end_points["vgg_16/pool%d" % block] = net
    net = _conv(net, 4096, 7, "fc6", padding="valid")
    end_points["vgg_16/fc6"] = net
    net = v1.layers.dropout(net, 1 - DROPOUT_KEEP_PROB, training=training,
                            name="dropout6")
    net = _conv(net, 4096, 1, "fc7")
    end_points["vgg_16/fc7"] = net
    net = v1.layers.dropout(net, 1 - DROPOUT_KEEP_PROB, training=training,
                            name="dropout7")
    net = _conv(net, num_classes, 1, "fc8", activation=None)
    net = tf.squeeze(net, [1, 2], name="fc8/squeezed")
    end_points["vgg_16/fc8"] = net
  return net, end_points


@keras.saving.register_keras_serializable(package="slim_port.vgg_16.stage2")
class VGG16(keras.Model):
  """vgg_16 on TF1 layers, as a Keras 3 model."""

  def __init__(self, num_classes=PUBLISHED_NUM_CLASSES, name="vgg_16",
               **kwargs):
    super().__init__(name=name, **kwargs)
    self.num_classes = num_classes

  @tf1shim.track_tf1_style_variables
  def call(self, images, training=False, return_end_points=False):
    logits, end_points = vgg_16(images, training=training,
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
