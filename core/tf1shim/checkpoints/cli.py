"""`ckpt`: inspect, compare, map, convert and verify TF1 checkpoints.

Run as `bazel run //tools:ckpt -- <command> ...`, as `tf1shim-ckpt` when
tf1shim is pip-installed, or as `python -m tf1shim.checkpoints.cli`.

Exit codes: 0 success; 1 a mismatch (diff: the checkpoints differ; map,
verify, convert: the model and the checkpoint do not match, or a rule's
transforms do not fit; verify --reference: the outputs differ); 2 bad input
(a missing or damaged file, a bad rules file or factory, an output path
that cannot or may not be written) -- one line on stderr starting with
"error:"; 3 an internal error (a bug; --verbose shows the traceback);
130/143 interrupted by SIGINT/SIGTERM (nothing partial is left).
"""

# Only the standard library at the top: `--help` and usage errors must not
# import TensorFlow (seconds). TensorFlow and tf1shim are imported by
# `_import_checkpoints`, once the command line is parsed.
import argparse
import contextlib
import importlib
import json
import os
import sys
import warnings

EXIT_OK, EXIT_MISMATCH, EXIT_BAD_INPUT, EXIT_INTERNAL = 0, 1, 2, 3

EXAMPLES = """examples:
  ckpt inspect train/model.ckpt-1000
  ckpt inspect train/              # an Estimator model_dir: its latest checkpoint
  ckpt inspect train/model.ckpt-1000 --json > entries.json
  ckpt diff before/model.ckpt-0 after/model.ckpt-1000
  ckpt map train/model.ckpt-1000 --model my_models:build_native --rules native.rules
  ckpt verify train/model.ckpt-1000 --model my_models:build_native --auto
  ckpt verify train/model.ckpt-1000 --model my_models:build_native \
      --rules lstm.rules --reference my_models:tf1_model_fn --inputs batch.npy
  ckpt convert train/model.ckpt-1000 --model my_models:build_native \\
      --rules native.rules --to keras model.weights.h5
  ckpt convert train/model.ckpt-1000 --model my_models:build_shim --to tf2 out/ckpt
  ckpt convert model.weights.h5 --model my_models:build_native \\
      --rules native.rules --to tf1 back/model.ckpt
  ckpt convert ... --to keras model.weights.h5 --force   # replace it

MODULE:FACTORY names a function that returns the model, built (called once
on an example input), e.g. my_models.py with `def build_native(): ...`.
Rules files hold one `regex -> replacement` per line, from the model's
variable names to the checkpoint's, optionally with tensor transforms
(`-> entry | rows 0:16 | gates i,j,f,o -> i,f,j,o | add f 1.0`, or
`concat(A | ... ; B | ...)`); first matching rule wins; `#` starts a
comment (UTF-8). --to tf1 writes the rules' inverse.

verify compares outputs too with --reference MODULE:FUNCTION, a TF1 model
function `(inputs, training) -> outputs` run in a TF1 graph with the
checkpoint restored by Saver, and --inputs FILE.npy (one batch): the
model restored through the rules must give the graph's outputs. Rules
that transform tensors need it (a wrong gate order fits every shape), or
--shapes-only to check shapes alone.

exit codes: 0 success, 1 mismatch, 2 bad input (one line on stderr,
"error: ..."), 3 internal error, 130/143 interrupted (SIGINT/SIGTERM).
Outputs are never an input and never replaced without --force.
"""


class UsageError(Exception):
  """Bad input: one line on stderr, exit code 2."""


class _Parser(argparse.ArgumentParser):
  """Usage errors as one `error:` line (argparse prints the usage too)."""

  def error(self, message):
    raise UsageError("%s (see %s --help)" % (message, self.prog))


class Progress:
  """A one-line progress display on stderr, for runs over many tensors.

  Only on a terminal: in a log or a pipe, stderr is for the one line of an
  error.
  """

  def __init__(self, total, label):
    self.total, self.label, self.done = total, label, 0
    self.enabled = total >= 20 and sys.stderr.isatty()

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


