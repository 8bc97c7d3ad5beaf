"""The TF1 code scanner (`tf1shim-migrate scan`, `tools/dev scan`).

What it finds is checked against the files' own text (regular expressions
over the lines, not numbers taken from the scanner); its status table
(`tf1shim/migrate/api_status.py`) against TensorFlow, tf-slim and tf1shim as
installed; its command line as a program, in its own process.
"""

import importlib
import importlib.util
import json
import os
import re
import subprocess
import sys

import pytest

from testing.pytest_main import pytest_main

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
LAUNCHER = os.path.join(ROOT, "core", "tf1shim_migrate.py")

# The scanner is loaded as the launcher loads it (no TensorFlow).
sys.path.insert(0, os.path.join(ROOT, "core"))
import tf1shim_migrate  # pylint: disable=g-import-not-at-top,wrong-import-position

cli = tf1shim_migrate.load_cli()
_PACKAGE = tf1shim_migrate._PACKAGE  # pylint: disable=protected-access
scanner = importlib.import_module(_PACKAGE + ".scanner")
api_status = importlib.import_module(_PACKAGE + ".api_status")

STAGE1_EXAMPLES = [os.path.join(ROOT, "examples", name,
                                "stage1_functional_v1.py")
                   for name in ("dense", "conv", "batchnorm")]
STAGE1_SLIM = [os.path.join(ROOT, "slim_port", name, "stage1_slim.py")
               for name in ("vgg_16", "resnet_v1_50", "inception_v1")]


def _site_file(package, *path):
  module = importlib.util.find_spec(package)
  if module is None:
    pytest.fail("%s is not installed (requirements.lock pins it)" % package)
  return os.path.join(list(module.submodule_search_locations)[0], *path)


BERT = _site_file("bert", "modeling.py")
GAN_CIFAR = _site_file("tensorflow_gan", "examples", "cifar", "networks.py")
GAN_ESTIMATOR = _site_file("tensorflow_gan", "examples", "mnist_estimator",
                           "train_lib.py")
GAN_TRAIN = _site_file("tensorflow_gan", "python", "train.py")


def _lines(path):
  with open(path, encoding="utf-8") as f:
    return f.read().splitlines()


def _grep(path, pattern, api_format):
  """[(line, api)] for each match of `pattern` (a group: the name) in the
  file's code (comments, docstrings and strings skipped)."""
  found = []
  in_docstring = False
  for number, text in enumerate(_lines(path), 1):
    code = text.split("#")[0]
    if code.count('"""') % 2:
      in_docstring = not in_docstring
      continue
    if in_docstring:
      continue
    code = re.sub(r"\"[^\"]*\"|'[^']*'", "''", code)  # strings' text
    for match in re.finditer(pattern, code):
      found.append((number, api_format % match.group(1)))
  return found


def _pairs(findings, apis=None):
  return [(f.line, f.api) for f in findings
          if apis is None or f.api in apis]


# --- What the scanner finds, against the files' text -------------------------


@pytest.mark.parametrize("path", STAGE1_EXAMPLES,
                         ids=lambda p: p.split(os.sep)[-2])
def test_stage1_examples_every_tf1_call_at_its_line(path):
  expected = _grep(path, r"\bv1\.((?:layers\.)?\w+)\b", "tf.compat.v1.%s")
  assert len(expected) >= 5  # the grep itself found the model's TF1 code
  findings = scanner.scan_file(path).findings
  assert sorted(_pairs(findings, {api for _, api in expected})) == sorted(
      expected)
  by_line = {(f.line, f.api): f for f in findings}
  for line, api in expected:
    if api.startswith("tf.compat.v1.layers."):
      assert by_line[line, api].status == api_status.CHANGE
      assert "track_tf1_style_variables" in by_line[line, api].note


