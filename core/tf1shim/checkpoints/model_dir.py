"""Estimator model directories: the latest checkpoint and its global step.

An Estimator's `model_dir` holds `model.ckpt-N` checkpoints and a
`checkpoint` state file (a text protocol buffer) naming the latest,
`model_checkpoint_path: "model.ckpt-N"`, and those kept
(`all_model_checkpoint_paths`). `resolve(path)` takes a model_dir or a
checkpoint prefix and gives the prefix, as `tf.train.latest_checkpoint`
does for a directory, with the global step; unlike it, a problem is an
error that says what is wrong (TensorFlow returns None for an empty
directory, a damaged state file and missing checkpoint files alike).
"""

import dataclasses
import glob
import os
import re

import numpy as np

from tf1shim.checkpoints import reader as reader_lib

CheckpointError = reader_lib.CheckpointError
STATE_FILE = "checkpoint"
# The fields of TensorFlow's CheckpointState text format.
_STATE_LINE = re.compile(
    r'^(model_checkpoint_path|all_model_checkpoint_paths):'
    r'\s*"((?:[^"\\]|\\.)*)"$'
    r'|^(all_model_checkpoint_timestamps|last_preserved_timestamp):\s*'
    r'[-+0-9.eE]+$')
_STEP_SUFFIX = re.compile(r"-(\d+)$")


@dataclasses.dataclass(frozen=True)
class ResolvedCheckpoint:
  """A checkpoint prefix, its global step (None if it has none) and the
  model_dir it was found in (None for a prefix given as is)."""
  prefix: str
  global_step: object
  model_dir: object = None

  def describe(self):
    """One line: what a model_dir resolved to."""
    step = ("no global_step" if self.global_step is None else
            "global_step %d" % self.global_step)
    if self.model_dir is None:
      return "%s (%s)" % (self.prefix, step)
    return "model_dir %s: latest checkpoint %s (%s)" % (
        self.model_dir, self.prefix, step)


def is_model_dir(path):
  return os.path.isdir(os.fspath(path))


def _unescape(text):
  return re.sub(r"\\(.)", r"\1", text)


def read_state(model_dir):
  """(latest prefix, [kept prefixes]) from `model_dir`'s state file, paths
  as written (relative to model_dir or absolute)."""
  state_path = os.path.join(model_dir, STATE_FILE)
  if not os.path.exists(state_path):
    prefixes = sorted({p[:-len(".index")] for p in
                       glob.glob(os.path.join(glob.escape(model_dir),
                                              "*.index"))})
    raise CheckpointError(
        "%s has no `%s` state file, so it is not an Estimator model_dir with "
        "a saved checkpoint%s." % (
            model_dir, STATE_FILE,
            "; pass one of its checkpoint prefixes instead: " +
            ", ".join(prefixes) if prefixes else
            " (it holds no checkpoint at all: train first, or pass another "
            "directory)"))
  try:
    with open(state_path, encoding="utf-8") as f:
      lines = [line.strip() for line in f.read().splitlines()]
  except (OSError, UnicodeDecodeError) as e:
    raise CheckpointError("The state file %s cannot be read: %s." % (
        state_path, e)) from e
  latest, kept = None, []
  for number, line in enumerate(lines, start=1):
    if not line:
      continue
    match = _STATE_LINE.match(line)
    if not match:
      raise CheckpointError(
          "The state file %s is damaged (line %d: %r is not a "
          "CheckpointState field); fix it or pass a checkpoint prefix "
          "instead of the directory." % (state_path, number, line[:80]))
    if match.group(1) == "model_checkpoint_path":
      latest = _unescape(match.group(2))
    elif match.group(1) == "all_model_checkpoint_paths":
      kept.append(_unescape(match.group(2)))
  if not latest:
    raise CheckpointError(
        "The state file %s names no model_checkpoint_path; it is damaged. "
        "Pass a checkpoint prefix instead of the directory." % state_path)
  return latest, kept


def _locate(model_dir, written):
  """The prefix a state file's path means: relative to model_dir, or
  absolute; a model_dir copied elsewhere keeps absolute paths of its old
  place, so then the same name in model_dir is taken."""
  path = written if os.path.isabs(written) else os.path.join(model_dir,
                                                             written)
  if os.path.exists(path + ".index"):
    return path
  moved = os.path.join(model_dir, os.path.basename(written))
  if os.path.isabs(written) and os.path.exists(moved + ".index"):
    return moved
  raise CheckpointError(
      "The state file %s names the latest checkpoint %s, but %s.index does "
      "not exist: the checkpoint files were removed or not copied with the "
      "directory. Copy them, or pass another checkpoint prefix." % (
          os.path.join(model_dir, STATE_FILE), written, path))


def global_step_of(prefix):
  """The checkpoint's `global_step` entry, else the `-N` of its name, else
  None."""
  reader = reader_lib.CheckpointReader(prefix)
  if "global_step" in reader:
    return int(np.asarray(reader.read("global_step")).reshape(()))
  match = _STEP_SUFFIX.search(prefix)
  return int(match.group(1)) if match else None


def latest_checkpoint(model_dir):
  """The prefix of `model_dir`'s latest checkpoint (CheckpointError if
  there is none, the state file is damaged or its files are missing)."""
  latest, _ = read_state(model_dir)
  return reader_lib.resolve_prefix(_locate(model_dir, latest))


def resolve(path):
  """A `ResolvedCheckpoint` for a model_dir (its latest checkpoint) or a
  checkpoint prefix."""
  path = os.fspath(path)
  if is_model_dir(path):
    prefix = latest_checkpoint(path)
    return ResolvedCheckpoint(prefix, global_step_of(prefix), path)
  prefix = reader_lib.resolve_prefix(path)
  return ResolvedCheckpoint(prefix, global_step_of(prefix))
