"""The TF1 optimizer of a `model_fn`'s train op, as a Keras 3 optimizer.

In TRAIN mode a `model_fn` builds its train op itself:
`tf.compat.v1.train.AdamOptimizer(lr).minimize(loss, global_step=...)`.
Keras trains with its own optimizers, so while `EstimatorModel` calls the
`model_fn` (`recording()`), `minimize` and `apply_gradients` of every
`tf.compat.v1.train.Optimizer` record an `OptimizerUpdate`: the optimizer
(its class and the arguments it was made with), whether it advances the
global step, and its (gradient, variable) pairs — `minimize`'s of its own
loss through the call's gradient tape, `apply_gradients`' as the model_fn
processed them after `compute_gradients` (which computes TF1's pairs the
same way). They return a `TrainOp` marker instead of TF1 update ops
(`tf.group` of markers and other ops is a marker); a train op may hold
several updates (a wide & deep model_fn's two optimizers).
`keras_optimizer(update)` then makes the Keras optimizer with TF1's update
rule: GradientDescent, Momentum (Nesterov too; TF1's accumulator,
`TF1SGD`), Adam, Adagrad, RMSProp (TF1 starts RMSProp's mean square at 1,
Keras at 0: `TF1RMSprop`), Adadelta and Ftrl. A learning rate that is a
tensor (a decay of the global step) is the model_fn's value of each step
(`ModelFnLearningRate`). Any other optimizer is an error naming it.
Outside `recording()`, in TF1 graphs too, the optimizers are TensorFlow's,
unchanged.

The hooks wrap the public `tf.compat.v1.train.Optimizer` methods, the
supported classes' `__init__` (to see their arguments) and `tf.group`
once, by `tf1shim.install()` or when `EstimatorModel` is first made; they
only record inside `recording()`.
"""

import contextlib
import inspect
import math
import sys
import threading
import weakref

import keras
import tensorflow as tf

from tf1shim import _keras_internal
from tf1shim import _tf_internal
from tf1shim import variable_store

_v1_train = tf.compat.v1.train
_state = threading.local()
# Optimizer -> the arguments it was made with (bound to its signature).
_arguments = weakref.WeakKeyDictionary()
_installed = False


class UnsupportedOptimizerError(ValueError):
  """The train op's optimizer has no Keras 3 equivalent here."""


class TrainOp:
  """What `minimize`/`apply_gradients` return while recording: the train op
  of the spec. Keras runs the step; TF1 code only passes this along."""

  def __init__(self, record):
    self.record = record
    # What `control_dependencies([train_op])` takes in a graph (TF1 code
    # orders its moving averages after the train op): an op doing nothing.
    self._graph_op = None if tf.executing_eagerly() else tf.no_op(
        name="train_op")

  def _as_graph_element(self):
    return self._graph_op

  def __repr__(self):
    return "<TrainOp of %s>" % self.record.optimizer_name


class OptimizerUpdate:
  """One `minimize`/`apply_gradients` of a model_fn call: the optimizer,
  the arguments it was made with, the (gradient, variable) pairs (the
  model_fn's own after `compute_gradients`, else its loss's through the
  call's gradient tape) and whether it advances the global step."""

  def __init__(self, optimizer, global_step, var_list, gradients):
    self.optimizer = optimizer
    self.optimizer_name = type(optimizer).__name__
    self.arguments = _arguments.get(optimizer, {})
    self.advances_global_step = global_step is not None
    self.var_list = list(var_list)
    self.gradients = gradients  # None: not computable here (no tape)


class TrainOpRecord:
  """How a `model_fn`'s train op trains: its optimizer updates (several
  for a wide & deep model_fn's `tf.group` of two), in order."""

  def __init__(self):
    self.updates = []
    # The tape recording the call, for the gradients (None in a graph,
    # where tf.gradients works).
    self.tape = None
    # What a var_list of None means (a function), None: TF1's collection.
    self.trainable_variables = None
    # ExponentialMovingAverage.apply calls (moving_averages.py), in order.
    self.moving_averages = []

  @property
  def recorded(self):
    return bool(self.updates)

  @property
  def optimizer_name(self):
    return " and ".join(u.optimizer_name for u in self.updates)

  @property
  def advances_global_step(self):
    """By how much a step advances the global step: one per update given
    it, as each of TF1's did."""
    return sum(u.advances_global_step for u in self.updates)


