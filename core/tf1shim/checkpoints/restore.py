"""Restoring a TF1 name-based checkpoint into a model, with verification.

Every model variable is set exactly once or reported missing; every
checkpoint entry is used or reported unused; shapes and dtypes are checked
before anything is assigned, and tensors are read one at a time.
"""

import dataclasses
import re

import numpy as np

import tf1shim
from tf1shim.checkpoints import mapping as mapping_lib
from tf1shim.checkpoints import reader as reader_lib


# TF1 training bookkeeping, not model weights: the global step and the
# optimizers' slot variables.
TRAINING_STATE = (r"^global_step$", r"^beta[12]_power(_\d+)?$",
                  r"/(Adam|Adam_1|Momentum|RMSProp|RMSProp_1|Adagrad|"
                  r"Adadelta|Adadelta_1|Ftrl|Ftrl_1)$")


@dataclasses.dataclass
class RestoreReport:
  """What a restore did (or, with `dry_run`, would do)."""
  checkpoint: str
  assigned: dict  # model variable name -> checkpoint entry
  missing: list  # model variables with no checkpoint entry
  unused: list  # checkpoint entries no variable took
  mismatched: list  # (model name, entry, why)
  ignored: list = dataclasses.field(default_factory=list)  # by `ignore`

  @property
  def complete(self):
    return not (self.missing or self.unused or self.mismatched)

  def __str__(self):
    lines = ["Restore from %s: %d variables set, %d missing, %d unused "
             "checkpoint entries, %d mismatched." % (
                 self.checkpoint, len(self.assigned), len(self.missing),
                 len(self.unused), len(self.mismatched))]
    lines += ["  mismatch: %s <- %s: %s" % m for m in self.mismatched]
    lines += ["  missing in checkpoint: %s" % n for n in self.missing]
    lines += ["  unused checkpoint entry: %s" % n for n in self.unused]
    return "\n".join(lines)


class RestoreError(ValueError):
  """A strict restore found something unmatched; carries the report."""

  def __init__(self, report):
    super().__init__(str(report))
    self.report = report


def model_variables(target):
  """[(name, variable)] of a Keras layer/model, tf.Module or list."""
  if isinstance(target, (list, tuple)):
    variables = list(target)
  else:
    variables = list(getattr(target, "weights", None) or target.variables)
  named = [(_name(v), v) for v in variables]
  seen = {}
  for name, _ in named:
    seen[name] = seen.get(name, 0) + 1
  duplicates = sorted(n for n, count in seen.items() if count > 1)
  if duplicates:
    raise mapping_lib.MappingError(
        "Several model variables share the name(s) %s; name-based restore "
        "needs unique names." % ", ".join(duplicates))
  return named


def _name(variable):
  name = tf1shim.tf1_name(variable)
  return name[:-2] if name.endswith(":0") else name


def plan(reader, named_variables, mapping=None):
  """{model name: checkpoint entry} from a mapping specification.

  Args:
    reader: a `CheckpointReader`.
    named_variables: [(name, variable)].
    mapping: None (by TF1 name), "auto", a list of `Rule`s, a dict, or a
      callable `model name -> entry`.
  """
  names = [n for n, _ in named_variables]
  if mapping is None:
    return {n: n for n in names}
  if mapping == "auto":
    return mapping_lib.map_automatically(
        [(n, tuple(v.shape)) for n, v in named_variables],
        [(e.name, e.shape) for e in reader.entries.values()])
  if isinstance(mapping, dict):
    return {n: mapping.get(n, n) for n in names}
  if callable(mapping):
    return {n: mapping(n) for n in names}
  return mapping_lib.map_by_rules(names, mapping)


def restore_checkpoint(path, target, mapping=None, strict=False,
                       dry_run=False, ignore=()):
  """Sets `target`'s variables from the TF1 checkpoint at `path`.

  Args:
    path: the checkpoint prefix.
    target: a Keras layer/model, a tf.Module, or a list of variables.
    mapping: see `plan`.
    strict: raise `RestoreError` (and assign nothing) if any variable is
      missing or mismatched, or any checkpoint entry is unused.
    dry_run: check and report only.
    ignore: regexes of checkpoint entries that need no variable (e.g.
      `TRAINING_STATE`: the global step and optimizer slots); listed as
      `ignored`, not `unused`.

  Returns:
    A `RestoreReport`.
  """
  reader = reader_lib.CheckpointReader(path)
  named = model_variables(target)
  planned = plan(reader, named, mapping)
  report = RestoreReport(reader.prefix, {}, [], [], [])
  taken = {}
  for name, variable in named:
    entry_name = planned[name]
    entry = reader.entries.get(entry_name)
    if entry is None:
      report.missing.append(name)
      continue
    shape = tuple(variable.shape)
    dtype = np.dtype(getattr(variable.dtype, "as_numpy_dtype",
                             variable.dtype))
    if entry.shape != shape:
      report.mismatched.append((name, entry_name, "shape %s, checkpoint %s"
                                % (shape, entry.shape)))
      continue
    if entry.dtype != dtype:
      report.mismatched.append((name, entry_name, "dtype %s, checkpoint %s"
                                % (dtype, entry.dtype)))
      continue
    if entry_name in taken:
      report.mismatched.append((name, entry_name, "entry already taken by %s"
                                % taken[entry_name]))
      continue
    taken[entry_name] = name
    report.assigned[name] = entry_name
  untaken = [n for n in reader.entries if n not in taken]
  report.ignored = [n for n in untaken
                    if any(re.search(p, n) for p in ignore)]
  report.unused = [n for n in untaken if n not in report.ignored]
  if strict and not report.complete:
    raise RestoreError(report)
  if not dry_run:
    variables = dict(named)
    for name, entry_name in report.assigned.items():
      variables[name].assign(reader.read(entry_name))
  return report
