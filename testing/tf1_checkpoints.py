"""TF1 checkpoints written by real TF1 code (graph, Saver) for tests."""

import os

import keras
import numpy as np
import tensorflow as tf

from tf1shim import layers

v1 = tf.compat.v1
X = np.random.RandomState(0).randn(6, 8, 8, 3).astype(np.float32)
Y = np.random.RandomState(1).randint(0, 5, size=6)


def tf1_model(x, training=None):
  """TF1 layers, a nested get_variable scope and batch normalization."""
  with v1.variable_scope("model"):
    out = layers.conv2d(x, 4, 3, activation=tf.nn.relu)
    out = layers.batch_normalization(out, momentum=0.5, training=training)
    out = layers.max_pooling2d(out, 2, 2)
    out = layers.flatten(out)
    with v1.variable_scope("head"):
      with v1.variable_scope("projection"):
        w = v1.get_variable("w", [out.shape[-1], 5])
      return tf.matmul(out, w) + v1.get_variable(
          "b", [5], initializer=v1.constant_initializer(0.1))


def write_tf1_checkpoint(directory, model_fn=tf1_model, steps=3):
  """Trains `model_fn` a few steps in a TF1 graph and saves it with Saver.

  Returns:
    (checkpoint prefix, inference outputs of the saved model on X).
  """
  with tf.Graph().as_default():
    x = v1.placeholder(tf.float32, [None, 8, 8, 3])
    training = v1.placeholder_with_default(False, [])
    logits = model_fn(x, training=training)
    loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(
        labels=tf.constant(Y), logits=logits))
    global_step = v1.train.get_or_create_global_step()
    with tf.control_dependencies(v1.get_collection(v1.GraphKeys.UPDATE_OPS)):
      train_op = v1.train.GradientDescentOptimizer(0.1).minimize(
          loss, global_step=global_step)
    saver = v1.train.Saver()
    with v1.Session() as sess:
      sess.run(v1.global_variables_initializer())
      for _ in range(steps):
        sess.run(train_op, {x: X, training: True})
      prefix = saver.save(sess, os.path.join(directory, "model.ckpt"),
                          global_step=global_step)
      outputs = sess.run(logits, {x: X})
  return prefix, outputs




def read_entry(prefix, name):
  """One tensor of a checkpoint, read with TensorFlow's own reader."""
  return tf.train.load_checkpoint(prefix).get_tensor(name)


class NativeModel(keras.Model):
  """The fully native Keras 3 version of `tf1_model`."""

  def __init__(self, **kwargs):
    super().__init__(**kwargs)
    self.conv = keras.layers.Conv2D(4, 3, activation="relu")
    self.bn = keras.layers.BatchNormalization(momentum=0.5, epsilon=1e-3)
    self.pool = keras.layers.MaxPooling2D(2, 2)
    self.flatten = keras.layers.Flatten()
    self.head = keras.layers.Dense(5)

  def call(self, x, training=None):
    out = self.pool(self.bn(self.conv(x), training=training))
    return self.head(self.flatten(out))


def built_native_model(name=None):
  model = NativeModel(name=name)
  model(X[:1])
  return model


# Rules from NativeModel's Keras paths (named `native_model...` by default)
# to `tf1_model`'s TF1 names.
NATIVE_RULES = r"""
# Keras 3 paths of NativeModel -> the TF1 checkpoint's names.
^native(_model)?(_\d+)?/conv2d(_\d+)?/               -> model/conv2d/
^native(_model)?(_\d+)?/batch_normalization(_\d+)?/  -> model/batch_normalization/
^native(_model)?(_\d+)?/dense(_\d+)?/kernel$         -> model/head/projection/w
^native(_model)?(_\d+)?/dense(_\d+)?/bias$           -> model/head/b
"""
