"""TF1's pooling layers: max/average pooling in 1, 2 and 3 dimensions."""

import tensorflow as tf

from tf1shim.layers import base
from tf1shim.layers import functional
from tf1shim.layers import utils


class _Pooling(base.Layer):
  """N-D pooling with `tf.nn.max_pool` / `tf.nn.avg_pool`."""

  rank = None
  pool_function = None

  def __init__(self, pool_size, strides, padding="valid",
               data_format="channels_last", name=None, **kwargs):
    super().__init__(name=name, **kwargs)
    self.pool_size = utils.normalize_tuple(pool_size, self.rank, "pool_size")
    self.strides = utils.normalize_tuple(strides, self.rank, "strides")
    self.padding = utils.normalize_padding(padding)
    self.data_format = utils.normalize_data_format(data_format)

  def call(self, inputs):
    return type(self).pool_function(
        tf.convert_to_tensor(inputs), ksize=self.pool_size,
        strides=self.strides, padding=self.padding.upper(),
        data_format=utils.tf_data_format(self.data_format, self.rank))

  def compute_output_shape(self, input_shape):
    input_shape = tuple(input_shape)
    spatial = (input_shape[1:-1] if self.data_format == "channels_last"
               else input_shape[2:])
    out = tuple(utils.conv_output_length(length, self.pool_size[i],
                                         self.padding, self.strides[i])
                for i, length in enumerate(spatial))
    if self.data_format == "channels_last":
      return (input_shape[0],) + out + (input_shape[-1],)
    return (input_shape[0], input_shape[1]) + out

  def get_config(self):
    return {**super().get_config(), "pool_size": self.pool_size,
            "strides": self.strides, "padding": self.padding,
            "data_format": self.data_format}


def _pooling_class(name, rank, pool_function):
  return type(name, (_Pooling,), {
      "rank": rank, "pool_function": staticmethod(pool_function),
      "__doc__": "`tf.compat.v1.layers.%s`." % name,
      "__module__": __name__})


MaxPooling1D = _pooling_class("MaxPooling1D", 1, tf.nn.max_pool)
MaxPooling2D = _pooling_class("MaxPooling2D", 2, tf.nn.max_pool)
MaxPooling3D = _pooling_class("MaxPooling3D", 3, tf.nn.max_pool)
AveragePooling1D = _pooling_class("AveragePooling1D", 1, tf.nn.avg_pool)
AveragePooling2D = _pooling_class("AveragePooling2D", 2, tf.nn.avg_pool)
AveragePooling3D = _pooling_class("AveragePooling3D", 3, tf.nn.avg_pool)

max_pooling1d = functional.functional_form(MaxPooling1D, "max_pooling1d", fixed_scope=False)
max_pooling2d = functional.functional_form(MaxPooling2D, "max_pooling2d", fixed_scope=False)
max_pooling3d = functional.functional_form(MaxPooling3D, "max_pooling3d", fixed_scope=False)
average_pooling1d = functional.functional_form(AveragePooling1D, "average_pooling1d", fixed_scope=False)
average_pooling2d = functional.functional_form(AveragePooling2D, "average_pooling2d", fixed_scope=False)
average_pooling3d = functional.functional_form(AveragePooling3D, "average_pooling3d", fixed_scope=False)
