"""A TF1 checkpoint's tensor bytes, read straight from its files.

A checkpoint written by `tf.compat.v1.train.Saver` (V2, a "tensor bundle":
`tensorflow/core/util/tensor_bundle/tensor_bundle.cc`) is

* `<prefix>.index`, a table (see `sstable.py`): key "" holds a
  `BundleHeaderProto` (number of data shards, endianness, version); every
  other key is a tensor name, its value a `BundleEntryProto` (dtype, shape,
  shard, byte offset and size in that shard, masked CRC32C of the bytes,
  and `slices` for a partitioned variable, whose slices have keys of their
  own starting with a 0 byte);
* `<prefix>.data-SSSSS-of-NNNNN`, the shards: a numeric tensor is its
  C-order bytes, in the bundle's byte order, at its offset.

`TensorReader` hands out one tensor's bytes chunk by chunk, mapped from the
data file (never the whole tensor in memory), and checks them against the
CRC32C stored in the index, as `tf.train.load_checkpoint(...).get_tensor`
does: either as it reads them (`read_into`, `finish`), or, as a
`streaming` source (`chunk`, `expected_crc32c`, `verify`), by leaving the
check to whoever checksums a copy of them. Anything else (strings,
partitioned variables, big-endian bundles, ...) is left to TensorFlow's
reader (`reader.py`).
"""

import dataclasses
import math
import os
import threading

import google_crc32c
import numpy as np
from google.protobuf import message as protobuf_message
from tensorflow.core.framework import types_pb2
from tensorflow.core.protobuf import tensor_bundle_pb2

from tf1shim.checkpoints import chunks as chunks_lib
from tf1shim.checkpoints import reader as reader_lib
from tf1shim.checkpoints import sstable

# Element types whose bytes in the data file are the array's bytes.
_RAW_DTYPES = {
    types_pb2.DT_FLOAT: "<f4", types_pb2.DT_DOUBLE: "<f8",
    types_pb2.DT_HALF: "<f2", types_pb2.DT_INT8: "i1",
    types_pb2.DT_INT16: "<i2", types_pb2.DT_INT32: "<i4",
    types_pb2.DT_INT64: "<i8", types_pb2.DT_UINT8: "u1",
    types_pb2.DT_UINT16: "<u2", types_pb2.DT_UINT32: "<u4",
    types_pb2.DT_UINT64: "<u8", types_pb2.DT_BOOL: "?",
    types_pb2.DT_COMPLEX64: "<c8", types_pb2.DT_COMPLEX128: "<c16",
}
# The bundle format versions this reader knows (TensorFlow's
# kTensorBundleVersion and kTensorBundleMinProducer).
_BUNDLE_VERSION, _MIN_PRODUCER = 1, 0
ADVICE = ("the checkpoint is corrupt or truncated; copy it again from "
           "where it was written, or use another checkpoint")


class BundleError(reader_lib.CheckpointError):
  """A damaged checkpoint file; the message names it and says what to do."""


def _row_parts(proto):
  """How many slices a partitioned variable was saved in, if they split
  axis 0 only (every other axis whole); 0 for other entries."""
  dims = [d.size for d in proto.shape.dim]
  for tensor_slice in proto.slices:
    for axis, extent in enumerate(tensor_slice.extent):
      whole = not extent.HasField("length") or (
          extent.start == 0 and axis < len(dims) and
          extent.length == dims[axis])
      if axis > 0 and not whole:
        return 0
  return len(proto.slices)


class UnsupportedBundle(Exception):
  """A valid bundle in a form this module leaves to TensorFlow's reader."""


@dataclasses.dataclass(frozen=True)
class BundleEntry:
  """Where one tensor's bytes are, from the index."""
  name: str
  dtype: object     # of the stored bytes; None where TensorFlow must read
                    # them (strings, other types, big-endian bundles)
  shape: tuple
  data_file: str
  offset: int
  size: int
  crc32c: int       # unmasked
  sliced: bool      # a partitioned variable: its bytes are in its slices
  # A variable TF1 partitioned along axis 0 only: its number of parts
  # (what `mod_partitions` reorders); else 0.
  row_parts: int = 0

  @property
  def raw(self):
    """Whether the bytes at `offset` are the tensor's C-order bytes."""
    return self.dtype is not None and not self.sliced


@dataclasses.dataclass(frozen=True)
class Extent:
  """The bytes of one index entry (a tensor, or a slice of a partitioned
  variable) in a data file, and their CRC32C."""
  name: str
  sliced: bool      # a partitioned variable's entry (its slices hold data)
  dtype: int        # a `types_pb2` DataType
  num_elements: int
  data_file: str
  offset: int
  size: int
  crc32c: int       # unmasked


