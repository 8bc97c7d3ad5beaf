"""`pip install ./core` installs a working tf1shim."""

import configparser
import os
import subprocess
import sys

import pytest

from testing.pytest_main import pytest_main

CORE = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(
    __file__))))

# A TF1 model function of vectors, for `tf1shim-migrate new`.
THEIR_MODEL = """\
import tensorflow as tf


def logits_of(features, training):
  del training
  with tf.compat.v1.variable_scope("scorer"):
    w = tf.compat.v1.get_variable(
        "w", [4, 2], regularizer=lambda w: 1e-3 * tf.nn.l2_loss(w))
    return tf.matmul(features, w)
"""


def test_pip_install_core(tmp_path):
  if not os.path.exists(os.path.join(CORE, "pyproject.toml")):
    pytest.fail("core/pyproject.toml is missing from %s" % CORE)
  # Build from a copy: pip writes build files next to the sources.
  source = tmp_path / "core"
  subprocess.run(["cp", "-rL", CORE, str(source)], check=True)
  target = tmp_path / "site"
  done = subprocess.run(
      [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
       "--no-build-isolation", "--target", str(target), str(source)],
      capture_output=True, text=True, check=False)
  assert done.returncode == 0, done.stderr
  check = subprocess.run(
      [sys.executable, "-c",
       "import tf1shim, tf1shim.layers; print(tf1shim.__file__)"],
      capture_output=True, text=True, check=False,
      env=dict(os.environ, PYTHONPATH=str(target), TF_CPP_MIN_LOG_LEVEL="3"))
  assert check.returncode == 0, check.stderr[-3000:]
  assert check.stdout.strip().startswith(str(target))
  # The `tf1shim-ckpt` entry point answers --help without TensorFlow.
  helped = subprocess.run(
      [sys.executable, "-c",
       "import sys, tf1shim_ckpt\n"
       "try:\n  tf1shim_ckpt.main(['--help'])\n"
       "except SystemExit:\n  pass\n"
       "print('imported tensorflow:', 'tensorflow' in sys.modules)"],
      capture_output=True, text=True, check=False, timeout=120,
      env=dict(os.environ, PYTHONPATH=str(target)))
  assert helped.returncode == 0, helped.stderr[-3000:]
  assert "usage:" in helped.stdout
  assert "imported tensorflow: False" in helped.stdout
  # Both launchers are console entry points of the installed package, and
  # the scripts pip made for them run.
  entry_points = configparser.ConfigParser()
  entry_points.read([str(path) for path in target.glob(
      "tf1shim-*.dist-info/entry_points.txt")])
  assert dict(entry_points["console_scripts"]) == {
      "tf1shim-ckpt": "tf1shim_ckpt:main",
      "tf1shim-migrate": "tf1shim_migrate:main"}
  for script in ("tf1shim-ckpt", "tf1shim-migrate"):
    ran = subprocess.run(
        [str(target / "bin" / script), "--help"], capture_output=True,
        text=True, check=False, timeout=120,
        env=dict(os.environ, PYTHONPATH=str(target)))
    assert ran.returncode == 0, ran.stderr[-3000:]
    assert ran.stdout.startswith("usage: "), ran.stdout[:300]
  # `tf1shim-migrate new` of the installed package makes a folder that
  # pytest runs with nothing but the installed tf1shim (more cases:
  # scaffold_test.py).
  (tmp_path / "their_model.py").write_text(THEIR_MODEL)
  made = subprocess.run(
      [str(target / "bin" / "tf1shim-migrate"), "new",
       str(tmp_path / "their_migration"), "--from",
       str(tmp_path / "their_model.py") + ":logits_of", "--input-shape", "4",
       "--num-classes", "2"], capture_output=True, text=True, check=False,
      timeout=600, env=dict(os.environ, PYTHONPATH=str(target)))
  assert made.returncode == 0, made.stderr[-3000:]
  env = dict(os.environ, PYTHONPATH=str(target), TF_CPP_MIN_LOG_LEVEL="3")
  env.pop("XML_OUTPUT_FILE", None)
  tested = subprocess.run(
      [sys.executable, "-m", "pytest", str(tmp_path / "their_migration"),
       "-q", "-p", "no:cacheprovider"], cwd=str(tmp_path),
      capture_output=True, text=True, check=False, timeout=900, env=env)
  assert tested.returncode == 0, tested.stdout[-3000:]
  assert "4 passed, 17 skipped" in tested.stdout, tested.stdout[-3000:]


if __name__ == "__main__":
  raise SystemExit(pytest_main(__file__))
