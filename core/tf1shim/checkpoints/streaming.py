"""Writing tensors into h5py datasets chunk by chunk, each one verified.

A source is a tensor readable in order, chunk by chunk (`chunks.plan`):
`shape`, `dtype`, `read_into(chunk, buffer)` -> the chunk as an array (a
view: the writer passes no buffer, None), and
`finish()` -> the CRC32C of all its bytes (raising if the source is
damaged). `bundle.TensorReader` reads a checkpoint's data file;
`ArraySource` wraps a tensor already in memory.

`VerifiedWriter.write` copies a source into a new dataset. Each dataset is
then checked: after a flush, HDF5 must report the layout it was created
with (contiguous, unfiltered, the source's dtype and shape, all bytes
allocated), and the dataset's bytes, read back from the file, must have the
source's CRC32C. With that layout HDF5 stores exactly the array's bytes at
the dataset's offset, so they are what `load_weights` will read; reading
them through a memory map of the file (`chunks.mapped`) rather than
through h5py keeps the check out of h5py's lock, which serializes every
HDF5 call, so it runs while the next tensor is written (about a third
faster overall on two cores), and checksums the file's pages where they
are, without copying them into a buffer.

Memory is a few chunks, whatever the tensor's size: the chunks being
mapped (the source's and the check's; the page cache's pages, not copies)
and those in flight. Besides the caller's thread, which writes, a reader
thread maps and checksums the next chunk of the source and a checker
thread checks finished datasets; h5py releases the GIL while HDF5 writes.
Per byte converted: one checksum of the source, one copy (HDF5's write
into the new file), one checksum of the written bytes.
"""

import concurrent.futures
import os

import google_crc32c
import h5py
import numpy as np

from tf1shim.checkpoints import chunks as chunks_lib


class ArraySource:
  """A tensor in memory as a source: chunks are views, nothing is copied."""

  def __init__(self, value):
    # Not np.ascontiguousarray: it makes a scalar an array of shape (1,).
    self._value = np.asarray(value, order="C")
    self.shape, self.dtype = self._value.shape, self._value.dtype
    self._bytes = self._value.reshape(-1).view(np.uint8)
    self._crc = 0

  def read_into(self, chunk, unused_buffer):
    view = self._bytes[chunk.start:chunk.start + chunk.nbytes]
    self._crc = google_crc32c.extend(self._crc, view)
    return view.view(self.dtype).reshape(chunk.shape)

  def finish(self):
    return self._crc


class VerifiedWriter:
  """Streams sources into datasets; `wait()` gives the checks' failures.

  Use as a context manager (it owns two threads and a file descriptor).
  `write` raises what the source raises (a damaged checkpoint); `wait`
  returns one message per dataset that failed its check.
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

    The reads run one chunk ahead on the reader thread, in order (a source
    checksums its bytes as they come).
    """
    # h5py's default layout: contiguous, unfiltered (what `_check` needs).
    dataset = group.create_dataset(key, shape=source.shape,
                                   dtype=source.dtype)
    plan = chunks_lib.plan(source.shape, source.dtype.itemsize,
                           self._chunk_bytes)

    def read(i):
      # No buffer: both sources hand out views (mapped, or in memory).
      return self._reader.submit(source.read_into, plan[i], None)

    pending = read(0) if plan else None
    for i, chunk in enumerate(plan):
      array = pending.result()
      if i + 1 < len(plan):
        pending = read(i + 1)  # into the buffer written in the last round
      dataset.write_direct(array, dest_sel=chunk.selection)
    crc = source.finish()
    self._checks.append(self._checker.submit(
        self._check, dataset, plan, source.shape, source.dtype, crc, label))
    return dataset

  def _check(self, dataset, plan, shape, dtype, expected, label):
    """None if `dataset`, read back from the file, is the source's tensor;
    else what is wrong."""
    try:
      dataset.file.flush()
      layout = _layout(dataset)
      wanted = _layout_of(shape, dtype)
      if layout[:-1] != wanted:
        return "%s was stored as %s, not %s" % (dataset.name, layout[:-1],
                                                wanted)
      fd = self._fd(dataset.file.filename)
      crc = 0
      for chunk in plan:
        crc = google_crc32c.extend(crc, chunks_lib.mapped(
            fd, layout[-1] + chunk.start, chunk.nbytes))
    except Exception as e:  # pylint: disable=broad-except
      return "%s could not be read back: %s: %s" % (dataset.name,
                                                    type(e).__name__, e)
    if crc != expected:
      return "%s differs from %s (CRC32C %08x, source %08x)" % (
          dataset.name, label, crc, expected)
    return None

  def _fd(self, path):
    if path not in self._files:
      self._files[path] = os.open(path, os.O_RDONLY)
    return self._files[path]

  def wait(self):
    """The failed checks' messages, once every check has run."""
    failures = [f.result() for f in self._checks]
    self._checks = []
    return [f for f in failures if f]

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

