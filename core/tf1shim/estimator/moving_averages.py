"""TF1's `ExponentialMovingAverage` of a `model_fn`'s weights, kept by Keras.

TF1 model_fns (EfficientNet's, MnasNet's, many research ones) average their
weights after each training step:

    train_op = optimizer.minimize(loss, global_step=global_step)
    ema = tf.train.ExponentialMovingAverage(0.999, num_updates=global_step)
    with tf.control_dependencies([train_op]):
      train_op = ema.apply(tf.trainable_variables())

In TF1's TRAIN graph `apply` made a shadow variable per variable,
`<variable>/ExponentialMovingAverage`, initialized to the variable's value,
and its op moved each shadow by `(shadow - variable) * (1 - decay)` after the
optimizer's step, with `decay = min(decay, (1 + step) / (10 + step))` when
`num_updates` was given. Under `EstimatorModel` the first call is
PREDICT's, which makes the model's variables; TRAIN mode must not make new
ones, and the optimizer's step runs after the model_fn returns. So while the
model_fn runs (`optimizers.recording()`), `apply` records what it averages
and how (`AveragesRecord`) and returns the train op's marker;
`MovingAverages`, a holder of the model, makes the shadows once before the
first training step (TF1's names, the variables' values) and updates them
after each step's optimizer step and global step, with TF1's arithmetic.
Outside `recording()`, in TF1 graphs too, `apply` is TensorFlow's.
"""

import contextlib
import re
import types

import numpy as np
import tensorflow as tf

from tf1shim import _tf_internal
from tf1shim import checkpoints
from tf1shim import tracking
from tf1shim.estimator import optimizers as optimizers_lib

_EMA = tf.compat.v1.train.ExponentialMovingAverage
_FLOATS = (tf.bfloat16, tf.float16, tf.float32, tf.float64)
# TF1's default average name; a model_dir's averages restore later (`fit`
# makes the shadows), so restore() leaves these entries to them.
DEFAULT_AVERAGE_NAME = "ExponentialMovingAverage"
DEFAULT_AVERAGE_ENTRIES = (r"/%s$" % DEFAULT_AVERAGE_NAME,)
_installed = False


class AveragesRecord:
  """One `ExponentialMovingAverage.apply` of a TRAIN-mode model_fn call."""

  def __init__(self, average_name, decay, num_updates, variable_names):
    self.average_name = average_name  # the EMA's name, the shadows' suffix
    self.decay = decay
    self.num_updates = num_updates  # None, a number, the global step
    self.variable_names = variable_names  # TF1 names, without ":0"

  def shadow_names(self):
    return [name + "/" + self.average_name for name in self.variable_names]


def _variable_name(variable):
  """The TF1 name (no ":0") of a variable the model_fn averages."""
  if isinstance(variable, tf.Tensor) or not hasattr(variable, "dtype"):
    # TensorFlow's own error with eager execution on.
    raise TypeError(
        "tf.train.ExponentialMovingAverage does not support non-Variable "
        "tensors when eager execution is enabled (got %r). Average "
        "variables only." % (variable,))
  if variable.dtype.base_dtype not in _FLOATS:
    raise TypeError("The variables must be half, float, or double: %s" %
                    variable.name)
  name = tracking.tf1_name(variable)
  return name[:-len(":0")] if name.endswith(":0") else name


def _wrap_apply():
  original = _EMA.apply

  def apply(self, var_list=None):
    record = optimizers_lib.current()
    if record is None:
      return original(self, var_list)
    if var_list is None:
      var_list = tf.compat.v1.trainable_variables()
    decay, num_updates = _tf_internal.moving_average_settings(self)
    record.moving_averages.append(AveragesRecord(
        self.name, decay, num_updates, [_variable_name(v) for v in var_list]))
    return optimizers_lib.TrainOp(record)

  apply.__wrapped__ = original
  apply.__doc__ = original.__doc__
  _EMA.apply = apply


def install():
  """Wraps `ExponentialMovingAverage.apply` once (it records only inside
  `optimizers.recording()`)."""
  global _installed
  if _installed:
    return
  _wrap_apply()
  _installed = True


def _decay(record):
  """TF1's decay tensor (`apply`), read when the update runs: after the
  step's global step increment, as TF1's op ran after the train op."""
  decay = tf.convert_to_tensor(record.decay, dtype=tf.float32)
  if record.num_updates is not None:
    steps = tf.cast(record.num_updates, tf.float32)
    decay = tf.minimum(decay, (1.0 + steps) / (10.0 + steps))
  return decay


