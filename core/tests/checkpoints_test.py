"""Reading, mapping and restoring real TF1 checkpoints.

Every checkpoint here is written in the test by `tf.compat.v1.train.Saver`
in a TF1 graph, after a few training steps so that batch-norm moving
statistics are not their initial values; the graph's own outputs are the
reference.
"""

import os

import keras
import numpy as np
import pytest
import tensorflow as tf

from tf1shim import checkpoints
from tf1shim import layers
from testing import tf1_checkpoints
from testing.pytest_main import pytest_main
from testing.shim_models import ShimLayer

v1 = tf.compat.v1
X, Y = tf1_checkpoints.X, tf1_checkpoints.Y
tf1_model = tf1_checkpoints.tf1_model
write_tf1_checkpoint = tf1_checkpoints.write_tf1_checkpoint


@pytest.fixture(scope="module")
def tf1_checkpoint(tmp_path_factory):
  return write_tf1_checkpoint(str(tmp_path_factory.mktemp("tf1")))


def test_reader_lists_entries_and_reads_one_tensor(tf1_checkpoint):
  prefix, _ = tf1_checkpoint
  reader = checkpoints.CheckpointReader(prefix)
  assert "model/batch_normalization/moving_mean" in reader
  assert reader.entries["model/head/projection/w"].shape == (36, 5)
  assert reader.entries["global_step"].dtype == np.int64
  moving_mean = reader.read("model/batch_normalization/moving_mean")
  assert np.any(moving_mean != 0)  # trained statistics, not the init


def test_restore_into_the_shim_stage_by_tf1_name(tf1_checkpoint):
  prefix, expected = tf1_checkpoint
  shim = ShimLayer(tf1_model)
  shim(X[:1])
  report = checkpoints.restore_checkpoint(prefix, shim)
  assert len(report.assigned) == 8 and not report.missing
  assert report.unused == ["global_step"]
  np.testing.assert_allclose(shim(X, training=False), expected, rtol=1e-5,
                             atol=1e-5)


NativeModel = tf1_checkpoints.NativeModel
RULES = tf1_checkpoints.NATIVE_RULES
built_native_model = tf1_checkpoints.built_native_model


def test_restore_into_a_native_model_by_rules(tf1_checkpoint):
  prefix, expected = tf1_checkpoint
  model = built_native_model()
  report = checkpoints.restore_checkpoint(
      prefix, model, mapping=checkpoints.parse_rules(RULES))
  assert report.missing == [] and report.mismatched == []
  np.testing.assert_allclose(model(X, training=False), expected, rtol=1e-5,
                             atol=1e-5)


def test_restore_into_a_native_model_by_the_automatic_matcher(
    tf1_checkpoint):
  prefix, expected = tf1_checkpoint
  model = built_native_model()
  report = checkpoints.restore_checkpoint(prefix, model, mapping="auto")
  assert sorted(report.assigned.values()) == sorted(
      n for n in checkpoints.CheckpointReader(prefix).entries
      if n != "global_step")
  np.testing.assert_allclose(model(X, training=False), expected, rtol=1e-5,
                             atol=1e-5)


def test_automatic_matcher_refuses_ambiguity_listing_candidates(tmp_path):

  def two_heads(x, training=None):
    del training
    flat = layers.flatten(x)
    return layers.dense(flat, 5, name="left") + layers.dense(
        flat, 5, name="right")

  prefix, _ = write_tf1_checkpoint(str(tmp_path), two_heads, steps=1)

  class TwoDense(keras.layers.Layer):

    def __init__(self, **kwargs):
      super().__init__(**kwargs)
      self.a, self.b = keras.layers.Dense(5), keras.layers.Dense(5)

    def call(self, x):
      flat = keras.layers.Flatten()(x)
      return self.a(flat) + self.b(flat)

  model = TwoDense()
  model(X[:1])
  with pytest.raises(checkpoints.MappingError,
                     match=r"could be any of: left/kernel, right/kernel"):
    checkpoints.restore_checkpoint(prefix, model, mapping="auto")


def test_strict_restore_fails_on_anything_unmatched_and_assigns_nothing(
    tf1_checkpoint):
  prefix, _ = tf1_checkpoint
  shim = ShimLayer(tf1_model)
  shim(X[:1])
  before = [w.numpy().copy() for w in shim.weights]
  with pytest.raises(checkpoints.RestoreError,
                     match="unused checkpoint entry: global_step"):
    checkpoints.restore_checkpoint(prefix, shim, strict=True)
  for w, old in zip(shim.weights, before):
    np.testing.assert_array_equal(w.numpy(), old)


