"""Tensor transforms of the rules format: `rows A:B`, `gates L1 -> L2`,
`add LABEL VALUE`, `mod_partitions N`.

A transform is data (it parses from and prints back to its rules-file text)
and acts on a `Traced` tensor: instead of values it moves, for every element
of the result, the flat index of the checkpoint element it comes from and
the constant added to it. Every transform here selects, reorders or adds a
constant, so a chain of them is `value.flat[index] + offset`: the forward
(checkpoint -> model), the gradients (the same gather, without the offset)
and the inverse (a scatter, minus the offset) all follow from one plan,
made from shapes alone, before any tensor is read.
"""

import dataclasses
import math
import re

import numpy as np


class TransformError(ValueError):
  """A transform's text does not parse, or it does not fit a shape; the
  caller adds the rule's file:line."""


_LABEL = re.compile(r"^[A-Za-z_]\w*$")


@dataclasses.dataclass
class Traced:
  """What a chain of transforms has made of a checkpoint entry so far.

  index: int64 array, the flat index into the entry of every element.
  offset: float64 array of the constants added so far, or None (no `add`).
  labels: the block labels of the last axis as of the last `gates`, or None.
  """
  index: np.ndarray
  offset: np.ndarray = None
  labels: tuple = None

  @classmethod
  def of_shape(cls, shape):
    size = int(np.prod(shape, dtype=np.int64))
    return cls(np.arange(size, dtype=np.int64).reshape(shape))

  @property
  def shape(self):
    return tuple(self.index.shape)


@dataclasses.dataclass(frozen=True)
class Rows:
  """`rows A:B`: a Python slice of axis 0 (ints; either end may be omitted,
  negative counts from the end). Out of range is an error, not clipped."""
  start: int = None
  stop: int = None

  def __str__(self):
    return "rows %s:%s" % ("" if self.start is None else self.start,
                           "" if self.stop is None else self.stop)

  def bounds(self, length):
    """(start, stop) in 0..length, or TransformError."""
    start = 0 if self.start is None else self.start
    stop = length if self.stop is None else self.stop
    start = start + length if start < 0 else start
    stop = stop + length if stop < 0 else stop
    if not 0 <= start < stop <= length:
      raise TransformError("%s selects no rows or rows out of range of an "
                           "axis 0 of length %d" % (self, length))
    return start, stop

  def apply(self, traced):
    if not traced.shape:
      raise TransformError("%s needs at least one axis, the tensor is a "
                           "scalar" % self)
    start, stop = self.bounds(traced.shape[0])
    labels = traced.labels
    if len(traced.shape) == 1:
      labels = None  # axis 0 is the last axis: its gate blocks are cut
    return Traced(traced.index[start:stop],
                  None if traced.offset is None else
                  traced.offset[start:stop], labels)


@dataclasses.dataclass(frozen=True)
class Gates:
  """`gates L1 -> L2`: the last axis as len(L1) equal blocks labelled L1,
  reordered as L2 (a permutation of L1)."""
  source: tuple
  target: tuple

  def __str__(self):
    return "gates %s -> %s" % (",".join(self.source), ",".join(self.target))

  def apply(self, traced):
    if not traced.shape:
      raise TransformError("%s needs at least one axis, the tensor is a "
                           "scalar" % self)
    width = traced.shape[-1]
    if width % len(self.source):
      raise TransformError("%s splits the last axis into %d equal blocks, "
                           "but it has %d elements" % (self, len(self.source),
                                                       width))
    order = [self.source.index(label) for label in self.target]
    return Traced(_blocks(traced.index, len(self.source), order),
                  None if traced.offset is None else
                  _blocks(traced.offset, len(self.source), order),
                  self.target)

  def undo(self):
    """The gates transform that puts the blocks back."""
    return Gates(self.target, self.source)


def _blocks(array, count, order):
  """`array`'s last axis in `count` blocks, concatenated in `order`."""
  blocks = np.split(array, count, axis=-1)
  return np.concatenate([blocks[i] for i in order], axis=-1)


@dataclasses.dataclass(frozen=True)
class Add:
  """`add LABEL VALUE`: adds VALUE to block LABEL of the last `gates`."""
  label: str
  value: float

  def __str__(self):
    return "add %s %r" % (self.label, self.value)

  def apply(self, traced):
    if traced.labels is None:
      raise TransformError("%s needs the block labels of a `gates` before it"
                           " (and no `rows` on a 1-D tensor in between)"
                           % self)
    count = len(traced.labels)
    width = traced.shape[-1] // count
    k = traced.labels.index(self.label)
    offset = (np.zeros(traced.shape) if traced.offset is None
              else traced.offset.copy())
    offset[..., k * width:(k + 1) * width] += self.value
    return Traced(traced.index, offset, traced.labels)


