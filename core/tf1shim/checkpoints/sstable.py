"""Reading TensorFlow's table files (a checkpoint's `.index`) in Python.

TensorFlow writes LevelDB's SSTable format (`xla/tsl/lib/io`: format.cc,
block.cc, table.cc; formerly `tensorflow/core/lib/io`), without
compression and without filter blocks:

    file   = data blocks, metaindex block, index block, footer (48 bytes)
    footer = metaindex handle, index handle, zero padding up to 40 bytes,
             magic 0xdb4775248b80fb57 (fixed64, little-endian)
    handle = offset (varint64), size (varint64) of a block
    stored block = block (size bytes), compression type (1 byte, 0: none),
             masked CRC32C of the block and the type byte (fixed32)
    block  = entries, restart offsets (fixed32 each), restart count (fixed32)
    entry  = key bytes shared with the previous key (varint32), unshared
             key bytes (varint32), value size (varint32), unshared key
             bytes, value

The index block maps a key >= every key of a data block to that block's
handle. Every block's CRC is checked (as TensorFlow's reader does), and
so are the bytes TensorFlow does not check (the metaindex block, the
footer's padding, bytes between blocks), so a damaged file is an error
here, never wrong entries.
"""

import struct

import google_crc32c

MAGIC = 0xdb4775248b80fb57
FOOTER_BYTES = 48
_TRAILER_BYTES = 5
_NO_COMPRESSION = 0
_CRC_MASK_DELTA = 0xa282ead8


class TableError(ValueError):
  """The table is damaged; the message says where."""


class UnsupportedTable(TableError):
  """A well-formed table using a feature not read here (compression)."""


def unmask_crc(masked):
  """The CRC32C that TensorFlow stored masked (`crc32c::Unmask`).

  TensorFlow stores `rotate_right(crc, 15) + 0xa282ead8`, so that a CRC of
  data that itself holds CRCs does not degenerate.
  """
  rotated = (masked - _CRC_MASK_DELTA) & 0xffffffff
  return ((rotated >> 17) | (rotated << 15)) & 0xffffffff


def entries(table):
  """Yields (key, value) of every entry of `table` (bytes), in key order."""
  if len(table) < FOOTER_BYTES:
    raise TableError("%d bytes, shorter than a table's %d-byte footer" % (
        len(table), FOOTER_BYTES))
  footer = table[-FOOTER_BYTES:]
  if struct.unpack("<Q", footer[-8:])[0] != MAGIC:
    raise TableError("no table magic number at the end (not a checkpoint "
                     "index, or cut short)")
  metaindex_handle, pos = _handle(footer, 0)
  index_handle, pos = _handle(footer, pos)
  # TensorFlow pads the handles with zeros (`Footer::EncodeTo`) and never
  # reads the metaindex block (checkpoints have no filter): it would accept
  # damage there. Both are checked here, and that the blocks and the footer
  # tile the file, so that every byte of the table is checked.
  if pos > FOOTER_BYTES - 8 or any(footer[pos:FOOTER_BYTES - 8]):
    raise TableError("the footer's padding is not zero (damaged footer)")
  _block(table, *metaindex_handle)
  data_handles = [_handle(handle, 0)[0] for _, handle in _block_entries(
      _block(table, *index_handle), "index")]
  _check_tiling(len(table), data_handles + [metaindex_handle, index_handle])
  for handle in data_handles:
    for key, value in _block_entries(_block(table, *handle), "data"):
      yield key, value


def _check_tiling(table_bytes, handles):
  """The stored blocks (with their 5-byte trailers) must follow each other
  from byte 0 to the footer, as TensorFlow writes them."""
  pos = 0
  for offset, size in sorted(handles):
    if offset != pos:
      raise TableError("bytes %d to %d belong to no block" % (
          min(pos, offset), max(pos, offset)) if offset > pos else
                       "blocks overlap at byte %d" % offset)
    pos = offset + size + _TRAILER_BYTES
  if pos != table_bytes - FOOTER_BYTES:
    raise TableError("the blocks end at byte %d, the footer starts at %d" %
                     (pos, table_bytes - FOOTER_BYTES))


def _varint(data, pos, limit=None):
  """(value, next position) of the varint at `pos`."""
  limit = len(data) if limit is None else limit
  value = shift = 0
  while True:
    if pos >= limit or shift > 63:
      raise TableError("bad varint at byte %d" % pos)
    byte = data[pos]
    pos += 1
    value |= (byte & 0x7f) << shift
    if byte < 0x80:
      return value, pos
    shift += 7


def _handle(data, pos):
  """((offset, size), next position) of the block handle at `pos`."""
  offset, pos = _varint(data, pos)
  size, pos = _varint(data, pos)
  return (offset, size), pos


def _block(table, offset, size):
  """The contents of the stored block at `offset`, its CRC checked."""
  end = offset + size + _TRAILER_BYTES
  if end > len(table) - FOOTER_BYTES:
    raise TableError("block at byte %d (%d bytes) runs past the end of the "
                     "table (%d bytes)" % (offset, size, len(table)))
  stored = table[offset:end]
  crc = unmask_crc(struct.unpack("<I", stored[-4:])[0])
  if google_crc32c.value(stored[:-4]) != crc:
    raise TableError("block at byte %d does not match its checksum" % offset)
  if stored[size] != _NO_COMPRESSION:
    raise UnsupportedTable("block at byte %d is compressed (type %d)" % (
        offset, stored[size]))
  return stored[:size]


def _block_entries(block, kind):
  """Yields (key, value) of the entries of a block's contents."""
  if len(block) < 4:
    raise TableError("%s block of %d bytes has no restart count" % (
        kind, len(block)))
  restarts = struct.unpack("<I", block[-4:])[0]
  if restarts > (len(block) - 4) // 4:
    raise TableError("%s block of %d bytes claims %d restart points" % (
        kind, len(block), restarts))
  limit = len(block) - 4 * (restarts + 1)
  key, pos = b"", 0
  while pos < limit:
    shared, pos = _varint(block, pos, limit)
    unshared, pos = _varint(block, pos, limit)
    value_size, pos = _varint(block, pos, limit)
    if shared > len(key) or pos + unshared + value_size > limit:
      raise TableError("bad entry at byte %d of a %s block" % (pos, kind))
    key = key[:shared] + block[pos:pos + unshared]
    pos += unshared
    yield key, block[pos:pos + value_size]
    pos += value_size
