"""Which ops a step ran, by type: how many and their summed time.

`session_ops(session, fetches, feed_dict)` runs a TF1 graph's step once
with `RunOptions(FULL_TRACE)` and reads its `RunMetadata.step_stats`;
`traced_ops(fn)` calls `fn` (eager, `tf.function`, a Keras step) once under
TensorFlow's profiler and reads the executor's op events from its trace.
Both see the ops the executor ran, after Grappler and oneDNN's graph pass
rewrote the graph (a `_MklNativeFusedConv2D` where the traced graph held a
`Conv2D`, a `BiasAdd` and a `Relu`), which is what a comparison of speed or
of kernels needs.

Each returns `{op type: (count, milliseconds)}`. Op times overlap on the
executor's threads, so their sum exceeds the step's wall time: compare two
profiles with each other, not with a clock.
"""

import collections
import glob
import os
import tempfile

import tensorflow as tf

from tf1shim import _tf_internal

v1 = tf.compat.v1


def _op_type(node_name, label):
  # step_stats: timeline_label is "name = Type(inputs)".
  if " = " in label:
    return label.split(" = ", 1)[1].split("(", 1)[0]
  return node_name


def session_ops(session, fetches, feed_dict=None):
  """`{op type: (count, ms)}` of one `session.run(fetches, feed_dict)`."""
  metadata = v1.RunMetadata()
  session.run(fetches, feed_dict,
              options=v1.RunOptions(trace_level=v1.RunOptions.FULL_TRACE),
              run_metadata=metadata)
  totals = collections.defaultdict(lambda: [0, 0.0])
  for device in metadata.step_stats.dev_stats:
    for node in device.node_stats:
      if node.node_name in ("_SOURCE", "_SINK"):
        continue
      kind = _op_type(node.node_name, node.timeline_label)
      totals[kind][0] += 1
      totals[kind][1] += node.all_end_rel_micros / 1000.0
  return {kind: tuple(total) for kind, total in totals.items()}


def traced_ops(fn):
  """`{op type: (count, ms)}` of one call of `fn`, from the profiler's
  trace. Calls `fn` once; trace and warm it up first if its first call
  should not count (tracing runs ops too)."""
  with tempfile.TemporaryDirectory() as logdir:
    tf.profiler.experimental.start(logdir)
    try:
      fn()
    finally:
      tf.profiler.experimental.stop()
    [path] = glob.glob(os.path.join(logdir, "**", "*.xplane.pb"),
                       recursive=True)
    with open(path, "rb") as trace:
      space = _tf_internal.parse_profiler_trace(trace.read())
  totals = collections.defaultdict(lambda: [0, 0.0])
  for plane in space.planes:
    if plane.name != "/host:CPU":
      continue
    names = {i: m.name for i, m in plane.event_metadata.items()}
    for line in plane.lines:
      for event in line.events:
        # An op's event is named "node name:Type"; the executor's own
        # events ("ExecutorState::Process") are not ops.
        name = names[event.metadata_id]
        if ":" not in name or "::" in name:
          continue
        kind = name.rsplit(":", 1)[-1].strip()
        if kind.startswith("__inference"):  # the function, not an op
          continue
        totals[kind][0] += 1
        totals[kind][1] += event.duration_ps / 1e9
  return {kind: tuple(total) for kind, total in totals.items()}
