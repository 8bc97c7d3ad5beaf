"""Estimator model_dirs (checkpoints/model_dir.py) and the ckpt tool on them.

The model_dirs are written by TF1's `Saver` (`model.ckpt-N`, the
`checkpoint` state file, `max_to_keep`); the reference for "the latest" is
`tf.train.latest_checkpoint`.
"""

import os
import shutil

import numpy as np
import pytest
import tensorflow as tf

from tf1shim.checkpoints import cli
from tf1shim.checkpoints import model_dir
from testing.pytest_main import pytest_main

v1 = tf.compat.v1


def write_model_dir(folder, steps=(0, 5, 12), max_to_keep=5):
  """A model_dir as Estimator left it: Saver checkpoints at `steps`."""
  with tf.Graph().as_default():
    global_step = v1.train.get_or_create_global_step()
    v1.get_variable("dense/kernel", [3, 2])
    saver = v1.train.Saver(max_to_keep=max_to_keep)
    with v1.Session() as sess:
      sess.run(v1.global_variables_initializer())
      for step in steps:
        sess.run(global_step.assign(step))
        saver.save(sess, os.path.join(folder, "model.ckpt"),
                   global_step=global_step)
  return folder


def test_latest_is_tensorflows_latest_checkpoint(tmp_path):
  folder = write_model_dir(str(tmp_path))
  resolved = model_dir.resolve(folder)
  assert resolved.prefix == tf.train.latest_checkpoint(folder)
  assert resolved.prefix.endswith("model.ckpt-12")
  assert resolved.global_step == 12
  assert "model.ckpt-12" in resolved.describe() and "12" in resolved.describe()
  # A prefix is taken as it is, with its step.
  older = model_dir.resolve(os.path.join(folder, "model.ckpt-5"))
  assert older.global_step == 5 and older.model_dir is None


def test_a_moved_model_dir_still_resolves(tmp_path):
  # Saver writes absolute paths into the state file; a copied model_dir
  # finds its checkpoints beside the state file.
  folder = write_model_dir(str(tmp_path / "old"))
  moved = str(tmp_path / "new")
  shutil.copytree(folder, moved)
  shutil.rmtree(folder)
  assert model_dir.resolve(moved).prefix == os.path.join(moved,
                                                         "model.ckpt-12")


def test_empty_directory_says_so(tmp_path):
  with pytest.raises(model_dir.CheckpointError,
                     match="no `checkpoint` state file.*no checkpoint at all"):
    model_dir.resolve(str(tmp_path))


def test_directory_with_checkpoints_but_no_state_file_lists_them(tmp_path):
  folder = write_model_dir(str(tmp_path))
  os.remove(os.path.join(folder, "checkpoint"))
  with pytest.raises(model_dir.CheckpointError,
                     match="pass one of its checkpoint prefixes.*model.ckpt-5"):
    model_dir.resolve(folder)


def test_damaged_state_file(tmp_path):
  folder = write_model_dir(str(tmp_path))
  with open(os.path.join(folder, "checkpoint"), "w") as f:
    f.write('model_checkpoint_path: "model.ckpt-12"\nmodel_check\x00garbage\n')
  # TensorFlow gives None and a log line; the error says which line.
  assert tf.train.latest_checkpoint(folder) is None
  with pytest.raises(model_dir.CheckpointError, match="damaged.*line 2"):
    model_dir.resolve(folder)


def test_missing_prefix_files(tmp_path):
  folder = write_model_dir(str(tmp_path))
  os.remove(os.path.join(folder, "model.ckpt-12.index"))
  assert tf.train.latest_checkpoint(folder) is None
  with pytest.raises(model_dir.CheckpointError,
                     match="model.ckpt-12.index does not exist"):
    model_dir.resolve(folder)


def test_ckpt_cli_takes_a_model_dir(tmp_path, capsys):
  folder = write_model_dir(str(tmp_path))
  assert cli.main(["inspect", folder]) == 0
  captured = capsys.readouterr()
  assert "model.ckpt-12 (global_step 12)" in captured.err
  assert "dense/kernel" in captured.out and "global_step" in captured.out
  # diff of two model_dirs' latest checkpoints: the same file, no difference.
  assert cli.main(["diff", folder, os.path.join(folder, "model.ckpt-12")]) == 0


def test_ckpt_cli_maps_a_model_dir_onto_a_model(tmp_path, capsys,
                                               monkeypatch):
  folder = write_model_dir(str(tmp_path / "model_dir"))
  (tmp_path / "estimator_factory.py").write_text(
      "import keras\n"
      "def build():\n"
      "  model = keras.Sequential([keras.layers.Dense(2, use_bias=False)])\n"
      "  model.build((None, 3))\n"
      "  return model\n")
  monkeypatch.chdir(tmp_path)
  monkeypatch.syspath_prepend(str(tmp_path))
  assert cli.main(["map", folder, "--model", "estimator_factory:build",
                   "--auto"]) == 0
  assert "model.ckpt-12 (global_step 12)" in capsys.readouterr().err


def test_ckpt_cli_error_on_a_bad_model_dir_is_one_line(tmp_path, capsys):
  assert cli.main(["inspect", str(tmp_path)]) == 2
  err = capsys.readouterr().err
  assert err.startswith("error: ") and err.count("\n") == 1
  assert "state file" in err


def test_global_step_from_the_entry(tmp_path):
  folder = write_model_dir(str(tmp_path), steps=(7,))
  reader = tf.train.load_checkpoint(os.path.join(folder, "model.ckpt-7"))
  assert model_dir.resolve(folder).global_step == int(
      np.asarray(reader.get_tensor("global_step")))


if __name__ == "__main__":
  raise SystemExit(pytest_main(__file__))
