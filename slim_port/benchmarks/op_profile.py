"""Where a training step's time goes, by op type: the TF1 graph against a
stage, the same network, batch and input, in one process.

    PYTHONPATH=core:. .venv/bin/python slim_port/benchmarks/op_profile.py \\
        --network resnet_v1_50 --stage 4 [--inference] [--top 15]

TF1 graph: `Session.run` of the train op with `RunOptions(FULL_TRACE)`
(`tf1shim.comparison.op_profile.session_ops`); stage: `train_on_batch`
under TensorFlow's profiler (`op_profile.traced_ops`). Both count the ops
the executor ran, after Grappler and oneDNN's rewrites. Printed:
per op type, the number of ops run per step and their summed time (ms,
median of `--steps` steps); op times overlap on the executor's threads, so
the sums exceed the step's wall time; the comparison is between the two
columns.
"""

import argparse
import os
import statistics
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from tf1shim.comparison import op_profile  # pylint: disable=g-import-not-at-top,wrong-import-position
from slim_port.benchmarks import training_benchmark as bench  # pylint: disable=g-import-not-at-top
from slim_port.staging import network as network_lib  # pylint: disable=g-import-not-at-top


def _median(per_step):
  kinds = set().union(*per_step)
  return {k: (statistics.median(s.get(k, (0, 0))[0] for s in per_step),
              statistics.median(s.get(k, (0, 0.0))[1] for s in per_step))
          for k in kinds}


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
  parser.add_argument("--batch", type=int, help="instead of the training "
                      "benchmark's CONFIGS")
  parser.add_argument("--size", type=int, help="input size, instead of "
                      "CONFIGS'")
  args = parser.parse_args(argv)
  batch, size = bench.CONFIGS[args.network]
  batch, size = args.batch or batch, args.size or size
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
    ours.append(op_profile.traced_ops(fn))
    theirs.append(op_profile.session_ops(*tf1))
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
  return 0


if __name__ == "__main__":
  sys.exit(main())
