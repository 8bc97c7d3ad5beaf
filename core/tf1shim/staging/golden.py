"""Golden TF1 checkpoints: written once by a TF1 graph, verified, restored.

A golden folder holds `model.ckpt` (index + data), written by
`tf.compat.v1.train.Saver` after the TF1 model function trained in a TF1
graph, and `MANIFEST.json`: how it was made and the SHA-256 of each file.
Tests read the checkpoint and check it against the manifest; they never
write it. Writing is explicit (`write_golden`) and refuses to replace an
existing golden unless forced: it is the contract every stage must keep.
"""

import atexit
import dataclasses
import hashlib
import json
import os
import shutil
import tempfile

import tensorflow as tf

from tf1shim import checkpoints

v1 = tf.compat.v1
CHECKPOINT = "model.ckpt"
FILES = (CHECKPOINT + ".index", CHECKPOINT + ".data-00000-of-00001")
MANIFEST = "MANIFEST.json"


class GoldenError(RuntimeError):
  """A golden checkpoint is missing or differs from its manifest."""


def _sha256(path):
  digest = hashlib.sha256()
  with open(path, "rb") as f:
    for block in iter(lambda: f.read(1 << 20), b""):
      digest.update(block)
  return digest.hexdigest()


@dataclasses.dataclass(frozen=True)
class GoldenCheckpoint:
  """A golden folder; `regenerate` says how to rewrite it on purpose (it
  ends every error message). `checkpoint` is the prefix's name in the
  folder and `extra_files` other files the manifest covers: an Estimator
  model_dir is `model.ckpt-N` and its `checkpoint` state file."""
  folder: str
  regenerate: str = "Regenerate it on purpose and commit the checkpoint " \
                    "with its manifest."
  checkpoint: str = CHECKPOINT
  extra_files: tuple = ()

  @property
  def files(self):
    """The files the manifest covers."""
    return (self.checkpoint + ".index",
            self.checkpoint + ".data-00000-of-00001") + tuple(self.extra_files)

  def verify(self):
    """The manifest; raises GoldenError unless every file matches it."""
    manifest_path = os.path.join(self.folder, MANIFEST)
    if not os.path.exists(manifest_path):
      raise GoldenError("The golden checkpoint in %s has no manifest (%s). %s"
                        % (self.folder, manifest_path, self.regenerate))
    with open(manifest_path) as f:
      manifest = json.load(f)
    for name in self.files:
      path = os.path.join(self.folder, name)
      if not os.path.exists(path):
        raise GoldenError("%s is missing. %s" % (path, self.regenerate))
      if _sha256(path) != manifest["sha256"].get(name):
        raise GoldenError("%s differs from its manifest %s: the golden "
                          "checkpoint changed without a regeneration. %s" % (
                              path, manifest_path, self.regenerate))
    return manifest

  def prefix(self):
    """The checkpoint's prefix, after checking it against its manifest."""
    self.verify()
    return os.path.join(self.folder, self.checkpoint)


def placeholders_like(inputs):
  """TF1 placeholders of `inputs`' structure, dtypes and shapes (any batch
  size)."""
  return tf.nest.map_structure(
      lambda x: v1.placeholder(tf.as_dtype(x.dtype), (None,) + x.shape[1:]),
      inputs)


def _feed(placeholders, inputs):
  return dict(zip(tf.nest.flatten(placeholders), tf.nest.flatten(inputs)))


def train_in_tf1_graph(migration, batches, checkpoint_prefix):
  """Trains the TF1 model function the TF1 way and saves it with `Saver`;
  returns the losses. One step per batch: UPDATE_OPS grouped with the train
  op, the regularization losses added to the data loss."""
  x0, y0 = batches[0]
  with tf.Graph().as_default():
    inputs = placeholders_like(x0)
    labels = v1.placeholder(tf.as_dtype(y0.dtype), (None,) + y0.shape[1:])
    outputs = migration.tf1_model_fn(inputs, training=True)
    loss = migration.loss(labels, outputs)
    regularization = v1.get_collection(v1.GraphKeys.REGULARIZATION_LOSSES)
    if regularization:
      loss += tf.add_n(regularization)
    global_step = v1.train.get_or_create_global_step()
    with tf.control_dependencies(v1.get_collection(v1.GraphKeys.UPDATE_OPS)):
      train_op = migration.optimizer.tf1().minimize(loss, global_step)
    saver = v1.train.Saver()
    with v1.Session() as sess:
      sess.run(v1.global_variables_initializer())
      losses = []
      for x, y in batches:
        feed = _feed(inputs, x)
        feed[labels] = y
        losses.append(sess.run([train_op, loss], feed)[1])
      saver.save(sess, checkpoint_prefix, write_meta_graph=False,
                 write_state=False)
  return [float(l) for l in losses]


