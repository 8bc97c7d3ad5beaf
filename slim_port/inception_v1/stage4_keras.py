"""Stage 4, Keras 3: inception_v1 with no TF1 API, no tf1shim and no tf-slim.

Slim's `conv2d` + `batch_norm` + ReLU becomes one Keras layer, `ConvBN`
(a `Conv2D` without biases, a `TF1BatchNormalization` with `beta` only, a
ReLU), an Inception module `InceptionModule` (four `Branch`es of ConvBNs,
concatenated), and the classifier Keras 3 too: a 7x7 VALID average pool,
`keras.layers.Dropout(0.2)` and a 1x1 `Conv2D` with biases, as in slim, so
published weights fit as they are. Every default that slim's arg_scopes
supplied is an argument here: initializers, the weight decay (slim's
`l2_regularizer(0.00004)`, Keras's `L2(0.00004 / 2)`, as TF1's one `L2Loss`
op: `TF1L2Regularizer`), momentum 0.9997, epsilon 0.001, SAME padding.

The batch norm is `TF1BatchNormalization`, not Keras's: it moves the
moving variance towards the Bessel-corrected batch variance as slim's fused
kernel did, so training keeps matching slim's statistics, and runs that
fused kernel (`FusedBatchNormV3`), as fast as slim (README: speed).

`model(images, return_end_points=True)` gives slim's end points, under
slim's names (each base layer is named like its end point).

Slim checkpoints load through the naming table `slim_names.rules` (data:
Keras 3 paths -> slim names), with `tf1shim.checkpoints.restore_checkpoint`
or converted once with the checkpoint CLI (the published checkpoint,
inception_v1_2016_08_28.tar.gz, holds `inception_v1.ckpt`):

    tf1shim-ckpt convert inception_v1.ckpt --to keras inception_v1.weights.h5 \\
        --model slim_port.inception_v1.stage4_keras:published_model \\
        --rules slim_port/inception_v1/slim_names.rules
"""

import os

import keras
import numpy as np

from tf1_keras_layers import TF1BatchNormalization
from tf1_keras_layers import TF1L2Regularizer

PUBLISHED_NUM_CLASSES = 1001
PUBLISHED_INPUT_SIZE = 224
WEIGHT_DECAY = 0.00004
BATCH_NORM_DECAY = 0.9997
BATCH_NORM_EPSILON = 0.001
DROPOUT_RATE = 0.2  # slim's dropout_keep_prob=0.8
# slim's variance_scaling_initializer() for the classifier: a truncated
# normal with stddev sqrt(1.3 * 2 / fan_in); Keras divides by the truncated
# distribution's stddev (0.8796...) instead of using 1.3: this scale makes
# the two equal.
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


with open(os.path.join(os.path.dirname(os.path.abspath(__file__)),
                       "slim_names.rules")) as _table:
  TF1_NAMES = _table.read()


@keras.saving.register_keras_serializable(
    package="slim_port.inception_v1.stage4")
