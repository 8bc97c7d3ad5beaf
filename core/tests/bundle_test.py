"""Reading TF1 checkpoints' files directly (`bundle`, `sstable`, `chunks`),
and `to_keras_weights` streaming through them.

Every checkpoint here is written in the test by `tf.compat.v1.train.Saver`
in a TF1 graph; TensorFlow's own reader (`tf.train.load_checkpoint`) is the
reference, bit for bit.
"""

import os
import shutil

import google_crc32c
import h5py
import keras
import numpy as np
import pytest
import tensorflow as tf

from tf1shim import checkpoints
from tf1shim.checkpoints import bundle
from tf1shim.checkpoints import chunks
from tf1shim.checkpoints import streaming
from testing.pytest_main import pytest_main

v1 = tf.compat.v1
RNG = np.random.RandomState(0)
# name -> initial value (the variable's dtype is the value's).
VALUES = {
    "f32": RNG.randn(33, 5).astype(np.float32),
    "scope/f64": RNG.randn(4, 3, 2),
    "f16": RNG.randn(7, 3).astype(np.float16),
    "i32": RNG.randint(-9, 9, size=(6,)).astype(np.int32),
    "i64": RNG.randint(-2**40, 2**40, size=(2, 3), dtype=np.int64),
    "flags": np.array([True, False, True, True]),
    "u8": RNG.randint(0, 255, size=(3, 3)).astype(np.uint8),
    "scalar": np.float64(-2.5),
    "empty": np.zeros((0, 4), np.float32),
}
PARTITIONED = "part"  # a float32 (10, 3) in 3 slices
STRING = "words"


def _variables():
  for name, value in VALUES.items():
    v1.get_variable(name, initializer=value)
  v1.get_variable(PARTITIONED, shape=[10, 3],
                  partitioner=v1.fixed_size_partitioner(3))
  v1.get_variable(STRING, initializer=tf.constant(["a", "longer text"]),
                  dtype=tf.string)


def write_checkpoint(directory, two_shards=False):
  """Saves `_variables()` with Saver; on two CPU devices if `two_shards`."""
  with tf.Graph().as_default():
    if two_shards:
      with tf.device("/cpu:0"):
        v1.get_variable("first", initializer=RNG.randn(5).astype(np.float32))
      with tf.device("/cpu:1"):
        _variables()
    else:
      _variables()
    saver = v1.train.Saver(sharded=two_shards)
    config = v1.ConfigProto(device_count={"CPU": 2})
    with v1.Session(config=config) as sess:
      sess.run(v1.global_variables_initializer())
      return saver.save(sess, os.path.join(directory, "model.ckpt"))


@pytest.fixture(scope="module")
def prefix(tmp_path_factory):
  return write_checkpoint(str(tmp_path_factory.mktemp("bundle")))


def read_all(reader, chunk_bytes):
  """The bytes of a `TensorReader`'s tensor and its checked CRC32C."""
  parts = []
  for chunk in chunks.plan(reader.shape, reader.dtype.itemsize,
                           chunk_bytes):
    buffer = np.empty(chunk.nbytes, np.uint8)
    array = reader.read_into(chunk, buffer)
    assert array.shape == chunk.shape and array.dtype == reader.dtype
    parts.append(array.tobytes())
  return b"".join(parts), reader.finish()


def test_crc32c_is_the_fast_c_extension():
  # Its pure-Python fallback would take minutes per GiB.
  assert google_crc32c.implementation == "c"


def test_index_lists_what_tensorflow_lists(prefix):
  reference = tf.train.load_checkpoint(prefix)
  shapes = reference.get_variable_to_shape_map()
  dtypes = reference.get_variable_to_dtype_map()
  with bundle.Bundle(prefix) as b:
    assert sorted(b.entries) == sorted(shapes)
    for name, entry in b.entries.items():
      assert entry.shape == tuple(shapes[name]), name
      assert entry.raw == (name not in (STRING, PARTITIONED)), name
      if entry.raw:
        assert entry.dtype == np.dtype(dtypes[name].as_numpy_dtype), name
    assert b.entries[PARTITIONED].sliced
    assert b.entries[STRING].dtype is None


@pytest.mark.parametrize("chunk_bytes", [1, 24, 1 << 20])
def test_raw_bytes_and_crc32c_are_tensorflows_bit_for_bit(prefix,
                                                          chunk_bytes):
  reference = tf.train.load_checkpoint(prefix)
  with bundle.Bundle(prefix) as b:
    raw = [name for name, entry in b.entries.items() if entry.raw]
    assert sorted(raw) == sorted(VALUES)
    for name in raw:
      expected = np.ascontiguousarray(reference.get_tensor(name)).tobytes()
      data, crc = read_all(b.reader(name), chunk_bytes)
      assert data == expected, name
      assert crc == b.entries[name].crc32c == google_crc32c.value(
          expected), name
      np.testing.assert_array_equal(
          np.frombuffer(data, b.entries[name].dtype).reshape(
              b.entries[name].shape), VALUES[name])