@keras.saving.register_keras_serializable(package="tf1shim.estimator")
class ModelFnLearningRate(keras.optimizers.schedules.LearningRateSchedule):
  """The learning rate the model_fn computes in the running training step.

  A TF1 learning rate that is a tensor of the global step
  (`tf.compat.v1.train.exponential_decay`, `piecewise_constant`,
  `polynomial_decay`, `cosine_decay`, ..., or any tensor): the model_fn
  computes it in every TRAIN call, from the global step before the step
  advances it, as TF1's train op read it. Keras calls a schedule with its
  own `iterations`, which differ from the global step after a model_dir
  restore; this one returns the value of the running step
  (`EstimatorModel.train_step` sets it, `of_step`).
  """

  def __init__(self, optimizer_name="the optimizer"):
    self.optimizer_name = optimizer_name
    self._step = threading.local()

  def __call__(self, step):
    del step  # Keras's iterations; the model_fn's value is the global step's
    value = getattr(self._step, "value", None)
    if value is None:
      raise ValueError(
          "%s's learning rate is a tensor the model_fn computes in each "
          "training step (of the global step): it has no value outside "
          "EstimatorModel's training step." % self.optimizer_name)
    return value() if callable(value) else value

  @contextlib.contextmanager
  def of_step(self, value):
    """Inside, the schedule is `value` (a tensor, or TF1's eager-mode
    callable of the decay functions)."""
    saved = getattr(self._step, "value", None)
    self._step.value = value
    try:
      yield
    finally:
      self._step.value = saved

  def get_config(self):
    return {"optimizer_name": self.optimizer_name}


def _learning_rate(name, value):
  """A constant learning rate as a float; a tensor (of the global step) as
  the model_fn's value of each step."""
  constant = value() if callable(value) else value
  if isinstance(constant, (int, float)):
    return float(constant)
  if isinstance(constant, (tf.Tensor, tf.Variable)) and (
      constant.shape.rank == 0):
    static = tf.get_static_value(constant)
    if static is not None and not isinstance(constant, tf.Variable):
      return float(static)
    return ModelFnLearningRate(name)
  raise UnsupportedOptimizerError(
      "%s's learning_rate %r is neither a number nor a scalar tensor. Give "
      "the model_fn a scalar learning rate, or pass a Keras optimizer with "
      "EstimatorModel(..., optimizer=...)." % (name, value))


@contextlib.contextmanager
def learning_rate_of_step(optimizer, update):
  """While the block applies a training step's gradients, `optimizer`'s
  learning rate is the one the step's model_fn call computed for `update`
  (when it is a tensor: `ModelFnLearningRate`)."""
  schedule = _keras_internal.optimizer_learning_rate(optimizer)
  if not isinstance(schedule, ModelFnLearningRate):
    yield
    return
  with schedule.of_step(update.arguments.get("learning_rate")):
    yield


# Keras optimizer -> {its model variable path: {slot name: slot}}.
_slots = weakref.WeakKeyDictionary()


class _TF1Slots:
  """A Keras optimizer that knows its slots' TF1 names, so that an
  Estimator model_dir's optimizer state (`scope/w/Momentum`, ...) loads
  into it (`load_tf1_slots`). `TF1_SLOTS`: Keras slot name -> (TF1 slot
  suffix, value in Keras from the TF1 value and the optimizer)."""
  TF1_SLOTS = {}

  def add_variable_from_reference(self, reference_variable, name=None,
                                  initializer="zeros"):
    slot = super().add_variable_from_reference(reference_variable, name,
                                               initializer)
    _slots.setdefault(self, {}).setdefault(reference_variable.path, {})[
        name] = slot
    return slot

  def load_tf1_iterations(self, read, entries):
    """Sets `iterations` from the TF1 checkpoint where TF1 kept the step
    count an update rule needs (Adam's beta powers); else nothing."""
    del read, entries


def _same(value, optimizer):
  del optimizer
  return value


