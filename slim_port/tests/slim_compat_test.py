"""tf-slim 1.1.0 on TensorFlow 2.21 / Keras 3, with `tf1shim.slim_compat`.

The same slim code (`slim.batch_norm` and its code paths, most of
`tf_slim.layers`, the ported networks `resnet_v1_50`, `inception_v1`,
`vgg_16`, and three slim networks that slim_port does not port:
`resnet_v2_50`, `inception_v2`, `inception_v3`) runs four ways, always from
the same weights (`weights_for`: made from each variable's name):

* the oracle: a subprocess with TF_USE_LEGACY_KERAS=1 whose slim gets its
  `BatchNormalization` from tf-keras's legacy TF1 layers
  (`tf_keras.src.legacy_tf_layers.normalization`, the layer slim was written
  against), without slim_compat. It builds each network in TF1 graphs
  (inference; training with slim's train op) and writes what it found, while
  this process tests the shim;
* this process after `slim_compat.apply()`, in the same TF1 graphs: the same
  variables, collections, UPDATE_OPS, regularization losses, end points,
  checkpoint, outputs, moving averages and trained weights as the oracle;
* numpy, for `slim.batch_norm` alone;
* the shim: the same functions in a decorated Keras 3 layer: the graph's
  variables, losses and outputs, and one training step, eagerly and under
  `tf.function`, moves the averages (and the weights) as the graph's did.
  The variables without a gradient are the graph's: inception_v3's
  auxiliary head (`AuxLogits`) is computed in training but is not in the
  loss, so TF1's `compute_gradients` gave its biases and betas None (its
  kernels get a gradient from their weight decay) and the optimizer left
  them alone; the shim's step does the same.
"""

import os
import pickle
import subprocess
import sys
import textwrap
import zlib

import numpy as np
import pytest
import tensorflow as tf
import tf_slim as slim
from tf_slim.nets import inception_v1 as inception_v1_lib
from tf_slim.nets import inception_v2 as inception_v2_lib
from tf_slim.nets import inception_v3 as inception_v3_lib
from tf_slim.nets import resnet_v1 as resnet_v1_lib
from tf_slim.nets import resnet_v2 as resnet_v2_lib
from tf_slim.nets import vgg as vgg_lib

from testing.pytest_main import pytest_main
from testing.subprocesses import python_env
from testing.subprocesses import run_python

v1 = tf.compat.v1

NUM_CLASSES = 10
LEARNING_RATE = 0.01
EPSILON = 0.001  # slim.batch_norm's default

# --- The TF1 code under test: model functions (x, training) -> (out, ends) --


def batch_norm_alone(x, training):
  out = slim.batch_norm(
      x, decay=0.9, scale=True, is_training=training,
      param_regularizers={"gamma": slim.l2_regularizer(0.01)}, scope="bn")
  return out, {}


def batch_norm_variants(x, training):
  """`slim.batch_norm`'s other code paths, each in its own scope."""
  norm = {"decay": 0.9, "is_training": training}
  weights = tf.constant([1.0, 3.0])
  # The BatchNormalization layer, not fused: no Bessel correction.
  net = slim.batch_norm(x, fused=False, scale=True, scope="not_fused", **norm)
  # slim's own implementation: weighted moments, UPDATE_OPS or in place.
  net = slim.batch_norm(net, batch_weights=weights, scope="batch_weights",
                        **norm)
  net = slim.batch_norm(net, batch_weights=weights, updates_collections=None,
                        scope="batch_weights_in_place", **norm)
  # The layer's training-time variants: Batch Renormalization (the paper's
  # clipping ranges), an adjustment of the normalized values.
  net = slim.batch_norm(net, renorm=True, renorm_decay=0.8,
                        renorm_clipping={"rmin": 1 / 3, "rmax": 3.0,
                                         "dmax": 5.0}, scope="renorm", **norm)
  net = slim.batch_norm(
      net, adjustment=lambda shape: (tf.fill(shape[-1:], 1.1),
                                     tf.fill(shape[-1:], -0.1)),
      scope="adjusted", **norm)
  # The layer over a 3-D input.
  net = slim.batch_norm(tf.reshape(net, [2, -1, 3]), scope="rank_3", **norm)
  return net, {}


