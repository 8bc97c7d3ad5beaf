"""`BackupAndRestore` whose backups only the chief writes.

Keras 3's `keras.callbacks.BackupAndRestore` has no notion of workers: under
`MultiWorkerMirroredStrategy` every worker writes `latest.weights.h5` and
`training_metadata.json` into the same `backup_dir` (the files of one
worker overwriting another's, half-written while another reads), and every
worker deletes the folder at the end. This subclass keeps Keras's format
and resume logic (the weights, optimizer state included, and the epoch to
resume at), and:

* the chief (`strategy.extended.should_checkpoint`) writes into
  `backup_dir`; every other worker writes the same backup into a private
  temporary folder, deleted at once, so all workers read their variables in
  the same order (a read that needs the other workers happens on all of
  them) and none touches the chief's files;
* every worker restores from `backup_dir` (on real machines a folder all
  workers see: a shared file system or a bucket);
* only the chief deletes `backup_dir` at the end (`delete_checkpoint`).

Keras resumes at the start of the epoch after the last backup written at an
epoch's end (`save_freq="epoch"`); a backup written within an epoch
(`save_freq=N` batches) restores the weights but Keras restarts that epoch.
"""

import os
import shutil
import tempfile

import keras
import tensorflow as tf

# Keras's attributes naming the backup's files (keras/src/callbacks/
# backup_and_restore.py); the non-chief workers point them elsewhere.
_PATH_ATTRIBUTES = ("backup_dir", "_weights_path", "_training_metadata_path",
                    "_prev_weights_path", "_prev_training_metadata_path")


def is_chief(strategy=None):
  """Whether this process writes checkpoints for `strategy` (default: the
  current one): the chief, or worker 0 of a cluster without a chief, or the
  one process of a single-process strategy."""
  strategy = strategy or tf.distribute.get_strategy()
  return bool(strategy.extended.should_checkpoint)


class BackupAndRestore(keras.callbacks.BackupAndRestore):
  """`keras.callbacks.BackupAndRestore`, written by the chief only.

  Takes Keras's arguments. Example, on every worker of a
  MultiWorkerMirroredStrategy cluster:

      model.fit(dataset, epochs=..., callbacks=[
          tf1shim.distribute.BackupAndRestore("/shared/backup")])
  """

  def __init__(self, backup_dir, *args, **kwargs):
    super().__init__(backup_dir, *args, **kwargs)
    missing = [name for name in _PATH_ATTRIBUTES if not hasattr(self, name)]
    if not callable(getattr(keras.callbacks.BackupAndRestore, "_save_model",
                            None)):
      missing.append("_save_model")
    if missing:
      raise RuntimeError(
          "tf1shim.distribute.BackupAndRestore is written for Keras 3.15's "
          "BackupAndRestore; this Keras's lacks: %s." % ", ".join(missing))

  def _save_model(self):
    if is_chief(self.model.distribute_strategy):
      super()._save_model()
      return
    own_folder = tempfile.mkdtemp(prefix="tf1shim_backup_worker_")
    chief_paths = {name: getattr(self, name) for name in _PATH_ATTRIBUTES}
    try:
      for name, path in chief_paths.items():
        setattr(self, name, os.path.join(own_folder, os.path.basename(path))
                if name != "backup_dir" else own_folder)
      super()._save_model()
    finally:
      for name, path in chief_paths.items():
        setattr(self, name, path)
      shutil.rmtree(own_folder, ignore_errors=True)

  def on_train_end(self, logs=None):
    if is_chief(self.model.distribute_strategy):
      super().on_train_end(logs)
