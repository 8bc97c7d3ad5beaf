"""TF1's conv3d_transpose and separable_conv1d (functions and classes).

As in `tf.compat.v1.layers` (tf-keras's Keras 2 `Conv3DTranspose` and
`SeparableConv1D`, which TF1's layers subclass): `Conv3DTranspose` has a
`kernel` of shape `kernel_size + (filters, input_channels)`;
`SeparableConv1D` has `depthwise_kernel` `(k, input_channels,
depth_multiplier)` and `pointwise_kernel` `(1, input_channels *
depth_multiplier, filters)` and runs as a 2-D separable convolution over a
height of 1, as TF1 did.
"""

import tensorflow as tf

from tf1shim.layers import convolutional
from tf1shim.layers import functional
from tf1shim.layers import utils


class Conv3DTranspose(convolutional.Conv3D):
  """`tf.compat.v1.layers.Conv3DTranspose` (no `output_padding`, as TF1)."""

  # A plain attribute, as Keras 3's transposed convolutions hold it.
  kernel = None

  def __init__(self, filters, kernel_size, strides=(1, 1, 1), padding="valid",
               data_format="channels_last", activation=None, use_bias=True,
               kernel_initializer=None,
               bias_initializer=tf.compat.v1.zeros_initializer(),
               kernel_regularizer=None, bias_regularizer=None,
               activity_regularizer=None, kernel_constraint=None,
               bias_constraint=None, trainable=True, name=None, **kwargs):
    super().__init__(
        filters, kernel_size, strides=strides, padding=padding,
        data_format=data_format, activation=activation, use_bias=use_bias,
        kernel_initializer=kernel_initializer,
        bias_initializer=bias_initializer,
        kernel_regularizer=kernel_regularizer,
        bias_regularizer=bias_regularizer,
        activity_regularizer=activity_regularizer,
        kernel_constraint=kernel_constraint, bias_constraint=bias_constraint,
        trainable=trainable, name=name, **kwargs)

  def create_variables(self, input_shape):
    kernel_shape = self.kernel_size + (self.filters,
                                       self._input_channels(input_shape))
    self.kernel = self.add_tf1_variable(
        "kernel", shape=kernel_shape, initializer=self.kernel_initializer,
        regularizer=self.kernel_regularizer,
        constraint=self.kernel_constraint)
    self._build_bias()

  def _convolve(self, inputs):
    first = 2 if self.data_format == "channels_first" else 1
    dynamic = tf.shape(inputs)
    spatial = [utils.deconv_output_length(
        inputs.shape[first + i] or dynamic[first + i], self.kernel_size[i],
        self.padding, self.strides[i]) for i in range(3)]
    if self.data_format == "channels_first":
      output_shape = [dynamic[0], self.filters] + spatial
      strides = (1, 1) + self.strides
    else:
      output_shape = [dynamic[0]] + spatial + [self.filters]
      strides = (1,) + self.strides + (1,)
    outputs = tf.nn.conv3d_transpose(
        inputs, self.kernel, tf.stack(output_shape), strides,
        padding=self.padding.upper(),
        data_format=utils.tf_data_format(self.data_format, 3))
    outputs.set_shape(self.compute_output_shape(tuple(inputs.shape)))
    return outputs

  def _spatial_output(self, spatial):
    return [utils.deconv_output_length(length, self.kernel_size[i],
                                       self.padding, self.strides[i])
            for i, length in enumerate(spatial)]


class SeparableConv1D(convolutional.Conv1D):
  """`tf.compat.v1.layers.SeparableConv1D`."""

  def __init__(self, filters, kernel_size, strides=1, padding="valid",
               data_format="channels_last", dilation_rate=1,
               depth_multiplier=1, activation=None, use_bias=True,
               depthwise_initializer=None, pointwise_initializer=None,
               bias_initializer=tf.compat.v1.zeros_initializer(),
               depthwise_regularizer=None, pointwise_regularizer=None,
               bias_regularizer=None, activity_regularizer=None,
               depthwise_constraint=None, pointwise_constraint=None,
               bias_constraint=None, trainable=True, name=None, **kwargs):
    super().__init__(
        filters, kernel_size, strides=strides, padding=padding,
        data_format=data_format, dilation_rate=dilation_rate,
        activation=activation, use_bias=use_bias,
        bias_initializer=bias_initializer, bias_regularizer=bias_regularizer,
        activity_regularizer=activity_regularizer,
        bias_constraint=bias_constraint, trainable=trainable, name=name,
        **kwargs)
    self.depth_multiplier = int(depth_multiplier)
    self.depthwise_initializer = depthwise_initializer
    self.pointwise_initializer = pointwise_initializer
    self.depthwise_regularizer = depthwise_regularizer
    self.pointwise_regularizer = pointwise_regularizer
    self.depthwise_constraint = depthwise_constraint
    self.pointwise_constraint = pointwise_constraint

  def create_variables(self, input_shape):
    channels = self._input_channels(input_shape)
    self.depthwise_kernel = self.add_tf1_variable(
        "depthwise_kernel",
        shape=self.kernel_size + (channels, self.depth_multiplier),
        initializer=self.depthwise_initializer,
        regularizer=self.depthwise_regularizer,
        constraint=self.depthwise_constraint)
    self.pointwise_kernel = self.add_tf1_variable(
        "pointwise_kernel",
        shape=(1, channels * self.depth_multiplier, self.filters),
        initializer=self.pointwise_initializer,
        regularizer=self.pointwise_regularizer,
        constraint=self.pointwise_constraint)
    self._build_bias()

  def _convolve(self, inputs):
    # TF1: a 2-D separable convolution over a height of 1.
    if self.data_format == "channels_last":
      strides = (1,) + self.strides * 2 + (1,)
      height_axis = 1
    else:
      strides = (1, 1) + self.strides * 2
      height_axis = 2
    outputs = tf.compat.v1.nn.separable_conv2d(
        tf.expand_dims(inputs, height_axis),
        tf.expand_dims(self.depthwise_kernel, 0),
        tf.expand_dims(self.pointwise_kernel, 0), strides=strides,
        padding=self.padding.upper(), rate=(1,) + self.dilation_rate,
        data_format=utils.tf_data_format(self.data_format, 2))
    return tf.squeeze(outputs, [height_axis])

  def get_config(self):
    config = super().get_config()
    for key in ("kernel_initializer", "kernel_regularizer"):
      config.pop(key)
    return {**config, "depth_multiplier": self.depth_multiplier,
            "depthwise_initializer":
                utils.serialize(self.depthwise_initializer),
            "pointwise_initializer":
                utils.serialize(self.pointwise_initializer)}


conv3d_transpose = functional.functional_form(Conv3DTranspose,
                                              "conv3d_transpose")
separable_conv1d = functional.functional_form(SeparableConv1D,
                                              "separable_conv1d")
