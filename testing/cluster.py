"""A TensorFlow cluster of local processes: one per task, `TF_CONFIG` each.

Every task is a fresh Python (`subprocesses.python_env`: this one's imports)
in its own process group, with its output in a log file; the ports are free
ones (bound to port 0 by the OS); `wait` has a deadline, after which every
task is killed and the error quotes their logs, so a hung worker fails a test
instead of hanging it; leaving the `with` block kills whatever still runs,
children included, in every outcome.

    with cluster.LocalCluster({"worker": 2}, log_dir) as workers:
      workers.start_all(lambda task_type, index: ["-m", "my.program"])
      workers.wait(timeout=120)   # {("worker", 0): 0, ("worker", 1): 0}
"""

import json
import os
import signal
import socket
import subprocess
import sys
import time

from testing import subprocesses


def free_ports(count):
  """`count` distinct ports that were free a moment ago (all bound at once,
  then released, so the OS gives distinct ones)."""
  sockets = []
  try:
    for _ in range(count):
      s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
      s.bind(("localhost", 0))
      sockets.append(s)
    return [s.getsockname()[1] for s in sockets]
  finally:
    for s in sockets:
      s.close()


def cluster_spec(tasks, ports=None):
  """`{"worker": ["localhost:p1", ...], ...}` for `tasks` (job -> count)."""
  ports = list(ports or free_ports(sum(tasks.values())))
  spec = {}
  for job, count in tasks.items():
    spec[job] = ["localhost:%d" % ports.pop(0) for _ in range(count)]
  return spec


def tf_config(spec, task_type, index):
  """The `TF_CONFIG` value of one task of the cluster `spec`."""
  return json.dumps({"cluster": spec,
                     "task": {"type": task_type, "index": index}})


class ClusterTimeout(AssertionError):
  """A task did not finish by the deadline (its logs are in the message)."""


class LocalCluster:
  """Tasks of one cluster spec as local processes; a context manager."""

  def __init__(self, tasks, log_dir, env=None, spec=None):
    """`tasks`: job name -> number of tasks, e.g. {"worker": 2}; `env`:
    extra environment variables for every task; `spec`: a cluster spec to
    reuse (a restarted cluster keeps its addresses, as on real machines)."""
    self.spec = spec or cluster_spec(tasks)
    self.log_dir = log_dir
    self.env = dict(env or {})
    self._processes = {}
    self._log_files = {}
    os.makedirs(log_dir, exist_ok=True)

  @property
  def tasks(self):
    return [(job, index) for job, addresses in self.spec.items()
            for index in range(len(addresses))]

  def log_path(self, task_type, index):
    return os.path.join(self.log_dir, "%s_%d.log" % (task_type, index))

  def log(self, task_type, index):
    """Everything the task wrote so far (all its runs, appended)."""
    try:
      with open(self.log_path(task_type, index), errors="replace") as f:
        return f.read()
    except FileNotFoundError:
      return ""

  def start(self, task_type, index, args):
    """Starts `python *args` as the task, in its own process group."""
    if self.running(task_type, index):
      raise RuntimeError("%s %d is already running" % (task_type, index))
    log_file = open(self.log_path(task_type, index), "a")  # pylint: disable=consider-using-with
    self._log_files[(task_type, index)] = log_file
    env = subprocesses.python_env(
        TF_CONFIG=tf_config(self.spec, task_type, index), **self.env)
    self._processes[(task_type, index)] = subprocess.Popen(  # pylint: disable=consider-using-with
        [sys.executable] + list(args), stdout=log_file,
        stderr=subprocess.STDOUT, env=env, start_new_session=True)

  def start_all(self, args_for):
    """Starts every task; `args_for(task_type, index)` -> its arguments."""
    for task_type, index in self.tasks:
      self.start(task_type, index, args_for(task_type, index))

  def running(self, task_type, index):
    process = self._processes.get((task_type, index))
    return process is not None and process.poll() is None

  def pid(self, task_type, index):
    return self._processes[(task_type, index)].pid

  def kill(self, task_type, index, sig=signal.SIGKILL):
    """Sends `sig` to the task's process group (kill -9 by default) and
    reaps it."""
    process = self._processes.get((task_type, index))
    if process is None or process.poll() is not None:
      return
    try:
      os.killpg(process.pid, sig)
    except ProcessLookupError:
      pass
    if sig == signal.SIGKILL:
      process.wait()

  def wait_for(self, condition, timeout, what, poll=0.2):
    """Waits until `condition()`; a task exiting meanwhile or the deadline
    ends the cluster and fails with the logs."""
    deadline = time.monotonic() + timeout
    while not condition():
      for task, process in self._processes.items():
        if process.poll() is not None and process.returncode != 0:
          self._fail("%s %d exited with %d while waiting for %s" %
                     (task[0], task[1], process.returncode, what))
      if time.monotonic() > deadline:
        self._fail("%s did not happen within %.0f s" % (what, timeout))
      time.sleep(poll)

  def wait(self, timeout, tasks=None):
    """Waits for `tasks` (default: all started) to exit; returns their exit
    codes. Past the deadline every task is killed and ClusterTimeout
    raised."""
    tasks = list(tasks or self._processes)
    deadline = time.monotonic() + timeout
    codes = {}
    for task in tasks:
      remaining = max(0.0, deadline - time.monotonic())
      try:
        codes[task] = self._processes[task].wait(timeout=remaining)
      except subprocess.TimeoutExpired:
        self._fail("%s %d still running after %.0f s" %
                   (task[0], task[1], timeout))
    return codes

  def check_success(self, codes):
    """Fails with the logs unless every exit code is 0."""
    failed = {task: code for task, code in codes.items() if code != 0}
    if failed:
      self._fail("tasks failed: %s" % ", ".join(
          "%s %d (exit %d)" % (t[0], t[1], c) for t, c in failed.items()),
                 error=AssertionError)

  def stop_all(self):
    """Kills every task still running (its whole process group)."""
    for task_type, index in list(self._processes):
      self.kill(task_type, index)
    for log_file in self._log_files.values():
      log_file.close()
    self._log_files.clear()

  def _fail(self, message, error=ClusterTimeout):
    self.stop_all()
    logs = "\n".join("---- %s %d ----\n%s" % (t, i, self.log(t, i)[-3000:])
                     for t, i in self._processes)
    raise error("%s\n%s" % (message, logs))

  def __enter__(self):
    return self

  def __exit__(self, *exc_info):
    self.stop_all()
    return False
