"""Where two stages' training parts: a semantic difference, or rounding?

    tools/dev main ... shows a stage whose step losses leave the TF1 graph's;
    PYTHONPATH=core:. .venv/bin/python -m examples.curriculum.divergence batchnorm 2 3 --steps 300

Trains stage A and stage B of an example as the course does (same initial
weights, batches and random numbers) and prints, at some steps:

* free: |Δ loss| of that step and the largest relative |Δ| of a trainable
  weight after it (max |a - b| / max |a| per variable), both stages trained
  from the start;
* restarted: the same two numbers for one step of each stage from stage
  A's weights before that step, on that step's batch.

A stage that computes something else differs when restarted (by more than
float32 rounding, a few 1e-7); stages that compute the same up to rounding
differ by a few 1e-7 when restarted, while freely trained they may drift
apart, as training amplifies any difference (weights near a ReLU's kink
or a pooling's tie take another branch).
"""

import argparse
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # pylint: disable=g-import-not-at-top,wrong-import-position
import numpy as np  # pylint: disable=g-import-not-at-top

from tf1shim import staging
from examples.curriculum import course
from examples.curriculum import example as example_lib
from examples.curriculum import main as main_lib

REPORTED_STEPS = (1, 2, 5, 10, 20, 50, 100, 150, 200, 250, 300)


class _Weights(keras.callbacks.Callback):
  """The trainable weights after each step, by TF1 name."""

  def __init__(self, stage):
    super().__init__()
    self.stage, self.after_step = stage, []

  def on_train_batch_end(self, batch, logs=None):
    names = self.stage.tf1_name_map(self.model)
    self.after_step.append({
        names[staging.variable_name(v)]: v.numpy()
        for v in self.model.trainable_weights})


def _train(example, stage, initial, batches, split):
  weights = _Weights(stage)
  result = course.train_stage(stage, initial, batches, split, split,
                              optimizer=example.optimizer,
                              callbacks=[weights])
  return result.losses, weights.after_step


def _relative(a, b):
  return max(float(np.max(np.abs(a[k] - b[k])) / max(np.max(np.abs(a[k])),
                                                      1e-30)) for k in a)


def measure(name, first, second, steps, data_dir=None):
  """[(step, free |Δ loss|, free rel |Δ w|, restarted |Δ loss|,
  restarted rel |Δ w|)] between stages `first` and `second` of `name`."""
  example = example_lib.load(name)
  batches = course.numpy_batches(
      "train", steps, example.batch_size, data_dir=data_dir,
      shuffle_seed=main_lib.SHUFFLE_SEED, transform=example.data_transform)
  split = batches[0]  # no evaluation here
  initial = course.initial_values(example, batches[0][0])
  a, b = example.stage(first), example.stage(second)
  losses_a, weights_a = _train(example, a, initial, batches, split)
  losses_b, weights_b = _train(example, b, initial, batches, split)
  rows = []
  for step in (s for s in REPORTED_STEPS if s <= steps):
    before = initial if step == 1 else {**initial, **weights_a[step - 2]}
    one = batches[step - 1:step]
    restarted_a = _train(example, a, before, one, split)
    restarted_b = _train(example, b, before, one, split)
    rows.append((step,
                 abs(float(losses_a[step - 1]) - float(losses_b[step - 1])),
                 _relative(weights_a[step - 1], weights_b[step - 1]),
                 abs(float(restarted_a[0][0]) - float(restarted_b[0][0])),
                 _relative(restarted_a[1][0], restarted_b[1][0])))
  return rows


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  parser.add_argument("example", choices=example_lib.COURSE)
  parser.add_argument("first", type=int, help="stage A (1-4)")
  parser.add_argument("second", type=int, help="stage B (1-4)")
  parser.add_argument("--steps", type=int, default=300)
  parser.add_argument("--data-dir", default=None)
  args = parser.parse_args(argv)
  rows = measure(args.example, args.first, args.second, args.steps,
                 args.data_dir)
  print("| step | free: \\|Δ loss\\| | free: max rel \\|Δ weight\\| | "
        "restarted: \\|Δ loss\\| | restarted: max rel \\|Δ weight\\| |")
  print("|---|---|---|---|---|")
  for step, *numbers in rows:
    print("| %d | %s |" % (step, " | ".join("%.1e" % n for n in numbers)))
  return 0


if __name__ == "__main__":
  sys.exit(main())
