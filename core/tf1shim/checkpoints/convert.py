"""Converting checkpoints between TF1 names and a TF2 model's formats.

Every writer follows the same safety protocol: write under a temporary name
in the target folder, re-read what was written and compare it tensor by
tensor with the source, then rename into place. Inputs are never written;
on any error nothing is left behind.
"""

import contextlib
import os
import shutil
import tempfile
import zlib

import numpy as np
import tensorflow as tf

from tf1shim import _keras_internal
from tf1shim.checkpoints import bundle as bundle_lib
from tf1shim.checkpoints import reader as reader_lib
from tf1shim.checkpoints import restore as restore_lib
from tf1shim.checkpoints import streaming


class ConversionError(ValueError):
  """The output could not be written or did not verify; nothing was kept."""


def _check_output(out_path, input_prefix):
  out_dir = os.path.dirname(os.path.abspath(out_path)) or "."
  if not os.path.isdir(out_dir):
    raise ConversionError("Output folder %s does not exist." % out_dir)
  inputs = {os.path.abspath(p) for p in tf.io.gfile.glob(input_prefix + ".*")}
  if any(os.path.abspath(out_path) == p or
         os.path.abspath(p).startswith(os.path.abspath(out_path) + ".")
         for p in inputs):
    raise ConversionError("Refusing to write %s: it is (part of) the input "
                          "checkpoint %s." % (out_path, input_prefix))
  return out_dir


@contextlib.contextmanager
def _staging(out_dir):
  """A temporary folder inside `out_dir`, removed whatever happens."""
  staging = tempfile.mkdtemp(prefix=".tf1shim-", dir=out_dir)
  try:
    yield staging
  finally:
    shutil.rmtree(staging, ignore_errors=True)


def to_keras_weights(checkpoint, model, out_path, mapping=None,
                     ignore=restore_lib.TRAINING_STATE):
  """TF1 checkpoint -> Keras 3 `.weights.h5` of `model`, streamed, verified.

  Plain numeric tensors are copied from the checkpoint's data files chunk by
  chunk (memory is a few chunks, not a tensor): their bytes must match the
  CRC32C in the checkpoint's index, as for TensorFlow's reader, and each
  written dataset, read back from the file, must match them. Other entries
  (strings, partitioned variables, big-endian checkpoints) are read by
  TensorFlow, one tensor at a time, then written and checked the same way.
  The file is renamed into place only once all of it has been checked.

  Args:
    checkpoint: the TF1 checkpoint prefix.
    model: the Keras 3 model the file is for (built; its variables' values
      are not used, so it may be built in a `keras.StatelessScope`).
    out_path: the `.weights.h5` file to write.
    mapping, ignore: as for `restore_checkpoint` (by default the global
      step and optimizer slots are not converted).

  Returns:
    The `RestoreReport` of the mapping (strict: every variable set, every
    entry used or ignored).
  """
  if not str(out_path).endswith(".weights.h5"):
    raise ConversionError("The output must end in .weights.h5: %s" %
                          out_path)
  reader = reader_lib.CheckpointReader(checkpoint)
  out_dir = _check_output(out_path, reader.prefix)
  report = restore_lib.restore_checkpoint(reader.prefix, model,
                                          mapping=mapping, strict=True,
                                          dry_run=True, ignore=ignore)
  entry_of = {id(v): report.assigned[name]
              for name, v in restore_lib.model_variables(model)}
  with _staging(out_dir) as staging, _raw_bundle(reader) as bundle, \
      streaming.VerifiedWriter() as writer:
    staged = os.path.join(staging, os.path.basename(out_path))
    failures = []

    def write_variable(variable, group, key):
      entry = entry_of[id(variable)]
      source = _source(reader, bundle, entry)
      if tuple(source.shape) != tuple(variable.shape):
        raise ConversionError("%s: the checkpoint's %s has shape %s, the "
                              "variable %s." % (out_path, entry, source.shape,
                                                tuple(variable.shape)))
      writer.write(group, key, source, label=entry)

    written = _keras_internal.save_weights_from(
        model, staged, write_variable,
        before_close=lambda: failures.extend(writer.wait()))
    if failures:
      raise ConversionError("Verification of %s failed: %s." % (
          out_path, "; ".join(failures)))
    if sorted(entry_of[id(v)] for v in written.values()) != sorted(
        report.assigned.values()):
      raise ConversionError("Keras wrote %d variables of the model, the "
                            "mapping has %d." % (len(written),
                                                 len(report.assigned)))
    os.replace(staged, out_path)
  return report


