"""Converting checkpoints between TF1 names and a TF2 model's formats.

Every writer follows the same safety protocol (`outputs.py`): the output
path is checked first (never an input, compared by real path and inode;
never an existing output unless `force`); the output is written into a
staging folder inside the output folder, re-read and compared with the
source tensor by tensor, then moved into place (the index last for a
checkpoint). Every byte of the input checkpoint is checked too: the
entries converted by a CRC-checking reader, or, streamed into a
`.weights.h5`, by their written copy's CRC32C against the index's
(`streaming.py`); the others, such as ignored optimizer slots, by their
CRC32C (`integrity.py`); so a damaged input never converts. Inputs are
never written; on any error (or SIGTERM/SIGINT, which the CLI turns into
an exception) nothing is left.
"""

import contextlib
import os
import zlib

import numpy as np
import tensorflow as tf

from tf1shim import _keras_internal
from tf1shim.checkpoints import bundle as bundle_lib
from tf1shim.checkpoints import integrity
from tf1shim.checkpoints import mapping as mapping_lib
from tf1shim.checkpoints import outputs
from tf1shim.checkpoints import reader as reader_lib
from tf1shim.checkpoints import restore as restore_lib
from tf1shim.checkpoints import streaming
from tf1shim.checkpoints import tensor_mapping

OutputError = outputs.OutputError


class ConversionError(ValueError):
  """The output did not verify; nothing was kept."""


def _inputs(prefix, extra):
  return outputs.Inputs(outputs.checkpoint_files(prefix) + list(extra))


def to_keras_weights(checkpoint, model, out_path, mapping=None,
                     ignore=restore_lib.TRAINING_STATE, force=False,
                     inputs=()):
  """TF1 checkpoint -> Keras 3 `.weights.h5` of `model`, streamed, verified.

  Plain numeric tensors are copied from the checkpoint's data files chunk by
  chunk (memory is a few chunks, not a tensor), and each written dataset,
  read back from the file, must have the CRC32C that the checkpoint's index
  gives for those bytes (TensorFlow's reader checks the same CRC): one
  checksum checks both the checkpoint and the write. On a mismatch the
  checkpoint's bytes are checksummed too, to tell a damaged checkpoint
  (CheckpointError) from a bad write (ConversionError). Other entries
  (strings, partitioned variables, big-endian checkpoints) are read by
  TensorFlow, one tensor at a time, then written and checked the same way.
  So is a variable that rules make by transforming entries (`rows`,
  `gates`, `add`, `concat`): its entries are read whole, transformed, and
  the result written and checked. A rule that does not fit the shapes
  raises before anything is written. The file is renamed into place only
  once all of it has been checked.

  Args:
    checkpoint: the TF1 checkpoint prefix.
    model: the Keras 3 model the file is for (built; its variables' values
      are not used, so it may be built in a `keras.StatelessScope`).
    out_path: the `.weights.h5` file to write.
    mapping, ignore: as for `restore_checkpoint` (by default the global
      step and optimizer slots are not converted).
    force: replace `out_path` if it exists (never an input).
    inputs: other files the caller read (a rules file), never written.

  Returns:
    The `RestoreReport` of the mapping (strict: every variable set, every
    entry used or ignored).

  Raises:
    CheckpointError: the checkpoint is missing or damaged.
    OutputError: `out_path` cannot be written (see `outputs.check`).
    RestoreError, MappingError: the mapping does not fit.
    ConversionError: what was written did not read back the same.
  """
  if not str(out_path).endswith(".weights.h5"):
    raise OutputError("The output must end in .weights.h5: %s" % out_path)
  reader = reader_lib.CheckpointReader(checkpoint)
  sources = _inputs(reader.prefix, inputs)
  out_dir = outputs.check(out_path, "file", sources, force)
  report = _checked_plan(reader, model, mapping, ignore)
  name_of = {id(v): name for name, v in restore_lib.model_variables(model)}
  read = restore_lib.cached_reader(reader, report.plan)
  with outputs.Staging(out_dir) as staging, _raw_bundle(reader) as bundle, \
      streaming.VerifiedWriter() as writer:
    staged = os.path.join(staging.path, os.path.basename(out_path))
    failures = []

    def write_variable(variable, group, key):
      target = report.plan.targets[name_of[id(variable)]]
      if target.is_rename:
        label = target.sources[0]
        source = _source(reader, bundle, label)
      else:
        # A transformed variable is computed whole from its entries (read
        # by TensorFlow's CRC-checking reader), then written and checked
        # the same way.
        label = target.description
        source = streaming.ArraySource(target.forward(read))
      if tuple(source.shape) != tuple(variable.shape):
        raise ConversionError("%s: the checkpoint's %s has shape %s, the "
                              "variable %s." % (out_path, label, source.shape,
                                                tuple(variable.shape)))
      writer.write(group, key, source, label=label)

    with outputs.writing(out_path):
      written = _keras_internal.save_weights_from(
          model, staged, write_variable,
          before_close=lambda: failures.extend(writer.wait()))
    if failures:
      _raise_write_error(out_path, failures)
      raise ConversionError("Verification of %s failed: %s." % (
          out_path, "; ".join(failures)))
    if sorted(name_of[id(v)] for v in written.values()) != sorted(
        report.assigned):
      raise ConversionError("Keras wrote %d variables of the model, the "
                            "mapping has %d." % (len(written),
                                                 len(report.assigned)))
    outputs.commit_file(staged, out_path, sources, force)
  return report


