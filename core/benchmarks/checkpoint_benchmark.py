"""Benchmark: converting a >= 1 GiB TF1 checkpoint to Keras 3 `.weights.h5`.

    tools/dev bench-ckpt     # or: python core/benchmarks/checkpoint_benchmark.py

1. A TF1 graph with 8 dense layers of 8192x4096 float32 (128 MiB kernels,
   1 GiB in all) is saved with `tf.compat.v1.train.Saver` (own process).
2. Baseline, same run, own process: `tf.train.load_checkpoint` reads every
   tensor.
3. Conversion, own process: the matching Keras 3 model is built without
   allocating its weights (inside `keras.StatelessScope`), then
   `tf1shim.checkpoints.to_keras_weights` streams the checkpoint into the
   file, verifies it and renames it into place.

Steps 2 and 3 run in rounds (default 3), back to back, alternating which
goes first, each in a new process: the ratio is the median of the rounds'
ratios (a 2-core machine shared with other work drifts by tens of percent
within seconds), throughputs are medians, peak RSS the largest.

Reported: throughput (MiB/s) of both, their ratio, the CPU time each
spends per GiB (all its threads, user + system: what bounds the throughput
on a machine whose memory is fast, and steadier than wall time on a shared
one), and each process's peak RSS above its own baseline (RSS after
imports and model construction).
Targets: conversion >= 0.8x the raw read throughput; peak RSS above baseline
<= 2x the largest tensor. Per byte, the raw read copies the data file into
a new tensor and checksums it (TensorFlow's CRC32C); the conversion
checksums the source through a memory map, copies it once into the new
file (HDF5's write) and checksums the written bytes through a memory map:
one copy and two checksums against one copy, one checksum and the tensor's
allocation. The files live in a tmpfs folder (`/dev/shm` when
present; `--dir` to choose another), so both runs measure the software, not
this machine's disk: on its disk, writing 1 GiB is throttled to about
250 MiB/s while reads come from the page cache.
"""

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

LAYERS, INPUTS, UNITS = 8, 8192, 4096
MIB = 1 << 20
TARGET_RATIO = 0.8  # conversion throughput / raw read throughput


def _rss():
  import psutil  # pylint: disable=g-import-not-at-top
  return psutil.Process().memory_info().rss


def _peak_rss():
  return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def generate(directory):
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  v1 = tf.compat.v1
  with tf.Graph().as_default():
    x = v1.placeholder(tf.float32, [None, INPUTS])
    for _ in range(LAYERS):
      _tf1_dense(x)
    with v1.Session() as sess:
      sess.run(v1.global_variables_initializer())
      return v1.train.Saver().save(sess, os.path.join(directory, "big.ckpt"))


def _tf1_dense(x):
  from tf1shim import layers  # pylint: disable=g-import-not-at-top
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  return layers.dense(
      x, UNITS, kernel_initializer=tf.compat.v1.random_uniform_initializer())


def raw_read(prefix):
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  baseline = _rss()
  start, cpu_start = time.perf_counter(), time.process_time()
  reader = tf.train.load_checkpoint(prefix)
  total = 0
  for name in reader.get_variable_to_shape_map():
    total += reader.get_tensor(name).nbytes
  seconds = time.perf_counter() - start
  return {"bytes": total, "seconds": seconds,
          "cpu_seconds": time.process_time() - cpu_start,
          "peak_above_baseline": _peak_rss() - baseline}


def convert(prefix, out):
  import keras  # pylint: disable=g-import-not-at-top
  from tf1shim import checkpoints  # pylint: disable=g-import-not-at-top
  with keras.StatelessScope(initialize_variables=False):
    inputs = keras.Input((INPUTS,))
    outputs = [keras.layers.Dense(UNITS)(inputs) for _ in range(LAYERS)]
    model = keras.Model(inputs, outputs)
  baseline = _rss()
  start, cpu_start = time.perf_counter(), time.process_time()
  report = checkpoints.to_keras_weights(prefix, model, out)
  seconds = time.perf_counter() - start
  cpu_seconds = time.process_time() - cpu_start
  reader = checkpoints.CheckpointReader(prefix)
  total = sum(reader.entries[e].size * reader.entries[e].dtype.itemsize
              for e in report.assigned.values())
  largest = max(e.size * e.dtype.itemsize for e in reader.entries.values())
  return {"bytes": total, "seconds": seconds, "cpu_seconds": cpu_seconds,
          "largest": largest,
          "peak_above_baseline": _peak_rss() - baseline,
          "variables": len(report.assigned)}


