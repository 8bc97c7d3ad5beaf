"""`tf1shim-migrate new` (`tools/dev new`): a staged migration of a model
function that appears nowhere in this repository.

The model function is written here into a folder of its own, as a team's
code would be: a small CNN on `tf.compat.v1.layers` and a hand-written
`get_variable` head, in `variable_scope`s, with an L2 regularizer. It is
scaffolded outside any workspace (a standalone folder `pytest DEST` runs)
and inside a workspace shaped like this one (a package with its BUILD);
in both, stage 1's generated tests pass and stages 2-4 are skipped with
their lesson. Failures leave nothing behind.
"""

import ast
import os
import re
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from testing.pytest_main import pytest_main
from testing.scaffold_models import THEIR_MODEL

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
CORE = os.path.join(ROOT, "core")
LAUNCHER = os.path.join(CORE, "tf1shim_migrate.py")
BUILD_DEFS = os.path.join(ROOT, "tools", "build_defs.bzl")
sys.path.insert(0, CORE)
import tf1shim_migrate  # pylint: disable=g-import-not-at-top,wrong-import-position

# The scaffolder as the launcher loads it (no TensorFlow).
scaffold = tf1shim_migrate.load_cli().scaffold


STAGE_FILES = ["stage1_functional_v1.py", "stage2_oo_v1.py",
               "stage3_partially_native.py", "stage4_fully_native.py"]
COMMON_FILES = STAGE_FILES + [
    "README.md", "migration.py", "sample_data.py", "stages_test.py",
    "tf1_model.py", "golden/MANIFEST.json", "golden/model.ckpt.index",
    "golden/model.ckpt.data-00000-of-00001"]
# Stage 1: TF1 names, golden checkpoint, .keras/SavedModel, its TF1 graph.
STAGE1_TESTS = 4


def _env(*paths):
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3",
             PYTHONPATH=os.pathsep.join(list(paths) + [CORE]))
  for name in ("TF1SHIM_STAGES", "XML_OUTPUT_FILE", "TEST_SRCDIR",
               "RUNFILES_DIR", "TEST_WORKSPACE"):
    env.pop(name, None)  # the generated tests run as a user runs them
  return env


def _new(cwd, *args, env=None, timeout=600):
  return subprocess.run(
      [sys.executable, LAUNCHER, "new"] + list(args), cwd=str(cwd),
      env=env or _env(), capture_output=True, text=True, timeout=timeout,
      check=False)


def _files(folder):
  return sorted(
      os.path.relpath(os.path.join(d, f), folder).replace(os.sep, "/")
      for d, _, names in os.walk(folder) for f in names
      if "__pycache__" not in d)


def _pytest(target, cwd, *paths):
  return subprocess.run(
      [sys.executable, "-m", "pytest", target, "-q", "-rs",
       "-p", "no:cacheprovider", "-W", "ignore::DeprecationWarning"],
      cwd=str(cwd), env=_env(*paths), capture_output=True, text=True,
      timeout=900, check=False)


def _assert_stage1_passes_and_templates_skip(done):
  output = done.stdout[-6000:] + done.stderr[-2000:]
  assert done.returncode == 0, output
  assert re.search(r"\b%d passed, 17 skipped\b" % STAGE1_TESTS,
                   done.stdout), output
  for number, stage in [(2, "stage2_oo_v1"), (3, "stage3_partially_native"),
                        (4, "stage4_fully_native")]:
    assert ("stage %d (%s) is still a template: follow the stage %d lesson"
            % (number, stage, number)) in done.stdout, output
    assert "examples/dense/%s.py" % stage in done.stdout, output


@pytest.fixture(name="their_code")
def _their_code(tmp_path):
  """A folder outside any workspace with the team's model file."""
  assert scaffold.find_workspace(str(tmp_path)) is None, tmp_path
  (tmp_path / "src").mkdir()
  (tmp_path / "src" / "glyphs.py").write_text(THEIR_MODEL)
  return tmp_path


def test_outside_a_workspace_pytest_passes_stage1_and_skips_the_templates(
    their_code):
  done = _new(their_code, "my_glyphs", "--from", "src/glyphs.py:glyph_net",
              "--input-shape", "6,6,1", "--num-classes", "3")
  assert done.returncode == 0, done.stderr[-4000:]
  dest = their_code / "my_glyphs"
  assert _files(str(dest)) == sorted(COMMON_FILES + ["conftest.py"])
  # Imported from where it is, never copied.
  model_file = str(their_code / "src" / "glyphs.py")
  tf1_model = (dest / "tf1_model.py").read_text()
  assert "MODEL_FILE = %r" % model_file in tf1_model
  assert "MODEL_FILE = tf1_model.MODEL_FILE" in (
      dest / "migration.py").read_text()
  for name in _files(str(dest)):
    if name.endswith(".py"):
      assert "def glyph_net" not in (dest / name).read_text(), name
  # Stages 2-4 mark themselves as templates; stage 1 does not.
  for name in STAGE_FILES:
    marked = "TEMPLATE" in [
        t.id for node in ast.parse((dest / name).read_text()).body
        if isinstance(node, ast.Assign) for t in node.targets]
    assert marked == (name != "stage1_functional_v1.py"), name
  # As a user runs it: from elsewhere, tf1shim installed (on the path).
  _assert_stage1_passes_and_templates_skip(_pytest(str(dest), their_code))