@keras.saving.register_keras_serializable(package="tf1shim.estimator")
class TF1SGD(_TF1Slots, keras.optimizers.SGD):
  """Keras's SGD for GradientDescent; for Momentum, TF1's update rule and
  accumulator (the "momentum" slot is TF1's `Momentum` slot):
  `accum = m * accum + g; w -= lr * accum` (Nesterov: `w -= lr * g +
  lr * m * accum`). Keras's SGD keeps `-lr * accum` instead, the same only
  while the learning rate is constant: a decayed one (`exponential_decay`)
  would weigh past gradients by past rates."""
  TF1_SLOTS = {"momentum": ("Momentum", _same)}

  def update_step(self, gradient, variable, learning_rate):
    if self.momentum == 0:
      return super().update_step(gradient, variable, learning_rate)
    learning_rate = keras.ops.cast(learning_rate, variable.dtype)
    gradient = keras.ops.cast(gradient, variable.dtype)
    momentum = keras.ops.cast(self.momentum, variable.dtype)
    accumulator = self.momentums[
        _keras_internal.optimizer_variable_index(self, variable)]
    self.assign(accumulator, accumulator * momentum + gradient)
    if self.nesterov:
      # TF1's ApplyMomentum kernel: var -= grad * lr + accum * m * lr.
      self.assign_sub(variable, gradient * learning_rate +
                      accumulator * momentum * learning_rate)
    else:
      self.assign_sub(variable, accumulator * learning_rate)
    return None


@keras.saving.register_keras_serializable(package="tf1shim.estimator")
class TF1Adam(_TF1Slots, keras.optimizers.Adam):
  """Keras's Adam; TF1's `Adam`, `Adam_1` slots are its moments, and
  TF1's `beta1_power` after n steps is beta_1 ** (n + 1)."""
  TF1_SLOTS = {"momentum": ("Adam", _same), "velocity": ("Adam_1", _same)}

  def load_tf1_iterations(self, read, entries):
    if "beta1_power" in entries:
      power = float(read("beta1_power"))
      self.iterations.assign(
          int(round(math.log(power) / math.log(float(self.beta_1)))) - 1)


@keras.saving.register_keras_serializable(package="tf1shim.estimator")
class TF1Adagrad(_TF1Slots, keras.optimizers.Adagrad):
  """Keras's Adagrad with TF1's accumulator (`Adagrad` slot)."""
  TF1_SLOTS = {"accumulator": ("Adagrad", _same)}


@keras.saving.register_keras_serializable(package="tf1shim.estimator")
class TF1RMSprop(_TF1Slots, keras.optimizers.RMSprop):
  """Keras's RMSprop with TF1's start: the mean square ("rms" slot) begins
  at 1, not 0 (TF1's `RMSPropOptimizer` slot initializer). TF1's slots,
  named in the order TF1 made them, are Keras's: `RMSProp` the mean
  square, then (centered only) the mean gradient, then the momentum."""

  @property
  def TF1_SLOTS(self):  # pylint: disable=invalid-name
    if self.centered:
      return {"velocity": ("RMSProp", _same),
              "average_gradient": ("RMSProp_1", _same),
              "momentum": ("RMSProp_2", _same)}
    return {"velocity": ("RMSProp", _same), "momentum": ("RMSProp_1", _same)}

  def add_variable_from_reference(self, reference_variable, name=None,
                                  initializer="zeros"):
    if name == "velocity":
      initializer = "ones"
    return super().add_variable_from_reference(reference_variable, name,
                                               initializer)


@keras.saving.register_keras_serializable(package="tf1shim.estimator")
class TF1Ftrl(_TF1Slots, keras.optimizers.Ftrl):
  """Keras's Ftrl, TF1's update rule (ApplyFtrlV2: the shrinkage in the
  linear term only, `beta` added to l2 as beta / (2 lr)); TF1's `Ftrl` slot
  is the accumulator, `Ftrl_1` the linear term."""
  TF1_SLOTS = {"accumulator": ("Ftrl", _same), "linear": ("Ftrl_1", _same)}


@keras.saving.register_keras_serializable(package="tf1shim.estimator")
class TF1Adadelta(_TF1Slots, keras.optimizers.Adadelta):
  """Keras's Adadelta, TF1's update rule; TF1's `Adadelta` slot is the
  accumulated squared gradient, `Adadelta_1` the accumulated squared
  update."""
  TF1_SLOTS = {"accumulated_grad": ("Adadelta", _same),
               "accumulated_delta_var": ("Adadelta_1", _same)}