class MovingAverages(tf.Module):
  """The shadow variables of a model_fn's moving averages, by TF1 name.

  Saved with the model by `tf.train.Checkpoint`; not among `model.weights`
  (TF1's shadows were not weights of the network either). `in_weights()`
  puts the averages in the weights for a block (evaluate, export), as TF1
  evaluated and exported through `ema.variables_to_restore()`.
  """

  def __init__(self):
    super().__init__(name="moving_averages")
    self.shadows = {}  # TF1 shadow name -> tf.Variable
    # Not tracked (a checkpoint would save the model's variables again):
    # shadow name -> the averaged model variable; the last restored
    # (checkpoint prefix, strict), which a shadow made later loads from.
    self._untracked = types.SimpleNamespace(sources={}, restored=None)

  def make(self, records, variables_by_name):
    """Makes the shadows `records` need: from the last restored checkpoint
    (`restore`), else from the variable's value (TF1's
    `initialized_value`). Returns the names made."""
    made = []
    for record in records:
      for name, shadow_name in zip(record.variable_names,
                                   record.shadow_names()):
        if shadow_name in self.shadows:
          continue
        if name not in variables_by_name:
          raise ValueError(
              "The model_fn's ExponentialMovingAverage averages %r, which "
              "is not a variable of the model (its variables: %s)." % (
                  name, ", ".join(sorted(variables_by_name))))
        source = variables_by_name[name]
        with tf.init_scope():
          self.shadows[shadow_name] = tf.Variable(
              tf.convert_to_tensor(source), trainable=False,
              name=shadow_name.replace("/", "."))
        self._untracked.sources[shadow_name] = source
        made.append(shadow_name)
    if made and self._untracked.restored is not None:
      self._load(*self._untracked.restored, names=made)
    return made

  def update(self, records):
    """TF1's `assign_moving_average` of each recorded average."""
    for record in records:
      decay = _decay(record)
      for shadow_name in record.shadow_names():
        if shadow_name not in self.shadows:
          raise ValueError(
              "The model_fn averages a variable (%s) it did not average on "
              "its first training call: average the same variables on every "
              "call." % shadow_name)
        shadow = self.shadows[shadow_name]
        source = self._untracked.sources[shadow_name]
        rate = tf.cast(1.0 - decay, shadow.dtype)
        shadow.assign_sub((shadow - tf.convert_to_tensor(source)) * rate)

  def ignored_entries(self):
    """Checkpoint entry patterns that are averages (`restore` loads
    them, not the model's weights)."""
    return DEFAULT_AVERAGE_ENTRIES + tuple(
        "^%s$" % re.escape(name) for name in self.shadows)

  def restore(self, prefix, variables_by_name, strict=True):
    """After the weights' restore: the shadows from `prefix`, made first
    for the model's variables that have a `<name>/ExponentialMovingAverage`
    entry (TF1's default name); a shadow the first `fit` makes later loads
    from here too. A shadow without an entry is an error when `strict`
    (TF1's Saver failed on it), else it keeps its value."""
    self._untracked.restored = (prefix, strict)
    reader = checkpoints.CheckpointReader(prefix)
    suffix = "/" + DEFAULT_AVERAGE_NAME
    self.make([AveragesRecord(DEFAULT_AVERAGE_NAME, None, None, [
        name for name in sorted(variables_by_name)
        if name + suffix in reader])], variables_by_name)
    self._load(prefix, strict, names=list(self.shadows), reader=reader)

  def _load(self, prefix, strict, names, reader=None):
    reader = reader or checkpoints.CheckpointReader(prefix)
    missing = []
    for name in sorted(names):
      shadow = self.shadows[name]
      if name not in reader:
        missing.append(name)
        continue
      value = np.asarray(reader.read(name))
      if tuple(value.shape) != tuple(shadow.shape):
        raise ValueError(
            "The checkpoint %s's moving average %s has shape %s, the "
            "model's %s." % (prefix, name, value.shape, tuple(shadow.shape)))
      shadow.assign(value.astype(shadow.dtype.as_numpy_dtype))
    if missing and strict:
      raise ValueError(
          "The checkpoint %s has no entry for the moving averages %s that "
          "the model_fn's ExponentialMovingAverage keeps (TF1's Saver would "
          "fail the same way). Restore a checkpoint of the same model_fn, "
          "or restore(..., strict=False) to start them from the weights." %
          (prefix, ", ".join(missing)))

  @contextlib.contextmanager
  def in_weights(self):
    """Inside, each averaged variable holds its average; its own value
    comes back on exit."""
    if not self.shadows:
      raise ValueError(
          "The model has no moving averages: the model_fn's TRAIN mode "
          "made none (fit makes them), and no restored checkpoint had "
          "<variable>/%s entries." % DEFAULT_AVERAGE_NAME)
    saved = {name: tf.identity(source) for name, source in
             self._untracked.sources.items()}
    for name, source in self._untracked.sources.items():
      source.assign(self.shadows[name])
    try:
      yield
    finally:
      for name, source in self._untracked.sources.items():
        source.assign(saved[name])