@pytest.mark.parametrize("path", STAGE1_SLIM, ids=lambda p: p.split(os.sep)[-2])
def test_stage1_slim_ports_every_slim_use_at_its_line(path):
  net_module = re.search(r"^from tf_slim\.nets import (\w+)$",
                         "\n".join(_lines(path)), re.M).group(1)
  expected = (
      _grep(path, r"\bslim\.(\w+)\b", "tf_slim.%s") +
      _grep(path, r"\b%s\.(\w+)\b" % net_module,
            "tf_slim.nets.%s.%%s" % net_module))
  assert expected
  findings = scanner.scan_file(path).findings
  slim_findings = [f for f in findings if f.api.startswith("tf_slim.")]
  import_line = [n for n, text in enumerate(_lines(path), 1)
                 if text.startswith("from tf_slim.nets import")]
  assert sorted(_pairs(slim_findings)) == sorted(
      expected + [(import_line[0], "tf_slim.nets." + net_module)])
  assert all(f.status == api_status.CHANGE for f in slim_findings)
  assert {f.lesson for f in slim_findings} <= {api_status.SLIM,
                                               api_status.SLIM_ARG_SCOPE}


def test_bert_modeling_findings_are_where_the_source_says():
  lines = _lines(BERT)
  findings = scanner.scan_file(BERT).findings
  assert findings
  for f in findings:  # Every finding's text is on its line.
    assert f.written.split("(")[0] in lines[f.line - 1] or (
        f.written.startswith("tensorflow.") and "import" in lines[f.line - 1])
  # `import tensorflow.compat.v1 as tf`: tf.get_variable is TF1's.
  for name in ("get_variable", "variable_scope", "layers.dense",
               "get_variable_scope"):
    expected = _grep(BERT, r"\btf\.(%s)\(" % re.escape(name),
                     "tf.compat.v1.%s")
    assert expected, name
    assert sorted(_pairs(findings, {"tf.compat.v1." + name})) == sorted(
        expected)
  layer_norm = [f for f in findings
                if f.api == "tf.contrib.layers.layer_norm"]
  assert [f.line for f in layer_norm] == [
      n for n, text in enumerate(lines, 1)
      if "contrib_layers.layer_norm(" in text]
  assert layer_norm[0].replacement == "tf_slim.layer_norm"
  contrib_import = [f for f in findings if f.api == "tf.contrib.layers"]
  assert [lines[f.line - 1] for f in contrib_import] == [
      "from tensorflow.contrib import layers as contrib_layers"]
  counts = scanner.count_statuses(findings)
  assert counts[api_status.UNSUPPORTED] == 0
  assert counts[api_status.CHANGE] == len(
      _grep(BERT, r"\btf\.((?:layers\.dense|get_variable|variable_scope|"
            r"get_variable_scope))\(", "%s")) + 2  # + contrib: import, use


def test_tensorflow_gan_files_findings_are_where_the_source_says():
  cifar = scanner.scan_file(GAN_CIFAR).findings
  expected = _grep(GAN_CIFAR, r"\btf\.(layers\.\w+)", "tf.compat.v1.%s")
  assert len(expected) >= 4
  assert sorted(_pairs(cifar, {a for _, a in expected})) == sorted(expected)
  estimator = scanner.scan_file(GAN_ESTIMATOR).findings
  expected = _grep(GAN_ESTIMATOR, r"\btf\.(estimator(?:\.\w+)+)", "tf.%s")
  assert expected
  assert sorted(_pairs(
      [f for f in estimator if f.api.startswith("tf.estimator")])) == sorted(
          expected)
  # What its model_fn reads (ModeKeys) is tf1shim.estimator's; Estimator's
  # loop (TrainSpec, EvalSpec, train_and_evaluate) is gone.
  assert all(f.status == (
      api_status.CHANGE if f.api.startswith("tf.estimator.ModeKeys.")
      else api_status.UNSUPPORTED) for f in estimator
             if f.api.startswith("tf.estimator"))
  train = scanner.scan_file(GAN_TRAIN).findings
  expected = _grep(GAN_TRAIN, r"\btf\.compat\.v1\.train\.(MonitoredTraining"
                   r"Session)\(", "tf.compat.v1.train.%s")
  assert expected
  assert _pairs(train, {expected[0][1]}) == expected
  assert {f.status for f in train if f.api == expected[0][1]} == {
      api_status.UNSUPPORTED}


