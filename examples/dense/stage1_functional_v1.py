"""Stage 1, functional v1: the TF1 model, unchanged, inside a Keras 3 model.

`mlp` is the team's TF1 modeling code as it was: variables from
`tf.compat.v1.get_variable` in `variable_scope`s (the guide's `DenseLayer`
style), an L2 regularizer on every kernel. The only new code is `MLP`: a
Keras 3 model whose `call` is decorated with `track_tf1_style_variables`, so
the TF1 code runs eagerly, under `tf.function` and in `model.fit`, keeping its
TF1 variable names (`mlp/hidden1/kernel`, ...) and reporting its
regularization losses in `model.losses`. `mlp` still runs in a TF1 graph,
which is how the tests check this stage against TF1 itself.
"""

import keras
import numpy as np
import tensorflow as tf

import tf1shim

v1 = tf.compat.v1

L2_SCALE = 1e-3


def l2_regularizer(scale):
  """TF1's `tf.contrib.layers.l2_regularizer`: `scale * sum(w ** 2) / 2`."""
  return lambda weights: scale * tf.nn.l2_loss(weights)


def dense_layer(inputs, units, scope, activation=None):
  """A dense layer on `get_variable`, as TF1 code wrote them by hand."""
  with v1.variable_scope(scope):
    kernel = v1.get_variable(
        "kernel", [inputs.shape[-1], units],
        initializer=v1.glorot_uniform_initializer(),
        regularizer=l2_regularizer(L2_SCALE))
    bias = v1.get_variable("bias", [units],
                           initializer=v1.zeros_initializer())
    outputs = tf.matmul(inputs, kernel) + bias
    return activation(outputs) if activation else outputs


def mlp(images, training=False, num_classes=10):
  """The TF1 model function: images [batch, h, w, c] -> logits."""
  del training  # Nothing in this model depends on it.
  with v1.variable_scope("mlp"):
    x = tf.reshape(images, [-1, int(np.prod(images.shape[1:]))])
    x = dense_layer(x, 64, "hidden1", activation=tf.nn.relu)
    x = dense_layer(x, 32, "hidden2", activation=tf.nn.relu)
    return dense_layer(x, num_classes, "logits")


@keras.saving.register_keras_serializable(package="examples.dense.stage1")
class MLP(keras.Model):
  """`mlp` as a Keras 3 model."""

  def __init__(self, num_classes=10, name="mlp", **kwargs):
    super().__init__(name=name, **kwargs)
    self.num_classes = num_classes

  @tf1shim.track_tf1_style_variables
  def call(self, images, training=False):
    return mlp(images, training=training, num_classes=self.num_classes)

  def get_config(self):
    return {**super().get_config(), "num_classes": self.num_classes}


def build_model(num_classes=10):
  """The stage's model: `build_model()(images, training=...) -> logits`."""
  return MLP(num_classes)


# The TF1 model function the tests run in a TF1 graph (stage 1 only).
TF1_MODEL_FN = mlp
