"""Planning a mapping against shapes: which elements of which sources make
each target, forward, gradients and inverse.

Sources are checkpoint entries (or a reference stage's variables), targets
are a model's variables. A plan is made from names, shapes and dtypes only,
so a rule that does not fit is an error before any tensor is read, written
or assigned. Each target is either

* a rename: one whole source, unchanged (streams; no index arrays); or
* a gather: per element, the source it comes from (`which`), the flat index
  in that source (`index`) and the constant added (`offset`, from `add`):
  `target = source.flat[index] + offset`. Gradients use the gather alone
  (an added constant has no gradient); the inverse scatters `target -
  offset` back and checks that the targets cover every element of each
  source exactly once.

    plan = checkpoints.plan_mapping(rules, {"lstm/kernel": ((8, 64), f32)},
                                    {"rnn/lstm_cell/kernel": ((24, 64), f32)})
    values = plan.forward(reader.read)          # {model name: value}
    entries = plan.inverse(values)              # {entry: value}
"""

import collections
import dataclasses

import numpy as np

from tf1shim.checkpoints import rules as rules_lib
from tf1shim.checkpoints import transforms as transforms_lib

MappingError = rules_lib.MappingError


def resolver(spec):
  """`name -> (rule or None, entry names)` for a mapping specification:
  None (same name), a dict, rules (`Rules`, [Rule] or (regex, replacement)
  pairs: the one engine, first matching rule wins), or a callable
  `name -> name`."""
  if spec is None:
    return lambda name: (None, (name,))
  if isinstance(spec, dict):
    return lambda name: (None, (spec.get(name, name),))
  if isinstance(spec, (list, tuple)):
    return rules_lib.as_rules(spec).match
  if callable(spec):
    return lambda name: (None, (spec(name),))
  raise TypeError("A mapping is None, a dict, rules, a callable or "
                  "checkpoints.between(...); got %r." % (spec,))


@dataclasses.dataclass
class Target:
  """How one target is made from its sources (see the module docstring)."""
  name: str
  shape: tuple
  sources: tuple
  rule: object = None  # the Rule, or None
  which: np.ndarray = None  # int32 per element (None: one source)
  index: np.ndarray = None  # int64 per element (None: a rename)
  offset: np.ndarray = None  # float64 per element (None: nothing added)

  @property
  def is_rename(self):
    return self.index is None

  @property
  def description(self):
    """The rule's right side for this target, for reports."""
    if self.rule is None or self.rule.is_rename:
      return self.sources[0] if len(self.sources) == 1 else " + ".join(
          self.sources)
    return self.rule.describe(self.name)

  def forward(self, read, linear=False):
    """This target's value from `read(source name) -> array` (or a dict
    {source: value}); `linear`: without the added constants (gradients)."""
    read = _reader(read)
    if self.is_rename:
      return np.asarray(read(self.sources[0]))
    values = [np.asarray(read(s)).reshape(-1) for s in self.sources]
    if self.which is None:
      out = values[0][self.index]
    else:
      out = np.empty(self.shape, np.result_type(*values))
      for k, value in enumerate(values):
        mask = self.which == k
        out[mask] = value[self.index[mask]]
    if self.offset is not None and not linear:
      out = out + self.offset.astype(out.dtype)
    return out

  def pieces(self):
    """[(source, flat indices in it, mask of this target's elements)]."""
    if self.is_rename:
      return [(self.sources[0], None, None)]
    if self.which is None:
      return [(self.sources[0], self.index.reshape(-1), None)]
    which = self.which.reshape(-1)
    return [(s, self.index.reshape(-1)[which == k], which == k)
            for k, s in enumerate(self.sources)]


def _reader(values):
  return values.__getitem__ if isinstance(values, dict) else values


