"""`tf1shim-migrate new`: a staged migration of your TF1 model function.

    tf1shim-migrate new DEST --from model.py:model_fn --input-shape 28,28,1

makes the folder DEST: stage 1 wrapping `model_fn` (imported from
model.py, never copied) under `track_tf1_style_variables`, stages 2-4 as
templates whose steps are TODOs pointing to the lessons (their tests are
skipped, saying which lesson to follow, until a stage's `TEMPLATE` line is
deleted), the `tf1shim.staging.Migration` declaration with random sample
batches to replace by your data, a golden checkpoint and the standard
stage tests (`stages_test.py`).

The golden checkpoint: `model_fn` trained `GOLDEN_STEPS` steps on the
sample batches in a TF1 graph and saved by `tf.compat.v1.train.Saver`
(`tf1shim.staging.golden.write_golden`). Trained, not just initialized: a
stage that loads it but leaves one variable at its initializer's draw
gives other outputs and fails.

Inside a Bazel workspace that has this repository's `tools/build_defs.bzl`,
DEST is a package (an `__init__.py`, a BUILD calling `migration_stages`,
imports by package path) that `bazel test //...` picks up; elsewhere it is
a standalone folder (a `conftest.py` puts it on `sys.path`) that
`pytest DEST` runs with tf1shim installed.

Nothing is left behind when something fails: the folder is built in a
hidden sibling (`.DEST.tmp-*`) and renamed to DEST at the end; an error,
Ctrl-C or SIGTERM removes it (and the parent folders it created).

Only the standard library at import: TensorFlow is imported when the
golden checkpoint is written, so `tf1shim-migrate --help` stays fast.
"""

import ast
import contextlib
import importlib.util
import json
import keyword
import os
import re
import shutil
import signal
import sys
import tempfile
import textwrap
import traceback

DEFAULT_NUM_CLASSES = 10
BATCH_SIZE = 16
GOLDEN_STEPS = 20
STAGES = ("stage1_functional_v1", "stage2_oo_v1", "stage3_partially_native",
          "stage4_fully_native")
# Modules of DEST the user's file must not be named like (outside a
# workspace they share `sys.path` with it).
GENERATED_MODULES = STAGES + ("migration", "tf1_model", "sample_data",
                              "stages_test", "conftest")


class ScaffoldError(Exception):
  """Bad input (a one-line message): nothing was written."""


class ModelFunctionError(Exception):
  """The model function failed (`details`: its traceback): nothing was
  written."""

  def __init__(self, message, details=""):
    super().__init__(message)
    self.details = details


# --------------------------------------------------------------- arguments


def parse_from(spec):
  """`FILE.py:FUNCTION` -> (absolute FILE, FUNCTION), checked without running
  FILE: it exists, is Python, and defines FUNCTION at the top level."""
  path, sep, function = spec.rpartition(":")
  if not sep or not path or not function:
    raise ScaffoldError("--from %r: expected FILE.py:FUNCTION" % spec)
  if not function.isidentifier() or keyword.iskeyword(function):
    raise ScaffoldError("--from %r: %r is not a Python function name"
                        % (spec, function))
  if not path.endswith(".py"):
    raise ScaffoldError("--from %r: %s is not a .py file" % (spec, path))
  path = os.path.abspath(path)
  if not os.path.isfile(path):
    raise ScaffoldError("--from %r: no such file %s" % (spec, path))
  stem = os.path.basename(path)[:-3]
  if not stem.isidentifier():
    raise ScaffoldError("--from %r: %s is not importable (its name is not a "
                        "Python module name)" % (spec, path))
  if stem in GENERATED_MODULES:
    raise ScaffoldError("--from %r: rename %s: the migration has a module of "
                        "that name" % (spec, os.path.basename(path)))
  try:
    with open(path, "rb") as f:
      tree = ast.parse(f.read(), filename=path)
  except (SyntaxError, ValueError, OSError) as e:
    raise ScaffoldError("--from %r: %s is not readable Python: %s"
                        % (spec, path, e))
  if function not in _top_level_names(tree):
    raise ScaffoldError("--from %r: %s defines no function %s at its top "
                        "level" % (spec, path, function))
  return path, function


