"""TF1's training threads (`Supervisor`'s, `slim.learning.train`'s) on TF2.

TF1 code on TF2 builds its graph inside `with tf.Graph().as_default()`, with
eager execution on: that is how it runs in a process that also runs TF2
code. `Supervisor` (and `slim.learning.train`, which uses it) then starts
threads that execute eagerly, and they fail at their first step. Each
scenario below runs three ways:

* the reference: a subprocess with eager execution turned off for the whole
  process (`tf.compat.v1.disable_eager_execution()`, TF1's behaviour, what
  TensorFlow's and tf-slim's own tests do), without tf1shim's repair;
* TF 2.21 as it is: a subprocess with eager execution on, without tf1shim:
  it fails (the bug being repaired);
* this process: eager execution on, after `tf1shim.install()`. It must write
  what the reference wrote: the same checkpoints, the same events (the
  threads' summaries, steps per second and checkpoint logs), the same
  trained weights, also equal to numpy's.

Tolerance: the reference and this process run the same float32 graph on the
same machine, values O(1): 1e-6 relative. Against numpy (float64), three
gradient steps on a 4x2 matrix: 1e-5.
"""

import collections
import os
import pickle
import sys
import time

import numpy as np
import pytest
import tensorflow as tf

from testing.pytest_main import pytest_main
from testing.subprocesses import run_python

v1 = tf.compat.v1

INPUTS = np.array([[1.0, -0.5, 0.25, 2.0], [0.5, 1.5, -1.0, 0.0],
                   [-0.25, 0.75, 0.5, -1.5]], np.float32)
TARGETS = np.array([[1.0, 0.0], [0.0, 1.0], [0.5, 0.5]], np.float32)
INITIAL_W = np.array([[0.5, -0.25], [1.0, 0.75], [-0.5, 0.25], [0.0, 1.0]],
                     np.float32)
LEARNING_RATE = 0.1
STEPS = 3
# How long a scenario waits for the Supervisor's threads' first round.
THREAD_START_TIMEOUT = 120


# --- The scenarios: TF1 programs, as they were written ------------------------


def supervisor_training(logdir):
  """`Supervisor.managed_session`: its three threads, then STEPS steps.

  The threads run their first round at once (they then sleep an hour): the
  program waits for it, so that every run writes the same events.
  """
  with tf.Graph().as_default():
    global_step = v1.train.get_or_create_global_step()
    w = v1.get_variable("w", initializer=tf.constant(INITIAL_W))
    loss = tf.reduce_mean(tf.square(tf.matmul(INPUTS, w) - TARGETS))
    v1.summary.scalar("loss", loss)
    train_op = v1.train.GradientDescentOptimizer(LEARNING_RATE).minimize(
        loss, global_step=global_step)
    supervisor = v1.train.Supervisor(
        logdir=logdir, save_model_secs=3600, save_summaries_secs=3600)
    with supervisor.managed_session() as sess:
      _wait_for_first_round(supervisor, logdir)
      for _ in range(STEPS):
        sess.run(train_op)
      supervisor.saver.save(sess, supervisor.save_path,
                            global_step=global_step)


def _wait_for_first_round(supervisor, logdir):
  """Until the summary, step-counter and checkpoint threads have each
  written once, or one of them has failed (the coordinator then stops)."""
  deadline = time.monotonic() + THREAD_START_TIMEOUT
  while not supervisor.should_stop():
    supervisor.summary_writer.flush()
    kinds = {kind for _, kind in _events(logdir)}
    if {"summary loss", "summary global_step/sec",
        "session_log CHECKPOINT"} <= kinds:
      return
    if time.monotonic() > deadline:
      raise TimeoutError("Supervisor's threads wrote nothing in %d s" %
                         THREAD_START_TIMEOUT)
    time.sleep(0.05)