def test_two_shards(tmp_path):
  prefix = write_checkpoint(str(tmp_path), two_shards=True)
  reference = tf.train.load_checkpoint(prefix)
  with bundle.Bundle(prefix) as b:
    assert b.num_shards == 2
    assert {e.data_file[-len("data-00000-of-00002"):]
            for e in b.entries.values()} == {"data-00000-of-00002",
                                              "data-00001-of-00002"}
    for name, entry in b.entries.items():
      if entry.raw:
        assert read_all(b.reader(name), 64)[0] == np.ascontiguousarray(
            reference.get_tensor(name)).tobytes()


@pytest.mark.parametrize("shape,itemsize,max_bytes", [
    ((), 8, 1), ((0, 4), 4, 8), ((33, 5), 4, 64), ((33, 5), 4, 19),
    ((4, 3, 2), 8, 8), ((4, 3, 2), 8, 40), ((2, 3, 5, 7), 2, 30),
    ((8192, 4096), 4, 32 << 20)])
def test_chunks_tile_the_tensor_in_byte_order(shape, itemsize, max_bytes):
  values = np.arange(int(np.prod(shape)), dtype="u%d" % itemsize)
  values = values.reshape(shape)
  flat = values.tobytes()
  plan = chunks.plan(shape, itemsize, max_bytes)
  position = 0
  for chunk in plan:
    assert chunk.start == position
    assert chunk.nbytes <= max(max_bytes, itemsize)
    box = values[chunk.selection]
    assert box.shape == chunk.shape
    assert box.tobytes() == flat[chunk.start:chunk.start + chunk.nbytes]
    position += chunk.nbytes
  assert position == len(flat)


def copy_checkpoint(prefix, directory):
  os.makedirs(directory, exist_ok=True)
  for path in tf.io.gfile.glob(prefix + ".*"):
    shutil.copy(path, directory)
  return os.path.join(directory, os.path.basename(prefix))


def flip_byte(path, position):
  with open(path, "r+b") as f:
    f.seek(position)
    byte = f.read(1)
    f.seek(position)
    f.write(bytes([byte[0] ^ 0xFF]))


@pytest.mark.parametrize("where,message", [
    (10, "does not match its checksum"),   # in the first data block
    (-56, "does not match its checksum"),  # in the index block, last
    (-1, "no table magic number"),
])
def test_damaged_index_is_a_clear_error(prefix, tmp_path, where, message):
  damaged = copy_checkpoint(prefix, str(tmp_path / "index"))
  index = damaged + ".index"
  flip_byte(index, where % os.path.getsize(index))
  with pytest.raises(checkpoints.CheckpointError) as error:
    bundle.Bundle(damaged)
  assert message in str(error.value)
  assert index in str(error.value) and "corrupt or truncated" in str(
      error.value)


def test_truncated_index_is_a_clear_error(prefix, tmp_path):
  damaged = copy_checkpoint(prefix, str(tmp_path / "cut_index"))
  with open(damaged + ".index", "r+b") as f:
    f.truncate(os.path.getsize(damaged + ".index") - 20)
  with pytest.raises(bundle.BundleError, match="no table magic number"):
    bundle.Bundle(damaged)


def test_truncated_data_file_is_a_clear_error(prefix, tmp_path):
  damaged = copy_checkpoint(prefix, str(tmp_path / "cut"))
  data = damaged + ".data-00000-of-00001"
  with bundle.Bundle(damaged) as b:
    last = max((e for e in b.entries.values() if e.raw and e.size),
               key=lambda e: e.offset)
    with open(data, "r+b") as f:
      f.truncate(last.offset + last.size - 1)
    with pytest.raises(bundle.BundleError) as error:
      b.reader(last.name)
  message = str(error.value)
  assert "truncated" in message and data in message
  assert repr(last.name) in message and "corrupt or truncated" in message


def test_wrong_crc_in_data_is_a_clear_error_as_in_tensorflow(prefix,
                                                             tmp_path):
  damaged = copy_checkpoint(prefix, str(tmp_path / "flipped"))
  with bundle.Bundle(damaged) as b:
    entry = b.entries["f32"]
    flip_byte(entry.data_file, entry.offset + 17)
    reader = b.reader("f32")
    with pytest.raises(bundle.BundleError,
                       match=r"'f32' .* do not match their checksum"):
      read_all(reader, 64)
  with pytest.raises(tf.errors.OpError, match="Checksum does not match"):
    tf.train.load_checkpoint(damaged).get_tensor("f32")