def slim_layers(x, training):
  """Most of `tf_slim.layers`, through every `batch_norm` code path."""
  norm = {"decay": 0.9, "is_training": training}
  collections = {"weights": ["weights_collection"],
                 "moving_mean": ["moving_vars"],
                 "moving_variance": ["moving_vars"]}
  with slim.arg_scope(
      [slim.conv2d, slim.separable_conv2d, slim.conv2d_transpose,
       slim.fully_connected],
      weights_regularizer=slim.l2_regularizer(1e-3),
      variables_collections=collections, outputs_collections="end_points"), \
      slim.arg_scope([slim.max_pool2d, slim.avg_pool2d],
                     outputs_collections="end_points"):
    # 4-D, UPDATE_OPS: the BatchNormalization layer.
    net = slim.conv2d(x, 8, 3, normalizer_fn=slim.batch_norm,
                      normalizer_params=norm, scope="conv")
    # 4-D, updates in place: slim's own fused batch norm.
    net = slim.separable_conv2d(
        net, 8, 3, normalizer_fn=slim.batch_norm,
        normalizer_params=dict(norm, updates_collections=None),
        scope="separable")
    net = slim.max_pool2d(net, 2, scope="max_pool")
    net = slim.conv2d_transpose(net, 4, 3, stride=2, scope="transpose")
    net = slim.avg_pool2d(net, 2, scope="avg_pool")
    net = slim.layer_norm(net, scope="layer_norm")
    net = slim.flatten(net)
    # 2-D, UPDATE_OPS: slim's own fused batch norm, delayed updates.
    net = slim.fully_connected(net, 16, normalizer_fn=slim.batch_norm,
                               normalizer_params=norm, scope="fc")
    net = slim.fully_connected(net, NUM_CLASSES, activation_fn=None,
                               scope="logits")
  return net, slim.utils.convert_collection_to_dict("end_points")


def slim_network(arg_scope, network):
  """A model function: `network` (a `tf_slim.nets` function) under its
  `arg_scope()`, NUM_CLASSES logits."""
  def model_fn(x, training):
    with slim.arg_scope(arg_scope()):
      return network(x, NUM_CLASSES, is_training=training)
  return model_fn


# The ported networks (slim_port/), and three that slim_port does not port,
# for slim's other code paths: pre-activation units, a separable first
# convolution with a depth multiplier, an auxiliary head outside the loss.
resnet_v1_50 = slim_network(resnet_v1_lib.resnet_arg_scope,
                            resnet_v1_lib.resnet_v1_50)
inception_v1 = slim_network(inception_v1_lib.inception_v1_arg_scope,
                            inception_v1_lib.inception_v1)
vgg_16 = slim_network(vgg_lib.vgg_arg_scope, vgg_lib.vgg_16)
resnet_v2_50 = slim_network(resnet_v2_lib.resnet_arg_scope,
                            resnet_v2_lib.resnet_v2_50)
inception_v2 = slim_network(inception_v2_lib.inception_v2_arg_scope,
                            inception_v2_lib.inception_v2)
inception_v3 = slim_network(inception_v3_lib.inception_v3_arg_scope,
                            inception_v3_lib.inception_v3)


# name -> (model function, input shape). inception_v1, inception_v2 and
# vgg_16 end in a 7x7 VALID pooling/convolution: 224x224 is their smallest
# natural input; inception_v3's is 299x299.
NETWORKS = {
    "batch_norm": (batch_norm_alone, (2, 6, 6, 3)),
    "batch_norm_variants": (batch_norm_variants, (2, 6, 6, 3)),
    "slim_layers": (slim_layers, (2, 8, 8, 3)),
    "resnet_v1_50": (resnet_v1_50, (2, 64, 64, 3)),
    "inception_v1": (inception_v1, (1, 224, 224, 3)),
    "vgg_16": (vgg_16, (1, 224, 224, 3)),
    "resnet_v2_50": (resnet_v2_50, (2, 64, 64, 3)),
    "inception_v2": (inception_v2, (1, 224, 224, 3)),
    "inception_v3": (inception_v3, (1, 299, 299, 3)),
}
# Without dropout a training step is deterministic: trained weights compare.
WITHOUT_DROPOUT = ("batch_norm", "batch_norm_variants", "slim_layers",
                   "resnet_v1_50", "resnet_v2_50")

