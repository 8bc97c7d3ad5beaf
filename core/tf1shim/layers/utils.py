"""Argument handling shared by the TF1 layers, with TF1's conventions."""

import inspect
import re

import keras
import tensorflow as tf

from tf1shim import _tf_internal


def to_snake_case(name):
  """TF1's default layer names: `Conv2D` -> `conv2d`."""
  intermediate = re.sub("(.)([A-Z][a-z0-9]+)", r"\1_\2", name)
  insecure = re.sub("([a-z])([A-Z])", r"\1_\2", intermediate).lower()
  if insecure[0] != "_":
    return insecure
  return "private" + insecure


def get_activation(activation):
  """None stays None (linear); strings resolve through Keras."""
  if activation is None or callable(activation):
    return activation
  return keras.activations.get(activation)


def get_initializer(initializer):
  """TF1's layers took Keras's names and configs for initializers too
  (`kernel_initializer="he_normal"`: tf-keras's `initializers.get`)."""
  if isinstance(initializer, (str, dict)):
    return keras.initializers.get(initializer)
  return initializer


def get_regularizer(regularizer):
  if regularizer is None or callable(regularizer):
    return regularizer
  return keras.regularizers.get(regularizer)


_TF1_INITIALIZER_PREFIX = "tf1:"


def _tf1_initializer_classes():
  """TF1 initializer classes by name, from the public compat.v1 namespace."""
  found = {}
  for name in dir(tf.compat.v1.initializers):
    value = getattr(tf.compat.v1.initializers, name)
    if inspect.isclass(value):
      found[value.__name__] = value
  return found


def serialize(obj):
  """A JSON-able config value for initializers, regularizers, activations."""
  if obj is None or isinstance(obj, (str, int, float, bool)):
    return obj
  if _tf_internal.is_tf1_initializer(obj):
    return {"class_name": _TF1_INITIALIZER_PREFIX + type(obj).__name__,
            "config": obj.get_config()}
  return keras.saving.serialize_keras_object(obj)


def deserialize(config):
  """Inverse of `serialize`."""
  if not isinstance(config, dict):
    return config
  class_name = config.get("class_name", "")
  if class_name.startswith(_TF1_INITIALIZER_PREFIX):
    cls = _tf1_initializer_classes()[class_name[len(_TF1_INITIALIZER_PREFIX):]]
    return cls.from_config(config["config"])
  return keras.saving.deserialize_keras_object(config)


def smart_cond(pred, true_fn, false_fn):
  """`true_fn()` or `false_fn()`; a `tf.cond` only if `pred` is a tensor."""
  if isinstance(pred, (tf.Tensor, tf.Variable)):
    static = tf.get_static_value(pred)
    if static is None:
      return tf.cond(pred, true_fn, false_fn)
    pred = bool(static)
  return true_fn() if pred else false_fn()


def normalize_data_format(data_format):
  value = (data_format or "channels_last").lower()
  if value not in ("channels_first", "channels_last"):
    raise ValueError('The `data_format` argument must be one of '
                     '"channels_first", "channels_last". Received: %r' %
                     (data_format,))
  return value


def normalize_padding(padding):
  value = padding.lower()
  if value not in ("valid", "same"):
    raise ValueError('The `padding` argument must be "valid" or "same". '
                     "Received: %r" % (padding,))
  return value


def normalize_tuple(value, n, name):
  """An int or a sequence of n ints -> a tuple of n ints."""
  if isinstance(value, int):
    return (value,) * n
  try:
    value_tuple = tuple(int(v) for v in value)
  except (TypeError, ValueError) as e:
    raise ValueError("The `%s` argument must be a tuple of %d integers. "
                     "Received: %r" % (name, n, value)) from e
  if len(value_tuple) != n:
    raise ValueError("The `%s` argument must be a tuple of %d integers. "
                     "Received: %r" % (name, n, value))
  return value_tuple


def tf_data_format(data_format, rank):
  """Keras-style data format -> TF op format for `rank` spatial dims."""
  spatial = {1: "W", 2: "HW", 3: "DHW"}[rank]
  if data_format == "channels_last":
    return "N" + spatial + "C"
  return "NC" + spatial


def conv_output_length(input_length, filter_size, padding, stride,
                       dilation=1):
  if input_length is None:
    return None
  dilated = filter_size + (filter_size - 1) * (dilation - 1)
  if padding == "same":
    output_length = input_length
  else:
    output_length = input_length - dilated + 1
  return (output_length + stride - 1) // stride


def deconv_output_length(input_length, filter_size, padding, stride):
  if input_length is None:
    return None
  input_length *= stride
  if padding == "valid":
    input_length += max(filter_size - stride, 0)
  return input_length


def check_input_spec(layer, inputs):
  """TF1's check of `layer.input_spec` (rank, axes, shape, dtype) in graphs.

  Keras 3's `__call__` makes this check in TF2; TF1 graphs skip that call.
  """
  spec = layer.input_spec
  if spec is None:
    return
  if isinstance(spec, (list, tuple)):
    if len(spec) != 1:
      return  # several inputs: TF1 layers here take one tensor
    spec = spec[0]
  shape = inputs.shape
  rank = shape.rank
  name = layer.name

  def fail(what):
    raise ValueError("Input 0 of layer %r is incompatible with the layer's "
                     "input_spec: expected %s, found shape %s." %
                     (name, what, shape))

  if rank is None:
    return
  if spec.ndim is not None and rank != spec.ndim:
    fail("ndim=%d" % spec.ndim)
  if spec.max_ndim is not None and rank > spec.max_ndim:
    fail("max_ndim=%d" % spec.max_ndim)
  if spec.min_ndim is not None and rank < spec.min_ndim:
    fail("min_ndim=%d" % spec.min_ndim)
  if spec.dtype is not None and inputs.dtype.name != tf.as_dtype(
      spec.dtype).name:
    fail("dtype=%s (found %s)" % (spec.dtype, inputs.dtype.name))
  for axis, value in (spec.axes or {}).items():
    if value is not None and shape[int(axis)] not in (value, None):
      fail("axis %d of size %d" % (axis, value))
  if spec.shape is not None:
    for expected, found in zip(spec.shape, shape):
      if expected is not None and found is not None and expected != found:
        fail("shape %s" % (tuple(spec.shape),))
