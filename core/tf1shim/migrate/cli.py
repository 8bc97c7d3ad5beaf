"""`tf1shim-migrate`: tools for migrating TF1 code to tf1shim and Keras 3.

Run as `tools/dev scan PATH...`, as `tf1shim-migrate scan PATH...` when
tf1shim is pip-installed, or as `python -m tf1shim.migrate.cli`.

`new DEST --from FILE.py:FUNCTION --input-shape H,W,C [--num-classes N]`
(`tools/dev new ...`) makes a staged migration of a TF1 model function
(`scaffold.py` says what DEST holds). Exit codes: 0 made; 1 the model
function failed (its traceback, then an `error:` line; nothing written);
2 bad input (one `error:` line; nothing written); 130 interrupted
(nothing written).

`scan` reads Python files and folders (recursively, `*.py`) without running
them and lists every TF1 API use: file:line, the API's canonical name, its
status under tf1shim (runs as is / runs with a change, named / not
supported, with the reason) and the lesson in this repository that
migrates it; a summary per file and a total. `--json` prints the same as
one JSON object. Inputs are only read.

Exit codes: 0 every file was scanned (whatever it uses); 1 some file could
not be scanned (not valid Python, not valid UTF-8 or its declared encoding,
unreadable): it is listed with the line, on stdout with the others and as
an `error:` line on stderr, and the other files are scanned; 2 bad input (a
path that does not exist, a usage error): one `error:` line on stderr,
nothing scanned; 3 an internal error (a bug; --verbose shows the
traceback).
"""

# Only the standard library and this package's own modules (no
# TensorFlow): the command answers at once.
import argparse
import json
import sys

from . import api_status
from . import scaffold
from . import scanner

EXIT_OK, EXIT_UNSCANNED, EXIT_BAD_INPUT, EXIT_INTERNAL = 0, 1, 2, 3

EXAMPLES = """examples:
  tf1shim-migrate scan my_model.py
  tf1shim-migrate scan src/ --json > tf1_uses.json
  tools/dev scan examples/conv/stage1_functional_v1.py   # in this repository
  tf1shim-migrate new my_migration --from my_model.py:model_fn --input-shape 28,28,1

Statuses assume TensorFlow 2.21 with tf1shim.install() done, the TF1 code
run by a Keras 3 model. Lessons are paths in the tf1shim repository.

exit codes: 0 every file scanned, 1 some file not scanned (not Python, not
UTF-8), 2 bad input (one line on stderr, "error: ..."), 3 internal error.
"""

NEW_EXAMPLES = """examples:
  tf1shim-migrate new my_migration --from my_model.py:model_fn --input-shape 28,28,1
  pytest my_migration          # stage 1 passes; stages 2-4 skipped (templates)
  tools/dev new team/my_model --from /src/model.py:cnn --input-shape 32,32,3 \\
      --num-classes 100        # in this repository: then bazel test //team/my_model/...

FUNCTION is a TF1 model function (inputs, training) -> logits, imported
from FILE (never copied). DEST must not exist; nothing is left behind when
FUNCTION fails in the TF1 graph (its traceback is shown).

exit codes: 0 made, 1 the model function failed, 2 bad input (one line on
stderr, "error: ..."), 130 interrupted.
"""

_SHORT = {api_status.AS_IS: "as is", api_status.CHANGE: "change",
          api_status.UNSUPPORTED: "unsupported"}


class UsageError(Exception):
  """Bad input: one line on stderr, exit code 2."""


class _Parser(argparse.ArgumentParser):
  """Usage errors as one `error:` line (argparse prints the usage too)."""

  def error(self, message):
    raise UsageError("%s (see %s --help)" % (message, self.prog))


def _summary(counts):
  total = sum(counts.values())
  return "%d use%s: %s" % (total, "" if total == 1 else "s", ", ".join(
      "%d %s" % (counts[status], status) for status in api_status.STATUSES))


def _write_table(results, out):
  files_with_problems = 0
  for result in results:
    out.write("== %s\n" % result.path)
    if result.problem:
      files_with_problems += 1
      where = (" line %d:" % result.problem.line) if result.problem.line else ""
      out.write("  error:%s %s\n\n" % (where, result.problem.message))
      continue
    width = max([len(f.api) for f in result.findings] + [0])
    where_width = max([len("%s:%d" % (f.path, f.line))
                       for f in result.findings] + [0])
    for f in result.findings:
      row = "  %-*s  %-11s  %-*s  %s" % (
          where_width, "%s:%d" % (f.path, f.line), _SHORT[f.status], width,
          f.api, "" if f.written == f.api else "(%s)" % f.written)
      out.write(row.rstrip() + "\n")
    # One line per distinct advice, naming the APIs it is for.
    todo = {}
    for f in result.findings:
      if f.status != api_status.AS_IS:
        advice = (f.status, f.note, f.lesson)
        apis = todo.setdefault(advice, {})
        apis.setdefault(f.api, f.replacement)
    if todo:
      out.write("  what to do:\n")
      for (status, note, lesson), apis in todo.items():
        names = ", ".join(
            "%s (write %s)" % (api, replacement) if replacement else api
            for api, replacement in apis.items())
        out.write("    %s -- %s: %s%s\n" % (
            names, status, note, " [lesson: %s]" % lesson if lesson else ""))
    out.write("  summary: %s\n\n" % _summary(result.counts()))
  findings = [f for r in results for f in r.findings]
  out.write("total: %d file%s scanned%s, %s\n" % (
      len(results) - files_with_problems,
      "" if len(results) - files_with_problems == 1 else "s",
      " (%d not scanned)" % files_with_problems if files_with_problems else "",
      _summary(scanner.count_statuses(findings))))