# --- Names resolved through imports and assignments --------------------------


@pytest.mark.parametrize("source, expected", [
    ("import tensorflow as tf\ntf.get_variable('w', [1])",
     ["tf.compat.v1.get_variable"]),
    ("import tensorflow.compat.v1 as tf\ntf.layers.dense(x, 1)",
     ["tf.compat.v1.layers.dense"]),
    ("import tensorflow as tf\ntf.compat.v1.layers.dense(x, 1)",
     ["tf.compat.v1.layers.dense"]),
    ("import tensorflow.compat.v1\ntensorflow.compat.v1.get_variable('w')",
     ["tf.compat.v1.get_variable"]),
    ("from tensorflow.compat import v1 as tf\ntf.variable_scope('s')",
     ["tf.compat.v1.variable_scope"]),
    ("from tensorflow.compat.v1 import layers\nlayers.conv2d(x, 1, 1)",
     ["tf.compat.v1.layers", "tf.compat.v1.layers.conv2d"]),
    ("from tensorflow.compat.v1 import get_variable as gv\ngv('w')",
     ["tf.compat.v1.get_variable", "tf.compat.v1.get_variable"]),
    ("import tensorflow as tf\nv1 = tf.compat.v1\nv1.get_variable('w')",
     ["tf.compat.v1.get_variable"]),
    ("import tf_slim as slim\nslim.conv2d(x, 1, 1)", ["tf_slim.conv2d"]),
    ("from tensorflow.contrib import slim\nslim.conv2d(x, 1, 1)",
     ["tf.contrib.slim", "tf.contrib.slim.conv2d"]),
    ("import tensorflow as tf\nslim = tf.contrib.slim\nslim.conv2d(x, 1, 1)",
     ["tf.contrib.slim", "tf.contrib.slim.conv2d"]),
    ("import tensorflow as tf\ntf.contrib.rnn.LSTMCell(4)",
     ["tf.contrib.rnn.LSTMCell"]),
    ("import tensorflow.compat.v1 as tf\ntf.contrib.training.HParams()",
     ["tf.contrib.training.HParams"]),
    ("import tensorflow as tf\ntf.estimator.Estimator(fn)",
     ["tf.estimator.Estimator"]),
    ("from tensorflow.python.ops import variable_scope as vs\n"
     "vs.get_variable('w')",
     ["tensorflow.python.ops.variable_scope",
      "tensorflow.python.ops.variable_scope.get_variable"]),
    # Not TensorFlow: a rebinding ends the alias; other modules are not read.
    ("import tensorflow as tf\ntf = make()\ntf.get_variable('w')", []),
    ("import numpy as tf\ntf.get_variable('w')", []),
    ("import tensorflow as tf\nfrom mylib import tf\ntf.get_variable('w')",
     []),
    ("get_variable('w')\nx.tf.get_variable('w')", []),
    # TF2's API and the modules themselves are not TF1 uses.
    ("import tensorflow as tf\nimport tensorflow.compat.v1\n"
     "tf.compat.v2.function(f)\nf(tf)", []),
    # The keyword that tf1shim refuses is a finding of its own.
    ("import tensorflow.compat.v1 as tf\n"
     "with tf.variable_scope('s', partitioner=p):\n  pass",
     ["tf.compat.v1.variable_scope",
      "tf.compat.v1.variable_scope(partitioner=)"]),
    ("import tensorflow.compat.v1 as tf\n"
     "tf.get_variable('w', partitioner=None)", ["tf.compat.v1.get_variable"]),
])
def test_alias_resolution(source, expected):
  assert [f.api for f in scanner.scan_source(source)] == expected


def test_findings_give_line_column_and_spelling():
  source = ("import tensorflow.compat.v1 as tf\n\n"
            "def f(x):\n  return tf.layers.dense(x, 2)\n")
  [finding] = scanner.scan_source(source, "m.py")
  assert (finding.path, finding.line, finding.column, finding.written) == (
      "m.py", 4, 10, "tf.layers.dense")
  [partitioner] = [f for f in scanner.scan_source(
      "import tensorflow as tf\ntf.get_variable('w', [4],\n"
      "    partitioner=tf.fixed_size_partitioner(2))\n")
                   if f.api.endswith("(partitioner=)")]
  assert partitioner.line == 3
  assert partitioner.status == api_status.UNSUPPORTED