def tf1_graph_outputs(migration, inputs, checkpoint_prefix):
  """The TF1 model function's inference outputs with the checkpoint restored
  by `Saver` in a TF1 graph: what every stage must reproduce."""
  with tf.Graph().as_default():
    outputs = migration.tf1_model_fn(
        tf.nest.map_structure(tf.constant, inputs), training=False)
    saver = v1.train.Saver(v1.global_variables())
    with v1.Session() as sess:
      saver.restore(sess, checkpoint_prefix)
      return sess.run(outputs)


def restore(migration, stage, model, inputs, checkpoint_prefix=None):
  """Loads the golden checkpoint into a stage's `model` by TF1 name
  (strictly: every variable set, every entry used but the training state);
  `inputs` create the variables first. Returns the `RestoreReport`."""
  model(inputs, training=False)
  return checkpoints.restore_checkpoint(
      checkpoint_prefix or migration.golden.prefix(), model,
      mapping=stage.tf1_names, strict=True, ignore=checkpoints.TRAINING_STATE)


def _train_into(migration, batches, folder):
  return train_in_tf1_graph(migration, batches,
                            os.path.join(folder, CHECKPOINT))


def write_golden(migration, batches, out_folder, force=False, manifest=None,
                 train=None):
  """Trains the TF1 model on `batches` in a TF1 graph and writes the golden
  checkpoint and its manifest (`manifest`: extra entries) into
  `out_folder`, atomically (written in a temporary folder, then moved).
  `train(migration, batches, folder) -> losses` writes the files of
  `migration.golden` into `folder` (default: `train_in_tf1_graph` into
  `model.ckpt`). Returns the manifest."""
  files = migration.golden.files if migration.golden is not None else FILES
  train = train or _train_into
  existing = [n for n in files + (MANIFEST,)
              if os.path.exists(os.path.join(out_folder, n))]
  if existing and not force:
    raise GoldenError("%s already has a golden checkpoint (%s). Every stage "
                      "is tested against it; pass --force to replace it." %
                      (out_folder, ", ".join(existing)))
  os.makedirs(out_folder, exist_ok=True)
  staging = tempfile.mkdtemp(prefix=".golden-", dir=out_folder)
  try:
    losses = train(migration, batches, staging)
    written = dict(manifest or {})
    written.update({
        "tensorflow": tf.__version__,
        "steps": len(batches),
        "loss_first_last": [losses[0], losses[-1]],
        "sha256": {n: _sha256(os.path.join(staging, n)) for n in files},
    })
    with open(os.path.join(staging, MANIFEST), "w") as f:
      json.dump(written, f, indent=2, sort_keys=True)
      f.write("\n")
    for name in files + (MANIFEST,):
      os.replace(os.path.join(staging, name), os.path.join(out_folder, name))
  finally:
    shutil.rmtree(staging, ignore_errors=True)
  return written


class CheckpointWrittenAtTestTime:
  """A reference TF1 checkpoint written by TF1 code when a test first asks
  for it, into a temporary folder removed when the process exits: for
  models whose checkpoint would be too large to commit (a slim network's
  hundreds of MiB), written in the test as the golden one would have been.

  `write(prefix)` writes a TF1 `Saver` checkpoint at `prefix` (typically
  the TF1 model trained a few steps in a TF1 graph). The golden-checkpoint
  tests take it as `Migration.golden`; there is no manifest to check.
  """

  def __init__(self, write):
    self._write = write
    self._prefix = None

  def prefix(self):
    """The checkpoint's prefix, written on the first call."""
    if self._prefix is None:
      folder = tempfile.mkdtemp(prefix="tf1shim-checkpoint-")
      atexit.register(shutil.rmtree, folder, ignore_errors=True)
      prefix = os.path.join(folder, CHECKPOINT)
      self._write(prefix)
      self._prefix = prefix
    return self._prefix