def _top_level_names(tree):
  names = set()
  for node in tree.body:
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef,
                         ast.ClassDef)):
      names.add(node.name)
    elif isinstance(node, (ast.Assign, ast.AnnAssign)):
      targets = node.targets if isinstance(node, ast.Assign) else [
          node.target]
      names.update(t.id for t in targets if isinstance(t, ast.Name))
    elif isinstance(node, (ast.Import, ast.ImportFrom)):
      names.update((a.asname or a.name).split(".")[0] for a in node.names)
  return names


def parse_input_shape(text):
  """`H,W,C` (any number of positive integers) -> a tuple of ints."""
  parts = [p.strip() for p in text.split(",")]
  if not text.strip() or not all(re.fullmatch(r"[0-9]+", p) for p in parts):
    raise ScaffoldError("--input-shape %r: expected positive integers "
                        "separated by commas, e.g. 28,28,1" % text)
  shape = tuple(int(p) for p in parts)
  if 0 in shape:
    raise ScaffoldError("--input-shape %r: a dimension is 0" % text)
  return shape


def find_workspace(folder):
  """The root of this repository's kind of Bazel workspace (a WORKSPACE and
  `tools/build_defs.bzl`) holding `folder`, or None."""
  folder = os.path.abspath(folder)
  while True:
    if (os.path.isfile(os.path.join(folder, "WORKSPACE")) and
        os.path.isfile(os.path.join(folder, "tools", "build_defs.bzl"))):
      return folder
    parent = os.path.dirname(folder)
    if parent == folder:
      return None
    folder = parent


def _identifier(text):
  name = re.sub(r"[^0-9a-zA-Z_]", "_", text).strip("_").lower() or "model"
  return "m_" + name if name[0].isdigit() else name


# ------------------------------------------------------------------- files


def _header(lines):
  return textwrap.dedent(lines).lstrip("\n")


_TF1_MODEL = '''\
"""The TF1 model function this migration starts from: yours, imported.

`tf1shim-migrate new` recorded where it is; it is imported from there,
never copied, so stage 1 and the golden checkpoint run your code as it is.
If the file moves, change MODEL_FILE (and rerun the tests).{bazel_note}
"""

import importlib.util
import os
import sys

import tf1shim

MODEL_FILE = {model_file!r}
MODEL_FUNCTION = {function!r}
# The name the file is imported under: one of its own, so that it never
# takes the place of another module (or another migration's model).
MODULE_NAME = {module_name!r}

# tf.compat.v1.layers and nn.rnn_cell on Keras 3, in a TF1 graph and under
# the shim alike (Keras 3 refuses them without it).
tf1shim.install()


def load():
  """MODEL_FUNCTION of MODEL_FILE. Its folder goes on sys.path first, so
  it can import its neighbours as it always did."""
  folder = os.path.dirname(MODEL_FILE)
  if folder not in sys.path:
    sys.path.insert(0, folder)
  module = sys.modules.get(MODULE_NAME)
  if module is None:
    spec = importlib.util.spec_from_file_location(MODULE_NAME, MODEL_FILE)
    module = importlib.util.module_from_spec(spec)
    sys.modules[MODULE_NAME] = module
    try:
      spec.loader.exec_module(module)
    except BaseException:
      del sys.modules[MODULE_NAME]
      raise
  return getattr(module, MODEL_FUNCTION)


_MODEL_FUNCTION = load()


def tf1_model_fn(inputs, training=False):
  """`(inputs, training) -> logits`, runnable in a TF1 graph: your function
  (its second parameter may have any name)."""
  return _MODEL_FUNCTION(inputs, training)
'''