def _write_json(results, out):
  findings = [f for r in results for f in r.findings]
  document = {
      "files": [{
          "path": r.path,
          "findings": [f.as_json() for f in r.findings],
          "error": r.problem.as_json() if r.problem else None,
          "summary": r.counts(),
      } for r in results],
      "summary": dict(
          scanner.count_statuses(findings), files=len(results),
          files_not_scanned=sum(1 for r in results if r.problem),
          uses=len(findings)),
  }
  json.dump(document, out, indent=1)
  out.write("\n")


def cmd_scan(args, out):
  results = scanner.scan(args.paths)
  (_write_json if args.json else _write_table)(results, out)
  out.flush()
  problems = [r.problem for r in results if r.problem]
  for problem in problems:
    where = (":%d" % problem.line) if problem.line else ""
    _error("%s%s: %s" % (problem.path, where, problem.message))
  return EXIT_UNSCANNED if problems else EXIT_OK


def cmd_new(args, out):
  try:
    scaffold.new(args.dest, args.from_spec, args.input_shape,
                 args.num_classes, out=out, command=" ".join(
                     ["tf1shim-migrate new"] + args.argv))
  except scaffold.ModelFunctionError as e:
    if e.details:
      sys.stderr.write(e.details)
    _error("%s; nothing was written" % e)
    return 1
  except scaffold.ScaffoldError as e:
    _error(e)
    return EXIT_BAD_INPUT
  return EXIT_OK


def build_parser():
  parser = _Parser(
      prog="tf1shim-migrate", description=__doc__.split("\n\n")[0],
      epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
  commands = parser.add_subparsers(dest="command", required=True)
  p = commands.add_parser(
      "scan", help="list the TF1 API uses of Python files and folders, "
      "their status under tf1shim and the lesson to read (reads, never runs)",
      epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
  p.add_argument("paths", nargs="+", metavar="PATH",
                 help="a Python file or a folder (searched for *.py)")
  p.add_argument("--json", action="store_true", help="one JSON object")
  p.add_argument("--verbose", action="store_true",
                 help="the traceback of an internal error")
  p.set_defaults(run=cmd_scan)
  p = commands.add_parser(
      "new", help="make a staged migration of a TF1 model function: stage "
      "1 wraps it, stages 2-4 are templates, a golden checkpoint, the tests",
      epilog=NEW_EXAMPLES,
      formatter_class=argparse.RawDescriptionHelpFormatter)
  p.add_argument("dest", metavar="DEST",
                 help="the folder to make (must not exist); in this "
                 "repository, a package")
  p.add_argument("--from", dest="from_spec", required=True,
                 metavar="FILE.py:FUNCTION",
                 help="the TF1 model function (inputs, training) -> logits")
  p.add_argument("--input-shape", required=True, metavar="H,W,C",
                 help="one example's shape (no batch dimension), for the "
                 "random sample batches")
  p.add_argument("--num-classes", type=int,
                 default=scaffold.DEFAULT_NUM_CLASSES, metavar="N",
                 help="labels are in [0, N) (default %(default)s)")
  p.add_argument("--verbose", action="store_true",
                 help="the traceback of an internal error")
  p.set_defaults(run=cmd_new)
  return parser


def _error(message):
  sys.stderr.write("error: %s\n" % " ".join(str(message).split()))
  sys.stderr.flush()


def main(argv=None, out=None):
  """Runs the tool; returns the exit code (see the module docstring)."""
  out = out or sys.stdout
  argv = list(sys.argv[1:] if argv is None else argv)
  try:
    args = build_parser().parse_args(argv)
  except UsageError as e:
    _error(e)
    return EXIT_BAD_INPUT
  args.argv = argv[1:]
  try:
    return args.run(args, out)
  except scanner.ScanInputError as e:
    _error("%s; nothing was scanned" % e)
    return EXIT_BAD_INPUT
  except KeyboardInterrupt as e:
    _error("interrupted (%s)" % (str(e) or "SIGINT"))
    return 128 + 2
  except BrokenPipeError:
    return EXIT_OK  # `... | head`: the reader has what it wanted.
  except Exception as e:  # pylint: disable=broad-except
    if args.verbose:
      import traceback  # pylint: disable=g-import-not-at-top
      traceback.print_exc()
    _error("internal error in tf1shim-migrate %s: %s: %s. Rerun with "
           "--verbose for the traceback, and report it." % (
               args.command, type(e).__name__, e))
    return EXIT_INTERNAL


if __name__ == "__main__":
  sys.exit(main())
