"""Every private Keras 3 symbol tf1shim touches, in one place.

Checked against the installed Keras by `core/tests/private_api_test.py`.

Why each is needed:

* Keras 3 locks a layer's state once it is built, and the default `build()`
  runs before `call()`. TF1 code creates its variables inside `call()` on the
  first call, so tf1shim unlocks that one layer for its first decorated call
  only, and locks it again afterwards (`creating_state`, `track_variable`,
  `track_layer`).
* A Keras variable names its `tf.Variable` after the Keras name scopes;
  tf1shim's variables override `_initialize` to name it exactly as in TF1
  (`new_variable`). Unlike Keras's own, they are initialized at once even
  inside Keras's stateless scope (a symbolic build), after the Keras
  variables pending there (`initialize_all_variables`): TF1 code holds their
  `tf.Variable` (`storage_of`) from the moment it asks for them.
* `get_or_create_layer` builds its layer outside Keras's stateless scope
  (`outside_stateless_scope`), as TF1 code built it eagerly.
* Keras 3 draws random numbers through the backend module
  `keras.src.backend.tensorflow.random` (initializers, `keras.random.*`,
  Dropout); the deterministic random tool swaps its functions for TF's
  stateful ops inside its scope (`keras_random_as_tf_stateful_ops`). Draws
  made during Keras's symbolic shape inference only feed placeholders
  (`in_symbolic_trace`).
* Under a mixed dtype policy (`mixed_float16`), Keras 3 reads its float
  variables cast to the compute dtype while a layer's call runs (an
  `AutocastScope`, global state); TF1 code's variables (tf1_variable.py) are
  read the same way, so they ask for the scope's dtype (`autocast_dtype`).
  Batch normalization reads its float32 parameters uncast (`no_autocast`),
  as Keras's own does.
* A graph function run on an eager call (`graph_function=True`) returns
  the losses nested Keras layers add during its trace and puts their values
  back into those layers' loss lists (`call_loss_lists`), so `layer.losses`
  never holds a graph tensor.
* An Estimator model_fn's Momentum trains with TF1's update rule in a
  subclass of Keras's SGD, which finds a variable's slot as Keras's own
  optimizers do (`optimizer_variable_index`); a learning rate the model_fn
  computes per step is a schedule the training step feeds, found on the
  optimizer it was given to (`optimizer_learning_rate`: the public
  `learning_rate` property calls the schedule instead).
* Converting a checkpoint to `.weights.h5` walks the model with Keras's own
  writer (`saving_lib._save_state`, `saving_lib.H5IOStore`), so the file's
  layout is Keras's, but writes each variable's dataset itself, streamed
  from the checkpoint (`save_weights_from`).
"""

import contextlib

import keras
import tensorflow as tf
from keras.src import backend as _backend
from keras.src.backend.common import global_state as _global_state
from keras.src.backend.common import variables as _variables
from keras.src.backend.common import symbolic_scope as _symbolic_scope

from tf1shim import _tf_internal

_STATELESS_SCOPE_KEY = "stateless_scope"


@contextlib.contextmanager
def creating_state(layer):
  """Lets `layer` track new variables and sub-layers inside the block."""
  tracker = layer._tracker  # pylint: disable=protected-access
  was_locked = tracker.locked
  tracker.unlock()
  try:
    yield
  finally:
    if was_locked:
      layer._lock_state()  # pylint: disable=protected-access


def call_loss_lists(layer):
  """The lists where `layer` and its nested layers keep `add_loss` losses.

  A graph function run on an eager call (`tracking.py`) moves the losses
  its trace added there out (graph tensors) and puts their values back.
  """
  return [sublayer._losses for sublayer in layer._flatten_layers()]  # pylint: disable=protected-access


def is_state_locked(layer):
  return layer._tracker.locked  # pylint: disable=protected-access


def track_variable(layer, variable):
  """Adds `variable` to `layer.weights` (trainable or not, by its flag)."""
  layer._track_variable(variable)  # pylint: disable=protected-access