_BAZEL_NOTE = """
Under Bazel the file is read where it is, outside the targets' inputs:
for hermetic tests, move it into this workspace (a py_library the BUILD's
`deps` list) and point MODEL_FILE there."""

_SAMPLE_DATA = '''\
"""The sample batches and the loss the stage tests use.

REPLACE THE RANDOM BATCHES WITH YOUR DATA. They are random inputs of the
shape given to `tf1shim-migrate new` (fixed seeds) and random labels in
[0, NUM_CLASSES): enough to prove that a stage computes what stage 1
computes, nothing more. Batches of your data (the structure your model
function takes: an array, or a tuple or dict of arrays) test your model on
the inputs it meets. After changing them, rewrite the golden checkpoint on
purpose (see migration.py).
"""

import numpy as np
import tensorflow as tf

INPUT_SHAPE = {input_shape!r}
NUM_CLASSES = {num_classes!r}
BATCH_SIZE = {batch_size!r}
SEEDS = {{"train": 0, "test": 1}}


def sample_batches(split, count, data_dir=None):
  """The first `count` batches of `split` ("train" or "test"), always the
  same: [(inputs, labels)]. `data_dir` is a scratch folder (unused here) a
  real data set can be prepared in."""
  del data_dir
  rng = np.random.RandomState(SEEDS[split])
  return [(rng.normal(size=(BATCH_SIZE,) + INPUT_SHAPE).astype(np.float32),
           rng.randint(0, NUM_CLASSES, BATCH_SIZE).astype(np.int32))
          for _ in range(count)]


def loss(labels, logits):
  """Mean softmax cross-entropy, in TF ops (it runs in a TF1 graph and
  eagerly alike); regularization losses are added by the caller. Replace it
  with your model's loss."""
  return tf.reduce_mean(
      tf.nn.sparse_softmax_cross_entropy_with_logits(labels, logits))
'''

_STAGE1 = '''\
"""Stage 1, functional v1: your TF1 model function, unchanged, in Keras 3.

`{function}` ({model_file}) is imported, not copied (`tf1_model.py`).
The only new code is this Keras 3 model, whose `call` is decorated with
`tf1shim.track_tf1_style_variables`: the TF1 code runs eagerly, under
`tf.function` and in `model.fit`, keeping its TF1 variable names and
reporting its regularization losses in `model.losses`. The function still
runs in a TF1 graph: that is how the tests check this stage against TF1.
The lesson: examples/dense/stage1_functional_v1.py and its README (in the
tf1shim repository).
"""

import keras

import tf1shim
{import_tf1_model}


@keras.saving.register_keras_serializable(package="{name}.stage1")
class Stage1Model(keras.Model):
  """`{function}` as a Keras 3 model."""

  def __init__(self, name="{name}", **kwargs):
    super().__init__(name=name, **kwargs)

  @tf1shim.track_tf1_style_variables
  def call(self, inputs, training=False):
    return tf1_model.tf1_model_fn(inputs, training=training)


def build_model():
  """The stage's model: `build_model()(inputs, training=...) -> logits`."""
  return Stage1Model()


# The TF1 model function the tests run in a TF1 graph.
TF1_MODEL_FN = tf1_model.tf1_model_fn
'''

_TEMPLATE_STAGE = '''\
"""Stage {number}, {title} -- A TEMPLATE: write it.

{summary}

TODO, the lesson's steps (paths in the tf1shim repository; each example's
README.md, section "Stage {number}", says why each step is needed):
{steps}

Done when this stage's tests pass: delete the TEMPLATE line below (they
are skipped while it is there), run

    {run}

and make them pass. `diff {previous}.py {this}.py`
should show this one step.
"""

TEMPLATE = ({message})


def build_model():
  """The stage's model: `build_model()(inputs, training=...) -> logits`."""
  raise NotImplementedError(TEMPLATE)
'''

