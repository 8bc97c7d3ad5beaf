"""`ckpt`: inspect, compare, map, convert and verify TF1 checkpoints.

Run as `bazel run //tools:ckpt -- <command> ...`, as `tf1shim-ckpt` when
tf1shim is pip-installed, or as `python -m tf1shim.checkpoints.cli`.

Exit codes: 0 success; 1 a mismatch was found (diff, map, verify);
2 bad input (a missing or corrupt checkpoint, a factory that cannot be
imported, a bad rules file) — with a message saying what is wrong.
"""

import argparse
import importlib
import json
import os
import sys

EXAMPLES = """examples:
  ckpt inspect train/model.ckpt-1000
  ckpt inspect train/model.ckpt-1000 --json > entries.json
  ckpt diff before/model.ckpt-0 after/model.ckpt-1000
  ckpt map train/model.ckpt-1000 --model my_models:build_native --rules native.rules
  ckpt verify train/model.ckpt-1000 --model my_models:build_native --auto
  ckpt convert train/model.ckpt-1000 --model my_models:build_native \\
      --rules native.rules --to keras model.weights.h5
  ckpt convert train/model.ckpt-1000 --model my_models:build_shim --to tf2 out/ckpt
  ckpt convert model.weights.h5 --model my_models:build_native \\
      --rules native.rules --to tf1 back/model.ckpt

MODULE:FACTORY names a function that returns the model, built (called once
on an example input), e.g. my_models.py with `def build_native(): ...`.
Rules files hold one `regex -> replacement` per line, from the model's
variable names to the checkpoint's; `#` starts a comment.
"""


class UsageError(Exception):
  """Bad input: printed, exit code 2."""


class Progress:
  """A one-line progress display on stderr, for runs over many tensors."""

  def __init__(self, total, label):
    self.total, self.label, self.done = total, label, 0
    self.enabled = total >= 20 or sys.stderr.isatty()

  def step(self, what=""):
    self.done += 1
    if not self.enabled:
      return
    width = 30
    filled = int(width * self.done / max(self.total, 1))
    sys.stderr.write("\r%s [%s%s] %d/%d %s" % (
        self.label, "=" * filled, " " * (width - filled), self.done,
        self.total, what[-40:].ljust(40)))
    if self.done == self.total:
      sys.stderr.write("\n")
    sys.stderr.flush()


def _reader(path):
  from tf1shim import checkpoints  # pylint: disable=g-import-not-at-top
  try:
    return checkpoints.CheckpointReader(path)
  except checkpoints.CheckpointError as e:
    raise UsageError(str(e)) from e


def _load_factory(spec):
  if ":" not in spec:
    raise UsageError("--model must be MODULE:FACTORY (e.g. my_models:build), "
                     "got %r." % spec)
  module_name, factory_name = spec.split(":", 1)
  sys.path.insert(0, os.getcwd())
  try:
    module = importlib.import_module(module_name)
  except Exception as e:  # pylint: disable=broad-except
    raise UsageError("Cannot import module %r for --model: %s: %s" % (
        module_name, type(e).__name__, e)) from e
  factory = getattr(module, factory_name, None)
  if not callable(factory):
    raise UsageError("Module %r has no callable %r for --model." % (
        module_name, factory_name))
  try:
    return factory()
  except Exception as e:  # pylint: disable=broad-except
    raise UsageError("--model factory %s failed: %s: %s" % (
        spec, type(e).__name__, e)) from e


def _mapping(args):
  from tf1shim import checkpoints  # pylint: disable=g-import-not-at-top
  if getattr(args, "rules", None) and getattr(args, "auto", False):
    raise UsageError("Give --rules or --auto, not both.")
  if getattr(args, "rules", None):
    try:
      return checkpoints.load_rules(args.rules)
    except OSError as e:
      raise UsageError("Cannot read rules file %s: %s" % (args.rules,
                                                         e)) from e
    except checkpoints.MappingError as e:
      raise UsageError(str(e)) from e
  if getattr(args, "auto", False):
    return "auto"
  return None