@contextlib.contextmanager
def _stderr_silenced():
  """Points file descriptor 2 at /dev/null: TensorFlow's C++ libraries log
  at import ("All log messages before absl::InitializeLog() ...", oneDNN,
  CUDA) whatever TF_CPP_MIN_LOG_LEVEL says."""
  sys.stderr.flush()
  saved = os.dup(2)
  null = os.open(os.devnull, os.O_WRONLY)
  try:
    os.dup2(null, 2)
    yield
  finally:
    sys.stderr.flush()
    os.dup2(saved, 2)
    os.close(saved)
    os.close(null)


def _import_checkpoints(verbose):
  """Imports TensorFlow and tf1shim.checkpoints, quietly unless `verbose`.
  """
  if "tensorflow" in sys.modules or verbose:
    from tf1shim import checkpoints  # pylint: disable=g-import-not-at-top
    return checkpoints
  # TensorFlow's own logger (later lines, e.g. CPU features) reads this.
  os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
  with _stderr_silenced():
    # The package loads its modules lazily: import TensorFlow here, where
    # its start-up lines are silenced.
    import tensorflow  # pylint: disable=g-import-not-at-top,unused-import
    from tf1shim import checkpoints  # pylint: disable=g-import-not-at-top
  from absl import logging as absl_logging  # pylint: disable=g-import-not-at-top
  absl_logging.set_verbosity(absl_logging.ERROR)
  return checkpoints


def _reader(path):
  from tf1shim import checkpoints  # pylint: disable=g-import-not-at-top
  from tf1shim.checkpoints import model_dir  # pylint: disable=g-import-not-at-top
  if model_dir.is_model_dir(path):
    # An Estimator model_dir: its latest checkpoint, said on stderr (stdout
    # may be --json).
    resolved = model_dir.resolve(path)
    sys.stderr.write("%s\n" % resolved.describe())
    path = resolved.prefix
  return checkpoints.CheckpointReader(path)


def _check_data(prefix):
  """Every byte of the checkpoint at `prefix` (CheckpointError if not)."""
  from tf1shim.checkpoints import integrity  # pylint: disable=g-import-not-at-top
  return integrity.check(prefix)


def _load_factory(spec, need=None):
  """The model `spec` (MODULE:FACTORY) builds; UsageError if it cannot.

  `need`: "keras" for a Keras layer or model, "load_weights" for a model
  that can load a `.weights.h5` file.
  """
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
    model = factory()
  except Exception as e:  # pylint: disable=broad-except
    raise UsageError("--model factory %s failed: %s: %s" % (
        spec, type(e).__name__, e)) from e
  _check_model(model, spec, need)
  return model


def _check_model(model, spec, need):
  import keras  # pylint: disable=g-import-not-at-top
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  variable_types = (tf.Variable, keras.Variable)
  if isinstance(model, (list, tuple)):
    ok = all(isinstance(v, variable_types) for v in model)
  else:
    ok = isinstance(model, (keras.layers.Layer, tf.Module))
  what = "a %s.%s" % (type(model).__module__, type(model).__name__)
  if not ok:
    raise UsageError(
        "--model factory %s returned %s, not a Keras model or layer, a "
        "tf.Module or a list of variables; make it return the built model."
        % (spec, what))
  if need == "keras" and not isinstance(model, keras.layers.Layer):
    raise UsageError("--to keras needs a Keras model or layer, but --model "
                     "factory %s returned %s." % (spec, what))
  if need == "load_weights" and not callable(
      getattr(model, "load_weights", None)):
    raise UsageError("Reading a .weights.h5 file needs a Keras model (with "
                     "load_weights), but --model factory %s returned %s." % (
                         spec, what))


def _mapping(args):
  from tf1shim import checkpoints  # pylint: disable=g-import-not-at-top
  if getattr(args, "rules", None) and getattr(args, "auto", False):
    raise UsageError("Give --rules or --auto, not both.")
  if getattr(args, "rules", None):
    try:
      return checkpoints.load_rules(args.rules)
    except OSError as e:
      raise UsageError("Cannot read rules file %s: %s." % (
          args.rules, e.strerror or e)) from e
    except checkpoints.MappingError as e:
      raise UsageError(str(e)) from e
  if getattr(args, "auto", False):
    return "auto"
  return None