def track_layer(layer, sublayer):
  """Makes `sublayer` a tracked sub-layer of `layer` (weights, losses)."""
  layer._tracker.track(sublayer)  # pylint: disable=protected-access


@contextlib.contextmanager
def outside_stateless_scope():
  saved = _global_state.get_global_attribute(_STATELESS_SCOPE_KEY)
  _global_state.set_global_attribute(_STATELESS_SCOPE_KEY, None)
  try:
    yield
  finally:
    _global_state.set_global_attribute(_STATELESS_SCOPE_KEY, saved)


def keras_path_scope(path):
  """Makes Keras variables created inside get the path prefix `path`.

  `keras.name_scope` names may not contain `/`, so the last component is the
  scope's name and the rest its `override_parent` (an absolute prefix that
  replaces the enclosing layers' scopes). `path=""` means no prefix.
  """
  parent, _, leaf = path.rpartition("/")
  return keras.name_scope(leaf, override_parent=parent)


class _TF1NamedVariable(keras.Variable):
  """A Keras variable whose `tf.Variable` is named `<TF1 name>:0`.

  Keras names the `tf.Variable` after the Keras name scopes active when it
  is initialized, which may be later (variables created during a symbolic
  build are initialized when Keras leaves its stateless scope). The TF1 name
  is kept on the object and used whenever the value is created.
  """

  def __init__(self, *args, tf1_name, **kwargs):
    self._tf1_name = tf1_name
    super().__init__(*args, **kwargs)

  # The `tf.Variable` reads TF1 code calls on the variables it finds in
  # `model.weights` (the guide: `var.read_value()` on
  # `model.non_trainable_variables`). Keras's `value` stays Keras's property.
  def read_value(self):
    return tf.identity(self.value)

  def get_shape(self):
    return tf.TensorShape(self.shape)

  def sparse_read(self, indices, name=None):
    return tf.gather(self.value, indices, name=name)

  def _initialize(self, value):
    with tf.init_scope(), _tf_internal.root_name_scope():
      self._value = tf.Variable(
          value, dtype=self._dtype, trainable=self.trainable,
          name=self._tf1_name,
          aggregation=self._map_aggregation(self.aggregation),
          synchronization=self._map_synchronization(self.synchronization))


def storage_of(variable):
  """The `tf.Variable` holding a Keras 3 variable's value, or None while
  Keras has not initialized it (a variable made during a symbolic build).

  Keras's optimizers, `assign` and checkpoints all act on this object
  (`Variable._value` of the TensorFlow backend); its public `value` is a
  tensor (autocast, or a stateless scope's value), not the variable.
  """
  return variable._value  # pylint: disable=protected-access


def new_variable(path, initializer, shape, dtype, trainable=True,
                 aggregation=tf.VariableAggregation.NONE,
                 synchronization=tf.VariableSynchronization.AUTO):
  """A Keras variable with `path` == TF1 name and `tf.Variable` `path:0`.

  It is initialized at once, also inside Keras's stateless scope (a symbolic
  build, where Keras would defer it to the scope's exit): TF1 code gets the
  variable's storage (`tf1_variable.py`) and may keep it, e.g. a TF1 layer
  built in that pass and called again later. Keras variables made earlier in
  the same pass are initialized first, so initializers still draw in
  creation order.

  Args:
    path: the TF1 name without `:0`.
    initializer: `initializer(shape, dtype)` -> the initial value.
    shape: fully defined shape.
    dtype: the variable's dtype.
    trainable: whether it is trainable.
    aggregation: a `tf.VariableAggregation`.
    synchronization: a `tf.VariableSynchronization`.
  """
  parent, _, name = path.rpartition("/")
  with contextlib.ExitStack() as stack:
    if _backend.in_stateless_scope():
      stack.enter_context(outside_stateless_scope())
      stack.enter_context(tf.init_scope())
      _variables.initialize_all_variables()
    stack.enter_context(keras_path_scope(parent))
    return _TF1NamedVariable(
        initializer, shape=shape, dtype=tf.as_dtype(dtype).name,
        trainable=trainable, aggregation=_AGGREGATIONS[aggregation],
        synchronization=_SYNCHRONIZATIONS[synchronization], name=name,
        tf1_name=path)