EXPECTED_NAMES = {
    "resnet_v1_50": [
        "resnet_v1_50/conv1/weights",
        "resnet_v1_50/conv1/BatchNorm/moving_mean",
        "resnet_v1_50/block1/unit_1/bottleneck_v1/conv1/BatchNorm/moving_mean",
        "resnet_v1_50/block1/unit_1/bottleneck_v1/shortcut/weights",
        "resnet_v1_50/block4/unit_3/bottleneck_v1/conv3/BatchNorm/beta",
        "resnet_v1_50/logits/weights", "resnet_v1_50/logits/biases"],
    "inception_v1": [
        "InceptionV1/Conv2d_1a_7x7/weights",
        "InceptionV1/Conv2d_1a_7x7/BatchNorm/moving_variance",
        "InceptionV1/Mixed_5c/Branch_3/Conv2d_0b_1x1/BatchNorm/beta",
        "InceptionV1/Logits/Conv2d_0c_1x1/biases"],
    "vgg_16": ["vgg_16/conv1/conv1_1/weights", "vgg_16/conv5/conv5_3/biases",
               "vgg_16/fc6/weights", "vgg_16/fc8/biases"],
    "resnet_v2_50": [
        "resnet_v2_50/conv1/biases",
        "resnet_v2_50/block1/unit_1/bottleneck_v2/preact/moving_mean",
        "resnet_v2_50/block4/unit_3/bottleneck_v2/conv3/biases",
        "resnet_v2_50/postnorm/moving_variance", "resnet_v2_50/logits/weights"],
    "inception_v2": [
        "InceptionV2/Conv2d_1a_7x7/depthwise_weights",
        "InceptionV2/Conv2d_1a_7x7/pointwise_weights",
        "InceptionV2/Mixed_5c/Branch_3/Conv2d_0b_1x1/BatchNorm/moving_mean",
        "InceptionV2/Logits/Conv2d_1c_1x1/biases"],
    "inception_v3": [
        "InceptionV3/Conv2d_1a_3x3/BatchNorm/moving_mean",
        "InceptionV3/AuxLogits/Conv2d_1b_1x1/weights",
        "InceptionV3/AuxLogits/Conv2d_2b_1x1/biases",
        "InceptionV3/Logits/Conv2d_1c_1x1/weights"],
}


def network_input(name):
  shape = NETWORKS[name][1]
  return np.random.RandomState(0).uniform(-1, 1, shape).astype(np.float32)


def total_loss(out, regularization_losses):
  loss = tf.reduce_mean(tf.square(out - 1.0))
  return loss + tf.add_n(regularization_losses) if regularization_losses else (
      loss)


def weights_for(variables):
  """A value for each (name, shape), from the name alone.

  The same in every process (so the oracle needs no weights from here):
  He-normal kernels, the rest near batch normalization's identity.
  """
  values = {}
  for name, shape in variables:
    rng = np.random.default_rng(zlib.crc32(name.encode()))
    leaf = name.rsplit("/", 1)[-1]
    if leaf.endswith("weights"):
      fan_in = int(np.prod(shape[:-1]))
      values[name] = rng.standard_normal(shape, dtype=np.float32) * np.float32(
          np.sqrt(2.0 / fan_in))
    elif leaf in ("gamma", "moving_variance", "moving_stddev",
                  "renorm_stddev"):
      values[name] = rng.uniform(0.8, 1.2, shape).astype(np.float32)
    else:  # biases, beta, moving_mean
      values[name] = rng.uniform(-0.1, 0.1, shape).astype(np.float32)
  return values


# --- TF1 graphs (here and in the oracle) -------------------------------------


def run_graph(name, checkpoint_dir):
  """Builds `name` in TF1 graphs; returns what a TF1 user would see.

  An inference graph gives the inference output; a training graph gives the
  structure, the training output, and the values after slim's train op
  (UPDATE_OPS, then one SGD step). Both start from `weights_for(...)`.
  """
  model_fn = NETWORKS[name][0]
  x = network_input(name)
  record = {}
  with tf.Graph().as_default():
    out, _ = model_fn(tf.constant(x), training=False)
    values = weights_for((v.op.name, v.shape.as_list())
                         for v in v1.global_variables())
    with v1.Session() as sess:
      _load(sess, values)
      record["inference_output"] = sess.run(out)

  with tf.Graph().as_default() as graph:
    out, end_points = model_fn(tf.constant(x), training=True)
    record["variables"] = [(v.op.name, v.shape.as_list())
                           for v in v1.global_variables()]
    record["trainable"] = [v.op.name for v in v1.trainable_variables()]
    record["collections"] = {
        key: [getattr(item, "name", str(item))
              for item in graph.get_collection(key)]
        for key in graph.get_all_collection_keys()}
    record["end_points"] = {key: tensor.shape.as_list()
                            for key, tensor in end_points.items()}
    regularization = v1.losses.get_regularization_losses()
    loss = total_loss(out, regularization)
    record["no_gradient"] = sorted(
        v.op.name for v, g in zip(v1.trainable_variables(), v1.gradients(
            loss, v1.trainable_variables())) if g is None)
    # Slim's train op: runs UPDATE_OPS, then one SGD step (and global_step).
    train_op = slim.learning.create_train_op(
        loss, v1.train.GradientDescentOptimizer(LEARNING_RATE))
    saver = v1.train.Saver()
    with v1.Session() as sess:
      sess.run(v1.global_variables_initializer())
      _load(sess, values)
      record["regularization_losses"] = sess.run(regularization)
      record["training_output"], _ = sess.run([out, train_op])
      record["trained"] = {
          n: value for n, value in _values(sess).items()
          if n in values and (name in WITHOUT_DROPOUT or "/moving_" in n)}
      path = saver.save(sess, os.path.join(checkpoint_dir, name + ".ckpt"))
    record["checkpoint"] = sorted(n for n, _ in tf.train.list_variables(path))
  return record


