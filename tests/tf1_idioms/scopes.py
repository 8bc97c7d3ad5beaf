"""Class 3: variable_scope defaults (initializer, regularizer, dtype,
custom_getter, caching_device, partitioner)."""

import tensorflow as tf

from tf1_idioms.registry import idiom
from tf1_idioms.registry import VOCAB

v1 = tf.compat.v1


# PTB LM (tensorflow/models tutorials/rnn/ptb): the model's scope carries a
# random_uniform initializer that every get_variable inside inherits.
@idiom(cls=3)
def ptb_scope_initializer(x, training):
  del training
  with v1.variable_scope("Model", initializer=v1.random_uniform_initializer(
      -0.1, 0.1)):
    w = v1.get_variable("softmax_w", [6, 3])
    b = v1.get_variable("softmax_b", [3])
    return tf.matmul(x, w) * 10.0 + b


# TF1 layers under a scope initializer (TF1 seq2seq/NMT code): kernels without
# their own
# initializer take the scope's.
@idiom(cls=3)
def layers_under_scope_initializer(x, training):
  del training
  with v1.variable_scope("net", initializer=v1.constant_initializer(0.05)):
    h = v1.layers.dense(x, 4, activation=tf.nn.relu, name="fc1")
    return v1.layers.dense(h, 2, name="fc2")


# Weight decay per scope (TF1 model code): variable_scope(regularizer=...)
# regularizes every get_variable inside.
@idiom(cls=3)
def scope_regularizer(x, training):
  del training
  with v1.variable_scope("decayed", regularizer=tf.keras.regularizers.L2(
      0.05)):
    w = v1.get_variable("w", [6, 3])
    b = v1.get_variable("b", [3], regularizer=lambda t: 0.0 * tf.reduce_sum(
        t))
  return tf.matmul(x, w) + b


# Slim-free weight decay (TF1 code): scope regularizer over TF1 layers.
@idiom(cls=3, inputs="img")
def scope_regularizer_over_layers(x, training):
  del training
  with v1.variable_scope("model", regularizer=lambda w: 0.01 * tf.reduce_sum(
      tf.square(w))):
    out = v1.layers.conv2d(x, 3, 3)
    return v1.layers.dense(v1.layers.flatten(out), 2)


# Scientific models (TF1 code): variable_scope(dtype=tf.float64).
@idiom(cls=3)
def scope_dtype_float64(x, training):
  del training
  with v1.variable_scope("precise", dtype=tf.float64):
    w = v1.get_variable("w", [6, 3])
    out = tf.matmul(tf.cast(x, tf.float64), w)
  return tf.cast(out, tf.float32)


# Mixed precision (NVIDIA / tensorflow/models official resnet): the
# float32_variable_storage_getter custom getter: fp32 variables, fp16 math.
@idiom(cls=3, tolerance=2e-3)
def fp16_custom_getter(x, training):
  del training

  def float32_variable_storage_getter(getter, name, shape=None, dtype=None,
                                      initializer=None, regularizer=None,
                                      trainable=True, *args, **kwargs):
    storage_dtype = tf.float32 if trainable else dtype
    variable = getter(name, shape, dtype=storage_dtype,
                      initializer=initializer, regularizer=regularizer,
                      trainable=trainable, *args, **kwargs)
    if trainable and dtype != tf.float32:
      variable = tf.cast(variable, dtype)
    return variable

  with v1.variable_scope("fp16", custom_getter=float32_variable_storage_getter):
    h = tf.cast(x, tf.float16)
    w = v1.get_variable("w", [6, 4], dtype=tf.float16)
    h = tf.nn.relu(tf.matmul(h, w))
    out = v1.layers.dense(h, 3, name="fc")
  return tf.cast(out, tf.float32)


# Transfer learning (TF1 meta-learning/fine-tuning code): a custom getter
# that freezes a scope by stop_gradient.
@idiom(cls=3)
def stop_gradient_custom_getter(x, training):
  del training

  def frozen(getter, *args, **kwargs):
    return tf.stop_gradient(getter(*args, **kwargs))

  with v1.variable_scope("backbone", custom_getter=frozen):
    h = v1.layers.dense(x, 4, activation=tf.nn.relu, name="fc")
  return v1.layers.dense(h, 2, name="head")


# Weight normalization (TF1 code): a custom getter that rescales kernels by
# their norm.
@idiom(cls=3)
def weight_norm_custom_getter(x, training):
  del training

  def normalized(getter, name, *args, **kwargs):
    var = getter(name, *args, **kwargs)
    if name.endswith("kernel"):
      return var / tf.norm(var, axis=0, keepdims=True)
    return var

  with v1.variable_scope("wn", custom_getter=normalized):
    return v1.layers.dense(x, 3, name="fc")


# Multi-GPU towers (TF1 CIFAR-10 multi-GPU): caching_device on the scope.
@idiom(cls=3)
def caching_device_scope(x, training):
  del training
  with v1.variable_scope("tower", caching_device="/cpu:0"):
    w = v1.get_variable("w", [6, 3])
    return tf.matmul(x, w)


# Large embeddings (wide & deep, TF1 recommenders): a partitioned table
# from the scope's partitioner.
@idiom(cls=3, inputs="ids", xfail=(
    "issue 11 item 3: partitioner= is refused by tf1shim (ValueError; "
    "core/README 'Errors you can act on')"))
def partitioned_embedding(ids, training):
  del training
  with v1.variable_scope("emb", partitioner=v1.fixed_size_partitioner(2)):
    table = v1.get_variable("table", [VOCAB, 3])
  return tf.reduce_sum(tf.nn.embedding_lookup(table, ids), 1)


# Nested defaults (TF1 code): an inner scope inherits the outer's
# initializer and overrides its regularizer.
@idiom(cls=3)
def nested_scope_defaults(x, training):
  del training
  with v1.variable_scope("outer", initializer=v1.constant_initializer(0.1),
                         regularizer=tf.keras.regularizers.L1(0.01)):
    a = v1.get_variable("a", [6, 3])
    with v1.variable_scope("inner", regularizer=tf.keras.regularizers.L2(
        0.02)):
      b = v1.get_variable("b", [3, 3])
  return tf.matmul(tf.matmul(x, a), b)
