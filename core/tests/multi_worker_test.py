"""An example's shimmed and native stages trained by `model.fit` on workers.

Each worker is a local process (`testing/cluster.py`: TF_CONFIG, free ports,
a deadline, process groups killed in every outcome) running
`examples/scale_out/train.py` under `MultiWorkerMirroredStrategy`, with
`tf1shim.install()`'s repair of Keras 3's `fit`. The reference is the same
program in one process without any strategy (Keras's plain `fit`) over the
same global batches from the same initial weights: with the losses averaged
per replica and the gradients summed across them, N steps on 2 or 3
workers must reach its weights.

* dense stage 1 (TF1 `get_variable` code in a decorated Keras model, L2
  regularization losses through the shim) and stage 4 (native Keras 3),
  on 2 and 3 workers;
* fault tolerance: worker 1 is killed (SIGKILL) in epoch 3 of 4 (epoch 2
  backed up by the chief, one step of epoch 3 taken), the cluster is
  restarted with the same TF_CONFIG, resumes from the chief's
  backup (`tf1shim.distribute.BackupAndRestore`) and ends at the weights of
  the uninterrupted reference.
"""

import json
import os

import numpy as np
import pytest

from testing import cluster
from testing.pytest_main import pytest_main
from testing.subprocesses import run_python

TRAIN = ["-m", "examples.scale_out.train", "--example", "dense"]
GLOBAL_BATCH = 24  # Divisible by 2 and 3 workers: equal shares per replica.
EPOCHS = 2
STEPS_PER_EPOCH = 3  # 6 steps.
# A worker imports TensorFlow (~5 s), joins the cluster and trains a few
# steps of a 64-64-32-10 MLP; far longer than that means it hangs.
WORKER_TIMEOUT = 240
# The weights are O(0.1) (glorot on 64 inputs, 6 SGD steps at 0.1); the
# workers sum per-replica gradients where one process sums the global batch
# at once: float32 rounding of a 24-term sum, ~1e-7 relative per step. 1e-5
# is 100x that after 6 (12 for the resumed run) steps, and far below the
# weights' movement in one step (~1e-3).
ATOL = 1e-5


def _train_args(stage, output, data_dir, epochs=EPOCHS, extra=()):
  return TRAIN + [
      "--stage", stage, "--epochs", str(epochs),
      "--steps-per-epoch", str(STEPS_PER_EPOCH),
      "--global-batch", str(GLOBAL_BATCH), "--data-dir", data_dir,
      "--output", output] + list(extra)


def _weights(path):
  with np.load(path) as data:
    return {name: data[name] for name in data.files}


def _assert_same_weights(actual_path, expected_path, initial_path):
  actual, expected = _weights(actual_path), _weights(expected_path)
  initial = _weights(initial_path)
  assert sorted(actual) == sorted(expected)
  largest = 0.0
  for name in expected:
    # Training moved the weights: equal weights are not equal initial ones.
    assert np.abs(expected[name] - initial[name]).max() > 1e-3, name
    np.testing.assert_allclose(actual[name], expected[name], rtol=0,
                               atol=ATOL, err_msg=name)
    largest = max(largest, float(np.abs(actual[name] - expected[name]).max()))
  print("max |workers - one process| over the weights: %.1e" % largest)


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
  return str(tmp_path_factory.mktemp("tfds"))


@pytest.fixture(scope="module")
def reference(data_dir, tmp_path_factory):
  """stage -> (single-process weights, initial weights) paths, cached."""
  folder = tmp_path_factory.mktemp("reference")
  runs = {}

  def run(stage, epochs=EPOCHS):
    if (stage, epochs) not in runs:
      output = str(folder / ("stage%s_%d.npz" % (stage, epochs)))
      initial = str(folder / ("stage%s_initial.npz" % stage))
      result = run_python(_train_args(
          stage, output, data_dir, epochs,
          ["--save-initial-weights", initial]), timeout=WORKER_TIMEOUT)
      assert result.returncode == 0, result.stderr[-3000:]
      assert '"workers": 1' in result.stdout
      runs[(stage, epochs)] = (output, initial)
    return runs[(stage, epochs)]

  return run


