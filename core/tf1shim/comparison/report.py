"""Comparing two `StageRun`s, quantity by quantity, in a fixed order.

The order is the order in which a migration step usually goes wrong, so the
first divergence is the most useful one to read: variables (names through
the mapping, shapes, dtypes, values), forward outputs in inference and
training modes, regularization losses, gradients, then each training step's
loss and variables.
"""

import dataclasses
import re

import numpy as np


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
  """{candidate name: reference name} from a mapping specification.

  Args:
    mapping: None (same names), a dict {candidate: reference}, a list of
      (regex, replacement) rules applied in order to each candidate name,
      or a callable.
    candidate_names: the candidate's variable names.
  """
  if mapping is None:
    return {n: n for n in candidate_names}
  if isinstance(mapping, dict):
    return {n: mapping.get(n, n) for n in candidate_names}
  if callable(mapping):
    return {n: mapping(n) for n in candidate_names}
  resolved = {}
  for name in candidate_names:
    target = name
    for pattern, replacement in mapping:
      target = re.sub(pattern, replacement, target)
    resolved[name] = target
  return resolved


def compare_runs(reference, candidate, mapping=None, tolerances=None):
  """Compares a candidate `StageRun` with a reference one.

  Args:
    reference, candidate: `StageRun`s.
    mapping: how candidate variable names map to reference names (see
      `resolve_mapping`).
    tolerances: a `Tolerances`.

  Returns:
    A `ComparisonReport`.
  """
  tol = tolerances or Tolerances()
  checks = []
  names = resolve_mapping(mapping, list(candidate.variables))
  checks.extend(_check_variable_names(reference, candidate, names))
  if all(c.passed for c in checks):
    for name, target in names.items():
      checks.append(_close("variables", name, candidate.variables[name],
                           reference.variables[target], tol.variables_rtol,
                           tol.variables_atol))
  checks.append(_close("output (inference)", "", candidate.inference_output,
                       reference.inference_output, tol.outputs_rtol,
                       tol.outputs_atol))
  checks.append(_close("output (training)", "", candidate.training_output,
                       reference.training_output, tol.outputs_rtol,
                       tol.outputs_atol))
  checks.append(_check_regularization(reference, candidate, tol))
  for name, target in names.items():
    if not candidate.trainable.get(name):
      continue
    got = candidate.gradients.get(name)
    want = reference.gradients.get(target)
    if got is None or want is None:
      checks.append(Check("gradients", name, got is None and want is None,
                          detail="no gradient on the %s side" % (
                              "candidate" if got is None else "reference")))
      continue
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
    for name, target in names.items():
      checks.append(_close(
          "variables after step %d" % step, name,
          candidate.variables_after_step[step - 1][name],
          reference.variables_after_step[step - 1][target],
          tol.training_rtol, tol.training_atol))
  return ComparisonReport(checks)


def _check_variable_names(reference, candidate, names):
  checks = []
  targets = list(names.values())
  for target in sorted({t for t in targets if targets.count(t) > 1}):
    checks.append(Check("variables", target, False, np.inf, np.inf,
                        "mapped from %d candidate variables" %
                        targets.count(target)))
  for name, target in names.items():
    if target not in reference.variables:
      checks.append(Check("variables", name, False, np.inf, np.inf,
                          "no reference variable %r" % target))
      continue
    got, want = candidate.variables[name], reference.variables[target]
    if np.shape(got) != np.shape(want) or (
        np.asarray(got).dtype != np.asarray(want).dtype):
      checks.append(Check("variables", name, False, np.inf, np.inf,
                          "%s %s vs reference %s %s" % (
                              np.asarray(got).dtype, np.shape(got),
                              np.asarray(want).dtype, np.shape(want))))
    elif candidate.trainable[name] != reference.trainable[target]:
      checks.append(Check("variables", name, False, detail=(
          "trainable=%s vs reference %s" % (candidate.trainable[name],
                                            reference.trainable[target]))))
  for target in reference.variables:
    if target not in targets:
      checks.append(Check("variables", target, False, np.inf, np.inf,
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