def test_missing_data_file_is_a_clear_error(prefix, tmp_path):
  damaged = copy_checkpoint(prefix, str(tmp_path / "missing"))
  with bundle.Bundle(damaged) as b:
    os.remove(b.entries["f32"].data_file)
    with pytest.raises(bundle.BundleError, match="data file .* is missing"):
      b.reader("f32")


class AllDtypes(keras.layers.Layer):
  """One weight per variable of `write_checkpoint`, named like it."""

  def build(self, unused_input_shape):
    for name, value in VALUES.items():
      self.add_weight(shape=value.shape, dtype=value.dtype.name,
                      name=name.replace("/", "_"), initializer="zeros",
                      trainable=value.dtype.kind == "f")
    self.add_weight(shape=(10, 3), name=PARTITIONED, initializer="zeros")

  def call(self, x):
    return x


def built_model():
  model = keras.Sequential([keras.Input((2,)), AllDtypes(name="all")])
  return model


def to_checkpoint_name(model_name):
  leaf = model_name.split("/")[-1]
  return "scope/f64" if leaf == "scope_f64" else leaf


def convert(prefix, path):
  return checkpoints.to_keras_weights(prefix, built_model(), path,
                                      mapping=to_checkpoint_name,
                                      ignore=["^%s$" % STRING])


def assert_loads_the_checkpoint(prefix, path):
  model = built_model()
  model.load_weights(path)
  reference = tf.train.load_checkpoint(prefix)
  for weight in model.weights:
    expected = reference.get_tensor(to_checkpoint_name(weight.path))
    value = keras.ops.convert_to_numpy(weight)
    assert value.dtype == expected.dtype and value.shape == expected.shape
    assert value.tobytes() == expected.tobytes(), weight.path


def h5_datasets(path):
  """{path in the file: value} of every dataset of an h5 file."""
  found = {}

  def visit(name, item):
    if isinstance(item, h5py.Dataset):
      found[name] = item[()]

  with h5py.File(path, "r") as f:
    f.visititems(visit)
  return found


@pytest.mark.parametrize("chunk_bytes", [None, 40])
def test_to_keras_weights_streams_raw_tensors_and_falls_back_for_others(
    prefix, tmp_path, monkeypatch, chunk_bytes):
  if chunk_bytes:
    monkeypatch.setattr(chunks, "DEFAULT_BYTES", chunk_bytes)
  streamed, in_memory = [], []
  original_reader = bundle.Bundle.reader
  original_source = streaming.ArraySource.__init__

  def reader(self, name):
    streamed.append(name)
    return original_reader(self, name)

  def array_source(self, value):
    in_memory.append(value.shape)
    original_source(self, value)

  monkeypatch.setattr(bundle.Bundle, "reader", reader)
  monkeypatch.setattr(streaming.ArraySource, "__init__", array_source)
  path = str(tmp_path / "model.weights.h5")
  report = convert(prefix, path)
  assert report.ignored == [STRING] and not report.unused
  assert sorted(streamed) == sorted(VALUES)
  assert in_memory == [(10, 3)]  # the partitioned variable, by TensorFlow
  assert_loads_the_checkpoint(prefix, path)
  # The same file, value for value, as restoring the model from the
  # checkpoint and saving it with Keras.
  model = built_model()
  checkpoints.restore_checkpoint(prefix, model, mapping=to_checkpoint_name,
                                 ignore=["^%s$" % STRING])
  model.save_weights(str(tmp_path / "keras.weights.h5"))
  ours, keras_own = (h5_datasets(p) for p in (
      path, str(tmp_path / "keras.weights.h5")))
  assert sorted(ours) == sorted(keras_own)
  for name, value in keras_own.items():
    assert ours[name].dtype == value.dtype and ours[name].shape == value.shape
    assert ours[name].tobytes() == value.tobytes(), name


def test_to_keras_weights_without_the_bundle_reader_is_the_same(
    prefix, tmp_path, monkeypatch):

  def unsupported(self, unused_prefix):
    raise bundle.UnsupportedBundle("pretend: compressed")

  monkeypatch.setattr(bundle.Bundle, "__init__", unsupported)
  path = str(tmp_path / "model.weights.h5")
  convert(prefix, path)
  assert_loads_the_checkpoint(prefix, path)