_LESSONS = {
    2: dict(
        title="OO v1",
        summary="The TF1 layers become objects created in `__init__`, "
                "with the same TF1\nvariable names (the TF1 code still runs "
                "under `track_tf1_style_variables`).",
        message="follow the stage 2 lesson (in the tf1shim repository): "
                "examples/dense/stage2_oo_v1.py "
                "(get_variable layers) or examples/conv/stage2_oo_v1.py "
                "(tf.compat.v1.layers), and their README.md",
        steps="""\
  1. Copy stage1_functional_v1.py here (rename the registered package to
     "{name}.stage2").
  2. Create each TF1 layer once in `__init__` as an object: hand-written
     get_variable layers -> tf.compat.v1.layers.Dense/Conv2D named after
     their old scope (examples/dense/stage2_oo_v1.py); auto-named
     tf.compat.v1.layers calls -> objects with the names TF1 gave them,
     conv2d, conv2d_1, ... (examples/conv/stage2_oo_v1.py); batch
     normalization -> examples/batchnorm/stage2_oo_v1.py; RNN cells ->
     examples/rnn/stage2_oo_v1.py.
  3. Keep the same initializers and regularizers, and call the objects in
     `call` inside the same variable_scope, still decorated: the TF1
     names, and so the golden checkpoint, must not change."""),
    3: dict(
        title="partially native",
        summary="Some TF1 layers become Keras 3 layers; the TF1 names of "
                "the others stay.",
        message="follow the stage 3 lesson (in the tf1shim repository): "
                "examples/dense/"
                "stage3_partially_native.py or examples/conv/"
                "stage3_partially_native.py, and their README.md",
        steps="""\
  1. Copy stage2_oo_v1.py here (registered package "{name}.stage3").
  2. Replace some TF1 layers by Keras 3 layers with the same names, so
     their variable paths are the TF1 names (examples/dense/
     stage3_partially_native.py).
  3. Where a removed auto-named TF1 layer leaves a gap in TF1's
     numbering, `tf1shim.record_scope("conv2d")` keeps the names of the
     layers after it (examples/conv/stage3_partially_native.py).
  4. TF1's l2_regularizer(scale) is keras.regularizers.L2(scale / 2);
     TF1 batch norm's moving averages: examples/batchnorm/
     stage3_partially_native.py; an LSTM cell for keras.layers.LSTM needs
     transform rules in TF1_NAMES (examples/rnn/
     stage3_partially_native.py).
  5. If some variable names differ from the TF1 names, define TF1_NAMES:
     tf1shim.checkpoints rules, model name -> TF1 name."""),
    4: dict(
        title="fully native",
        summary="Keras 3 only: no TF1 API and no tf1shim import.",
        message="follow the stage 4 lesson (in the tf1shim repository): "
                "examples/dense/"
                "stage4_fully_native.py or examples/conv/"
                "stage4_fully_native.py, and their README.md",
        steps="""\
  1. Copy stage3_partially_native.py here (registered package
     "{name}.stage4").
  2. Replace the last TF1 layers by Keras 3 layers; remove the decorator,
     the variable_scope and every tf1shim and tf.compat.v1 import
     (examples/dense/stage4_fully_native.py,
     examples/conv/stage4_fully_native.py).
  3. Name the model and layers so that the variable paths are the TF1
     names, or give the mapping in TF1_NAMES (examples/rnn/
     stage4_fully_native.py): the tests convert the golden checkpoint
     with `tf1shim-ckpt convert --to keras` and run this stage in a
     process without tf1shim."""),
}

