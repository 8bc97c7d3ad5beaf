"""Reading TF1 name-based checkpoints (`tf.compat.v1.train.Saver`), safely.

A thin layer over `tf.train.load_checkpoint` that turns TensorFlow's errors
on bad paths and files into errors that say what is wrong and what to do, and
reads one tensor at a time (memory stays about the largest tensor).
"""

import dataclasses
import glob
import os

import numpy as np
import tensorflow as tf

# What TensorFlow's checkpoint reader raises on damaged files (a truncated
# data file gives IndexError "Read less bytes than requested").
_READ_ERRORS = (tf.errors.OpError, ValueError, IndexError, RuntimeError)

# Entries of a checkpoint that are not variables.
_BOOKKEEPING = ("_CHECKPOINTABLE_OBJECT_GRAPH",)


class CheckpointError(ValueError):
  """A checkpoint path or file that cannot be read; the message says why."""


@dataclasses.dataclass(frozen=True)
class Entry:
  name: str
  shape: tuple
  dtype: np.dtype

  @property
  def size(self):
    return int(np.prod(self.shape, dtype=np.int64))


def resolve_prefix(path):
  """The checkpoint prefix for `path`, or a CheckpointError saying why not.

  A prefix names the files `<prefix>.index` and `<prefix>.data-*-of-*`.
  """
  path = os.fspath(path)
  if os.path.isdir(path):
    prefixes = sorted({p[:-len(".index")]
                       for p in glob.glob(os.path.join(path, "*.index"))})
    raise CheckpointError(
        "%s is a directory, but a checkpoint prefix was expected (the path "
        "before '.index', e.g. %s). Checkpoints in this directory: %s." % (
            path, os.path.join(path, "model.ckpt-1000"),
            ", ".join(prefixes) if prefixes else "none"))
  if path.endswith(".index") or ".data-" in os.path.basename(path):
    raise CheckpointError(
        "%s is one of a checkpoint's files; pass its prefix instead: %s" % (
            path, path.split(".index")[0].split(".data-")[0]))
  if not os.path.exists(path + ".index"):
    parent = os.path.dirname(path) or "."
    raise CheckpointError(
        "No checkpoint at %s: the index file %s.index does not exist%s." % (
            path, path, "" if os.path.isdir(parent) else
            " (nor does the directory %s)" % parent))
  shards = glob.glob(glob.escape(path) + ".data-*-of-*")
  if not shards:
    raise CheckpointError(
        "Checkpoint %s has an index but no data file (%s.data-*-of-*): the "
        "checkpoint is incomplete." % (path, path))
  # The shard count is the index's (its header), as for TensorFlow: other
  # shard files beside it (left by an older checkpoint of the same prefix)
  # are not part of it.
  from tf1shim.checkpoints import bundle  # pylint: disable=g-import-not-at-top
  try:
    with bundle.Bundle(path) as b:
      expected = b.data_files
  except bundle.UnsupportedBundle:
    return path  # TensorFlow's reader reports missing shards itself
  missing = [f for f in expected if not os.path.isfile(f)]
  if missing:
    raise CheckpointError(
        "Checkpoint %s is missing data shard(s) %s of %d; copy the whole "
        "checkpoint again." % (path, ", ".join(
            os.path.basename(f) for f in missing), len(expected)))
  return path


class CheckpointReader:
  """Entries and tensors of a name-based checkpoint.

  Args:
    path: the checkpoint prefix.

  Raises:
    CheckpointError: for a missing, partial, truncated or corrupt checkpoint,
      or a directory or file name given instead of a prefix.
  """

  def __init__(self, path):
    self.prefix = resolve_prefix(path)
    try:
      self._reader = tf.train.load_checkpoint(self.prefix)
      shapes = self._reader.get_variable_to_shape_map()
      dtypes = self._reader.get_variable_to_dtype_map()
    except _READ_ERRORS as e:
      raise CheckpointError(
          "Checkpoint %s cannot be read; its index file is corrupt or "
          "truncated: %s" % (self.prefix, _first_line(e))) from e
    self.entries = {
        name: Entry(name, tuple(shapes[name]),
                    np.dtype(dtypes[name].as_numpy_dtype))
        for name in sorted(shapes) if name not in _BOOKKEEPING}
    self._row_parts = None  # read from the index when first asked

  def __contains__(self, name):
    return name in self.entries

  def row_parts(self, name):
    """The number of parts TF1 saved entry `name` in, when a partitioner
    split it along axis 0 (0 otherwise, or where TensorFlow's own reader
    reads the bundle)."""
    if self._row_parts is None:
      from tf1shim.checkpoints import bundle  # pylint: disable=g-import-not-at-top
      try:
        with bundle.Bundle(self.prefix) as b:
          self._row_parts = {n: e.row_parts for n, e in b.entries.items()}
      except bundle.UnsupportedBundle:
        self._row_parts = {}
    return self._row_parts.get(name, 0)

  def read(self, name):
    """The value of entry `name` (one tensor; nothing else is loaded)."""
    if name not in self.entries:
      raise KeyError("Checkpoint %s has no entry %r." % (self.prefix, name))
    try:
      value = self._reader.get_tensor(name)
    except _READ_ERRORS as e:
      raise CheckpointError(
          "Checkpoint %s: entry %r cannot be read; the data file is corrupt "
          "or truncated: %s" % (self.prefix, name, _first_line(e))) from e
    value = np.asarray(value)
    if value.shape != self.entries[name].shape:
      raise CheckpointError("Checkpoint %s: entry %r has shape %s, its "
                            "index says %s." % (self.prefix, name,
                                                value.shape,
                                                self.entries[name].shape))
    return value


def _first_line(error):
  message = getattr(error, "message", None) or str(error)
  return message.strip().splitlines()[0] if message.strip() else repr(error)
