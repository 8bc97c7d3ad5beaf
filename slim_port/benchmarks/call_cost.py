"""What one call of a Keras model costs beyond the graph's `Session.run`:
inference of one stage against the TF1 graph, call by call.

    PYTHONPATH=core:. .venv/bin/python slim_port/benchmarks/call_cost.py \\
        --network inception_v1 --stage 4 [--rounds 20]

The training benchmark times single calls in interleaved rounds, so each
call may follow a call of the other runtime. Here each contender runs
`--calls` calls in a row per round (rounds alternate the order); printed
per contender: the median time of the first call of a run ("after the
other": the TF1 graph and Keras run on different inter-op thread pools,
whose threads keep spinning for a while after their work) and of the
others ("steady"), each with its ratio to the TF1 graph's. Contenders:

* the TF1 graph: `Session.run` of the logits, the batch fed as a NumPy
  array;
* the stage's traced forward (`tf.function`) called with that NumPy array
  (converted to a new tensor on every call), and with a tensor made once
  (as a `tf.data` pipeline hands it over);
* `predict_on_batch` with the NumPy array.

Then the parts of a call, each measured alone (median of `--calls` x
`--rounds` calls): a `tf.function` that reads one element of its input,
called with the array and with the tensor (the difference is the copy),
and a TF1 graph that does the same, fed the array; a `tf.function` that
reads as many variables as the stage's forward captures, against one that
reads one variable.
"""

import argparse
import os
import statistics
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # pylint: disable=g-import-not-at-top,wrong-import-position
import tensorflow as tf  # pylint: disable=g-import-not-at-top

from slim_port.benchmarks import training_benchmark as bench  # pylint: disable=g-import-not-at-top
from slim_port.staging import network as network_lib  # pylint: disable=g-import-not-at-top


def _call_seconds(fn):
  start = time.perf_counter()
  fn()
  return time.perf_counter() - start


def runs_in_a_row(contenders, rounds, calls):
  """{name: (first-call seconds, steady seconds)}, medians over rounds."""
  first = {name: [] for name in contenders}
  steady = {name: [] for name in contenders}
  names = list(contenders)
  for round_index in range(rounds):
    for name in names if round_index % 2 == 0 else names[::-1]:
      times = [_call_seconds(contenders[name]) for _ in range(calls)]
      first[name].append(times[0])
      steady[name].extend(times[1:])
  return {name: (statistics.median(first[name]),
                 statistics.median(steady[name])) for name in names}


def _alone(fn, calls):
  for _ in range(3):
    fn()
  return statistics.median(_call_seconds(fn) for _ in range(calls))


def call_parts(images, variable_count, calls):
  """{part: seconds per call} of the costs a Keras call adds."""
  tensor = tf.constant(images)
  read_input = tf.function(lambda x: x[0, 0, 0, 0])
  variables = [tf.Variable(tf.zeros([1])) for _ in range(variable_count)]
  read_all = tf.function(lambda: tf.add_n([v + 0.0 for v in variables]))
  read_one = tf.function(lambda: variables[0] + 0.0)
  graph = tf.Graph()
  with graph.as_default():
    placeholder = tf.compat.v1.placeholder(tf.float32, images.shape)
    element = placeholder[0, 0, 0, 0]
  session = tf.compat.v1.Session(graph=graph)
  parts = {
      "tf.function call, NumPy input": _alone(
          lambda: read_input(images), calls),
      "tf.function call, tensor input": _alone(
          lambda: read_input(tensor), calls),
      "tf.function call, %d captured variables" % variable_count: _alone(
          read_all, calls),
      "tf.function call, 1 captured variable": _alone(read_one, calls),
      "Session.run, NumPy feed": _alone(
          lambda: session.run(element, {placeholder: images}), calls),
  }
  session.close()
  return parts


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  parser.add_argument("--network", choices=network_lib.NETWORKS,
                      default="inception_v1")
  parser.add_argument("--stage", type=int, default=4)
  parser.add_argument("--rounds", type=int, default=20)
  parser.add_argument("--calls", type=int, default=4,
                      help="calls in a row per contender and round")
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
  session, logits, feed = graph["inference"]
  stage = network.stage(args.stage)
  model = bench._model(stage, images, graph["values"],  # pylint: disable=protected-access
                       keras.optimizers.SGD)
  forward = tf.function(lambda x: model(x, training=False))
  tensor = tf.constant(images)
  contenders = {
      "TF1 graph, Session.run (NumPy feed)": lambda: session.run(logits,
                                                                 feed),
      "tf.function forward, NumPy input": lambda: forward(images),
      "tf.function forward, tensor input": lambda: forward(tensor),
      "predict_on_batch, NumPy input": lambda: model.predict_on_batch(
          images),
  }
  for fn in contenders.values():
    for _ in range(3):
      fn()
  results = runs_in_a_row(contenders, args.rounds, args.calls)
  captured = len(forward.get_concrete_function(tensor).captured_inputs)
  print("%s stage %d (%s), batch %d, %dx%d: %d rounds of %d calls in a "
        "row" % (args.network, args.stage, stage.name, batch, size, size,
                 args.rounds, args.calls))
  print("| contender | first call after the other | steady |")
  print("|---|---|---|")
  base_first, base_steady = results[next(iter(contenders))]
  for name, (first, steady) in results.items():
    print("| %s | %.1f ms, %.2fx | %.1f ms, %.2fx |" % (
        name, 1000 * first, first / base_first, 1000 * steady,
        steady / base_steady))
  print("\n| part of a call (measured alone) | ms per call |")
  print("|---|---|")
  for part, seconds in call_parts(images, captured,
                                  args.rounds * args.calls).items():
    print("| %s | %.3f |" % (part, 1000 * seconds))
  for session in graph["sessions"]:
    session.close()
  return 0


if __name__ == "__main__":
  sys.exit(main())
