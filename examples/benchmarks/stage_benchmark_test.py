"""The examples' stage benchmark runs: one round of one call (no timing is
asserted; benchmarks are not tests)."""

from examples.benchmarks import stage_benchmark
from testing.pytest_main import pytest_main


def test_one_round_of_every_stage_and_measure(tmp_path):
  results = stage_benchmark.benchmark("batchnorm", rounds=1, calls=1,
                                      data_dir=str(tmp_path), epoch_steps=60)
  assert set(results) == set(stage_benchmark.MEASURES)
  for measure in stage_benchmark.MEASURES:
    assert list(results[measure]) == [
        stage_benchmark.TF1, "1 stage1_functional_v1", "2 stage2_oo_v1",
        "3 stage3_partially_native", "4 stage4_fully_native"]
    for entry in results[measure].values():
      assert entry["seconds"] > 0 and entry["low"] <= entry["high"]


if __name__ == "__main__":
  raise SystemExit(pytest_main(__file__))