def test_a_written_stage_after_a_template_is_compared_with_stage1(
    their_code):
  # Stage 4 written before stages 2 and 3 (here: stage 1's model, which
  # equals itself): its tests run, "the previous stage" skips.
  assert _new(their_code, "jump", "--from", "src/glyphs.py:glyph_net",
              "--input-shape", "6,6,1", "--num-classes",
              "3").returncode == 0
  dest = their_code / "jump"
  (dest / "stage4_fully_native.py").write_text(textwrap.dedent('''\
      """Stage 4, written early."""
      from stage1_functional_v1 import build_model
      '''))
  done = subprocess.run(
      [sys.executable, "-m", "pytest", str(dest), "-q", "-rs", "-k",
       "TestStage4 and (stage1 or previous)", "-p", "no:cacheprovider"],
      cwd=str(their_code), env=_env(), capture_output=True, text=True,
      timeout=900, check=False)
  assert done.returncode == 0, done.stdout[-4000:]
  assert "1 passed, 1 skipped" in done.stdout, done.stdout[-3000:]
  assert "test_equals_stage1 compares this stage with stage 1" in (
      done.stdout), done.stdout[-3000:]


@pytest.fixture(name="workspace")
def _workspace(their_code):
  """A Bazel workspace shaped like this one: WORKSPACE, the macro, and this
  repository's `core` and `testing` (links)."""
  root = their_code / "ws"
  (root / "tools").mkdir(parents=True)
  (root / "WORKSPACE").write_text("")
  (root / "tools" / "build_defs.bzl").write_text(open(BUILD_DEFS).read())
  for name in ("core", "testing"):
    os.symlink(os.path.join(ROOT, name), str(root / name))
  return root


def _macro_parameters():
  """The parameters of `migration_stages` in tools/build_defs.bzl."""
  with open(BUILD_DEFS) as f:
    source = f.read()
  match = re.search(r"^def migration_stages\(([^)]*)\):", source, re.M)
  return [p.split("=")[0].strip() for p in match.group(1).split(",")]


def test_inside_a_workspace_a_package_with_a_valid_build(workspace):
  done = _new(workspace, os.path.join("team", "glyphs"), "--from",
              os.path.join("..", "src", "glyphs.py:glyph_net"),
              "--input-shape", "6,6,1", "--num-classes", "3")
  assert done.returncode == 0, done.stderr[-4000:]
  dest = workspace / "team" / "glyphs"
  assert _files(str(dest)) == sorted(COMMON_FILES + ["BUILD",
                                                     "__init__.py"])
  # Imports by package path, as Bazel runs them.
  assert "from team.glyphs import migration" in (
      dest / "stages_test.py").read_text()
  # The BUILD, read as Starlark is (a Python subset): one call of the
  # macro, with its parameters, the stages of migration.py in order.
  calls = []
  build = (dest / "BUILD").read_text()
  exec(compile(build, "BUILD", "exec"), {  # pylint: disable=exec-used
      "load": lambda label, *symbols: calls.append(("load", label, symbols)),
      "glob": lambda patterns: ("glob", patterns),
      "migration_stages": lambda **kwargs: calls.append(("macro", kwargs)),
  })
  assert calls[0] == ("load", "//tools:build_defs.bzl",
                      ("migration_stages",))
  (_, kwargs), = calls[1:]
  assert set(kwargs) <= set(_macro_parameters()), kwargs
  assert kwargs["name"] == "glyphs"
  assert kwargs["stages"] == [s[:-3] for s in STAGE_FILES]
  assert kwargs["data"] == ("glob", ["golden/*"])
  # pytest as `tools/dev pytest` runs it: the workspace root on the path.
  _assert_stage1_passes_and_templates_skip(
      _pytest(os.path.join("team", "glyphs"), workspace, str(workspace)))


