"""Mapping checkpoint names to a model's variables.

Three ways, in order of preference:

* by TF1 name: shim stages keep TF1 names (`variable.path` is the name);
* by rules: ordered regex rewrites from a model variable's name to a
  checkpoint name, in a small text format meant for review in a pull request:

      # native Keras names -> TF1 names
      ^fully_native_model/conv2d(_\\d+)?/(kernel|bias)$  ->  model/conv2d/\\2
      ^fully_native_model/dense/                        ->  model/dense/

  The first rule whose pattern matches rewrites the name (`re.sub`); a name no
  rule matches is looked up unchanged.
* automatically: by leaf name (`kernel`, `moving_mean`), shape, and the order
  of same-kind layers (TF1's `dense`, `dense_1`, ... against the model's
  creation order); a variable whose leaf name matches nothing is matched by
  shape among the entries left, if exactly one has it. It refuses to guess:
  when a variable has several equally good candidates it raises, listing
  them.
"""

import collections
import dataclasses
import re


class MappingError(ValueError):
  """The mapping is ambiguous or invalid; the message lists the candidates."""


@dataclasses.dataclass(frozen=True)
class Rule:
  pattern: str
  replacement: str
  line: int = 0

  def apply(self, name):
    return re.sub(self.pattern, self.replacement, name)


def parse_rules(text, source="<rules>"):
  """Rules from the text format above; errors name the line."""
  rules = []
  for number, raw in enumerate(text.splitlines(), start=1):
    line = raw.split(" #", 1)[0].strip() if not raw.lstrip().startswith(
        "#") else ""
    if not line:
      continue
    if "->" not in line:
      raise MappingError("%s:%d: expected 'pattern -> replacement', got %r" %
                         (source, number, raw))
    pattern, replacement = (part.strip() for part in line.split("->", 1))
    try:
      compiled = re.compile(pattern)
    except re.error as e:
      raise MappingError("%s:%d: invalid pattern %r: %s" % (
          source, number, pattern, e)) from e
    try:
      # Parses the replacement against the pattern (group references,
      # escapes) now, not when a name first matches.
      compiled.sub(replacement, "")
    except (re.error, IndexError) as e:
      raise MappingError("%s:%d: invalid replacement %r for pattern %r: %s"
                         " (the pattern has %d group(s))" % (
                             source, number, replacement, pattern, e,
                             compiled.groups)) from e
    rules.append(Rule(pattern, replacement, number))
  return rules


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


def map_by_rules(model_names, rules):
  """{model name: checkpoint name}, first matching rule wins."""
  mapping = {}
  for name in model_names:
    target = name
    for rule in rules:
      if re.search(rule.pattern, name):
        target = rule.apply(name)
        break
    mapping[name] = target
  return mapping


_SUFFIX = re.compile(r"^(.*?)(?:_(\d+))?$")


def _layer_kind_and_index(scope_leaf):
  """`conv2d_3` -> ("conv2d", 3); `conv2d` -> ("conv2d", 0)."""
  base, index = _SUFFIX.match(scope_leaf).groups()
  return base, int(index) if index else 0


def _key(name, shape):
  parts = name.split("/")
  leaf = parts[-1]
  layer = parts[-2] if len(parts) > 1 else ""
  kind, _ = _layer_kind_and_index(layer)
  return (leaf, tuple(shape), kind)


def _order(name):
  parts = name.split("/")
  layer = parts[-2] if len(parts) > 1 else ""
  _, index = _layer_kind_and_index(layer)
  return (index, name)


def map_automatically(model_variables, checkpoint_entries):
  """{model name: checkpoint name} by leaf name, shape and layer order.

  Args:
    model_variables: [(name, shape)] in the model's creation order.
    checkpoint_entries: [(name, shape)].

  Raises:
    MappingError: if a model variable has no unique candidate; the message
      lists the candidates.
  """
  by_key = collections.defaultdict(list)
  for name, shape in checkpoint_entries:
    by_key[_key(name, shape)].append(name)
  model_by_key = collections.defaultdict(list)
  for name, shape in model_variables:
    model_by_key[_key(name, shape)].append(name)
  mapping, problems, deferred = {}, [], []
  for key, model_names in model_by_key.items():
    candidates = sorted(by_key.get(key, []), key=_order)
    if not candidates:
      deferred.append((key, model_names))
    elif len(candidates) == len(model_names) == 1:
      mapping[model_names[0]] = candidates[0]
    elif len(candidates) == len(model_names) and _numbered(candidates):
      # TF1 numbered same-kind layers in creation order: pair in order.
      for model_name, candidate in zip(model_names, candidates):
        mapping[model_name] = candidate
    else:
      problems.append(
          "%s (shape %s) could be any of: %s" % (
              ", ".join(model_names), list(key[1]), ", ".join(candidates)))
  # Names that differ (get_variable's `w` for a Keras `kernel`): match by
  # shape among the entries nothing else took, only when unique.
  claimed = set(mapping.values())
  for key, model_names in deferred:
    free = sorted(name for name, shape in checkpoint_entries
                  if tuple(shape) == key[1] and name not in claimed)
    if len(free) == len(model_names) == 1:
      mapping[model_names[0]] = free[0]
      claimed.add(free[0])
    else:
      problems.append("%s (shape %s): %s" % (
          ", ".join(model_names), list(key[1]),
          "could be any of: " + ", ".join(free) if free else
          "no checkpoint entry of that shape is left"))
  if problems:
    raise MappingError(
        "The automatic matcher will not guess; give rules for:\n  " +
        "\n  ".join(problems))
  return mapping


def _numbered(names):
  """Whether names differ only by TF1's `_N` layer numbering."""
  stems = {("/".join(n.split("/")[:-2]), _layer_kind_and_index(
      n.split("/")[-2] if "/" in n else "")[0]) for n in names}
  indices = [_order(n)[0] for n in names]
  return len(stems) == 1 and len(set(indices)) == len(indices)