def test_prefix_renames_name_the_replacement():
  [use] = scanner.scan_source(
      "import tensorflow as tf\ntf.contrib.slim.nets.vgg.vgg_16(x)")
  assert use.replacement == "tf_slim.nets.vgg.vgg_16"
  assert use.status == api_status.CHANGE
  [loop] = scanner.scan_source(
      "import tensorflow as tf\ntf.contrib.slim.learning.train(op, d)")
  assert loop.status == api_status.UNSUPPORTED


# --- The status table against TensorFlow, tf-slim and tf1shim ---------------


@pytest.fixture(scope="module")
def installed():
  """TensorFlow with tf1shim.install() done (what the statuses assume)."""
  os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  import tf1shim  # pylint: disable=g-import-not-at-top
  tf1shim.install()
  return tf


def _resolve(name):
  """The object a canonical API name (or a tf1shim/tf_slim name) is now."""
  parts = name.split(".")
  if parts[:1] == ["tf"]:
    import tensorflow as tf  # pylint: disable=g-import-not-at-top
    obj = tf
  else:
    obj = importlib.import_module(parts[0])
  for i, part in enumerate(parts[1:], 1):
    try:
      obj = getattr(obj, part)
    except AttributeError:
      if parts[0] == "tf":
        raise
      obj = importlib.import_module(".".join(parts[:i + 1]))
  return obj


def _checked_name(entry):
  """The name whose existence proves an AS_IS/CHANGE entry (its
  replacement when the API itself is gone: tf.contrib.*)."""
  name = entry.replacement or entry.api
  return name.split("*")[0].rstrip(".").rsplit("(", 1)[0]


def _literal_prefix(name):
  """`tf.compat.v1.train.*Optimizer` -> `tf.compat.v1.train`."""
  head = name.split("*")[0]
  return head.rstrip(".") if head.endswith(".") else head.rsplit(".", 1)[0]


@pytest.mark.parametrize(
    "entry", [e for e in api_status.ENTRIES
              if e.status != api_status.UNSUPPORTED],
    ids=lambda e: e.api)
def test_apis_that_run_exist(installed, entry):
  del installed
  name = _checked_name(entry)
  if "*" in entry.api and not entry.replacement:
    name = _literal_prefix(entry.api)
  assert _resolve(name) is not None


@pytest.mark.parametrize(
    "entry", [e for e in api_status.ENTRIES if e.provided_by],
    ids=lambda e: e.api)
def test_apis_tf1shim_provides_resolve_to_tf1shim(installed, entry):
  del installed
  assert _resolve(entry.api) is _resolve(entry.provided_by)


def test_name_lists_are_tf1shim_own(installed):
  del installed
  import tf1shim  # pylint: disable=g-import-not-at-top
  install = importlib.import_module("tf1shim.install")  # not the function
  assert sorted(api_status.TF1SHIM_LAYERS) == sorted(
      tf1shim.layers.LAYER_NAMES)
  assert sorted(api_status.TF1SHIM_CELLS) == sorted(tf1shim.rnn.CELL_NAMES)
  assert sorted(api_status.TF1SHIM_KERAS_UTILS) == sorted(
      install.KERAS_UTILS)


def _corpus_findings():
  return [f for path in STAGE1_EXAMPLES + STAGE1_SLIM + [
      BERT, GAN_CIFAR, GAN_ESTIMATOR, GAN_TRAIN]
          for f in scanner.scan_file(path).findings]


