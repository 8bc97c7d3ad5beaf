"""Comparing two `StageRun`s, quantity by quantity, in a fixed order.

The order is the order in which a migration step usually goes wrong, so the
first divergence is the most useful one to read: variables (names through
the mapping, shapes, dtypes, values), forward outputs in inference and
training modes, regularization losses, gradients, then each training step's
loss and variables.
"""

import dataclasses

import numpy as np

from tf1shim.checkpoints import tensor_mapping as checkpoints_mapping


@dataclasses.dataclass(frozen=True)
class Tolerances:
  """How close is equal, per quantity (`abs(a - b) <= atol + rtol * abs(b)`).

  Defaults, and why:
    variables (1e-6, 1e-7): drawn by the same ops under the random tool, or
      copied, so equal; but recorded after the first training-mode forward,
      which moves batch-norm averages (update formulas differ in rounding).
    outputs (1e-6, 1e-6): the same math may run as different kernels
      (`tensordot` vs `matmul`, fused vs plain batch norm): a few ulps.
    regularization (1e-6, 1e-7): sums of squares, reassociated.
    gradients (1e-5, 1e-6): backprop through equivalent but different graphs
      compounds the forward's rounding.
    training (1e-5, 1e-6): per step, after rounding compounds over steps and
      optimizer formulas differ in form (Keras's momentum SGD keeps
      `-lr * accumulator`, TF1 keeps the accumulator).
  """
  variables_rtol: float = 1e-6
  variables_atol: float = 1e-7
  outputs_rtol: float = 1e-6
  outputs_atol: float = 1e-6
  regularization_rtol: float = 1e-6
  regularization_atol: float = 1e-7
  gradients_rtol: float = 1e-5
  gradients_atol: float = 1e-6
  training_rtol: float = 1e-5
  training_atol: float = 1e-6


@dataclasses.dataclass
class Check:
  quantity: str  # e.g. "variables", "output (training)", "loss at step 2"
  where: str  # the variable or output concerned ("" when not applicable)
  passed: bool
  max_abs_error: float = 0.0
  max_rel_error: float = 0.0
  detail: str = ""

  def __str__(self):
    status = "ok" if self.passed else "DIVERGED"
    where = " [%s]" % self.where if self.where else ""
    errors = ("max abs %.3g, max rel %.3g" % (self.max_abs_error,
                                              self.max_rel_error))
    detail = "; %s" % self.detail if self.detail else ""
    return "%-8s %s%s: %s%s" % (status, self.quantity, where, errors, detail)


@dataclasses.dataclass
class ComparisonReport:
  """Every check, in order; `first_divergence` is the one to read."""
  checks: list

  @property
  def ok(self):
    return all(c.passed for c in self.checks)

  @property
  def first_divergence(self):
    return next((c for c in self.checks if not c.passed), None)

  def __str__(self):
    lines = []
    first = self.first_divergence
    if first is None:
      lines.append("The stages match (%d checks)." % len(self.checks))
    else:
      lines.append("First divergence: %s%s (max abs error %.3g, max rel "
                   "error %.3g)%s" % (
                       first.quantity,
                       " in " + first.where if first.where else "",
                       first.max_abs_error, first.max_rel_error,
                       ": " + first.detail if first.detail else ""))
    lines.extend("  " + str(c) for c in self.checks)
    return "\n".join(lines)


def _errors(actual, expected):
  actual = np.asarray(actual, dtype=np.float64)
  expected = np.asarray(expected, dtype=np.float64)
  diff = np.abs(actual - expected)
  if diff.size == 0:
    return 0.0, 0.0
  with np.errstate(divide="ignore", invalid="ignore"):
    rel = np.where(expected != 0, diff / np.abs(expected),
                   np.where(diff == 0, 0.0, np.inf))
  return float(diff.max()), float(rel.max())


def _close(quantity, where, actual, expected, rtol, atol):
  if np.shape(actual) != np.shape(expected):
    return Check(quantity, where, False, np.inf, np.inf,
                 "shape %s vs %s" % (np.shape(actual), np.shape(expected)))
  abs_error, rel_error = _errors(actual, expected)
  passed = bool(np.all(np.abs(np.asarray(actual, np.float64) -
                              np.asarray(expected, np.float64)) <=
                       atol + rtol * np.abs(np.asarray(expected,
                                                       np.float64))))
  return Check(quantity, where, passed, abs_error, rel_error)


def resolve_mapping(mapping, candidate_names):
  """{candidate name: reference name} from a renaming specification.

  Args:
    mapping: None (same names), a dict {candidate: reference}, rules
      (`tf1shim.checkpoints.parse_rules`, or (regex, replacement) pairs),
      read by the one rules engine, `tf1shim.checkpoints`: the first
      matching rule rewrites the name), or a callable.
    candidate_names: the candidate's variable names.

  Raises:
    MappingError: a rule joins several entries (`concat`): it has no one
      name; use `plan_mapping`.
  """
  resolve = checkpoints_mapping.resolver(mapping)
  resolved = {}
  for name in candidate_names:
    rule, targets = resolve(name)
    if len(targets) != 1:
      raise checkpoints_mapping.MappingError(
          "%s: %s is made of several reference variables (%s); it has no "
          "one name." % (rule.where, name, ", ".join(targets)))
    resolved[name] = targets[0]
  return resolved


