"""The profiling tools run and print what they say they print: op_profile.py
and call_cost.py on resnet_v1_50, batch 1, 64x64, one step or round. No
time is asserted (they are tools, not benchmarks' verdicts); what is
asserted is what each table must show whatever the machine's speed."""

from slim_port.benchmarks import call_cost
from slim_port.benchmarks import op_profile
from testing.pytest_main import pytest_main

SMALL = ["--network", "resnet_v1_50", "--stage", "4", "--batch", "1",
         "--size", "64"]


def _table(out):
  """{first cell: [other cells]} of the Markdown rows printed."""
  rows = [line.strip("| ").split(" | ") for line in out.splitlines()
          if line.startswith("| ") and not line.startswith("|---")]
  return {row[0]: row[1:] for row in rows}


def _count(cell):
  return int(cell.split(",")[0])


def test_op_profile_counts_each_sides_kernels(capsys):
  assert op_profile.main(SMALL + ["--fused-sgd", "--steps", "1",
                                  "--top", "1000"]) == 0
  table = _table(capsys.readouterr().out)
  graph, stage = table["ResourceApplyMomentum"], table[
      "ResourceApplyKerasMomentum"]
  # 161 trainable variables: TF1's MomentumOptimizer runs one kernel per
  # variable in the graph, FusedSGD one per variable in the stage.
  assert (_count(graph[0]), _count(graph[1])) == (161, 0)
  assert (_count(stage[0]), _count(stage[1])) == (0, 161)
  assert _count(table["all"][0]) > 0 and _count(table["all"][1]) > 0


def test_op_profile_inference_runs_the_graphs_convolutions(capsys):
  assert op_profile.main(SMALL + ["--inference", "--steps", "1",
                                  "--top", "1000"]) == 0
  table = _table(capsys.readouterr().out)
  convolutions = {kind: cells for kind, cells in table.items()
                  if "Conv2D" in kind}
  assert convolutions
  # resnet_v1_50 has 53 convolutions and the logits: whatever kernels the
  # rewrites chose, both sides run the same ones, as many.
  assert sum(_count(c[0]) for c in convolutions.values()) == 54
  for kind, cells in convolutions.items():
    assert _count(cells[0]) == _count(cells[1]), kind


def test_call_cost_prints_every_contender_and_part(capsys):
  assert call_cost.main(SMALL + ["--rounds", "1", "--calls", "2"]) == 0
  table = _table(capsys.readouterr().out)
  # The contenders' table: first call and steady calls, each "ms, ratio";
  # the parts' table: one number, ms per call.
  contenders = {name: cells for name, cells in table.items()
                if len(cells) == 2 and name != "contender"}
  parts = {name: cells[0] for name, cells in table.items()
           if len(cells) == 1 and name != "part of a call (measured alone)"}
  assert list(contenders) == [
      "TF1 graph, Session.run (NumPy feed)",
      "tf.function forward, NumPy input", "tf.function forward, tensor input",
      "predict_on_batch, NumPy input"]
  # Ratios are to the graph's time.
  assert all(cell.endswith(" ms, 1.00x") for cell in
             contenders["TF1 graph, Session.run (NumPy feed)"])
  assert len(parts) == 5
  assert all(float(ms) > 0 for ms in parts.values())


if __name__ == "__main__":
  raise SystemExit(pytest_main(__file__))
