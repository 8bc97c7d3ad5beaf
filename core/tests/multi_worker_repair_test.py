"""`tf1shim.distribute.multi_worker_repair`: Keras 3's fit across workers.

Two local worker processes (`testing/cluster.py`) run this file as a script
(`--worker repaired|unrepaired OUTPUT`): a plain Keras 3 model (Dense,
synchronized BatchNormalization, Dense: nothing of tf1shim in it) under
`MultiWorkerMirroredStrategy`, `fit`, `evaluate`, `predict`.

* Without the repair, `fit` fails with Keras's error (keras-team/keras#20585):
  what the repair is for, measured on the installed Keras.
* With it (`tf1shim.install()`), the three run; both workers end with the
  same weights; `predict` returns every example of the dataset, in order,
  equal to the model's own forward pass in the worker; `evaluate`'s loss is
  the cross-entropy of the whole dataset computed by numpy.

In one process: the repair checks every private name before it changes
anything, and names what is missing; `BackupAndRestore` writes nothing into
the backup folder on a worker that is not the chief.
"""

import json
import sys
import time

import numpy as np
import pytest

from testing import cluster
from testing.pytest_main import pytest_main

WORKER_TIMEOUT = 240  # Import TensorFlow, join, a few steps: far less.
EXAMPLES, FEATURES, GLOBAL_BATCH = 48, 4, 16


