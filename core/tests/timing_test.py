"""`tf1shim.comparison.timing`: interleaved rounds, per-round ratios.

The clock is replaced by one the contenders advance themselves, so the
test checks the arithmetic and the interleaving, never real time.
"""

import pytest

from tf1shim.comparison import timing
from testing.pytest_main import pytest_main


class FakeClock:
  """`perf_counter`/`process_time` that only contenders move."""

  def __init__(self):
    self.wall = 0.0
    self.cpu = 0.0

  def contender(self, wall_seconds, cpu_seconds, log, name):
    def run():
      self.wall += wall_seconds[len([n for n in log if n == name])]
      self.cpu += cpu_seconds
      log.append(name)
    return run


@pytest.fixture(name="clock")
def _clock(monkeypatch):
  clock = FakeClock()
  monkeypatch.setattr(timing.time, "perf_counter", lambda: clock.wall)
  monkeypatch.setattr(timing.time, "process_time", lambda: clock.cpu)
  return clock


def test_ratios_are_taken_per_round_against_the_baseline(clock):
  log = []
  # The load doubles every time in round 2: a per-round ratio cancels it,
  # a ratio of medians over rounds would not.
  contenders = {
      "tf1": clock.contender([1.0, 2.0, 1.0], 1.0, log, "tf1"),
      "stage": clock.contender([1.1, 2.2, 0.9], 0.5, log, "stage"),
  }
  result = timing.measure(contenders, "tf1", rounds=3)
  assert result["tf1"]["ratio"] == 1.0
  assert result["stage"]["ratio"] == pytest.approx(1.1)
  assert result["stage"]["low"] == pytest.approx(0.9)
  assert result["stage"]["high"] == pytest.approx(1.1)
  assert result["stage"]["seconds"] == pytest.approx(1.1)
  assert result["stage"]["cpu_ratio"] == pytest.approx(0.5)
  # Interleaved, the order rotated each round: no contender always first.
  assert log == ["tf1", "stage", "stage", "tf1", "tf1", "stage"]
  assert timing.cell(result["stage"]) == "1100.0 ms, 1.10x (0.90-1.10); CPU 0.50x"


def test_calls_per_timing_divide_the_time(clock):
  log = []
  contenders = {"a": clock.contender([0.002] * 8, 0.002, log, "a"),
                "b": clock.contender([0.004] * 8, 0.004, log, "b")}
  result = timing.measure(contenders, "a", rounds=2, calls=4)
  assert len(log) == 16
  assert result["b"]["seconds"] == pytest.approx(0.004)
  assert result["b"]["ratio"] == pytest.approx(2.0)
  assert timing.cell(result["b"]) == "4.00 ms, 2.00x (2.00-2.00); CPU 2.00x"


def test_stages_against_baseline_one_stage_at_a_time(clock):
  log = []
  alive = []

  def stages():
    for label, wall in (("1 stage", 3.0), ("2 stage", 1.0)):
      # Only one stage's contenders exist at a time.
      alive.append(label)
      assert len(alive) == 1, alive
      yield label, {"train": clock.contender([wall] * 9, wall, log, label),
                    "epoch": clock.contender([5 * wall] * 9, wall, log,
                                             label)}
      alive.remove(label)

  baselines = {"train": clock.contender([2.0] * 99, 2.0, log, "tf1"),
               "epoch": clock.contender([10.0] * 99, 2.0, log, "tf1")}
  results = timing.stages_against_baseline(
      "tf1", baselines, stages(), rounds=2, calls={"train": 2},
      steps_per_call={"epoch": 5}, warmups=1)
  assert list(results) == ["train", "epoch"]
  assert list(results["train"]) == ["tf1", "1 stage", "2 stage"]
  assert results["train"]["1 stage"]["ratio"] == pytest.approx(1.5)
  assert results["train"]["2 stage"]["ratio"] == pytest.approx(0.5)
  assert results["train"]["tf1"] == {"seconds": 2.0, "ratio": 1.0,
                                     "low": 1.0, "high": 1.0,
                                     "cpu_ratio": 1.0}
  # An epoch of 5 steps: seconds per step, for both contenders.
  assert results["epoch"]["1 stage"]["seconds"] == pytest.approx(3.0)
  assert results["epoch"]["tf1"]["seconds"] == pytest.approx(2.0)
  # Per measure and stage: 1 warm-up call each, then 2 rounds of `calls`.
  assert log.count("1 stage") == (1 + 2 * 2) + (1 + 2)


def test_table_header_and_rows():
  entry = {"seconds": 0.002, "ratio": 1.5, "low": 1.25, "high": 2.0,
           "cpu_ratio": 1.25}
  base = {"seconds": 0.001, "ratio": 1.0, "low": 1.0, "high": 1.0,
          "cpu_ratio": 1.0}
  results = {"a": {"tf1": base, "1 s": entry},
             "b": {"tf1": base, "1 s": entry}}
  assert timing.table_header("net", ["a", "b"]) == (
      "| net | stage | a | b |\n|---|---|---|---|")
  assert timing.table_rows("dense", results, ["a", "b"]) == [
      "| dense | tf1 | 1.00 ms, 1.00x (1.00-1.00); CPU 1.00x | "
      "1.00 ms, 1.00x (1.00-1.00); CPU 1.00x |",
      "| dense | 1 s | 2.00 ms, 1.50x (1.25-2.00); CPU 1.25x | "
      "2.00 ms, 1.50x (1.25-2.00); CPU 1.25x |"]


def test_epoch_dataset_repeats_the_batches_in_turn_without_autotuning():
  import numpy as np  # pylint: disable=g-import-not-at-top
  batches = [(np.full((2, 3), i, np.float32), np.full(2, i, np.int32))
             for i in range(3)]
  dataset = timing.epoch_dataset(batches, steps=7)
  got = [(x.numpy(), y.numpy()) for x, y in dataset]
  assert [int(y[0]) for _, y in got] == [0, 1, 2, 0, 1, 2, 0]
  for (x, y), i in zip(got, [0, 1, 2, 0, 1, 2, 0]):
    np.testing.assert_array_equal(x, batches[i][0])
    np.testing.assert_array_equal(y, batches[i][1])
  assert dataset.options().autotune.enabled is False


if __name__ == "__main__":
  raise SystemExit(pytest_main(__file__))
