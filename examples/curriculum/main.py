"""The curriculum: every example through its four stages, with a table each.

    tools/dev main                      # every example, 300 steps each
    tools/dev main --examples dense --steps 100
    tools/dev main --report /tmp/course --logdir /tmp/course-logs
    bazel run //examples/curriculum:main -- --steps 100

The examples, then tf_slim's resnet_v1_50 and inception_v1 (short runs at
a small input size, `slim_course.py`; vgg_16 when asked for). For each, the
TF1 model function trains in a TF1 graph (the reference row), then each
stage, in Keras 3 with `model.fit`, from the same initial weights (drawn
under the random tool, copied by TF1 name), on the
same shuffled digits batches and with the same random numbers at every step
(dropout masks included: see `course.py`). Per stage:

* max |Δ output| vs stage 1: the largest difference of the logits (inference
  and training mode, dropout masks equal under the random tool) from stage
  1's with the same weights; for stage 1, from its TF1 graph;
* Δ regularization loss: the same comparison for the regularization loss;
* golden checkpoint: loads (strict, by TF1 name) and gives the TF1 graph's
  logits, with the largest difference;
* train loss (data + regularization, whole train split, inference mode)
  after N steps; for the slim networks the mean training-mode loss of the
  last steps instead (`Example.train_loss_last_steps`, see slim_course.py),
  the header says which;
* max |Δ step loss| vs the TF1 graph: the largest difference, over the N
  steps, of the loss each step computed (before its update);
* test accuracy, and milliseconds per training step (median, after warm-up).

`--report DIR` writes `DIR/index.html` (one page, images inline, no server)
and the PNG plots beside it; `--logdir DIR` writes TensorBoard event files,
one folder per example and row (`tensorboard --logdir DIR`). Neither folder
may exist: both are written in full, or not at all. A progress bar shows on
a terminal (tqdm), nothing otherwise. Exits non-zero if a stage diverges.
"""

import argparse
import contextlib
import dataclasses
import os
import shutil
import sys
import tempfile
import warnings

# tf_slim calls TF1 layers' `apply` and `updates`, whose deprecation warnings
# (one per layer and call) would bury the tables too.
warnings.filterwarnings("ignore", message=r"`layer\.(apply|updates)`")

# TensorFlow's C++ info and warning lines would bury the tables.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # pylint: disable=g-import-not-at-top,wrong-import-position
import tqdm  # pylint: disable=g-import-not-at-top

from tf1shim import comparison
from tf1shim import staging
from tf1shim.staging import structures
from examples.curriculum import course
from examples.curriculum import example as example_lib
from examples.curriculum import golden
from examples.data import pipeline

SHUFFLE_SEED = 7
TF1_ROW = "TF1 graph (reference)"


@dataclasses.dataclass
class Row:
  """One row of an example's table."""
  label: str  # "TF1 graph (reference)" or "2 stage2_oo_v1"
  cells: tuple  # the table's cells after the label, as printed
  losses: np.ndarray  # per-step training losses
  test_accuracy: float
  stage: staging.Stage = None  # None for the TF1 row


@dataclasses.dataclass
class ExampleResult:
  example: example_lib.Example
  steps: int
  rows: list


def _split(split, example, data_dir, dataset):
  """The split's first `example.eval_examples` (all when None): (inputs,
  labels), the inputs of any structure."""
  xs, ys = zip(*pipeline.load(split, 512, dataset=dataset, data_dir=data_dir,
                              transform=example.data_transform))
  count = example.eval_examples
  return (course.sliced(course.concatenated(xs), 0, count),
          np.concatenate(ys)[:count])


