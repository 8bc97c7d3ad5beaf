"""The TF1 reference: a slim network in TF1 graphs, trained and saved by Saver.

`write_checkpoint` trains the network a few steps the TF1 way (UPDATE_OPS
with the train op, regularization losses added), calibrates its batch-norm
moving statistics on a batch of data, and saves it with `Saver` (model
variables only, as the published slim checkpoints are laid out).

Why calibrate: a few steps at slim's decay (0.997 to 0.9997) leave the
moving statistics at their initial values (mean 0, variance 1), so in
inference every batch norm is nearly the identity and activations grow
layer after layer (resnet_v1_50's logits reached 5e6): no real checkpoint
looks like that, and float32 sums of that size differ by whole units
between CPU kernels. Calibrated, inference normalizes as a trained network
does and activations stay O(1). The calibration is TF1's own update with
decay 0: each moving statistic becomes the batch statistic the graph's
fused batch norm computes in training mode (the value its UPDATE_OPS move
the average towards, Bessel-corrected variance included):
`tf1shim.staging.batch_norm_calibration_ops`.
`inference` and `training_forward` restore it into fresh TF1 graphs and
give what every stage must reproduce.
"""

import numpy as np
import tensorflow as tf

from tf1shim import staging

v1 = tf.compat.v1
LEARNING_RATE = 0.01
# The calibration batch: realistic counts per channel (16 * 2 * 2 values in
# resnet_v1_50's block4 at 64x64), its own seed.
CALIBRATION_BATCH = 16
CALIBRATION_SEED = 1000


def batch(size, input_size, num_classes, seed):
  """Deterministic images and labels."""
  rng = np.random.RandomState(seed)
  images = rng.normal(0.0, 1.0, (size, input_size, input_size, 3))
  return images.astype(np.float32), rng.randint(0, num_classes, size)


def loss(labels, logits):
  """The data loss: mean softmax cross-entropy over the batch."""
  return tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(
      labels, logits))


def _model_variables():
  return [v for v in v1.global_variables()
          if not v.name.startswith("global_step")]


def write_checkpoint(slim_model_fn, batches, num_classes, prefix):
  """Trains one step per batch in a TF1 graph, calibrates the batch-norm
  moving statistics on a batch of data, then saves; returns losses."""
  x0, _ = batches[0]
  with tf.Graph().as_default():
    images = v1.placeholder(tf.float32, (None,) + x0.shape[1:])
    labels = v1.placeholder(tf.int32, (None,))
    logits, _ = slim_model_fn(images, training=True, num_classes=num_classes)
    total = loss(labels, logits)
    regularization = v1.get_collection(v1.GraphKeys.REGULARIZATION_LOSSES)
    if regularization:
      total += tf.add_n(regularization)
    with tf.control_dependencies(v1.get_collection(v1.GraphKeys.UPDATE_OPS)):
      train_op = v1.train.GradientDescentOptimizer(LEARNING_RATE).minimize(
          total)
    calibrate = staging.batch_norm_calibration_ops()
    saver = v1.train.Saver(_model_variables())
    calibration, _ = batch(CALIBRATION_BATCH, x0.shape[1], num_classes,
                           CALIBRATION_SEED)
    with v1.Session() as sess:
      sess.run(v1.global_variables_initializer())
      losses = [sess.run([train_op, total], {images: x, labels: y})[1]
                for x, y in batches]
      sess.run(calibrate, {images: calibration})
      saver.save(sess, prefix, write_meta_graph=False, write_state=False)
  return [float(l) for l in losses]


def _restored(slim_model_fn, images, training, num_classes, prefix,
              random_tool=None):
  graph = tf.Graph()
  with graph.as_default():
    if random_tool is not None:
      with random_tool.scope():
        logits, end_points = slim_model_fn(tf.constant(images),
                                           training=training,
                                           num_classes=num_classes)
    else:
      logits, end_points = slim_model_fn(tf.constant(images),
                                         training=training,
                                         num_classes=num_classes)
    saver = v1.train.Saver(_model_variables())
    updates = v1.get_collection(v1.GraphKeys.UPDATE_OPS)
  return graph, logits, end_points, saver, updates


def inference(slim_model_fn, images, num_classes, prefix):
  """(logits, end_points) with is_training=False, checkpoint restored."""
  graph, logits, end_points, saver, _ = _restored(
      slim_model_fn, images, False, num_classes, prefix)
  with v1.Session(graph=graph) as sess:
    saver.restore(sess, prefix)
    return sess.run((logits, end_points))


def training_forward(slim_model_fn, images, num_classes, prefix,
                     random_tool):
  """One training-mode forward with UPDATE_OPS: (logits, {variable name:
  value after the updates}) — the moving averages moved once."""
  graph, logits, _, saver, updates = _restored(
      slim_model_fn, images, True, num_classes, prefix, random_tool)
  with graph.as_default():
    variables = _model_variables()
  with v1.Session(graph=graph) as sess:
    saver.restore(sess, prefix)
    logits_value, _ = sess.run((logits, updates))
    values = sess.run(variables)
  return logits_value, {v.name[:-2]: value
                        for v, value in zip(variables, values)}