@pytest.mark.parametrize("workers", [2, 3])
@pytest.mark.parametrize("stage", ["1", "4"])
def test_workers_reach_the_single_process_weights(stage, workers, reference,
                                                  data_dir, tmp_path):
  expected, initial = reference(stage)
  output = str(tmp_path / "weights.npz")
  with cluster.LocalCluster({"worker": workers}, str(tmp_path)) as tasks:
    tasks.start_all(lambda task_type, index: _train_args(
        stage, output, data_dir, extra=["--initial-weights", initial]))
    tasks.check_success(tasks.wait(WORKER_TIMEOUT))
    for index in range(workers):
      assert '"workers": %d' % workers in tasks.log("worker", index)
  _assert_same_weights(output, expected, initial)


def test_killed_worker_resumes_to_the_uninterrupted_weights(
    reference, data_dir, tmp_path):
  epochs, backed_up = 4, 2
  # Worker 1 stops after the first step of epoch 3 (the chief, in step,
  # has taken it too); that step is lost with it and done again.
  killed_after_step = backed_up * STEPS_PER_EPOCH + 1
  expected, initial = reference("1", epochs)
  backup = str(tmp_path / "backup")
  marker = str(tmp_path / "worker1_held")
  output = str(tmp_path / "weights.npz")
  metadata = os.path.join(backup, "training_metadata.json")

  def args(task_type, index, hold):
    del task_type  # Workers only.
    extra = ["--initial-weights", initial, "--backup-dir", backup]
    if hold and index == 1:
      extra += ["--hold-after-step", str(killed_after_step),
                "--hold-marker", marker]
    return _train_args("1", output, data_dir, epochs, extra)

  def backed_up_epoch():
    try:
      with open(metadata) as f:
        return json.load(f)["epoch"]
    except (OSError, ValueError):
      return None

  with cluster.LocalCluster({"worker": 2}, str(tmp_path / "run1")) as first:
    first.start_all(lambda t, i: args(t, i, hold=True))
    first.wait_for(
        lambda: os.path.exists(marker) and backed_up_epoch() == backed_up,
        WORKER_TIMEOUT, "worker 1 held in epoch %d, epoch %d backed up by "
        "the chief" % (backed_up + 1, backed_up))
    first.kill("worker", 1)  # kill -9, mid-epoch.
    assert not first.running("worker", 1)
    spec = first.spec
    # The chief cannot go on without worker 1 (its next step's all-reduce
    # waits for it): as a cluster manager would, restart the whole job.
  assert not os.path.exists(output)
  # The chief's backup alone (the other worker's went to a temporary folder).
  assert sorted(os.listdir(backup)) == ["latest.weights.h5",
                                        "training_metadata.json"]
  assert backed_up_epoch() == backed_up

  with cluster.LocalCluster({"worker": 2}, str(tmp_path / "run2"),
                            spec=spec) as second:
    second.start_all(lambda t, i: args(t, i, hold=False))
    second.check_success(second.wait(WORKER_TIMEOUT))
    summary = json.loads(second.log("worker", 0).split("scale_out ")[-1]
                         .splitlines()[0])
  # Resumed at epoch 3: Keras ran the remaining two epochs only.
  assert summary["epochs_run"] == epochs - backed_up, summary
  _assert_same_weights(output, expected, initial)
  assert not os.path.exists(backup)  # The chief deleted it at the end.


def test_launcher_refuses_an_existing_output_before_starting(tmp_path,
                                                              capsys):
  from examples.scale_out import local_cluster  # pylint: disable=g-import-not-at-top
  existing = tmp_path / "weights.npz"
  existing.write_bytes(b"kept")
  assert local_cluster.main(["--workers", "2", "--output", str(existing)]) == 1
  error = capsys.readouterr().err
  assert error.count("\n") == 1 and "exists" in error, error
  assert existing.read_bytes() == b"kept"


if __name__ == "__main__":
  raise SystemExit(pytest_main(__file__))