class TensorMapping:
  """A plan: targets made from sources, what is missing or mismatched.

  Attributes:
    targets: {target name: Target}, in the targets' order, the ones that fit.
    sources: {source name: (shape, dtype)} of every source.
    missing: [target name] whose source does not exist.
    wanted: {target name: the source names it was mapped to} of `missing`.
    mismatched: [(target name, source, why)]: a rename of another shape or
      dtype, or a transformed target whose sources have another dtype.
  """

  def __init__(self, targets, sources, missing=(), mismatched=(),
               wanted=None):
    self.targets = dict(targets)
    self.sources = dict(sources)
    self.missing = list(missing)
    self.mismatched = list(mismatched)
    self.wanted = dict(wanted or {})

  @property
  def transforms(self):
    return any(not t.is_rename for t in self.targets.values())

  def forward(self, values):
    """{target name: value} from {source: value} or `source -> value`."""
    read = _reader(values)
    return {name: t.forward(read) for name, t in self.targets.items()}

  def gradients(self, values):
    """As `forward`, by the linear part only (no `add`): gradients."""
    read = _reader(values)
    return {name: t.forward(read, linear=True)
            for name, t in self.targets.items()}

  def users(self):
    """{source: [target names]}, in the targets' order."""
    found = collections.defaultdict(list)
    for name, target in self.targets.items():
      for source in target.sources:
        found[source].append(name)
    return dict(found)

  def coverage(self, source):
    """How often each element of `source` is used by the targets (flat
    int array)."""
    shape, _ = self.sources[source]
    size = int(np.prod(shape, dtype=np.int64))
    counts = np.zeros(size, np.int64)
    for name in self.users().get(source, ()):
      for piece_source, index, _ in self.targets[name].pieces():
        if piece_source != source:
          continue
        if index is None:
          counts += 1
        else:
          counts += np.bincount(index, minlength=size)
    return counts

  def coverage_problem(self, source):
    """None if the targets use every element of `source` exactly once, else
    what is wrong (for an error naming the source)."""
    counts = self.coverage(source)
    users = self.users().get(source, [])
    unused = int(np.count_nonzero(counts == 0))
    twice = int(np.count_nonzero(counts > 1))
    if not unused and not twice:
      return None
    shape = self.sources[source][0]
    what = []
    if unused:
      what.append("%d of its %d elements are made by no model variable "
                  "(first: %s)" % (unused, counts.size, _position(
                      int(np.argmax(counts == 0)), shape)))
    if twice:
      what.append("%d elements are made by more than one (first: %s)" % (
          twice, _position(int(np.argmax(counts > 1)), shape)))
    return "entry %s (shape %s) from %s: %s" % (
        source, shape, ", ".join(users) or "no variable", "; ".join(what))

  def check_coverage(self):
    """Raises MappingError naming every source that the targets do not
    make exactly once, element by element (what `inverse` needs)."""
    problems = [p for p in map(self.coverage_problem, self.users()) if p]
    if problems:
      raise MappingError("The inverse cannot rebuild every checkpoint entry"
                         " exactly: " + "; ".join(problems) + ". Check the "
                         "rules' rows and gates.")

  def inverse(self, values):
    """{source: value} from {target name: value}: each source is scattered
    together from its targets, minus the added constants. MappingError
    naming the source unless the targets cover each of its elements exactly
    once (checked before anything is computed)."""
    self.check_coverage()
    out = {}
    for source, names in self.users().items():
      shape, dtype = self.sources[source]
      flat = None
      for name in names:
        target = self.targets[name]
        value = np.asarray(values[name])
        if target.offset is not None:
          value = value - target.offset.astype(value.dtype)
        for piece_source, index, mask in target.pieces():
          if piece_source != source:
            continue
          if index is None:
            flat = value.reshape(-1)
            continue
          if flat is None:
            flat = np.empty(int(np.prod(shape, dtype=np.int64)),
                            value.dtype)
          flat[index] = value.reshape(-1) if mask is None else (
              value.reshape(-1)[mask])
      out[source] = flat.reshape(shape).astype(dtype, copy=False)
    return out


def _position(flat, shape):
  return str(tuple(int(i) for i in np.unravel_index(flat, shape))) if (
      shape) else "()"


def _misfit(rule, name, shape, entries, detail):
  return MappingError(
      "%s: the rule for model variable %s (shape %s) does not fit checkpoint"
      " %s: %s. Rule: %s" % (
          rule.where, name, tuple(shape), ", ".join(
              "entry %s (shape %s)" % (e, tuple(s)) for e, s in entries),
          detail, rule))