_MIGRATION = '''\
"""The migration of `{function}` ({model_file}), declared once.

Made by

    {command}

The stages are listed in order here and in {listed_elsewhere}. Stages 2-4 start as
templates: their tests are skipped until a stage's `TEMPLATE` line goes.

The golden checkpoint (golden/) is `{function}` trained {steps} steps
on the sample batches in a TF1 graph, saved by tf.compat.v1.train.Saver:
every stage must load it and give the TF1 graph's outputs. Tests only
read it. After changing the sample data or the model function, rewrite
it on purpose:

    {regenerate}
"""

import os
import sys

from tf1shim import staging
{imports}

# Where `{function}` comes from (imported, never copied: tf1_model.py).
MODEL_FILE = tf1_model.MODEL_FILE
MODEL_FUNCTION = tf1_model.MODEL_FUNCTION
GOLDEN_STEPS = {steps}
GOLDEN_FOLDER = {golden_folder}
# What MANIFEST.json says besides the checksums.
GOLDEN_MANIFEST = {manifest}

MIGRATION = staging.Migration(
    name={name!r},
    tf1_model_fn=stage1_functional_v1.TF1_MODEL_FN,
    stages=staging.stages_from_modules([
        stage1_functional_v1, stage2_oo_v1, stage3_partially_native,
        stage4_fully_native]),
    # Random batches of the input shape: replace them with your data
    # (sample_data.py).
    sample_batches=sample_data.sample_batches,
    loss=sample_data.loss,
    golden=staging.GoldenCheckpoint(
        GOLDEN_FOLDER,
        "Rewrite it on purpose: " + GOLDEN_MANIFEST["regenerate"]),
)


def write_golden(force=False):
  """Trains `{function}` GOLDEN_STEPS steps in a TF1 graph and saves the
  golden checkpoint (refuses to replace one unless `force`)."""
  return staging.golden.write_golden(
      MIGRATION, MIGRATION.sample_batches("train", GOLDEN_STEPS),
      GOLDEN_FOLDER, force=force, manifest=GOLDEN_MANIFEST)


if __name__ == "__main__":
  if sys.argv[1:] != ["--force"]:
    sys.exit("usage: %s --force  (rewrites golden/)" % sys.argv[0])
  manifest = write_golden(force=True)
  print("Wrote %s (loss %.4f -> %.4f over %d steps)." % (
      GOLDEN_FOLDER, manifest["loss_first_last"][0],
      manifest["loss_first_last"][1], manifest["steps"]))
'''

_STAGES_TEST = '''\
"""The stages of `{function}`: the standard tests of `tf1shim.staging`.

Stage 1's pass at once; a stage still a template is skipped, saying which
lesson to follow.
"""

from tf1shim import staging
{imports}

globals().update(staging.test_namespace(migration.MIGRATION))

if __name__ == "__main__":
{main}
'''

_CONFTEST = '''\
"""pytest: this folder's modules are imported by their names (migration,
stage1_functional_v1, ...), as the stage tests import them again in a
fresh process."""

import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
  sys.path.insert(0, HERE)
'''

_BUILD = '''\
# The migration of {function} ({model_file}), made by
# `tools/dev new`. The stage list is the one of migration.py, in order.
load("//tools:build_defs.bzl", "migration_stages")

migration_stages(
    name = "{name}",
    stages = [
{stages}
    ],
    data = glob(["golden/*"]),
)
'''

_README = '''\
# {name}: the staged migration of `{function}`

Made by `tf1shim-migrate new` from `{model_file}` (imported, not copied:
`tf1_model.py`), inputs of shape `{input_shape}`, {num_classes} classes.

| file | what it is |
|---|---|
| `tf1_model.py` | where the TF1 model function is imported from |
| `sample_data.py` | random sample batches and the loss: **replace them with your data** |
| `stage1_functional_v1.py` | your function under `track_tf1_style_variables`: its tests pass now |
| `stage2_oo_v1.py` .. `stage4_fully_native.py` | templates: each lists its lesson's steps; its tests are skipped until its `TEMPLATE` line is deleted |
| `migration.py` | the `tf1shim.staging.Migration` declaration; rewrites `golden/` with `--force` |
| `golden/` | `{function}` trained {steps} steps in a TF1 graph, saved by `Saver`, with `MANIFEST.json` |
| `stages_test.py` | the standard stage tests |

Run the tests: `{run}`. Write stage 2 (its docstring lists the steps),
delete its `TEMPLATE` line, make its tests pass; then stage 3 and 4.
`tf1shim-migrate scan {model_file}` lists what in the model will need work.
'''