def _finite_stats(value):
  """min, max, mean of the finite values (None if none), and the number of
  NaNs and infinities: JSON has no NaN, and one NaN hides every other
  statistic."""
  import numpy as np  # pylint: disable=g-import-not-at-top
  if value.dtype.kind not in "biuf" or not value.size:
    return None, None, None, 0, 0
  if value.dtype.kind == "f":
    nan = int(np.count_nonzero(np.isnan(value)))
    inf = int(np.count_nonzero(np.isinf(value)))
    value = value[np.isfinite(value)]
  else:
    nan = inf = 0
  if not value.size:
    return None, None, None, nan, inf
  return (float(value.min()), float(value.max()),
          float(value.astype(np.float64).mean()), nan, inf)


def _dump_json(data, out):
  # allow_nan=False: a NaN that slipped through is a bug, not invalid JSON.
  json.dump(data, out, indent=1, allow_nan=False)
  out.write("\n")


def cmd_inspect(args, out):
  reader = _reader(args.path)
  _check_data(reader.prefix)
  rows = []
  progress = Progress(len(reader.entries), "inspect")
  for name, entry in reader.entries.items():
    low, high, mean, nan, inf = _finite_stats(reader.read(name))
    rows.append({
        "name": name, "shape": list(entry.shape), "dtype": str(entry.dtype),
        "size": entry.size, "min": low, "max": high, "mean": mean,
        "nan": nan, "inf": inf})
    progress.step(name)
  if args.json:
    _dump_json({"checkpoint": reader.prefix, "entries": rows}, out)
    return EXIT_OK
  out.write("%s: %d entries, %d values\n" % (
      reader.prefix, len(rows), sum(r["size"] for r in rows)))
  for r in rows:
    stats = ("min %.4g max %.4g mean %.4g" % (r["min"], r["max"], r["mean"])
             if r["min"] is not None else "")
    stats += "".join(" %s %d" % (k, r[k]) for k in ("nan", "inf") if r[k])
    out.write("  %-50s %-18s %-8s %10d  %s\n" % (
        r["name"], tuple(r["shape"]), r["dtype"], r["size"], stats.strip()))
  return EXIT_OK


def _compare(va, vb):
  """None if equal (NaN equals NaN), else {max_abs_diff, nonfinite}: the
  largest difference where both are finite, and how many elements differ
  where one is NaN or infinite."""
  import numpy as np  # pylint: disable=g-import-not-at-top
  floating = va.dtype.kind in "fc" or vb.dtype.kind in "fc"
  if np.array_equal(va, vb, equal_nan=floating):
    return None
  if va.dtype.kind not in "biufc":
    return {"max_abs_diff": None, "nonfinite": 0}
  a, b = va.astype(np.complex128 if floating and "c" in (
      va.dtype.kind + vb.dtype.kind) else np.float64), vb.astype(
          np.complex128 if floating and "c" in (va.dtype.kind +
                                                vb.dtype.kind) else
          np.float64)
  finite = np.isfinite(a) & np.isfinite(b)
  differs = ~((a == b) | (np.isnan(a) & np.isnan(b)))
  diff = np.abs(a[finite] - b[finite])
  return {"max_abs_diff": float(diff.max()) if diff.size else None,
          "nonfinite": int(np.count_nonzero(differs & ~finite))}


def cmd_diff(args, out):
  a, b = _reader(args.a), _reader(args.b)
  _check_data(a.prefix)
  _check_data(b.prefix)
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
      difference = _compare(a.read(name), b.read(name))
      if difference is not None:
        changed.append(dict(name=name, **difference))
    progress.step(name)
  result = {"added": added, "removed": removed, "reshaped": reshaped,
            "changed": changed}
  if args.json:
    _dump_json(result, out)
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
      out.write("* %s: max abs diff %s%s\n" % (
          r["name"], r["max_abs_diff"],
          ", %d element(s) differ in NaN or infinity" % r["nonfinite"]
          if r["nonfinite"] else ""))
    if not any(result.values()):
      out.write("The checkpoints are identical (%d entries).\n" %
                len(common))
  return EXIT_MISMATCH if any(result.values()) else EXIT_OK


