"""Restoring a TF1 name-based checkpoint into a model, with verification.

Every model variable is set exactly once or reported missing; every
checkpoint entry is used or reported unused (or, through rules that
transform tensors, partly used); shapes, dtypes and the rules' transforms
are checked before anything is assigned (`tensor_mapping.plan`), and
tensors are read one at a time (an entry that several transformed
variables are made of, such as a TF1 LSTM kernel, is kept until the last
of them has read it).
"""

import dataclasses
import re
import warnings

import numpy as np

import tf1shim
from tf1shim import checkpoint_initializers
from tf1shim.checkpoints import mapping as mapping_lib
from tf1shim.checkpoints import reader as reader_lib
from tf1shim.checkpoints import tensor_mapping


# TF1 training bookkeeping, not model weights: the global step and the
# optimizers' slot variables.
TRAINING_STATE = (r"^global_step$", r"^beta[12]_power(_\d+)?$",
                  r"/(Adam|Adam_1|Momentum|RMSProp|RMSProp_1|RMSProp_2|"
                  r"Adagrad|Adadelta|Adadelta_1|Ftrl|Ftrl_1)$")


@dataclasses.dataclass
class RestoreReport:
  """What a restore did (or, with `dry_run`, would do)."""
  checkpoint: str
  assigned: dict  # model variable name -> entry (a tuple for a concat)
  missing: list  # model variables with no checkpoint entry
  unused: list  # checkpoint entries no variable took
  mismatched: list  # (model name, entry, why)
  ignored: list = dataclasses.field(default_factory=list)  # by `ignore`
  # model variable name -> the rule's right side, for transformed ones
  transformed: dict = dataclasses.field(default_factory=dict)
  # entries the transforms use partly or twice: what is wrong, per entry
  uncovered: list = dataclasses.field(default_factory=list)
  # the `TensorMapping` of the assigned variables (for converters)
  plan: object = dataclasses.field(default=None, repr=False, compare=False)
  # model variable name -> parts: copied as stored from an entry TF1 saved
  # partitioned along axis 0 (see `restore_checkpoint`)
  partitioned: dict = dataclasses.field(default_factory=dict)

  @property
  def complete(self):
    return not (self.missing or self.unused or self.mismatched or
                self.uncovered)

  def entries(self):
    """Every checkpoint entry some variable is made of."""
    return {e for value in self.assigned.values()
            for e in ((value,) if isinstance(value, str) else value)}

  def __str__(self):
    lines = ["Restore from %s: %d variables set (%d transformed), %d "
             "missing, %d unused checkpoint entries, %d mismatched." % (
                 self.checkpoint, len(self.assigned), len(self.transformed),
                 len(self.missing), len(self.unused), len(self.mismatched))]
    lines += ["  mismatch: %s <- %s: %s" % m for m in self.mismatched]
    lines += ["  missing in checkpoint: %s" % n for n in self.missing]
    lines += ["  unused checkpoint entry: %s" % n for n in self.unused]
    lines += ["  partly used checkpoint entry: %s" % p
              for p in self.uncovered]
    lines += ["  saved in %d parts (see mod_partitions): %s" % (parts, n)
              for n, parts in sorted(self.partitioned.items())]
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


def variable_dtype(variable):
  return np.dtype(getattr(variable.dtype, "as_numpy_dtype", variable.dtype))


def plan(reader, named_variables, mapping=None):
  """The `TensorMapping` of the model's variables from the checkpoint.

  Args:
    reader: a `CheckpointReader`.
    named_variables: [(name, variable)].
    mapping: None (by TF1 name), "auto", rules (`load_rules`, the one rules
      engine: first matching rule wins, with transforms), a dict, or a
      callable `model name -> entry`.

  Raises:
    MappingError: "auto" is ambiguous, or a rule's transforms do not fit
      the shapes (naming the rule and both shapes).
  """
  targets = {n: (tuple(v.shape), variable_dtype(v))
             for n, v in named_variables}
  sources = {e.name: (e.shape, e.dtype) for e in reader.entries.values()}
  if isinstance(mapping, str) and mapping == "auto":
    mapping = mapping_lib.map_automatically(
        [(n, shape) for n, (shape, _) in targets.items()],
        [(e.name, e.shape) for e in reader.entries.values()])
  return tensor_mapping.plan(mapping, targets, sources)


