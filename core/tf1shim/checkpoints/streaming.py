"""Writing tensors into h5py datasets chunk by chunk, each one verified.

A source is a tensor readable chunk by chunk (`chunks.plan`), in order:
`shape`, `dtype`; `chunk(c)` -> chunk `c` as an array (a view: a memory
map of a checkpoint's data file, or a slice of a tensor in memory);
`expected_crc32c()` -> once every chunk was taken, the CRC32C the tensor's
bytes must have; `verify` -> None, or a function that raises if the
source's own bytes are damaged. `bundle.TensorReader` reads a
checkpoint's data file (expected: the index's CRC32C; `verify` checksums
the data file); `ArraySource` wraps a tensor already in memory (expected:
the CRC32C of its bytes; nothing to verify: TensorFlow's reader checked
them, or they were computed).

`VerifiedWriter.write` copies a source into a new dataset. Each dataset is
then checked: after a flush, HDF5 must report the layout it was created
with (contiguous, unfiltered, the source's dtype and shape, all bytes
allocated), and the dataset's bytes, read back from the file, must have
the expected CRC32C. With that layout HDF5 stores exactly the array's
bytes at the dataset's offset, so they are what `load_weights` will read.

One checksum per byte, of the written copy, checks both sides: for a
checkpoint's tensor the expected CRC32C is the index's, so written bytes
that match it are the bytes TensorFlow wrote, whether a difference would
have come from the data file or from the write. Only on a mismatch is the
source checksummed (`verify`), to say which: a damaged checkpoint raises
its own error (bad input), otherwise the write failed.

The GIL decides the speed. HDF5's write releases it, so the writing
thread and the checker run at once on two cores, unless the checker holds
the GIL: a thread that comes back from a GIL-free call waits for it, up to
the interpreter's switch interval (5 ms) each time, against the 4 ms an
8 MiB chunk takes to write. `google_crc32c` holds the GIL for anything but
`bytes`; checksumming memory-mapped chunks while HDF5 writes made the
writing thread 2.4x slower (`chunks.mapped` + the extension on a second
thread: 1.33 s per GiB written, against 0.55 s alone), reading them into
`bytes` first (`os.pread`, which also releases it) 1.4x, on the project's
shared 2-core machine. So the checker reads the written bytes with
`os.pread` (one more copy per byte, off the writing thread), and the
source's bytes are not checksummed as they are read: the written copy's
checksum covers them, and a second checksum of each byte would cost that
much CPU time again. The check reads the file itself rather than through
h5py, which keeps it out of h5py's lock (every HDF5 call takes it in
turn), so it runs while the next tensor is written.

Memory is a few chunks, whatever the tensor's size: the source's chunks
being mapped (the page cache's pages, not copies), the one in flight, and
the checker's buffer. Besides the caller's thread, which writes, a reader
thread maps the next chunk of the source and a checker thread checks
finished datasets. Per byte converted: HDF5's copy into the new file, on
the writing thread; the checker's copy out of it and one checksum, with
the GIL released.
"""

import concurrent.futures
import os

import google_crc32c
import h5py
import numpy as np

from tf1shim.checkpoints import chunks as chunks_lib

# The checker reads and checksums the written bytes this much at a time (a
# buffer of this size is its memory; the extension releases the GIL only
# for `bytes` of 1 MiB or more).
CHECK_BYTES = chunks_lib.DEFAULT_BYTES


class ArraySource:
  """A tensor in memory as a source: chunks are views, nothing is copied."""

  # Its bytes were read by TensorFlow's CRC-checking reader, or computed:
  # there is nothing in a file to check again.
  verify = None

  def __init__(self, value):
    # Not np.ascontiguousarray: it makes a scalar an array of shape (1,).
    self._value = np.asarray(value, order="C")
    self.shape, self.dtype = self._value.shape, self._value.dtype
    self._bytes = self._value.reshape(-1).view(np.uint8)
    self._crc = 0

  def chunk(self, chunk):
    view = self._bytes[chunk.start:chunk.start + chunk.nbytes]
    self._crc = google_crc32c.extend(self._crc, view)
    return view.view(self.dtype).reshape(chunk.shape)

  def expected_crc32c(self):
    return self._crc


