"""Stage comparison: does a migration step leave the model unchanged?

Example (the guide's chain, stage 1 vs stage 4):

    from tf1shim import comparison

    batches = [(x, y)] * 4     # first batch: forwards; the rest: train steps
    loss = lambda y, out: tf.reduce_mean(tf.square(out - y))
    report = comparison.compare_stages(
        comparison.tf1_graph(v1_model_fn),      # or a builder: CompatModel
        lambda: FullyNativeModel(10),
        batches, loss,
        mapping=[(r"^fully_native_model/conv2d(_\d+)?/", "model/conv2d/"),
                 (r"^fully_native_model/dense(_\d+)?/", "model/dense/")],
        random_tool=lambda: tf1shim.DeterministicRandomTestTool(
            mode="num_random_ops"))
    print(report)       # "First divergence: ..." or "The stages match"

`assert_stages_match(...)` takes the same arguments and fails with the report.
"""

import dataclasses

from tf1shim.comparison.report import Check
from tf1shim.comparison.report import ComparisonReport
from tf1shim.comparison.report import compare_runs
from tf1shim.comparison.report import Tolerances
from tf1shim.comparison.runs import Optimizer
from tf1shim.comparison.runs import run_tf1_graph
from tf1shim.comparison.runs import run_tf2_stage
from tf1shim.comparison.runs import StageRun


@dataclasses.dataclass(frozen=True)
class tf1_graph:  # pylint: disable=invalid-name
  """Marks a TF1 model function to run in a TF1 graph as a stage."""
  model_fn: object


def run_stage(stage, batches, loss_fn, optimizer, random_tool=None,
              initial_values=None, mapping=None, create_first=False):
  """Runs a `tf1_graph(model_fn)` or a TF2 builder; returns a `StageRun`."""
  tool = random_tool() if random_tool else None
  if isinstance(stage, tf1_graph):
    return run_tf1_graph(stage.model_fn, batches, loss_fn, optimizer,
                         random_tool=tool, initial_values=initial_values)
  return run_tf2_stage(stage, batches, loss_fn, optimizer, random_tool=tool,
                       initial_values=initial_values, mapping=mapping,
                       create_first=create_first)


def compare_stages(reference, candidate, batches, loss_fn,
                   optimizer=Optimizer(), mapping=None, random_tool=None,
                   copy_weights=False, tolerances=None):
  """Runs two stages on the same batches and compares them.

  Args:
    reference, candidate: `tf1_graph(model_fn)` or a TF2 builder
      (`() -> model`).
    batches: [(inputs, labels), ...]; the first for forwards and gradients,
      each later one for one training step.
    loss_fn: `(labels, outputs) -> scalar`; regularization losses are added.
    optimizer: an `Optimizer` used on both sides.
    mapping: how the candidate's variables are made of the reference's
      (see `report.plan_mapping`): None (same names), a dict, a callable
      (name -> name), rules (`tf1shim.checkpoints.parse_rules` or
      (regex, replacement) pairs, read by the one rules engine: the first
      matching rule wins; transforms allowed), or
      `tf1shim.checkpoints.between(candidate_rules, reference_rules)` when
      both stages map to TF1 names by rules.
    random_tool: a factory of `DeterministicRandomTestTool`s; each stage runs
      under its own fresh tool.
    copy_weights: copy the reference's variables into the candidate (through
      the mapping) instead of relying on the random tool for equal weights.
    tolerances: a `Tolerances`.

  Returns:
    A `ComparisonReport`.
  """
  ref_run = run_stage(reference, batches, loss_fn, optimizer, random_tool,
                      create_first=copy_weights)
  cand_run = run_stage(candidate, batches, loss_fn, optimizer, random_tool,
                       initial_values=ref_run.initial_variables
                       if copy_weights else None, mapping=mapping)
  return compare_runs(ref_run, cand_run, mapping=mapping,
                      tolerances=tolerances)


def assert_stages_match(*args, **kwargs):
  """`compare_stages(...)`, failing with the report if anything diverged."""
  report = compare_stages(*args, **kwargs)
  if not report.ok:
    raise AssertionError(str(report))
  return report


__all__ = ["Check", "ComparisonReport", "Optimizer", "StageRun", "Tolerances",
           "assert_stages_match", "compare_runs", "compare_stages",
           "run_stage", "run_tf1_graph", "run_tf2_stage", "tf1_graph"]
