"""Class 1: TF1 code that treats what get_variable returns as a TF1 variable."""

import re

import numpy as np
import tensorflow as tf
from tensorflow.python.training import moving_averages  # TF1 code's habit

from tf1_idioms.registry import idiom
from tf1_idioms.registry import VOCAB

v1 = tf.compat.v1


# BERT (google-research/bert modeling.py get_assignment_map_from_checkpoint):
# strips ":0" from var.name with a regex to key variables by name.
@idiom(cls=1)
def bert_assignment_map_names(x, training):
  del training
  with v1.variable_scope("cls"):
    w = v1.get_variable("output_weights", [6, 3])
    b = v1.get_variable("output_bias", [3], initializer=v1.zeros_initializer())
  by_name = {}
  for var in (w, b):
    m = re.match("^(.*):\\d+$", var.name)
    by_name[m.group(1)] = var
  return tf.matmul(x, by_name["cls/output_weights"]) + by_name[
      "cls/output_bias"]


# Weight decay by name (google-research/bert optimization.py
# _do_use_weight_decay): no decay for names matching "LayerNorm",
# "layer_norm" or "bias", names taken from var.name without ":0".
@idiom(cls=1, inputs="seq")
def bert_weight_decay_exclusions(x, training):
  del training
  import tf_slim  # pylint: disable=g-import-not-at-top
  with v1.variable_scope("layer_0"):
    h = v1.layers.dense(x, 4, name="dense")
    h = tf_slim.layers.layer_norm(h, begin_norm_axis=-1, begin_params_axis=-1,
                                  scope="LayerNorm")
    with v1.variable_scope("dense", reuse=True):
      params = [v1.get_variable("kernel"), v1.get_variable("bias")]
    with v1.variable_scope("LayerNorm", reuse=True):
      params += [v1.get_variable("gamma"), v1.get_variable("beta")]

  def use_weight_decay(param_name):
    return not any(re.search(r, param_name)
                   for r in ["LayerNorm", "layer_norm", "bias"])

  decayed = [p for p in params
             if use_weight_decay(re.match("^(.*):\\d+$", p.name).group(1))]
  assert len(decayed) == 1, [p.name for p in decayed]
  return h + 0.1 * tf.reduce_sum(tf.square(decayed[0]))


# Summaries and savers (TF1 training loops): var.op.name as the key.
@idiom(cls=1)
def op_name_keys(x, training):
  del training
  with v1.variable_scope("head"):
    w = v1.get_variable("w", [6, 3])
    s = v1.get_variable("scale", [3], initializer=v1.ones_initializer())
  table = {v.op.name: v for v in (w, s)}
  return tf.matmul(x, table["head/w"]) * table["head/scale"]


# Generic TF1 helpers (tf-slim and BERT style): var.get_shape().as_list(),
# dtype.base_dtype for casts,
# read_value() and value().
@idiom(cls=1)
def shape_dtype_read_value(x, training):
  del training
  w = v1.get_variable("w", [6, 4])
  b = v1.get_variable("b", [4], initializer=v1.constant_initializer(0.1))
  rows, cols = w.get_shape().as_list()
  x = tf.cast(x, w.dtype.base_dtype)
  return tf.matmul(x[:, :rows], w.read_value()) + b.value() + float(cols)


# Memory networks / sparse embeddings (TF1 code): var.sparse_read(ids).
@idiom(cls=1, inputs="ids")
def sparse_read_embeddings(ids, training):
  del training
  table = v1.get_variable("table", [VOCAB, 3])
  return tf.reduce_sum(table.sparse_read(ids), axis=1)


# L2-SP / transfer learning (TF1 fine-tuning code): penalty on the distance
# to var.initial_value (deterministic initializer).
@idiom(cls=1)
def initial_value_anchor(x, training):
  del training
  init = np.linspace(-1, 1, 18).reshape(6, 3).astype(np.float32)
  w = v1.get_variable("w", initializer=tf.constant(init))
  anchor = tf.reduce_sum(tf.square(w - w.initial_value))
  return tf.matmul(x, w) + anchor