def render(dest, model_file, function, input_shape, num_classes,
           workspace, command):
  """({relative path: text} of DEST's files, the golden checkpoint apart;
  the golden manifest's extra entries)."""
  name = _identifier(os.path.basename(os.path.abspath(dest)))
  package = None
  if workspace:
    package = os.path.relpath(os.path.abspath(dest), workspace).replace(
        os.sep, ".")
  rel = (os.path.relpath(os.path.abspath(dest), workspace) if workspace
         else None)

  def imports(*modules):
    if package:
      return "\n".join("from %s import %s" % (package, m) for m in modules)
    return "\n".join("import %s" % m for m in modules)

  if workspace:
    run = "bazel test //%s/..." % rel
    regenerate = ("PYTHONPATH=core:. python -m %s.migration --force  "
                  "(from the workspace root)" % package)
    golden_folder = ("staging.locate(\n    %r,\n    os.path.join("
                     "os.path.dirname(os.path.abspath(__file__)), "
                     "\"golden\"))" % (rel + "/golden"))
    listed_elsewhere = "BUILD (`migration_stages`)"
  else:
    run = "pytest %s" % dest
    regenerate = "python %s --force" % os.path.join(dest, "migration.py")
    golden_folder = ("os.path.join(\n    os.path.dirname(os.path.abspath("
                     "__file__)), \"golden\")")
    listed_elsewhere = "no other place"
  manifest = golden_manifest(model_file, function, regenerate)
  values = dict(name=name, function=function, model_file=model_file,
                input_shape=",".join(map(str, input_shape)),
                num_classes=num_classes, steps=GOLDEN_STEPS, run=run)
  files = {
      "tf1_model.py": _TF1_MODEL.format(
          model_file=model_file, function=function,
          module_name="_tf1shim_model_of_" + name,
          bazel_note=_BAZEL_NOTE if workspace else ""),
      "sample_data.py": _SAMPLE_DATA.format(
          input_shape=tuple(input_shape), num_classes=num_classes,
          batch_size=BATCH_SIZE),
      "stage1_functional_v1.py": _STAGE1.format(
          import_tf1_model=imports("tf1_model"), **values),
      "migration.py": _MIGRATION.format(
          command=command, listed_elsewhere=listed_elsewhere,
          manifest=json.dumps(manifest, indent=4),
          regenerate=regenerate, golden_folder=golden_folder,
          imports=imports("sample_data", "tf1_model", *STAGES), **values),
      "stages_test.py": _STAGES_TEST.format(
          function=function,
          imports=imports("migration") + (
              "\nfrom testing.pytest_main import pytest_main"
              if workspace else "\nimport pytest"),
          main=("  raise SystemExit(pytest_main(__file__))" if workspace
                else "  raise SystemExit(pytest.main([__file__, \"-q\"]))")),
      "README.md": _README.format(**values),
  }
  for number in (2, 3, 4):
    lesson = _LESSONS[number]
    this, previous = STAGES[number - 1], STAGES[number - 2]
    files[this + ".py"] = _TEMPLATE_STAGE.format(
        number=number, title=lesson["title"], summary=lesson["summary"],
        steps=lesson["steps"].format(name=name),
        message=_string_literal(lesson["message"], 12),
        this=this, previous=previous,
        run=run + ("" if workspace else " -k TestStage%d" % number))
  if workspace:
    files["__init__.py"] = ""
    files["BUILD"] = _BUILD.format(
        function=function, model_file=model_file, name=name,
        stages="\n".join('        "%s",' % s for s in STAGES))
  else:
    files["conftest.py"] = _CONFTEST
  return files, manifest