def test_shape_mismatch_is_reported_with_both_shapes(tf1_checkpoint):
  prefix, _ = tf1_checkpoint
  model = built_native_model()
  rules = checkpoints.parse_rules(
      r"/dense(_\d+)?/kernel$ -> WRONG" + "\n" + RULES)
  mapping = checkpoints.map_by_rules([w.path for w in model.weights], rules)
  mapping = {k: ("model/conv2d/kernel" if v.endswith("WRONG") else v)
             for k, v in mapping.items()}
  report = checkpoints.restore_checkpoint(prefix, model, mapping=mapping,
                                          dry_run=True)
  assert [m[2] for m in report.mismatched] == [
      "shape (36, 5), checkpoint (3, 3, 3, 4)"]
  assert report.missing == []


def test_rules_format_errors_name_the_line():
  with pytest.raises(checkpoints.MappingError, match=r"rules:3: expected"):
    checkpoints.parse_rules("# ok\na -> b\nno arrow here\n", source="rules")
  with pytest.raises(checkpoints.MappingError, match=r"rules:1: invalid"):
    checkpoints.parse_rules("(unclosed -> x", source="rules")


def test_clear_errors_for_bad_paths_and_files(tf1_checkpoint, tmp_path):
  prefix, _ = tf1_checkpoint
  directory = os.path.dirname(prefix)
  with pytest.raises(checkpoints.CheckpointError,
                     match="is a directory, but a checkpoint prefix"):
    checkpoints.CheckpointReader(directory)
  with pytest.raises(checkpoints.CheckpointError,
                     match="pass its prefix instead"):
    checkpoints.CheckpointReader(prefix + ".index")
  with pytest.raises(checkpoints.CheckpointError,
                     match="index file .* does not exist"):
    checkpoints.CheckpointReader(str(tmp_path / "nothing"))


def copy_checkpoint(prefix, directory):
  import shutil  # pylint: disable=g-import-not-at-top
  os.makedirs(directory, exist_ok=True)
  for path in tf.io.gfile.glob(prefix + ".*"):
    shutil.copy(path, directory)
  return os.path.join(directory, os.path.basename(prefix))