class VerifiedWriter:
  """Streams sources into datasets; `wait()` gives the checks' failures.

  Use as a context manager (it owns two threads and a file descriptor).
  `write` raises what the source raises while it is read (a truncated data
  file), or a damaged source an earlier check found; `wait` raises a
  damaged source's error, else returns one message per dataset that failed
  its check.
  """

  def __init__(self, chunk_bytes=None):
    self._chunk_bytes = chunk_bytes  # None: chunks.DEFAULT_BYTES
    self._reader = concurrent.futures.ThreadPoolExecutor(
        1, thread_name_prefix="tf1shim-read")
    self._checker = concurrent.futures.ThreadPoolExecutor(
        1, thread_name_prefix="tf1shim-check")
    self._checks = []
    self._files = {}  # path of an h5 file being written -> fd to read it

  def write(self, group, key, source, label):
    """Dataset `key` in h5py `group` <- `source`; checked later as `label`.

    The source's chunks are mapped one ahead on the reader thread, in order.
    """
    self._raise_damaged_source()
    # h5py's default layout: contiguous, unfiltered (what `_check` needs).
    dataset = group.create_dataset(key, shape=source.shape,
                                   dtype=source.dtype)
    plan = chunks_lib.plan(source.shape, source.dtype.itemsize,
                           self._chunk_bytes)
    pending = self._reader.submit(source.chunk, plan[0]) if plan else None
    for i, chunk in enumerate(plan):
      array = pending.result()
      if i + 1 < len(plan):
        pending = self._reader.submit(source.chunk, plan[i + 1])
      dataset.write_direct(array, dest_sel=chunk.selection)
      del array  # unmapped now, not when the next one is
    self._checks.append(self._checker.submit(
        self._check, dataset, source.shape, source.dtype,
        source.expected_crc32c(), source.verify, label))
    return dataset

  def _check(self, dataset, shape, dtype, expected, verify, label):
    """None if `dataset`, read back from the file, has the CRC32C
    `expected`; else what is wrong. Raises `verify`'s error if the source
    itself is damaged."""
    try:
      dataset.file.flush()
      layout = _layout(dataset)
      wanted = _layout_of(shape, dtype)
      if layout[:-1] != wanted:
        return "%s was stored as %s, not %s" % (dataset.name, layout[:-1],
                                                wanted)
      crc = _file_crc32c(self._fd(dataset.file.filename), layout[-1],
                         wanted[-1])
    except Exception as e:  # pylint: disable=broad-except
      return "%s could not be read back: %s: %s" % (dataset.name,
                                                    type(e).__name__, e)
    if crc == expected:
      return None
    if verify is not None:
      verify()  # a damaged checkpoint is the error, not the write
    return "%s differs from %s (CRC32C %08x, expected %08x)" % (
        dataset.name, label, crc, expected)

  def _fd(self, path):
    if path not in self._files:
      self._files[path] = os.open(path, os.O_RDONLY)
    return self._files[path]

  def _raise_damaged_source(self):
    """Stops at the first finished check that found a damaged source."""
    for check in self._checks:
      if check.done() and check.exception() is not None:
        self._checks.remove(check)
        raise check.exception()

  def wait(self):
    """The failed checks' messages, once every check has run; a damaged
    source's error is raised instead (bad input first)."""
    checks, self._checks = self._checks, []
    concurrent.futures.wait(checks)
    for check in checks:
      if check.exception() is not None:
        raise check.exception()
    return [check.result() for check in checks if check.result()]

  def close(self):
    self._reader.shutdown()
    self._checker.shutdown()
    for fd in self._files.values():
      os.close(fd)
    self._files.clear()

  def __enter__(self):
    return self

  def __exit__(self, *unused_exc_info):
    self.close()


def _file_crc32c(fd, offset, nbytes):
  """CRC32C of bytes `offset` to `offset + nbytes` of file `fd`, read
  `CHECK_BYTES` at a time into `bytes`, for which both `os.pread` and the
  extension release the GIL. EOFError if the file is shorter."""
  crc, done = 0, 0
  while done < nbytes:
    data = os.pread(fd, min(CHECK_BYTES, nbytes - done), offset + done)
    if not data:
      raise EOFError("the file ends at byte %d, %d bytes short" % (
          offset + done, nbytes - done))
    crc = google_crc32c.extend(crc, data)
    done += len(data)
  return crc


def _layout(dataset):
  """(dtype, shape, layout, filters, bytes allocated, offset) per HDF5."""
  plist = dataset.id.get_create_plist()
  return (np.dtype(dataset.dtype).str, tuple(dataset.shape),
          plist.get_layout(), plist.get_nfilters(),
          dataset.id.get_storage_size(), dataset.id.get_offset())


def _layout_of(shape, dtype):
  """`_layout` (but the offset) of a fully written dataset as `write`
  creates it."""
  nbytes = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
  return (dtype.str, tuple(shape), h5py.h5d.CONTIGUOUS, 0, nbytes)