def _gather(rule, name, shape, entries, source_shapes):
  """The Target of a transforming rule, or MappingError naming the rule
  and the shapes."""
  shapes = [(e, source_shapes[e]) for e in entries]
  traced = []
  for part, (entry, entry_shape) in zip(rule.parts, shapes):
    result = transforms_lib.Traced.of_shape(entry_shape)
    for transform in part.transforms:
      try:
        result = transform.apply(result)
      except transforms_lib.TransformError as e:
        raise _misfit(rule, name, shape, [(entry, entry_shape)], e) from e
    traced.append(result)
  if len(traced) == 1:
    result = traced[0]
    which = None
  else:
    result, which = _concat(rule, name, shape, shapes, traced)
  if result.shape != tuple(shape):
    raise _misfit(rule, name, shape, shapes,
                  "the transforms give shape %s" % (result.shape,))
  offset = result.offset
  if offset is not None and not np.any(offset):
    offset = None
  return Target(name, tuple(shape), tuple(entries), rule, which,
                result.index, offset)


def _concat(rule, name, shape, shapes, traced):
  """Parts joined along the last axis; each part's width must be its
  share of blocks (what the inverse splits by)."""
  ranks = {len(t.shape) for t in traced}
  if len(ranks) != 1 or 0 in ranks or len(
      {t.shape[:-1] for t in traced}) != 1:
    raise _misfit(rule, name, shape, shapes, "concat joins along the last "
                  "axis parts that agree on the other axes, got %s" % (
                      ", ".join(str(t.shape) for t in traced)))
  blocks = [transforms_lib.blocks_of(p.transforms) for p in rule.parts]
  widths = [t.shape[-1] for t in traced]
  unit = widths[0] // blocks[0] if widths[0] % blocks[0] == 0 else None
  if unit is None or widths != [b * unit for b in blocks]:
    raise _misfit(rule, name, shape, shapes,
                  "concat's parts are %s wide along the last axis; each "
                  "must be its number of gate blocks (%s) times one block "
                  "width" % (widths, blocks))
  index = np.concatenate([t.index for t in traced], axis=-1)
  which = np.concatenate([np.full(t.shape, k, np.int32)
                          for k, t in enumerate(traced)], axis=-1)
  offset = None
  if any(t.offset is not None for t in traced):
    offset = np.concatenate([t.offset if t.offset is not None else
                             np.zeros(t.shape) for t in traced], axis=-1)
  return transforms_lib.Traced(index, offset), which


def plan(spec, targets, sources):
  """A `TensorMapping` of `targets` from `sources`.

  Args:
    spec: a mapping specification (see `resolver`), or `between(...)`.
    targets: {name: (shape, dtype)}, e.g. a model's variables, in order.
    sources: {name: (shape, dtype)}, e.g. a checkpoint's entries.

  Raises:
    MappingError: a transforming rule does not fit the shapes (naming the
      rule's file:line and both shapes).
  """
  if isinstance(spec, Between):
    return spec.plan(targets, sources)
  resolve = resolver(spec)
  planned, missing, mismatched, wanted = {}, [], [], {}
  for name, (shape, dtype) in targets.items():
    rule, entries = resolve(name)
    if any(e not in sources for e in entries):
      missing.append(name)
      wanted[name] = entries
      continue
    if rule is None or rule.is_rename:
      entry = entries[0]
      entry_shape, entry_dtype = sources[entry]
      if tuple(entry_shape) != tuple(shape):
        mismatched.append((name, entry, "shape %s, checkpoint %s" % (
            tuple(shape), tuple(entry_shape))))
      elif np.dtype(entry_dtype) != np.dtype(dtype):
        mismatched.append((name, entry, "dtype %s, checkpoint %s" % (
            np.dtype(dtype), np.dtype(entry_dtype))))
      else:
        planned[name] = Target(name, tuple(shape), (entry,), rule)
      continue
    target = _gather(rule, name, shape,
                     entries, {e: tuple(sources[e][0]) for e in entries})
    dtypes = {np.dtype(sources[e][1]) for e in entries}
    if dtypes != {np.dtype(dtype)}:
      mismatched.append((name, " + ".join(entries), "dtype %s, checkpoint "
                         "%s" % (np.dtype(dtype), ", ".join(
                             sorted(str(d) for d in dtypes)))))
    elif target.offset is not None and np.dtype(dtype).kind not in "fc":
      raise MappingError("%s: `add` on model variable %s of dtype %s; add "
                         "applies to floating-point tensors only" % (
                             rule.where, name, np.dtype(dtype)))
    else:
      planned[name] = target
  return TensorMapping(planned, sources, missing, mismatched, wanted)


