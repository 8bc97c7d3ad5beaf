"""The main job: its tables, their reproducibility, the report, the logdir."""

import os
import re

import numpy as np
import pytest
import tensorflow as tf

from examples.curriculum import main as curriculum
from examples.curriculum import report as report_lib
from testing import subprocesses
from testing.pytest_main import pytest_main

STEPS = 8
ROWS = ["TF1 graph (reference)", "1 stage1_functional_v1", "2 stage2_oo_v1",
        "3 stage3_partially_native", "4 stage4_fully_native"]
RUNS = ["0_tf1_graph", "1_stage1_functional_v1", "2_stage2_oo_v1",
        "3_stage3_partially_native", "4_stage4_fully_native"]
EPS32 = float(np.finfo(np.float32).eps)


def _cells(line):
  return [c.strip() for c in re.split(r"(?<!\\)\|", line)[1:-1]]


def _table(stdout):
  return [_cells(line) for line in stdout.splitlines() if line.startswith("|")]


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory):
  """`main --examples conv` twice, in fresh processes, with --report and
  --logdir: [(stdout, stderr, report folder, logdir)]."""
  folder = tmp_path_factory.mktemp("main")
  data_dir = str(folder / "tfds")
  runs = []
  for run in ("first", "second"):
    report, logdir = folder / (run + "-report"), folder / (run + "-logs")
    done = subprocesses.run_python(
        ["-m", "examples.curriculum.main", "--examples", "conv", "--steps",
         str(STEPS), "--data-dir", data_dir, "--report", str(report),
         "--logdir", str(logdir)], timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr[-3000:]
    runs.append((done.stdout, done.stderr, report, logdir))
  return runs


def test_prints_a_row_per_stage_with_every_column(two_runs):
  table = _table(two_runs[0][0])
  assert table[0] == [
      "stage", "max \\|Δ output\\| vs stage 1", "Δ regularization loss",
      "golden TF1 checkpoint loads", "train loss after %d steps" % STEPS,
      "max \\|Δ step loss\\| vs TF1 graph", "test accuracy",
      "ms / train step"]
  rows = table[2:]
  assert [r[0] for r in rows] == ROWS
  for row in rows[1:]:
    assert float(row[1]) <= 1e-5  # no "(DIVERGED)"
    assert row[3].startswith("yes, 8 variables")
    # Same weights, batches and dropout masks at every step: the step
    # losses (O(1)) differ by float32 rounding only (course_test.py).
    assert float(row[5]) <= 8 * EPS32 * 3.0
  # ... and so the whole training: the same loss and accuracy after it.
  assert len({r[4] for r in rows}) == 1, rows
  assert len({r[6] for r in rows}) == 1, rows
  assert all(float(r[7]) > 0 for r in rows)


def test_two_runs_print_the_same_tables_timing_aside(two_runs):
  first, second = (_table(run[0]) for run in two_runs)
  assert [r[:-1] for r in first] == [r[:-1] for r in second]


def test_quiet_when_not_a_terminal(two_runs):
  # tqdm draws its bar on a terminal only; the child's stderr is a pipe.
  stderr = two_runs[0][1]
  assert "\r" not in stderr and "step/s" not in stderr, stderr[-2000:]


def test_report_has_the_example_its_plots_and_lesson_links(two_runs):
  _, _, report, _ = two_runs[0]
  page = (report / "index.html").read_text(encoding="utf-8")
  assert '<h2 id="conv">' in page
  for name in ("conv_loss.png", "conv_step_delta.png"):
    data = (report / name).read_bytes()
    assert data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) > 1000
    assert 'href="%s"' % name in page
  assert page.count("data:image/png;base64,") == 2
  for row in ROWS:
    assert "<td>%s</td>" % row in page
  links = re.findall(r'<a href="([^"]*README\.md[^"]*)">Stage (\d)', page)
  assert [n for _, n in links] == ["1", "2", "3", "4"]
  for link, number in links:
    path, anchor = link.split("#")
    readme = os.path.normpath(os.path.join(str(report), path))
    assert readme.endswith(os.path.join("examples", "conv", "README.md"))
    headings = [report_lib.heading_anchor(h) for h in re.findall(
        r"^#+\s+(.*)$", open(readme, encoding="utf-8").read(), re.M)]
    assert anchor in headings and anchor.startswith("stage-%s-" % number)


def _scalars(run_folder):
  (event_file,) = [f for f in os.listdir(run_folder)
                   if f.startswith("events.out.tfevents")]
  values = {}
  for event in tf.compat.v1.train.summary_iterator(
      os.path.join(run_folder, event_file)):
    for value in event.summary.value:
      values.setdefault(value.tag, {})[event.step] = float(
          tf.make_ndarray(value.tensor))
  return values


def test_logdir_has_an_event_file_per_row_with_its_curve(two_runs):
  _, _, _, logdir = two_runs[0]
  assert sorted(os.listdir(logdir / "conv")) == RUNS
  curves = [_scalars(str(logdir / "conv" / run)) for run in RUNS]
  for curve in curves:
    assert sorted(curve["train_loss"]) == list(range(1, STEPS + 1))
    assert list(curve["test_accuracy"]) == [STEPS]
  reference = np.array([curves[0]["train_loss"][s]
                        for s in range(1, STEPS + 1)])
  for curve in curves[1:]:
    losses = np.array([curve["train_loss"][s] for s in range(1, STEPS + 1)])
    np.testing.assert_allclose(losses, reference, rtol=8 * EPS32, atol=0)


def test_an_example_whose_inputs_are_a_dict_runs_every_column(
    tmp_path_factory):
  # The estimator example: a dict of features, stages 1-3 EstimatorModels
  # (the model_fn's loss, metrics and optimizer), its golden checkpoint an
  # Estimator model_dir (model.ckpt-60).
  data_dir = str(tmp_path_factory.mktemp("tfds"))
  done = subprocesses.run_python(
      ["-m", "examples.curriculum.main", "--examples", "estimator",
       "--steps", "4", "--data-dir", data_dir], timeout=600)
  assert done.returncode == 0, done.stdout + done.stderr[-3000:]
  rows = _table(done.stdout)[2:]
  assert [r[0] for r in rows] == ROWS
  for row in rows[1:]:
    assert float(row[1]) <= 1e-5 and float(row[2]) <= 1e-6, row
    assert row[3].startswith("yes, 7 variables"), row
    assert float(row[5]) <= 8 * EPS32 * 3.0, row  # as in the conv test
  assert len({r[4] for r in rows}) == 1, rows
  assert len({r[6] for r in rows}) == 1, rows


def test_refuses_an_existing_output_folder_before_training(tmp_path, capsys):
  (tmp_path / "report").mkdir()
  with pytest.raises(SystemExit) as exit_info:
    curriculum.main(["--examples", "conv", "--report",
                     str(tmp_path / "report")])
  assert exit_info.value.code == 2
  err = capsys.readouterr().err.strip()
  assert err.startswith("main: --report folder ") and "\n" not in err, err
  assert os.listdir(tmp_path) == ["report"]  # nothing else left behind


if __name__ == "__main__":
  raise SystemExit(pytest_main(__file__))
