"""Benchmark: two models written with the shim and natively, on Keras 3.

    tools/dev bench            # or: python core/benchmarks/shim_benchmark.py

The model (2 conv + 2 dense layers, batch 32, 16x16x3 inputs) is written
twice with the public APIs only: TF1 style (`tf.compat.v1.layers` inside a
method decorated with `tf.compat.v1.keras.utils.track_tf1_style_variables`)
and natively (`tf.keras.layers`). Three measures: eager forward, eager train
step, train step under `tf.function`. The same code then runs in a
subprocess with TF_USE_LEGACY_KERAS=1, where both APIs are the official
shim's and tf-keras's, so the table compares shim/native ratios measured in
the same run. Each ratio is the median over rounds of shim/native times
measured back to back (alternating which goes first); times are medians.

The second model is an LSTM (batch 32, 20 steps, input 32, 64 units, the
last output): TF1's `tf.compat.v1.nn.rnn_cell.LSTMCell` run by
`tf.compat.v1.nn.dynamic_rnn` in a decorated method, against
`tf.keras.layers.LSTM`; the same three measures, in the same run.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

import numpy as np

BATCH, SIZE, CHANNELS, CLASSES = 32, 16, 3, 10
MEASURES = ("eager forward", "eager train step", "tf.function train step")
TARGETS = {"eager forward": 1.3, "tf.function train step": 1.05}
LSTM_STEPS, LSTM_INPUT, LSTM_UNITS = 20, 32, 64
MODELS = ("cnn", "lstm")


def build_models(tf):
  """The shim and native versions of the model, for the active Keras."""
  v1 = tf.compat.v1

  class ShimModel(tf.keras.layers.Layer):

    @tf.compat.v1.keras.utils.track_tf1_style_variables
    def call(self, inputs, training=None):
      with v1.variable_scope("model"):
        out = v1.layers.conv2d(inputs, 16, 3, padding="same",
                               activation=tf.nn.relu, kernel_regularizer="l2")
        out = v1.layers.conv2d(out, 16, 3, padding="same",
                               activation=tf.nn.relu)
        out = v1.layers.flatten(out)
        out = v1.layers.dense(out, 64, activation=tf.nn.relu)
        return v1.layers.dense(out, CLASSES, kernel_regularizer="l2")

  class NativeModel(tf.keras.layers.Layer):

    def __init__(self, **kwargs):
      super().__init__(**kwargs)
      self.conv_1 = tf.keras.layers.Conv2D(16, 3, padding="same",
                                           activation="relu",
                                           kernel_regularizer="l2")
      self.conv_2 = tf.keras.layers.Conv2D(16, 3, padding="same",
                                           activation="relu")
      self.flatten = tf.keras.layers.Flatten()
      self.dense_1 = tf.keras.layers.Dense(64, activation="relu")
      self.dense_2 = tf.keras.layers.Dense(CLASSES, kernel_regularizer="l2")

    def call(self, inputs, training=None):
      out = self.conv_2(self.conv_1(inputs))
      return self.dense_2(self.dense_1(self.flatten(out)))

  return ShimModel(), NativeModel()


def build_lstm_models(tf):
  """The LSTM: TF1's LSTMCell + dynamic_rnn, and Keras's LSTM."""
  v1 = tf.compat.v1

  class ShimLSTM(tf.keras.layers.Layer):

    @tf.compat.v1.keras.utils.track_tf1_style_variables
    def call(self, inputs, training=None):
      cell = v1.nn.rnn_cell.LSTMCell(LSTM_UNITS)
      outputs, _ = v1.nn.dynamic_rnn(cell, inputs, dtype=tf.float32)
      return outputs[:, -1]

  class NativeLSTM(tf.keras.layers.Layer):

    def __init__(self, **kwargs):
      super().__init__(**kwargs)
      self.lstm = tf.keras.layers.LSTM(LSTM_UNITS)

    def call(self, inputs, training=None):
      return self.lstm(inputs)

  return ShimLSTM(), NativeLSTM()


def measure(rounds, iterations):
  """{model: {measure: {"shim": s, "native": s, "ratio": r}}}, active Keras."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  if not tf.keras.__name__.startswith("tf_keras"):
    import tf1shim  # pylint: disable=g-import-not-at-top
    tf1shim.install()
  rng = np.random.RandomState(0)
  cnn = (build_models(tf),
         tf.constant(rng.randn(BATCH, SIZE, SIZE, CHANNELS).astype(
             np.float32)),
         tf.constant(rng.randn(BATCH, CLASSES).astype(np.float32)))
  lstm = (build_lstm_models(tf),
          tf.constant(rng.randn(BATCH, LSTM_STEPS, LSTM_INPUT).astype(
              np.float32)),
          tf.constant(rng.randn(BATCH, LSTM_UNITS).astype(np.float32)))
  return {"cnn": measure_model(tf, *cnn, rounds, iterations),
          "lstm": measure_model(tf, *lstm, rounds, iterations)}


