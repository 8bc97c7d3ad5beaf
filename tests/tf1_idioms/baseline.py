"""Class 0: TF1 code the shim ran before issue 11 (the baseline).

Each idiom is written the way the named kind of public TF1 project writes
it (the code is ours, the idiom theirs).
"""

import math

import numpy as np
import tensorflow as tf

from tf1_idioms.registry import idiom
from tf1_idioms.registry import VOCAB

v1 = tf.compat.v1


def _slim():
  import tf_slim  # pylint: disable=g-import-not-at-top
  return tf_slim


# --- Transformer encoders (BERT, google-research/bert modeling.py style) ---


def get_shape_list(tensor):
  """Static dims where known, dynamic ones elsewhere (BERT's helper)."""
  shape = tensor.shape.as_list()
  dynamic = tf.shape(tensor)
  return [dynamic[i] if d is None else d for i, d in enumerate(shape)]


def create_initializer(initializer_range=0.02):
  return v1.truncated_normal_initializer(stddev=initializer_range)


def gelu(x):
  cdf = 0.5 * (1.0 + tf.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x ** 3)))
  return x * cdf


# BERT (google-research/bert modeling.py): dense on a [B*S, H] matrix with
# truncated-normal kernels, reshaped back with get_shape_list.
@idiom(cls=0, inputs="seq")
def bert_dense_reshape(x, training):
  del training
  batch, seq, width = get_shape_list(x)
  matrix = tf.reshape(x, [-1, width])
  out = v1.layers.dense(matrix, 6, activation=gelu, name="intermediate",
                        kernel_initializer=create_initializer(0.5))
  return tf.reshape(out, [batch, seq, 6])


# BERT (google-research/bert modeling.py): layer_norm is contrib's, now
# tf_slim.layers.layer_norm on the last axis, under scope "LayerNorm".
@idiom(cls=0, inputs="seq")
def bert_layer_norm(x, training):
  del training
  slim = _slim()
  return slim.layers.layer_norm(x, begin_norm_axis=-1, begin_params_axis=-1,
                                scope="LayerNorm")


# BERT (google-research/bert modeling.py): embedding_lookup by tf.gather on
# a get_variable table, plus position embeddings sliced to the length.
@idiom(cls=0, inputs="ids")
def bert_embeddings(ids, training):
  del training
  with v1.variable_scope("embeddings"):
    table = v1.get_variable("word_embeddings", [VOCAB, 8],
                            initializer=create_initializer(1.0))
    out = tf.gather(table, tf.reshape(ids, [-1]))
    out = tf.reshape(out, [-1, ids.shape[1], 8])
    positions = v1.get_variable("position_embeddings", [16, 8],
                                initializer=create_initializer(1.0))
    out += tf.expand_dims(tf.slice(positions, [0, 0], [ids.shape[1], -1]), 0)
    return _slim().layers.layer_norm(out, begin_norm_axis=-1,
                                     begin_params_axis=-1, scope="LayerNorm")


# BERT (google-research/bert modeling.py): one_hot embeddings for TPUs,
# matmul of one_hot ids with the table.
@idiom(cls=0, inputs="ids")
def bert_one_hot_embeddings(ids, training):
  del training
  table = v1.get_variable("word_embeddings", [VOCAB, 4],
                          initializer=create_initializer(1.0))
  one_hot = tf.one_hot(tf.reshape(ids, [-1]), depth=VOCAB)
  return tf.reshape(tf.matmul(one_hot, table), [ids.shape[0], -1])


def _attention(x, heads, size, mask=None):
  batch, seq, _ = x.shape.as_list()

  def project(name):
    t = v1.layers.dense(tf.reshape(x, [-1, x.shape[-1]]), heads * size,
                        name=name, kernel_initializer=create_initializer(0.3))
    return tf.transpose(tf.reshape(t, [batch, seq, heads, size]),
                        [0, 2, 1, 3])

  q, k, v = project("query"), project("key"), project("value")
  scores = tf.matmul(q, k, transpose_b=True) * (1.0 / math.sqrt(size))
  if mask is not None:
    scores += (1.0 - mask) * -10000.0
  probs = tf.nn.softmax(scores)
  context = tf.transpose(tf.matmul(probs, v), [0, 2, 1, 3])
  return tf.reshape(context, [batch, seq, heads * size])