def _load(sess, values):
  """Initializes the model's variables with `values`, in one run."""
  variables = [v for v in v1.global_variables()
               if v.op.name != "global_step"]
  sess.run([v.initializer for v in variables],
           {v.initializer.inputs[1]: values[v.op.name] for v in variables})


def _values(sess):
  return sess.run({v.op.name: v for v in v1.global_variables()})


def oracle_main(out_dir):
  """The subprocess: slim with tf-keras's legacy BatchNormalization."""
  assert tf.keras.__name__.startswith("tf_keras"), tf.keras.__name__
  # pylint: disable=g-import-not-at-top
  from tensorflow.python.framework import indexed_slices
  from tensorflow.python.framework import ops
  from tensorflow.python.framework import tensor
  from tensorflow.python.layers import normalization as tf_normalization
  from tensorflow.python.ops import cond
  from tensorflow.python.ops import control_flow_ops
  from tf_keras.src.legacy_tf_layers import normalization as legacy
  # pylint: enable=g-import-not-at-top
  tf_normalization.normalization = legacy
  # The names these networks need where TensorFlow had them before 2.21
  # moved them (the same objects), put back there, not by slim_compat.
  ops.Tensor = tensor.Tensor
  ops.IndexedSlices = indexed_slices.IndexedSlices
  control_flow_ops.cond = cond.cond
  for name in NETWORKS:
    record = run_graph(name, out_dir)
    with open(os.path.join(out_dir, name + ".pkl"), "wb") as f:
      pickle.dump(record, f)


# --- Fixtures -----------------------------------------------------------------


@pytest.fixture(scope="module")
def compat():
  from tf1shim import slim_compat  # pylint: disable=g-import-not-at-top
  slim_compat.apply()
  return slim_compat


@pytest.fixture(scope="module", autouse=True)
def oracle_process(tmp_path_factory):
  """Starts the oracle at once; it runs while this process tests the shim."""
  out_dir = str(tmp_path_factory.mktemp("oracle"))
  with open(os.path.join(out_dir, "stderr.txt"), "w") as stderr:
    process = subprocess.Popen(
        [sys.executable, os.path.abspath(__file__), "--oracle", out_dir],
        env=python_env(TF_USE_LEGACY_KERAS="1"), stdout=subprocess.DEVNULL,
        stderr=stderr)
  try:
    yield process, out_dir
  finally:
    if process.poll() is None:
      process.kill()
    process.wait()


@pytest.fixture(scope="module")
def oracle(oracle_process):
  process, out_dir = oracle_process
  process.wait(timeout=900)
  with open(os.path.join(out_dir, "stderr.txt")) as f:
    assert process.returncode == 0, f.read()[-5000:]
  records = {}
  for name in NETWORKS:
    with open(os.path.join(out_dir, name + ".pkl"), "rb") as f:
      records[name] = pickle.load(f)
  return records


@pytest.fixture(scope="module")
def graph_runs(compat, tmp_path_factory):
  """name -> this process's `run_graph` record, made on first use."""
  del compat
  checkpoint_dir = str(tmp_path_factory.mktemp("checkpoints"))
  records = {}

  def get(name):
    if name not in records:
      records[name] = run_graph(name, checkpoint_dir)
    return records[name]

  return get


def assert_close(actual, expected, err_msg=""):
  """Same kernels, different op order: float32 noise of deep networks."""
  expected = np.asarray(expected)
  scale = max(float(np.max(np.abs(expected))), 1e-3) if expected.size else 1
  np.testing.assert_allclose(actual, expected, rtol=1e-4, atol=1e-4 * scale,
                             err_msg=err_msg)


# --- slim.batch_norm alone, against numpy ---------------------------------------


