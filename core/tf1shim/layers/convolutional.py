"""TF1's convolution layers: conv1d/2d/3d, conv2d_transpose, separable_conv2d.

Variables and defaults as in `tf.compat.v1.layers`: `kernel` of shape
`kernel_size + (input_channels, filters)` (TF1's Glorot uniform by default),
`bias` of shape `(filters,)` (zeros).
"""

import tensorflow as tf

from tf1shim.layers import base
from tf1shim.layers import functional
from tf1shim.layers import utils


class _Conv(base.Layer):
  """N-D convolution, N = `rank` (1, 2 or 3)."""

  rank = None

  def __init__(self, filters, kernel_size, strides=1, padding="valid",
               data_format="channels_last", dilation_rate=1, activation=None,
               use_bias=True, kernel_initializer=None,
               bias_initializer=tf.compat.v1.zeros_initializer(),
               kernel_regularizer=None, bias_regularizer=None,
               activity_regularizer=None, kernel_constraint=None,
               bias_constraint=None, trainable=True, name=None, **kwargs):
    super().__init__(trainable=trainable, name=name, **kwargs)
    self.filters = int(filters)
    self.kernel_size = utils.normalize_tuple(kernel_size, self.rank,
                                             "kernel_size")
    self.strides = utils.normalize_tuple(strides, self.rank, "strides")
    self.padding = utils.normalize_padding(padding)
    self.data_format = utils.normalize_data_format(data_format)
    self.dilation_rate = utils.normalize_tuple(dilation_rate, self.rank,
                                               "dilation_rate")
    self.activation = utils.get_activation(activation)
    self.use_bias = use_bias
    self.kernel_initializer = kernel_initializer
    self.bias_initializer = bias_initializer
    self.kernel_regularizer = kernel_regularizer
    self.bias_regularizer = bias_regularizer
    self.tf1_activity_regularizer = utils.get_regularizer(activity_regularizer)
    self.kernel_constraint = kernel_constraint
    self.bias_constraint = bias_constraint

  @property
  def _channel_axis(self):
    return 1 if self.data_format == "channels_first" else -1

  def _input_channels(self, input_shape):
    channels = tf.compat.dimension_value(
        tf.TensorShape(input_shape)[self._channel_axis])
    if channels is None:
      raise ValueError("The channel dimension of the inputs to %s should be "
                       "defined. Found `None`." % type(self).__name__)
    return channels

  def create_variables(self, input_shape):
    kernel_shape = self.kernel_size + (self._input_channels(input_shape),
                                       self.filters)
    # Held as `_kernel`, as Keras 3's convolutions do: an object-based
    # checkpoint then has the same key for this layer and its Keras 3
    # replacement (the guide's migration step 4 depends on it).
    self._kernel = self.add_tf1_variable(
        "kernel", shape=kernel_shape, initializer=self.kernel_initializer,
        regularizer=self.kernel_regularizer,
        constraint=self.kernel_constraint)
    self._build_bias()

  @property
  def kernel(self):
    return self._kernel

  def _build_bias(self):
    if self.use_bias:
      self.bias = self.add_tf1_variable(
          "bias", shape=(self.filters,), initializer=self.bias_initializer,
          regularizer=self.bias_regularizer, constraint=self.bias_constraint)
    else:
      self.bias = None

  def _convolve(self, inputs):
    return tf.nn.convolution(
        inputs, self.kernel, strides=self.strides,
        padding=self.padding.upper(), dilations=self.dilation_rate,
        data_format=utils.tf_data_format(self.data_format, self.rank))

  def call(self, inputs):
    outputs = self._convolve(tf.convert_to_tensor(inputs))
    if self.use_bias:
      outputs = _bias_add(outputs, self.bias, self.data_format, self.rank)
    if self.activation is not None:
      outputs = self.activation(outputs)
    if self.tf1_activity_regularizer is not None:
      self.add_activity_loss(outputs, self.tf1_activity_regularizer)
    return outputs

  def _spatial_output(self, spatial):
    return [utils.conv_output_length(length, self.kernel_size[i],
                                     self.padding, self.strides[i],
                                     self.dilation_rate[i])
            for i, length in enumerate(spatial)]

  def compute_output_shape(self, input_shape):
    input_shape = tuple(input_shape)
    if self.data_format == "channels_last":
      return ((input_shape[0],) +
              tuple(self._spatial_output(input_shape[1:-1])) + (self.filters,))
    return ((input_shape[0], self.filters) +
            tuple(self._spatial_output(input_shape[2:])))

  def get_config(self):
    return {**super().get_config(), "filters": self.filters,
            "kernel_size": self.kernel_size, "strides": self.strides,
            "padding": self.padding, "data_format": self.data_format,
            "dilation_rate": self.dilation_rate,
            "activation": utils.serialize(self.activation),
            "use_bias": self.use_bias,
            "kernel_initializer": utils.serialize(self.kernel_initializer),
            "bias_initializer": utils.serialize(self.bias_initializer),
            "kernel_regularizer": utils.serialize(self.kernel_regularizer),
            "bias_regularizer": utils.serialize(self.bias_regularizer)}