# BERT (google-research/bert modeling.py): attention_layer, scores by
# matmul(transpose_b=True) scaled by 1/sqrt(d), additive -10000 mask.
@idiom(cls=0, inputs="seq")
def bert_self_attention(x, training):
  del training
  mask = tf.constant([[1.0, 1.0, 1.0, 0.0, 0.0]])[:, None, None, :]
  with v1.variable_scope("attention/self"):
    return _attention(x, heads=2, size=3, mask=mask)


# Transformer (tensorflow/tensor2tensor style): multi-head attention by
# tf.einsum with get_variable projection tensors [d, heads, size].
@idiom(cls=0, inputs="seq")
def einsum_attention(x, training):
  del training
  d = x.shape[-1]
  init = v1.random_normal_initializer(stddev=0.5)
  wq = v1.get_variable("q", [d, 2, 3], initializer=init)
  wk = v1.get_variable("k", [d, 2, 3], initializer=init)
  wv = v1.get_variable("v", [d, 2, 3], initializer=init)
  wo = v1.get_variable("o", [2, 3, d], initializer=init)
  q = tf.einsum("bsd,dhk->bhsk", x, wq)
  k = tf.einsum("bsd,dhk->bhsk", x, wk)
  v = tf.einsum("bsd,dhk->bhsk", x, wv)
  probs = tf.nn.softmax(tf.einsum("bhsk,bhtk->bhst", q, k) / math.sqrt(3.0))
  return tf.einsum("bhsk,hkd->bsd", tf.einsum("bhst,bhtk->bhsk", probs, v),
                   wo)


# BERT (google-research/bert modeling.py): transformer block: attention,
# output dense, residual + layer_norm, gelu intermediate, output layer_norm.
@idiom(cls=0, inputs="seq")
def bert_transformer_block(x, training):
  del training
  slim = _slim()
  with v1.variable_scope("layer_0"):
    with v1.variable_scope("attention"):
      with v1.variable_scope("self"):
        attention = _attention(x, heads=2, size=2)
      with v1.variable_scope("output"):
        out = v1.layers.dense(tf.reshape(attention, [-1, 4]), 4,
                              kernel_initializer=create_initializer(0.3))
        out = slim.layers.layer_norm(
            tf.reshape(out, [3, 5, 4]) + x, begin_norm_axis=-1,
            begin_params_axis=-1, scope="LayerNorm")
    with v1.variable_scope("intermediate"):
      mid = v1.layers.dense(out, 8, activation=gelu,
                            kernel_initializer=create_initializer(0.3))
    with v1.variable_scope("output"):
      final = v1.layers.dense(mid, 4,
                              kernel_initializer=create_initializer(0.3))
      return slim.layers.layer_norm(final + out, begin_norm_axis=-1,
                                    begin_params_axis=-1, scope="LayerNorm")


# BERT (google-research/bert modeling.py): the pooler, tanh dense on the
# first token's hidden state.
@idiom(cls=0, inputs="seq")
def bert_pooler(x, training):
  del training
  with v1.variable_scope("pooler"):
    first = tf.squeeze(x[:, 0:1, :], axis=1)
    return v1.layers.dense(first, 4, activation=tf.tanh,
                           kernel_initializer=create_initializer(0.5))


# --- ResNets (tensorflow/models official/resnet resnet_model.py style) ---


def fixed_padding(inputs, kernel_size):
  pad = kernel_size - 1
  beg = pad // 2
  return tf.pad(inputs, [[0, 0], [beg, pad - beg], [beg, pad - beg], [0, 0]])


def conv2d_fixed_padding(inputs, filters, kernel_size, strides):
  if strides > 1:
    inputs = fixed_padding(inputs, kernel_size)
  return v1.layers.conv2d(
      inputs, filters, kernel_size, strides,
      padding=("SAME" if strides == 1 else "VALID"), use_bias=False,
      kernel_initializer=v1.variance_scaling_initializer())


