"""The rules format: which checkpoint entries make each model variable.

One rule a line, first matching rule wins (`re.search`), `#` starts a
comment:

    # model variable (regex)  ->  checkpoint entry (re.sub replacement) | transform ...
    ^native_model/dense/kernel$     ->  model/head/projection/w
    ^rnn/lstm/lstm_cell/bias$       ->  rnn/lstm_cell/bias | gates i,j,f,o -> i,f,j,o | add f 1.0
    ^rnn/gru/gru_cell/bias$         ->  concat(rnn/gru_cell/gates/bias | gates r,u -> u,r ; rnn/gru_cell/candidate/bias)

The right side is split on ` | ` (space, pipe, space: a `|` in the pattern
on the left is regex alternation); its first field names the entry, the
others transform it, left to right (`transforms.py`). `concat(A ; B ...)`
joins several entries, each with its own transforms, along the last axis.
A name no rule matches is the entry of the same name. This module is the
one engine every consumer reads rules through (restore, conversion, the
CLI, `tf1shim.comparison`, the examples' naming tables).
"""

import dataclasses
import re

from tf1shim.checkpoints import transforms as transforms_lib


class MappingError(ValueError):
  """The mapping is ambiguous or invalid; the message names the rule or
  lists the candidates."""


@dataclasses.dataclass(frozen=True)
class Part:
  """One checkpoint entry of a rule: its name (a `re.sub` replacement of
  the rule's pattern) and the transforms applied to it."""
  replacement: str
  transforms: tuple = ()

  def __str__(self):
    return " | ".join([self.replacement] + [str(t) for t in self.transforms])


@dataclasses.dataclass(frozen=True)
class Rule:
  """`pattern -> replacement`, or `pattern -> part ; part ...` with
  transforms. `where` is `file:line`, for errors."""
  pattern: str
  replacement: str
  line: int = 0
  parts: tuple = None  # None: one Part(replacement), no transforms
  source: str = "<rules>"

  def __post_init__(self):
    if self.parts is None:
      object.__setattr__(self, "parts", (Part(self.replacement),))

  @property
  def where(self):
    return "%s:%d" % (self.source, self.line)

  @property
  def is_rename(self):
    """One entry, untransformed: streams, and its inverse is the rename."""
    return len(self.parts) == 1 and not self.parts[0].transforms

  def matches(self, name):
    return re.search(self.pattern, name) is not None

  def entries(self, name):
    """The checkpoint entry names of model variable `name`, one per part."""
    return tuple(re.sub(self.pattern, part.replacement, name)
                 for part in self.parts)

  def apply(self, name):
    """The entry of a one-part rule (the rename)."""
    if len(self.parts) != 1:
      raise MappingError("%s: this rule joins %d entries; use the entries "
                         "of `Rules.match`" % (self.where, len(self.parts)))
    return self.entries(name)[0]

  def describe(self, name):
    """The right side for `name`: entry names and transforms."""
    texts = [" | ".join([entry] + [str(t) for t in part.transforms])
             for entry, part in zip(self.entries(name), self.parts)]
    return texts[0] if len(texts) == 1 else "concat(%s)" % " ; ".join(texts)

  def __str__(self):
    right = (str(self.parts[0]) if len(self.parts) == 1 else
             "concat(%s)" % " ; ".join(str(p) for p in self.parts))
    return "%s -> %s" % (self.pattern, right)


class Rules(list):
  """Parsed rules, in order. `match(name)`: the first rule that matches."""

  def match(self, name):
    """(the first rule whose pattern matches `name`, its entries), or
    (None, (name,)) when none does."""
    for rule in self:
      if rule.matches(name):
        return rule, rule.entries(name)
    return None, (name,)

  @property
  def transforms(self):
    """Whether any rule transforms tensors (not only renames)."""
    return any(not rule.is_rename for rule in self)


def as_rules(spec):
  """`Rules` from parsed rules or (regex, replacement) pairs."""
  if isinstance(spec, Rules):
    return spec
  rules = Rules()
  for number, item in enumerate(spec, start=1):
    if isinstance(item, Rule):
      rules.append(item)
    else:
      pattern, right = item
      rules.append(_parse_rule(pattern, right, "<rules>", number))
  return rules


_CONCAT = re.compile(r"^concat\s*\((.*)\)$")


def _strip_comment(raw):
  if raw.lstrip().startswith("#"):
    return ""
  return raw.split(" #", 1)[0].strip()


def _parse_part(text, compiled, pattern, where):
  fields = [f.strip() for f in text.split(" | ")]
  replacement = fields[0]
  if not replacement:
    raise MappingError("%s: expected a checkpoint entry before the "
                       "transforms, got %r" % (where, text))
  if any(c in replacement for c in " \t|;"):
    raise MappingError(
        "%s: %r is not one entry name; separate transforms with ' | ' "
        "(space, pipe, space), e.g. `kernel | rows 0:16`" % (where,
                                                            replacement))
  try:
    # Parses the replacement against the pattern (group references,
    # escapes) now, not when a name first matches.
    compiled.sub(replacement, "")
  except (re.error, IndexError) as e:
    raise MappingError("%s: invalid replacement %r for pattern %r: %s"
                       " (the pattern has %d group(s))" % (
                           where, replacement, pattern, e,
                           compiled.groups)) from e
  try:
    chain = tuple(transforms_lib.parse(f) for f in fields[1:])
    transforms_lib.check_chain(chain)
  except transforms_lib.TransformError as e:
    raise MappingError("%s: %s" % (where, e)) from e
  return Part(replacement, chain)


def parse_rules(text, source="<rules>"):
  """`Rules` from the text format above; errors name `source:line`."""
  rules = Rules()
  for number, raw in enumerate(text.splitlines(), start=1):
    line = _strip_comment(raw)
    if not line:
      continue
    if "->" not in line:
      raise MappingError("%s:%d: expected 'pattern -> replacement', got %r"
                         % (source, number, raw))
    pattern, right = (part.strip() for part in line.split("->", 1))
    rules.append(_parse_rule(pattern, right, source, number))
  return rules


def _parse_rule(pattern, right, source, number):
  """The Rule `pattern -> right` at `source:number`."""
  where = "%s:%d" % (source, number)
  try:
    compiled = re.compile(pattern)
  except re.error as e:
    raise MappingError("%s: invalid pattern %r: %s" % (
        where, pattern, e)) from e
  right = right.strip()
  concat = _CONCAT.match(right)
  if concat:
    texts = [t.strip() for t in concat.group(1).split(" ; ")]
    if len(texts) < 2 or not all(texts):
      raise MappingError(
          "%s: concat(...) joins two or more entries separated by ' ; ' "
          "(space, semicolon, space), got %r" % (where, right))
  elif right.startswith("concat"):
    raise MappingError("%s: expected `concat(A | transforms ; B | "
                       "transforms)` with nothing after the closing "
                       "parenthesis, got %r" % (where, right))
  else:
    texts = [right]
  parts = tuple(_parse_part(t, compiled, pattern, where) for t in texts)
  return Rule(pattern, parts[0].replacement, number, parts, source)


def load_rules(path):
  """The rules of the UTF-8 text file at `path`."""
  with open(path, "rb") as f:
    data = f.read()
  try:
    text = data.decode("utf-8")
  except UnicodeDecodeError as e:
    raise MappingError("Rules file %s is not UTF-8 text (byte %d); save it "
                       "as UTF-8." % (path, e.start)) from e
  return parse_rules(text, source=path)