def slim_training(logdir):
  """`slim.learning.train` of a small slim network, STEPS steps, with
  slim's losses; then `slim.evaluation.evaluate_once` of its checkpoint
  with slim's metrics. Returns the final loss and the metrics' values.
  """
  import tf_slim as slim  # pylint: disable=g-import-not-at-top
  images = np.random.RandomState(0).uniform(-1, 1, (4, 8, 8, 3))
  labels = [0, 1, 2, 1]

  def network():
    net = slim.conv2d(
        tf.constant(images, tf.float32), 4, 3,
        weights_initializer=v1.truncated_normal_initializer(
            stddev=0.3, seed=1),
        weights_regularizer=slim.l2_regularizer(0.01), scope="conv")
    return slim.fully_connected(
        slim.flatten(net), 3, activation_fn=None,
        weights_initializer=v1.truncated_normal_initializer(
            stddev=0.1, seed=2), scope="logits")

  with tf.Graph().as_default():
    slim.losses.softmax_cross_entropy(network(), tf.one_hot(labels, 3))
    train_op = slim.learning.create_train_op(
        slim.losses.get_total_loss(),
        v1.train.MomentumOptimizer(LEARNING_RATE, 0.9))
    final_loss = slim.learning.train(
        train_op, logdir, number_of_steps=STEPS, save_summaries_secs=3600,
        save_interval_secs=3600)

  with tf.Graph().as_default():
    v1.train.get_or_create_global_step()
    logits = network()
    values, updates = slim.metrics.aggregate_metric_map({
        "accuracy": slim.metrics.streaming_accuracy(
            tf.argmax(logits, 1), labels),
        "mean_max_logit": slim.metrics.streaming_mean(
            tf.reduce_max(logits, 1)),
    })
    names = sorted(values)
    metrics = slim.evaluation.evaluate_once(
        "", tf.train.latest_checkpoint(logdir),
        os.path.join(logdir, "eval"), num_evals=1,
        eval_op=[updates[n] for n in names],
        final_op=[values[n] for n in names])
  return {"loss": float(final_loss),
          **{n: float(m) for n, m in zip(names, metrics)}}


# --- What a run leaves behind -------------------------------------------------


def _events(logdir):
  """[(step, kind)] of the events files in `logdir` (what is complete)."""
  events = []
  for name in sorted(os.listdir(logdir)):
    if not name.startswith("events.out.tfevents"):
      continue
    try:
      for event in v1.train.summary_iterator(os.path.join(logdir, name)):
        events.extend(_kinds(event))
    except tf.errors.DataLossError:  # a record being written
      pass
  return events


def _kinds(event):
  if event.HasField("summary"):
    return [(event.step, "summary " + value.tag)
            for value in event.summary.value]
  if event.HasField("session_log"):
    status = v1.SessionLog.SessionStatus.Name(event.session_log.status)
    return [(event.step, "session_log " + status)]
  for kind in ("graph_def", "meta_graph_def", "file_version"):
    if event.HasField(kind):
      return [(event.step, kind)]
  return [(event.step, "other")]


def _loss_summaries(logdir):
  values = {}
  for name in os.listdir(logdir):
    if name.startswith("events.out.tfevents"):
      for event in v1.train.summary_iterator(os.path.join(logdir, name)):
        for value in event.summary.value:
          if value.tag == "loss":
            values[event.step] = value.simple_value
  return values


def run_record(scenario, logdir):
  """What a TF1 user would look at after `scenario` ran in `logdir`."""
  record = {}
  result = SCENARIOS[scenario](logdir)
  if result is not None:
    record["result"] = result
  state = tf.train.get_checkpoint_state(logdir)
  record["checkpoints"] = [os.path.basename(p)
                           for p in state.all_model_checkpoint_paths]
  latest = tf.train.latest_checkpoint(logdir)
  record["variables"] = {
      name: tf.train.load_variable(latest, name)
      for name, _ in tf.train.list_variables(latest)}
  record["events"] = sorted(collections.Counter(_events(logdir)).items())
  record["loss_summaries"] = _loss_summaries(logdir)
  return record


SCENARIOS = {"supervisor": supervisor_training, "slim": slim_training}


def subprocess_main(mode, out_dir):
  """`--reference`: eager execution off, as on TF1; `--unrepaired`: TF 2.21
  as it is. Neither has tf1shim's thread repair."""
  if mode == "--reference":
    v1.disable_eager_execution()
  for scenario in SCENARIOS:
    if mode == "--unrepaired" and scenario == "slim":
      continue  # slim needs slim_compat; the Supervisor shows the bug.
    if scenario == "slim":
      from tf1shim import slim_compat  # pylint: disable=g-import-not-at-top
      slim_compat.apply()
    logdir = os.path.join(out_dir, scenario)
    os.makedirs(logdir)
    record = run_record(scenario, logdir)
    with open(os.path.join(out_dir, scenario + ".pkl"), "wb") as f:
      pickle.dump(record, f)


# --- Tests ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
  out_dir = str(tmp_path_factory.mktemp("reference"))
  result = run_python([os.path.abspath(__file__), "--reference", out_dir],
                      timeout=600)
  assert result.returncode == 0, result.stderr[-5000:]
  records = {}
  for scenario in SCENARIOS:
    with open(os.path.join(out_dir, scenario + ".pkl"), "rb") as f:
      records[scenario] = pickle.load(f)
  return records