def batch_norm(inputs, training):
  return v1.layers.batch_normalization(
      inputs, axis=3, momentum=0.997, epsilon=1e-5, center=True, scale=True,
      training=training, fused=True)


# ResNet (tensorflow/models official/resnet): conv2d_fixed_padding, strided
# conv on explicitly padded inputs, variance-scaling kernels, no bias.
@idiom(cls=0, inputs="img")
def resnet_fixed_padding(x, training):
  del training
  return conv2d_fixed_padding(x, 4, 3, 2)


# ResNet (tensorflow/models official/resnet): batch_norm with momentum 0.997,
# fused, in training mode: UPDATE_OPS in the graph, in-call updates in TF2.
@idiom(cls=0, inputs="img")
def resnet_batch_norm_training(x, training):
  return tf.nn.relu(batch_norm(conv2d_fixed_padding(x, 4, 3, 1), training))


# ResNet (tensorflow/models official/resnet): the v2 building block with a
# projection shortcut (pre-activation).
@idiom(cls=0, inputs="img")
def resnet_building_block_v2(x, training):
  shortcut = x
  out = tf.nn.relu(batch_norm(x, training))
  shortcut = conv2d_fixed_padding(out, 4, 1, 2)
  out = conv2d_fixed_padding(out, 4, 3, 2)
  out = tf.nn.relu(batch_norm(out, training))
  out = conv2d_fixed_padding(out, 4, 3, 1)
  return out + shortcut


# ResNet (tensorflow/models official/resnet): the v1 bottleneck block in
# inference mode (frozen statistics).
@idiom(cls=0, inputs="img", training=False)
def resnet_bottleneck_inference(x, training):
  out = tf.nn.relu(batch_norm(conv2d_fixed_padding(x, 2, 1, 1), training))
  out = tf.nn.relu(batch_norm(conv2d_fixed_padding(out, 2, 3, 1), training))
  out = batch_norm(conv2d_fixed_padding(out, 3, 1, 1), training)
  return tf.nn.relu(out + x)


# --- GANs (DCGAN: carpedm20/DCGAN-tensorflow ops.py, MIT; TF-GAN style) ---


def linear(input_, output_size, scope=None, stddev=0.02, bias_start=0.0):
  shape = input_.get_shape().as_list()
  with v1.variable_scope(scope or "Linear"):
    matrix = v1.get_variable("Matrix", [shape[1], output_size], tf.float32,
                             v1.random_normal_initializer(stddev=stddev))
    bias = v1.get_variable("bias", [output_size],
                           initializer=v1.constant_initializer(bias_start))
    return tf.matmul(input_, matrix) + bias


def lrelu(x, leak=0.2):
  return tf.maximum(x, leak * x)


# DCGAN (carpedm20/DCGAN-tensorflow, MIT): the `linear` helper, get_variable
# "Matrix"/"bias" with random_normal and constant initializers.
@idiom(cls=0, inputs="noise")
def dcgan_linear(z, training):
  del training
  return lrelu(linear(z, 6, "g_h0_lin", stddev=0.5))


# DCGAN (carpedm20/DCGAN-tensorflow, MIT): conv2d helper, tf.nn.conv2d on a
# truncated-normal "w", biases added then reshaped.
@idiom(cls=0, inputs="img")
def dcgan_conv2d(x, training):
  del training
  with v1.variable_scope("d_h0_conv"):
    w = v1.get_variable("w", [5, 5, x.get_shape()[-1], 4],
                        initializer=v1.truncated_normal_initializer(
                            stddev=0.2))
    conv = tf.nn.conv2d(x, w, strides=[1, 2, 2, 1], padding="SAME")
    biases = v1.get_variable("biases", [4],
                             initializer=v1.constant_initializer(0.0))
    conv = tf.reshape(tf.nn.bias_add(conv, biases), conv.get_shape())
  return lrelu(conv)