def load_tf1_slots(optimizer, variables, tf1_names, reader):
  """Sets `optimizer`'s slots (built for `variables`) from the TF1
  checkpoint `reader` (a `checkpoints.CheckpointReader`), by the slots' TF1
  names (`<tf1 name of the variable>/<slot>`). Returns the entries used;
  an optimizer that does not know its TF1 slots uses none."""
  if not isinstance(optimizer, _TF1Slots):
    return []
  used = []
  slots = _slots.get(optimizer, {})
  for variable, tf1_name in zip(variables, tf1_names):
    for name, slot in slots.get(variable.path, {}).items():
      suffix, convert = optimizer.TF1_SLOTS.get(name, (None, None))
      entry = "%s/%s" % (tf1_name, suffix)
      if suffix is None or entry not in reader:
        continue
      value = reader.read(entry)
      if tuple(value.shape) != tuple(slot.shape):
        raise ValueError(
            "The checkpoint's optimizer slot %s has shape %s, the model's "
            "variable %s %s." % (entry, value.shape, variable.path,
                                 tuple(slot.shape)))
      slot.assign(convert(value, optimizer))
      used.append(entry)
  optimizer.load_tf1_iterations(reader.read, reader.entries)
  return used


def _sgd(a):
  return TF1SGD(learning_rate=_learning_rate(
      "GradientDescentOptimizer", a["learning_rate"]))


def _momentum(a):
  return TF1SGD(
      learning_rate=_learning_rate("MomentumOptimizer", a["learning_rate"]),
      momentum=float(a["momentum"]), nesterov=bool(a["use_nesterov"]))


def _adam(a):
  # TF1's epsilon is Keras's: both add it to sqrt(v_hat) after the bias
  # correction folded into the learning rate.
  return TF1Adam(
      learning_rate=_learning_rate("AdamOptimizer", a["learning_rate"]),
      beta_1=float(a["beta1"]), beta_2=float(a["beta2"]),
      epsilon=float(a["epsilon"]))


def _adagrad(a):
  # TF1 divides by sqrt(accum) with no epsilon.
  return TF1Adagrad(
      learning_rate=_learning_rate("AdagradOptimizer", a["learning_rate"]),
      initial_accumulator_value=float(a["initial_accumulator_value"]),
      epsilon=0.0)


def _rmsprop(a):
  return TF1RMSprop(
      learning_rate=_learning_rate("RMSPropOptimizer", a["learning_rate"]),
      rho=float(a["decay"]), momentum=float(a["momentum"]),
      epsilon=float(a["epsilon"]), centered=bool(a["centered"]))


def _ftrl(a):
  if a["accum_name"] or a["linear_name"]:
    raise UnsupportedOptimizerError(
        "FtrlOptimizer with accum_name/linear_name: its slots are not TF1's "
        "default Ftrl, Ftrl_1; make it without them, or pass a Keras "
        "optimizer with EstimatorModel(..., optimizer=...).")
  return TF1Ftrl(
      learning_rate=_learning_rate("FtrlOptimizer", a["learning_rate"]),
      learning_rate_power=float(a["learning_rate_power"]),
      initial_accumulator_value=float(a["initial_accumulator_value"]),
      l1_regularization_strength=float(a["l1_regularization_strength"]),
      l2_regularization_strength=float(a["l2_regularization_strength"]),
      l2_shrinkage_regularization_strength=float(
          a["l2_shrinkage_regularization_strength"]),
      beta=float(a["beta"] or 0.0))


def _adadelta(a):
  return TF1Adadelta(
      learning_rate=_learning_rate("AdadeltaOptimizer", a["learning_rate"]),
      rho=float(a["rho"]), epsilon=float(a["epsilon"]))


# TF1 optimizer class -> Keras optimizer from its arguments.
KERAS_EQUIVALENTS = {
    _v1_train.FtrlOptimizer: _ftrl,
    _v1_train.AdadeltaOptimizer: _adadelta,
    _v1_train.GradientDescentOptimizer: _sgd,
    _v1_train.MomentumOptimizer: _momentum,
    _v1_train.AdamOptimizer: _adam,
    _v1_train.AdagradOptimizer: _adagrad,
    _v1_train.RMSPropOptimizer: _rmsprop,
}


def _supported_names():
  return ", ".join(cls.__name__ for cls in KERAS_EQUIVALENTS)


