"""Golden TF1 checkpoints: written once by a TF1 graph, committed, verified.

Each example's `golden/` folder holds `model.ckpt` (index + data), written
by `tf.compat.v1.train.Saver` after the example's TF1 model function trained
in a TF1 graph on the digits, and `MANIFEST.json`: how it was made and the
SHA-256 of each file. The tests read the checkpoint and check it against the
manifest; they never write it. Regenerating is explicit:

    tools/dev golden dense --force     # or: bazel run //examples/curriculum:golden -- dense --force

(`--force` because an existing golden is the contract every stage must keep
loading: replacing it is a reviewed change of the checkpoint and of the
manifest together.)
"""

import argparse
import hashlib
import json
import os
import shutil
import sys
import tempfile

import numpy as np
import tensorflow as tf

from tf1shim import checkpoints
from examples.curriculum import example as example_lib
from examples.curriculum import training
from examples.data import pipeline

v1 = tf.compat.v1
STEPS = 60
CHECKPOINT = "model.ckpt"
FILES = (CHECKPOINT + ".index", CHECKPOINT + ".data-00000-of-00001")
MANIFEST = "MANIFEST.json"


class GoldenError(RuntimeError):
  """A golden checkpoint is missing or differs from its manifest."""


def folder(example):
  return os.path.join(example.folder, "golden")


def prefix(example):
  """The golden checkpoint's prefix, after checking it against its manifest."""
  verify(example)
  return os.path.join(folder(example), CHECKPOINT)


def _sha256(path):
  digest = hashlib.sha256()
  with open(path, "rb") as f:
    for block in iter(lambda: f.read(1 << 20), b""):
      digest.update(block)
  return digest.hexdigest()


def verify(example):
  """Raises GoldenError unless every golden file matches the manifest."""
  regenerate = ("Regenerate it on purpose with `tools/dev golden %s --force` "
                "and commit the checkpoint with its manifest." % example.name)
  manifest_path = os.path.join(folder(example), MANIFEST)
  if not os.path.exists(manifest_path):
    raise GoldenError("The golden checkpoint of %s has no manifest (%s). %s" %
                      (example.name, manifest_path, regenerate))
  with open(manifest_path) as f:
    manifest = json.load(f)
  for name in FILES:
    path = os.path.join(folder(example), name)
    if not os.path.exists(path):
      raise GoldenError("%s is missing. %s" % (path, regenerate))
    if _sha256(path) != manifest["sha256"].get(name):
      raise GoldenError("%s differs from its manifest %s: the golden "
                        "checkpoint changed without a regeneration. %s" % (
                            path, manifest_path, regenerate))
  return manifest


def train_in_tf1_graph(model_fn, batches, checkpoint_prefix):
  """Trains `model_fn` the TF1 way and saves it with `Saver`; returns the
  losses. One step per batch: UPDATE_OPS grouped with the train op, the
  regularization losses added to the data loss."""
  x0, y0 = batches[0]
  with tf.Graph().as_default():
    images = v1.placeholder(tf.float32, (None,) + x0.shape[1:])
    labels = v1.placeholder(tf.int32, (None,))
    logits = model_fn(images, training=True)
    loss = training.loss(labels, logits)
    regularization = v1.get_collection(v1.GraphKeys.REGULARIZATION_LOSSES)
    if regularization:
      loss += tf.add_n(regularization)
    global_step = v1.train.get_or_create_global_step()
    with tf.control_dependencies(v1.get_collection(v1.GraphKeys.UPDATE_OPS)):
      train_op = training.OPTIMIZER.tf1().minimize(loss, global_step)
    saver = v1.train.Saver()
    with v1.Session() as sess:
      sess.run(v1.global_variables_initializer())
      losses = [sess.run([train_op, loss], {images: x, labels: y})[1]
                for x, y in batches]
      saver.save(sess, checkpoint_prefix, write_meta_graph=False,
                 write_state=False)
  return [float(l) for l in losses]


def tf1_graph_logits(example, images, checkpoint_prefix):
  """The TF1 model function's inference logits, with the checkpoint restored
  by `Saver` in a TF1 graph: what every stage must reproduce."""
  with tf.Graph().as_default():
    logits = example.tf1_model_fn(tf.constant(images), training=False)
    saver = v1.train.Saver(v1.global_variables())
    with v1.Session() as sess:
      saver.restore(sess, checkpoint_prefix)
      return sess.run(logits)


def restore(example, stage, model, images):
  """Loads the golden checkpoint into a stage's `model` by TF1 name
  (strictly: every variable set, every entry used but the training state);
  `images` create the variables first. Returns the `RestoreReport`."""
  model(images, training=False)
  return checkpoints.restore_checkpoint(
      prefix(example), model, mapping=stage.tf1_names, strict=True,
      ignore=checkpoints.TRAINING_STATE)


def regenerate(example, force=False, data_dir=None, out_folder=None):
  """Writes the golden checkpoint and its manifest (atomically: written in a
  temporary folder, then moved into place)."""
  out_folder = out_folder or folder(example)
  existing = [n for n in FILES + (MANIFEST,)
              if os.path.exists(os.path.join(out_folder, n))]
  if existing and not force:
    raise GoldenError("%s already has a golden checkpoint (%s). Every stage "
                      "is tested against it; pass --force to replace it." %
                      (out_folder, ", ".join(existing)))
  os.makedirs(out_folder, exist_ok=True)
  batches = pipeline.numpy_batches("train", STEPS, training.BATCH_SIZE,
                                   data_dir=data_dir)
  staging = tempfile.mkdtemp(prefix=".golden-", dir=out_folder)
  try:
    losses = train_in_tf1_graph(example.tf1_model_fn, batches,
                                os.path.join(staging, CHECKPOINT))
    manifest = {
        "example": example.name,
        "regenerate": "tools/dev golden %s --force" % example.name,
        "written_by": "tf.compat.v1.train.Saver in a TF1 graph, "
                      "examples/curriculum/golden.py",
        "tensorflow": tf.__version__,
        "data": "sklearn_digits train, first %d batches of %d, file order" % (
            STEPS, training.BATCH_SIZE),
        "optimizer": "GradientDescent, learning rate %g" %
                     training.LEARNING_RATE,
        "steps": STEPS,
        "loss_first_last": [losses[0], losses[-1]],
        "sha256": {n: _sha256(os.path.join(staging, n)) for n in FILES},
    }
    with open(os.path.join(staging, MANIFEST), "w") as f:
      json.dump(manifest, f, indent=2, sort_keys=True)
      f.write("\n")
    for name in FILES + (MANIFEST,):
      os.replace(os.path.join(staging, name), os.path.join(out_folder, name))
  finally:
    shutil.rmtree(staging, ignore_errors=True)
  return manifest


def main(argv=None):
  parser = argparse.ArgumentParser(
      description="Regenerate an example's golden TF1 checkpoint.",
      epilog="Example: tools/dev golden dense --force")
  parser.add_argument("example", choices=example_lib.EXAMPLES)
  parser.add_argument("--force", action="store_true",
                      help="replace the existing golden checkpoint")
  args = parser.parse_args(argv)
  example = example_lib.load(args.example)
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
