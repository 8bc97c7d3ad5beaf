"""The handwritten digits scikit-learn ships, as a TensorFlow Datasets dataset.

`sklearn.datasets.load_digits()` is a real data set (1,797 scans of
handwritten digits, 8x8 pixels, 16 gray levels, 10 classes) that is inside
the scikit-learn package, so it needs no download. This builder writes it in
TFDS format once; afterwards `tfds.load("sklearn_digits", data_dir=...)` reads
it like any TFDS dataset.

Splits: the first 1,437 digits are `train`, the last 360 `test` (the order of
`load_digits`, which groups the scans by writer, so the test digits come from
writers the model has not seen). Pixels are scaled from 0..16 to 0..255 so
that the images have the value range of MNIST's.
"""

import numpy as np
import tensorflow_datasets as tfds

TRAIN_SIZE = 1437
IMAGE_SHAPE = (8, 8, 1)
NUM_CLASSES = 10


class SklearnDigits(tfds.core.GeneratorBasedBuilder):
  """`sklearn.datasets.load_digits()` as TFDS `sklearn_digits`."""

  VERSION = tfds.core.Version("1.0.0")
  RELEASE_NOTES = {"1.0.0": "The 1,797 digits of scikit-learn, 1437/360."}

  def _info(self):
    return tfds.core.DatasetInfo(
        builder=self,
        description=__doc__.split("\n\n")[1],
        homepage="https://scikit-learn.org/stable/datasets/toy_dataset.html",
        features=tfds.features.FeaturesDict({
            "image": tfds.features.Image(shape=IMAGE_SHAPE),
            "label": tfds.features.ClassLabel(num_classes=NUM_CLASSES),
        }),
        supervised_keys=("image", "label"),
    )

  def _split_generators(self, dl_manager):
    del dl_manager  # Nothing to download: the data is in scikit-learn.
    from sklearn import datasets  # pylint: disable=g-import-not-at-top
    digits = datasets.load_digits()
    return {
        "train": self._generate_examples(digits, 0, TRAIN_SIZE),
        "test": self._generate_examples(digits, TRAIN_SIZE,
                                        len(digits.target)),
    }

  def _generate_examples(self, digits, start, stop):
    for index in range(start, stop):
      pixels = np.round(digits.images[index] * (255.0 / 16.0))
      yield index, {"image": pixels.astype(np.uint8)[..., np.newaxis],
                    "label": int(digits.target[index])}


def prepare(data_dir):
  """Writes `sklearn_digits` under `data_dir` unless it is there already."""
  builder = SklearnDigits(data_dir=data_dir)
  builder.download_and_prepare(
      download_config=tfds.download.DownloadConfig(try_download_gcs=False))
  return builder