# DCGAN (carpedm20/DCGAN-tensorflow, MIT): deconv2d helper,
# tf.nn.conv2d_transpose with an explicit output_shape.
@idiom(cls=0, inputs="img")
def dcgan_deconv2d(x, training):
  del training
  with v1.variable_scope("g_h1"):
    w = v1.get_variable("w", [5, 5, 2, x.get_shape()[-1]],
                        initializer=v1.random_normal_initializer(stddev=0.2))
    deconv = tf.nn.conv2d_transpose(x, w, output_shape=[2, 16, 16, 2],
                                    strides=[1, 2, 2, 1])
    biases = v1.get_variable("biases", [2],
                             initializer=v1.constant_initializer(0.0))
    return tf.nn.bias_add(deconv, biases)


# DCGAN (tensorflow/models research/gan style): generator of
# tf.compat.v1.layers: dense, reshape, conv2d_transpose + batch norm + relu.
@idiom(cls=0, inputs="noise")
def dcgan_layers_generator(z, training):
  with v1.variable_scope("generator"):
    net = v1.layers.dense(z, 4 * 4 * 4)
    net = tf.reshape(net, [-1, 4, 4, 4])
    net = v1.layers.conv2d_transpose(net, 3, 4, strides=2, padding="same")
    net = tf.nn.relu(v1.layers.batch_normalization(net, training=training))
    net = v1.layers.conv2d_transpose(net, 1, 4, strides=2, padding="same")
    return tf.tanh(net)


# DCGAN (tensorflow/models research/gan style): discriminator of
# tf.compat.v1.layers with leaky relu, flatten, dense logit.
@idiom(cls=0, inputs="img")
def dcgan_layers_discriminator(x, training):
  del training
  with v1.variable_scope("discriminator"):
    net = v1.layers.conv2d(x, 4, 4, strides=2, padding="same",
                           activation=tf.nn.leaky_relu)
    net = v1.layers.conv2d(net, 8, 4, strides=2, padding="same",
                           activation=tf.nn.leaky_relu)
    return v1.layers.dense(v1.layers.flatten(net), 1)


# --- Recommenders (wide & deep, tensorflow/models official/wide_deep) ---


# Wide & deep (tensorflow/models official/wide_deep style, hand-rolled
# feature columns): one embedding table per categorical field, concatenated
# into an MLP.
@idiom(cls=0, inputs="ids")
def wide_deep_embeddings(ids, training):
  del training
  fields = []
  for i in range(ids.shape[1]):
    with v1.variable_scope("field_%d" % i):
      table = v1.get_variable("embedding", [VOCAB, 3],
                              initializer=v1.random_normal_initializer())
      fields.append(tf.nn.embedding_lookup(table, ids[:, i]))
  deep = tf.concat(fields, axis=1)
  deep = v1.layers.dense(deep, 8, activation=tf.nn.relu, name="hidden")
  return v1.layers.dense(deep, 2, name="logits")


# Wide & deep (tensorflow/models official/wide_deep style): the wide part,
# a linear model as a sum of gathered per-id weights plus a bias.
@idiom(cls=0, inputs="ids")
def wide_linear_part(ids, training):
  del training
  with v1.variable_scope("linear"):
    weights = v1.get_variable("weights", [VOCAB, 1],
                              initializer=v1.random_uniform_initializer(-1, 1))
    bias = v1.get_variable("bias_weight", [1],
                           initializer=v1.zeros_initializer())
    return tf.reduce_sum(tf.gather(weights, ids), axis=1) + bias


# --- Classic TF1 tutorials and models ---


# MNIST tutorial (tensorflow/tensorflow examples, "Deep MNIST"): weight and
# bias helpers on get_variable, conv + max_pool, fully connected.
@idiom(cls=0, inputs="img")
def mnist_tutorial_cnn(x, training):
  del training
  def weight(shape):
    return v1.get_variable("weights", shape,
                           initializer=v1.truncated_normal_initializer(
                               stddev=0.1))
  def bias(shape):
    return v1.get_variable("biases", shape,
                           initializer=v1.constant_initializer(0.1))
  with v1.variable_scope("conv1"):
    h = tf.nn.relu(tf.nn.conv2d(x, weight([3, 3, 3, 4]), [1, 1, 1, 1],
                                "SAME") + bias([4]))
    h = tf.nn.max_pool2d(h, [1, 2, 2, 1], [1, 2, 2, 1], "SAME")
  with v1.variable_scope("fc1"):
    flat = tf.reshape(h, [-1, 4 * 4 * 4])
    return tf.matmul(flat, weight([64, 3])) + bias([3])


