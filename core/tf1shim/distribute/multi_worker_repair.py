"""Keras 3's `fit`, `evaluate` and `predict` under MultiWorkerMirroredStrategy.

`tf1shim.install()` calls `apply()`; it also works on its own. Every private
Keras name this repair touches is in this module (`_checked_touch_points`),
checked before anything is changed.

Keras 3.15's TensorFlow trainer fails on more than one worker, for any
model (keras-team/keras#20585, tensorflow/tensorflow#72388), in two places
of `keras/src/backend/tensorflow/trainer.py`:

1. `TensorFlowTrainer._maybe_symbolic_build` builds the model from one
   batch's shapes. It takes the first batch of the distributed dataset (a
   `(x, y)` structure of `PerReplica` values) and, to get one tensor per
   input, hands the whole structure to `strategy.reduce("MEAN", ...)`. Under
   one worker that reduction takes a shortcut; across workers it goes to
   the cross-device ops, which support a single value only (TensorFlow's
   `Strategy.reduce`: "TODO: support `value` being a nest") and try
   `convert_to_tensor((PerReplica, PerReplica))`: `ValueError: Attempt to
   convert a value (PerReplica:{...}) with an unsupported type`. The build
   needs shapes and dtypes only, so the repair hands it this worker's first
   replica's batch (the shapes every replica has) and no reduction, no
   collective, takes place.
2. `reduce_per_replica` (how a step's logs leave `strategy.run`) reduces
   every value across workers with `strategy.reduce("MEAN", v, axis=0)`:
   axis 0 is the batch axis, and the logs are scalars (the loss, the
   metrics' results): `Invalid reduction dimension 0 for input with 0
   dimensions`. Within one worker Keras averages the replicas' values
   elementwise (`reduce_mean(local_results, axis=0)` over the stacked
   replicas); across workers the repair does the same with
   `strategy.reduce("MEAN", v, axis=None)`. Its other reductions ("concat"
   for `predict`, "sum", "first") are Keras's own.

Training itself (the gradients' all-reduce, the loss scaled by the number
of replicas, regularization losses included) is Keras's and TensorFlow's
and is not touched: `core/tests/multi_worker_test.py` checks that two and
three workers reach the weights of one process over the same global
batches.
"""

import functools

import tensorflow as tf

_REPAIRED_MARK = "_tf1shim_multi_worker_repair"


def _trainer_module():
  from keras.src.backend.tensorflow import trainer  # pylint: disable=g-import-not-at-top
  return trainer


def _checked_touch_points():
  """The private Keras names the repair needs, all checked; changes nothing.

  Returns:
    (trainer module, `TensorFlowTrainer`), the two objects the repair
    changes.

  Raises:
    RuntimeError: naming what the installed Keras lacks.
  """
  try:
    trainer = _trainer_module()
  except ImportError as e:
    raise RuntimeError(
        "tf1shim's multi-worker repair needs keras.src.backend.tensorflow."
        "trainer (Keras 3.15's TensorFlow trainer), which this Keras lacks "
        "(%s)." % e) from e
  missing = []
  for name in ("TensorFlowTrainer", "reduce_per_replica",
               "_collective_all_reduce_multi_worker"):
    if not callable(getattr(trainer, name, None)):
      missing.append("keras.src.backend.tensorflow.trainer.%s" % name)
  trainer_class = getattr(trainer, "TensorFlowTrainer", None)
  if trainer_class is not None and not callable(
      getattr(trainer_class, "_maybe_symbolic_build", None)):
    missing.append("TensorFlowTrainer._maybe_symbolic_build")
  if missing:
    raise RuntimeError(
        "tf1shim's multi-worker repair is written for Keras 3.15's "
        "TensorFlow trainer; this Keras lacks: %s. Nothing was changed: "
        "model.fit under MultiWorkerMirroredStrategy is Keras's own." %
        ", ".join(missing))
  return trainer, trainer_class


def _first_local_values(structure, strategy):
  """Each distributed value of `structure` as this worker's first replica's."""

  def local(value):
    if isinstance(value, tf.distribute.DistributedValues):
      return strategy.experimental_local_results(value)[0]
    return value

  return tf.nest.map_structure(local, structure)


def _repaired_symbolic_build(original, trainer):
  """`_maybe_symbolic_build` that builds from a local batch across workers."""

  @functools.wraps(original)
  def maybe_symbolic_build(self, iterator=None, data_batch=None):
    strategy = self._distribute_strategy  # pylint: disable=protected-access
    if (iterator is not None and strategy is not None and
        trainer._collective_all_reduce_multi_worker(strategy)):  # pylint: disable=protected-access
      # The same first batch Keras reads (`fit` resets the iterator after).
      for _, _, batches in iterator:
        data_batch = _first_local_values(next(batches), strategy)
        break
      iterator = None
    return original(self, iterator=iterator, data_batch=data_batch)

  setattr(maybe_symbolic_build, _REPAIRED_MARK, True)
  return maybe_symbolic_build


def _repaired_reduce_per_replica(original, trainer):
  """`reduce_per_replica` whose mean across workers is per replica."""

  @functools.wraps(original)
  def reduce_per_replica(values, strategy, reduction):
    # "auto" is "mean" for every strategy but TPUStrategy, never multi-worker.
    if (reduction in ("auto", "mean") and
        trainer._collective_all_reduce_multi_worker(strategy)):  # pylint: disable=protected-access
      return tf.nest.map_structure(
          lambda v: v if v is None else strategy.reduce("MEAN", v, axis=None),
          values)
    return original(values, strategy, reduction)

  setattr(reduce_per_replica, _REPAIRED_MARK, True)
  return reduce_per_replica


def apply():
  """Repairs Keras 3's TensorFlow trainer for multi-worker strategies.

  Idempotent. Afterwards `model.fit`, `evaluate` and `predict` run under
  `tf.distribute.MultiWorkerMirroredStrategy` across worker processes (one
  worker, and every other strategy, run exactly as before: each repaired
  function hands those to Keras's own).

  Raises:
    RuntimeError: the installed Keras lacks a name the repair is written
      for (Keras 3.15); nothing is changed then.
  """
  trainer, trainer_class = _checked_touch_points()
  if is_applied():
    return
  symbolic_build = _repaired_symbolic_build(
      trainer_class._maybe_symbolic_build, trainer)  # pylint: disable=protected-access
  reduce_per_replica = _repaired_reduce_per_replica(
      trainer.reduce_per_replica, trainer)
  trainer_class._maybe_symbolic_build = symbolic_build  # pylint: disable=protected-access
  # `_make_function` looks the module-level name up when it traces a step.
  trainer.reduce_per_replica = reduce_per_replica


def is_applied():
  """Whether `apply()` has repaired the Keras of this process."""
  try:
    trainer, trainer_class = _checked_touch_points()
  except RuntimeError:
    return False
  return (getattr(trainer_class._maybe_symbolic_build, _REPAIRED_MARK, False)  # pylint: disable=protected-access
          and getattr(trainer.reduce_per_replica, _REPAIRED_MARK, False))
