"""Class 5: the rest of tf.compat.v1.layers (conv3d_transpose,
separable_conv1d, InputSpec, TF1-style Layer subclasses)."""

import tensorflow as tf

from tf1_idioms.registry import idiom

v1 = tf.compat.v1


# Video GANs / 3D U-Nets (TF1 code): conv3d_transpose upsampling.
@idiom(cls=5, inputs="vol")
def conv3d_transpose_upsample(x, training):
  del training
  out = v1.layers.conv3d_transpose(x, 2, 2, strides=2, padding="same",
                                   activation=tf.nn.relu, name="up")
  return v1.layers.conv3d(out, 1, 3, padding="same", name="head")


# Keyword spotting / text models (TF1 code): separable_conv1d blocks.
@idiom(cls=5, inputs="seq")
def separable_conv1d_block(x, training):
  del training
  out = v1.layers.separable_conv1d(x, 4, 3, padding="same",
                                   depth_multiplier=2, activation=tf.nn.relu)
  return v1.layers.separable_conv1d(out, 2, 2)


def _custom_dense_class():

  class ScaledDense(v1.layers.Layer):
    """A TF1-style layer: build() with add_weight, an InputSpec."""

    def __init__(self, units, **kwargs):
      super().__init__(**kwargs)
      self.units = units
      self.input_spec = v1.layers.InputSpec(min_ndim=2)

    def build(self, input_shape):
      self.kernel = self.add_weight(
          "kernel", shape=[int(input_shape[-1]), self.units],
          initializer=v1.glorot_uniform_initializer())
      self.scale = self.add_weight("scale", shape=[self.units],
                                   initializer=v1.ones_initializer())
      self.built = True

    def call(self, inputs):
      return tf.matmul(inputs, self.kernel) * self.scale

  return ScaledDense


# Custom layers (TF1 research code): subclass tf.compat.v1.layers.Layer,
# add_weight in build, InputSpec(min_ndim=2).
@idiom(cls=5)
def tf1_layer_subclass(x, training):
  del training
  return _custom_dense_class()(3, name="scaled_dense")(x)


# Custom layers (TF1 research code): layer.apply(), called under a scope.
@idiom(cls=5)
def tf1_layer_subclass_apply_in_scope(x, training):
  del training
  with v1.variable_scope("block"):
    layer = _custom_dense_class()(4)
    return tf.nn.relu(layer.apply(x))


# Layer classes (TF1 code): Conv3DTranspose and SeparableConv1D objects.
@idiom(cls=5, inputs="vol")
def layer_classes_3d_1d(x, training):
  del training
  up = v1.layers.Conv3DTranspose(2, 2, strides=2, name="up")(x)
  seq = tf.reshape(up, [2, -1, 2])
  return v1.layers.SeparableConv1D(2, 4, strides=4, name="sep")(seq)
