"""The examples' golden TF1 checkpoints: the `golden` command and its paths.

Each example's `golden/` folder holds `model.ckpt` (index + data), written
by `tf.compat.v1.train.Saver` after the example's TF1 model function trained
in a TF1 graph on the digits, and `MANIFEST.json` (`tf1shim.staging.golden`
writes, verifies and restores them). The tests read the checkpoint and check
it against the manifest; they never write it. Regenerating is explicit:

    tools/dev golden dense --force     # or: bazel run //examples/curriculum:golden -- dense --force

(`--force` because an existing golden is the contract every stage must keep
loading: replacing it is a reviewed change of the checkpoint and of the
manifest together.)
"""

import argparse
import dataclasses
import os
import sys

import numpy as np

from tf1shim import staging
from tf1shim.staging import golden as staging_golden
from examples.curriculum import example as example_lib
from examples.curriculum import training

STEPS = 60
FILES = staging_golden.FILES
MANIFEST = staging_golden.MANIFEST
GoldenError = staging.GoldenError
tf1_graph_logits = staging_golden.tf1_graph_outputs


def folder(example):
  return example.golden.folder


def _checkpoint(example):
  # The example's own prefix and files (an Estimator model_dir's are
  # `model.ckpt-N` and `checkpoint`), in `folder(example)`.
  if example.golden is not None:
    return dataclasses.replace(example.golden, folder=folder(example))
  return staging.GoldenCheckpoint(folder(example),
                                  example_lib.regenerate_hint(example.name))


def prefix(example):
  """The golden checkpoint's prefix, after checking it against its manifest."""
  return _checkpoint(example).prefix()


def verify(example):
  """Raises GoldenError unless every golden file matches the manifest."""
  return _checkpoint(example).verify()


def restore(example, stage, model, images):
  """Loads the golden checkpoint into a stage's `model` by TF1 name (strict);
  returns the `RestoreReport`."""
  return staging_golden.restore(example, stage, model, images, prefix(example))


def regenerate(example, force=False, data_dir=None, out_folder=None):
  """Writes the golden checkpoint and its manifest (atomically)."""
  batches = training.digits_batches("train", STEPS, data_dir,
                                    example.data_transform)
  return staging_golden.write_golden(
      example, batches, out_folder or folder(example), force=force,
      manifest={
          "example": example.name,
          "regenerate": "tools/dev golden %s --force" % example.name,
          "written_by": "tf.compat.v1.train.Saver in a TF1 graph, "
                        "examples/curriculum/golden.py",
          "data": "sklearn_digits train, first %d batches of %d, "
                  "file order%s" % (
                      STEPS, training.BATCH_SIZE,
                      ", through examples.%s.DATA_TRANSFORM" % example.name
                      if example.data_transform else ""),
          "optimizer": "GradientDescent, learning rate %g" %
                       training.LEARNING_RATE,
      })


def main(argv=None):
  parser = argparse.ArgumentParser(
      description="Regenerate an example's golden TF1 checkpoint.",
      epilog="Example: tools/dev golden dense --force")
  parser.add_argument("example", choices=example_lib.EXAMPLES)
  parser.add_argument("--force", action="store_true",
                      help="replace the existing golden checkpoint")
  args = parser.parse_args(argv)
  example = example_lib.load(args.example)
  if example.golden.regenerate != example_lib.regenerate_hint(example.name):
    # Written by its own command (the estimator's: an Estimator model_dir).
    print("error: %s's golden checkpoint is not written by this command. %s"
          % (example.name, example.golden.regenerate), file=sys.stderr)
    return 2
  out_folder = None
  if os.environ.get("BUILD_WORKSPACE_DIRECTORY"):  # under `bazel run`
    out_folder = os.path.join(os.environ["BUILD_WORKSPACE_DIRECTORY"],
                              "examples", example.name, "golden")
  try:
    manifest = regenerate(example, force=args.force, out_folder=out_folder)
  except GoldenError as e:
    print("error: %s" % e, file=sys.stderr)
    return 2
  print("Wrote %s (loss %.4f -> %.4f over %d steps)." % (
      out_folder or folder(example), manifest["loss_first_last"][0],
      manifest["loss_first_last"][1], manifest["steps"]))
  return 0


if __name__ == "__main__":
  np.set_printoptions(precision=4)
  sys.exit(main())
