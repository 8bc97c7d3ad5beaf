"""The estimator example's golden checkpoint: an Estimator model_dir.

Written the way `tf.estimator.Estimator.train` wrote it: a TF1 graph, the
global step made first, the `model_fn`'s TRAIN spec, its `train_op`
(`minimize` under `control_dependencies(UPDATE_OPS)`) run by a `Session`
once per batch on the first 60 train batches of the digits, then `Saver`
into the model_dir: `model.ckpt-60` and the `checkpoint` state file
(`save_relative_paths=True`, so that the committed folder names its
checkpoint wherever it is checked out; no meta graph). Every stage loads it
(`stages_test.py`); regenerating is explicit:

    bazel run //examples/estimator:regenerate_golden -- --force
    python -m examples.estimator.golden --force     # from the repository root
"""

import argparse
import os
import sys

import tensorflow as tf

from tf1shim import staging
from tf1shim.staging import golden as staging_golden
from examples.curriculum import training
from examples.estimator import data
from examples.estimator import migration
from examples.estimator import stage1_functional_v1

v1 = tf.compat.v1
ModeKeys = tf.estimator.ModeKeys


def train_model_dir(migration_, batches, folder):
  """Estimator's training loop in a TF1 Session; writes the model_dir into
  `folder` and returns the losses."""
  del migration_  # The model_fn is the example's, not a staging function.
  x0, _ = batches[0]
  with tf.Graph().as_default():
    global_step = v1.train.get_or_create_global_step()
    features = staging_golden.placeholders_like(x0)
    labels = v1.placeholder(tf.int32, [None])
    spec = stage1_functional_v1.model_fn(features, labels, ModeKeys.TRAIN,
                                         stage1_functional_v1.PARAMS)
    saver = v1.train.Saver(save_relative_paths=True)
    with v1.Session() as sess:
      sess.run(v1.global_variables_initializer())
      losses = []
      for x, y in batches:
        feed = dict(zip(tf.nest.flatten(features), tf.nest.flatten(x)))
        feed[labels] = y
        losses.append(float(sess.run([spec.train_op, spec.loss], feed)[1]))
      saver.save(sess, os.path.join(folder, "model.ckpt"),
                 global_step=global_step, write_meta_graph=False)
  return losses


def regenerate(force=False, data_dir=None, out_folder=None):
  batches = data.sample_batches("train", migration.GOLDEN_STEPS, data_dir)
  return staging_golden.write_golden(
      migration.MIGRATION, batches,
      out_folder or migration.MIGRATION.golden.folder, force=force,
      train=train_model_dir, manifest={
          "example": "estimator",
          "regenerate": "bazel run //examples/estimator:regenerate_golden "
                        "-- --force",
          "written_by": "the model_fn's TRAIN spec run by a tf.compat.v1 "
                        "Session as tf.estimator ran it, Saver into a "
                        "model_dir, examples/estimator/golden.py",
          "data": "sklearn_digits train, first %d batches of %d, file "
                  "order, through examples.estimator.data.input_fn" % (
                      migration.GOLDEN_STEPS, training.BATCH_SIZE),
          "optimizer": "the model_fn's GradientDescentOptimizer, learning "
                       "rate %g" % stage1_functional_v1.PARAMS[
                           "learning_rate"],
      })


def main(argv=None):
  parser = argparse.ArgumentParser(
      description="Regenerate the estimator example's golden model_dir.")
  parser.add_argument("--force", action="store_true",
                      help="replace the existing golden model_dir")
  args = parser.parse_args(argv)
  out_folder = None
  if os.environ.get("BUILD_WORKSPACE_DIRECTORY"):  # under `bazel run`
    out_folder = os.path.join(os.environ["BUILD_WORKSPACE_DIRECTORY"],
                              "examples", "estimator", "golden")
  try:
    manifest = regenerate(force=args.force, out_folder=out_folder)
  except staging.GoldenError as e:
    print("error: %s" % e, file=sys.stderr)
    return 2
  print("Wrote %s (loss %.4f -> %.4f over %d steps)." % (
      out_folder or migration.MIGRATION.golden.folder,
      manifest["loss_first_last"][0], manifest["loss_first_last"][1],
      manifest["steps"]))
  return 0


if __name__ == "__main__":
  sys.exit(main())