def golden_manifest(model_file, function, regenerate):
  """MANIFEST.json's entries besides the checksums (the scaffolder and the
  generated migration.py write the same)."""
  return {
      "written_by": "tf.compat.v1.train.Saver, TF1 graph, tf1shim-migrate "
                    "new",
      "model": "%s:%s" % (model_file, function),
      "data": "sample_data.sample_batches('train', %d)" % GOLDEN_STEPS,
      "regenerate": regenerate,
  }


def _string_literal(text, indent):
  """`text` as adjacent string literals, one per line, under 80 columns."""
  lines = textwrap.wrap(text, 60)
  return ("\n" + " " * indent).join(
      repr(line + (" " if i < len(lines) - 1 else ""))
      for i, line in enumerate(lines))


# --------------------------------------------------------------- building


def _load_module(path, name):
  spec = importlib.util.spec_from_file_location(name, path)
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module


def check_and_write_golden(folder, num_classes, manifest, err):
  """Loads the generated tf1_model.py and sample_data.py from `folder`,
  checks the model function in a TF1 graph (it runs; logits
  [batch, num_classes]) and writes folder/golden. Raises
  ModelFunctionError."""
  os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
  err.write("Running the model function in a TF1 graph (TensorFlow loads "
            "first)...\n")
  err.flush()
  try:
    tf1_model = _load_module(os.path.join(folder, "tf1_model.py"),
                             "_tf1shim_new_tf1_model")
  except Exception as e:  # pylint: disable=broad-except
    raise ModelFunctionError(
        "importing the model's file failed: %s: %s" % (type(e).__name__, e),
        traceback.format_exc())
  sample_data = _load_module(os.path.join(folder, "sample_data.py"),
                             "_tf1shim_new_sample_data")
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  from tf1shim import staging  # pylint: disable=g-import-not-at-top
  batches = sample_data.sample_batches("train", GOLDEN_STEPS)
  try:
    with tf.Graph().as_default():
      x = staging.golden.placeholders_like(batches[0][0])
      logits = tf1_model.tf1_model_fn(x, training=True)
  except Exception as e:  # pylint: disable=broad-except
    raise ModelFunctionError(
        "the model function failed in a TF1 graph: %s: %s"
        % (type(e).__name__, e), traceback.format_exc())
  # A tensor [batch, num_classes]; an unknown width passes (the loss
  # checks the labels when the graph runs).
  shape = getattr(logits, "shape", None)
  if (getattr(shape, "rank", None) != 2 or
      shape[-1] not in (None, num_classes)):
    raise ModelFunctionError(
        "the model function returned %r; expected logits of shape "
        "[batch, %d] (--num-classes %d)" % (
            shape if shape is not None else type(logits).__name__,
            num_classes, num_classes))
  migration = staging.Migration(
      name="new", tf1_model_fn=tf1_model.tf1_model_fn, stages=(),
      sample_batches=sample_data.sample_batches, loss=sample_data.loss)
  try:
    return staging.golden.write_golden(
        migration, batches, os.path.join(folder, "golden"),
        manifest=manifest)
  except Exception as e:  # pylint: disable=broad-except
    raise ModelFunctionError(
        "training the model function in a TF1 graph failed: %s: %s"
        % (type(e).__name__, e), traceback.format_exc())


@contextlib.contextmanager
def _sigterm_as_interrupt():
  """SIGTERM raises KeyboardInterrupt here, so the cleanup runs."""
  def interrupt(signum, frame):
    del signum, frame
    raise KeyboardInterrupt("SIGTERM")
  try:
    previous = signal.signal(signal.SIGTERM, interrupt)
  except ValueError:  # not the main thread: nothing to install
    yield
    return
  try:
    yield
  finally:
    signal.signal(signal.SIGTERM, previous)