def run_worker(mode, output):
  """A worker's scenario; writes its results to `output` (.npz)."""
  import keras  # pylint: disable=g-import-not-at-top
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  if mode == "repaired":
    import tf1shim  # pylint: disable=g-import-not-at-top
    tf1shim.install()
  keras.config.disable_traceback_filtering()
  # Before any op: the strategy configures the collective ops at start-up.
  strategy = tf.distribute.MultiWorkerMirroredStrategy()
  rng = np.random.RandomState(0)
  x = rng.normal(size=(EXAMPLES, FEATURES)).astype(np.float32)
  y = (x[:, 0] + x[:, 1] > 0).astype(np.int32)
  dataset = tf.data.Dataset.from_tensor_slices((x, y)).batch(GLOBAL_BATCH)
  options = tf.data.Options()
  options.experimental_distribute.auto_shard_policy = (
      tf.data.experimental.AutoShardPolicy.DATA)
  dataset = dataset.with_options(options)
  keras.utils.set_random_seed(1)
  with strategy.scope():
    model = keras.Sequential([
        keras.Input((FEATURES,)), keras.layers.Dense(8, activation="relu"),
        # Synchronized: Keras 3's moving statistics are not aggregated
        # across workers otherwise (core/README.md, "Distribution").
        keras.layers.BatchNormalization(synchronized=True),
        keras.layers.Dense(2)])
    model.compile(
        optimizer=keras.optimizers.SGD(0.1),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"])
  history = model.fit(dataset, epochs=2, verbose=0)
  loss, _ = model.evaluate(dataset, verbose=0)
  predictions = model.predict(dataset, verbose=0)
  np.savez(output, predictions=predictions,
           forward=np.asarray(model(x, training=False)), x=x, y=y,
           evaluate_loss=loss, fit_loss=history.history["loss"],
           **{"weight_%d" % i: w for i, w in enumerate(model.get_weights())})


def _run_cluster(mode, tmp_path):
  outputs = [str(tmp_path / ("worker%d.npz" % i)) for i in range(2)]
  tasks = cluster.LocalCluster({"worker": 2}, str(tmp_path / "logs"))
  with tasks:
    tasks.start_all(lambda task_type, index: [
        __file__, "--worker", mode, outputs[index]])
    codes = tasks.wait(WORKER_TIMEOUT)
    logs = [tasks.log("worker", i) for i in range(2)]
  return codes, logs, tasks, outputs


def test_fit_fails_across_workers_without_the_repair(tmp_path):
  codes, logs, _, _ = _run_cluster("unrepaired", tmp_path)
  assert all(code != 0 for code in codes.values()), codes
  for log in logs:
    assert "Attempt to convert a value (PerReplica" in log, log[-3000:]
    assert "_maybe_symbolic_build" in log


def test_fit_evaluate_predict_across_workers_with_the_repair(tmp_path):
  codes, _, tasks, outputs = _run_cluster("repaired", tmp_path)
  tasks.check_success(codes)
  chief, other = (np.load(path) for path in outputs)
  weights = sorted(name for name in chief.files if name.startswith("weight"))
  for name in weights:  # Synchronous training: one model on both.
    np.testing.assert_array_equal(chief[name], other[name], err_msg=name)
  # predict gathers every worker's share back into the dataset's order.
  # Logits O(1): 1e-5 allows float32 rounding, not a misplaced row.
  assert chief["predictions"].shape == (EXAMPLES, 2)
  np.testing.assert_allclose(chief["predictions"], chief["forward"],
                             rtol=0, atol=1e-5)
  np.testing.assert_allclose(other["predictions"], chief["predictions"],
                             rtol=0, atol=1e-5)
  # evaluate: the mean cross-entropy over the 48 examples (equal batches
  # and shares), by numpy from the forward pass. Loss O(0.5).
  logits = chief["forward"].astype(np.float64)
  log_softmax = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
  expected = -log_softmax[np.arange(EXAMPLES), chief["y"]].mean()
  assert abs(float(chief["evaluate_loss"]) - expected) < 1e-5
  assert np.all(np.isfinite(chief["fit_loss"]))


def test_repair_checks_every_name_before_changing_anything(monkeypatch):
  from keras.src.backend.tensorflow import trainer  # pylint: disable=g-import-not-at-top
  from tf1shim.distribute import multi_worker_repair  # pylint: disable=g-import-not-at-top
  build = trainer.TensorFlowTrainer._maybe_symbolic_build  # pylint: disable=protected-access
  reduce = trainer.reduce_per_replica
  monkeypatch.delattr(trainer, "_collective_all_reduce_multi_worker")
  with pytest.raises(RuntimeError, match=(
      r"lacks: keras\.src\.backend\.tensorflow\.trainer\."
      r"_collective_all_reduce_multi_worker\. Nothing was changed")):
    multi_worker_repair.apply()
  assert trainer.TensorFlowTrainer._maybe_symbolic_build is build  # pylint: disable=protected-access
  assert trainer.reduce_per_replica is reduce
  assert not multi_worker_repair.is_applied()


def test_repair_is_idempotent_and_installed(monkeypatch):
  from keras.src.backend.tensorflow import trainer  # pylint: disable=g-import-not-at-top
  from tf1shim.distribute import multi_worker_repair  # pylint: disable=g-import-not-at-top
  # Undone at the end of the test: other tests run on Keras's own trainer.
  monkeypatch.setattr(trainer.TensorFlowTrainer, "_maybe_symbolic_build",
                      trainer.TensorFlowTrainer._maybe_symbolic_build)  # pylint: disable=protected-access
  monkeypatch.setattr(trainer, "reduce_per_replica",
                      trainer.reduce_per_replica)
  multi_worker_repair.apply()
  build = trainer.TensorFlowTrainer._maybe_symbolic_build  # pylint: disable=protected-access
  multi_worker_repair.apply()
  assert multi_worker_repair.is_applied()
  assert trainer.TensorFlowTrainer._maybe_symbolic_build is build  # pylint: disable=protected-access


def test_backup_is_written_by_the_chief_only(monkeypatch, tmp_path):
  import keras  # pylint: disable=g-import-not-at-top
  from tf1shim.distribute import backup  # pylint: disable=g-import-not-at-top
  model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
  model.compile(optimizer="sgd", loss="mse")
  x, y = np.ones((4, 3), np.float32), np.zeros((4, 2), np.float32)
  for chief in (False, True):
    folder = tmp_path / ("chief" if chief else "worker")
    monkeypatch.setattr(backup, "is_chief", lambda strategy, c=chief: c)
    model.fit(x, y, epochs=1, verbose=0, callbacks=[
        backup.BackupAndRestore(str(folder), delete_checkpoint=False)])
    written = sorted(p.name for p in folder.iterdir()) if folder.exists() else []
    if chief:
      assert written == ["latest.weights.h5", "training_metadata.json"]
      assert json.loads((folder / "training_metadata.json").read_text()) == {
          "epoch": 1, "batch": 0}
    else:
      assert written == []


def test_cluster_harness_ends_a_hung_task_and_its_children(tmp_path):
  child_pid = tmp_path / "child.pid"
  hang = ("import subprocess, sys, time; child = subprocess.Popen("
          "[sys.executable, '-c', 'import time; time.sleep(600)']); "
          "open(%r, 'w').write(str(child.pid)); time.sleep(600)" %
          str(child_pid))
  tasks = cluster.LocalCluster({"worker": 1}, str(tmp_path / "logs"))
  with tasks:
    tasks.start("worker", 0, ["-c", hang])
    tasks.wait_for(child_pid.exists, 60, "the child's start")
    with pytest.raises(cluster.ClusterTimeout, match="still running"):
      tasks.wait(timeout=1)
  assert not tasks.running("worker", 0)
  pid = int(child_pid.read_text())
  # The grandchild was in the task's process group: killed too (dead, or a
  # zombie waiting for init to reap it).
  for _ in range(50):  # Dying takes a moment after SIGKILL.
    if not _running(pid):
      break
    time.sleep(0.1)
  assert not _running(pid)


def _running(pid):
  try:
    with open("/proc/%d/stat" % pid) as f:
      state = f.read().rsplit(")", 1)[1].split()[0]
  except FileNotFoundError:
    return False
  return state not in ("Z", "X")

if __name__ == "__main__":
  if "--worker" in sys.argv:
    position = sys.argv.index("--worker")
    run_worker(sys.argv[position + 1], sys.argv[position + 2])
  else:
    raise SystemExit(pytest_main(__file__))