class ConvBN(keras.layers.Layer):
  """slim.conv2d under inception_v1_arg_scope: conv, batch norm, ReLU.

  Variables: `<name>/conv2d/kernel`, `<name>/BatchNorm/beta`,
  `.../moving_mean`, `.../moving_variance`.
  """

  def __init__(self, filters, kernel_size, strides=1, **kwargs):
    super().__init__(**kwargs)
    self.filters = filters
    self.kernel_size = kernel_size
    self.strides = strides
    self.conv2d = keras.layers.Conv2D(
        filters, kernel_size, strides, padding="same", use_bias=False,
        kernel_initializer=keras.initializers.TruncatedNormal(0.0, 0.01),
        kernel_regularizer=TF1L2Regularizer(WEIGHT_DECAY),
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


class Branch(keras.layers.Layer):
  """One branch of an Inception module: its layers in sequence (a layer of
  its own so that its variables sit under `Branch_<i>/`, as in slim).
  Made by `InceptionModule` only: its layers are not a config, so it is not
  registered for serialization on its own."""

  def __init__(self, units, **kwargs):
    super().__init__(**kwargs)
    self.units = units

  def build(self, input_shape):
    for unit in self.units:
      unit.build(input_shape)
      input_shape = unit.compute_output_shape(input_shape)

  def call(self, inputs, training=False):
    net = inputs
    for unit in self.units:
      net = unit(net, training=training)
    return net

  def compute_output_shape(self, input_shape):
    for unit in self.units:
      input_shape = unit.compute_output_shape(input_shape)
    return input_shape


@keras.saving.register_keras_serializable(
    package="slim_port.inception_v1.stage4")
class InceptionModule(keras.layers.Layer):
  """An Inception module: four branches concatenated on channels."""

  def __init__(self, branch_0, branch_1, branch_2, branch_3, **kwargs):
    super().__init__(**kwargs)
    self.branch_filters = (branch_0, tuple(branch_1), tuple(branch_2),
                           branch_3)
    self.branches = [
        Branch([ConvBN(branch_0, 1, name="Conv2d_0a_1x1")],
               name="Branch_0"),
        Branch([ConvBN(branch_1[0], 1, name="Conv2d_0a_1x1"),
                ConvBN(branch_1[1], 3, name="Conv2d_0b_3x3")],
               name="Branch_1"),
        Branch([ConvBN(branch_2[0], 1, name="Conv2d_0a_1x1"),
                ConvBN(branch_2[1], 3, name=branch_2_3x3_scope(self.name))],
               name="Branch_2"),
        Branch([keras.layers.MaxPooling2D(3, 1, padding="same",
                                          name="MaxPool_0a_3x3"),
                ConvBN(branch_3, 1, name="Conv2d_0b_1x1")],
               name="Branch_3"),
    ]

  def build(self, input_shape):
    for branch in self.branches:
      branch.build(input_shape)

  def call(self, inputs, training=False):
    return keras.ops.concatenate(
        [branch(inputs, training=training) for branch in self.branches],
        axis=3)

  def compute_output_shape(self, input_shape):
    shapes = [branch.compute_output_shape(input_shape)
              for branch in self.branches]
    return shapes[0][:3] + (sum(shape[3] for shape in shapes),)

  def get_config(self):
    branch_0, branch_1, branch_2, branch_3 = self.branch_filters
    return {**super().get_config(), "branch_0": branch_0,
            "branch_1": branch_1, "branch_2": branch_2,
            "branch_3": branch_3}


def base_layer(kind, name, *args):
  """The Keras 3 layer of one row of STEM or MODULES."""
  if kind == "conv":
    filters, size, strides = args
    return ConvBN(filters, size, strides, name=name)
  if kind == "pool":
    size, strides = args
    return keras.layers.MaxPooling2D(size, strides, padding="same",
                                     name=name)
  return InceptionModule(*args, name=name)


@keras.saving.register_keras_serializable(
    package="slim_port.inception_v1.stage4")
class InceptionV1(keras.Model):
  """inception_v1 in Keras 3, with slim's end points."""

  def __init__(self, num_classes=PUBLISHED_NUM_CLASSES, name="InceptionV1",
               **kwargs):
    super().__init__(name=name, **kwargs)
    self.num_classes = num_classes
    self.base_layers = [base_layer(*row) for row in STEM + MODULES]
    self.avg_pool = keras.layers.AveragePooling2D(
        7, 1, padding="valid", name="MaxPool_0a_7x7")
    self.dropout = keras.layers.Dropout(DROPOUT_RATE, name="Dropout_0b")
    self.logits = keras.layers.Conv2D(
        num_classes, 1, padding="same", use_bias=True,
        kernel_initializer=keras.initializers.VarianceScaling(
            LOGITS_INIT_SCALE, "fan_in", "truncated_normal"),
        bias_initializer="zeros",
        kernel_regularizer=TF1L2Regularizer(WEIGHT_DECAY),
        name="Logits")

  def build(self, input_shape):
    # Built layer by layer from shapes: no symbolic run of `call` needed.
    for layer in self.base_layers:
      layer.build(input_shape)
      input_shape = layer.compute_output_shape(input_shape)
    self.logits.build(self.avg_pool.compute_output_shape(input_shape))

  def call(self, images, training=False, return_end_points=False):
    end_points = {}
    net = images
    for layer in self.base_layers:
      net = layer(net, training=training)
      end_points[layer.name] = net
    net = self.dropout(self.avg_pool(net), training=training)
    logits = keras.ops.squeeze(self.logits(net), axis=(1, 2))
    end_points["Logits"] = logits
    end_points["Predictions"] = keras.ops.softmax(logits, axis=-1)
    return (logits, end_points) if return_end_points else logits

  def get_config(self):
    return {**super().get_config(), "num_classes": self.num_classes}


def build_model(num_classes=PUBLISHED_NUM_CLASSES, input_size=None):
  """The stage's model (built on zeros of `input_size` when given)."""
  model = InceptionV1(num_classes)
  if input_size:
    model(np.zeros((1, input_size, input_size, 3), np.float32))
  return model


def published_model():
  """The model the published slim checkpoint fits (for the checkpoint CLI)."""
  return build_model(PUBLISHED_NUM_CLASSES, PUBLISHED_INPUT_SIZE)