def test_every_api_found_in_the_corpus_that_runs_exists(installed):
  """The catch-all entries (`tf.compat.v1.*`: runs as is) hold for every
  name that our stage-1 files and the public TF1 files use."""
  del installed
  checked = set()
  for f in _corpus_findings():
    if f.status == api_status.UNSUPPORTED or "(" in f.api:
      continue
    name = f.replacement or f.api
    if name not in checked:
      checked.add(name)
      try:
        _resolve(name)
      except (AttributeError, ImportError) as e:
        pytest.fail("%s (%s:%d) is %r in api_status.py but TF 2.21 has no "
                    "%s: %s" % (f.api, f.path, f.line, f.status, name, e))
  assert len(checked) > 50


def _partitioned_variable_scope(tf):
  import keras  # pylint: disable=g-import-not-at-top
  import tf1shim  # pylint: disable=g-import-not-at-top

  class Layer(keras.layers.Layer):

    @tf1shim.track_tf1_style_variables
    def call(self, x):
      with tf.compat.v1.variable_scope(
          "s", partitioner=tf.compat.v1.fixed_size_partitioner(2)):
        return x * tf.compat.v1.get_variable("w", [4, 2])

  Layer()(tf.ones([4, 2]))


def _partitioned_get_variable(tf):
  import keras  # pylint: disable=g-import-not-at-top
  import tf1shim  # pylint: disable=g-import-not-at-top

  class Layer(keras.layers.Layer):

    @tf1shim.track_tf1_style_variables
    def call(self, x):
      return x * tf.compat.v1.get_variable(
          "w", [4, 2], partitioner=tf.compat.v1.fixed_size_partitioner(2))

  Layer()(tf.ones([4, 2]))


def _session_run_of_model_tensors(tf):
  tf.compat.v1.Session().run(tf.ones([2]) * 2.0)


def _estimator(tf):
  return tf.estimator.Estimator


def _estimator_compat(tf):
  return tf.compat.v1.estimator.Estimator


def _contrib(tf):
  return tf.compat.v1.contrib.layers


# (canonical api, code that must fail under tf1shim, the error it raises).
REALLY_FAILS = [
    ("tf.compat.v1.variable_scope(partitioner=)", _partitioned_variable_scope,
     ValueError),
    ("tf.compat.v1.get_variable(partitioner=)", _partitioned_get_variable,
     ValueError),
    ("tf.compat.v1.fixed_size_partitioner", _partitioned_get_variable,
     ValueError),
    ("tf.compat.v1.placeholder",
     lambda tf: tf.compat.v1.placeholder(tf.float32, [None]), RuntimeError),
    ("tf.compat.v1.Session", _session_run_of_model_tensors, RuntimeError),
    ("tf.estimator.Estimator", _estimator, AttributeError),
    ("tf.estimator.Estimator", _estimator_compat, AttributeError),
    ("tf.contrib.training.HParams", _contrib, AttributeError),
    # TF1's tf.layers.experimental: not among the layers tf1shim provides.
    ("tf.compat.v1.layers.experimental",
     lambda tf: tf.compat.v1.layers.experimental, AttributeError),
]


@pytest.mark.parametrize("api, fails, error", REALLY_FAILS,
                         ids=[a + "-" + f.__name__ for a, f, _ in REALLY_FAILS])
def test_unsupported_apis_really_fail(installed, api, fails, error):
  assert api_status.lookup(api).status == api_status.UNSUPPORTED
  with pytest.raises(error):
    fails(installed)


def test_lessons_exist_in_the_repository():
  lessons = {e.lesson for e in api_status.ENTRIES if e.lesson}
  assert len(lessons) >= 8
  for lesson in lessons:
    assert os.path.exists(os.path.join(ROOT, lesson)), lesson


def test_every_canonical_root_has_a_catch_all():
  for api in ("tf.compat.v1.no_such_name", "tf.contrib.no_such",
              "tf.estimator.x", "tensorflow.python.x", "tf_slim.x"):
    assert api_status.lookup(api) is not None, api
  assert api_status.lookup("tf.compat.v1.train.AdamOptimizer").api == (
      "tf.compat.v1.train.*Optimizer")
  assert api_status.lookup("tf.compat.v1.layers").status == api_status.CHANGE
  assert api_status.lookup("tf.compat.v1.layers.no_such").status == (
      api_status.UNSUPPORTED)


