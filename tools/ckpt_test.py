"""The `ckpt` command-line tool on real Saver-written checkpoints."""

import json
import os
import sys
import textwrap

import numpy as np
import pytest

from testing import tf1_checkpoints
from testing.pytest_main import pytest_main
from testing.subprocesses import run_python

MODELS = textwrap.dedent('''
    import numpy as np
    from testing import tf1_checkpoints
    from testing.shim_models import ShimLayer

    def build_native():
      return tf1_checkpoints.built_native_model(name="native")

    def build_shim():
      model = ShimLayer(tf1_checkpoints.tf1_model)
      model(np.zeros([1, 8, 8, 3], np.float32))
      return model

    def broken():
      raise RuntimeError("this factory is broken")
''')
RULES = tf1_checkpoints.NATIVE_RULES


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
  root = tmp_path_factory.mktemp("ckpt")
  (root / "models.py").write_text(MODELS)
  (root / "native.rules").write_text(RULES)
  before, _ = tf1_checkpoints.write_tf1_checkpoint(str(root / "before"),
                                                   steps=1)
  after, _ = tf1_checkpoints.write_tf1_checkpoint(str(root / "after"),
                                                  steps=4)
  return root, before, after


def ckpt(workspace, *args):
  """Runs tools/ckpt.py in the workspace folder (where models.py is)."""
  root = workspace[0]
  cli = os.path.join(os.path.dirname(os.path.abspath(__file__)), "ckpt.py")
  return run_python([cli] + list(args), cwd=str(root),
                    PYTHONPATH=os.pathsep.join([str(root)] + sys.path))


def test_help_has_examples(workspace):
  done = ckpt(workspace, "--help")
  assert done.returncode == 0
  assert "examples:" in done.stdout and "ckpt convert" in done.stdout


def test_inspect_json_lists_every_entry_with_statistics(workspace):
  _, before, _ = workspace
  done = ckpt(workspace, "inspect", before, "--json")
  assert done.returncode == 0, done.stderr
  entries = {e["name"]: e for e in json.loads(done.stdout)["entries"]}
  assert entries["model/head/projection/w"]["shape"] == [36, 5]
  w = tf1_checkpoints.read_entry(before, "model/head/projection/w")
  assert entries["model/head/projection/w"]["max"] == pytest.approx(
      float(w.max()))
  assert entries["global_step"]["dtype"] == "int64"


def test_diff_reports_changed_values_and_exits_1(workspace):
  _, before, after = workspace
  done = ckpt(workspace, "diff", before, after, "--json")
  assert done.returncode == 1
  result = json.loads(done.stdout)
  changed = {c["name"]: c["max_abs_diff"] for c in result["changed"]}
  w_before = tf1_checkpoints.read_entry(before, "model/conv2d/kernel")
  w_after = tf1_checkpoints.read_entry(after, "model/conv2d/kernel")
  assert changed["model/conv2d/kernel"] == pytest.approx(
      float(np.max(np.abs(w_before - w_after))))
  same = ckpt(workspace, "diff", before, before)
  assert same.returncode == 0 and "identical" in same.stdout


def test_map_and_verify_with_rules_and_without(workspace):
  _, _, after = workspace
  done = ckpt(workspace, "map", after, "--model", "models:build_native",
              "--rules", "native.rules", "--json")
  assert done.returncode == 0, done.stdout + done.stderr
  mapping = json.loads(done.stdout)["mapping"]
  assert mapping["native/dense/kernel"] == "model/head/projection/w"
  ok = ckpt(workspace, "verify", after, "--model", "models:build_native",
            "--rules", "native.rules")
  assert ok.returncode == 0 and "OK" in ok.stdout
  bad = ckpt(workspace, "verify", after, "--model", "models:build_native")
  assert bad.returncode == 1 and "missing in checkpoint" in bad.stdout
  auto = ckpt(workspace, "verify", after, "--model", "models:build_native",
              "--auto")
  assert auto.returncode == 0, auto.stdout + auto.stderr