def test_batch_norm_in_a_tf1_graph_matches_numpy(compat):
  del compat
  x = network_input("batch_norm")
  rng = np.random.RandomState(1)
  gamma, beta = rng.uniform(0.5, 1.5, 3), rng.uniform(-0.5, 0.5, 3)
  moving_mean, moving_variance = rng.uniform(-1, 1, 3), rng.uniform(0.5, 2, 3)
  with tf.Graph().as_default():
    train_out, _ = batch_norm_alone(tf.constant(x), training=True)
    # The same layer again, shared (reuse=True), in inference mode.
    infer_out = slim.batch_norm(tf.constant(x), decay=0.9, scale=True,
                                is_training=False, reuse=True, scope="bn")
    variables = v1.global_variables()
    assert [v.op.name for v in variables] == [
        "bn/gamma", "bn/beta", "bn/moving_mean", "bn/moving_variance"]
    assert [v.op.name for v in v1.trainable_variables()] == [
        "bn/gamma", "bn/beta"]
    assert [v.op.name for v in v1.model_variables()] == [
        v.op.name for v in variables]
    update_ops = v1.get_collection(v1.GraphKeys.UPDATE_OPS)
    assert len(update_ops) == 2  # the training call's; none for inference
    regularization = v1.losses.get_regularization_losses()
    assert [l.name for l in regularization] == [
        "bn/gamma/Regularizer/l2_regularizer:0"]
    with v1.Session() as sess:
      _load(sess, {v.op.name: value.astype(np.float32) for v, value in zip(
          variables, (gamma, beta, moving_mean, moving_variance))})
      train_value, infer_value, loss_value = sess.run(
          [train_out, infer_out, regularization[0]])
      sess.run(update_ops)
      moved_mean, moved_variance = sess.run(variables[2:])

  mean, variance = x.mean(axis=(0, 1, 2)), x.var(axis=(0, 1, 2))
  n = x.size / 3
  np.testing.assert_allclose(
      train_value, (x - mean) / np.sqrt(variance + EPSILON) * gamma + beta,
      rtol=1e-5, atol=1e-5)
  np.testing.assert_allclose(
      infer_value,
      (x - moving_mean) / np.sqrt(moving_variance + EPSILON) * gamma + beta,
      rtol=1e-5, atol=1e-5)
  np.testing.assert_allclose(loss_value, 0.01 * np.sum(gamma**2) / 2,
                             rtol=1e-6)
  # TF1's fused kernel: the moving variance takes Bessel's correction.
  np.testing.assert_allclose(moved_mean, 0.9 * moving_mean + 0.1 * mean,
                             rtol=1e-5, atol=1e-6)
  np.testing.assert_allclose(
      moved_variance, 0.9 * moving_variance + 0.1 * variance * n / (n - 1),
      rtol=1e-5, atol=1e-6)


def test_zero_debias_moving_mean_under_the_shim(compat):
  """`slim.batch_norm(zero_debias_moving_mean=True)` (dcgan's, TF-GAN's):
  the debiasing variables have TF1's names and move by TF's zero-debias
  formula (numpy below). As in TF1, training calls make them: a model whose
  first call is in inference mode cannot make them later, and says so."""
  del compat
  # pylint: disable=g-import-not-at-top
  import tf1shim
  from tf1shim import variable_store
  from testing.shim_models import ShimLayer
  # pylint: enable=g-import-not-at-top
  decay = 0.9

  def model_fn(x, training):
    return slim.batch_norm(x, decay=decay, is_training=training,
                           zero_debias_moving_mean=True, scope="bn"), {}

  rng = np.random.RandomState(3)
  batches = [rng.uniform(-1, 1, (2, 4, 4, 3)).astype(np.float32) + shift
             for shift in (0.0, 0.5, 1.0)]
  with tf.Graph().as_default():
    model_fn(tf.constant(batches[0]), training=True)
    tf1_names = sorted(v.op.name for v in v1.global_variables())
  assert "bn/bn/moving_mean/biased" in tf1_names  # TF1's doubled scope

  layer = ShimLayer(model_fn)
  for x in batches:
    layer(x, training=True)
  weights = {tf1shim.tf1_name(v)[:-len(":0")]: v.numpy()
             for v in layer.weights}
  assert sorted(weights) == tf1_names
  # TF's zero debias: biased = decay * biased + (1 - decay) * batch mean,
  # moving_mean = biased / (1 - decay**steps); the variance is not debiased
  # and takes the fused kernel's Bessel correction, n / (n - 1).
  biased, variance = np.zeros(3), np.ones(3)
  for x in batches:
    n = x.size / 3
    biased = decay * biased + (1 - decay) * x.mean((0, 1, 2))
    variance = decay * variance + (1 - decay) * x.var((0, 1, 2)) * n / (n - 1)
  np.testing.assert_allclose(weights["bn/bn/moving_mean/biased"], biased,
                             rtol=1e-5, atol=1e-6)
  assert weights["bn/bn/moving_mean/local_step"] == len(batches)
  moving_mean = biased / (1 - decay**len(batches))
  np.testing.assert_allclose(weights["bn/moving_mean"], moving_mean,
                             rtol=1e-5, atol=1e-6)
  np.testing.assert_allclose(weights["bn/moving_variance"], variance,
                             rtol=1e-5, atol=1e-6)
  out, _ = layer(batches[0], training=False)
  np.testing.assert_allclose(
      out, (batches[0] - moving_mean) / np.sqrt(variance + EPSILON),
      rtol=1e-5, atol=1e-5)

  inference_first = ShimLayer(model_fn)
  inference_first(batches[0], training=False)
  with pytest.raises(variable_store.NewStateOnLaterCallError,
                     match=r"moving_mean/biased.*training=True"):
    inference_first(batches[0], training=True)


