"""The examples' input pipeline: a TFDS dataset -> batches of (image, label).

    batches = pipeline.load("train", batch_size=32)        # offline digits
    batches = pipeline.load("train", dataset="mnist")      # needs a network

Images come out as float32 in [0, 1] with shape (height, width, 1), labels as
int32. `sklearn_digits` (8x8) is written locally from scikit-learn the first
time it is needed (`digits.py`); `mnist` (28x28) is TFDS's own and is
downloaded by TFDS, so it works only where a network is available. The
models of the examples take either: they read the image size from the data.
"""

import os

import numpy as np
import tensorflow as tf
import tensorflow_datasets as tfds

from examples.data import digits

DATASETS = ("sklearn_digits", "mnist")


def default_data_dir():
  """Where the datasets live: $TFDS_DATA_DIR, Bazel's test temp folder, or a
  cache folder in the user's home."""
  for variable in ("TFDS_DATA_DIR", "TEST_TMPDIR"):
    if os.environ.get(variable):
      return os.path.join(os.environ[variable], "tensorflow_datasets")
  return os.path.join(os.path.expanduser("~"), ".cache", "tf1shim",
                      "tensorflow_datasets")


def load(split, batch_size=32, dataset="sklearn_digits", data_dir=None,
         shuffle_seed=None, repeat=False, transform=None):
  """A `tf.data.Dataset` of (images, labels) batches.

  Args:
    split: "train" or "test" (any TFDS split spelling, e.g. "train[:50%]").
    batch_size: examples per batch; the last, smaller batch is kept.
    dataset: "sklearn_digits" (offline) or "mnist" (downloaded by TFDS).
    data_dir: TFDS data folder (default: `default_data_dir()`).
    shuffle_seed: shuffle the examples with this seed (None: file order, the
      same every time, which the equivalence tests rely on).
    repeat: repeat forever (for `model.fit(steps_per_epoch=...)`).
    transform: optional `(image, label) -> (image, label)` of TF ops, mapped
      over the examples after the float conversion, before shuffling and
      batching (an example's own data, e.g. rnn's shortened sequences).
  """
  if dataset not in DATASETS:
    raise ValueError("Unknown dataset %r: the examples read %s." %
                     (dataset, " or ".join(DATASETS)))
  data_dir = data_dir or default_data_dir()
  tfds.disable_progress_bar()
  if dataset == "sklearn_digits":
    builder = digits.prepare(data_dir)
    data = builder.as_dataset(split=split, as_supervised=True,
                              shuffle_files=False)
  else:
    data = tfds.load(dataset, split=split, data_dir=data_dir,
                     as_supervised=True, shuffle_files=False)
  data = data.map(_to_float)
  if transform is not None:
    data = data.map(transform)
  if shuffle_seed is not None:
    data = data.shuffle(4096, seed=shuffle_seed,
                        reshuffle_each_iteration=True)
  if repeat:
    data = data.repeat()
  return data.batch(batch_size).prefetch(tf.data.AUTOTUNE)


def _to_float(image, label):
  return tf.cast(image, tf.float32) / 255.0, tf.cast(label, tf.int32)


def numpy_batches(split, count, batch_size=32, **kwargs):
  """The first `count` batches of `load(split, ...)` as numpy arrays (the
  data of the equivalence tests: the same batches for every stage)."""
  batches = [(np.asarray(x), np.asarray(y)) for x, y in
             load(split, batch_size, repeat=True, **kwargs).take(count)]
  return batches