def keras_optimizer(record):
  """The Keras 3 optimizer of `record` (an `OptimizerUpdate`)."""
  for cls, make in KERAS_EQUIVALENTS.items():
    if type(record.optimizer) is cls:  # pylint: disable=unidiomatic-typecheck
      if not record.arguments:
        raise UnsupportedOptimizerError(
            "The model_fn's %s was made before tf1shim could see its "
            "arguments: call tf1shim.install() (or make the EstimatorModel) "
            "before making it, or make it inside the model_fn." %
            record.optimizer_name)
      return make(record.arguments)
  raise UnsupportedOptimizerError(
      "The model_fn's train_op uses %s, which tf1shim.estimator does not map "
      "to a Keras optimizer (it maps %s). Pass the Keras optimizer with the "
      "same update rule: EstimatorModel(..., optimizer=keras.optimizers....)."
      % (record.optimizer_name, _supported_names()))


def current():
  """The record of the running TRAIN-mode `model_fn` call, or None."""
  return getattr(_state, "record", None)


@contextlib.contextmanager
def recording(tape=None, trainable_variables=None):
  """While the block runs, train ops record into the yielded record;
  gradients go through `tape` (a `tf.GradientTape` recording the block),
  for the variables `trainable_variables()` gives when the model_fn names
  none (default: TF1's TRAINABLE_VARIABLES)."""
  install()
  outer = current()
  _state.record = TrainOpRecord()
  _state.record.tape = tape
  _state.record.trainable_variables = trainable_variables
  try:
    yield _state.record
  finally:
    _state.record = outer


def _record(optimizer, global_step, var_list, gradients):
  record = current()
  record.updates.append(
      OptimizerUpdate(optimizer, global_step, var_list, gradients))
  return TrainOp(record)


def _trainable(record, var_list):
  """The var_list of compute_gradients and minimize: TF1's default is
  every trainable variable of the graph, the model's here (Keras layers'
  too, which TF1's tf.keras put in TRAINABLE_VARIABLES)."""
  if var_list is not None:
    return list(var_list)
  if record.trainable_variables is not None:
    return list(record.trainable_variables())
  return list(tf.compat.v1.trainable_variables())


def _gradients(record, loss, var_list, grad_loss=None, required=True):
  """TF1's compute_gradients of `loss` for `var_list`, inside a model_fn
  call: through the call's tape (not recording its own work, so the
  model_fn goes on being recorded), or `tf.gradients` in a graph. None
  when neither is there and not `required` (nothing trains then)."""
  if callable(loss):
    loss = loss()
  if record.tape is not None:
    with record.tape.stop_recording():
      return record.tape.gradient(loss, var_list,
                                  output_gradients=grad_loss)
  if not tf.executing_eagerly():
    return tf.gradients(loss, var_list, grad_ys=grad_loss)
  if not required:
    return None
  raise UnsupportedOptimizerError(
      "compute_gradients was called in an eager model_fn call that no "
      "gradient tape records; call it in TRAIN mode through EstimatorModel.")


def _wrap_methods():
  original_minimize = _v1_train.Optimizer.minimize
  original_apply = _v1_train.Optimizer.apply_gradients
  original_compute = _v1_train.Optimizer.compute_gradients

  def minimize(self, loss, global_step=None, var_list=None, *args, **kwargs):
    record = current()
    if record is None:
      return original_minimize(self, loss, global_step, var_list, *args,
                               **kwargs)
    # TF1's minimize: compute_gradients of *this* loss, apply_gradients.
    var_list = _trainable(record, var_list)
    return _record(self, global_step, var_list,
                   _gradients(record, loss, var_list, required=False))

  def compute_gradients(self, loss, var_list=None, gate_gradients=1,
                        aggregation_method=None,
                        colocate_gradients_with_ops=False, grad_loss=None):
    record = current()
    if record is None:
      return original_compute(self, loss, var_list, gate_gradients,
                              aggregation_method,
                              colocate_gradients_with_ops, grad_loss)
    # TF1's pairs (gradient or None, variable), computed now: the model_fn
    # processes them (clipping, loss scaling) and passes them to
    # apply_gradients, whose gradients the training step applies.
    var_list = _trainable(record, var_list)
    return list(zip(_gradients(record, loss, var_list, grad_loss),
                    var_list))

  def apply_gradients(self, grads_and_vars, global_step=None, *args,
                      **kwargs):
    if current() is None:
      return original_apply(self, grads_and_vars, global_step, *args,
                            **kwargs)
    pairs = list(grads_and_vars)  # TF1 code passes zip(...) too
    return _record(self, global_step, [v for _, v in pairs],
                   gradients=[g for g, _ in pairs])

  _v1_train.Optimizer.minimize = minimize
  _v1_train.Optimizer.compute_gradients = compute_gradients
  _v1_train.Optimizer.apply_gradients = apply_gradients
  apply_gradients.tf1shim_recording = True
  _wrap_overrides_in_subclasses()