def _checked_plan(reader, model, mapping, ignore):
  """The mapping's report, once every byte of the checkpoint is checked.

  A damaged checkpoint is a CheckpointError even when the mapping does not
  fit either: bad input first. The entries the conversion reads are
  CRC-checked by the conversion (`_source`), so only the layout is checked
  here for them; then a mapping that does not fit raises RestoreError.
  """
  report = restore_lib.restore_checkpoint(reader.prefix, model,
                                          mapping=mapping, dry_run=True,
                                          ignore=ignore)
  integrity.check(reader.prefix, skip=report.entries()
                  if report.complete else ())
  if not report.complete:
    raise restore_lib.RestoreError(report)
  return report


def _raise_write_error(out_path, failures):
  """A check that failed because the file could not be written (a full
  disk makes the flush before the check fail) is an OutputError."""
  for failure in failures:
    if "could not be read back" in failure and (
        "No space left" in failure or "errno = 28" in failure or
        "Read-only" in failure):
      raise OutputError("Cannot write %s: %s; free some space or choose "
                        "another folder (nothing was written)." % (
                            out_path, failure))


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

  Plain numeric tensors are read from the data file chunk by chunk, the
  CRC32C of their written copy checked against the index's (what
  `get_tensor` checks for the bytes it reads); anything
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
                      ignore=restore_lib.TRAINING_STATE, force=False,
                      inputs=()):
  """TF1 checkpoint -> object-based `tf.train.Checkpoint(model=model)`.

  The model is restored (strictly) and written; the written checkpoint is
  restored into the same model's structure and compared with the source.
  Arguments, errors: as for `to_keras_weights`; `force` replaces an
  existing checkpoint at `out_prefix` (its old shards included).
  """
  reader = reader_lib.CheckpointReader(checkpoint)
  sources = _inputs(reader.prefix, inputs)
  out_dir = outputs.check(out_prefix, "prefix", sources, force)
  report = _checked_plan(reader, model, mapping, ignore)
  restore_lib.restore_checkpoint(reader.prefix, model, mapping=mapping,
                                 strict=True, ignore=ignore)
  with outputs.Staging(out_dir) as staging:
    staged = os.path.join(staging.path, os.path.basename(out_prefix))
    with outputs.writing(out_prefix):
      try:
        written = tf.train.Checkpoint(model=model).write(staged)
      except tf.errors.OpError as e:
        raise outputs.write_error(out_prefix, e) from e
    # Every object of the model is found in the file...
    tf.train.Checkpoint(model=model).read(written).assert_consumed()
    # ...and the file's tensors are exactly the source's, as a multiset.
    check = tf.train.load_checkpoint(written)
    in_file = sorted(
        _digest(check.get_tensor(key))
        for key in check.get_variable_to_shape_map()
        if key.endswith("/.ATTRIBUTES/VARIABLE_VALUE") and
        not key.startswith("save_counter"))
    read = restore_lib.cached_reader(reader, report.plan)
    in_source = sorted(_digest(target.forward(read))
                       for target in report.plan.targets.values())
    if in_file != in_source:
      raise ConversionError("Verification failed: the written checkpoint's "
                            "tensors differ from the source's.")
    outputs.commit_prefix(staged, out_prefix, sources, force,
                          trash=staging.path)
  return report