def test_truncated_data_file_is_a_clear_error(tf1_checkpoint, tmp_path):
  prefix = copy_checkpoint(tf1_checkpoint[0], str(tmp_path / "cut"))
  data = tf.io.gfile.glob(prefix + ".data-*")[0]
  with open(data, "r+b") as f:
    f.truncate(os.path.getsize(data) // 2)
  reader = checkpoints.CheckpointReader(prefix)
  with pytest.raises(checkpoints.CheckpointError,
                     match="corrupt or truncated"):
    for name in reader.entries:
      reader.read(name)


def test_flipped_index_bytes_are_a_clear_error(tf1_checkpoint, tmp_path):
  prefix = copy_checkpoint(tf1_checkpoint[0], str(tmp_path / "flip"))
  index = prefix + ".index"
  with open(index, "r+b") as f:
    content = bytearray(f.read())
    for i in range(8, len(content) - 8, 7):
      content[i] ^= 0xFF
    f.seek(0)
    f.write(content)
  with pytest.raises(checkpoints.CheckpointError, match="corrupt"):
    reader = checkpoints.CheckpointReader(prefix)
    for name in reader.entries:
      reader.read(name)


def test_missing_data_shard_is_a_clear_error(tf1_checkpoint, tmp_path):
  prefix = copy_checkpoint(tf1_checkpoint[0], str(tmp_path / "noshard"))
  for data in tf.io.gfile.glob(prefix + ".data-*"):
    os.remove(data)
  with pytest.raises(checkpoints.CheckpointError, match="no data file"):
    checkpoints.CheckpointReader(prefix)


def test_round_trip_tf1_to_keras_weights_to_tf1_is_bitwise(
    tf1_checkpoint, tmp_path):
  prefix, expected = tf1_checkpoint
  model = built_native_model()
  rules = checkpoints.parse_rules(RULES)
  out = str(tmp_path / "native.weights.h5")
  checkpoints.to_keras_weights(prefix, model, out, mapping=rules)
  assert sorted(os.listdir(tmp_path)) == ["native.weights.h5"]  # no temp
  fresh = built_native_model()
  fresh.load_weights(out)
  np.testing.assert_allclose(fresh(X, training=False), expected, rtol=1e-5,
                             atol=1e-5)
  # ...and back to TF1 names, for pipelines that still read them.
  mapping = checkpoints.map_by_rules([w.path for w in fresh.weights], rules)
  back = str(tmp_path / "back" / "model.ckpt")
  os.makedirs(os.path.dirname(back))
  checkpoints.to_tf1_checkpoint(fresh, back, names=mapping.get)
  source, result = (checkpoints.CheckpointReader(p) for p in (prefix, back))
  assert sorted(result.entries) == sorted(
      n for n in source.entries if n != "global_step")
  for name in result.entries:
    np.testing.assert_array_equal(result.read(name), source.read(name))


def test_round_trip_tf1_to_tf2_object_checkpoint_to_tf1_is_bitwise(
    tf1_checkpoint, tmp_path):
  prefix, expected = tf1_checkpoint
  shim = ShimLayer(tf1_model)
  shim(X[:1])
  out = str(tmp_path / "tf2" / "ckpt")
  os.makedirs(os.path.dirname(out))
  report = checkpoints.to_tf2_checkpoint(prefix, shim, out)
  assert report.ignored == ["global_step"] and not report.unused
  other = ShimLayer(tf1_model)
  other(X[:1])
  tf.train.Checkpoint(model=other).read(out).assert_consumed()
  np.testing.assert_allclose(other(X, training=False), expected, rtol=1e-5,
                             atol=1e-5)
  back = str(tmp_path / "back" / "model.ckpt")
  os.makedirs(os.path.dirname(back))
  checkpoints.to_tf1_checkpoint(other, back)
  source = checkpoints.CheckpointReader(prefix)
  result = checkpoints.CheckpointReader(back)
  assert sorted(result.entries) == sorted(
      n for n in source.entries if n != "global_step")
  for name in result.entries:
    np.testing.assert_array_equal(result.read(name), source.read(name))


def test_strict_conversion_leaves_nothing_behind(tf1_checkpoint, tmp_path):
  prefix, _ = tf1_checkpoint
  model = built_native_model()  # no rules: names do not match
  out = tmp_path / "out"
  out.mkdir()
  with pytest.raises(checkpoints.RestoreError, match="missing"):
    checkpoints.to_keras_weights(prefix, model, str(out / "m.weights.h5"))
  assert list(out.iterdir()) == []


def test_conversion_refuses_to_overwrite_its_input(tf1_checkpoint):
  prefix, _ = tf1_checkpoint
  with pytest.raises(checkpoints.OutputError, match="it is the input"):
    checkpoints.to_tf2_checkpoint(prefix, ShimLayer(tf1_model), prefix)
  with pytest.raises(checkpoints.OutputError, match="it is the input"):
    checkpoints.to_tf2_checkpoint(prefix, ShimLayer(tf1_model), prefix,
                                  force=True)


def test_to_tf1_checkpoint_refuses_two_variables_with_one_name(tmp_path):
  model = built_native_model()
  with pytest.raises(checkpoints.MappingError,
                     match=r"same TF1 name.*model/head <- "):
    checkpoints.to_tf1_checkpoint(
        model, str(tmp_path / "model.ckpt"),
        names=lambda name: "model/head" if "dense" in name else name)
  assert list(tmp_path.iterdir()) == []


def test_existing_outputs_are_kept_unless_force(tf1_checkpoint, tmp_path):
  prefix, _ = tf1_checkpoint
  out = str(tmp_path / "m.weights.h5")
  rules = checkpoints.parse_rules(RULES)
  checkpoints.to_keras_weights(prefix, built_native_model(), out,
                               mapping=rules)
  with open(out, "rb") as f:
    written = f.read()
  with pytest.raises(checkpoints.OutputError, match=r"exists .*; pass --force"):
    checkpoints.to_keras_weights(prefix, built_native_model(), out,
                                 mapping=rules)
  with open(out, "rb") as f:
    assert f.read() == written
  checkpoints.to_keras_weights(prefix, built_native_model(), out,
                               mapping=rules, force=True)
  assert os.listdir(tmp_path) == ["m.weights.h5"]


if __name__ == "__main__":
  raise SystemExit(pytest_main(__file__))
