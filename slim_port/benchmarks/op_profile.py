"""Where a training step's time goes, by op type: the TF1 graph against a
stage, the same network, batch and input, in one process.

    PYTHONPATH=core:. .venv/bin/python slim_port/benchmarks/op_profile.py \\
        --network resnet_v1_50 --stage 4 [--inference] [--top 15]

TF1 graph: `Session.run` of the train op with `RunOptions(FULL_TRACE)`;
its `RunMetadata.step_stats` give each op's time on the executor.
Stage: `train_on_batch` under TensorFlow's profiler
(`tf.profiler.experimental.start/stop`); its XSpace trace (the host plane's
events named "node:Type" on the executor's threads, one per op executed)
gives the same. Printed:
per op type, the number of ops run per step and their summed time (ms,
median of `--steps` steps); op times overlap on the executor's threads, so
the sums exceed the step's wall time; the comparison is between the two
columns.
"""

import argparse
import collections
import glob
import os
import statistics
import sys
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import tensorflow as tf  # pylint: disable=g-import-not-at-top,wrong-import-position
from tensorflow.core.protobuf import config_pb2  # pylint: disable=g-import-not-at-top
from tensorflow.tsl.profiler.protobuf import xplane_pb2  # pylint: disable=g-import-not-at-top

from slim_port.benchmarks import training_benchmark as bench  # pylint: disable=g-import-not-at-top
from slim_port.staging import network as network_lib  # pylint: disable=g-import-not-at-top

v1 = tf.compat.v1


def _op_type(node_name, label):
  # step_stats: timeline_label "name = Type(inputs)".
  if " = " in label:
    return label.split(" = ", 1)[1].split("(", 1)[0]
  return node_name


def tf1_profile(train_step_graph):
  """{op type: [count, ms]} of one step."""
  session, fetch, feed = train_step_graph
  metadata = v1.RunMetadata()
  session.run(fetch, feed, options=v1.RunOptions(
      trace_level=config_pb2.RunOptions.FULL_TRACE),
              run_metadata=metadata)
  totals = collections.defaultdict(lambda: [0, 0.0])
  for device in metadata.step_stats.dev_stats:
    for node in device.node_stats:
      if node.node_name in ("_SOURCE", "_SINK"):
        continue
      kind = _op_type(node.node_name, node.timeline_label)
      totals[kind][0] += 1
      totals[kind][1] += node.all_end_rel_micros / 1000.0
  return totals


def _median(per_step):
  kinds = set().union(*per_step)
  return {k: (statistics.median(s.get(k, [0, 0])[0] for s in per_step),
              statistics.median(s.get(k, [0, 0.0])[1] for s in per_step))
          for k in kinds}


def keras_profile(fn):
  """{op type: [count, ms]} of one call of `fn`, from the profiler's trace."""
  with tempfile.TemporaryDirectory() as logdir:
    tf.profiler.experimental.start(logdir)
    fn()
    tf.profiler.experimental.stop()
    space = xplane_pb2.XSpace()
    [path] = glob.glob(os.path.join(logdir, "**", "*.xplane.pb"),
                       recursive=True)
    with open(path, "rb") as f:
      space.ParseFromString(f.read())
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
  return totals


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  parser.add_argument("--network", choices=network_lib.NETWORKS,
                      default="resnet_v1_50")
  parser.add_argument("--stage", type=int, default=4)
  parser.add_argument("--fused-sgd", action="store_true",
                      help="the stage trained with FusedSGD")
  parser.add_argument("--inference", action="store_true",
                      help="the tf.function forward, not the train step")
  parser.add_argument("--steps", type=int, default=3)
  parser.add_argument("--top", type=int, default=15)
  args = parser.parse_args(argv)
  batch, size = bench.CONFIGS[args.network]
  images, labels = bench._data(batch, size)  # pylint: disable=protected-access
  network = network_lib.load(args.network)
  graph = bench.tf1_graph(network, images, labels, with_handles=True)
  stage = network.stage(args.stage)
  measures = bench.stage_measures(stage, images, labels, graph["values"])
  measure = ("tf.function forward" if args.inference else
             "train step, FusedSGD" if args.fused_sgd else "train step")
  fn = measures[measure]
  tf1 = graph["inference" if args.inference else "train"]
  for _ in range(2):
    fn()
    tf1[0].run(tf1[1], tf1[2])
  ours, theirs = [], []
  for _ in range(args.steps):  # interleaved: the same load on both
    ours.append(keras_profile(fn))
    theirs.append(tf1_profile(tf1))
  ours, theirs = _median(ours), _median(theirs)
  rows = sorted(set(ours) | set(theirs),
                key=lambda k: -max(ours.get(k, (0, 0))[1],
                                   theirs.get(k, (0, 0))[1]))
  print("%s, %s, batch %d, %dx%d: TF1 graph vs stage %d (%s)" % (
      args.network, measure, batch, size, size, args.stage, stage.name))
  print("| op type | TF1 graph: ops, ms | stage: ops, ms |")
  print("|---|---|---|")
  for kind in rows[:args.top]:
    a, b = theirs.get(kind, (0, 0.0)), ours.get(kind, (0, 0.0))
    print("| %s | %d, %.1f | %d, %.1f |" % (kind, a[0], a[1], b[0], b[1]))
  print("| all | %d, %.1f | %d, %.1f |" % (
      sum(c for c, _ in theirs.values()), sum(t for _, t in theirs.values()),
      sum(c for c, _ in ours.values()), sum(t for _, t in ours.values())))
  for session in graph["sessions"]:
    session.close()
  return 0


if __name__ == "__main__":
  sys.exit(main())
