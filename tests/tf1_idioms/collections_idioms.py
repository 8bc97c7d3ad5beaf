"""Class 2: TF1 code that reads the graph's collections in its model code."""

import tensorflow as tf

from tf1_idioms.registry import idiom

v1 = tf.compat.v1


def _slim():
  import tf_slim  # pylint: disable=g-import-not-at-top
  return tf_slim


# ResNet (tensorflow/models official/resnet resnet_run_loop.py): weight
# decay over trainable_variables() excluding batch_normalization by name.
@idiom(cls=2, inputs="img")
def resnet_weight_decay_trainable_variables(x, training):
  out = v1.layers.conv2d(x, 4, 3, use_bias=False)
  out = v1.layers.batch_normalization(out, training=training)
  out = v1.layers.dense(v1.layers.flatten(out), 3)
  l2 = 0.01 * tf.add_n([tf.nn.l2_loss(tf.cast(v, tf.float32))
                        for v in v1.trainable_variables()
                        if "batch_normalization" not in v.name])
  return out + l2


# Estimator model_fns (tensorflow/models official, TF1 estimators):
# losses.get_regularization_loss() added to the data
# loss inside the model code.
@idiom(cls=2)
def get_regularization_loss(x, training):
  del training
  out = v1.layers.dense(x, 3, kernel_regularizer=tf.keras.regularizers.L2(
      0.1), name="fc")
  return out + v1.losses.get_regularization_loss()


# Multi-task models (TF1 multi-head estimators):
# get_regularization_losses(scope=...) per head.
@idiom(cls=2)
def regularization_losses_by_scope(x, training):
  del training
  reg = tf.keras.regularizers.L2(0.1)
  with v1.variable_scope("head_a"):
    a = v1.layers.dense(x, 3, kernel_regularizer=reg)
  with v1.variable_scope("head_b"):
    b = v1.layers.dense(x, 3, kernel_regularizer=reg)
  losses_a = v1.losses.get_regularization_losses(scope="head_a")
  assert len(losses_a) == 1, losses_a
  return a + b + tf.add_n(losses_a)


# GANs (carpedm20/DCGAN-tensorflow, MIT): t_vars = tf.trainable_variables();
# g_vars/d_vars split by a name prefix.
@idiom(cls=2, inputs="noise")
def gan_variable_split_by_prefix(z, training):
  del training
  with v1.variable_scope("generator"):
    g = v1.layers.dense(z, 6, activation=tf.tanh, name="g_h0")
  with v1.variable_scope("discriminator"):
    d = v1.layers.dense(g, 1, name="d_h0")
  t_vars = v1.trainable_variables()
  g_vars = [v for v in t_vars if "g_" in v.name]
  d_vars = [v for v in t_vars if "d_" in v.name]
  assert len(g_vars) == 2 and len(d_vars) == 2, t_vars
  return d + 0.01 * tf.add_n([tf.reduce_sum(tf.square(v)) for v in g_vars])


# GANs (TF-GAN style): get_collection(TRAINABLE_VARIABLES, scope=...).
@idiom(cls=2, inputs="noise")
def gan_get_collection_scope(z, training):
  del training
  with v1.variable_scope("Generator"):
    g = v1.layers.dense(z, 4, name="fc")
  with v1.variable_scope("Discriminator"):
    d = v1.layers.dense(g, 1, name="fc")
  g_vars = v1.get_collection(v1.GraphKeys.TRAINABLE_VARIABLES, "Generator")
  assert [v.name for v in g_vars] == ["Generator/fc/kernel:0",
                                      "Generator/fc/bias:0"], g_vars
  return d + tf.reduce_mean(g_vars[0])


# Savers (TF1 training scripts): global_variables(scope) picks what to save
# or average; here its order weights the sum.
@idiom(cls=2, inputs="img")
def global_variables_scope_order(x, training):
  with v1.variable_scope("encoder"):
    h = v1.layers.conv2d(x, 3, 3)
    h = v1.layers.batch_normalization(h, training=training)
  names = [v.name for v in v1.global_variables("encoder")]
  assert names == ["encoder/conv2d/kernel:0", "encoder/conv2d/bias:0",
                   "encoder/batch_normalization/gamma:0",
                   "encoder/batch_normalization/beta:0",
                   "encoder/batch_normalization/moving_mean:0",
                   "encoder/batch_normalization/moving_variance:0"], names
  return v1.layers.flatten(h) * float(len(names))


