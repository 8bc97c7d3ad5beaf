"""The curriculum: every example through its four stages, with a table each.

    tools/dev main                      # all examples, 300 steps each
    tools/dev main --examples dense --steps 100
    bazel run //examples/curriculum:main -- --steps 100

For each example, the TF1 model function trains in a TF1 graph (the
reference row), then each stage, in Keras 3 with `model.fit`, from the same
initial weights (drawn under the random tool, copied by TF1 name) and on the
same shuffled digits batches. Per stage:

* max |Δ output| vs stage 1: the largest difference of the logits (inference
  and training mode, dropout masks equal under the random tool) from stage
  1's with the same weights; for stage 1, from its TF1 graph;
* Δ regularization loss: the same comparison for the regularization loss;
* golden checkpoint: loads (strict, by TF1 name) and gives the TF1 graph's
  logits, with the largest difference;
* train loss (data + regularization, whole train split) after N steps, test
  accuracy, and milliseconds per training step (median, after warm-up).

Training differs between stages only by dropout masks (the TF1 graph's and
`model.fit`'s random streams are not the same) and float rounding.
"""

import argparse
import os
import sys
import time

# TensorFlow's C++ info and warning lines would bury the tables.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # pylint: disable=g-import-not-at-top,wrong-import-position
import numpy as np  # pylint: disable=g-import-not-at-top
import tensorflow as tf  # pylint: disable=g-import-not-at-top

from tf1shim import comparison
from tf1shim import staging
from examples.curriculum import example as example_lib
from examples.curriculum import golden
from examples.curriculum import training
from examples.data import pipeline

v1 = tf.compat.v1
SHUFFLE_SEED = 7


class Progress:
  """One status line on stderr, rewritten in place on a terminal."""

  def __init__(self, stream=None):
    self.stream = stream or sys.stderr
    self.tty = self.stream.isatty()
    self.last = 0.0

  def show(self, text, final=False):
    now = time.monotonic()
    if self.tty:
      if final or now - self.last > 0.1:
        self.stream.write("\r\033[K" + text + ("\n" if final else ""))
        self.stream.flush()
        self.last = now
    elif final:
      self.stream.write(text + "\n")
      self.stream.flush()


class _StepTimer(keras.callbacks.Callback):
  """Per-batch wall time and a progress line while `fit` runs."""

  def __init__(self, progress, label, steps):
    super().__init__()
    self.progress, self.label, self.steps = progress, label, steps
    self.times = []

  def on_train_batch_begin(self, batch, logs=None):
    self.start = time.perf_counter()

  def on_train_batch_end(self, batch, logs=None):
    self.times.append(time.perf_counter() - self.start)
    self.progress.show("%s: step %d/%d, loss %.4f" % (
        self.label, batch + 1, self.steps, (logs or {}).get("loss", np.nan)))


def _median_ms(times, warmup=5):
  times = times[warmup:] if len(times) > warmup * 2 else times
  return 1000.0 * float(np.median(times))


def _whole_split(split, data_dir, dataset, transform):
  xs, ys = zip(*pipeline.load(split, 512, dataset=dataset, data_dir=data_dir,
                              transform=transform))
  return np.concatenate(xs), np.concatenate(ys)


def _initial_values(example, images):
  """Stage 1's initial weights under the random tool, by TF1 name."""
  with staging.random_tool().scope():
    model = example.stage(1).build_model()
    model(images, training=False)
  names = example.stage(1).tf1_name_map(model)
  return {names[example_lib.variable_name(v)]: v.numpy()
          for v in model.weights}


def _train_tf1_graph(example, initial, batches, train, test):
  """The reference: the TF1 model function, trained in a TF1 graph."""
  graph = tf.Graph()
  with graph.as_default():
    images = v1.placeholder(tf.float32, (None,) + train[0].shape[1:])
    labels = v1.placeholder(tf.int32, (None,))
    logits = example.tf1_model_fn(images, training=True)
    regularization = v1.get_collection(v1.GraphKeys.REGULARIZATION_LOSSES)
    data_loss = training.loss(labels, logits)
    loss = data_loss + (tf.add_n(regularization) if regularization else 0.0)
    with tf.control_dependencies(v1.get_collection(v1.GraphKeys.UPDATE_OPS)):
      train_op = training.OPTIMIZER.tf1().minimize(loss)
    model_variables = [v for v in v1.global_variables()
                       if example_lib.variable_name(v) in initial]
    with v1.variable_scope("", reuse=True):
      eval_logits = example.tf1_model_fn(images, training=False)
    eval_regularization = tf.add_n(regularization) if regularization else 0.0
    eval_loss = training.loss(labels, eval_logits) + eval_regularization
    accuracy = tf.reduce_mean(tf.cast(tf.equal(
        tf.argmax(eval_logits, 1, output_type=tf.int32), labels), tf.float32))
    assign_initial = [v.assign(initial[example_lib.variable_name(v)])
                      for v in model_variables]
  with v1.Session(graph=graph) as sess:
    sess.run(v1.global_variables_initializer())
    sess.run(assign_initial)
    times = []
    for x, y in batches:
      start = time.perf_counter()
      sess.run(train_op, {images: x, labels: y})
      times.append(time.perf_counter() - start)
    train_loss = sess.run(eval_loss, {images: train[0], labels: train[1]})
    test_accuracy = sess.run(accuracy, {images: test[0], labels: test[1]})
  return float(train_loss), float(test_accuracy), _median_ms(times)


