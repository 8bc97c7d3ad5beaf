"""Mapping checkpoint names to a model's variables.

Three ways, in order of preference:

* by TF1 name: shim stages keep TF1 names (`variable.path` is the name);
* by rules (`rules.py`, the one rules engine): ordered regex rewrites from a
  model variable's name to a checkpoint name, optionally with tensor
  transforms, in a small text format meant for review in a pull request:

      # native Keras names -> TF1 names
      ^fully_native_model/conv2d(_\\d+)?/(kernel|bias)$  ->  model/conv2d/\\2
      ^fully_native_model/dense/                        ->  model/dense/

  The first rule whose pattern matches rewrites the name (`re.sub`); a name no
  rule matches is looked up unchanged. Rules that transform tensors are
  planned against shapes by `tensor_mapping.py`.
* automatically: by leaf name (`kernel`, `moving_mean`), shape, and the order
  of same-kind layers (TF1's `dense`, `dense_1`, ... against the model's
  creation order); a variable whose leaf name matches nothing is matched by
  shape among the entries left, if exactly one has it. It refuses to guess:
  when a variable has several equally good candidates it raises, listing
  them.
"""

import collections
import re

from tf1shim.checkpoints import rules as rules_lib

MappingError = rules_lib.MappingError
Rule = rules_lib.Rule
Rules = rules_lib.Rules
parse_rules = rules_lib.parse_rules
load_rules = rules_lib.load_rules


def map_by_rules(model_names, rules):
  """{model name: checkpoint name}, first matching rule wins.

  A rule that joins several entries (`concat`) has no single name: plan it
  with `tensor_mapping.plan` instead (MappingError here).
  """
  rules = rules_lib.as_rules(rules)
  mapping = {}
  for name in model_names:
    rule, entries = rules.match(name)
    if len(entries) != 1:
      raise MappingError("%s: %s is made of %d checkpoint entries, not "
                         "renamed; use checkpoints.plan_mapping." % (
                             rule.where, name, len(entries)))
    mapping[name] = entries[0]
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
