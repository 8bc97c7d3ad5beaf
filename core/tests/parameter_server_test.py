"""A shimmed model trained under ParameterServerStrategy: coordinator, two
workers, one parameter server, as local processes (`testing/cluster.py`).

The coordinator (the cluster's chief) runs this file's scenario
(`--task coordinator OUTPUT`); the workers and the parameter server run
TensorFlow servers. The model is the dense example's stage 1 (TF1
`get_variable` code with L2 regularizers, under `track_tf1_style_variables`).

* Keras 3's `model.fit` refuses the strategy's dataset (what
  `tf1shim.distribute.parameter_server` documents): asserted, so this test
  says when a Keras release changes that.
* `tf1shim.distribute.parameter_server.train` trains it: its variables live
  on the parameter server, every scheduled step returns its loss, and
  the loss of the final weights, computed by numpy (the MLP's forward pass,
  cross-entropy and TF1's `scale * sum(w**2) / 2` per kernel), is below the
  initial weights', and the first step's reported loss is numpy's for the
  initial weights on the first batch, to float32 rounding.
"""

import json
import sys

import numpy as np

from testing import cluster
from testing.pytest_main import pytest_main

TIMEOUT = 240  # Start-up ~10 s, a few steps: far less than this.
STEPS, BATCH, EXAMPLES = 8, 16, 64


def _data():
  rng = np.random.RandomState(0)
  x = rng.uniform(size=(EXAMPLES, 8, 8, 1)).astype(np.float32)
  projection = rng.normal(size=(64, 10))
  y = np.argmax(x.reshape(EXAMPLES, 64) @ projection, axis=1).astype(np.int32)
  return x, y


def _numpy_loss(weights, x, y, l2_scale):
  """The stage-1 MLP's training loss, in float64."""
  h = x.reshape(len(x), -1).astype(np.float64)
  for layer in ("hidden1", "hidden2", "logits"):
    h = h @ weights["mlp/%s/kernel" % layer] + weights["mlp/%s/bias" % layer]
    if layer != "logits":
      h = np.maximum(h, 0)
  log_softmax = h - np.log(np.exp(h).sum(axis=1, keepdims=True))
  cross_entropy = -log_softmax[np.arange(len(y)), y].mean()
  regularization = sum(l2_scale * np.sum(weights[name].astype(np.float64) ** 2)
                       / 2 for name in weights if name.endswith("kernel"))
  return cross_entropy + regularization


def run_task(task_type, output):
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  resolver = tf.distribute.cluster_resolver.TFConfigClusterResolver()
  if task_type != "coordinator":
    tf.distribute.Server(resolver.cluster_spec(), job_name=task_type,
                         task_index=resolver.task_id, protocol="grpc",
                         start=True).join()
    return
  import keras  # pylint: disable=g-import-not-at-top
  import tf1shim  # pylint: disable=g-import-not-at-top
  import tf1shim.distribute  # pylint: disable=g-import-not-at-top
  from examples.dense import stage1_functional_v1 as stage  # pylint: disable=g-import-not-at-top
  tf1shim.install()
  strategy = tf.distribute.ParameterServerStrategy(resolver)
  x, y = _data()
  keras.utils.set_random_seed(0)
  with strategy.scope():
    model = stage.build_model()
    model(x[:1])
    model.compile(
        optimizer=keras.optimizers.SGD(0.5),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
  initial = {v.path: v.numpy() for v in model.weights}
  devices = sorted({v.value.device for v in model.weights})

  def dataset_fn():
    return tf.data.Dataset.from_tensor_slices((x, y)).batch(BATCH).repeat()

  try:
    model.fit(dataset_fn(), epochs=1, steps_per_epoch=2, verbose=0)
    fit_error = None
  except ValueError as e:
    fit_error = str(e)
  losses = tf1shim.distribute.parameter_server.train(model, dataset_fn, STEPS)
  final = {v.path: v.numpy() for v in model.weights}
  with open(output, "w") as f:
    json.dump({"fit_error": fit_error, "losses": losses, "devices": devices,
               "iterations": int(model.optimizer.iterations.numpy()),
               "l2_scale": stage.L2_SCALE,
               "initial": {k: v.tolist() for k, v in initial.items()},
               "final": {k: v.tolist() for k, v in final.items()}}, f)


def test_shimmed_model_trains_on_parameter_servers(tmp_path):
  output = str(tmp_path / "coordinator.json")
  tasks = {"chief": 1, "worker": 2, "ps": 1}
  with cluster.LocalCluster(tasks, str(tmp_path / "logs")) as processes:
    processes.start_all(lambda task_type, index: [
        __file__, "--task",
        "coordinator" if task_type == "chief" else task_type, output])
    processes.check_success(
        processes.wait(TIMEOUT, tasks=[("chief", 0)]))
  with open(output) as f:
    report = json.load(f)
  assert "ClusterCoordinator.create_per_worker_dataset" in (
      report["fit_error"] or ""), report["fit_error"]
  assert report["devices"] == ["/job:ps/replica:0/task:0/device:CPU:0"]
  # Every scheduled step ran and returned its loss. (The optimizer's
  # `iterations` is not asserted: concurrent steps on two workers have
  # counted 7 of 8 here; core/README.md, "Distribution".)
  assert len(report["losses"]) == STEPS
  assert np.all(np.isfinite(report["losses"]))
  assert 1 <= report["iterations"] <= STEPS
  x, y = _data()
  initial = {k: np.asarray(v) for k, v in report["initial"].items()}
  final = {k: np.asarray(v) for k, v in report["final"].items()}
  first_batch_loss = _numpy_loss(initial, x[:BATCH], y[:BATCH],
                                 report["l2_scale"])
  # The first step starts from the initial weights on the first batch (so
  # does the other worker's first step, unless the same worker took both).
  # Losses O(2.3); float32 forward pass: 1e-5 relative.
  assert min(abs(loss - first_batch_loss) for loss in report["losses"][:2]) < (
      1e-5 * 2.3), (report["losses"][:2], first_batch_loss)
  before = _numpy_loss(initial, x, y, report["l2_scale"])
  after = _numpy_loss(final, x, y, report["l2_scale"])
  assert after < before - 0.01, (before, after)


if __name__ == "__main__":
  if "--task" in sys.argv:
    position = sys.argv.index("--task")
    run_task(sys.argv[position + 1], sys.argv[position + 2])
  else:
    raise SystemExit(pytest_main(__file__))
