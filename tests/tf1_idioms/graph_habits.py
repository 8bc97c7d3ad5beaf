"""Class 6: graph-only habits (tensor.name, tensor.op, tensor.graph).

Eager tensors have none of them (nor does `tf.gradients` run eagerly);
under tf.function (and so in model.fit) they exist. A user of such code
decorates it with `track_tf1_style_variables(graph_function=True)` (issue
11 item 6), which runs eager calls as a graph function: the shim runs these
idioms so, in every mode.
"""

import re

import tensorflow as tf

from tf1_idioms.registry import idiom

v1 = tf.compat.v1


# CIFAR-10 tutorial (tensorflow/models tutorials/image/cifar10
# _activation_summary): the summary tag from x.op.name.
@idiom(cls=6, graph_function=True)
def cifar10_activation_summary(x, training):
  del training
  h = v1.layers.dense(x, 4, activation=tf.nn.relu, name="local3")
  tensor_name = re.sub("tower_[0-9]*/", "", h.op.name)
  v1.summary.histogram(tensor_name + "/activations", h)
  v1.summary.scalar(tensor_name + "/sparsity", tf.nn.zero_fraction(h))
  return h


# Slim-style end points (TF1 nets): outputs keyed by tensor.name.
@idiom(cls=6, graph_function=True)
def end_points_by_tensor_name(x, training):
  del training
  end_points = {}
  h = v1.layers.dense(x, 4, name="fc1")
  end_points[h.name] = h
  out = v1.layers.dense(h, 2, name="fc2")
  end_points[out.name] = out
  return tf.concat([end_points[k] for k in sorted(end_points)], 1)


# Library helpers (TF1 code): ops created in the input's graph,
# `with x.graph.as_default()`.
@idiom(cls=6, graph_function=True)
def ops_in_input_graph(x, training):
  del training
  with x.graph.as_default():
    scale = tf.constant(0.5)
  return v1.layers.dense(x, 3, name="fc") * scale


# WGAN-GP (igul222/improved_wgan_training, MIT): the gradient penalty takes
# tf.gradients of the critic with respect to interpolated inputs.
@idiom(cls=6, graph_function=True)
def wgan_gp_gradient_penalty(x, training):
  del training

  def critic(t):
    with v1.variable_scope("critic", reuse=v1.AUTO_REUSE):
      h = v1.layers.dense(t, 8, activation=tf.nn.softplus, name="fc1")
      return v1.layers.dense(h, 1, name="fc2")

  alpha = tf.constant([[0.0], [0.3], [0.6], [1.0]])
  fake = tf.reverse(x, [0])
  interpolates = fake + alpha * (x - fake)
  gradients = tf.gradients(critic(interpolates), [interpolates])[0]
  slopes = tf.sqrt(tf.reduce_sum(tf.square(gradients), axis=1))
  penalty = tf.reduce_mean((slopes - 1.0) ** 2)
  return critic(x) + 10.0 * penalty
