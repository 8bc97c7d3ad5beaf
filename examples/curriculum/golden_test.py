"""Golden checkpoints: checked against their manifests, never overwritten
silently; regeneration writes a checkpoint the TF1 graph restores."""

import json
import os
import shutil

import numpy as np
import pytest
import tensorflow as tf

from examples.curriculum import example as example_lib
from examples.curriculum import golden
from testing.pytest_main import pytest_main


@pytest.mark.parametrize("name", example_lib.EXAMPLES)
def test_committed_goldens_match_their_manifests(name):
  example = example_lib.load(name)
  manifest = golden.verify(example)
  assert manifest["example"] == name
  # The command that wrote it is the one the errors name: `tools/dev
  # golden NAME --force`, or the example's own (the estimator's model_dir).
  assert manifest["regenerate"] in example.golden.regenerate


def _copy_example(tmp_path, name):
  """The example with its golden folder copied under tmp_path."""
  example = example_lib.load(name)
  copy = tmp_path / "golden"
  shutil.copytree(golden.folder(example), copy)
  return example, str(copy)


def test_a_changed_golden_is_refused_with_the_regenerate_command(
    tmp_path, monkeypatch):
  example, copy = _copy_example(tmp_path, "dense")
  monkeypatch.setattr(golden, "folder", lambda _: copy)
  data = os.path.join(copy, golden.FILES[1])
  with open(data, "r+b") as f:
    f.seek(10)
    byte = f.read(1)
    f.seek(10)
    f.write(bytes([byte[0] ^ 1]))
  with pytest.raises(golden.GoldenError,
                     match="tools/dev golden dense --force"):
    golden.prefix(example)
  os.remove(data)
  with pytest.raises(golden.GoldenError, match="is missing"):
    golden.verify(example)


def test_regenerate_refuses_to_overwrite_without_force(tmp_path):
  example, copy = _copy_example(tmp_path, "dense")
  before = open(os.path.join(copy, golden.MANIFEST)).read()
  with pytest.raises(golden.GoldenError, match="--force"):
    golden.regenerate(example, out_folder=copy,
                      data_dir=str(tmp_path / "tfds"))
  assert open(os.path.join(copy, golden.MANIFEST)).read() == before


def test_regenerated_checkpoint_is_what_the_tf1_graph_restores(
    tmp_path, monkeypatch):
  example = example_lib.load("batchnorm")
  out = str(tmp_path / "golden")
  manifest = golden.regenerate(example, out_folder=out,
                               data_dir=str(tmp_path / "tfds"))
  assert sorted(os.listdir(out)) == sorted(golden.FILES + (golden.MANIFEST,))
  with open(os.path.join(out, golden.MANIFEST)) as f:
    assert json.load(f) == manifest
  monkeypatch.setattr(golden, "folder", lambda _: out)
  reader = tf.train.load_checkpoint(golden.prefix(example))
  # Trained by the TF1 graph: the global step counted the steps and the
  # batch-norm statistics moved away from their initial 0 and 1.
  assert reader.get_tensor("global_step") == golden.STEPS
  mean = reader.get_tensor("bn_cnn/batch_normalization/moving_mean")
  variance = reader.get_tensor("bn_cnn/batch_normalization/moving_variance")
  assert np.abs(mean).min() > 0 and np.abs(variance - 1).min() > 0


if __name__ == "__main__":
  raise SystemExit(pytest_main(__file__))