def autocast_dtype():
  """The dtype Keras 3 casts float variables to on read now, or None.

  Set while a layer with a mixed policy (compute dtype != variable dtype)
  runs its call; a nested layer with another policy sets its own (or None).
  """
  scope = _backend.get_autocast_scope()
  if scope is None or scope.dtype is None:
    return None
  return tf.as_dtype(scope.dtype)


def no_autocast():
  """Inside, Keras 3 reads float variables uncast (what Keras does for a
  layer whose `autocast` is False)."""
  return _backend.AutocastScope(None)


def in_symbolic_trace():
  """Inside Keras's symbolic shape inference (`compute_output_spec`), where
  values are placeholders that are thrown away."""
  return _symbolic_scope.in_symbolic_scope() and not tf.executing_eagerly()


def _enum_map(enum, names):
  return {getattr(enum, k.upper()): k for k in names}


_AGGREGATIONS = _enum_map(tf.VariableAggregation,
                          ["none", "sum", "mean", "only_first_replica"])
_SYNCHRONIZATIONS = _enum_map(tf.VariableSynchronization,
                              ["none", "on_read", "on_write", "auto"])


def _dtype(dtype):
  return dtype or _backend.floatx()


def _noise_shape(inputs, noise_shape):
  if noise_shape is None:
    return None
  dynamic = tf.shape(inputs)
  return [dynamic[i] if d is None else d for i, d in enumerate(noise_shape)]


def _dropout(inputs, rate, noise_shape=None, seed=None):
  del seed
  if rate == 1.0:
    return tf.zeros_like(inputs)
  if rate == 0.0:
    return inputs
  return tf.nn.dropout(inputs, rate=rate,
                       noise_shape=_noise_shape(inputs, noise_shape))


def _shuffle(x, axis=0, seed=None):
  del seed
  if axis == 0:
    return tf.random.shuffle(x)
  perm = list(range(x.shape.rank))
  perm[0], perm[axis] = perm[axis], perm[0]
  return tf.transpose(tf.random.shuffle(tf.transpose(x, perm)), perm)


def _binomial(shape, counts, probabilities, dtype=None, seed=None):
  del seed
  # TF has no stateful binomial: a stateless one seeded from the sequence.
  pair = tf.random.uniform([2], maxval=2**31 - 1, dtype=tf.int32)
  return tf.random.stateless_binomial(
      shape, seed=pair, counts=counts, probs=probabilities,
      output_dtype=_dtype(dtype))


def _beta(shape, alpha, beta, dtype=None, seed=None):
  del seed
  first = tf.random.gamma(shape, alpha, dtype=_dtype(dtype))
  second = tf.random.gamma(shape, beta, dtype=_dtype(dtype))
  return first / (first + second)


# Keras's random backend functions, as stateful TF ops (seed from get_seed).
_STATEFUL_RANDOM = {
    "normal": lambda shape, mean=0.0, stddev=1.0, dtype=None, seed=None: (
        tf.random.normal(shape, mean=mean, stddev=stddev,
                         dtype=_dtype(dtype))),
    "uniform": lambda shape, minval=0.0, maxval=1.0, dtype=None, seed=None: (
        tf.random.uniform(shape, minval=tf.cast(minval, _dtype(dtype)),
                          maxval=tf.cast(maxval, _dtype(dtype)),
                          dtype=_dtype(dtype))),
    "truncated_normal": (
        lambda shape, mean=0.0, stddev=1.0, dtype=None, seed=None: (
            tf.random.truncated_normal(shape, mean=mean, stddev=stddev,
                                       dtype=_dtype(dtype)))),
    "randint": lambda shape, minval, maxval, dtype="int32", seed=None: (
        tf.cast(tf.random.uniform(shape, minval=minval, maxval=maxval,
                                  dtype=tf.int64), dtype)),
    "categorical": lambda logits, num_samples, dtype="int64", seed=None: (
        tf.cast(tf.random.categorical(logits, num_samples), dtype)),
    "dropout": _dropout,
    "shuffle": _shuffle,
    "gamma": lambda shape, alpha, dtype=None, seed=None: (
        tf.random.gamma(shape, alpha, dtype=_dtype(dtype))),
    "binomial": _binomial,
    "beta": _beta,
}