def test_slim_functions_that_use_names_tensorflow_2_21_moved(compat):
  """`ops.Tensor`, `control_flow_ops.cond`, `array_ops.stack`, ..."""
  del compat
  with tf.Graph().as_default():
    x = tf.constant(network_input("slim_layers").reshape([4, -1]))
    training = v1.placeholder_with_default(True, [])
    # is_training a tensor: smart_cond -> cond; rank 2, in-place updates.
    net = slim.batch_norm(x, is_training=training, updates_collections=None,
                          decay=0.9, scale=True)
    net = slim.legacy_fully_connected(net, 3)
    counter = slim.local_variable(0.0, name="counter")
    loss = tf.reduce_mean(tf.square(net))
    global_step = v1.train.get_or_create_global_step()
    optimize_loss = slim.optimize_loss(
        loss, global_step, learning_rate=tf.constant(0.1), optimizer="SGD",
        clip_gradients=1.0)
    weights = v1.get_collection(v1.GraphKeys.WEIGHTS)[0]
    train_op = slim.learning.create_train_op(
        loss, v1.train.GradientDescentOptimizer(0.1), clip_gradient_norm=1.0,
        gradient_multipliers={weights: 2.0})
    assert [v.op.name for v in v1.local_variables()] == [counter.op.name]
    moving_mean = v1.get_collection(v1.GraphKeys.MODEL_VARIABLES)[2]
    assert moving_mean.op.name == "BatchNorm/moving_mean"
    with v1.Session() as sess:
      sess.run([v1.global_variables_initializer(),
                v1.local_variables_initializer()])
      sess.run(net, {training: False})
      np.testing.assert_array_equal(sess.run(moving_mean), 0)
      sess.run(net)
      np.testing.assert_allclose(sess.run(moving_mean),
                                 0.1 * sess.run(x).mean(axis=0), rtol=1e-5)
      first, second = sess.run(optimize_loss), sess.run(train_op)
      assert np.isfinite(first) and np.isfinite(second)
      assert sess.run(global_step) == 2


# --- The shim: a decorated Keras 3 layer ----------------------------------------


def train_step(layer, x):
  """One SGD step on `total_loss`, as the graph's train op: the variables
  without a gradient (None) are left alone, as TF1's `apply_gradients`
  left them. Returns the loss and which variables had no gradient."""
  with tf.GradientTape() as tape:
    out, _ = layer(x, training=True)
    loss = total_loss(out, layer.losses)
  gradients = tape.gradient(loss, layer.trainable_weights)
  for variable, gradient in zip(layer.trainable_weights, gradients):
    if gradient is not None:
      variable.assign_sub(LEARNING_RATE * gradient)
  return loss, [g is None for g in gradients]