def _equivalence(example, stage, batches):
  """(max |Δ output|, Δ regularization) of `stage` against stage 1 (stage
  1: against its TF1 graph), weights copied, under the random tool. Inputs
  other than one array go through the comparison packed in one array."""
  batches, tf1_model_fn, (build_stage_1, build) = structures.packed(
      batches, example.tf1_model_fn,
      [example.stage(1).build_model, stage.build_model])
  if stage.number == 1:
    reference, copy = comparison.tf1_graph(tf1_model_fn), False
    mapping, random_tool = None, staging.random_tool
  else:
    reference, copy = build_stage_1, True
    mapping = stage.tf1_names
    random_tool = staging.copied_weights_random_tool
  report = comparison.compare_stages(
      reference, build, batches, example.loss,
      optimizer=example.optimizer, mapping=mapping,
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


@contextlib.contextmanager
def _progress(label, steps):
  """A tqdm bar on a terminal (stderr), nothing otherwise; yields
  `on_step(step, loss)`."""
  bar = tqdm.tqdm(total=steps, desc=label, unit="step", leave=False,
                  disable=None, file=sys.stderr)

  def on_step(step, loss):
    bar.set_postfix_str("loss %.4f" % loss, refresh=False)
    bar.update(1)

  try:
    yield on_step
  finally:
    bar.close()


def _train_loss(example, training):
  """The train loss cell (see `header`)."""
  last = example.train_loss_last_steps
  if last:
    return "%.4f" % float(np.mean(training.losses[-last:].astype(np.float64)))
  return "%.4f" % training.train_loss


def _max_step_difference(losses, reference):
  return float(np.max(np.abs(losses.astype(np.float64) - reference)))


def run_example(name, steps, data_dir=None, dataset="sklearn_digits"):
  """Trains and compares every stage of one example: an `ExampleResult`."""
  example = example_lib.load(name)
  steps = min(steps, example.max_course_steps or steps)
  batches = course.numpy_batches("train", steps, example.batch_size,
                                 dataset=dataset, data_dir=data_dir,
                                 shuffle_seed=SHUFFLE_SEED,
                                 transform=example.data_transform)
  # The last steps' training-mode losses stand for the train loss, or the
  # whole train split is evaluated after training.
  train = (None if example.train_loss_last_steps else
           _split("train", example, data_dir, dataset))
  test = _split("test", example, data_dir, dataset)
  if example.compared_in_course:
    equivalence_batches = example.equivalence_batches(data_dir)
  initial = course.initial_values(example, batches[0][0])
  if example.prepare_initial:
    initial = example.prepare_initial(initial, batches[0][0])
  if example.golden is not None:
    golden_images = example.test_batch(data_dir)[0]
    golden_logits = golden.tf1_graph_logits(example, golden_images,
                                            golden.prefix(example))
  with _progress("[%s] TF1 graph" % name, steps) as on_step:
    reference = course.train_tf1_graph(example, initial, batches, train,
                                       test, on_step)
  rows = [Row(TF1_ROW, ("-", "-", "(wrote it)" if example.golden else "-",
                        _train_loss(example, reference), "-",
                        "%.3f" % reference.test_accuracy,
                        "%.2f" % reference.ms_per_step),
              reference.losses, reference.test_accuracy)]
  for stage in example.stages:
    label = "[%s] stage %d/%d %s" % (name, stage.number, len(example.stages),
                                    stage.name)
    if example.compared_in_course:
      outputs, regularization, ok = _equivalence(example, stage,
                                                 equivalence_batches)
      compared = ("%.1e%s" % (outputs, "" if ok else " (DIVERGED)"),
                  "%.1e" % regularization)
    else:
      compared = ("-", "-")
    loads = ("-" if example.golden is None else
             _golden(example, stage, golden_images, golden_logits))
    with _progress(label, steps) as on_step:
      result = course.train_stage(stage, initial, batches, train, test,
                                  on_step, example.eval_batch_size,
                                  example.optimizer)
    rows.append(Row(
        "%d %s" % (stage.number, stage.name),
        compared + (loads, _train_loss(example, result),
         "%.1e" % _max_step_difference(result.losses, reference.losses),
         "%.3f" % result.test_accuracy, "%.2f" % result.ms_per_step),
        result.losses, result.test_accuracy, stage))
  return ExampleResult(example, steps, rows)


# Markdown tables: a literal "|" in a cell is written "\\|".
HEADER = ("stage", "max \\|Δ output\\| vs stage 1", "Δ regularization loss",
          "golden TF1 checkpoint loads", "train loss after %d steps",
          "max \\|Δ step loss\\| vs TF1 graph", "test accuracy",
          "ms / train step")
TRAIN_LOSS_COLUMN = 4


def header(result):
  """The table's header for `result` (an `ExampleResult`): its train loss
  column says which loss it holds."""
  cells = list(HEADER)
  last = result.example.train_loss_last_steps
  if last:
    first = max(result.steps - last + 1, 1)
    cells[TRAIN_LOSS_COLUMN] = (
        "train loss, training mode, mean of steps %d-%d" %
        (first, result.steps))
  else:
    cells[TRAIN_LOSS_COLUMN] %= result.steps
  return cells


def format_table(result):
  lines = ["| " + " | ".join(header(result)) + " |",
           "|" + "---|" * len(HEADER)]
  lines += ["| " + " | ".join((row.label,) + row.cells) + " |"
            for row in result.rows]
  return "\n".join(lines)


class OutputFolderError(ValueError):
  """An output folder that exists already."""


class _NewFolder:
  """A folder that appears whole at `path`, or not at all: written in a
  temporary sibling, renamed into place by `commit()`."""

  def __init__(self, path, what):
    self.path = os.path.abspath(path)
    if os.path.exists(self.path):
      raise OutputFolderError(
          "%s folder %s exists; choose a new folder or remove it." %
          (what, path))
    parent = os.path.dirname(self.path)
    os.makedirs(parent, exist_ok=True)
    self.partial = tempfile.mkdtemp(
        prefix="." + os.path.basename(self.path) + ".partial-", dir=parent)

  def commit(self):
    os.rename(self.partial, self.path)

  def discard(self):
    shutil.rmtree(self.partial, ignore_errors=True)


def main(argv=None):
  parser = argparse.ArgumentParser(
      description="Run every example through its four migration stages.",
      epilog="Example: tools/dev main --examples dense conv --steps 300 "
             "--report /tmp/course")
  parser.add_argument("--examples", nargs="+", choices=example_lib.COURSE,
                      default=list(example_lib.DEFAULT_COURSE),
                      help="default: %s" %
                      " ".join(example_lib.DEFAULT_COURSE))
  parser.add_argument("--steps", type=int, default=300,
                      help="training steps per stage (default 300)")
  parser.add_argument("--dataset", choices=pipeline.DATASETS,
                      default="sklearn_digits",
                      help="mnist needs a network (TFDS downloads it)")
  parser.add_argument("--data-dir", default=None,
                      help="TFDS data folder (default: %s)" %
                      pipeline.default_data_dir())
  parser.add_argument("--report", metavar="DIR", default=None,
                      help="write an HTML report with plots to DIR (new)")
  parser.add_argument("--logdir", metavar="DIR", default=None,
                      help="write TensorBoard event files to DIR (new)")
  args = parser.parse_args(argv)
  if args.steps < 1:
    parser.error("--steps must be at least 1")
  outputs = {}
  try:
    if args.report:
      outputs["report"] = _NewFolder(args.report, "--report")
    if args.logdir:
      outputs["logdir"] = _NewFolder(args.logdir, "--logdir")
  except OutputFolderError as e:
    for folder in outputs.values():
      folder.discard()
    parser.exit(2, "main: %s\n" % e)
  try:
    results, failed = [], False
    for name in args.examples:
      result = run_example(name, args.steps, args.data_dir, args.dataset)
      results.append(result)
      failed |= any("DIVERGED" in row.cells[0] for row in result.rows)
      print("\n### %s\n\n%s\n" % (name, format_table(result)), flush=True)
    if "logdir" in outputs:
      from examples.curriculum import event_files  # pylint: disable=g-import-not-at-top
      event_files.write(outputs["logdir"].partial, results)
    if "report" in outputs:
      from examples.curriculum import report  # pylint: disable=g-import-not-at-top
      report.write(outputs["report"].partial, results, header,
                   " ".join(["tools/dev main"] + list(argv or sys.argv[1:])))
  except BaseException:
    for folder in outputs.values():
      folder.discard()
    raise
  for kind, folder in outputs.items():
    folder.commit()
    print("%s: %s" % (kind, folder.path), file=sys.stderr)
  return 1 if failed else 0


if __name__ == "__main__":
  sys.exit(main())