# --- The command line, as a program ------------------------------------------


def _run(args, cwd=None, timeout=60):
  return subprocess.run(
      [sys.executable, LAUNCHER] + list(args), capture_output=True,
      text=True, cwd=cwd, timeout=timeout, check=False,
      env=dict(os.environ, PYTHONPATH=os.path.join(ROOT, "core")))


def test_help_answers_without_tensorflow():
  done = subprocess.run(
      [sys.executable, "-c",
       "import sys, tf1shim_migrate\n"
       "code = tf1shim_migrate.main(['scan', %r])\n"
       "try:\n  tf1shim_migrate.main(['--help'])\n"
       "except SystemExit:\n  pass\n"
       "print('exit', code, 'tensorflow', 'tensorflow' in sys.modules)"
       % STAGE1_EXAMPLES[0]],
      capture_output=True, text=True, check=False, timeout=60,
      env=dict(os.environ, PYTHONPATH=os.path.join(ROOT, "core")))
  assert done.returncode == 0, done.stderr
  assert "usage: tf1shim-migrate" in done.stdout
  assert "exit 0 tensorflow False" in done.stdout


def test_json_matches_the_table():
  paths = STAGE1_EXAMPLES + [BERT]
  table = _run(["scan"] + paths)
  as_json = _run(["scan", "--json"] + paths)
  assert table.returncode == as_json.returncode == 0, table.stderr
  document = json.loads(as_json.stdout)
  rows = re.findall(r"^  (\S+):(\d+)\s+(as is|change|unsupported)\s+(\S+)",
                    table.stdout, re.M)
  short = {"as is": api_status.AS_IS, "change": api_status.CHANGE,
           "unsupported": api_status.UNSUPPORTED}
  assert [(p, int(n), short[s], a) for p, n, s, a in rows] == [
      (f["path"], f["line"], f["status"], f["api"])
      for file in document["files"] for f in file["findings"]]
  summaries = re.findall(r"^  summary: (\d+) uses: (\d+) runs as is, (\d+) "
                         r"runs with a change, (\d+) not supported$",
                         table.stdout, re.M)
  assert [tuple(int(n) for n in s) for s in summaries] == [
      (len(f["findings"]), f["summary"][api_status.AS_IS],
       f["summary"][api_status.CHANGE], f["summary"][api_status.UNSUPPORTED])
      for f in document["files"]]
  total = document["summary"]
  assert "total: 4 files scanned, %d uses: %d runs as is, %d runs with a " \
         "change, %d not supported" % (
             total["uses"], total[api_status.AS_IS],
             total[api_status.CHANGE],
             total[api_status.UNSUPPORTED]) in table.stdout
  assert total["uses"] == sum(len(f["findings"]) for f in document["files"])


def test_missing_path_is_one_error_line_and_nothing_scanned(tmp_path):
  done = _run(["scan", STAGE1_EXAMPLES[0], str(tmp_path / "missing.py")])
  assert done.returncode == 2
  assert done.stdout == ""
  assert done.stderr.splitlines() == [
      "error: %s: no such file or folder; nothing was scanned"
      % (tmp_path / "missing.py")]


def test_usage_errors_are_one_line():
  for args in ([], ["scan"], ["scan", "--nope", "x.py"], ["new"]):
    done = _run(args)
    assert done.returncode == 2, args
    assert len(done.stderr.splitlines()) == 1, (args, done.stderr)
    assert done.stderr.startswith("error: "), args