@pytest.mark.parametrize("name", list(NETWORKS))
def test_under_the_shim_eagerly_and_in_tf_function(graph_runs, name):
  # pylint: disable=g-import-not-at-top
  import tf1shim
  from testing.shim_models import ShimLayer
  # pylint: enable=g-import-not-at-top
  graph = graph_runs(name)
  x = network_input(name)
  process_graph = v1.get_default_graph()  # the one eager calls would fill
  update_ops_before = len(process_graph.get_collection(
      v1.GraphKeys.UPDATE_OPS))
  layer = ShimLayer(NETWORKS[name][0])
  layer(x, training=False)
  weights = {tf1shim.tf1_name(v)[:-len(":0")]: v for v in layer.weights}
  assert {n: list(v.shape) for n, v in weights.items()} == dict(
      graph["variables"])
  assert sorted(tf1shim.tf1_name(v)[:-2] for v in layer.trainable_weights
               ) == sorted(graph["trainable"])

  values = weights_for(graph["variables"])

  def load_graph_values():
    for n, variable in weights.items():
      variable.assign(values[n])

  load_graph_values()
  out, end_points = layer(x, training=False)
  assert_close(out, graph["inference_output"])
  assert len(layer.losses) == len(graph["regularization_losses"])
  assert_close(sorted(float(l) for l in layer.losses),
               sorted(graph["regularization_losses"]))
  # End points: the aliases of name scopes (vgg_16's pools) are inside the
  # Keras layer's name scope; those of variable scopes are TF1's.
  prefix = layer.name + "/"
  assert {k[len(prefix):] if k.startswith(prefix) else k: list(t.shape)
          for k, t in end_points.items()} == graph["end_points"]

  for step in (train_step, tf.function(train_step)):
    load_graph_values()
    loss, no_gradient = step(layer, x)
    assert np.isfinite(float(loss))
    assert sorted(tf1shim.tf1_name(v)[:-len(":0")] for v, none in zip(
        layer.trainable_weights, no_gradient) if none) == graph["no_gradient"]
    for n, value in graph["trained"].items():
      # The moving averages, and the weights when the step is deterministic.
      assert_close(weights[n].numpy(), value, err_msg="%s (%s)" % (n, step))
  # Eager calls keep no end points or update ops in the process-wide graph.
  assert not [k for k in process_graph.get_all_collection_keys()
              if k.endswith("end_points") and process_graph.get_collection(k)]
  assert len(process_graph.get_collection(
      v1.GraphKeys.UPDATE_OPS)) == update_ops_before


# --- TF1 graphs: this process against the oracle --------------------------------


@pytest.mark.parametrize("name", list(NETWORKS))
def test_tf1_graph_is_the_oracles(graph_runs, oracle, name):
  ours, theirs = graph_runs(name), oracle[name]
  assert ours["variables"] == theirs["variables"]
  assert ours["trainable"] == theirs["trainable"]
  assert ours["no_gradient"] == theirs["no_gradient"]
  for n in EXPECTED_NAMES.get(name, []):
    assert n in dict(ours["variables"]), n
  assert sorted(ours["collections"]) == sorted(theirs["collections"])
  update_ops = v1.GraphKeys.UPDATE_OPS
  for key, names in ours["collections"].items():
    if key == update_ops:  # ops there, tensors here: both run the same
      assert len(names) == len(theirs["collections"][key]), key
    else:
      assert names == theirs["collections"][key], key
  assert ours["end_points"] == theirs["end_points"]
  assert ours["checkpoint"] == theirs["checkpoint"] == sorted(
      [n for n, _ in ours["variables"]] + ["global_step"])
  assert_close(ours["regularization_losses"], theirs["regularization_losses"])
  assert_close(ours["inference_output"], theirs["inference_output"])
  if name in WITHOUT_DROPOUT:
    assert_close(ours["training_output"], theirs["training_output"])
  assert sorted(ours["trained"]) == sorted(theirs["trained"])
  for n, value in theirs["trained"].items():
    assert_close(ours["trained"][n], value, err_msg=n)


def test_networks_have_their_update_ops_and_regularizers(graph_runs):
  collections = {name: graph_runs(name)["collections"]
                 for name in ("resnet_v1_50", "inception_v1", "vgg_16")}
  count = lambda name, key: len(collections[name].get(key, []))
  # Two updates per batch norm: 53 in resnet_v1_50, 57 in inception_v1.
  assert count("resnet_v1_50", v1.GraphKeys.UPDATE_OPS) == 2 * 53
  assert count("inception_v1", v1.GraphKeys.UPDATE_OPS) == 2 * 57
  assert count("vgg_16", v1.GraphKeys.UPDATE_OPS) == 0
  # One l2 loss per convolution kernel.
  assert count("resnet_v1_50", v1.GraphKeys.REGULARIZATION_LOSSES) == 54
  assert count("inception_v1", v1.GraphKeys.REGULARIZATION_LOSSES) == 58
  assert count("vgg_16", v1.GraphKeys.REGULARIZATION_LOSSES) == 16
  assert count("inception_v1", "moving_vars") == 2 * 57
  # Every trainable variable gets a gradient but inception_v3's auxiliary
  # head's, which is not in the loss: its kernels still get one from their
  # weight decay (REGULARIZATION_LOSSES), its biases and betas none.
  for name in NETWORKS:
    if name != "inception_v3":
      assert graph_runs(name)["no_gradient"] == [], name
  assert graph_runs("inception_v3")["no_gradient"] == [
      "InceptionV3/AuxLogits/Conv2d_1b_1x1/BatchNorm/beta",
      "InceptionV3/AuxLogits/Conv2d_2a_5x5/BatchNorm/beta",
      "InceptionV3/AuxLogits/Conv2d_2b_1x1/biases"]


