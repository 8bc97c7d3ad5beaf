"""Inputs of any structure through `tf1shim.comparison`, which feeds one array.

`tf1shim.comparison` runs a model on `batches` of (array, labels). A
migration's inputs may be a tuple or a dict of arrays; `packed` turns them
into one float64 array per batch (each leaf flattened per example, side by
side: float64 holds every float32 and int32 value exactly) and wraps the
TF1 function and the stage builders to unpack it (slices, reshapes, casts
back) before the model sees it. A single array passes unchanged.
"""

import numpy as np
import tensorflow as tf


class _Unpacking:
  """A stage model called with packed inputs; everything else is the model's."""

  def __init__(self, model, unpack):
    self._model = model
    self._unpack = unpack

  def __call__(self, packed_inputs, training=False):
    return self._model(self._unpack(packed_inputs), training=training)

  def __getattr__(self, name):
    if name in ("_model", "_unpack"):  # not set yet (copy, pickle)
      raise AttributeError(name)
    return getattr(self._model, name)


def packed(batches, tf1_model_fn, builders):
  """(batches, tf1_model_fn, builders) for `tf1shim.comparison`: unchanged
  when the inputs are one array, else packed and wrapped as above."""
  example = batches[0][0]
  if not tf.nest.is_nested(example):
    return batches, tf1_model_fn, builders
  leaves = [np.asarray(x) for x in tf.nest.flatten(example)]
  specs = [(x.shape[1:], tf.as_dtype(x.dtype)) for x in leaves]
  sizes = [int(np.prod(shape)) for shape, _ in specs]
  ends = np.cumsum(sizes)

  def pack(inputs):
    return np.concatenate(
        [np.asarray(x, np.float64).reshape(len(x), -1)
         for x in tf.nest.flatten(inputs)], axis=1)

  def unpack(tensor):
    parts = []
    for (shape, dtype), end, size in zip(specs, ends, sizes):
      part = tf.reshape(tensor[:, end - size:end], (-1,) + tuple(shape))
      parts.append(tf.cast(part, dtype))
    return tf.nest.pack_sequence_as(example, parts)

  def tf1_fn(inputs, training=False):
    return tf1_model_fn(unpack(inputs), training=training)

  wrapped = [lambda build=build: _Unpacking(build(), unpack)
             for build in builders]
  return [(pack(x), y) for x, y in batches], tf1_fn, wrapped
