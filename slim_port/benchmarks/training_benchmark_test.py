"""The training benchmark runs: one round, batch 1, a small input (no
timing is asserted; benchmarks are not tests)."""

from slim_port.benchmarks import training_benchmark
from testing.pytest_main import pytest_main


def test_one_round_of_every_stage_and_measure():
  results = training_benchmark.benchmark("resnet_v1_50", rounds=1, batch=1,
                                         size=64, fit_steps=2,
                                         predict_steps=2)
  assert set(results) == set(training_benchmark.MEASURES)
  for measure in training_benchmark.MEASURES:
    assert list(results[measure]) == [
        training_benchmark.TF1, "1 stage1_slim", "2 stage2_tf1_layers",
        "3 stage3_partially_native", "4 stage4_keras"]
    for entry in results[measure].values():
      assert entry["seconds"] > 0 and entry["low"] <= entry["high"]
    assert results[measure][training_benchmark.TF1]["ratio"] == 1.0


def test_main_measures_the_stages_and_measures_asked_for(capsys):
  assert training_benchmark.main([
      "--networks", "resnet_v1_50", "--rounds", "1", "--batch", "1",
      "--size", "64", "--stages", "4", "--measures", "predict",
      "fit per step, FusedSGD", "--fit-steps", "1"]) == 0
  rows = [line for line in capsys.readouterr().out.splitlines()
          if line.startswith("| resnet_v1_50")]
  assert [row.split(" | ")[1] for row in rows] == [
      training_benchmark.TF1, "4 stage4_keras"]
  # The header's columns, in the order asked for, and one cell each.
  assert all(row.count(" ms, ") == 2 for row in rows)


if __name__ == "__main__":
  raise SystemExit(pytest_main(__file__))