# --- apply() and install() ---------------------------------------------------------

APPLY_AND_INSTALL = textwrap.dedent("""
    import sys
    import warnings
    import tensorflow as tf
    import tf_slim as slim
    from tensorflow.python.layers import normalization

    def batch_norm_names():
      with tf.Graph().as_default():
        slim.batch_norm(tf.ones([2, 4, 4, 3]))
        return [v.op.name for v in tf.compat.v1.global_variables()]

    try:  # The bug being repaired.
      batch_norm_names()
    except ModuleNotFoundError as e:
      print("unrepaired:", e)

    import tf1shim
    from tf1shim import slim_compat
    assert not slim_compat.is_applied()

    # A missing touch point: a clear error, and nothing changed.
    utils = sys.modules["tf_slim.layers.utils"]
    convert = utils.convert_collection_to_dict
    del utils.convert_collection_to_dict
    lazy = normalization.normalization
    try:
      slim_compat.apply()
    except RuntimeError as e:
      print("unsupported:", e)
    assert normalization.normalization is lazy
    with warnings.catch_warnings(record=True) as caught:
      warnings.simplefilter("always")
      tf1shim.install()
    print("warned:", [str(w.message) for w in caught])
    utils.convert_collection_to_dict = convert

    sys.modules["tf1shim.install"]._installed = False  # install() again
    tf1shim.install()
    assert slim_compat.is_applied()
    layers = sys.modules["tf_slim.layers.layers"]
    regularizers = sys.modules["tf_slim.layers.regularizers"]
    def state():
      return (normalization.normalization, layers.ops, layers.moving_averages,
              utils.convert_collection_to_dict, slim.l2_regularizer,
              sys.modules["tf_slim.layers"].l2_regularizer,
              regularizers.l2_regularizer, regularizers.sum_regularizer)
    before = state()
    slim_compat.apply()
    slim_compat.apply()
    assert state() == before, "apply() is not idempotent"
    assert slim.l2_regularizer is regularizers.l2_regularizer
    print("repaired:", batch_norm_names())
""")

INSTALL_THEN_TF1_CODE = textwrap.dedent("""
    import tensorflow as tf
    v1 = tf.compat.v1  # held before install(), which imports tf-slim
    import tf1shim
    tf1shim.install()
    import tensorflow.compat.v1 as imported_v1  # tf-slim's own spelling
    import tf_slim as slim
    for module in (v1, imported_v1, tf.compat.v1):
      assert module.layers.dense is tf1shim.layers.dense, module
    with tf.Graph().as_default():
      slim.batch_norm(tf.ones([2, 3]))
    print("ok")
""")

WITHOUT_TF_SLIM = textwrap.dedent("""
    import sys
    sys.modules["tf_slim"] = None  # as if tf-slim were not installed
    import warnings
    import tf1shim
    warnings.simplefilter("error")  # no warning either
    tf1shim.install()
    from tf1shim import slim_compat
    try:
      slim_compat.apply()
    except ModuleNotFoundError as e:
      print("apply:", e)
""")


def test_apply_is_idempotent_and_install_applies_it():
  done = run_python(["-c", APPLY_AND_INSTALL])
  assert done.returncode == 0, done.stderr[-5000:]
  lines = dict(line.split(": ", 1) for line in done.stdout.splitlines()
               if ": " in line)
  assert "tf_keras.legacy_tf_layers" in lines["unrepaired"]
  assert ("written for tf-slim 1.1.0 on TensorFlow 2.21, but here "
          "tf_slim.layers.utils has no convert_collection_to_dict") in lines[
              "unsupported"]
  assert "tf-slim is left as it is" in lines["warned"]
  assert lines["repaired"] == str(
      ["BatchNorm/beta", "BatchNorm/moving_mean", "BatchNorm/moving_variance"])


def test_install_keeps_tf_compat_v1_layers_while_it_imports_tf_slim():
  done = run_python(["-c", INSTALL_THEN_TF1_CODE])
  assert done.returncode == 0, done.stderr[-5000:]
  assert done.stdout.strip() == "ok"


def test_install_works_without_tf_slim_and_apply_says_what_is_missing():
  done = run_python(["-c", WITHOUT_TF_SLIM])
  assert done.returncode == 0, done.stderr[-5000:]
  assert "pip install tf-slim==1.1.0" in done.stdout


if __name__ == "__main__":
  if "--oracle" in sys.argv:
    oracle_main(sys.argv[sys.argv.index("--oracle") + 1])
  else:
    raise SystemExit(pytest_main(__file__))
