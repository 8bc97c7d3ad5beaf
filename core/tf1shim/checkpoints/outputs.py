"""Writing a conversion's output without ever losing data.

Three jobs, for every writer of `convert.py`:

* `check`: before anything is written, refuse an output that is (part of)
  an input -- compared by real path and by device and inode, so a symlinked
  folder or a hard link is caught -- an output that already exists (unless
  `force`), and an output folder that is missing, not a folder, or not
  writable. Errors are `OutputError`s naming the path and what to do.
* `Staging`: a hidden folder inside the output folder where the output is
  written and verified. It is removed whatever happens in this process,
  including SIGTERM/SIGINT (the CLI turns them into an exception). A run
  killed with SIGKILL cannot clean up, so each staging folder holds a lock
  file that its run keeps `flock`ed; every new staging in the same folder
  first removes the staging folders whose lock nobody holds (their run is
  dead: the kernel drops a dead process's locks, so pid reuse cannot fool
  this), and never one whose lock is held (a live concurrent run).
* `commit`: moves the staged files into place, all on one filesystem.

What is atomic: a `.weights.h5` output is one `rename`, atomic. A
checkpoint prefix is several files (`.index` and N data shards), and
renaming several files is not atomic as a whole. The index is renamed
last: it is the commit point, since readers (TensorFlow's and ours) start
from it. When `force` replaces an existing checkpoint whose shard names
the new one reuses, the old index is removed first, so a reader sees the
old checkpoint, then no checkpoint (no index), then the new one -- never
an old index over new data. When no shard name is reused (another shard
count), the old checkpoint stays whole until the index rename replaces it
at once. Old shards the new checkpoint does not have are removed after
the commit. A reader that opened the old index before the commit and
opens a shard after it can still see a mix; POSIX renames cannot prevent
that. Without `force`, files are placed with `link`, which fails if the
name exists, so a concurrent run that created the same output meanwhile
is detected and nothing of it is replaced. Staged files and the folder
are fsync'ed, so after a power loss the output is the old or the new.
SIGTERM/SIGINT during the commit are deferred until it is done
(`interrupt.deferred`); a SIGKILL in the middle leaves the output
incomplete (no index, or an index with some old shards), never a
different checkpoint that reads as valid.
"""

import contextlib
import errno
import fcntl
import glob
import os
import secrets
import shutil

from tf1shim.checkpoints import interrupt

STAGING_PREFIX = ".tf1shim-staging-"
_LOCK = "lock"


class OutputError(ValueError):
  """The output path cannot be written; the message says why and what to do.
  """


def checkpoint_files(prefix):
  """The existing files of the checkpoint at `prefix`: index and shards."""
  return sorted(
      p for p in [prefix + ".index"] +
      glob.glob(glob.escape(prefix) + ".data-?????-of-?????")
      if os.path.lexists(p))


def _identity(path):
  """(device, inode) of the file at `path` (following links), or None."""
  try:
    st = os.stat(path)
  except OSError:
    return None
  return (st.st_dev, st.st_ino)


class Inputs:
  """The files a run reads, by real path and by (device, inode)."""

  def __init__(self, paths):
    paths = [os.fspath(p) for p in paths if p]
    self.real = {os.path.realpath(p): p for p in paths}
    self.ids = {}
    for p in paths:
      ident = _identity(p)
      if ident is not None:
        self.ids[ident] = p

  def which(self, path):
    """The input that `path` is (or would be, once written), or None."""
    ident = _identity(path)
    if ident is not None and ident in self.ids:
      return self.ids[ident]
    return self.real.get(os.path.realpath(path))


def output_folder(out_path):
  """The folder `out_path` is written in; OutputError if it cannot be."""
  folder = os.path.dirname(os.path.abspath(out_path))
  if not os.path.exists(folder):
    raise OutputError("The output folder %s does not exist; create it "
                      "first, or choose another output path." % folder)
  if not os.path.isdir(folder):
    raise OutputError("The output path %s is under %s, which is not a "
                      "folder; choose another output path." % (out_path,
                                                               folder))
  return folder


