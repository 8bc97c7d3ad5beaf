"""Benchmark: training step and inference of every stage of every example
against its TF1 model function in a TF1 graph, in the same run.

    tools/dev bench-examples [--examples dense ...] [--rounds 9]
    # or: bazel run //examples/benchmarks:stage_benchmark

Per example, on one batch of the digits (the curriculum's batch of 32, as
the example's stages read it):

* train step: the TF1 graph's `Session.run` of the train op and the loss
  (the example's loss + the regularization losses, its optimizer, run
  after `UPDATE_OPS`; the loss fetched, as the curriculum's TF1 training
  loop does and as `train_on_batch` returns it) against each stage's
  `train_on_batch` (compiled with the same loss and the same optimizer in
  Keras), and again with `tf1_keras_layers.FusedSGD` (Keras's SGD in one
  kernel per variable);
* fit per step: `model.fit` over an epoch of `--epoch-steps` batches (the
  first 50 batches, repeated), compiled with `steps_per_execution=50` (one
  call of Keras's traced step runs 50: how Keras amortizes its cost per
  call), against as many `Session.run` calls of the train op on the same
  batches; time per step;
* tf.function forward, predict (`predict_on_batch`: Keras's traced predict
  step) and eager forward (inference) against `Session.run` of the outputs
  of an inference graph; predict per step: `model.predict` over the same
  epoch's images (`steps_per_execution=50`) against as many `Session.run`
  calls.

Every stage starts from the TF1 graph's initial weights (copied by name
through the stage's rules). The models are small (a batch takes well under
a millisecond of arithmetic), so each timing is `--calls` calls in a row,
and what is compared is mostly the cost per call of each runtime: TF1's
`Session.run` against Keras's `train_on_batch` / `predict_on_batch` and the
eager layer calls. Each stage is measured against the TF1 graph in
interleaved rounds, as in `slim_port/benchmarks/training_benchmark.py`.
"""

import argparse
import importlib
import os
import sys
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import tensorflow as tf  # pylint: disable=g-import-not-at-top

from tf1_keras_layers import FusedSGD  # pylint: disable=g-import-not-at-top
from tf1shim import staging  # pylint: disable=g-import-not-at-top
from tf1shim.comparison import timing  # pylint: disable=g-import-not-at-top

v1 = tf.compat.v1
MEASURES = ("train step", "train step, FusedSGD", "fit per step",
            "tf.function forward", "predict", "predict per step",
            "eager forward")
TRAIN_MEASURES = ("train step", "train step, FusedSGD", "fit per step")
# The measures over an epoch (one call runs all its steps; timed per step).
EPOCH_MEASURES = ("fit per step", "predict per step")
# Distinct batches (the epoch repeats them) and Keras's steps per call of
# its traced step. A `fit` or `predict` call also has a fixed cost (its
# data iterator: 40-65 ms measured), which an epoch of a few hundred steps
# amortizes, as training does.
DISTINCT_BATCHES = STEPS_PER_EXECUTION = 50
EPOCH_STEPS = 500
TF1 = "TF1 graph"
# The examples whose inputs are one array (the TF1 graph is fed through one
# placeholder); the estimator example's dict features are not benchmarked.
ARRAY_EXAMPLES = ("dense", "conv", "batchnorm", "rnn")


def load_migration(name):
  return importlib.import_module("examples.%s.migration" % name).MIGRATION


def tf1_graph(migration, images, labels):
  """(train step, inference forward, initial values by TF1 name, sessions)."""
  train_graph = tf.Graph()
  with train_graph.as_default():
    x = v1.placeholder(tf.as_dtype(images.dtype), images.shape)
    y = v1.placeholder(tf.as_dtype(labels.dtype), labels.shape)
    outputs = migration.tf1_model_fn(x, training=True)
    model_variables = v1.global_variables()
    loss = migration.loss(y, outputs)
    regularization = v1.get_collection(v1.GraphKeys.REGULARIZATION_LOSSES)
    if regularization:
      loss += tf.add_n(regularization)
    with tf.control_dependencies(v1.get_collection(v1.GraphKeys.UPDATE_OPS)):
      train_op = migration.optimizer.tf1().minimize(loss)
    init = v1.global_variables_initializer()
  train_session = v1.Session(graph=train_graph)
  train_session.run(init)
  values = {staging.variable_name(v): value for v, value in zip(
      model_variables, train_session.run(model_variables))}
  inference_graph = tf.Graph()
  with inference_graph.as_default():
    x_inference = v1.placeholder(tf.as_dtype(images.dtype), images.shape)
    inference_outputs = migration.tf1_model_fn(x_inference, training=False)
    assign = [v.assign(values[staging.variable_name(v)])
              for v in v1.global_variables()]
  inference_session = v1.Session(graph=inference_graph)
  inference_session.run(assign)

  def train_step(batch=None):
    batch_images, batch_labels = batch or (images, labels)
    train_session.run((train_op, loss), {x: batch_images, y: batch_labels})

  def forward(batch_images=None):
    inference_session.run(
        inference_outputs,
        {x_inference: images if batch_images is None else batch_images})

  return train_step, forward, values, (train_session, inference_session)


