"""Benchmark: training step and inference of every stage of every example
against its TF1 model function in a TF1 graph, in the same run.

    tools/dev bench-examples [--examples dense ...] [--rounds 9]
    # or: bazel run //examples/benchmarks:stage_benchmark

Per example, on one batch of the digits (the curriculum's batch of 32, as
the example's stages read it):

* train step: the TF1 graph's `Session.run` of the train op (the example's
  loss + the regularization losses, its optimizer, run after `UPDATE_OPS`)
  against each stage's `train_on_batch` (compiled with the same loss and
  the same optimizer in Keras), and again with `tf1_keras_layers.FusedSGD`
  (Keras's SGD in one kernel per variable);
* fit per step: `model.fit` over the first 50 batches, compiled with
  `steps_per_execution=50` (one call of Keras's traced step runs all 50:
  how Keras amortizes its cost per call), against 50 `Session.run` calls of
  the train op on the same batches; time per step;
* tf.function forward, predict (`predict_on_batch`: Keras's traced predict
  step) and eager forward (inference) against `Session.run` of the outputs
  of an inference graph.

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
import statistics
import sys
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # pylint: disable=g-import-not-at-top,wrong-import-position
import tensorflow as tf  # pylint: disable=g-import-not-at-top

from tf1_keras_layers import FusedSGD  # pylint: disable=g-import-not-at-top
from tf1shim import staging  # pylint: disable=g-import-not-at-top
from tf1shim.comparison import timing  # pylint: disable=g-import-not-at-top

v1 = tf.compat.v1
MEASURES = ("train step", "train step, FusedSGD", "fit per step",
            "tf.function forward", "predict", "eager forward")
TRAIN_MEASURES = ("train step", "train step, FusedSGD")
# "fit per step": `fit` over this many batches with
# `steps_per_execution` as many (one call of the traced step runs them
# all), against as many `Session.run` calls of the train op; per step.
EPOCH_STEPS = 50
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
    train_session.run(train_op, {x: batch_images, y: batch_labels})

  def forward():
    inference_session.run(inference_outputs, {x_inference: images})

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
  fit_model = _model(migration, stage, images, labels, values,
                     migration.optimizer.keras(), EPOCH_STEPS)
  forward = tf.function(lambda x: model(x, training=False))
  return {
      "train step": lambda: model.train_on_batch(images, labels),
      "train step, FusedSGD": lambda: fused_sgd_model.train_on_batch(
          images, labels),
      "fit per step": lambda: fit_model.fit(dataset, epochs=1, verbose=0),
      "tf.function forward": lambda: forward(images),
      "predict": lambda: model.predict_on_batch(images),
      "eager forward": lambda: model(images, training=False),
  }


def benchmark(name, rounds, calls, data_dir):
  """{measure: {contender: entry}} for one example (see `tf1shim.comparison.timing`):
  one stage at a time against the TF1 graph, each measure in interleaved
  rounds of the two."""
  migration = load_migration(name)
  batches = migration.sample_batches("train", EPOCH_STEPS, data_dir)
  images, labels = batches[0]
  dataset = tf.data.Dataset.from_tensor_slices((
      np.concatenate([x for x, _ in batches]),
      np.concatenate([y for _, y in batches]))).batch(len(images)).cache()
  train_step, forward, values, sessions = tf1_graph(migration, images, labels)

  def tf1_epoch():
    for batch in batches:
      train_step(batch)

  baselines = {measure: train_step if measure in TRAIN_MEASURES else
               forward for measure in MEASURES}
  baselines["fit per step"] = tf1_epoch
  results = {measure: {} for measure in MEASURES}
  tf1_times = {measure: [] for measure in MEASURES}
  for stage in migration.stages:
    measures = stage_measures(migration, stage, images, labels, values,
                              dataset)
    label = "%d %s" % (stage.number, stage.name)
    for measure in MEASURES:
      contenders = {TF1: baselines[measure], label: measures[measure]}
      for fn in contenders.values():
        for _ in range(3):
          fn()  # warm-up: tracing, first-call allocations
      # An epoch is EPOCH_STEPS steps: one call of it per timing.
      measured = timing.measure(
          contenders, TF1, rounds, 1 if measure == "fit per step" else calls)
      if measure == "fit per step":
        for entry in measured.values():
          entry["seconds"] /= EPOCH_STEPS
      results[measure][label] = measured[label]
      tf1_times[measure].append(measured[TF1]["seconds"])
  for session in sessions:
    session.close()
  for measure in MEASURES:
    results[measure] = {
        TF1: {"seconds": statistics.median(tf1_times[measure]),
              "ratio": 1.0, "low": 1.0, "high": 1.0, "cpu_ratio": 1.0},
        **results[measure]}
  return results


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  parser.add_argument("--examples", nargs="+", choices=ARRAY_EXAMPLES,
                      default=list(ARRAY_EXAMPLES))
  parser.add_argument("--rounds", type=int, default=9)
  parser.add_argument("--calls", type=int, default=20,
                      help="calls per timing")
  args = parser.parse_args(argv)
  print("Median time per call, median ratio to the TF1 graph "
        "(smallest-largest ratio over %d rounds of %d calls); median ratio "
        "of CPU time." % (
            args.rounds, args.calls))
  print("| example | stage | %s |" % " | ".join(MEASURES))
  print("|---|---|%s" % ("---|" * len(MEASURES)))
  with tempfile.TemporaryDirectory() as data_dir:
    for name in args.examples:
      results = benchmark(name, args.rounds, args.calls, data_dir)
      for contender in results[MEASURES[0]]:
        print("| %s | %s | %s |" % (name, contender, " | ".join(
            timing.cell(results[m][contender]) for m in MEASURES)),
              flush=True)
  return 0


if __name__ == "__main__":
  sys.exit(main())