# CIFAR-10 tutorial (tensorflow/models tutorials/image/cifar10): local
# response normalization between conv and pool.
@idiom(cls=0, inputs="img")
def cifar10_lrn(x, training):
  del training
  with v1.variable_scope("conv1"):
    kernel = v1.get_variable("weights", [3, 3, 3, 4],
                             initializer=v1.truncated_normal_initializer(
                                 stddev=0.3))
    conv = tf.nn.relu(tf.nn.conv2d(x, kernel, [1, 1, 1, 1], "SAME"))
  pool = tf.nn.max_pool2d(conv, ksize=[1, 3, 3, 1], strides=[1, 2, 2, 1],
                          padding="SAME")
  return tf.nn.lrn(pool, 4, bias=1.0, alpha=0.001 / 9.0, beta=0.75)


# tf.layers MNIST estimator (tensorflow/tensorflow layers tutorial): conv,
# pool, flatten, dense, dropout in inference mode.
@idiom(cls=0, inputs="img", training=False)
def layers_tutorial_cnn(x, training):
  conv = v1.layers.conv2d(x, 4, [3, 3], padding="same",
                          activation=tf.nn.relu)
  pool = v1.layers.max_pooling2d(conv, [2, 2], 2)
  dense = v1.layers.dense(v1.layers.flatten(pool), 8, activation=tf.nn.relu)
  dropout = v1.layers.dropout(dense, rate=0.4, training=training)
  return v1.layers.dense(dropout, 3)


# Text CNN (dennybritz/cnn-text-classification-tf, Apache-2.0): embedded
# words as an image, several filter sizes, max-over-time pooling, concat.
@idiom(cls=0, inputs="ids", training=False)
def text_cnn(ids, training):
  with v1.variable_scope("embedding"):
    w = v1.get_variable("W", [VOCAB, 4],
                        initializer=v1.random_uniform_initializer(-1.0, 1.0))
    embedded = tf.expand_dims(tf.nn.embedding_lookup(w, ids), -1)
  pooled = []
  for size in (2, 3):
    with v1.variable_scope("conv-maxpool-%d" % size):
      f = v1.get_variable("W", [size, 4, 1, 3],
                          initializer=v1.truncated_normal_initializer(
                              stddev=0.3))
      b = v1.get_variable("b", [3], initializer=v1.constant_initializer(0.1))
      h = tf.nn.relu(tf.nn.bias_add(
          tf.nn.conv2d(embedded, f, [1, 1, 1, 1], "VALID"), b))
      pooled.append(tf.nn.max_pool2d(h, [1, 5 - size + 1, 1, 1],
                                     [1, 1, 1, 1], "VALID"))
  flat = tf.reshape(tf.concat(pooled, 3), [-1, 6])
  return tf.nn.dropout(flat, rate=0.5) if training else flat


# Highway networks (TF1 char-CNN language models): transform gate of
# get_variable weights with a negative bias initializer.
@idiom(cls=0)
def highway_layer(x, training):
  del training
  size = x.shape[-1]
  with v1.variable_scope("highway"):
    w_t = v1.get_variable("W_T", [size, size])
    b_t = v1.get_variable("b_T", [size],
                          initializer=v1.constant_initializer(-1.0))
    w_h = v1.get_variable("W_H", [size, size])
    b_h = v1.get_variable("b_H", [size], initializer=v1.zeros_initializer())
    t = tf.sigmoid(tf.matmul(x, w_t) + b_t)
    return t * tf.nn.relu(tf.matmul(x, w_h) + b_h) + (1.0 - t) * x


# Siamese networks (TF1 tutorials): make_template shares a tower between
# two inputs.
@idiom(cls=0)
def siamese_make_template(x, training):
  del training
  def tower(t):
    h = v1.layers.dense(t, 5, activation=tf.nn.relu, name="fc1")
    return v1.layers.dense(h, 3, name="fc2")
  shared = v1.make_template("tower", tower)
  return tf.abs(shared(x) - shared(tf.reverse(x, [0])))