class Bundle:
  """The index of the checkpoint at `prefix`, and its data files.

  Raises:
    BundleError: for a damaged index file.
    UnsupportedBundle: for an index TensorFlow would read but this module
      does not (compressed blocks, another format version).
  """

  def __init__(self, prefix):
    self.prefix = prefix
    self.index_file = prefix + ".index"
    try:
      with open(self.index_file, "rb") as f:
        table = f.read()
      pairs = list(sstable.entries(table))
    except sstable.UnsupportedTable as e:
      raise UnsupportedBundle("%s: %s" % (self.index_file, e)) from e
    except (sstable.TableError, OSError) as e:
      raise self._damaged(str(e)) from e
    if not pairs or pairs[0][0] != b"":
      raise self._damaged("it has no header entry")
    header = self._parse(tensor_bundle_pb2.BundleHeaderProto, *pairs[0])
    version = header.version
    if (version.producer < _MIN_PRODUCER or
        version.min_consumer > _BUNDLE_VERSION or
        _BUNDLE_VERSION in version.bad_consumers):
      raise UnsupportedBundle(
          "%s: bundle format of producer %d, for consumers from %d" % (
              self.index_file, version.producer, version.min_consumer))
    self.num_shards = header.num_shards
    self.little_endian = (
        header.endianness == tensor_bundle_pb2.BundleHeaderProto.LITTLE)
    self.entries = {}
    # Every entry's bytes, slices of partitioned variables included.
    self.extents = []
    for key, value in pairs[1:]:
      proto = self._parse(tensor_bundle_pb2.BundleEntryProto, key, value)
      name = key.decode("utf-8", "replace")
      if not 0 <= proto.shard_id < max(self.num_shards, 1):
        raise self._damaged("the entry %r is in shard %d of %d" % (
            name, proto.shard_id, self.num_shards))
      self.extents.append(Extent(
          name=name, sliced=bool(proto.slices), dtype=proto.dtype,
          num_elements=math.prod(d.size for d in proto.shape.dim),
          data_file=self.data_file(proto.shard_id), offset=proto.offset,
          size=proto.size, crc32c=sstable.unmask_crc(proto.crc32c)))
      if key.startswith(b"\0"):
        continue  # a slice of a partitioned variable
      entry = self._entry(name, proto)
      self.entries[entry.name] = entry
    self._files = {}
    self._lock = threading.Lock()

  def _parse(self, proto_class, key, value):
    try:
      return proto_class.FromString(value)
    except protobuf_message.DecodeError as e:
      raise self._damaged("the entry %r cannot be parsed (%s)" % (key,
                                                                 e)) from e

  def _entry(self, name, proto):
    dims = [d.size for d in proto.shape.dim]
    if proto.shape.unknown_rank or any(d < 0 for d in dims):
      raise self._damaged("the entry %r has an invalid shape %s" % (
          name, dims))
    if not 0 <= proto.shard_id < max(self.num_shards, 1):
      raise self._damaged("the entry %r is in shard %d of %d" % (
          name, proto.shard_id, self.num_shards))
    # Big-endian bytes are left to TensorFlow, which swaps them.
    dtype = _RAW_DTYPES.get(proto.dtype) if self.little_endian else None
    return BundleEntry(
        name=name, dtype=None if dtype is None else np.dtype(dtype),
        shape=tuple(dims),
        data_file=self.data_file(proto.shard_id),
        offset=proto.offset, size=proto.size,
        crc32c=sstable.unmask_crc(proto.crc32c),
        sliced=len(proto.slices) > 0, row_parts=_row_parts(proto))

  def data_file(self, shard):
    return "%s.data-%05d-of-%05d" % (self.prefix, shard, self.num_shards)

  @property
  def data_files(self):
    """The data files the index names (its header's shard count)."""
    return [self.data_file(i) for i in range(self.num_shards)]

  def _damaged(self, what):
    return BundleError("Checkpoint index %s is damaged: %s; %s." % (
        self.index_file, what, ADVICE))

  def reader(self, name):
    """A `TensorReader` of entry `name`, which must be `raw`."""
    entry = self.entries[name]
    if not entry.raw:
      raise ValueError("Entry %r of %s is not stored as raw bytes." % (
          name, self.prefix))
    with self._lock:
      if entry.data_file not in self._files:
        try:
          self._files[entry.data_file] = os.open(entry.data_file,
                                                 os.O_RDONLY)
        except FileNotFoundError as e:
          raise BundleError("Checkpoint %s: its data file %s is missing; "
                            "%s." % (self.prefix, entry.data_file,
                                     ADVICE)) from e
      return TensorReader(self.prefix, entry, self._files[entry.data_file])

  def close(self):
    with self._lock:
      for fd in self._files.values():
        os.close(fd)
      self._files.clear()

  def __enter__(self):
    return self

  def __exit__(self, *unused_exc_info):
    self.close()