def _train_stage(stage, initial, batches, train, test, progress, label):
  model = stage.build_model()
  model(batches[0][0], training=False)
  stage.assign_tf1_values(model, initial)  # through its rules' transforms
  model.compile(
      optimizer=keras.optimizers.SGD(training.LEARNING_RATE),
      loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
      metrics=["accuracy"])
  timer = _StepTimer(progress, label, len(batches))
  data = tf.data.Dataset.from_tensor_slices(
      (np.stack([x for x, _ in batches]), np.stack([y for _, y in batches])))
  model.fit(data, epochs=1, verbose=0, shuffle=False, callbacks=[timer])
  train_loss = model.evaluate(*train, batch_size=512, verbose=0,
                              return_dict=True)["loss"]
  test_accuracy = model.evaluate(*test, batch_size=512, verbose=0,
                                 return_dict=True)["accuracy"]
  return float(train_loss), float(test_accuracy), _median_ms(timer.times)


def _equivalence(example, stage, batches):
  """(max |Δ output|, Δ regularization) of `stage` against stage 1 (stage
  1: against its TF1 graph), weights copied, under the random tool."""
  if stage.number == 1:
    reference, copy = comparison.tf1_graph(example.tf1_model_fn), False
    mapping, random_tool = None, staging.random_tool
  else:
    reference, copy = example.stage(1).build_model, True
    mapping = stage.tf1_names
    random_tool = staging.copied_weights_random_tool
  report = comparison.compare_stages(
      reference, stage.build_model, batches, training.loss,
      optimizer=training.OPTIMIZER, mapping=mapping,
      random_tool=random_tool, copy_weights=copy)
  outputs = max(c.max_abs_error for c in report.checks
                if c.quantity.startswith("output"))
  regularization = max([c.max_abs_error for c in report.checks
                        if c.quantity.startswith("regularization")] or [0.0])
  return outputs, regularization, report.ok


def _golden(example, stage, images, expected):
  model = stage.build_model()
  report = golden.restore(example, stage, model, images)
  difference = float(np.max(np.abs(model(images, training=False) -
                                    expected)))
  return "yes, %d variables, max \\|Δ\\| %.1e" % (len(report.assigned),
                                               difference)


def run_example(name, steps, data_dir, dataset, progress):
  """Trains and compares every stage of one example; returns table rows."""
  example = example_lib.load(name)
  transform = example.data_transform
  batches = pipeline.numpy_batches("train", steps, training.BATCH_SIZE,
                                   dataset=dataset, data_dir=data_dir,
                                   shuffle_seed=SHUFFLE_SEED,
                                   transform=transform)
  train = _whole_split("train", data_dir, dataset, transform)
  test = _whole_split("test", data_dir, dataset, transform)
  equivalence_batches = training.equivalence_batches(data_dir, transform)
  initial = _initial_values(example, batches[0][0])
  golden_images = training.test_batch(data_dir, transform)[0]
  golden_logits = golden.tf1_graph_logits(example, golden_images,
                                          golden.prefix(example))
  progress.show("[%s] TF1 graph: training %d steps" % (name, steps))
  loss, accuracy, ms = _train_tf1_graph(example, initial, batches, train,
                                        test)
  rows = [("TF1 graph (reference)", "-", "-", "(wrote it)",
           "%.4f" % loss, "%.3f" % accuracy, "%.2f" % ms)]
  for stage in example.stages:
    label = "[%s] stage %d/4 %s" % (name, stage.number, stage.name)
    progress.show(label + ": comparing")
    outputs, regularization, ok = _equivalence(example, stage,
                                               equivalence_batches)
    loads = _golden(example, stage, golden_images, golden_logits)
    loss, accuracy, ms = _train_stage(stage, initial, batches, train, test,
                                      progress, label)
    progress.show("%s: done" % label, final=True)
    rows.append(("%d %s" % (stage.number, stage.name),
                 "%.1e%s" % (outputs, "" if ok else " (DIVERGED)"),
                 "%.1e" % regularization, loads, "%.4f" % loss,
                 "%.3f" % accuracy, "%.2f" % ms))
  return rows


# Markdown tables: a literal "|" in a cell is written "\\|".
HEADER = ("stage", "max \\|Δ output\\| vs stage 1", "Δ regularization loss",
          "golden TF1 checkpoint loads", "train loss after %d steps",
          "test accuracy", "ms / train step")


def format_table(rows, steps):
  header = [h % steps if "%d" in h else h for h in HEADER]
  lines = ["| " + " | ".join(header) + " |",
           "|" + "---|" * len(header)]
  lines += ["| " + " | ".join(row) + " |" for row in rows]
  return "\n".join(lines)


def main(argv=None):
  parser = argparse.ArgumentParser(
      description="Run every example through its four migration stages.",
      epilog="Example: tools/dev main --examples dense conv --steps 300")
  parser.add_argument("--examples", nargs="+", choices=example_lib.EXAMPLES,
                      default=list(example_lib.EXAMPLES))
  parser.add_argument("--steps", type=int, default=300,
                      help="training steps per stage (default 300)")
  parser.add_argument("--dataset", choices=pipeline.DATASETS,
                      default="sklearn_digits",
                      help="mnist needs a network (TFDS downloads it)")
  parser.add_argument("--data-dir", default=None,
                      help="TFDS data folder (default: %s)" %
                      pipeline.default_data_dir())
  args = parser.parse_args(argv)
  if args.steps < 1:
    parser.error("--steps must be at least 1")
  progress = Progress()
  failed = False
  for name in args.examples:
    rows = run_example(name, args.steps, args.data_dir, args.dataset,
                       progress)
    failed |= any("DIVERGED" in row[1] for row in rows)
    print("\n### %s\n\n%s\n" % (name, format_table(rows, args.steps)),
          flush=True)
  return 1 if failed else 0


if __name__ == "__main__":
  sys.exit(main())