def cmd_inspect(args, out):
  import numpy as np  # pylint: disable=g-import-not-at-top
  reader = _reader(args.path)
  rows = []
  progress = Progress(len(reader.entries), "inspect")
  for name, entry in reader.entries.items():
    value = reader.read(name)
    numeric = value.dtype.kind in "biuf" and value.size
    rows.append({
        "name": name, "shape": list(entry.shape), "dtype": str(entry.dtype),
        "size": entry.size,
        "min": float(value.min()) if numeric else None,
        "max": float(value.max()) if numeric else None,
        "mean": float(value.astype(np.float64).mean()) if numeric else None})
    progress.step(name)
  if args.json:
    json.dump({"checkpoint": reader.prefix, "entries": rows}, out, indent=1)
    out.write("\n")
    return 0
  out.write("%s: %d entries, %d values\n" % (
      reader.prefix, len(rows), sum(r["size"] for r in rows)))
  for r in rows:
    stats = ("min %.4g max %.4g mean %.4g" % (r["min"], r["max"], r["mean"])
             if r["min"] is not None else "")
    out.write("  %-50s %-18s %-8s %10d  %s\n" % (
        r["name"], tuple(r["shape"]), r["dtype"], r["size"], stats))
  return 0


def cmd_diff(args, out):
  import numpy as np  # pylint: disable=g-import-not-at-top
  a, b = _reader(args.a), _reader(args.b)
  added = sorted(set(b.entries) - set(a.entries))
  removed = sorted(set(a.entries) - set(b.entries))
  common = sorted(set(a.entries) & set(b.entries))
  reshaped, changed = [], []
  progress = Progress(len(common), "diff")
  for name in common:
    ea, eb = a.entries[name], b.entries[name]
    if ea.shape != eb.shape or ea.dtype != eb.dtype:
      reshaped.append({"name": name, "a": [list(ea.shape), str(ea.dtype)],
                       "b": [list(eb.shape), str(eb.dtype)]})
    else:
      va, vb = a.read(name), b.read(name)
      if not np.array_equal(va, vb):
        diff = (float(np.max(np.abs(va.astype(np.float64) -
                                    vb.astype(np.float64))))
                if va.dtype.kind in "biuf" else None)
        changed.append({"name": name, "max_abs_diff": diff})
    progress.step(name)
  result = {"added": added, "removed": removed, "reshaped": reshaped,
            "changed": changed}
  if args.json:
    json.dump(result, out, indent=1)
    out.write("\n")
  else:
    for name in added:
      out.write("+ %s\n" % name)
    for name in removed:
      out.write("- %s\n" % name)
    for r in reshaped:
      out.write("~ %s: %s %s -> %s %s\n" % (r["name"], tuple(r["a"][0]),
                                            r["a"][1], tuple(r["b"][0]),
                                            r["b"][1]))
    for r in changed:
      out.write("* %s: max abs diff %s\n" % (r["name"], r["max_abs_diff"]))
    if not any(result.values()):
      out.write("The checkpoints are identical (%d entries).\n" %
                len(common))
  return 1 if any(result.values()) else 0


def _plan_report(args):
  from tf1shim import checkpoints  # pylint: disable=g-import-not-at-top
  reader = _reader(args.checkpoint)
  model = _load_factory(args.model)
  mapping = _mapping(args)
  try:
    return checkpoints.restore_checkpoint(
        reader.prefix, model, mapping=mapping, dry_run=True,
        ignore=() if args.keep_training_state else checkpoints.TRAINING_STATE)
  except checkpoints.MappingError as e:
    raise UsageError(str(e)) from e


def cmd_map(args, out):
  report = _plan_report(args)
  if args.json:
    json.dump({"mapping": report.assigned, "missing": report.missing,
               "unused": report.unused, "ignored": report.ignored,
               "mismatched": report.mismatched}, out, indent=1)
    out.write("\n")
  else:
    for name, entry in report.assigned.items():
      out.write("%s <- %s\n" % (name, entry))
    out.write(str(report) + "\n")
  return 0 if report.complete else 1


def cmd_verify(args, out):
  report = _plan_report(args)
  out.write(str(report) + "\n")
  out.write("OK: every variable has a checkpoint entry of its shape and dtype"
            " and every entry is used.\n" if report.complete else
            "FAILED: see above.\n")
  return 0 if report.complete else 1