@contextlib.contextmanager
def _raw_bundle(reader):
  """The checkpoint's `bundle.Bundle`, or None where TensorFlow must read.

  A damaged index raises `CheckpointError`; a valid one in a form the bundle
  module does not read (compressed, another version) is left to `reader`.
  """
  try:
    bundle = bundle_lib.Bundle(reader.prefix)
  except bundle_lib.UnsupportedBundle:
    yield None
    return
  with bundle:
    yield bundle


def _source(reader, bundle, entry):
  """Entry `entry` as a `streaming` source.

  Plain numeric tensors are read from the data file chunk by chunk, their
  CRC32C checked against the index's (what `get_tensor` checks); anything
  else (strings, partitioned variables, big-endian files), or an entry the
  index describes otherwise than TensorFlow does, is read whole by
  TensorFlow.
  """
  raw = bundle.entries.get(entry) if bundle is not None else None
  expected = reader.entries[entry]
  if (raw is not None and raw.raw and raw.shape == expected.shape and
      raw.dtype == expected.dtype):
    return bundle.reader(entry)
  return streaming.ArraySource(reader.read(entry))


def to_tf2_checkpoint(checkpoint, model, out_prefix, mapping=None,
                      ignore=restore_lib.TRAINING_STATE):
  """TF1 checkpoint -> object-based `tf.train.Checkpoint(model=model)`.

  The model is restored (strictly) and written; the written checkpoint is
  restored into the same model's structure and compared with the source.
  """
  reader = reader_lib.CheckpointReader(checkpoint)
  out_dir = _check_output(out_prefix, reader.prefix)
  report = restore_lib.restore_checkpoint(reader.prefix, model,
                                          mapping=mapping, strict=True,
                                          ignore=ignore)
  with _staging(out_dir) as staging:
    staged = os.path.join(staging, os.path.basename(out_prefix))
    written = tf.train.Checkpoint(model=model).write(staged)
    # Every object of the model is found in the file...
    tf.train.Checkpoint(model=model).read(written).assert_consumed()
    # ...and the file's tensors are exactly the source's, as a multiset.
    check = tf.train.load_checkpoint(written)
    in_file = sorted(
        _digest(check.get_tensor(key))
        for key in check.get_variable_to_shape_map()
        if key.endswith("/.ATTRIBUTES/VARIABLE_VALUE") and
        not key.startswith("save_counter"))
    in_source = sorted(_digest(reader.read(entry))
                       for entry in report.assigned.values())
    if in_file != in_source:
      raise ConversionError("Verification failed: the written checkpoint's "
                            "tensors differ from the source's.")
    _move_checkpoint(written, out_prefix)
  return report


def _digest(value):
  """(dtype, shape, CRC-32 of the bytes), without copying the tensor."""
  value = np.ascontiguousarray(value)
  return (value.dtype.str, value.shape,
          zlib.crc32(memoryview(value).cast("B")) if value.size else 0)


def to_tf1_checkpoint(model, out_prefix, names=None):
  """A model's variables -> TF1 name-based checkpoint (for TF1 pipelines).

  Args:
    model: a Keras layer/model, tf.Module or list of variables.
    out_prefix: the checkpoint prefix to write.
    names: optional `model name -> TF1 name` (default: the TF1 name).
  """
  named = restore_lib.model_variables(model)
  var_list = {(names(n) if names else n): v for n, v in named}
  out_dir = os.path.dirname(os.path.abspath(out_prefix)) or "."
  if not os.path.isdir(out_dir):
    raise ConversionError("Output folder %s does not exist." % out_dir)
  with _staging(out_dir) as staging:
    staged = os.path.join(staging, os.path.basename(out_prefix))
    tensors = {name: tf.convert_to_tensor(v) for name, v in var_list.items()}
    names_sorted = sorted(tensors)
    tf.raw_ops.SaveV2(prefix=staged, tensor_names=names_sorted,
                      shape_and_slices=[""] * len(names_sorted),
                      tensors=[tensors[n] for n in names_sorted])
    check = reader_lib.CheckpointReader(staged)
    for name in names_sorted:
      if not np.array_equal(check.read(name), tensors[name].numpy()):
        raise ConversionError("Verification failed for %s." % name)
    _move_checkpoint(staged, out_prefix)
  return sorted(var_list)


def _move_checkpoint(staged_prefix, out_prefix):
  for path in tf.io.gfile.glob(staged_prefix + ".*"):
    suffix = path[len(staged_prefix):]
    os.replace(path, out_prefix + suffix)