def _in_subprocess(*args):
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
  env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
  done = subprocess.run([sys.executable, os.path.abspath(__file__)] +
                        list(args), capture_output=True, text=True, env=env,
                        check=False)
  if done.returncode != 0:
    raise RuntimeError("%s failed:\n%s" % (args[0], done.stderr[-3000:]))
  return json.loads(done.stdout.strip().splitlines()[-1])


def main():
  parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  parser.add_argument("--step", choices=["generate", "raw", "convert"],
                      help=argparse.SUPPRESS)
  parser.add_argument("--path", help=argparse.SUPPRESS)
  parser.add_argument("--out", help=argparse.SUPPRESS)
  parser.add_argument("--keep", help="keep the files in this folder")
  parser.add_argument("--rounds", type=int, default=3,
                      help="raw read + conversion pairs (default 3)")
  parser.add_argument("--dir", help="work in this folder (default: a new "
                      "folder in /dev/shm, or the system's temp folder)")
  args = parser.parse_args()
  if args.step == "generate":
    print(json.dumps({"prefix": generate(args.path)}))
    return 0
  if args.step == "raw":
    print(json.dumps(raw_read(args.path)))
    return 0
  if args.step == "convert":
    print(json.dumps(convert(args.path, args.out)))
    return 0

  parent = args.dir or ("/dev/shm" if os.path.isdir("/dev/shm") else None)
  directory = args.keep or tempfile.mkdtemp(prefix="ckpt-bench-", dir=parent)
  raws, convs = [], []
  try:
    prefix = _in_subprocess("--step", "generate", "--path",
                            directory)["prefix"]
    out = os.path.join(directory, "big.weights.h5")
    for round_index in range(args.rounds):
      # Alternate which goes first: drifts of the machine cancel.
      for step in (("raw", "convert") if round_index % 2 == 0 else
                   ("convert", "raw")):
        if step == "raw":
          raws.append(_in_subprocess("--step", "raw", "--path", prefix))
        else:
          if os.path.exists(out):
            os.remove(out)
          convs.append(_in_subprocess("--step", "convert", "--path", prefix,
                                      "--out", out))
  finally:
    if not args.keep:
      shutil.rmtree(directory, ignore_errors=True)
  return _report(raws, convs)


def _rate(result):
  return result["bytes"] / MIB / result["seconds"]


def _cpu_per_gib(result):
  return result["cpu_seconds"] / (result["bytes"] / (1 << 30))


def _report(raws, convs):
  """Prints the table; 0 if the targets are met."""
  raw_rate = statistics.median(_rate(r) for r in raws)
  conv_rate = statistics.median(_rate(c) for c in convs)
  ratio = statistics.median(_rate(c) / _rate(r) for r, c in zip(raws, convs))
  raw_peak = max(r["peak_above_baseline"] for r in raws)
  conv_peak = max(c["peak_above_baseline"] for c in convs)
  conv = convs[0]
  print("| measure | tf.train.load_checkpoint, every tensor | "
        "to_keras_weights (verified) | target |")
  print("|---|---|---|---|")
  print("| data | %.0f MiB | %.0f MiB (%d variables) | >= 1024 MiB |" % (
      raws[0]["bytes"] / MIB, conv["bytes"] / MIB, conv["variables"]))
  print("| throughput, median of %d rounds | %.0f MiB/s | %.0f MiB/s "
        "(%.2fx) | >= %.2fx |" % (len(convs), raw_rate, conv_rate, ratio,
                                 TARGET_RATIO))
  print("| each round | %s | %s | |" % (
      ", ".join("%.0f" % _rate(r) for r in raws),
      ", ".join("%.0f (%.2fx)" % (_rate(c), _rate(c) / _rate(r))
                for r, c in zip(raws, convs))))
  print("| CPU time per GiB (all threads, user + system), median | %.2f s "
        "| %.2f s (%.2fx) | |" % (
            statistics.median(_cpu_per_gib(r) for r in raws),
            statistics.median(_cpu_per_gib(c) for c in convs),
            statistics.median(_cpu_per_gib(c) / _cpu_per_gib(r)
                              for r, c in zip(raws, convs))))
  print("| peak RSS above baseline | %.0f MiB | %.0f MiB (%.2fx the largest "
        "tensor, %.0f MiB) | <= 2.00x |" % (
            raw_peak / MIB, conv_peak / MIB, conv_peak / conv["largest"],
            conv["largest"] / MIB))
  ok = (conv["bytes"] >= 1024 * MIB and ratio >= TARGET_RATIO and
        conv_peak <= 2 * conv["largest"])
  print("Targets met." if ok else "Targets missed.")
  return 0 if ok else 1


if __name__ == "__main__":
  sys.exit(main())
