"""The digits dataset is written offline in TFDS format and read back intact."""

import numpy as np
import pytest
import tensorflow_datasets as tfds
from sklearn import datasets

from examples.data import digits
from examples.data import pipeline
from testing.pytest_main import pytest_main


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
  return str(tmp_path_factory.mktemp("tfds"))


def test_splits_hold_every_digit_of_scikit_learn_in_order(data_dir):
  reference = datasets.load_digits()
  images = np.concatenate([x for x, _ in pipeline.load(
      "train", 500, data_dir=data_dir)] + [x for x, _ in pipeline.load(
          "test", 500, data_dir=data_dir)])
  labels = np.concatenate([y for _, y in pipeline.load(
      "train", 500, data_dir=data_dir)] + [y for _, y in pipeline.load(
          "test", 500, data_dir=data_dir)])
  assert images.shape == (1797, 8, 8, 1) and images.dtype == np.float32
  assert labels.dtype == np.int32
  # TFDS stores examples in its own (deterministic) order: compare as sets
  # of (image, label) rows, each split against its own range.
  def rows(x, y):
    return sorted(zip(map(bytes, np.round(x.reshape(len(x), -1) * 16)
                          .astype(np.uint8)), y.tolist()))
  n = digits.TRAIN_SIZE
  expected = reference.images.reshape(1797, -1).astype(np.uint8)
  assert rows(images[:n], labels[:n]) == sorted(
      zip(map(bytes, expected[:n]), reference.target[:n].tolist()))
  assert rows(images[n:], labels[n:]) == sorted(
      zip(map(bytes, expected[n:]), reference.target[n:].tolist()))
  assert 0.0 == images.min() and images.max() == 1.0


def test_read_back_through_tfds_load_by_name(data_dir):
  pipeline.load("test", data_dir=data_dir)  # prepares if needed
  test = tfds.load("sklearn_digits", split="test", data_dir=data_dir)
  assert len(list(test)) == 1797 - digits.TRAIN_SIZE


def test_the_same_batches_every_time(data_dir):
  first = pipeline.numpy_batches("train", 3, data_dir=data_dir)
  again = pipeline.numpy_batches("train", 3, data_dir=data_dir)
  for (x1, y1), (x2, y2) in zip(first, again):
    np.testing.assert_array_equal(x1, x2)
    np.testing.assert_array_equal(y1, y2)
  assert [x.shape for x, _ in first] == [(32, 8, 8, 1)] * 3


def test_unknown_dataset_is_a_clear_error(data_dir):
  with pytest.raises(ValueError, match="sklearn_digits or mnist"):
    pipeline.load("train", dataset="emnist", data_dir=data_dir)


if __name__ == "__main__":
  raise SystemExit(pytest_main(__file__))