def _bias_add(outputs, bias, data_format, rank):
  if data_format == "channels_last" or rank == 2:
    return tf.nn.bias_add(
        outputs, bias,
        data_format="NHWC" if data_format == "channels_last" else "NCHW")
  # bias_add's NCHW form is 4-D only: broadcast by hand for 1-D and 3-D.
  return outputs + tf.reshape(bias, (1, -1) + (1,) * rank)


class Conv1D(_Conv):
  """`tf.compat.v1.layers.Conv1D`."""
  rank = 1


class Conv2D(_Conv):
  """`tf.compat.v1.layers.Conv2D`."""
  rank = 2


class Conv3D(_Conv):
  """`tf.compat.v1.layers.Conv3D`."""
  rank = 3


class Conv2DTranspose(Conv2D):
  """`tf.compat.v1.layers.Conv2DTranspose` (no `output_padding`, as in TF1).

  Kernel shape `kernel_size + (filters, input_channels)`.
  """

  # A plain attribute here, as in Keras 3's Conv2DTranspose (see `_Conv`).
  kernel = None

  def __init__(self, filters, kernel_size, strides=(1, 1), padding="valid",
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
    batch = tf.shape(inputs)[0]
    if self.data_format == "channels_first":
      h_axis, w_axis = 2, 3
    else:
      h_axis, w_axis = 1, 2
    dynamic = tf.shape(inputs)
    height = inputs.shape[h_axis] or dynamic[h_axis]
    width = inputs.shape[w_axis] or dynamic[w_axis]
    out_height = utils.deconv_output_length(height, self.kernel_size[0],
                                            self.padding, self.strides[0])
    out_width = utils.deconv_output_length(width, self.kernel_size[1],
                                           self.padding, self.strides[1])
    if self.data_format == "channels_first":
      output_shape = (batch, self.filters, out_height, out_width)
      strides = (1, 1) + self.strides
    else:
      output_shape = (batch, out_height, out_width, self.filters)
      strides = (1,) + self.strides + (1,)
    outputs = tf.nn.conv2d_transpose(
        inputs, self.kernel, tf.stack(output_shape), strides,
        padding=self.padding.upper(),
        data_format=utils.tf_data_format(self.data_format, 2))
    static_shape = self.compute_output_shape(tuple(inputs.shape))
    outputs.set_shape(static_shape)
    return outputs

  def _spatial_output(self, spatial):
    return [utils.deconv_output_length(length, self.kernel_size[i],
                                       self.padding, self.strides[i])
            for i, length in enumerate(spatial)]


class SeparableConv2D(Conv2D):
  """`tf.compat.v1.layers.SeparableConv2D`.

  Variables `depthwise_kernel` `kernel_size + (input_channels,
  depth_multiplier)`, `pointwise_kernel` `(1, 1, input_channels *
  depth_multiplier, filters)`, `bias` `(filters,)`.
  """

  def __init__(self, filters, kernel_size, strides=(1, 1), padding="valid",
               data_format="channels_last", dilation_rate=(1, 1),
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
        shape=(1, 1, channels * self.depth_multiplier, self.filters),
        initializer=self.pointwise_initializer,
        regularizer=self.pointwise_regularizer,
        constraint=self.pointwise_constraint)
    self._build_bias()

  def _convolve(self, inputs):
    if self.data_format == "channels_last":
      strides = (1,) + self.strides + (1,)
    else:
      strides = (1, 1) + self.strides
    return tf.compat.v1.nn.separable_conv2d(
        inputs, self.depthwise_kernel, self.pointwise_kernel,
        strides=strides, padding=self.padding.upper(),
        rate=self.dilation_rate,
        data_format=utils.tf_data_format(self.data_format, 2))

  def get_config(self):
    config = super().get_config()
    for key in ("kernel_initializer", "kernel_regularizer"):
      config.pop(key)
    return {**config, "depth_multiplier": self.depth_multiplier,
            "depthwise_initializer":
                utils.serialize(self.depthwise_initializer),
            "pointwise_initializer":
                utils.serialize(self.pointwise_initializer)}


conv1d = functional.functional_form(Conv1D, "conv1d")
conv2d = functional.functional_form(Conv2D, "conv2d")
conv3d = functional.functional_form(Conv3D, "conv3d")
conv2d_transpose = functional.functional_form(Conv2DTranspose, "conv2d_transpose")
separable_conv2d = functional.functional_form(SeparableConv2D, "separable_conv2d")