def restore_checkpoint(path, target, mapping=None, strict=False,
                       dry_run=False, ignore=()):
  """Sets `target`'s variables from the TF1 checkpoint at `path`.

  Args:
    path: the checkpoint prefix.
    target: a Keras layer/model, a tf.Module, or a list of variables.
    mapping: see `plan`.
    strict: raise `RestoreError` (and assign nothing) if any variable is
      missing or mismatched, or any checkpoint entry is unused (or, through
      transforms, partly used).
    dry_run: check and report only.
    ignore: regexes of checkpoint entries that need no variable (e.g.
      `TRAINING_STATE`: the global step and optimizer slots); listed as
      `ignored`, not `unused`.

  Returns:
    A `RestoreReport`.

  Raises:
    MappingError: a rule does not fit (before anything is assigned).
  """
  reader = reader_lib.CheckpointReader(path)
  named = model_variables(target)
  planned = plan(reader, named, mapping)
  report = RestoreReport(reader.prefix, {}, list(planned.missing), [],
                         list(planned.mismatched))
  taken = {}  # entry -> the variable a rename gave it to
  for name, _ in named:
    planned_target = planned.targets.get(name)
    if planned_target is None:
      continue
    if planned_target.is_rename:
      entry = planned_target.sources[0]
      if entry in taken:
        report.mismatched.append((name, entry, "entry already taken by %s"
                                  % taken[entry]))
        continue
      taken[entry] = name
      report.assigned[name] = entry
    else:
      sources = planned_target.sources
      report.assigned[name] = sources[0] if len(sources) == 1 else sources
      report.transformed[name] = planned_target.description
  kept = {n: planned.targets[n] for n in report.assigned}
  kept_plan = tensor_mapping.TensorMapping(kept, planned.sources)
  report.plan = kept_plan
  for entry in sorted({e for t in kept.values() if not t.is_rename
                       for e in t.sources}):
    problem = kept_plan.coverage_problem(entry)
    if problem:
      report.uncovered.append(problem)
  for name, entry in report.assigned.items():
    if name not in report.transformed and reader.row_parts(entry) > 1:
      report.partitioned[name] = reader.row_parts(entry)
  if report.partitioned:
    warnings.warn(_partitioned_warning(report), stacklevel=2)
  used = report.entries()
  untaken = [n for n in reader.entries if n not in used]
  report.ignored = [n for n in untaken
                    if any(re.search(p, n) for p in ignore)]
  report.unused = [n for n in untaken if n not in report.ignored]
  if strict and not report.complete:
    raise RestoreError(report)
  if not dry_run:
    variables = dict(named)
    read = cached_reader(reader, kept_plan)
    for name, planned_target in kept.items():
      variables[name].assign(planned_target.forward(read))
    # TF1 code's init_from_checkpoint no longer applies to them (a restore
    # came after the initializers in TF1).
    checkpoint_initializers.settle(variables[name] for name in kept)
  return report


def _partitioned_warning(report):
  name, parts = sorted(report.partitioned.items())[0]
  return (
      "%s: TF1 saved %s partitioned (a partitioner split its rows into "
      "parts), and the restore copies it as stored, the parts one after the "
      "other. Right for a matmul or a lookup with partition_strategy='div'; "
      "if TF1 code looked it up with embedding_lookup's default 'mod', id i "
      "was in part i %% N: restore with the rule '^%s$ -> %s | "
      "mod_partitions %d'." % (
          ", ".join("%s (%d parts)" % item
                    for item in sorted(report.partitioned.items())),
          "it" if len(report.partitioned) == 1 else "them", re.escape(name),
          report.assigned[name], parts))


def cached_reader(reader, planned):
  """`reader.read`, keeping an entry that several variables are made of
  until the last of them has read it."""
  left = {e: len(names) for e, names in planned.users().items()}
  cache = {}

  def read(entry):
    left[entry] = left.get(entry, 0) - 1
    value = cache.pop(entry, None)
    if value is None:
      value = reader.read(entry)
    if left[entry] > 0:
      cache[entry] = value
    return value

  return read