def check(out_path, kind, inputs, force=False):
  """Refuses an output that would lose data; returns its folder.

  Args:
    out_path: a `.weights.h5` file (`kind` "file") or a checkpoint prefix
      (`kind` "prefix": `out_path.index` and `out_path.data-*`).
    inputs: an `Inputs`.
    force: replace an existing output (never an input, never a folder).

  Raises:
    OutputError: saying what is wrong with the path and what to do.
  """
  out_path = os.fspath(out_path)
  folder = output_folder(out_path)
  if os.path.isdir(out_path):
    raise OutputError(
        "The output path %s is a folder; give a %s inside it, e.g. %s." % (
            out_path, "file name" if kind == "file" else "checkpoint prefix",
            os.path.join(out_path, "model.weights.h5" if kind == "file"
                         else "model.ckpt")))
  if kind == "file":
    targets = [out_path]
    existing = [out_path] if os.path.lexists(out_path) else []
  else:
    # The new files' names are not known yet: any shard name could be
    # written, so an input shard of this prefix is refused too.
    targets = [out_path + ".index"] + checkpoint_files(out_path)
    existing = checkpoint_files(out_path)
  for target in targets:
    source = inputs.which(target)
    if source is not None:
      raise OutputError(
          "Refusing to write %s: it is the input %s (same file%s); choose "
          "another output path." % (
              target, source, "" if os.path.abspath(target) ==
              os.path.abspath(source) else ", through a link"))
  for path in existing:
    if os.path.isdir(path):
      raise OutputError("The output %s exists and is a folder; remove it or "
                        "choose another output path." % path)
  if existing and not force:
    raise OutputError(
        "The output %s exists (%s); pass --force to replace it, or choose "
        "another output path." % (out_path, ", ".join(
            os.path.basename(p) for p in existing)))
  # Whether the folder is writable is found by writing (`Staging`): the
  # error then says why (read-only file system, permission denied).
  return folder


def write_error(path, error):
  """An OutputError for an OSError (or TensorFlow error) while writing."""
  code = getattr(error, "errno", None)
  message = (os.strerror(code) if isinstance(code, int) else
             (getattr(error, "message", None) or str(error)).strip())
  message = message.splitlines()[0] if message else type(error).__name__
  advice = ("free some space or choose another folder"
            if code == errno.ENOSPC or "No space left" in message or
            "ENOSPC" in message else
            "choose a writable folder" if code in (errno.EROFS, errno.EACCES,
                                                   errno.EPERM) or
            "Read-only" in message else "check the output folder")
  return OutputError("Cannot write %s: %s; %s (nothing was written)." % (
      path, message, advice))


def _lock_is_free(lock_path):
  """Locks `lock_path` if nobody holds it; returns the fd, or None."""
  try:
    fd = os.open(lock_path, os.O_RDONLY | os.O_NOFOLLOW)
  except OSError:
    return None
  try:
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
  except OSError:
    os.close(fd)
    return None
  return fd


def _pid_alive(pid):
  try:
    os.kill(pid, 0)
  except ProcessLookupError:
    return False
  except OSError:
    return True  # exists, another user's
  return True


def remove_stale(folder):
  """Removes the staging folders of dead runs in `folder`; their names."""
  removed = []
  try:
    names = os.listdir(folder)
  except OSError:
    return removed
  for name in names:
    if not name.startswith(STAGING_PREFIX):
      continue
    path = os.path.join(folder, name)
    if os.path.islink(path) or not os.path.isdir(path):
      continue
    fd = _lock_is_free(os.path.join(path, _LOCK))
    if fd is None:
      if os.path.lexists(os.path.join(path, _LOCK)):
        continue  # held: a live run
      # No lock file: its run died between creating the folder and the
      # lock, or is just between the two; the pid in the name tells.
      try:
        pid = int(name[len(STAGING_PREFIX):].split("-")[0])
      except ValueError:
        continue
      if _pid_alive(pid):
        continue
    try:
      shutil.rmtree(path, ignore_errors=True)
      if not os.path.lexists(path):
        removed.append(name)
    finally:
      if fd is not None:
        os.close(fd)
  return removed


class Staging:
  """A staging folder in `folder`, locked while this run lives.

  Use as a context manager; `path` is the folder. Removed on exit, whatever
  happens (SIGTERM/SIGINT included, as the exception the CLI raises).
  """

  def __init__(self, folder):
    self.folder = folder
    self.removed_stale = remove_stale(folder)
    name = "%s%d-%s" % (STAGING_PREFIX, os.getpid(), secrets.token_hex(4))
    self.path = os.path.join(folder, name)
    try:
      os.mkdir(self.path, 0o700)
    except OSError as e:
      raise write_error(folder, e) from e
    try:
      # Locked before it gets its name: a `lock` file is always held by
      # its creator while it lives, so `remove_stale` cannot take a new
      # run's lock in the instant between creating and locking it.
      unnamed = os.path.join(self.path, _LOCK + ".new")
      self._lock = os.open(unnamed, os.O_CREAT | os.O_EXCL | os.O_WRONLY |
                           os.O_CLOEXEC, 0o600)
      fcntl.flock(self._lock, fcntl.LOCK_EX)
      os.rename(unnamed, os.path.join(self.path, _LOCK))
    except BaseException as e:
      shutil.rmtree(self.path, ignore_errors=True)
      if isinstance(e, OSError):
        raise write_error(folder, e) from e
      raise

  def close(self):
    if self.path is None:
      return
    # Interrupts wait: a half-removed folder would be left otherwise (the
    # next run would remove it, but only in this folder).
    with interrupt.deferred():
      shutil.rmtree(self.path, ignore_errors=True)
      os.close(self._lock)
      self.path = None

  def __enter__(self):
    return self

  def __exit__(self, *unused_exc_info):
    self.close()


