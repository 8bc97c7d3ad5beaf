"""The estimator example's data: the digits as an Estimator `input_fn` gave
them, a dict of features and the labels.

`features` are `{"pixels": [batch, 8, 8, 1], "ink": [batch, 1]}` (the
mean ink of each digit, a second feature as TF1 input functions made them
in `Dataset.map`), the labels the digits' classes (int32).
"""

import numpy as np
import tensorflow as tf

from examples.curriculum import training
from examples.data import pipeline

LABELS_SPEC = tf.TensorSpec([None], tf.int32)


def digit_features(images):
  """The feature dict of a batch of images [batch, 8, 8, 1]."""
  return {"pixels": images,
          "ink": tf.reduce_mean(images, axis=[1, 2, 3])[:, tf.newaxis]}


def example_features(image, label):
  """One digit's `(features, label)`: the per-example form of
  `digit_features`, for the curriculum's input pipeline (its
  `data_transform`)."""
  return {"pixels": image, "ink": tf.reduce_mean(image)[tf.newaxis]}, label


def input_fn(split="train", batch_size=training.BATCH_SIZE, data_dir=None,
             repeat=False, shuffle_seed=None):
  """A TF1 Estimator `input_fn`: a `tf.data.Dataset` of (features, labels)
  batches, which `model.fit`/`evaluate` take as it is."""
  data = pipeline.load(split, batch_size, data_dir=data_dir, repeat=repeat,
                       shuffle_seed=shuffle_seed)
  return data.map(lambda images, labels: (digit_features(images), labels))


def sample_batches(split, count, data_dir=None):
  """The first `count` batches of `split` in file order, as numpy (the
  migration's sample batches: the same for every stage)."""
  return [(tf.nest.map_structure(np.asarray, features), np.asarray(labels))
          for features, labels in input_fn(split, data_dir=data_dir,
                                           repeat=True).take(count)]