def test_bad_files_are_reported_and_the_others_scanned(tmp_path):
  good = tmp_path / "a_good.py"
  good.write_text("import tensorflow as tf\ntf.get_variable('w')\n")
  broken = tmp_path / "b_broken.py"
  broken.write_text("import tensorflow as tf\n\ndef f(:\n  pass\n")
  latin = tmp_path / "c_latin.py"
  latin.write_bytes(b"import tensorflow as tf\nx = '\xe9t\xe9'\n")
  declared = tmp_path / "d_declared.py"
  declared.write_bytes(b"# -*- coding: latin-1 -*-\nimport tensorflow as tf"
                       b"\nx = '\xe9'\ntf.placeholder(tf.float32)\n")
  nulls = tmp_path / "e_nulls.py"
  nulls.write_bytes(b"import tensorflow as tf\n\x00\n")
  done = _run(["scan", str(tmp_path)])
  assert done.returncode == 1
  errors = done.stderr.splitlines()
  assert len(errors) == 3, errors
  assert errors[0].startswith("error: %s:3: not valid Python: " % broken)
  assert errors[1].startswith("error: %s:2: not valid UTF-8 (byte 0xe9 at "
                              "line 2)" % latin)
  assert errors[2].startswith("error: %s" % nulls)
  assert "%s:2" % good in done.stdout  # the others were scanned
  assert "%s:4" % declared in done.stdout  # a declared encoding is read
  assert "total: 2 files scanned (3 not scanned)" in done.stdout
  document = json.loads(_run(["scan", "--json", str(tmp_path)]).stdout)
  assert [f["error"] and f["error"]["line"] for f in document["files"]] == [
      None, 3, 2, None, document["files"][4]["error"]["line"]]
  assert document["summary"]["files_not_scanned"] == 3


def test_folders_are_searched_recursively_and_links_cannot_loop(tmp_path):
  deep = tmp_path / "pkg" / "sub" / "deeper"
  deep.mkdir(parents=True)
  (deep / "model.py").write_text("import tensorflow as tf\ntf.Session()\n")
  (tmp_path / "pkg" / "notes.txt").write_text("tf.Session()\n")
  (tmp_path / "pkg" / ".hidden").mkdir()
  (tmp_path / "pkg" / ".hidden" / "x.py").write_text(
      "import tensorflow as tf\ntf.Session()\n")
  (tmp_path / "pkg" / "sub" / "loop").symlink_to(tmp_path / "pkg")
  (tmp_path / "outside").mkdir()
  (tmp_path / "outside" / "linked.py").write_text(
      "import tensorflow as tf\ntf.Session()\n")
  (tmp_path / "pkg" / "linked_folder").symlink_to(tmp_path / "outside")
  (tmp_path / "pkg" / "alias.py").symlink_to(deep / "model.py")
  (tmp_path / "pkg" / "dangling.py").symlink_to(tmp_path / "nowhere.py")
  os.mkfifo(tmp_path / "pkg" / "fifo.py")  # reading it would block
  done = _run(["scan", "--json", str(tmp_path / "pkg"),
               str(tmp_path / "pkg" / "sub")], timeout=60)
  document = json.loads(done.stdout)
  paths = [os.path.relpath(f["path"], tmp_path) for f in document["files"]]
  # alias.py is model.py (scanned once); folder links are not followed.
  assert paths == ["pkg/alias.py", "pkg/dangling.py", "pkg/fifo.py"], paths
  assert document["files"][0]["summary"][api_status.UNSUPPORTED] == 1
  assert [f["error"] is None for f in document["files"]] == [
      True, False, False]
  assert done.returncode == 1


def _snapshot(folder):
  state = {}
  for path, dirs, files in os.walk(folder):
    for name in dirs + files:
      full = os.path.join(path, name)
      info = os.lstat(full)
      state[full] = (info.st_size, info.st_mtime_ns, info.st_mode)
  return state


def test_scan_never_writes(tmp_path):
  inputs = tmp_path / "inputs"
  inputs.mkdir()
  for path in STAGE1_EXAMPLES + [BERT]:
    with open(path, "rb") as f:
      (inputs / os.path.basename(path)).write_bytes(f.read())
  (inputs / "broken.py").write_text("def (:\n")
  work = tmp_path / "work"
  work.mkdir()
  before = _snapshot(tmp_path)
  for args in (["scan", str(inputs)], ["scan", "--json", str(inputs)],
               ["scan", str(inputs / "missing")]):
    _run(args, cwd=str(work))
  assert _snapshot(tmp_path) == before


if __name__ == "__main__":
  raise SystemExit(pytest_main(__file__))
