"""Interleaved timing: is a stage as fast as the TF1 graph it replaces?

Contenders (e.g. the TF1 graph's `Session.run` and a stage's train step)
are measured round after round, each round's ratios taken against the
baseline measured in that same round:

    from tf1shim.comparison import timing
    results = timing.measure({"tf1": run_graph, "stage4": step}, "tf1",
                             rounds=9)
    print(timing.cell(results["stage4"]))  # "12.3 ms, 0.98x (0.91-1.07); CPU 0.97x"

On a shared machine (2 cores, other jobs) the load changes over a run:
timing every contender once per round, in an order rotated from round to
round, and taking the median over rounds of each round's ratio, compares
contenders under the same load; the spread (smallest and largest ratio)
says how much the load moved them.
"""

import statistics
import time


def _seconds(fn, calls):
  """(wall, CPU) seconds per call; CPU: the process's, all threads, user
  and system."""
  start, cpu_start = time.perf_counter(), time.process_time()
  for _ in range(calls):
    fn()
  return ((time.perf_counter() - start) / calls,
          (time.process_time() - cpu_start) / calls)


def measure(contenders, baseline, rounds, calls=1):
  """Times each contender's callable `rounds` times, interleaved.

  Args:
    contenders: {name: callable}, each already warmed up (traced).
    baseline: the name the ratios are taken against.
    rounds: rounds; in each, every contender runs `calls` times in a row.
    calls: calls per timing (several for contenders of a few milliseconds).

  Returns:
    {name: {"seconds": median seconds per call, "ratio": median of the
    per-round ratios to the baseline, "low"/"high": their extremes,
    "cpu_ratio": the median of the per-round ratios of CPU time}}. CPU
    time (the process's, every thread) counts the work done, not the
    waiting for a core that other jobs hold: on a shared machine it moves
    less than wall time (TensorFlow's thread pools spin a little while
    idle, so it is not exact either).
  """
  names = list(contenders)
  times = {name: [] for name in names}
  cpu = {name: [] for name in names}
  for round_index in range(rounds):
    shift = round_index % len(names)
    for name in names[shift:] + names[:shift]:
      wall, cpu_time = _seconds(contenders[name], calls)
      times[name].append(wall)
      cpu[name].append(cpu_time)
  result = {}
  for name in names:
    ratios = [t / b for t, b in zip(times[name], times[baseline])]
    result[name] = {"seconds": statistics.median(times[name]),
                    "ratio": statistics.median(ratios),
                    "low": min(ratios), "high": max(ratios),
                    "cpu_ratio": statistics.median(
                        c / b for c, b in zip(cpu[name], cpu[baseline]))}
  return result


def stages_against_baseline(baseline_name, baselines, stages, rounds,
                            calls=None, steps_per_call=None, warmups=1):
  """Each stage against the baseline, one stage at a time, every measure.

  Args:
    baseline_name: the baseline's name in the results (e.g. "TF1 graph").
    baselines: {measure: callable}, the baseline of each measure.
    stages: an iterable of (label, {measure: callable}), e.g. a generator
      that builds one stage's models at a time (and frees the previous
      stage's when resumed: this function keeps no reference to them).
    rounds: interleaved rounds per measure and stage (`measure`).
    calls: {measure: calls per timing}; 1 for measures not listed.
    steps_per_call: {measure: n} where one call of either contender runs n
      steps (e.g. a `fit` epoch against as many `Session.run` calls): the
      times are divided by n, per step.
    warmups: calls of each contender before its timing (tracing, first
      allocations).

  Returns:
    {measure: {baseline_name: entry, label: entry, ...}} in the order of
    `baselines` and `stages`, entries as `measure` gives them. The
    baseline's "seconds" is the median of its times over the stages'
    measurements, its ratios 1.
  """
  calls = calls or {}
  steps_per_call = steps_per_call or {}
  results = {name: {} for name in baselines}
  baseline_seconds = {name: [] for name in baselines}
  for label, measures in stages:
    for name, baseline in baselines.items():
      contenders = {baseline_name: baseline, label: measures[name]}
      for fn in contenders.values():
        for _ in range(warmups):
          fn()
      measured = measure(contenders, baseline_name, rounds,
                         calls.get(name, 1))
      for entry in measured.values():
        entry["seconds"] /= steps_per_call.get(name, 1)
      results[name][label] = measured[label]
      baseline_seconds[name].append(measured[baseline_name]["seconds"])
    del measures, contenders  # The caller's generator may free them now.
  for name in baselines:
    results[name] = {
        baseline_name: {"seconds": statistics.median(baseline_seconds[name]),
                        "ratio": 1.0, "low": 1.0, "high": 1.0,
                        "cpu_ratio": 1.0},
        **results[name]}
  return results


def epoch_dataset(batches, steps):
  """An epoch of `steps` batches for `fit` or `predict` to time: `batches`
  ([(inputs, labels)], NumPy arrays of one batch size) repeated in turn,
  cached in memory as tensors, tf.data's autotuner off.

  The autotuner, on by default, holds each `fit`/`predict` call 36-58 ms
  after its last step (measured in examples/benchmarks: a `fit` of 500
  dense steps took 143 ms with it, 91 ms without, Keras's `on_train_end`
  reached at the same time): the end of its iterator waits for the
  autotuning thread. Cached batches have nothing to tune, and a benchmark
  of the model must not time tf.data's tuning.
  """
  import numpy as np  # pylint: disable=g-import-not-at-top
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  batch_size = len(batches[0][0])
  dataset = tf.data.Dataset.from_tensor_slices(tuple(
      np.concatenate([batch[part] for batch in batches])
      for part in range(len(batches[0])))).batch(batch_size).cache()
  dataset = dataset.repeat(-(-steps // len(batches))).take(steps)
  options = tf.data.Options()
  options.autotune.enabled = False
  return dataset.with_options(options)


def cell(entry):
  """A table cell: median time, median ratio, the ratios' spread, and the
  median ratio of CPU time."""
  milliseconds = 1000 * entry["seconds"]
  return "%.*f ms, %.2fx (%.2f-%.2f); CPU %.2fx" % (
      2 if milliseconds < 10 else 1, milliseconds, entry["ratio"],
      entry["low"], entry["high"], entry["cpu_ratio"])


def table_header(first_column, measures):
  """The header and separator of a Markdown table: first column, "stage",
  one column per measure."""
  return ("| %s | stage | %s |\n|---|---|%s" % (
      first_column, " | ".join(measures), "---|" * len(measures)))


def table_rows(label, results, measures):
  """One Markdown row per contender of `stages_against_baseline`'s
  results, in their order, each measure's `cell`."""
  return ["| %s | %s | %s |" % (label, contender, " | ".join(
      cell(results[m][contender]) for m in measures))
          for contender in results[measures[0]]]