# Polyak averaging by hand (TF1 RL code, target networks): the average
# kept with var.assign(...) and var.assign_add(...) methods.
@idiom(cls=1)
def polyak_average_assign_methods(x, training):
  del training
  w = v1.get_variable("online/w", [6, 3])
  target = v1.get_variable("target/w", [6, 3], trainable=False,
                           initializer=v1.zeros_initializer())
  steps = v1.get_variable("target/updates", [], trainable=False,
                          initializer=v1.zeros_initializer())
  update = target.assign(0.9 * target + 0.1 * tf.stop_gradient(w))
  with tf.control_dependencies([update, steps.assign_add(1.0)]):
    return tf.matmul(x, w) + tf.matmul(x, target.read_value()) * steps


# Instance discrimination / memory banks (TF1 self-supervised code): a
# non-trainable bank updated with tf.compat.v1.scatter_update, then read.
@idiom(cls=1)
def memory_bank_scatter_update(x, training):
  del training
  bank = v1.get_variable("memory_bank", [8, 6], trainable=False,
                         initializer=v1.constant_initializer(0.1))
  feats = tf.nn.l2_normalize(v1.layers.dense(x, 6, name="proj"), 1)
  update = v1.scatter_update(bank, [0, 2, 4, 6], tf.stop_gradient(feats))
  with tf.control_dependencies([update]):
    memory = bank.read_value()
  return tf.matmul(feats, memory, transpose_b=True)


# Counters and accumulators (TF1 code): scatter_add / scatter_sub methods on
# a non-trainable variable.
@idiom(cls=1)
def scatter_add_sub_methods(x, training):
  del training
  acc = v1.get_variable("acc", [5, 6], trainable=False,
                        initializer=v1.zeros_initializer())
  add = acc.scatter_add(tf.IndexedSlices(tf.stop_gradient(x), [0, 1, 2, 3]))
  with tf.control_dependencies([add]):
    sub = acc.scatter_sub(tf.IndexedSlices(tf.ones([1, 6]), [4]))
  with tf.control_dependencies([sub]):
    state = acc.read_value()
  w = v1.get_variable("w", [6, 2])
  return tf.matmul(x + tf.reduce_mean(state, 0), w)


# Step counters (TF1 model code): tf.compat.v1.assign_add on a
# non-trainable counter, the output reads it after the increment.
@idiom(cls=1)
def assign_add_counter(x, training):
  del training
  count = v1.get_variable("count", [], trainable=False,
                          initializer=v1.constant_initializer(1.0))
  w = v1.get_variable("w", [6, 2])
  with tf.control_dependencies([v1.assign_add(count, 1.0)]):
    scale = tf.identity(count)
  return tf.matmul(x, w) / scale


# Stateful buffers (TF1 code): tf.compat.v1.assign and assign_sub on
# variables, then the updated values used.
@idiom(cls=1)
def assign_and_assign_sub(x, training):
  del training
  last = v1.get_variable("last_mean", [6], trainable=False,
                         initializer=v1.zeros_initializer())
  drift = v1.get_variable("drift", [6], trainable=False,
                          initializer=v1.ones_initializer())
  a = v1.assign(last, tf.reduce_mean(tf.stop_gradient(x), 0))
  b = v1.assign_sub(drift, 0.5 * a)
  w = v1.get_variable("w", [6, 3])
  return tf.matmul(x - b, w)


