"""Lists the TF1 API uses of Python files without running them.

Each file is parsed with `ast` (never imported or executed, never written).
Names are resolved through the file's imports and simple assignments:

  import tensorflow as tf; tf.get_variable       tf.compat.v1.get_variable
  import tensorflow.compat.v1 as tf; tf.layers   tf.compat.v1.layers
  from tensorflow.compat.v1 import layers        tf.compat.v1.layers
  v1 = tf.compat.v1; v1.variable_scope           tf.compat.v1.variable_scope
  import tf_slim as slim; slim.conv2d            tf_slim.conv2d
  from tensorflow.contrib import slim            tf.contrib.slim
  tf.contrib.rnn.LSTMCell                        tf.contrib.rnn.LSTMCell

TF1 code's `import tensorflow as tf` is read as TF1's API (the v1 API that
TensorFlow 2 keeps as `tf.compat.v1`). Each use gets the status of its
entry in `api_status.py`. Resolution is by name, in source order, one table
per file (not per function): a name bound to TensorFlow anywhere before
counts from there on; `from tensorflow... import *` is not followed.

Folders are searched recursively for `*.py` files, in name order, skipping
folders whose name starts with "." and `__pycache__`; symbolic links to
folders inside them are not followed (so a link loop cannot hang a scan),
links to files are read. A file named twice is scanned once.
"""

import ast
import dataclasses
import io
import os
import tokenize

from . import api_status

# The modules whose names are resolved (by their top-level package).
_ROOTS = ("tensorflow", "tf_slim")


class ScanInputError(Exception):
  """A path given to scan that does not exist: nothing is scanned."""


@dataclasses.dataclass(frozen=True)
class Finding:
  """One TF1 API use: where, what, its status, what to do, what to read."""
  path: str
  line: int
  column: int
  written: str  # as the code spells it: "v1.layers.conv2d"
  api: str  # canonical: "tf.compat.v1.layers.conv2d"
  status: str  # one of api_status.STATUSES
  note: str  # the change (runs with a change), the reason (not supported)
  lesson: str  # a path in this repository, or ""
  replacement: str  # what to write instead, or ""

  def as_json(self):
    return dataclasses.asdict(self)


@dataclasses.dataclass(frozen=True)
class Problem:
  """A file that could not be scanned (not Python, not UTF-8, unreadable)."""
  path: str
  line: int
  message: str

  def as_json(self):
    return dataclasses.asdict(self)


@dataclasses.dataclass
class FileResult:
  path: str
  findings: list
  problem: Problem = None

  def counts(self):
    return count_statuses(self.findings)


def count_statuses(findings):
  counts = {status: 0 for status in api_status.STATUSES}
  for finding in findings:
    counts[finding.status] += 1
  return counts


def canonical_name(dotted):
  """The canonical name of a resolved dotted path, or None (not reported).

  `tensorflow.X` and `tensorflow.compat.v1.X` -> `tf.compat.v1.X`;
  `tf.contrib.X`, `tf.estimator.X` (gone from TF 2.x) and
  `tensorflow.python.X` (private) keep their own root; `tf_slim.X` stays.
  The modules themselves (`tensorflow`, `tensorflow.compat.v1`, `tf_slim`)
  and TF2's API (`tensorflow.compat.v2`) are not reported.
  """
  parts = dotted.split(".")
  if parts[0] == "tf_slim":
    return dotted if len(parts) > 1 else None
  if parts[0] != "tensorflow":
    return None
  rest = parts[1:]
  if rest[:2] == ["compat", "v1"]:
    rest = rest[2:]
  elif rest[:1] == ["compat"]:
    return None
  if not rest:
    return None
  if rest[0] in ("contrib", "estimator"):
    return "tf." + ".".join(rest)
  if rest[0] == "python":
    return "tensorflow." + ".".join(rest)
  return "tf.compat.v1." + ".".join(rest)


def _dotted(node):
  """`a.b.c` for a Name/Attribute chain, else None."""
  names = []
  while isinstance(node, ast.Attribute):
    names.append(node.attr)
    node = node.value
  if not isinstance(node, ast.Name):
    return None
  names.append(node.id)
  return ".".join(reversed(names))


def _is_off(value):
  """A keyword value that turns the option off: None or False literally."""
  return isinstance(value, ast.Constant) and value.value in (None, False)