def _plan_report(args, check_data=False):
  from tf1shim import checkpoints  # pylint: disable=g-import-not-at-top
  reader = _reader(args.checkpoint)
  checked = _check_data(reader.prefix) if check_data else None
  mapping = _mapping(args)
  model = _load_factory(args.model)
  report = checkpoints.restore_checkpoint(
      reader.prefix, model, mapping=mapping, dry_run=True,
      ignore=() if args.keep_training_state else checkpoints.TRAINING_STATE)
  return report, checked


def cmd_map(args, out):
  report, _ = _plan_report(args)
  if args.json:
    _dump_json({"mapping": report.assigned,
                "transforms": report.transformed, "missing": report.missing,
                "unused": report.unused, "ignored": report.ignored,
                "mismatched": report.mismatched,
                "partly_used": report.uncovered,
                "partitioned": report.partitioned}, out)
  else:
    for name, entry in report.assigned.items():
      out.write("%s <- %s\n" % (name, report.transformed.get(name, entry)))
    out.write(str(report) + "\n")
  return EXIT_OK if report.complete else EXIT_MISMATCH


def cmd_verify(args, out):
  if bool(args.reference) != bool(args.inputs):
    raise UsageError("--reference and --inputs go together: the outputs of "
                     "the TF1 graph and of the model on the same batch.")
  report, checked = _plan_report(args, check_data=True)
  out.write("Data: the index and the bytes of all %d entries match their "
            "checksums.\n" % checked)
  out.write(str(report) + "\n")
  if not report.complete:
    out.write("FAILED: see above.\n")
    return EXIT_MISMATCH
  if not args.reference:
    if report.transformed and not args.shapes_only:
      raise UsageError(
          "the rules transform %d variable(s), and shapes cannot show a "
          "wrong gate order or row range: give --reference MODULE:FUNCTION "
          "(the TF1 model function) and --inputs FILE.npy to compare "
          "outputs, or --shapes-only to check shapes alone." %
          len(report.transformed))
    out.write("OK: every variable has a checkpoint entry of its shape and "
              "dtype and every entry is used%s.\n" % (
                  " (shapes only: outputs not compared)"
                  if report.transformed else ""))
    return EXIT_OK
  from tf1shim.checkpoints import verify_outputs  # pylint: disable=g-import-not-at-top
  inputs = _load_inputs(args.inputs)
  reference = _load_function(args.reference, "--reference")
  try:
    expected = verify_outputs.tf1_graph_outputs(reference, report.checkpoint,
                                                inputs)
  except verify_outputs.RunError as e:
    raise UsageError(str(e)) from e
  model = _load_factory(args.model)
  from tf1shim import checkpoints  # pylint: disable=g-import-not-at-top
  checkpoints.restore_checkpoint(
      report.checkpoint, model, mapping=_mapping(args), strict=True,
      ignore=() if args.keep_training_state else checkpoints.TRAINING_STATE)
  try:
    got = verify_outputs.model_outputs(model, inputs)
  except verify_outputs.RunError as e:
    raise UsageError(str(e)) from e
  result = verify_outputs.compare(got, expected, args.tolerance)
  out.write(result.text + "\n")
  out.write("OK: every variable has a checkpoint entry of its shape and dtype,"
            " every entry is used, and the outputs match.\n" if result.ok
            else "FAILED: the outputs differ from the TF1 graph's: a rule's "
            "transforms (gate order, rows, added constants) or the model "
            "does not match the checkpoint.\n")
  return EXIT_OK if result.ok else EXIT_MISMATCH


def _load_function(spec, option):
  """The function MODULE:FUNCTION names (not called); UsageError if none."""
  if ":" not in spec:
    raise UsageError("%s must be MODULE:FUNCTION, got %r." % (option, spec))
  module_name, name = spec.split(":", 1)
  sys.path.insert(0, os.getcwd())
  try:
    module = importlib.import_module(module_name)
  except Exception as e:  # pylint: disable=broad-except
    raise UsageError("Cannot import module %r for %s: %s: %s" % (
        module_name, option, type(e).__name__, e)) from e
  function = getattr(module, name, None)
  if not callable(function):
    raise UsageError("Module %r has no callable %r for %s." % (
        module_name, name, option))
  return function