def _fsync(path, directory=False):
  fd = os.open(path, os.O_RDONLY | (os.O_DIRECTORY if directory else 0))
  try:
    os.fsync(fd)
  finally:
    os.close(fd)


def _place(staged, target, force, inputs, placed):
  """Moves `staged` to `target`: replacing it if `force`, else only if the
  name is free (`link` fails if it exists)."""
  source = inputs.which(target)
  if source is not None:
    raise OutputError("Refusing to replace %s: it is the input %s." % (
        target, source))
  if force:
    os.replace(staged, target)
  else:
    try:
      os.link(staged, target)
    except FileExistsError as e:
      raise OutputError(
          "The output %s appeared while this run was writing it (another "
          "run?); nothing of it was replaced. Pass --force to replace it."
          % target) from e
    except OSError as e:
      if e.errno not in (errno.EPERM, errno.EOPNOTSUPP, errno.EMLINK):
        raise
      # A filesystem without hard links: check, then rename.
      if os.path.lexists(target):
        raise OutputError("The output %s appeared while this run was "
                          "writing it; pass --force to replace it." %
                          target) from e
      os.rename(staged, target)
    else:
      os.unlink(staged)
  placed.append((target, _identity(target)))


def _undo(placed):
  """Removes the files this commit placed (and only them)."""
  for target, ident in placed:
    if ident is not None and _identity(target) == ident:
      os.unlink(target)


def commit_file(staged, out_path, inputs, force=False):
  """Moves one staged file into place (one rename: atomic)."""
  try:
    with interrupt.deferred():
      _fsync(staged)
      _place(staged, out_path, force, inputs, [])
      _fsync(os.path.dirname(os.path.abspath(out_path)), directory=True)
  except OSError as e:
    raise write_error(out_path, e) from e


def commit_prefix(staged_prefix, out_prefix, inputs, force=False,
                  trash=None):
  """Moves a staged checkpoint (index + shards) into place; see above.

  `trash` is a folder (the staging folder) for the old index, removed with
  it. Returns the paths of the old shards that were removed.
  """
  new = {path[len(staged_prefix):]: path
         for path in checkpoint_files(staged_prefix)}
  if ".index" not in new:
    raise ValueError("No staged checkpoint at %s." % staged_prefix)
  shards = sorted(s for s in new if s != ".index")
  old = checkpoint_files(out_prefix)
  if old and not force:
    raise OutputError("The output %s exists; pass --force to replace it, or "
                      "choose another output path." % out_prefix)
  placed = []
  try:
    with interrupt.deferred():
      for path in new.values():
        _fsync(path)
      if (force and os.path.lexists(out_prefix + ".index") and
          any(os.path.lexists(out_prefix + s) for s in shards)):
        # The new checkpoint reuses an old shard name: the old index goes
        # first, or a reader could pair it with a new shard.
        os.replace(out_prefix + ".index",
                   os.path.join(trash, "replaced.index"))
      for suffix in shards:
        _place(new[suffix], out_prefix + suffix, force, inputs, placed)
      _place(new[".index"], out_prefix + ".index", force, inputs, placed)
      stale = [p for p in checkpoint_files(out_prefix)
               if p[len(out_prefix):] not in new]
      for path in stale:
        os.unlink(path)
      _fsync(os.path.dirname(os.path.abspath(out_prefix)), directory=True)
  except OutputError:
    _undo(placed)
    raise
  except OSError as e:
    if not force:
      _undo(placed)
    raise write_error(out_prefix, e) from e
  return stale


@contextlib.contextmanager
def writing(path):
  """Turns OSErrors (disk full, read-only folder) into OutputErrors."""
  try:
    yield
  except OutputError:
    raise
  except OSError as e:
    raise write_error(path, e) from e