def test_convert_keras_tf2_and_back_to_tf1(workspace):
  root, _, after = workspace
  keras_out = str(root / "native.weights.h5")
  done = ckpt(workspace, "convert", after, "--model", "models:build_native",
              "--rules", "native.rules", "--to", "keras", keras_out)
  assert done.returncode == 0, done.stdout + done.stderr
  tf2_out = str(root / "tf2")
  os.makedirs(tf2_out, exist_ok=True)
  done = ckpt(workspace, "convert", after, "--model", "models:build_shim",
              "--to", "tf2", os.path.join(tf2_out, "ckpt"))
  assert done.returncode == 0, done.stdout + done.stderr
  back_dir = root / "back"
  back_dir.mkdir(exist_ok=True)
  done = ckpt(workspace, "convert", keras_out, "--model",
              "models:build_native", "--rules", "native.rules", "--to", "tf1",
              str(back_dir / "model.ckpt"))
  assert done.returncode == 0, done.stdout + done.stderr
  diff = ckpt(workspace, "diff", after, str(back_dir / "model.ckpt"),
              "--json")
  result = json.loads(diff.stdout)
  # Bitwise equal; only the TF1 training state was not carried over.
  assert result["changed"] == [] and result["reshaped"] == []
  assert result["removed"] == ["global_step"] and result["added"] == []


@pytest.mark.parametrize("args, message", [
    (["inspect", "missing/model.ckpt"], "index file .* does not exist"),
    (["verify", "{after}", "--model", "nomodule:build"],
     "Cannot import module 'nomodule'"),
    (["verify", "{after}", "--model", "models:broken"],
     "factory models:broken failed"),
    (["verify", "{after}", "--model", "models:build_native", "--rules",
      "missing.rules"], "Cannot read rules file"),
])
def test_bad_input_is_a_clear_error_with_exit_2(workspace, args, message):
  import re  # pylint: disable=g-import-not-at-top
  _, _, after = workspace
  done = ckpt(workspace, *[a.format(after=after) for a in args])
  assert done.returncode == 2
  assert re.search(message, done.stderr), done.stderr


def test_truncated_checkpoint_conversion_is_exit_2_and_leaves_nothing(
    workspace):
  import shutil  # pylint: disable=g-import-not-at-top
  root, _, after = workspace
  cut_dir = root / "cut"
  cut_dir.mkdir(exist_ok=True)
  for path in os.listdir(os.path.dirname(after)):
    if path.startswith(os.path.basename(after) + "."):
      shutil.copy(os.path.join(os.path.dirname(after), path), cut_dir)
  cut = str(cut_dir / os.path.basename(after))
  data = [p for p in os.listdir(cut_dir) if ".data-" in p][0]
  with open(cut_dir / data, "r+b") as f:
    f.truncate(os.path.getsize(cut_dir / data) // 3)
  out_dir = root / "cut_out"
  out_dir.mkdir(exist_ok=True)
  done = ckpt(workspace, "convert", cut, "--model", "models:build_native",
              "--rules", "native.rules", "--to", "keras",
              str(out_dir / "m.weights.h5"))
  assert done.returncode == 2, done.stdout + done.stderr
  assert "corrupt or truncated" in done.stderr
  assert list(out_dir.iterdir()) == []


def test_failed_conversion_leaves_nothing(workspace):
  root, _, after = workspace
  out_dir = root / "empty"
  out_dir.mkdir(exist_ok=True)
  done = ckpt(workspace, "convert", after, "--model", "models:build_native",
              "--to", "keras", str(out_dir / "m.weights.h5"))
  assert done.returncode == 1 and "missing" in done.stdout
  assert list(out_dir.iterdir()) == []


if __name__ == "__main__":
  raise SystemExit(pytest_main(__file__))