def cmd_convert(args, out):
  from tf1shim import checkpoints  # pylint: disable=g-import-not-at-top
  model = _load_factory(args.model)
  mapping = _mapping(args)
  ignore = () if args.keep_training_state else checkpoints.TRAINING_STATE
  try:
    if args.to == "keras":
      report = checkpoints.to_keras_weights(_reader(args.checkpoint).prefix,
                                            model, args.out, mapping=mapping,
                                            ignore=ignore)
    elif args.to == "tf2":
      report = checkpoints.to_tf2_checkpoint(_reader(args.checkpoint).prefix,
                                             model, args.out, mapping=mapping,
                                             ignore=ignore)
    else:
      return _convert_to_tf1(args, model, mapping, out)
  except checkpoints.CheckpointError as e:
    raise UsageError(str(e)) from e
  except (checkpoints.RestoreError, checkpoints.ConversionError,
          checkpoints.MappingError) as e:
    out.write(str(e) + "\n")
    return 1
  out.write("Wrote %s (%d variables, verified).\n" % (args.out,
                                                      len(report.assigned)))
  return 0


def _convert_to_tf1(args, model, mapping, out):
  """A native model's weights (`.weights.h5` or TF2 checkpoint) -> TF1."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  from tf1shim import checkpoints  # pylint: disable=g-import-not-at-top
  source = args.checkpoint
  if source.endswith(".weights.h5"):
    if not os.path.isfile(source):
      raise UsageError("No weights file %s." % source)
    try:
      model.load_weights(source)
    except Exception as e:  # pylint: disable=broad-except
      raise UsageError("Cannot load %s into the model: %s" % (source,
                                                              e)) from e
  else:
    try:
      tf.train.Checkpoint(model=model).read(source).assert_consumed()
    except (tf.errors.OpError, AssertionError, ValueError) as e:
      raise UsageError("Cannot read TF2 checkpoint %s into the model: %s" % (
          source, str(e).splitlines()[0])) from e
  names = None
  if mapping is not None and mapping != "auto":
    names = checkpoints.map_by_rules(
        [n for n, _ in checkpoints.restore.model_variables(model)],
        mapping).get
  written = checkpoints.to_tf1_checkpoint(model, args.out, names=names)
  out.write("Wrote %s (%d variables, verified).\n" % (args.out, len(written)))
  return 0


def build_parser():
  parser = argparse.ArgumentParser(
      prog="ckpt", description=__doc__.split("\n\n")[0],
      epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
  commands = parser.add_subparsers(dest="command", required=True)

  p = commands.add_parser("inspect", help="list entries with statistics")
  p.add_argument("path", help="checkpoint prefix")
  p.add_argument("--json", action="store_true")
  p.set_defaults(run=cmd_inspect)

  p = commands.add_parser("diff", help="compare two checkpoints")
  p.add_argument("a")
  p.add_argument("b")
  p.add_argument("--json", action="store_true")
  p.set_defaults(run=cmd_diff)

  def model_args(p):
    p.add_argument("checkpoint", help="checkpoint prefix")
    p.add_argument("--model", required=True, metavar="MODULE:FACTORY")
    p.add_argument("--rules", help="mapping rules file")
    p.add_argument("--auto", action="store_true",
                   help="automatic matcher (refuses ambiguity)")
    p.add_argument("--keep-training-state", action="store_true",
                   help="also map global_step and optimizer slots")

  p = commands.add_parser("map", help="proposed mapping and what is "
                          "unmatched")
  model_args(p)
  p.add_argument("--json", action="store_true")
  p.set_defaults(run=cmd_map)

  p = commands.add_parser("verify", help="check a checkpoint against a model")
  model_args(p)
  p.set_defaults(run=cmd_verify)

  p = commands.add_parser("convert", help="convert for a model")
  model_args(p)
  p.add_argument("--to", required=True, choices=["tf2", "keras", "tf1"])
  p.add_argument("out", help="output prefix (tf2, tf1) or .weights.h5 file")
  p.set_defaults(run=cmd_convert)
  return parser


def main(argv=None, out=None):
  out = out or sys.stdout
  args = build_parser().parse_args(argv)
  os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
  try:
    return args.run(args, out)
  except UsageError as e:
    sys.stderr.write("ckpt %s: error: %s\n" % (args.command, e))
    return 2


if __name__ == "__main__":
  sys.exit(main())