def test_an_existing_dest_is_refused_and_left_as_it_was(their_code):
  dest = their_code / "taken"
  dest.mkdir()
  (dest / "notes.txt").write_text("mine")
  done = _new(their_code, "taken", "--from", "src/glyphs.py:glyph_net",
              "--input-shape", "6,6,1")
  assert done.returncode == 2
  assert done.stderr.count("\n") == 1, done.stderr
  assert done.stderr.startswith("error: ") and "already exists" in (
      done.stderr)
  assert _files(str(dest)) == ["notes.txt"]


def _leftovers(folder):
  return sorted(n for n in os.listdir(str(folder)) if n != "src")


def test_a_function_failing_in_a_tf1_graph_leaves_nothing_behind(their_code):
  done = _new(their_code, os.path.join("new_parent", "broken"), "--from",
              "src/glyphs.py:broken_net", "--input-shape", "6,6,1")
  assert done.returncode == 1, done.stderr[-3000:]
  # Its traceback, down to the user's line, then one error line.
  assert "Traceback (most recent call last)" in done.stderr
  assert re.search(r'glyphs\.py", line \d+, in broken_net', done.stderr), (
      done.stderr[-3000:])
  last = done.stderr.strip().splitlines()[-1]
  assert last.startswith("error: the model function failed in a TF1 graph")
  assert "nothing was written" in last
  # Neither DEST, nor its temporary sibling, nor the parent made for it.
  assert _leftovers(their_code) == []


def test_logits_of_another_width_than_num_classes_are_refused(their_code):
  done = _new(their_code, "wide", "--from", "src/glyphs.py:glyph_net",
              "--input-shape", "6,6,1", "--num-classes", "10")
  assert done.returncode == 1
  assert "expected logits of shape [batch, 10]" in done.stderr
  assert _leftovers(their_code) == []


def test_sigterm_while_it_builds_leaves_nothing_behind(their_code):
  process = subprocess.Popen(
      [sys.executable, LAUNCHER, "new", "stopped", "--from",
       "src/glyphs.py:glyph_net", "--input-shape", "6,6,1", "--num-classes",
       "3"], cwd=str(their_code), env=_env(), stdout=subprocess.PIPE,
      stderr=subprocess.PIPE, text=True)
  try:
    deadline = time.time() + 120
    # The hidden sibling it builds in: TensorFlow is loading.
    while not [n for n in os.listdir(str(their_code))
               if n.startswith(".stopped.tmp-")]:
      assert process.poll() is None, process.communicate()
      assert time.time() < deadline
      time.sleep(0.05)
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=120)
  finally:
    if process.poll() is None:
      process.kill()
  assert process.returncode == 130, stderr[-2000:]
  assert "error: interrupted (SIGTERM)" in stderr
  assert _leftovers(their_code) == []


@pytest.mark.parametrize("args, message", [
    (["--from", "src/glyphs.py", "--input-shape", "6,6,1"],
     "expected FILE.py:FUNCTION"),
    (["--from", "src/absent.py:glyph_net", "--input-shape", "6,6,1"],
     "no such file"),
    (["--from", "src/glyphs.py:no_such_net", "--input-shape", "6,6,1"],
     "defines no function no_such_net"),
    (["--from", "src/glyphs.py:glyph-net", "--input-shape", "6,6,1"],
     "is not a Python function name"),
    (["--from", "src/glyphs.py:glyph_net", "--input-shape", "6,six,1"],
     "--input-shape '6,six,1': expected positive integers"),
    (["--from", "src/glyphs.py:glyph_net", "--input-shape", "6,0,1"],
     "a dimension is 0"),
    (["--from", "src/glyphs.py:glyph_net", "--input-shape", "6,6,1",
      "--num-classes", "0"], "--num-classes 0"),
    (["--input-shape", "6,6,1"], "required: --from"),
])
def test_bad_arguments_are_one_line_errors(their_code, args, message):
  done = _new(their_code, "dest", *args)
  assert done.returncode == 2, done.stderr
  assert done.stderr.startswith("error: ") and done.stderr.count("\n") == 1, (
      done.stderr)
  assert message in done.stderr, done.stderr
  assert _leftovers(their_code) == []


def test_new_help_answers_without_tensorflow():
  code = ("import sys\nsys.path.insert(0, %r)\nimport tf1shim_migrate\n"
          "try:\n  tf1shim_migrate.main(['new', '--help'])\n"
          "except SystemExit as e:\n  code = e.code\n"
          "print('exit', code, 'tensorflow', 'tensorflow' in sys.modules)"
          % CORE)
  done = subprocess.run([sys.executable, "-c", code], capture_output=True,
                        text=True, timeout=120, check=False)
  assert "--input-shape H,W,C" in done.stdout, done.stderr
  assert done.stdout.strip().endswith("exit 0 tensorflow False"), (
      done.stdout)


if __name__ == "__main__":
  raise SystemExit(pytest_main(__file__))