# Slim nets (tensorflow/models research/slim): slim.get_model_variables() /
# model_variables() for an L2 norm.
@idiom(cls=2, inputs="img")
def slim_model_variables(x, training):
  del training
  slim = _slim()
  net = slim.conv2d(x, 3, [3, 3], scope="conv1")
  net = slim.fully_connected(slim.flatten(net), 2, scope="fc")
  model_vars = slim.get_model_variables()
  assert len(model_vars) == 4, model_vars
  assert [v.name for v in v1.model_variables()] == [v.name for v in
                                                   model_vars]
  return net + 0.001 * tf.add_n([tf.nn.l2_loss(v) for v in model_vars])


# Streaming statistics (TF1 metrics style): get_variable into
# LOCAL_VARIABLES, found again by local_variables().
@idiom(cls=2)
def local_variables_accumulator(x, training):
  del training
  total = v1.get_variable("total", [6], trainable=False,
                          initializer=v1.zeros_initializer(),
                          collections=[v1.GraphKeys.LOCAL_VARIABLES])
  assert v1.local_variables() == [total], v1.local_variables()
  w = v1.get_variable("w", [6, 2])
  return tf.matmul(x + total, w)


# Estimator model_fns (tensorflow/models official resnet_run_loop): the
# UPDATE_OPS control dependency inside model code
# (slim.batch_norm puts its updates there).
@idiom(cls=2, inputs="img")
def update_ops_control_dependency(x, training):
  slim = _slim()
  net = slim.conv2d(x, 3, [1, 1], normalizer_fn=slim.batch_norm,
                    normalizer_params={"is_training": training,
                                       "decay": 0.9}, scope="conv")
  update_ops = v1.get_collection(v1.GraphKeys.UPDATE_OPS)
  with tf.control_dependencies(update_ops):
    return tf.identity(slim.flatten(net))


# Custom penalties (TF1 code): add_to_collection(REGULARIZATION_LOSSES, ...)
# then get_regularization_loss().
@idiom(cls=2)
def add_to_regularization_collection(x, training):
  del training
  w = v1.get_variable("w", [6, 3])
  v1.add_to_collection(v1.GraphKeys.REGULARIZATION_LOSSES,
                       0.1 * tf.reduce_sum(tf.abs(w)))
  return tf.matmul(x, w) + v1.losses.get_regularization_loss()


# Estimator model_fns (TF1 custom estimator guide): tf.compat.v1.losses.* adds
# to LOSSES; get_total_loss()
# with the regularizers.
@idiom(cls=2)
def get_total_loss_in_model(x, training):
  del training
  logits = v1.layers.dense(x, 3, kernel_regularizer=tf.keras.regularizers.L2(
      0.1), name="logits")
  labels = tf.one_hot([0, 1, 2, 0], 3)
  v1.losses.softmax_cross_entropy(labels, logits)
  total = v1.losses.get_total_loss(add_regularization_losses=True)
  assert len(v1.losses.get_losses()) == 1
  return logits + total


# Model variables by hand (TF1 code): get_variable(collections=[GLOBAL,
# MODEL]) then get_collection(MODEL_VARIABLES).
@idiom(cls=2)
def model_variables_collections_arg(x, training):
  del training
  w = v1.get_variable("w", [6, 3], collections=[
      v1.GraphKeys.GLOBAL_VARIABLES, v1.GraphKeys.MODEL_VARIABLES,
      v1.GraphKeys.TRAINABLE_VARIABLES])
  found = v1.get_collection(v1.GraphKeys.MODEL_VARIABLES)
  assert len(found) == 1 and found[0] is w, found
  return tf.matmul(x, found[0])


# Activation summaries (TF1 code): a custom collection of activations,
# read back to add an activity penalty.
@idiom(cls=2)
def custom_collection_activations(x, training):
  del training
  h = v1.layers.dense(x, 4, activation=tf.nn.relu, name="fc1")
  v1.add_to_collection("activations", h)
  out = v1.layers.dense(h, 3, name="fc2")
  v1.add_to_collection("activations", out)
  acts = v1.get_collection("activations")
  assert len(acts) == 2, acts
  return out + 0.01 * tf.add_n([tf.reduce_mean(tf.square(a)) for a in acts])
