"""Benchmark: a forward pass of each stage of each ported slim network at
224x224, against the tf_slim network in a TF1 graph (`Session.run`), in the
same run.

    tools/dev bench-slim [--networks vgg_16 ...] [--batch 1] [--rounds 5]
    # or: bazel run //slim_port/benchmarks:forward_benchmark

Per network: the TF1 graph (inference, `is_training=False`) and each stage,
called eagerly and as a `tf.function` (inference), on the same weights (the
graph's, copied by TF1 name). Times are medians of `--rounds` calls after a
warm-up call; the ratio is against the TF1 graph.
"""

import argparse
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # pylint: disable=g-import-not-at-top,wrong-import-position
import tensorflow as tf  # pylint: disable=g-import-not-at-top

from tf1shim import staging  # pylint: disable=g-import-not-at-top
from slim_port.staging import network as network_lib  # pylint: disable=g-import-not-at-top

v1 = tf.compat.v1
INPUT_SIZE = 224


def _median_seconds(fn, rounds):
  fn()  # warm-up (and tracing)
  times = []
  for _ in range(rounds):
    start = time.perf_counter()
    fn()
    times.append(time.perf_counter() - start)
  return float(np.median(times))


def _graph(network, images, rounds):
  """TF1 graph seconds per forward, and its variables' values by name."""
  graph = tf.Graph()
  with graph.as_default():
    inputs = v1.placeholder(tf.float32, images.shape)
    logits, _ = network.slim_model_fn(
        inputs, training=False, num_classes=network.published_num_classes)
    variables = v1.global_variables()
  with v1.Session(graph=graph) as sess:
    sess.run(v1.global_variables_initializer())
    values = {staging.variable_name(v): value
              for v, value in zip(variables, sess.run(variables))}
    seconds = _median_seconds(
        lambda: sess.run(logits, {inputs: images}), rounds)
  return seconds, values


def _stage(stage, network, images, values, rounds):
  model = stage.build_model(num_classes=network.published_num_classes)
  model(images, training=False)
  names = stage.tf1_name_map(model)
  for v in model.weights:
    v.assign(values[names[staging.variable_name(v)]])
  eager = _median_seconds(lambda: model(images, training=False), rounds)
  compiled = tf.function(lambda x: model(x, training=False))
  graph = _median_seconds(lambda: compiled(images), rounds)
  return eager, graph


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  parser.add_argument("--networks", nargs="+", choices=network_lib.NETWORKS,
                      default=list(network_lib.NETWORKS))
  parser.add_argument("--batch", type=int, default=1)
  parser.add_argument("--rounds", type=int, default=5)
  args = parser.parse_args(argv)
  images = np.random.RandomState(0).normal(
      size=(args.batch, INPUT_SIZE, INPUT_SIZE, 3)).astype(np.float32)
  print("| network | stage | eager forward | tf.function forward |")
  print("|---|---|---|---|")
  for name in args.networks:
    network = network_lib.load(name)
    baseline, values = _graph(network, images, args.rounds)
    print("| %s | TF1 graph (Session.run) | %.1f ms (1.00x) | - |" % (
        name, 1000 * baseline), flush=True)
    for stage in network.stages:
      eager, graph = _stage(stage, network, images, values, args.rounds)
      print("| %s | %d %s | %.1f ms (%.2fx) | %.1f ms (%.2fx) |" % (
          name, stage.number, stage.name, 1000 * eager, eager / baseline,
          1000 * graph, graph / baseline), flush=True)
  return 0


if __name__ == "__main__":
  sys.exit(main())