@pytest.fixture(scope="module")
def installed():
  import tf1shim  # pylint: disable=g-import-not-at-top
  tf1shim.install()
  from tf1shim import training_threads  # pylint: disable=g-import-not-at-top
  assert training_threads.is_repaired()


def numpy_training():
  """STEPS steps of gradient descent on the supervisor scenario's loss."""
  w = INITIAL_W.astype(np.float64)
  x, y = INPUTS.astype(np.float64), TARGETS.astype(np.float64)
  losses = {}
  for step in range(STEPS):
    residual = x @ w - y
    losses[step] = np.mean(residual**2)
    w = w - LEARNING_RATE * 2 * x.T @ residual / residual.size
  return w, losses


def test_without_the_repair_supervisors_threads_fail_on_tf_2_21(tmp_path):
  result = run_python([os.path.abspath(__file__), "--unrepaired",
                       str(tmp_path)], timeout=600)
  assert result.returncode != 0
  assert "global_step" in result.stderr
  assert "is out of scope and cannot be used here" in result.stderr


def test_supervisor_threads_write_what_they_wrote_on_tf1(
    installed, reference, tmp_path):
  del installed
  assert tf.executing_eagerly()
  ours = run_record("supervisor", str(tmp_path))
  theirs = reference["supervisor"]
  assert ours["checkpoints"] == theirs["checkpoints"] == [
      "model.ckpt-0", "model.ckpt-%d" % STEPS]
  # The threads' first round (step 0: the loss summary, steps per second,
  # the checkpoint's log), the graph, the session's start and stop.
  kinds = dict(ours["events"])
  for event in ((0, "summary loss"), (0, "summary global_step/sec"),
                (0, "session_log CHECKPOINT"), (0, "session_log START"),
                (0, "session_log STOP"), (0, "graph_def")):
    assert kinds.get(event) == 1, (event, ours["events"])
  assert ours["events"] == theirs["events"]
  w, losses = numpy_training()
  np.testing.assert_allclose(ours["variables"]["w"], theirs["variables"]["w"],
                             rtol=1e-6, atol=1e-6)
  np.testing.assert_allclose(ours["variables"]["w"], w, rtol=1e-5, atol=1e-5)
  assert ours["variables"]["global_step"] == STEPS
  assert ours["loss_summaries"] == theirs["loss_summaries"]
  np.testing.assert_allclose(ours["loss_summaries"][0], losses[0], rtol=1e-5)


def test_slim_learning_train_trains_as_on_tf1(installed, reference, tmp_path):
  del installed
  assert tf.executing_eagerly()
  ours = run_record("slim", str(tmp_path))
  theirs = reference["slim"]
  assert sorted(ours["result"]) == ["accuracy", "loss", "mean_max_logit"]
  for name, value in theirs["result"].items():
    np.testing.assert_allclose(ours["result"][name], value, rtol=1e-6,
                               err_msg=name)
  assert ours["checkpoints"][-1] == theirs["checkpoints"][-1] == (
      "model.ckpt-%d" % STEPS)
  assert sorted(ours["variables"]) == sorted(theirs["variables"])
  for name, value in theirs["variables"].items():
    np.testing.assert_allclose(ours["variables"][name], value, rtol=1e-6,
                               atol=1e-6, err_msg=name)


def test_looper_threads_run_in_the_mode_they_were_made_in(installed):
  """Made in a TF1 graph: that graph, graph mode. Made eagerly or while a
  `tf.function` traces (TF2 code): eagerly, as without the repair."""
  del installed

  def mode_of_a_looper_thread(make):
    """(executing eagerly, default graph) in a thread `make` starts."""
    seen = []
    coord = v1.train.Coordinator()

    def record_mode():
      seen.append((tf.executing_eagerly(), v1.get_default_graph()))
      coord.request_stop()

    threads = []
    make(lambda: threads.append(
        v1.train.LooperThread.loop(coord, None, record_mode)))
    coord.join(threads, stop_grace_period_secs=60)
    assert len(seen) == 1
    return seen[0]

  graph = tf.Graph()

  def in_graph(start):
    with graph.as_default():
      start()

  def in_trace(start):
    tf.function(lambda: start() or tf.constant(0))()

  assert mode_of_a_looper_thread(in_graph) == (False, graph)
  for make in (lambda start: start(), in_trace):
    eagerly, thread_graph = mode_of_a_looper_thread(make)
    assert eagerly and thread_graph is not graph
    assert not thread_graph.building_function

if __name__ == "__main__":
  if len(sys.argv) == 3 and sys.argv[1] in ("--reference", "--unrepaired"):
    subprocess_main(sys.argv[1], sys.argv[2])
  else:
    pytest_main(__file__)
