"""Splitting a C-order tensor into row-aligned chunks of bounded size, and
reading a chunk's bytes from a file (copied, or mapped).

Large tensors are copied (checkpoint -> `.weights.h5`) and checksummed
one chunk at a time, so memory stays a few chunks, not a tensor. Each chunk
is both a contiguous byte range of the tensor's C-order bytes (how a
checkpoint's data file stores it) and a box of the tensor (how an h5py
dataset is written), so the same plan serves both sides.
"""

import dataclasses
import itertools
import math
import mmap
import os

import numpy as np

# Big enough that per-chunk overheads (a system call, an h5py selection,
# a memory map) vanish: 8 MiB and 32 MiB chunks convert alike on the
# project's machine, 2 MiB ones take about 20% more CPU time; small enough
# that the chunks in flight stay in a server's L3 cache.
DEFAULT_BYTES = 8 << 20


@dataclasses.dataclass(frozen=True)
class Chunk:
  selection: tuple  # slices, one per leading axis: the box in the tensor
  shape: tuple      # the box's shape
  start: int        # byte offset in the tensor's C-order bytes
  nbytes: int


def plan(shape, itemsize, max_bytes=None):
  """The chunks, in byte order, that tile a tensor of `shape`.

  A chunk spans whole "rows" of the first axis whose rows fit in
  `max_bytes`; when even one row of an axis is larger, that axis is taken
  one index at a time and the next axis is split instead. A zero-size
  tensor has no chunks; a scalar or a tensor within `max_bytes` (default
  `DEFAULT_BYTES`) has one.
  """
  shape = tuple(int(d) for d in shape)
  max_bytes = max(max_bytes or DEFAULT_BYTES, itemsize)
  total = math.prod(shape) * itemsize
  if total == 0:
    return []
  if total <= max_bytes:
    whole = (slice(None),) if shape else ()  # a scalar has no axis
    return [Chunk(whole, shape, 0, total)]
  # The first axis whose rows (everything after it) fit in `max_bytes`;
  # one element always fits, so the last axis qualifies at worst.
  axis = next(a for a in range(len(shape))
              if math.prod(shape[a + 1:]) * itemsize <= max_bytes)
  row_bytes = math.prod(shape[axis + 1:]) * itemsize
  rows = max_bytes // row_bytes
  chunks = []
  for outer in itertools.product(*(range(d) for d in shape[:axis])):
    outer_start = itemsize * sum(i * math.prod(shape[a + 1:])
                                 for a, i in enumerate(outer))
    for first in range(0, shape[axis], rows):
      last = min(first + rows, shape[axis])
      chunks.append(Chunk(
          tuple(slice(i, i + 1) for i in outer) + (slice(first, last),),
          (1,) * axis + (last - first,) + shape[axis + 1:],
          outer_start + first * row_bytes, (last - first) * row_bytes))
  return chunks


def read_exactly(fd, buffer, offset):
  """Fills `buffer` (writable, e.g. a uint8 array) from file `fd` at
  `offset`; EOFError if the file ends first. `os.preadv` releases the GIL
  and needs no shared file position, so threads can read at once."""
  view, filled = memoryview(buffer).cast("B"), 0
  while filled < len(view):
    n = os.preadv(fd, [view[filled:]], offset + filled)
    if n == 0:
      raise EOFError("it ends at byte %d, %d bytes short" % (
          offset + filled, len(view) - filled))
    filled += n


def mapped(fd, offset, nbytes):
  """The bytes `offset` to `offset + nbytes` of file `fd`, as a read-only
  uint8 array on a memory map of them: nothing is copied (the pages are the
  file's, in the page cache), where `read_exactly` copies them into a
  buffer. Checksumming a chunk through a map runs 1.5-2x faster than
  reading it into a buffer first (1 GiB on tmpfs, 8 MiB chunks). The map
  is populated at once (one system call, not a page fault per page) and
  unmapped when the array is freed. EOFError if the file is shorter; a
  file truncated by another process while mapped stops the process
  (SIGBUS), as it would any reader of a memory map.
  """
  if nbytes == 0:
    return np.empty(0, np.uint8)
  size = os.fstat(fd).st_size
  if offset + nbytes > size:
    raise EOFError("it ends at byte %d, %d bytes short" % (
        size, offset + nbytes - size))
  start = offset - offset % mmap.ALLOCATIONGRANULARITY
  mapping = mmap.mmap(fd, offset + nbytes - start,
                      flags=mmap.MAP_SHARED | getattr(mmap, "MAP_POPULATE", 0),
                      prot=mmap.PROT_READ, offset=start)
  return np.frombuffer(mapping, np.uint8, nbytes, offset - start)