def _make_parents(parent):
  """Creates `parent` and missing ancestors; returns those created,
  deepest first (to remove them again on failure)."""
  created = []
  folder = parent
  while not os.path.exists(folder):
    created.append(folder)
    folder = os.path.dirname(folder)
  try:
    os.makedirs(parent, exist_ok=True)
  except OSError as e:
    for folder in created:
      with contextlib.suppress(OSError):
        os.rmdir(folder)
    raise ScaffoldError("cannot make the folder %s: %s" % (parent, e))
  return created


def new(dest, from_spec, input_shape, num_classes=DEFAULT_NUM_CLASSES,
        out=None, err=None, command="tf1shim-migrate new"):
  """Makes DEST (see the module docstring); returns its absolute path.
  Raises ScaffoldError (bad input) or ModelFunctionError; on any failure,
  KeyboardInterrupt and SIGTERM included, nothing is left behind."""
  out = out or sys.stdout
  err = err or sys.stderr
  model_file, function = parse_from(from_spec)
  shape = parse_input_shape(input_shape) if isinstance(
      input_shape, str) else tuple(input_shape)
  if num_classes < 1:
    raise ScaffoldError("--num-classes %d: expected a positive number"
                        % num_classes)
  dest = os.path.abspath(dest)
  if os.path.lexists(dest):
    raise ScaffoldError("%s already exists; choose a new folder (nothing is "
                        "overwritten)" % dest)
  workspace = find_workspace(os.path.dirname(dest))
  if workspace:
    parts = os.path.relpath(dest, workspace).split(os.sep)
    bad = [p for p in parts if not p.isidentifier() or keyword.iskeyword(p)]
    if bad:
      raise ScaffoldError(
          "%s is in the Bazel workspace %s, where it must be a Python "
          "package: %r is not a package name" % (dest, workspace, bad[0]))
  files, golden_extras = render(dest, model_file, function, shape,
                                num_classes, workspace, command)
  with _sigterm_as_interrupt():
    created = _make_parents(os.path.dirname(dest))
    building = None
    done = False
    try:
      building = tempfile.mkdtemp(
          prefix="." + os.path.basename(dest) + ".tmp-",
          dir=os.path.dirname(dest))
      for relative, text in files.items():
        with open(os.path.join(building, relative), "w") as f:
          f.write(text)
      manifest = check_and_write_golden(building, num_classes,
                                        golden_extras, err)
      with open(os.path.join(building, "golden", "MANIFEST.json")) as f:
        json.load(f)  # written whole
      if os.path.lexists(dest):
        raise ScaffoldError("%s appeared while it was being made; nothing "
                            "was overwritten" % dest)
      # mkdtemp made it private (0700); a folder of sources is not.
      umask = os.umask(0)
      os.umask(umask)
      os.chmod(building, 0o777 & ~umask)
      os.rename(building, dest)
      done = True
    finally:
      # The model's module was imported under the migration's name: a
      # later `new` in this process imports its own file afresh.
      sys.modules.pop("_tf1shim_model_of_" + _identifier(
          os.path.basename(dest)), None)
      if not done:
        if building:
          shutil.rmtree(building, ignore_errors=True)
        for folder in created:
          with contextlib.suppress(OSError):
            os.rmdir(folder)
  out.write("Made %s (%s): stage 1 wraps %s:%s; stages 2-4 are templates.\n"
            "Golden checkpoint: %d TF1 training steps, loss %.4f -> %.4f.\n"
            "Next: replace the random batches in sample_data.py with your "
            "data, then run: %s\n" % (
                dest, "a Bazel package" if workspace else "standalone",
                model_file, function, manifest["steps"],
                manifest["loss_first_last"][0],
                manifest["loss_first_last"][1],
                ("bazel test //%s/..." % os.path.relpath(dest, workspace))
                if workspace else "pytest " + dest))
  return dest
