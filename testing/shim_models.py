"""Tiny decorated Layer/Module wrappers around a TF1 model function."""

import keras
import tensorflow as tf

import tf1shim


class ShimLayer(keras.layers.Layer):
  """A Keras 3 layer whose decorated `call` runs `model_fn(inputs, ...)`."""

  def __init__(self, model_fn, **kwargs):
    super().__init__(**kwargs)
    self.model_fn = model_fn

  @tf1shim.track_tf1_style_variables
  def call(self, inputs, training=None):
    return self.model_fn(inputs, training=training)


class ShimModule(tf.Module):
  """A tf.Module whose decorated `__call__` runs `model_fn(inputs, ...)`."""

  def __init__(self, model_fn, name=None):
    super().__init__(name=name)
    self.model_fn = model_fn

  @tf1shim.track_tf1_style_variables
  def __call__(self, inputs, training=False):
    return self.model_fn(inputs, training=training)
