"""An example's stage trained by `model.fit` on N local worker processes.

    tools/dev scale-out --workers 2 --example dense --stage 1
    bazel run //examples/scale_out:local_cluster -- --workers 2

Starts `examples/scale_out/train.py` once per worker, each with its
`TF_CONFIG` (a cluster of localhost addresses on free ports), waits for all
(a worker still running after `--timeout` seconds stops the cluster), and
prints the chief's summary. On real machines the launcher is your cluster
manager: the same `train.py` command on every host, each host's `TF_CONFIG`
naming every worker's `host:port` and its own index (examples/README.md,
"Scaling out").
"""

import argparse
import json
import os
import sys
import tempfile


def parse_args(argv):
  parser = argparse.ArgumentParser(
      prog="tools/dev scale-out",
      description="Train an example's stage with model.fit on N local "
      "worker processes (MultiWorkerMirroredStrategy).")
  parser.add_argument("--workers", type=int, default=2)
  parser.add_argument("--example", default="dense")
  parser.add_argument("--stage", default="1", help="1-4 (default: 1)")
  parser.add_argument("--epochs", type=int, default=2)
  parser.add_argument("--steps-per-epoch", type=int, default=4)
  parser.add_argument("--global-batch", type=int,
                      help="default: 12 per worker")
  parser.add_argument("--output", help="write the final weights (.npz) "
                      "there; an existing file is refused")
  parser.add_argument("--backup-dir", help="back up each epoch and resume "
                      "from there (run the same command again after a crash)")
  parser.add_argument("--timeout", type=float, default=600,
                      help="seconds before a running worker counts as hung")
  return parser.parse_args(argv)


def run(args):
  from examples.data import pipeline  # pylint: disable=g-import-not-at-top
  from testing import cluster  # pylint: disable=g-import-not-at-top
  if args.workers < 1:
    raise ValueError("--workers must be at least 1")
  if args.output and os.path.exists(args.output):
    raise ValueError("%s exists; choose another --output or remove it" %
                     args.output)
  global_batch = args.global_batch or 12 * args.workers
  data_dir = pipeline.default_data_dir()
  # Written once here: the workers only read it (no two writers).
  pipeline.numpy_batches("train", 1, data_dir=data_dir)
  train_args = [
      "-m", "examples.scale_out.train", "--example", args.example,
      "--stage", args.stage, "--epochs", str(args.epochs),
      "--steps-per-epoch", str(args.steps_per_epoch),
      "--global-batch", str(global_batch), "--data-dir", data_dir]
  if args.output:
    train_args += ["--output", os.path.abspath(args.output)]
  if args.backup_dir:
    train_args += ["--backup-dir", os.path.abspath(args.backup_dir)]
  log_dir = tempfile.mkdtemp(prefix="tf1shim_scale_out_")
  with cluster.LocalCluster({"worker": args.workers}, log_dir) as workers:
    print("workers: %s (logs in %s)" % (
        ", ".join(workers.spec["worker"]), log_dir), flush=True)
    workers.start_all(lambda task_type, index: train_args)
    try:
      codes = workers.wait(args.timeout)
    except cluster.ClusterTimeout:
      raise ValueError("a worker was still running after %.0f s; logs in %s"
                       % (args.timeout, log_dir)) from None
    failed = sorted(index for (_, index), code in codes.items() if code)
    if failed:
      raise ValueError("worker(s) %s failed; logs in %s" % (
          ", ".join(map(str, failed)), log_dir))
    summary = workers.log("worker", 0).split("scale_out ")[-1].splitlines()[0]
  return json.loads(summary)


def main(argv=None):
  args = parse_args(sys.argv[1:] if argv is None else argv)
  os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
  try:
    summary = run(args)
  except ValueError as e:
    print("scale-out: error: %s" % e, file=sys.stderr)
    return 1
  print("chief: %d workers, %d epochs, loss per epoch %s%s" % (
      summary["workers"], summary["epochs_run"], summary["loss"],
      ", weights in %s" % args.output if args.output else ""))
  return 0


if __name__ == "__main__":
  sys.exit(main())
