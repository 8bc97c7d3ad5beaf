"""The curriculum runs an example end to end and prints its table."""

import re

from examples.curriculum import main as curriculum
from testing.pytest_main import pytest_main


def test_prints_a_row_per_stage_with_every_column(tmp_path, capsys):
  code = curriculum.main(["--examples", "dense", "--steps", "12",
                          "--data-dir", str(tmp_path)])
  out, err = capsys.readouterr()
  assert code == 0, out + err
  table = [line for line in out.splitlines() if line.startswith("|")]
  cells = lambda line: re.split(r"(?<!\\)\|", line)[1:-1]
  assert cells(table[0]) == [
      " stage ", " max \\|Δ output\\| vs stage 1 ", " Δ regularization loss ",
      " golden TF1 checkpoint loads ", " train loss after 12 steps ",
      " test accuracy ", " ms / train step "]
  rows = [cells(row) for row in table[2:]]
  assert [r[0].strip() for r in rows] == [
      "TF1 graph (reference)", "1 stage1_functional_v1", "2 stage2_oo_v1",
      "3 stage3_partially_native", "4 stage4_fully_native"]
  for row in rows[1:]:
    assert float(row[1]) <= 1e-5  # no "(DIVERGED)"
    assert row[3].strip().startswith("yes, 6 variables")
  # Same initial weights and no dropout in this model: every stage trains
  # like the TF1 graph, up to float rounding.
  losses = [float(r[4]) for r in rows]
  assert max(losses) - min(losses) < 1e-3, losses
  assert all(0.0 <= float(r[5]) <= 1.0 and float(r[6]) > 0 for r in rows)
  assert re.search(r"\[dense\] stage 4/4 stage4_fully_native: done", err)


if __name__ == "__main__":
  raise SystemExit(pytest_main(__file__))
