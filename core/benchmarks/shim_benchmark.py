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

The second model is an LSTM (batch 32, 20 steps, input 32, 64 units):
TF1's `tf.compat.v1.nn.rnn_cell.LSTMCell` run by
`tf.compat.v1.nn.dynamic_rnn` in a decorated method, returning the final
state's `h`, against `tf.keras.layers.LSTM(64)`, which returns the same;
the same three measures and targets, in the same run. A third variant shows
what TF1's ops as written cost: the same TF1 computation without the shim
(`tf.compat.v1.nn.dynamic_rnn` over a minimal cell with TF1 `LSTMCell`'s
ops — one kernel on `concat([inputs, h])`, gates i, j, f, o, `forget_bias`
added — on plain `tf.Variable`s in a `tf.Module`), where tf1shim's
`LSTMCell` runs the step on TensorFlow's fused kernel
(tf1shim/rnn/lstm_kernel.py).
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
      _, state = v1.nn.dynamic_rnn(cell, inputs, dtype=tf.float32)
      return state.h  # What keras.layers.LSTM(units) returns.

  class NativeLSTM(tf.keras.layers.Layer):

    def __init__(self, **kwargs):
      super().__init__(**kwargs)
      self.lstm = tf.keras.layers.LSTM(LSTM_UNITS)

    def call(self, inputs, training=None):
      return self.lstm(inputs)

  return ShimLSTM(), NativeLSTM()


def build_plain_tf1_lstm(tf):
  """The shim LSTM's computation without the shim: TF1's dynamic_rnn over a
  minimal cell with TF1 LSTMCell's math, on plain tf.Variables."""
  v1 = tf.compat.v1

  class Cell(tf.Module):

    def __init__(self):
      super().__init__(name="plain_tf1_lstm")
      init = tf.keras.initializers.GlorotUniform(seed=0)
      self.kernel = tf.Variable(init((LSTM_INPUT + LSTM_UNITS,
                                      4 * LSTM_UNITS)))
      self.bias = tf.Variable(tf.zeros([4 * LSTM_UNITS]))

    @property
    def state_size(self):
      return (LSTM_UNITS, LSTM_UNITS)

    @property
    def output_size(self):
      return LSTM_UNITS

    def zero_state(self, batch_size, dtype):
      return (tf.zeros([batch_size, LSTM_UNITS], dtype),
              tf.zeros([batch_size, LSTM_UNITS], dtype))

    def __call__(self, inputs, state, scope=None):
      c, h = state
      gates = tf.nn.bias_add(
          tf.matmul(tf.concat([inputs, h], 1), self.kernel), self.bias)
      i, j, f, o = tf.split(gates, 4, axis=1)
      c = tf.sigmoid(f + 1.0) * c + tf.sigmoid(i) * tf.tanh(j)
      h = tf.sigmoid(o) * tf.tanh(c)
      return h, (c, h)

  class PlainLSTM:
    """Called like the Keras layers; its weights for the train step."""

    def __init__(self):
      self.cell = Cell()
      self.trainable_weights = [self.cell.kernel, self.cell.bias]
      self.losses = []

    def __call__(self, inputs, training=None):
      del training
      _, (_, h) = v1.nn.dynamic_rnn(self.cell, inputs, dtype=tf.float32)
      return h

  return PlainLSTM()


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
          "lstm": measure_model(tf, *lstm, rounds, iterations,
                                tf1=build_plain_tf1_lstm(tf))}


def measure_model(tf, models, x, y, rounds, iterations, tf1=None):
  """{measure: {"shim": seconds, "native": seconds, "ratio": r}}.

  With `tf1` (the same TF1 code without the shim) also its seconds,
  "tf1_ratio" (shim / tf1) and "tf1_native_ratio" (tf1 / native), each the
  median of the per-round ratios.
  """
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
  if tf1 is not None:
    steps["tf1"] = make_steps(tf1)
  kinds = list(steps)
  results = {}
  for name in MEASURES:
    for kind in steps:  # warm up (and trace)
      for _ in range(5):
        steps[kind][name]()
    seconds = {kind: [] for kind in kinds}
    ratios, tf1_ratios, tf1_native_ratios = [], [], []
    for round_index in range(rounds):
      # Rotate (and reverse every other round) the order of the variants:
      # drifts of the machine cancel.
      shift = round_index % len(kinds)
      order = kinds[shift:] + kinds[:shift]
      if round_index % 2:
        order = order[::-1]
      for kind in order:
        fn = steps[kind][name]
        start = time.perf_counter()
        for _ in range(iterations):
          out = fn()
        np.asarray(out)  # wait for the last step
        seconds[kind].append((time.perf_counter() - start) / iterations)
      ratios.append(seconds["shim"][-1] / seconds["native"][-1])
      if tf1 is not None:
        tf1_ratios.append(seconds["shim"][-1] / seconds["tf1"][-1])
        tf1_native_ratios.append(seconds["tf1"][-1] / seconds["native"][-1])
    results[name] = {"shim": statistics.median(seconds["shim"]),
                     "native": statistics.median(seconds["native"]),
                     "ratio": statistics.median(ratios),
                     "ratio_spread": [min(ratios), max(ratios)]}
    if tf1 is not None:
      results[name].update(
          tf1=statistics.median(seconds["tf1"]),
          tf1_ratio=statistics.median(tf1_ratios),
          tf1_ratio_spread=[min(tf1_ratios), max(tf1_ratios)],
          tf1_native_ratio=statistics.median(tf1_native_ratios))
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
      target_text = "<= %.2fx" % target if target else "-"
      lines.append(
          "| %s | %s | %.2fx (%.2f / %.2f ms; rounds %.2f-%.2f) | %.2fx | %s |"
          % (model, name, mine["ratio"], mine["shim"] * 1e3,
             mine["native"] * 1e3, mine["ratio_spread"][0],
             mine["ratio_spread"][1], official[model][name]["ratio"],
             target_text))
  lines += ["", "The LSTM's TF1 code without the shim (same run):", "",
            "| measure | tf1shim shim / TF1 code without the shim | TF1 code "
            "without the shim / native | official: shim / TF1 code without "
            "the shim |", "|---|---|---|---|"]
  for name in MEASURES:
    mine = ours["lstm"][name]
    lines.append("| %s | %.2fx (%.2f / %.2f ms; rounds %.2f-%.2f) | %.2fx "
                 "| %.2fx |" % (
                     name, mine["tf1_ratio"], mine["shim"] * 1e3,
                     mine["tf1"] * 1e3, mine["tf1_ratio_spread"][0],
                     mine["tf1_ratio_spread"][1], mine["tf1_native_ratio"],
                     official["lstm"][name]["tf1_ratio"]))
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