def plan_inverse(spec, targets):
  """A `TensorMapping` of `targets` from checkpoint entries whose shapes
  are inferred from the targets (no checkpoint needed): for writing a TF1
  checkpoint from a model (`inverse`), or composing two stages' rules.

  A concat's last axis is split by its parts' gate blocks; an entry cut
  into rows has as many rows as its pieces hold (so a rows slice that
  takes a whole inferred axis means a missing rule: an error). Raises
  MappingError naming the rule or entry that does not fit, or the entry
  the targets do not make exactly once, element by element.
  """
  if isinstance(spec, Between):
    raise MappingError("between(...) maps one stage to another, not to "
                       "checkpoint entries; invert a stage's own rules.")
  resolve = resolver(spec)
  pieces = collections.defaultdict(list)  # entry -> [(name, part, shape)]
  dtypes = collections.defaultdict(set)
  for name, (shape, dtype) in targets.items():
    rule, entries = resolve(name)
    if rule is None or rule.is_rename:
      pieces[entries[0]].append((name, None, tuple(shape)))
      dtypes[entries[0]].add(np.dtype(dtype))
      continue
    for entry, part_shape, part in zip(entries, _part_shapes(
        rule, name, tuple(shape)), rule.parts):
      pieces[entry].append((name, part, part_shape))
      dtypes[entry].add(np.dtype(dtype))
  sources = {}
  for entry, found in pieces.items():
    if len(dtypes[entry]) > 1:
      raise MappingError("Checkpoint entry %s would be made of model "
                         "variables of different dtypes (%s): %s." % (
                             entry, ", ".join(sorted(map(str, dtypes[entry]))),
                             ", ".join(n for n, _, _ in found)))
    sources[entry] = (_entry_shape(entry, found), dtypes[entry].pop())
  planned = plan(spec, targets, sources)
  problems = ["%s <- %s: %s" % m for m in planned.mismatched]
  problems += ["%s: no entry" % n for n in planned.missing]
  if problems:
    raise MappingError("The rules do not invert: %s." % "; ".join(problems))
  for name, target in planned.targets.items():
    _check_no_whole_axis_slice(target, sources)
  planned.check_coverage()
  return planned


def _part_shapes(rule, name, shape):
  """The shape each part of `rule` has within model variable `name`."""
  if len(rule.parts) == 1:
    return [shape]
  blocks = [transforms_lib.blocks_of(p.transforms) for p in rule.parts]
  if not shape or shape[-1] % sum(blocks):
    raise MappingError(
        "%s: model variable %s has shape %s, whose last axis does not split "
        "into the %d gate blocks of this concat (%s). Rule: %s" % (
            rule.where, name, shape, sum(blocks),
            " + ".join(map(str, blocks)), rule))
  unit = shape[-1] // sum(blocks)
  return [shape[:-1] + (b * unit,) for b in blocks]