def _model(migration, stage, images, labels, values, optimizer,
           steps_per_execution=1):
  model = stage.build_model()
  model(images, training=False)
  stage.assign_tf1_values(model, values)
  label_dtype = labels.dtype

  def loss(y, outputs):  # Keras hands the labels over as floats
    return migration.loss(tf.cast(y, label_dtype), outputs)

  model.compile(optimizer=optimizer, loss=loss,
                steps_per_execution=steps_per_execution)
  return model


def _fused(keras_optimizer):
  """The same optimizer as `tf1_keras_layers.FusedSGD` (the examples' is
  SGD; others are kept as they are)."""
  if type(keras_optimizer).__name__ != "SGD":
    return keras_optimizer
  return FusedSGD.from_config(keras_optimizer.get_config())


def stage_measures(migration, stage, images, labels, values, dataset):
  """{measure: callable} for one stage, from the TF1 graph's values."""
  model = _model(migration, stage, images, labels, values,
                 migration.optimizer.keras())
  fused_sgd_model = _model(migration, stage, images, labels, values,
                           _fused(migration.optimizer.keras()))
  epoch_model = _model(migration, stage, images, labels, values,
                       migration.optimizer.keras(), STEPS_PER_EXECUTION)
  forward = tf.function(lambda x: model(x, training=False))
  epoch_images = dataset.map(lambda x, y: x)
  return {
      "train step": lambda: model.train_on_batch(images, labels),
      "train step, FusedSGD": lambda: fused_sgd_model.train_on_batch(
          images, labels),
      "fit per step": lambda: epoch_model.fit(dataset, epochs=1, verbose=0),
      "tf.function forward": lambda: forward(images),
      "predict": lambda: model.predict_on_batch(images),
      "predict per step": lambda: epoch_model.predict(epoch_images,
                                                      verbose=0),
      "eager forward": lambda: model(images, training=False),
  }


def benchmark(name, rounds, calls, data_dir, epoch_steps=EPOCH_STEPS):
  """{measure: {contender: entry}} for one example (see
  `tf1shim.comparison.timing.stages_against_baseline`): one stage at a time
  against the TF1 graph, each measure in interleaved rounds of the two."""
  migration = load_migration(name)
  batches = migration.sample_batches("train", DISTINCT_BATCHES, data_dir)
  epoch = [batches[i % len(batches)] for i in range(epoch_steps)]
  images, labels = batches[0]
  dataset = timing.epoch_dataset(batches, epoch_steps)
  train_step, forward, values, sessions = tf1_graph(migration, images, labels)

  def tf1_epoch():
    for batch in epoch:
      train_step(batch)

  def tf1_inference_epoch():
    for batch_images, _ in epoch:
      forward(batch_images)

  baselines = {measure: train_step if measure in TRAIN_MEASURES else
               forward for measure in MEASURES}
  baselines["fit per step"] = tf1_epoch
  baselines["predict per step"] = tf1_inference_epoch

  def stages():
    for stage in migration.stages:
      yield ("%d %s" % (stage.number, stage.name),
             stage_measures(migration, stage, images, labels, values,
                            dataset))

  # An epoch is one call per timing; the other measures `calls` calls.
  results = timing.stages_against_baseline(
      TF1, baselines, stages(), rounds,
      calls={m: 1 if m in EPOCH_MEASURES else calls for m in MEASURES},
      steps_per_call={m: epoch_steps for m in EPOCH_MEASURES}, warmups=3)
  for session in sessions:
    session.close()
  return results


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  parser.add_argument("--examples", nargs="+", choices=ARRAY_EXAMPLES,
                      default=list(ARRAY_EXAMPLES))
  parser.add_argument("--rounds", type=int, default=9)
  parser.add_argument("--calls", type=int, default=20,
                      help="calls per timing")
  parser.add_argument("--epoch-steps", type=int, default=EPOCH_STEPS,
                      help="steps of the epoch of 'fit per step' and "
                      "'predict per step'")
  args = parser.parse_args(argv)
  print("Median time per call, median ratio to the TF1 graph "
        "(smallest-largest ratio over %d rounds of %d calls); median ratio "
        "of CPU time." % (
            args.rounds, args.calls))
  print(timing.table_header("example", MEASURES))
  with tempfile.TemporaryDirectory() as data_dir:
    for name in args.examples:
      results = benchmark(name, args.rounds, args.calls, data_dir,
                          args.epoch_steps)
      print("\n".join(timing.table_rows(name, results, MEASURES)),
            flush=True)
  return 0


if __name__ == "__main__":
  sys.exit(main())
