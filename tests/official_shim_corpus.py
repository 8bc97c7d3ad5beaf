"""TF1 model functions written against the public TF1 API only.

The same source runs on two implementations: tf1shim's (after
`tf1shim.install()`, on Keras 3) and the official shim's (tf-keras with
TF_USE_LEGACY_KERAS=1), which `official_shim_test.py` compares.
"""

import tensorflow as tf

v1 = tf.compat.v1


def dense_on_get_variable(x, training=None):
  del training
  with v1.variable_scope("dense"):
    kernel = v1.get_variable(
        "kernel", [x.shape[-1], 4],
        regularizer=tf.keras.regularizers.L2(0.05),
        initializer=v1.initializers.glorot_normal)
    bias = v1.get_variable("bias", [4], initializer=v1.initializers.zeros)
  return tf.nn.bias_add(tf.matmul(x, kernel), bias)


def v1_layers_cnn(x, training=None):
  with v1.variable_scope("model"):
    out = v1.layers.conv2d(x, 3, 3, kernel_regularizer="l2",
                           activation=tf.nn.relu)
    out = v1.layers.max_pooling2d(out, 2, 1)
    out = v1.layers.separable_conv2d(out, 4, 2, padding="same",
                                     depthwise_regularizer="l1")
    out = v1.layers.conv2d_transpose(out, 2, 2, strides=2)
    out = v1.layers.average_pooling2d(out, 2, 2)
    out = v1.layers.flatten(out)
    out = v1.layers.dropout(out, 0.5, training=False)
    return v1.layers.dense(out, 5, kernel_regularizer="l2",
                           bias_regularizer="l1")


def conv_1d_3d(x, training=None):
  del training
  # Like every model here, inside an outer scope: without one, the official
  # shim names auto-named layers anew on every call (a limitation the guide
  # documents); tf1shim does not need it.
  with v1.variable_scope("model"):
    return _conv_1d_3d(x)


def _conv_1d_3d(x):
  seq = tf.reshape(x, [x.shape[0], -1, 3])
  seq = v1.layers.conv1d(seq, 4, 3, padding="same")
  seq = v1.layers.max_pooling1d(seq, 2, 2)
  seq = v1.layers.average_pooling1d(seq, 2, 2)
  vol = tf.reshape(x[:, :, :, :2], [x.shape[0], 4, 4, 4, 2])
  vol = v1.layers.conv3d(vol, 2, 2, kernel_regularizer="l2")
  vol = v1.layers.max_pooling3d(vol, 2, 1)
  vol = v1.layers.average_pooling3d(vol, 1, 1)
  return tf.concat([v1.layers.flatten(seq), v1.layers.flatten(vol)], axis=1)


def batch_norm(x, training=None):
  with v1.variable_scope("bn_model"):
    out = v1.layers.conv2d(x, 4, 1, use_bias=False)
    out = v1.layers.batch_normalization(out, momentum=0.9,
                                        training=training,
                                        gamma_regularizer="l2")
    flat = v1.layers.flatten(out)
    # 2-D inputs: the non-fused path.
    return v1.layers.batch_normalization(flat, training=training)


def scopes_and_names(x, training=None):
  del training
  with v1.variable_scope("tower"):
    a = v1.layers.dense(x, 3, name="fc")
    b = v1.layers.dense(x, 3)
    c = v1.layers.dense(x, 3)
  with v1.variable_scope("tower", reuse=True):
    d = v1.layers.dense(x, 3, name="fc")
  return a + b + c + d


MODELS = {f.__name__: f for f in [dense_on_get_variable, v1_layers_cnn,
                                  conv_1d_3d, batch_norm, scopes_and_names]}
INPUT_SHAPES = {"dense_on_get_variable": (4, 6)}
DEFAULT_INPUT_SHAPE = (2, 8, 8, 3)


def make_layer_class(model_fn):
  """A Keras layer (of whichever Keras is active) running `model_fn`."""

  class Wrapped(tf.keras.layers.Layer):

    @tf.compat.v1.keras.utils.track_tf1_style_variables
    def call(self, inputs, training=None):
      return model_fn(inputs, training=training)

  return Wrapped
