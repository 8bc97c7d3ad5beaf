"""Stage 3, partially native: the convolution blocks become Keras 3 layers.

`conv1` to `conv5` (13 convolutions and their pooling) are Keras 3 layers
created in `__init__`; the fully connected part (`fc6`-`fc8`, as 7x7 and 1x1
convolutions, and the dropouts) stays TF1, in the decorated `call` under
`variable_scope("vgg_16")`.

Names: a Keras 3 path is model name / layer name / variable, and a layer
name cannot hold slim's nested scope (`conv1/conv1_1`): the Keras layers are
`conv1_1`, ... in the model `vgg_16`, and `TF1_NAMES` maps their paths to
slim's names, as it maps the TF1 layers' `kernel`/`bias`. The regularizer is
`keras.regularizers.L2(0.0005 / 2)` (slim's has the 1/2, Keras's not).
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
# Keras 3 convolutions: vgg_16/conv1_1/kernel -> vgg_16/conv1/conv1_1/weights
^vgg_16/(conv\d)_(\d)/kernel$  ->  vgg_16/\1/\1_\2/weights
^vgg_16/(conv\d)_(\d)/bias$    ->  vgg_16/\1/\1_\2/biases
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


def tf1_classifier(net, end_points, training=False,
                   num_classes=PUBLISHED_NUM_CLASSES):
  """pool5 -> (logits, end_points): fc6-fc8 and the dropouts, TF1 as in
  stage 2, slim's variables and end points."""
  with v1.variable_scope("vgg_16"):
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


@keras.saving.register_keras_serializable(package="slim_port.vgg_16.stage3")
class VGG16(keras.Model):
  """vgg_16 with Keras 3 convolution blocks and its TF1 classifier."""

  def __init__(self, num_classes=PUBLISHED_NUM_CLASSES, name="vgg_16",
               **kwargs):
    super().__init__(name=name, **kwargs)
    self.num_classes = num_classes
    self.blocks = []
    for block, repeat, filters in BLOCKS:
      convs = [keras.layers.Conv2D(
          filters, 3, padding="same", activation="relu",
          kernel_initializer="glorot_uniform", bias_initializer="zeros",
          kernel_regularizer=keras.regularizers.L2(WEIGHT_DECAY / 2),
          name="conv%d_%d" % (block, unit))
               for unit in range(1, repeat + 1)]
      for conv in convs:  # named attributes: tracked in object checkpoints
        setattr(self, conv.name, conv)
      pool = keras.layers.MaxPooling2D(2, 2, padding="valid",
                                       name="pool%d" % block)
      setattr(self, pool.name, pool)
      self.blocks.append((block, convs, pool))

  @tf1shim.track_tf1_style_variables
  def call(self, images, training=False, return_end_points=False):
    end_points = {}
    net = images
    for block, convs, pool in self.blocks:
      for conv in convs:
        net = conv(net)
        end_points["vgg_16/conv%d/%s" % (block, conv.name)] = net
      net = pool(net)
      end_points["vgg_16/pool%d" % block] = net
    logits, end_points = tf1_classifier(net, end_points, training=training,
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