def _digest(value):
  """(dtype, shape, CRC-32 of the bytes), without copying the tensor."""
  value = np.ascontiguousarray(value)
  return (value.dtype.str, value.shape,
          zlib.crc32(memoryview(value).cast("B")) if value.size else 0)


def to_tf1_checkpoint(model, out_prefix, names=None, force=False,
                      inputs=(), mapping=None):
  """A model's variables -> TF1 name-based checkpoint (for TF1 pipelines).

  Args:
    model: a Keras layer/model, tf.Module or list of variables.
    out_prefix: the checkpoint prefix to write.
    names: optional `model name -> TF1 name` (default: the TF1 name).
    force: replace an existing checkpoint at `out_prefix` (its old shards
      included; never an input).
    inputs: the files the model was loaded from (never written).
    mapping: instead of `names`, the rules (model names -> TF1 names) whose
      inverse gives the entries: transforms undone (gate order put back,
      constants subtracted, rows of several variables joined), each entry
      made of its variables' elements exactly once.

  Returns:
    The TF1 names written, sorted.

  Raises:
    MappingError: two variables would write one TF1 name, or the rules'
      inverse does not cover an entry exactly once.
    OutputError, ConversionError: as for `to_keras_weights`.
  """
  if names is not None and mapping is not None:
    raise ValueError("Give `names` or `mapping`, not both.")
  named = restore_lib.model_variables(model)
  resolve = tensor_mapping.resolver(names if mapping is None else mapping)
  by_target = {}
  for name, variable in named:
    rule, entries = resolve(name)
    if rule is None or rule.is_rename:
      by_target.setdefault(entries[0], []).append((name, variable))
  taken = {t: [n for n, _ in pairs] for t, pairs in by_target.items()
           if len(pairs) > 1}
  if taken:
    raise mapping_lib.MappingError(
        "Several model variables map to the same TF1 name, so one would "
        "overwrite the other: %s. Fix the rules so that each name is "
        "written once." % "; ".join(
            "%s <- %s" % (t, ", ".join(n)) for t, n in sorted(
                taken.items())))
  if len(by_target) == len(named):
    # Renames only: each variable is written as it is.
    values = {target: pairs[0][1] for target, pairs in by_target.items()}
  else:
    inverse = tensor_mapping.plan_inverse(
        names if mapping is None else mapping,
        {n: (tuple(v.shape), restore_lib.variable_dtype(v))
         for n, v in named})
    values = inverse.inverse({n: np.asarray(v) for n, v in named})
  sources = outputs.Inputs(list(inputs))
  out_dir = outputs.check(out_prefix, "prefix", sources, force)
  with outputs.Staging(out_dir) as staging:
    staged = os.path.join(staging.path, os.path.basename(out_prefix))
    tensors = {name: tf.convert_to_tensor(v) for name, v in values.items()}
    names_sorted = sorted(tensors)
    with outputs.writing(out_prefix):
      try:
        tf.raw_ops.SaveV2(prefix=staged, tensor_names=names_sorted,
                          shape_and_slices=[""] * len(names_sorted),
                          tensors=[tensors[n] for n in names_sorted])
      except tf.errors.OpError as e:
        raise outputs.write_error(out_prefix, e) from e
    integrity.check(staged)
    check = reader_lib.CheckpointReader(staged)
    for name in names_sorted:
      if not np.array_equal(check.read(name), tensors[name].numpy(),
                            equal_nan=_has_nan(tensors[name])):
        raise ConversionError("Verification failed for %s." % name)
    outputs.commit_prefix(staged, out_prefix, sources, force,
                          trash=staging.path)
  return sorted(values)


def _has_nan(tensor):
  return tensor.dtype.is_floating or tensor.dtype.is_complex