class _FileScanner(ast.NodeVisitor):
  """Walks one module's tree in source order."""

  def __init__(self, path):
    self.path = path
    self.aliases = {}  # local name -> dotted module path
    self.findings = []

  # --- Bindings -------------------------------------------------------------

  def visit_Import(self, node):
    for alias in node.names:
      top = alias.name.split(".")[0]
      local = alias.asname or top
      if top not in _ROOTS:
        self.aliases.pop(local, None)
        continue
      self.aliases[local] = alias.name if alias.asname else top
      self._report(node, alias.name, alias.name)

  def visit_ImportFrom(self, node):
    module = node.module or ""
    if node.level or module.split(".")[0] not in _ROOTS:
      for alias in node.names:
        self.aliases.pop(alias.asname or alias.name, None)
      return
    for alias in node.names:
      if alias.name == "*":
        continue
      full = module + "." + alias.name
      self.aliases[alias.asname or alias.name] = full
      self._report(node, full, full)

  def visit_Assign(self, node):
    self.visit(node.value)
    resolved = self._resolve(node.value)
    for target in node.targets:
      self.visit(target)  # `tf.x = ...` is a use; a plain name is not.
      for name in ast.walk(target):
        if isinstance(name, ast.Name):
          # `v1 = tf.compat.v1` binds; any other value unbinds.
          if (resolved is not None and isinstance(target, ast.Name) and
              len(node.targets) == 1):
            self.aliases[name.id] = resolved
          else:
            self.aliases.pop(name.id, None)

  # --- Uses -----------------------------------------------------------------

  def visit_Attribute(self, node):
    if not self._report_chain(node):
      self.generic_visit(node)

  def visit_Name(self, node):
    if isinstance(node.ctx, ast.Load):
      self._report_chain(node)

  def visit_Call(self, node):
    resolved = self._resolve(node.func)
    api = canonical_name(resolved) if resolved else None
    if api:
      for keyword in node.keywords:
        if keyword.arg is None or _is_off(keyword.value):
          continue
        entry = api_status.keyword_entry(api, keyword.arg)
        if entry is not None:
          self._add(keyword, "%s(%s=...)" % (_dotted(node.func), keyword.arg),
                    entry.api, entry)
    self.generic_visit(node)

  # --- Helpers ----------------------------------------------------------------

  def _resolve(self, node):
    dotted = _dotted(node)
    if dotted is None:
      return None
    root, _, rest = dotted.partition(".")
    if root not in self.aliases:
      return None
    return self.aliases[root] + ("." + rest if rest else "")

  def _report_chain(self, node):
    resolved = self._resolve(node)
    if resolved is None:
      return False
    self._report(node, _dotted(node), resolved)
    return True

  def _report(self, node, written, resolved):
    api = canonical_name(resolved)
    if api is None:
      return
    entry = api_status.lookup(api)
    if entry is None:  # Every canonical root has a catch-all entry.
      raise AssertionError("no api_status entry matches %s" % api)
    self._add(node, written, api, entry)

  def _add(self, node, written, api, entry):
    replacement = entry.replacement
    if "*" in entry.api and replacement:
      # A prefix rename: tf.contrib.slim.X -> tf_slim.X.
      prefix = entry.api.rstrip("*").rstrip(".")
      replacement = replacement + api[len(prefix):]
    self.findings.append(Finding(
        path=self.path, line=node.lineno, column=node.col_offset + 1,
        written=written, api=api, status=entry.status, note=entry.note,
        lesson=entry.lesson, replacement=replacement))


def scan_source(source, path="<source>"):
  """The findings of Python source text (str). Raises SyntaxError."""
  tree = ast.parse(source, filename=path)
  scanner = _FileScanner(path)
  scanner.visit(tree)
  return sorted(scanner.findings, key=lambda f: (f.line, f.column))


def _read_source(path):
  """The file's text, decoded as Python decodes it (UTF-8 unless a coding
  line says otherwise), or a Problem."""
  try:
    with open(path, "rb") as f:
      data = f.read()
  except OSError as e:
    return Problem(path, 0, "cannot read it: %s" % (e.strerror or e))
  try:
    encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
  except SyntaxError as e:
    return Problem(path, 1, "not Python source: %s" % e)
  try:
    return data.decode(encoding)
  except UnicodeDecodeError as e:
    line = data[:e.start].count(b"\n") + 1
    return Problem(path, line, "not valid %s (byte 0x%02x at line %d): not "
                   "scanned" % (encoding.upper(), data[e.start], line))


def scan_file(path):
  """A FileResult: the file's findings, or the Problem that stopped it."""
  source = _read_source(path)
  if isinstance(source, Problem):
    return FileResult(path, [], source)
  try:
    return FileResult(path, scan_source(source, path))
  except SyntaxError as e:
    return FileResult(path, [], Problem(
        path, e.lineno or 0, "not valid Python: %s (line %s): not scanned" % (
            e.msg, e.lineno)))
  except (ValueError, RecursionError, MemoryError) as e:
    # ValueError: null bytes; RecursionError: a too deeply nested expression.
    return FileResult(path, [], Problem(
        path, 0, "not valid Python: %s: not scanned" % e))


def python_files(paths):
  """The files to scan under `paths`, in order: [(path, error or None)].

  Raises:
    ScanInputError: a path does not exist (checked before anything else).
  """
  for path in paths:
    if not os.path.exists(path):  # a broken link too
      raise ScanInputError("%s: no such file or folder" % path)
  seen = set()
  found = []

  def add(path, problem=None):
    key = os.path.realpath(path)
    if key not in seen:
      seen.add(key)
      found.append((path, problem))

  for path in paths:
    if not os.path.isdir(path):
      if os.path.isfile(path):
        add(path)
      else:
        add(path, "not a regular file: not scanned")
      continue
    walk_errors = []
    for folder, subfolders, files in os.walk(path, onerror=walk_errors.append):
      subfolders[:] = sorted(d for d in subfolders
                             if not d.startswith(".") and d != "__pycache__")
      for name in sorted(files):
        if name.endswith(".py"):
          file_path = os.path.join(folder, name)
          if os.path.isfile(file_path):
            add(file_path)
          else:
            add(file_path, "not a regular file (a broken link?): not scanned")
    for error in walk_errors:
      add(error.filename, "cannot read the folder: %s" % error.strerror)
  return found


def scan(paths):
  """[FileResult] for every Python file under `paths`. Reads, never writes.

  Raises:
    ScanInputError: a path does not exist; nothing is scanned then.
  """
  results = []
  for path, problem in python_files(paths):
    if problem:
      results.append(FileResult(path, [], Problem(path, 0, problem)))
    else:
      results.append(scan_file(path))
  return results