def test_tensor_reader_as_a_source_maps_chunks_and_verifies_on_demand(
    prefix, tmp_path):
  """As a `streaming` source a reader does not checksum what it hands out:
  the index's CRC32C is what the copy must have, and `verify` checksums
  the data file itself."""
  reference = tf.train.load_checkpoint(prefix)
  expected = np.ascontiguousarray(reference.get_tensor("f32")).tobytes()
  damaged = copy_checkpoint(prefix, str(tmp_path / "source"))
  with bundle.Bundle(damaged) as b:
    reader = b.reader("f32")
    plan = chunks.plan(reader.shape, reader.dtype.itemsize, 64)
    assert b"".join(reader.chunk(c).tobytes() for c in plan) == expected
    assert reader.expected_crc32c() == google_crc32c.value(expected)
    reader.verify()  # intact
    flip_byte(b.entries["f32"].data_file, b.entries["f32"].offset + 100)
    # Handed out as it is: the copy's checksum finds the damage.
    copy = b"".join(reader.chunk(c).tobytes() for c in plan)
    assert copy != expected and len(copy) == len(expected)
    assert google_crc32c.value(copy) != reader.expected_crc32c()
    with pytest.raises(bundle.BundleError,
                       match=r"'f32' .* do not match their checksum"):
      reader.verify()


@pytest.mark.parametrize("chunk_bytes", [None, 40])
def test_damaged_data_fails_conversion_and_leaves_nothing(
    prefix, tmp_path, monkeypatch, chunk_bytes):
  if chunk_bytes:  # the damage in the middle of a many-chunk tensor
    monkeypatch.setattr(chunks, "DEFAULT_BYTES", chunk_bytes)
  damaged = copy_checkpoint(prefix, str(tmp_path / "flipped"))
  with bundle.Bundle(damaged) as b:
    entry = b.entries["i64"]
  flip_byte(entry.data_file, entry.offset + 3)
  out = tmp_path / "out"
  out.mkdir()
  with pytest.raises(checkpoints.CheckpointError,
                     match=r"'i64' .* do not match their checksum"):
    convert(damaged, str(out / "model.weights.h5"))
  assert list(out.iterdir()) == []


def _write_f32_wrong(monkeypatch):
  """HDF5 is handed f32's values with their first element changed."""
  original = h5py.Dataset.write_direct

  def write_wrong_f32(self, array, *args, **kwargs):
    if array.dtype == np.float32 and array.shape == VALUES["f32"].shape:
      array = array.copy()
      array.reshape(-1)[0] += 1
    return original(self, array, *args, **kwargs)

  monkeypatch.setattr(h5py.Dataset, "write_direct", write_wrong_f32)


def test_a_write_that_does_not_read_back_fails_and_leaves_nothing(
    prefix, tmp_path, monkeypatch):
  _write_f32_wrong(monkeypatch)
  out = tmp_path / "out"
  out.mkdir()
  with pytest.raises(checkpoints.ConversionError,
                     match=r"Verification .* failed: .* differs from f32"):
    convert(prefix, str(out / "model.weights.h5"))
  assert list(out.iterdir()) == []


def test_a_byte_flipped_in_the_written_file_is_found(prefix, tmp_path,
                                                    monkeypatch):
  """The check reads the file, not what was handed to HDF5: a byte changed
  in the file between the write and the check fails the conversion."""
  original = streaming.VerifiedWriter._check  # pylint: disable=protected-access
  flipped = []

  def flip_then_check(self, dataset, shape, dtype, expected, verify, label):
    if label == "f32":
      dataset.file.flush()
      flip_byte(dataset.file.filename, dataset.id.get_offset() + 101)
      flipped.append(dataset.name)
    return original(self, dataset, shape, dtype, expected, verify, label)

  monkeypatch.setattr(streaming.VerifiedWriter, "_check", flip_then_check)
  out = tmp_path / "out"
  out.mkdir()
  with pytest.raises(checkpoints.ConversionError,
                     match=r"Verification .* failed: .* differs from f32 "
                     r"\(CRC32C [0-9a-f]{8}, expected [0-9a-f]{8}\)"):
    convert(prefix, str(out / "model.weights.h5"))
  assert len(flipped) == 1
  assert list(out.iterdir()) == []


def test_a_damaged_checkpoint_is_the_error_even_when_the_write_fails_too(
    prefix, tmp_path, monkeypatch):
  """A mismatch is blamed on the write only once the source's own bytes
  check out: bad input first."""
  damaged = copy_checkpoint(prefix, str(tmp_path / "flipped"))
  with bundle.Bundle(damaged) as b:
    entry = b.entries["f32"]
  flip_byte(entry.data_file, entry.offset + 5)
  _write_f32_wrong(monkeypatch)
  out = tmp_path / "out"
  out.mkdir()
  with pytest.raises(checkpoints.CheckpointError,
                     match=r"'f32' .* do not match their checksum"):
    convert(damaged, str(out / "model.weights.h5"))
  assert list(out.iterdir()) == []


if __name__ == "__main__":
  raise SystemExit(pytest_main(__file__))