# Batch norm by hand (TF1 CIFAR/tensorpack-style): moving averages kept by
# moving_averages.assign_moving_average(var, value, decay).
@idiom(cls=1, inputs="img")
def assign_moving_average_bn(x, training):
  channels = x.shape[-1]
  beta = v1.get_variable("beta", [channels], initializer=v1.zeros_initializer())
  gamma = v1.get_variable("gamma", [channels],
                          initializer=v1.ones_initializer())
  moving_mean = v1.get_variable("moving_mean", [channels], trainable=False,
                                initializer=v1.zeros_initializer())
  moving_var = v1.get_variable("moving_variance", [channels], trainable=False,
                               initializer=v1.ones_initializer())
  if training:
    mean, variance = tf.nn.moments(x, [0, 1, 2])
    update_mean = moving_averages.assign_moving_average(
        moving_mean, mean, 0.9, zero_debias=False)
    update_var = moving_averages.assign_moving_average(
        moving_var, variance, 0.9, zero_debias=False)
    with tf.control_dependencies([update_mean, update_var]):
      return tf.nn.batch_normalization(x, tf.identity(mean), variance, beta,
                                       gamma, 1e-3)
  return tf.nn.batch_normalization(x, moving_mean, moving_var, beta, gamma,
                                   1e-3)


# Library helpers (tf-slim variables utils style): isinstance(v, tf.Variable)
# filters what get_variable returned.
@idiom(cls=1)
def isinstance_variable_filter(x, training):
  del training
  w = v1.get_variable("w", [6, 3])
  scale = tf.constant(2.0)
  things = [w, scale]
  variables = [t for t in things if isinstance(t, tf.Variable)]
  assert len(variables) == 1, things
  return tf.matmul(x, variables[0]) * scale


# Weight tying by variable identity (TF1 language models): sets and dicts
# of variables, `in` checks on lists.
@idiom(cls=1)
def variable_identity_sets(x, training):
  del training
  with v1.variable_scope("emb", reuse=v1.AUTO_REUSE):
    a = v1.get_variable("w", [6, 3])
    b = v1.get_variable("w", [6, 3])
  unique = set([a, b])
  assert len(unique) == 1 and b in [a], (a, b)
  return tf.matmul(x, a) + tf.matmul(x, b)


# Pre-2.0 TF1 code (TF 1.x default ref variables):
# get_variable(use_resource=False), reference variables in a
# graph; the variable API on top.
@idiom(cls=1)
def use_resource_false(x, training):
  del training
  w = v1.get_variable("w", [6, 3], use_resource=False)
  assert w.name == "w:0", w.name
  return tf.matmul(x, w.value())


# Learning-rate and step variables (tensorflow/models tutorials/rnn/ptb
# ptb_word_lm.py: `self._lr = tf.Variable(0.0, trainable=False)`): a bare
# tf.Variable in model code, a global variable of the graph.
@idiom(cls=1)
def bare_tf_variable_in_model(x, training):
  del training
  scale = v1.Variable(0.5, trainable=False)
  w = v1.get_variable("w", [6, 3])
  return tf.matmul(x, w) * scale


# The TF1 MNIST tutorials ("Deep MNIST for experts": `weight_variable`,
# `bias_variable` helpers): trainable bare tf.Variables from random and
# constant initial-value ops, several of one default name (`Variable`,
# `Variable_1`, ...) and some under a name scope, found again through
# tf.compat.v1.trainable_variables() for an L2 penalty.
@idiom(cls=1)
def bare_tf_variables_mnist_tutorial(x, training):
  del training

  def weight_variable(shape):
    return tf.Variable(v1.truncated_normal(shape, stddev=0.1))

  def bias_variable(shape):
    return tf.Variable(tf.constant(0.1, shape=shape))

  h = tf.nn.relu(tf.matmul(x, weight_variable([6, 5])) + bias_variable([5]))
  with tf.name_scope("readout"):
    w = v1.Variable(tf.zeros([5, 3]) + 0.05, name="weights")
    out = tf.matmul(h, w) + bias_variable([3])
  names = [v.name for v in v1.trainable_variables()]
  assert names == ["Variable:0", "Variable_1:0", "readout/weights:0",
                   "readout/Variable:0"], names
  assert [v.name for v in v1.global_variables()] == names
  penalty = 1e-3 * tf.add_n([tf.nn.l2_loss(v) for v in
                             v1.trainable_variables()])
  v1.add_to_collection(v1.GraphKeys.REGULARIZATION_LOSSES, penalty)
  return out
