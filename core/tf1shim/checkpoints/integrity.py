"""Checking every byte of a TF1 checkpoint (or TF2 object checkpoint).

A bundle's bytes are all covered by a check: the index by its blocks'
CRC32Cs and its structure (`sstable.entries`: magic number, zero footer
padding, blocks tiling the file), the data files by the CRC32C the index
stores for each entry's bytes (strings and slices of partitioned variables
included: TensorFlow's CRC covers every byte it wrote for an entry), and
by their layout: the entries' byte ranges must tile each data file, from
byte 0 to its end, so a truncated file, bytes appended to it, or a shard
of another checkpoint under this one's name is found too. So flipping any
byte, or truncating any file, of a checkpoint that `Saver` wrote is an
error here (`tools/ckpt_fuzz_test.py` tries them).

`check` reads each data file once, in 8 MiB chunks (memory is one chunk;
entries' bytes are checksummed through memory maps, not copied).
"""

import os

import struct

import google_crc32c
import numpy as np
from tensorflow.core.framework import types_pb2

from tf1shim.checkpoints import bundle as bundle_lib
from tf1shim.checkpoints import chunks as chunks_lib
from tf1shim.checkpoints import reader as reader_lib
from tf1shim.checkpoints import sstable


def check(prefix, skip=()):
  """Raises CheckpointError unless every byte of `prefix` checks out.

  Args:
    prefix: the checkpoint prefix.
    skip: names of entries whose bytes the caller reads itself through a
      CRC-checking reader (`bundle.TensorReader`, TensorFlow's); their CRC
      is not computed twice. The layout is checked all the same.

  Returns:
    The number of entries whose bytes were checked here.
  """
  try:
    bundle = bundle_lib.Bundle(prefix)
  except bundle_lib.UnsupportedBundle:
    # A valid index this module does not parse (compressed): TensorFlow
    # reads every entry, checking each one's CRC.
    reader = reader_lib.CheckpointReader(prefix)
    for name in reader.entries:
      if name not in skip:
        reader.read(name)
    return len(reader.entries)
  with bundle:
    by_file = {path: [] for path in bundle.data_files}
    for extent in bundle.extents:
      by_file[extent.data_file].append(extent)
    checked = 0
    for path, extents in by_file.items():
      checked += _check_file(prefix, path, extents, set(skip),
                             bundle.little_endian)
  return checked


def _damaged(prefix, what):
  return bundle_lib.BundleError("Checkpoint %s is damaged: %s; %s." % (
      prefix, what, bundle_lib.ADVICE))


def _check_file(prefix, path, extents, skip, little_endian):
  try:
    fd = os.open(path, os.O_RDONLY)
  except FileNotFoundError as e:
    raise _damaged(prefix, "its data file %s is missing" % path) from e
  except OSError as e:
    raise _damaged(prefix, "its data file %s cannot be opened (%s)" % (
        path, e.strerror)) from e
  try:
    size = os.fstat(fd).st_size
    pos = 0
    checked = 0
    for extent in sorted((e for e in extents if e.size),
                         key=lambda e: e.offset):
      if extent.offset < pos:
        raise _damaged(prefix, "in %s, entry %r overlaps the one before it"
                       % (path, extent.name))
      _check_padding(prefix, fd, path, pos, extent.offset)
      pos = extent.offset + extent.size
      if pos > size:
        raise _damaged(prefix, "entry %r ends at byte %d of %s, which has "
                       "%d bytes: the file is truncated" % (
                           extent.name, pos, path, size))
      if extent.name in skip:
        continue
      if extent.dtype == types_pb2.DT_STRING:
        crc = _string_crc(fd, extent, little_endian)
      elif extent.dtype == types_pb2.DT_VARIANT:
        crc = _variant_crc(fd, extent, little_endian)
      else:
        crc = _crc(fd, extent.offset, extent.size)
      if crc is None or crc != extent.crc32c:
        raise _damaged(prefix, "the bytes of entry %r in %s do not match "
                       "their checksum (CRC32C %s, the index says %08x)" %
                       (extent.name, path, "unknown" if crc is None else
                        "%08x" % crc, extent.crc32c))
      checked += 1
    _check_padding(prefix, fd, path, pos, size)
    return checked
  finally:
    os.close(fd)


def _crc(fd, offset, size):
  """CRC32C of the bytes, through memory maps of a chunk each (no copy)."""
  crc = 0
  for done in range(0, size, chunks_lib.DEFAULT_BYTES):
    crc = google_crc32c.extend(crc, chunks_lib.mapped(
        fd, offset + done, min(size - done, chunks_lib.DEFAULT_BYTES)))
  return crc


def _check_padding(prefix, fd, path, start, end):
  """Bytes between entries (or after the last) are alignment padding,
  which TensorFlow writes as zeros (`PadAlignment`; `Saver` aligns to 1
  byte, so there are none); nothing else may be there."""
  if end <= start:
    return
  buffer = np.empty(min(end - start, chunks_lib.DEFAULT_BYTES), np.uint8)
  done = start
  while done < end:
    view = buffer[:min(end - done, buffer.size)]
    chunks_lib.read_exactly(fd, view, done)
    if view.any():
      raise _damaged(prefix, "in %s, bytes %d to %d belong to no entry and "
                     "are not padding (bytes were added, or the file is "
                     "another checkpoint's shard)" % (path, start, end))
    done += view.size


def _read(fd, extent):
  buffer = np.empty(extent.size, np.uint8)
  chunks_lib.read_exactly(fd, buffer, extent.offset)
  return buffer.tobytes()


def _varint(data, pos):
  value = shift = 0
  while pos < len(data) and shift <= 63:
    byte = data[pos]
    pos += 1
    value |= (byte & 0x7f) << shift
    if byte < 0x80:
      return value, pos
    shift += 7
  return None, pos


def _string_crc(fd, extent, little_endian):
  """The CRC32C TensorFlow computes for a string tensor's bytes
  (`WriteStringTensor`): over each length as a uint32 (uint64 if larger),
  the masked CRC of those lengths stored after them, and the strings; None
  if the lengths do not parse. Read whole: string tensors are small."""
  data = _read(fd, extent)
  order = "<" if little_endian else ">"
  crc, pos, total = 0, 0, 0
  for _ in range(extent.num_elements):
    length, pos = _varint(data, pos)
    if length is None:
      return None
    crc = google_crc32c.extend(crc, struct.pack(
        order + ("I" if length <= 0xffffffff else "Q"), length))
    total += length
  if pos + 4 + total != len(data):
    return None
  stored = struct.unpack(order + "I", data[pos:pos + 4])[0]
  if sstable.unmask_crc(stored) != crc:
    return None
  return google_crc32c.extend(crc, data[pos:])


def _variant_crc(fd, extent, little_endian):
  """As `_string_crc`, for `WriteVariantTensor`'s format: per element a
  length (varint; a uint64 in the CRC), the bytes, the masked CRC so far."""
  data = _read(fd, extent)
  order = "<" if little_endian else ">"
  crc, pos = 0, 0
  for _ in range(extent.num_elements):
    length, pos = _varint(data, pos)
    if length is None or pos + length + 4 > len(data):
      return None
    crc = google_crc32c.extend(crc, struct.pack(order + "Q", length))
    crc = google_crc32c.extend(crc, data[pos:pos + length])
    pos += length
    stored = data[pos:pos + 4]
    if sstable.unmask_crc(struct.unpack(order + "I", stored)[0]) != crc:
      return None
    crc = google_crc32c.extend(crc, stored)
    pos += 4
  return crc if pos == len(data) else None