# PTB / seq2seq (tensorflow/models tutorials): reuse_variables() on the
# current scope from the second time step on.
@idiom(cls=0, inputs="seq")
def reuse_variables_unrolled(x, training):
  del training
  outputs = []
  state = tf.zeros([x.shape[0], 3])
  with v1.variable_scope("rnn"):
    for t in range(x.shape[1]):
      if t > 0:
        v1.get_variable_scope().reuse_variables()
      w = v1.get_variable("w", [x.shape[-1] + 3, 3])
      state = tf.tanh(tf.matmul(tf.concat([x[:, t], state], 1), w))
      outputs.append(state)
  return tf.stack(outputs, 1)


# Inception / slim nets (tensorflow/models research/slim): arg_scope over
# slim.conv2d and fully_connected with weight decay, max_pool2d, flatten.
@idiom(cls=0, inputs="img")
def slim_arg_scope_net(x, training):
  del training
  slim = _slim()
  with slim.arg_scope([slim.conv2d, slim.fully_connected],
                      activation_fn=tf.nn.relu,
                      weights_regularizer=slim.l2_regularizer(0.05)):
    net = slim.conv2d(x, 4, [3, 3], scope="conv1")
    net = slim.max_pool2d(net, [2, 2], scope="pool1")
    net = slim.flatten(net)
    return slim.fully_connected(net, 3, activation_fn=None, scope="logits")


# VGG (tensorflow/models research/slim nets/vgg.py): slim.repeat and
# slim.stack.
@idiom(cls=0, inputs="img")
def slim_repeat_and_stack(x, training):
  del training
  slim = _slim()
  net = slim.repeat(x, 2, slim.conv2d, 3, [3, 3], scope="conv1")
  net = slim.flatten(slim.max_pool2d(net, [2, 2], scope="pool1"))
  return slim.stack(net, slim.fully_connected, [6, 3], scope="fc")


# Inception (tensorflow/models research/slim): slim.batch_norm through
# normalizer_fn, in training mode.
@idiom(cls=0, inputs="img")
def slim_conv_batch_norm(x, training):
  slim = _slim()
  with slim.arg_scope([slim.conv2d], normalizer_fn=slim.batch_norm,
                      normalizer_params={"is_training": training,
                                         "decay": 0.9}):
    net = slim.conv2d(x, 4, [3, 3], scope="Conv2d_1a_3x3")
  return slim.flatten(net)


# Transformer FFN (tensorflow/tensor2tensor style): dense_relu_dense with
# tf.compat.v1.layers and a residual.
@idiom(cls=0, inputs="seq")
def t2t_dense_relu_dense(x, training):
  del training
  with v1.variable_scope("ffn"):
    h = v1.layers.dense(x, 8, activation=tf.nn.relu, name="conv1")
    return x + v1.layers.dense(h, x.shape[-1], name="conv2")


# Tensor2tensor (tensorflow/tensor2tensor layer_norm_compute style): layer
# norm by hand with get_variable scale and bias.
@idiom(cls=0, inputs="seq")
def t2t_layer_norm(x, training):
  del training
  with v1.variable_scope("layer_norm"):
    scale = v1.get_variable("layer_norm_scale", [x.shape[-1]],
                            initializer=v1.ones_initializer())
    bias = v1.get_variable("layer_norm_bias", [x.shape[-1]],
                           initializer=v1.zeros_initializer())
    mean = tf.reduce_mean(x, axis=[-1], keepdims=True)
    variance = tf.reduce_mean(tf.square(x - mean), axis=[-1], keepdims=True)
    return (x - mean) * tf.math.rsqrt(variance + 1e-6) * scale + bias


# Batch norm by hand (TF1 CIFAR/tensorpack-style): tf.nn.moments and
# tf.nn.batch_normalization with get_variable beta/gamma.
@idiom(cls=0, inputs="img")
def manual_batch_norm(x, training):
  del training
  beta = v1.get_variable("beta", [3], initializer=v1.zeros_initializer())
  gamma = v1.get_variable("gamma", [3], initializer=v1.ones_initializer())
  mean, variance = tf.nn.moments(x, [0, 1, 2])
  return tf.nn.batch_normalization(x, mean, variance, beta, gamma, 1e-3)