@contextlib.contextmanager
def keras_random_as_tf_stateful_ops():
  """Inside, Keras 3's random draws are TF stateful random ops."""
  module = _backend.random
  saved = {name: getattr(module, name) for name in _STATEFUL_RANDOM}
  try:
    for name, fn in _STATEFUL_RANDOM.items():
      setattr(module, name, fn)
    yield
  finally:
    for name, fn in saved.items():
      setattr(module, name, fn)


@contextlib.contextmanager
def marking_variable_initialization(context_factory):
  """Runs every Keras variable initialization inside `context_factory()`."""
  variable_class = _backend.Variable
  original = variable_class._initialize_with_initializer  # pylint: disable=protected-access

  def initialize(variable, initializer):
    with context_factory():
      return original(variable, initializer)

  variable_class._initialize_with_initializer = initialize  # pylint: disable=protected-access
  try:
    yield
  finally:
    variable_class._initialize_with_initializer = original  # pylint: disable=protected-access


def save_weights_from(model, path, write_variable, before_close=None):
  """Writes `model`'s `.weights.h5`, each variable's dataset by a callback.

  Keras's own writer walks the model, so the file is exactly what
  `model.save_weights` would write and `model.load_weights` reads. Where it
  would store a variable's value, `write_variable(variable, group, key)` is
  called instead and must create the h5py dataset `key` in `group` (the
  open h5py group where Keras puts that variable), with the variable's shape
  and dtype: the value can come from elsewhere, in pieces, and the variable
  need not hold it. `before_close()` runs before the file is closed.
  Returns {h5 dataset path: variable}.
  """
  import h5py  # pylint: disable=g-import-not-at-top
  from keras.src.saving import saving_lib  # pylint: disable=g-import-not-at-top
  written = {}

  class CallbackStore(saving_lib.H5IOStore):
    """Keras's H5 store, leaving variables' datasets to `write_variable`."""

    def _get_h5_file(self, path_or_io, mode=None):
      # The newest HDF5 format writes large datasets several times faster;
      # h5py (and so Keras) reads it like any other.
      return h5py.File(path_or_io, mode=mode or self.mode, libver="latest")

    def __setitem__(self, key, value):
      if not isinstance(value, keras.Variable):
        return super().__setitem__(key, value)
      if not self._h5_entry_initialized:
        self._create_h5_group(self._h5_entry_path)
      group = self._h5_entry_path
      written[(group + "/vars/" if group else "vars/") + key] = value
      write_variable(value, self._h5_entry_group, key)

  store = CallbackStore(path, mode="w")
  try:
    saving_lib._save_state(  # pylint: disable=protected-access
        model, weights_store=store, assets_store=None, inner_path="",
        visited_saveables=set())
  finally:
    try:
      if before_close is not None:
        before_close()
    finally:
      store.close()
  return written


# --- Keras optimizers (estimator/optimizers.py) -------------------------------


def optimizer_variable_index(optimizer, variable):
  """The index of `variable` in the slot lists a Keras optimizer's `build`
  made (`add_optimizer_variables`), as Keras's own `update_step`s use it."""
  return optimizer._get_variable_index(variable)  # pylint: disable=protected-access


def optimizer_learning_rate(optimizer):
  """What `optimizer` was given as its learning rate: a schedule itself,
  not its value (which the public `learning_rate` property computes)."""
  return optimizer._learning_rate  # pylint: disable=protected-access