def _recording_override(original):
  """A subclass's own `apply_gradients` (BERT's AdamWeightDecayOptimizer's,
  a wrapper's), while a model_fn runs: it runs, and when it reaches the
  base class's (a wrapper clipping first), that records the update. One
  that makes its own slot variables in the training call (which the first
  call, PREDICT's, did not make) records its update instead, with the
  gradients given: the Keras optimizer passed as `optimizer=` applies it,
  and the global step advances only as the model_fn advances it itself
  (such an `apply_gradients` does not call TF1's)."""

  def apply_gradients(self, grads_and_vars, global_step=None, *args,
                      **kwargs):
    record = current()
    if record is None:
      return original(self, grads_and_vars, global_step, *args, **kwargs)
    pairs = list(grads_and_vars)
    count = len(record.updates)
    try:
      return original(self, pairs, global_step, *args, **kwargs)
    except variable_store.NewStateOnLaterCallError:
      del record.updates[count:]
      return _record(self, None, [v for _, v in pairs],
                     [g for g, _ in pairs])

  apply_gradients.__wrapped__ = original
  apply_gradients.__doc__ = original.__doc__
  apply_gradients.tf1shim_recording = True
  return apply_gradients


def _wrap_override(cls):
  own = cls.__dict__.get("apply_gradients")
  if own is not None and not getattr(own, "tf1shim_recording", False):
    cls.apply_gradients = _recording_override(own)


def _wrap_overrides_in_subclasses():
  """The subclasses' own `apply_gradients`, those defined already and
  those defined later (`__init_subclass__`)."""
  pending = list(_v1_train.Optimizer.__subclasses__())
  while pending:
    cls = pending.pop()
    _wrap_override(cls)
    pending.extend(cls.__subclasses__())

  def init_subclass(cls, **kwargs):
    super(_v1_train.Optimizer, cls).__init_subclass__(**kwargs)
    _wrap_override(cls)

  _v1_train.Optimizer.__init_subclass__ = classmethod(init_subclass)


def _wrap_group():
  """`tf.group` of the train op's markers is the marker: TF1 code groups
  its train op with other ops (`tf.group(minimize_op, update_ops)`, an
  `ExponentialMovingAverage.apply`). The other ops have run (eagerly) or
  run anyway (a traced step runs every stateful op)."""
  original = tf.group

  def group(*inputs, **kwargs):
    if current() is not None:
      for value in tf.nest.flatten(inputs):
        if isinstance(value, TrainOp):
          return value
    return original(*inputs, **kwargs)

  group.__wrapped__ = original
  group.__doc__ = original.__doc__
  # Every module object TF1 code reaches `group` through (`tf.compat.v1` and
  # `import tensorflow.compat.v1` may be two; see install.py).
  for module in (tf, tf.compat.v1, tf.compat.v2,
                 sys.modules.get("tensorflow.compat.v1"),
                 sys.modules.get("tensorflow.compat.v2"),
                 _tf_internal.generated_v1_api_module()):
    if getattr(module, "group", None) is original:
      module.group = group


def _wrap_init(cls):
  original = cls.__init__
  signature = inspect.signature(original)

  def __init__(self, *args, **kwargs):
    bound = signature.bind(self, *args, **kwargs)
    bound.apply_defaults()
    original(self, *args, **kwargs)
    # Only the class's own arguments: a subclass keeps its own record.
    if type(self) is cls:  # pylint: disable=unidiomatic-typecheck
      _arguments[self] = {k: v for k, v in bound.arguments.items()
                          if k != "self"}

  __init__.__wrapped__ = original
  __init__.__doc__ = original.__doc__
  cls.__init__ = __init__


def install():
  """Wraps the TF1 optimizer methods once (they record only inside
  `recording()`)."""
  global _installed
  if _installed:
    return
  _wrap_methods()
  _wrap_group()
  for cls in KERAS_EQUIVALENTS:
    _wrap_init(cls)
  _installed = True