class TensorReader:
  """One tensor's bytes, chunk by chunk, checked against the index's CRC32C.

  Two ways to read:

  * `read_into` maps the next chunk of the data file (`chunks.mapped`: no
    copy; the caller's buffer is not used) and extends the CRC32C over it;
    `finish` compares the CRC with the index's.
  * As a `streaming` source: `chunk` maps a chunk without checksumming it,
    `expected_crc32c` is the index's CRC32C, which the copy made from the
    chunks must have (`streaming.VerifiedWriter` checksums the written
    bytes, so the source's are checked by the same pass), and `verify`
    checksums the data file's bytes themselves: run when the copy does not
    match, it tells a damaged checkpoint (BundleError) from a bad write.

  The data file's length is checked first, so a truncated file is
  reported as such.
  """

  def __init__(self, prefix, entry, fd):
    self.prefix, self.entry = prefix, entry
    self.shape, self.dtype = entry.shape, entry.dtype
    self._fd = fd
    self._crc = 0
    self._done = 0
    expected = math.prod(entry.shape) * entry.dtype.itemsize
    if entry.size != expected:
      raise self._damaged(
          "the index gives it %d bytes, but a %s tensor of shape %s has %d" %
          (entry.size, entry.dtype, entry.shape, expected))
    file_size = os.fstat(fd).st_size
    if entry.offset + entry.size > file_size:
      raise self._damaged(
          "its bytes %d to %d are past the end of %s (%d bytes): the file "
          "is truncated" % (entry.offset, entry.offset + entry.size,
                            entry.data_file, file_size))

  def _mapped(self, start, nbytes):
    try:
      return chunks_lib.mapped(self._fd, self.entry.offset + start, nbytes)
    except EOFError as e:
      raise self._damaged("%s is truncated (%s)" % (self.entry.data_file,
                                                    e)) from e

  def read_into(self, chunk, buffer):
    """Chunk `chunk` (a `chunks.Chunk`) as an array, its bytes added to the
    CRC32C; chunks must come in order."""
    if chunk.start != self._done:
      raise ValueError("Chunks of %r must be read in order." %
                       self.entry.name)
    del buffer  # the chunk is mapped, not copied
    view = self._mapped(chunk.start, chunk.nbytes)
    # The extension takes numpy arrays without a copy; it holds the GIL
    # for them (about 2 ms per 8 MiB chunk).
    self._crc = google_crc32c.extend(self._crc, view)
    self._done += chunk.nbytes
    return view.view(self.dtype).reshape(chunk.shape)

  def finish(self):
    """The CRC32C of the tensor's bytes, once it matches the index's."""
    if self._done != self.entry.size:
      raise ValueError("%r: read %d of %d bytes." % (
          self.entry.name, self._done, self.entry.size))
    self._check(self._crc)
    return self._crc

  def chunk(self, chunk):
    """Chunk `chunk` as an array mapped from the data file, not checked:
    the caller checks a copy against `expected_crc32c()`."""
    return self._mapped(chunk.start, chunk.nbytes).view(
        self.dtype).reshape(chunk.shape)

  def expected_crc32c(self):
    """The CRC32C of the tensor's bytes, as the index gives it."""
    return self.entry.crc32c

  def verify(self):
    """Raises BundleError unless the data file's bytes for this tensor
    have the index's CRC32C (reads them all, chunk by chunk)."""
    crc, step = 0, chunks_lib.DEFAULT_BYTES
    for start in range(0, self.entry.size, step):
      crc = google_crc32c.extend(crc, self._mapped(
          start, min(step, self.entry.size - start)))
    self._check(crc)

  def _check(self, crc):
    if crc != self.entry.crc32c:
      raise self._damaged(
          "its bytes in %s do not match their checksum (CRC32C %08x, the "
          "index says %08x)" % (self.entry.data_file, crc,
                                self.entry.crc32c))

  def _damaged(self, what):
    return BundleError("Checkpoint %s: entry %r cannot be read: %s; %s." % (
        self.prefix, self.entry.name, what, ADVICE))