def _entry_shape(entry, found):
  """The shape of checkpoint entry `entry` made of `found` pieces."""
  cuts = any(part is not None and any(
      isinstance(t, transforms_lib.Rows) for t in part.transforms)
             for _, part, _ in found)
  shapes = {s for _, _, s in found}
  if not cuts:
    # Pieces of other shapes are reported by the plan, as mismatches.
    return found[0][2]
  inner = {s[1:] for s in shapes}
  if len(inner) != 1 or () in shapes:
    raise MappingError(
        "Checkpoint entry %s is cut into rows, but its pieces disagree on "
        "the other axes: %s." % (entry, ", ".join(
            "%s %s" % (n, s) for n, _, s in found)))
  rest = int(np.prod(next(iter(inner)), dtype=np.int64))
  total = sum(int(np.prod(s, dtype=np.int64)) for _, _, s in found)
  return (total // max(rest, 1),) + next(iter(inner))


def _check_no_whole_axis_slice(target, sources):
  if target.rule is None or target.is_rename:
    return
  for part, entry in zip(target.rule.parts, target.sources):
    for transform in part.transforms:
      if isinstance(transform, transforms_lib.Rows) and transform.bounds(
          sources[entry][0][0]) == (0, sources[entry][0][0]):
        raise MappingError(
            "%s: `%s` of entry %s takes all %d rows the model variables "
            "give it, so the inverse cannot know the entry's size; is the "
            "rule for its other rows missing?" % (
                target.rule.where, transform, entry, sources[entry][0][0]))


class Between:
  """Stage to stage through TF1 names: candidate values =
  forward_candidate(inverse_reference(reference values)). Made by
  `between(candidate_rules, reference_rules)`; `plan(candidate variables,
  reference variables)` gives the composed `TensorMapping`."""

  def __init__(self, candidate, reference):
    self.candidate, self.reference = candidate, reference

  def __repr__(self):
    return "between(%r, %r)" % (self.candidate, self.reference)

  def plan(self, targets, sources):
    to_tf1 = plan_inverse(self.reference, sources)  # checks coverage
    from_tf1 = plan(self.candidate, targets, to_tf1.sources)
    owner = _owners(to_tf1)
    composed = {name: _compose(target, owner, to_tf1)
                for name, target in from_tf1.targets.items()}
    missing = list(from_tf1.missing)
    mismatched = list(from_tf1.mismatched)
    wanted = dict(from_tf1.wanted)
    # Shape checks of renames against the reference's own variables.
    for name, target in list(composed.items()):
      if target.is_rename and tuple(sources[target.sources[0]][0]) != (
          target.shape):
        mismatched.append((name, target.sources[0], "shape %s, reference "
                           "%s" % (target.shape,
                                   tuple(sources[target.sources[0]][0]))))
        del composed[name]
    return TensorMapping(composed, sources, missing, mismatched, wanted)


def between(candidate_rules, reference_rules):
  """A mapping from a reference stage's variables to a candidate's, when
  both stages have rules to the same TF1 names (e.g. two stages whose Keras
  LSTMs both map onto a TF1 LSTM kernel); `tf1shim.comparison` takes it as
  `mapping=`. Either side may be None (its names are the TF1 names)."""
  return Between(candidate_rules, reference_rules)


def _owners(to_tf1):
  """{TF1 entry: (reference names, which, index, offset)}: for each element
  of the entry, the reference variable and element it comes from."""
  owners = {}
  names = list(to_tf1.targets)
  for entry, users in to_tf1.users().items():
    shape, _ = to_tf1.sources[entry]
    size = int(np.prod(shape, dtype=np.int64))
    which = np.zeros(size, np.int32)
    index = np.zeros(size, np.int64)
    offset = np.zeros(size)
    for name in users:
      target = to_tf1.targets[name]
      own = np.arange(int(np.prod(target.shape, dtype=np.int64)))
      target_offset = (target.offset.reshape(-1) if target.offset is not None
                       else np.zeros(own.size))
      for piece_source, flat, mask in target.pieces():
        if piece_source != entry:
          continue
        if flat is None:
          flat = own
        elements = own if mask is None else own[mask]
        which[flat] = names.index(name)
        index[flat] = elements
        offset[flat] = target_offset[elements]
    owners[entry] = (names, which, index, offset)
  return owners


def _compose(target, owner, to_tf1):
  """A candidate target from TF1 entries, re-expressed from the reference
  variables that make those entries."""
  size = int(np.prod(target.shape, dtype=np.int64))
  which = np.empty(size, np.int32)
  index = np.empty(size, np.int64)
  offset = (target.offset.reshape(-1).copy() if target.offset is not None
            else np.zeros(size))
  names = None
  for entry, flat, mask in target.pieces():
    names, owner_which, owner_index, owner_offset = owner[entry]
    if flat is None:
      flat = np.arange(size)
    where = slice(None) if mask is None else mask
    which[where] = owner_which[flat]
    index[where] = owner_index[flat]
    offset[where] -= owner_offset[flat]
  used = sorted(set(which.tolist()))
  sources = tuple(names[k] for k in used)
  renumber = np.zeros(len(names), np.int32)
  renumber[used] = np.arange(len(used))
  which = renumber[which]
  if (len(sources) == 1 and not np.any(offset) and
      np.array_equal(index, np.arange(size)) and int(np.prod(
          to_tf1.targets[sources[0]].shape, dtype=np.int64)) == size):
    return Target(target.name, target.shape, sources, target.rule)
  return Target(target.name, target.shape, sources, target.rule,
                None if len(sources) == 1 else which.reshape(target.shape),
                index.reshape(target.shape),
                offset.reshape(target.shape) if np.any(offset) else None)