# MobileNet (tensorflow/models research/slim style): depthwise conv by
# tf.nn.depthwise_conv2d on a get_variable filter, then a 1x1 conv.
@idiom(cls=0, inputs="img")
def mobilenet_depthwise(x, training):
  del training
  dw = v1.get_variable("depthwise_weights", [3, 3, 3, 1])
  net = tf.nn.relu6(tf.nn.depthwise_conv2d(x, dw, [1, 1, 1, 1], "SAME"))
  return v1.layers.conv2d(net, 4, 1, name="pointwise")


# Attention (Bahdanau, TF1 NMT tutorials): additive attention of
# get_variable weights over a memory.
@idiom(cls=0, inputs="seq")
def bahdanau_attention(x, training):
  del training
  query = x[:, -1]
  with v1.variable_scope("attention"):
    w_m = v1.get_variable("memory_layer", [4, 5])
    w_q = v1.get_variable("query_layer", [4, 5])
    v = v1.get_variable("attention_v", [5])
    keys = tf.einsum("bsd,dk->bsk", x, w_m)
    scores = tf.reduce_sum(v * tf.tanh(keys + tf.expand_dims(
        tf.matmul(query, w_q), 1)), [2])
    alignments = tf.nn.softmax(scores)
    return tf.reduce_sum(tf.expand_dims(alignments, 2) * x, 1)


# Estimator model_fn (TF1 custom estimators): tf.cond on a training tensor
# picks a branch (e.g. noise injection); both branches are built.
@idiom(cls=0)
def cond_on_training(x, training):
  is_training = tf.constant(bool(training))
  h = v1.layers.dense(x, 4, name="fc")
  return tf.cond(is_training, lambda: h * 0.5 + 1.0, lambda: h)


# Shared output projection (TF1 language models): a Dense layer object
# called twice, weights tied.
@idiom(cls=0)
def layer_object_called_twice(x, training):
  del training
  proj = v1.layers.Dense(3, name="proj")
  return proj(x) + proj(x * 2.0)


# Classifiers (TF1 estimators): variance_scaling / glorot initializer
# objects from tf.compat.v1 on get_variable.
@idiom(cls=0)
def v1_initializer_objects(x, training):
  del training
  a = v1.get_variable("a", [6, 4], initializer=v1.glorot_normal_initializer())
  b = v1.get_variable("b", [4, 4], initializer=v1.variance_scaling_initializer(
      scale=2.0, mode="fan_in", distribution="truncated_normal"))
  c = v1.get_variable("c", [4, 3], initializer=v1.orthogonal_initializer())
  d = v1.get_variable("d", [3], initializer=v1.random_uniform_initializer())
  return tf.matmul(tf.nn.relu(tf.matmul(tf.matmul(x, a), b)), c) + d


# Name scopes mixed with variable scopes (TF1 code everywhere): name_scope
# does not prefix get_variable, variable_scope default_name counts.
@idiom(cls=0)
def name_scope_and_default_names(x, training):
  del training
  out = x
  for _ in range(2):
    with v1.variable_scope(None, default_name="block"):
      with v1.name_scope("ops"):
        w = v1.get_variable("w", [out.shape[-1], 4])
        out = tf.nn.elu(tf.matmul(out, w))
  return out


# Face embeddings (FaceNet-style TF1 code): L2-normalized embedding and a
# cosine-similarity head with get_variable class centers.
@idiom(cls=0)
def cosine_head(x, training):
  del training
  emb = tf.nn.l2_normalize(v1.layers.dense(x, 5, name="embedding"), 1)
  centers = tf.nn.l2_normalize(v1.get_variable("centers", [5, 3]), 0)
  return 4.0 * tf.matmul(emb, centers)


# Gated convolutions (TF1 language models, GLU): two conv1d branches of
# tf.compat.v1.layers multiplied through a sigmoid gate.
@idiom(cls=0, inputs="seq")
def gated_conv1d(x, training):
  del training
  a = v1.layers.conv1d(x, 4, 2, padding="same", name="linear")
  b = v1.layers.conv1d(x, 4, 2, padding="same", name="gate")
  return a * tf.sigmoid(b)
