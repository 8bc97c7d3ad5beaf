"""TF1's training threads in graph mode on TF2: `repair()`.

TF1's training loops run part of their work in background threads:
`tf.compat.v1.train.Supervisor` (which `slim.learning.train` uses) starts
three, all `tf.compat.v1.train.LooperThread`s, that write summaries, count
steps per second and save checkpoints on a timer. On TF1 every thread
executed in graph mode. On TF2, eager execution is on by default, and it is
a per-thread setting: a new thread executes eagerly even when the thread
that made it was inside `with tf.Graph().as_default()`, as TF1 code has to
be on TF2. There `tf.compat.v1.train.global_step(sess, global_step)` and
`Saver.save` take their eager branch and use the graph's tensors as eager
values; the threads die at their first step with

    TypeError: <tf.Tensor 'global_step:0' ...> is out of scope and cannot
    be used here.

and `Supervisor.stop` (the end of `slim.learning.train`) raises it.
TensorFlow's and tf-slim's own tests avoid it by turning eager execution
off for the whole process (`tf.compat.v1.disable_eager_execution()`).

The repair: a `LooperThread` made in graph mode runs in the graph that was
the default where it was made (the thread's creator's), in graph mode, as
on TF1. A `LooperThread` made eagerly, or while a `tf.function` is traced,
runs eagerly, as on TF2 without the repair. Other threads (a program's own
`threading.Thread`s) are not changed: one that calls `Saver.save` with a
`global_step` tensor has to enter its graph (`with graph.as_default():`).

`tf1shim.install()` calls `repair()`. It changes `LooperThread.__init__`
and `run`; that they are Supervisor's threads' is checked in
`core/tests/private_api_test.py`, and what the threads do in
`core/tests/training_threads_test.py`.
"""

import functools

import tensorflow as tf

_LooperThread = tf.compat.v1.train.LooperThread

# Set on the replacement methods, so that `repair()` recognizes its own work.
_MARKER = "_tf1shim_training_threads"
# The graph a LooperThread was made in (None: made eagerly).
_GRAPH_ATTRIBUTE = "_tf1shim_graph"


def repair():
  """Makes LooperThreads made in graph mode run in their graph. Idempotent."""
  if is_repaired():
    return
  original_init, original_run = _LooperThread.__init__, _LooperThread.run

  @functools.wraps(original_init)
  def __init__(self, *args, **kwargs):  # pylint: disable=invalid-name
    original_init(self, *args, **kwargs)
    graph = None
    if not tf.executing_eagerly():
      graph = tf.compat.v1.get_default_graph()
      if graph.building_function:  # a tf.function's trace: TF2 code
        graph = None
    setattr(self, _GRAPH_ATTRIBUTE, graph)

  @functools.wraps(original_run)
  def run(self):
    graph = getattr(self, _GRAPH_ATTRIBUTE, None)
    if graph is None:
      return original_run(self)
    with graph.as_default():
      return original_run(self)

  for method in (__init__, run):
    setattr(method, _MARKER, True)
  _LooperThread.__init__ = __init__
  _LooperThread.run = run


def is_repaired():
  return all(getattr(method, _MARKER, False)
             for method in (_LooperThread.__init__, _LooperThread.run))