def _load_inputs(path):
  import numpy as np  # pylint: disable=g-import-not-at-top
  try:
    return np.load(path, allow_pickle=False)
  except (OSError, ValueError) as e:
    raise UsageError("Cannot read --inputs %s (a .npy file of one batch): "
                     "%s" % (path, _first_line(e))) from e


def cmd_convert(args, out):
  from tf1shim import checkpoints  # pylint: disable=g-import-not-at-top
  if args.to == "tf1":
    return _convert_to_tf1(args, out)
  mapping = _mapping(args)
  reader = _reader(args.checkpoint)
  model = _load_factory(args.model, need="keras" if args.to == "keras"
                        else None)
  ignore = () if args.keep_training_state else checkpoints.TRAINING_STATE
  convert = (checkpoints.to_keras_weights if args.to == "keras" else
             checkpoints.to_tf2_checkpoint)
  report = convert(reader.prefix, model, args.out, mapping=mapping,
                   ignore=ignore, force=args.force,
                   inputs=[args.rules] if args.rules else [])
  out.write("Wrote %s (%d variables, verified).\n" % (args.out,
                                                      len(report.assigned)))
  return EXIT_OK


def _convert_to_tf1(args, out):
  """A native model's weights (`.weights.h5` or TF2 checkpoint) -> TF1."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  from tf1shim import checkpoints  # pylint: disable=g-import-not-at-top
  from tf1shim.checkpoints import outputs  # pylint: disable=g-import-not-at-top
  if args.auto:
    raise UsageError("--auto matches a model to a TF1 checkpoint's names; "
                     "--to tf1 has no such checkpoint. Give --rules (model "
                     "names -> TF1 names), or nothing to write the TF1 names"
                     " the model's variables have.")
  mapping = _mapping(args)
  source = args.checkpoint
  if source.endswith(".weights.h5"):
    if not os.path.isfile(source):
      raise UsageError("No weights file %s." % source)
    inputs = [source]
    model = _load_factory(args.model, need="load_weights")
    try:
      model.load_weights(source)
    except Exception as e:  # pylint: disable=broad-except
      raise UsageError("Cannot load %s into the model: %s" % (
          source, _first_line(e))) from e
  else:
    prefix = _reader(source).prefix
    _check_data(prefix)
    inputs = outputs.checkpoint_files(prefix)
    model = _load_factory(args.model)
    try:
      tf.train.Checkpoint(model=model).read(prefix).assert_consumed()
    except (tf.errors.OpError, AssertionError, ValueError) as e:
      raise UsageError("Cannot read TF2 checkpoint %s into the model: %s" % (
          source, _first_line(e))) from e
  written = checkpoints.to_tf1_checkpoint(
      model, args.out, mapping=mapping, force=args.force,
      inputs=inputs + ([args.rules] if args.rules else []))
  out.write("Wrote %s (%d variables, verified).\n" % (args.out, len(written)))
  return EXIT_OK


def build_parser():
  parser = _Parser(
      prog="ckpt", description=__doc__.split("\n\n")[0],
      epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
  commands = parser.add_subparsers(dest="command", required=True)

  def common(p):
    p.add_argument("--verbose", action="store_true",
                   help="show TensorFlow's log lines, and the traceback of "
                   "an internal error")

  p = commands.add_parser("inspect", help="list entries with statistics "
                          "(checks every byte)")
  p.add_argument("path", help="checkpoint prefix or Estimator model_dir")
  p.add_argument("--json", action="store_true")
  common(p)
  p.set_defaults(run=cmd_inspect)

  p = commands.add_parser("diff", help="compare two checkpoints (NaN "
                          "equals NaN)")
  p.add_argument("a")
  p.add_argument("b")
  p.add_argument("--json", action="store_true")
  common(p)
  p.set_defaults(run=cmd_diff)

  def model_args(p):
    p.add_argument("checkpoint",
                   help="checkpoint prefix or Estimator model_dir")
    p.add_argument("--model", required=True, metavar="MODULE:FACTORY")
    p.add_argument("--rules", help="mapping rules file")
    p.add_argument("--auto", action="store_true",
                   help="automatic matcher (refuses ambiguity)")
    p.add_argument("--keep-training-state", action="store_true",
                   help="also map global_step and optimizer slots")
    common(p)

  p = commands.add_parser("map", help="proposed mapping and what is "
                          "unmatched (reads the index only)")
  model_args(p)
  p.add_argument("--json", action="store_true")
  p.set_defaults(run=cmd_map)

  p = commands.add_parser("verify", help="check a checkpoint's every byte, "
                          "its fit to a model, and (--reference) outputs")
  model_args(p)
  p.add_argument("--reference", metavar="MODULE:FUNCTION",
                 help="the TF1 model function `(inputs, training) -> "
                 "outputs` whose graph, restored from the checkpoint, gives "
                 "the expected outputs")
  p.add_argument("--inputs", metavar="FILE.npy",
                 help="one batch of inputs for --reference and the model")
  p.add_argument("--tolerance", type=float, default=1e-5,
                 help="largest output difference, relative to the largest "
                 "reference output (default 1e-5: a few float32 ulps per "
                 "step of a different kernel; a wrong gate order is O(1))")
  p.add_argument("--shapes-only", action="store_true",
                 help="accept transforming rules on shapes alone")
  p.set_defaults(run=cmd_verify)

  p = commands.add_parser("convert", help="convert for a model")
  model_args(p)
  p.add_argument("--to", required=True, choices=["tf2", "keras", "tf1"])
  p.add_argument("--force", action="store_true",
                 help="replace an existing output (never an input)")
  p.add_argument("out", help="output prefix (tf2, tf1) or .weights.h5 file")
  p.set_defaults(run=cmd_convert)
  return parser


def _first_line(error):
  message = (getattr(error, "message", None) or str(error)).strip()
  return message.splitlines()[0] if message else type(error).__name__


def _one_line(message):
  """Multi-line messages (a list of candidates) joined for one line."""
  return "; ".join(line.strip() for line in str(message).splitlines()
                   if line.strip())


def _error(message):
  sys.stderr.write("error: %s\n" % _one_line(message))
  sys.stderr.flush()


def main(argv=None, out=None):
  """Runs the tool; returns the exit code (see the module docstring)."""
  out = out or sys.stdout
  try:
    args = build_parser().parse_args(argv)
  except UsageError as e:
    _error(e)
    return EXIT_BAD_INPUT
  try:
    checkpoints = _import_checkpoints(args.verbose)
    from tf1shim.checkpoints import interrupt  # pylint: disable=g-import-not-at-top
  except KeyboardInterrupt:
    _error("interrupted (SIGINT); nothing was written.")
    return 128 + 2
  bad_input = (UsageError, checkpoints.CheckpointError,
               checkpoints.OutputError)
  mismatch = (checkpoints.RestoreError, checkpoints.ConversionError,
              checkpoints.MappingError)
  try:
    with interrupt.handled(), warnings.catch_warnings():
      if not args.verbose:
        warnings.simplefilter("ignore")
      return args.run(args, out)
  except bad_input as e:
    _error(e)
    return EXIT_BAD_INPUT
  except mismatch as e:
    out.write(str(e) + "\n")
    return EXIT_MISMATCH
  except (interrupt.Interrupted, KeyboardInterrupt) as e:
    name = getattr(e, "args", None) and e.args[0] or "SIGINT"
    _error("interrupted (%s); no partial output was left (a staging folder "
           "of a killed run is removed by the next run)." % name)
    return getattr(e, "exit_code", 128 + 2)
  except Exception as e:  # pylint: disable=broad-except
    if args.verbose:
      import traceback  # pylint: disable=g-import-not-at-top
      traceback.print_exc()
    _error("internal error in ckpt %s: %s: %s; no partial output was left. "
           "Rerun with --verbose for the traceback, and report it." % (
               args.command, type(e).__name__, _first_line(e)))
    return EXIT_INTERNAL


if __name__ == "__main__":
  sys.exit(main())