@dataclasses.dataclass(frozen=True)
class ModPartitions:
  """`mod_partitions N`: axis 0 of a variable TF1 split into N parts
  (`get_variable(partitioner=...)`), put in id order.

  TF1's `embedding_lookup` (default `partition_strategy="mod"`) reads id i
  from part i % N, row i // N; its checkpoints store the parts one after the
  other (TF1's split: the first `rows % N` parts one row longer). The whole
  variable of a model without the partitioner is read at row i: this
  reorders the checkpoint's rows so that row i is id i's.
  """
  count: int

  def __str__(self):
    return "mod_partitions %d" % self.count

  def apply(self, traced):
    if not traced.shape:
      raise TransformError("%s needs at least one axis, the tensor is a "
                           "scalar" % self)
    rows = traced.shape[0]
    if not 1 <= self.count <= rows:
      raise TransformError("%s: TF1 splits axis 0 into 1 to %d parts "
                           "(its length), not %d" % (self, rows, self.count))
    order = mod_partition_order(rows, self.count)
    return Traced(traced.index[order],
                  None if traced.offset is None else traced.offset[order],
                  None if len(traced.shape) == 1 else traced.labels)


def mod_partition_order(rows, count):
  """For each id 0..rows-1, its row in TF1's concatenated parts."""
  base, longer = divmod(rows, count)
  sizes = [base + (1 if part < longer else 0) for part in range(count)]
  starts = np.cumsum([0] + sizes[:-1])
  ids = np.arange(rows)
  return starts[ids % count] + ids // count


_ROWS = re.compile(r"^rows\s+(-?\d+)?\s*:\s*(-?\d+)?$")
_MOD_PARTITIONS = re.compile(r"^mod_partitions\s+(\d+)$")
_GATES = re.compile(r"^gates\s+(\S.*?)\s*->\s*(\S.*)$")
_ADD = re.compile(r"^add\s+(\S+)\s+(\S+)$")

SYNTAX = ("`rows A:B` (either end may be omitted), `gates i,j,f,o -> "
          "i,f,j,o`, `add f 1.0`, or `mod_partitions N`")


def _labels(text, transform):
  labels = tuple(label.strip() for label in text.split(","))
  bad = [label for label in labels if not _LABEL.match(label)]
  if bad:
    raise TransformError("%r: gate labels are names separated by commas, "
                         "got %r" % (transform, bad[0]))
  return labels


def parse(text):
  """One transform from its text; TransformError saying the syntax."""
  text = " ".join(text.split())
  match = _ROWS.match(text)
  if match:
    start, stop = (None if g is None else int(g) for g in match.groups())
    return Rows(start, stop)
  match = _GATES.match(text)
  if match:
    source, target = (_labels(g, text) for g in match.groups())
    if len(set(source)) != len(source):
      raise TransformError("%r: the labels before -> repeat a name; each "
                           "block needs its own label" % text)
    if sorted(source) != sorted(target):
      raise TransformError(
          "%r: the labels after -> must be a permutation of the labels "
          "before it (%s), got %s" % (text, ",".join(source),
                                      ",".join(target)))
    return Gates(source, target)
  match = _MOD_PARTITIONS.match(text)
  if match:
    return ModPartitions(int(match.group(1)))
  match = _ADD.match(text)
  if match:
    label, value = match.groups()
    try:
      number = float(value)
    except ValueError:
      number = math.nan
    if not _LABEL.match(label) or not math.isfinite(number):
      raise TransformError("%r: expected `add LABEL VALUE`, a gate label "
                           "and a finite number" % text)
    return Add(label, number)
  raise TransformError("unknown transform %r; a transform is %s" % (
      text, SYNTAX))


def check_chain(transforms):
  """Static checks of a chain (what needs no shapes): every `add` names a
  label of the `gates` before it. TransformError if not."""
  labels = None
  for transform in transforms:
    if isinstance(transform, Gates):
      labels = transform.target
    elif isinstance(transform, Add):
      if labels is None:
        raise TransformError("%s has no `gates` before it; write the gate "
                             "order first, e.g. `gates i,j,f,o -> i,f,j,o "
                             "| add f 1.0`" % transform)
      if transform.label not in labels:
        raise TransformError("%s: no block %r; the last gates has %s" % (
            transform, transform.label, ",".join(labels)))


def blocks_of(transforms):
  """How many blocks the chain's result counts for in a `concat`: the
  labels of its last `gates`, or 1."""
  count = 1
  for transform in transforms:
    if isinstance(transform, Gates):
      count = len(transform.target)
  return count