def plan_mapping(mapping, candidate, reference):
  """The `tf1shim.checkpoints` plan of the candidate's variables from the
  reference's: `mapping` is None, a dict, rules (with transforms), a
  callable, or `tf1shim.checkpoints.between(candidate_rules,
  reference_rules)` when both stages map to TF1 names by rules.

  Args:
    candidate, reference: {name: value} (values give shapes and dtypes).
  """
  def shapes(values):
    return {n: (np.shape(v), np.asarray(v).dtype) for n, v in values.items()}

  return checkpoints_mapping.plan(mapping, shapes(candidate),
                                  shapes(reference))


def compare_runs(reference, candidate, mapping=None, tolerances=None):
  """Compares a candidate `StageRun` with a reference one.

  Args:
    reference, candidate: `StageRun`s.
    mapping: how the candidate's variables are made of the reference's (see
      `plan_mapping`): the expected variables, variables after each step
      and gradients (the linear part of a transform) are the reference's,
      mapped.
    tolerances: a `Tolerances`.

  Returns:
    A `ComparisonReport`.

  Raises:
    MappingError: a rule's transforms do not fit the shapes.
  """
  tol = tolerances or Tolerances()
  checks = []
  planned = plan_mapping(mapping, candidate.variables, reference.variables)
  checks.extend(_check_variable_names(reference, candidate, planned))
  targets = planned.targets
  if all(c.passed for c in checks):
    expected = planned.forward(reference.variables)
    for name in targets:
      checks.append(_close("variables", name, candidate.variables[name],
                           expected[name], tol.variables_rtol,
                           tol.variables_atol))
  checks.append(_close("output (inference)", "", candidate.inference_output,
                       reference.inference_output, tol.outputs_rtol,
                       tol.outputs_atol))
  checks.append(_close("output (training)", "", candidate.training_output,
                       reference.training_output, tol.outputs_rtol,
                       tol.outputs_atol))
  checks.append(_check_regularization(reference, candidate, tol))
  for name, target in targets.items():
    if not candidate.trainable.get(name):
      continue
    got = candidate.gradients.get(name)
    wants = [reference.gradients.get(s) for s in target.sources]
    if got is None or any(w is None for w in wants):
      checks.append(Check("gradients", name, got is None and all(
          w is None for w in wants), detail="no gradient on the %s side" % (
              "candidate" if got is None else "reference")))
      continue
    want = target.forward(reference.gradients, linear=True)
    checks.append(_close("gradients", name, got, want, tol.gradients_rtol,
                         tol.gradients_atol))
  if len(candidate.losses) != len(reference.losses):
    checks.append(Check("training steps", "", False,
                        detail="%d vs %d steps" % (len(candidate.losses),
                                                   len(reference.losses))))
  for step, (got, want) in enumerate(zip(candidate.losses, reference.losses),
                                     start=1):
    checks.append(_close("loss at step %d" % step, "", got, want,
                         tol.training_rtol, tol.training_atol))
    expected = planned.forward(reference.variables_after_step[step - 1])
    for name in targets:
      checks.append(_close(
          "variables after step %d" % step, name,
          candidate.variables_after_step[step - 1][name], expected[name],
          tol.training_rtol, tol.training_atol))
  return ComparisonReport(checks)


def _check_variable_names(reference, candidate, planned):
  """Every candidate variable made of reference variables of its shape,
  dtype and trainability; every reference variable used exactly once."""
  checks = []
  users = planned.users()
  renamed = {}
  for target in planned.targets.values():
    if target.is_rename:
      renamed.setdefault(target.sources[0], []).append(target.name)
  for source in sorted(users):
    if len(renamed.get(source, ())) > 1:
      checks.append(Check("variables", source, False, np.inf, np.inf,
                          "mapped from %d candidate variables" %
                          len(renamed[source])))
    elif any(not planned.targets[n].is_rename for n in users[source]):
      problem = planned.coverage_problem(source)
      if problem:
        checks.append(Check("variables", source, False, np.inf, np.inf,
                            "reference " + problem))
  for name in candidate.variables:
    if name in planned.missing:
      checks.append(Check("variables", name, False, np.inf, np.inf,
                          "no reference variable %s" % " or ".join(
                              map(repr, planned.wanted[name]))))
  for name, source, why in planned.mismatched:
    got, want = candidate.variables[name], reference.variables.get(source)
    checks.append(Check("variables", name, False, np.inf, np.inf,
                        "%s %s vs reference %s %s" % (
                            np.asarray(got).dtype, np.shape(got),
                            np.asarray(want).dtype, np.shape(want))
                        if want is not None else why))
  for name, target in planned.targets.items():
    flags = {reference.trainable[s] for s in target.sources}
    if flags != {candidate.trainable[name]}:
      checks.append(Check("variables", name, False, detail=(
          "trainable=%s vs reference %s" % (
              candidate.trainable[name],
              " ".join(str(reference.trainable[s])
                       for s in target.sources)))))
  for source in reference.variables:
    if source not in users:
      checks.append(Check("variables", source, False, np.inf, np.inf,
                          "reference variable with no candidate"))
  return checks


def _check_regularization(reference, candidate, tol):
  got, want = candidate.regularization_losses, reference.regularization_losses
  if len(got) != len(want):
    return Check("regularization loss", "", False,
                 abs(sum(got) - sum(want)), np.inf,
                 "%d losses vs %d (total %.6g vs %.6g)" % (
                     len(got), len(want), sum(got), sum(want)))
  return _close("regularization loss", "", sorted(got), sorted(want),
                tol.regularization_rtol, tol.regularization_atol)