def measure_model(tf, models, x, y, rounds, iterations):
  """{measure: {"shim": seconds, "native": seconds, "ratio": r}}."""
  shim, native = models

  def make_steps(model):
    model(x)
    optimizer = tf.keras.optimizers.SGD(0.01)

    def train_step():
      with tf.GradientTape() as tape:
        loss = tf.reduce_mean(tf.square(model(x, training=True) - y))
        if model.losses:
          loss += tf.add_n(model.losses)
      grads = tape.gradient(loss, model.trainable_weights)
      optimizer.apply_gradients(zip(grads, model.trainable_weights))
      return loss

    compiled = tf.function(train_step)
    return {"eager forward": lambda: model(x),
            "eager train step": train_step,
            "tf.function train step": compiled}

  steps = {"shim": make_steps(shim), "native": make_steps(native)}
  results = {}
  for name in MEASURES:
    for kind in steps:  # warm up (and trace)
      for _ in range(5):
        steps[kind][name]()
    seconds = {"shim": [], "native": []}
    ratios = []
    for round_index in range(rounds):
      # Alternate which variant goes first: drifts of the machine cancel.
      order = ("shim", "native") if round_index % 2 == 0 else ("native",
                                                                "shim")
      for kind in order:
        fn = steps[kind][name]
        start = time.perf_counter()
        for _ in range(iterations):
          out = fn()
        np.asarray(out)  # wait for the last step
        seconds[kind].append((time.perf_counter() - start) / iterations)
      ratios.append(seconds["shim"][-1] / seconds["native"][-1])
    results[name] = {"shim": statistics.median(seconds["shim"]),
                     "native": statistics.median(seconds["native"]),
                     "ratio": statistics.median(ratios)}
  return results


def official_results(rounds, iterations):
  env = dict(os.environ, TF_USE_LEGACY_KERAS="1", TF_CPP_MIN_LOG_LEVEL="3")
  env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
  done = subprocess.run(
      [sys.executable, os.path.abspath(__file__), "--measure-only",
       "--rounds", str(rounds), "--iterations", str(iterations)],
      capture_output=True, text=True, env=env, check=False)
  if done.returncode != 0:
    raise RuntimeError("The official-shim run failed:\n" + done.stderr[-3000:])
  return json.loads(done.stdout.strip().splitlines()[-1])


def table(ours, official):
  lines = ["| model | measure | tf1shim (Keras 3) shim/native | official "
           "shim (tf-keras) shim/native | target |",
           "|---|---|---|---|---|"]
  for model in MODELS:
    for name in MEASURES:
      mine = ours[model][name]
      target = TARGETS.get(name)
      lines.append("| %s | %s | %.2fx (%.2f / %.2f ms) | %.2fx | %s |" % (
          model, name, mine["ratio"], mine["shim"] * 1e3,
          mine["native"] * 1e3, official[model][name]["ratio"],
          "<= %.2fx" % target if target else "-"))
  return "\n".join(lines)


def main():
  parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  parser.add_argument("--rounds", type=int, default=15)
  parser.add_argument("--iterations", type=int, default=30)
  parser.add_argument("--measure-only", action="store_true",
                      help="print this process's measures as JSON")
  parser.add_argument("--json", help="also write the results to this file")
  args = parser.parse_args()
  if args.measure_only:
    print(json.dumps(measure(args.rounds, args.iterations)))
    return 0
  ours = measure(args.rounds, args.iterations)
  official = official_results(args.rounds, args.iterations)
  print(table(ours, official))
  if args.json:
    with open(args.json, "w") as f:
      json.dump({"tf1shim": ours, "official": official}, f, indent=1)
  missed = ["%s %s" % (m, n) for m in MODELS for n, t in TARGETS.items()
            if ours[m][n]["ratio"] > t]
  if missed:
    print("Targets missed: " + ", ".join(missed))
    return 1
  return 0


if __name__ == "__main__":
  sys.exit(main())
