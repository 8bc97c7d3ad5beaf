"""Every private TensorFlow symbol tf1shim touches, in one place.

tf1shim routes TF1 `get_variable` calls into its own stores through the same
private hook the official shim uses (`variable_scope.with_variable_store`).
Everything here is checked by `core/tests/private_api_test.py` against the
installed TensorFlow, so a TensorFlow upgrade that moves one of these symbols
fails one small test instead of the whole shim. That includes the private
modules and names that `install.py` (TensorFlow's generated v1 API module)
and `slim_compat.py` (TensorFlow's own TF1 layers, name scopes and moving
averages as tf-slim 1.1.0 uses them) reach.

Two behaviours of TensorFlow are changed while (and only while) a tf1shim
store is the active variable store:

* `VariableScope` keeps the `reuse` flag it was given. In eager mode TensorFlow
  forces every scope to `AUTO_REUSE`, which hides TF1's reuse errors (the
  official shim's documented limitation). tf1shim applies TF1's graph-mode
  reuse rules itself, so it needs the real flag.
* `VariableScope.get_variable` forwards `reuse` to the store as TF1's graph
  mode does, instead of dropping it in eager mode.
* A `variable_scope` entered again (a `make_template`'s, kept across calls)
  enters the current call's scope store, not the one of the call that made
  it.

Outside tf1shim stores both fall through to TensorFlow's own code, except that
`get_variable` called in TF2 (eager or `tf.function`) with TensorFlow's plain
store warns: that store creates a fresh variable on every call, the classic
migration bug.
"""

import contextlib
import functools
import importlib
import sys
import threading
import warnings

import tensorflow as tf
from tensorflow.python.distribute import values as _distribute_values
from tensorflow.python.framework import ops as _ops
from tensorflow.python.framework import random_seed as _random_seed
from tensorflow.python.ops import resource_variable_ops as _rvo
from tensorflow.python.ops import variable_scope as _vs
from tensorflow.python.ops.losses import util as _losses_util
from tensorflow.python.training import checkpoint_utils as _checkpoint_utils

AUTO_REUSE = _vs.AUTO_REUSE
VariableScope = _vs.VariableScope

_VARSTORE_KEY = _vs._VARSTORE_KEY  # pylint: disable=protected-access
_VARSCOPESTORE_KEY = _vs._VARSCOPESTORE_KEY  # pylint: disable=protected-access
_VariableScopeStore = _vs._VariableScopeStore  # pylint: disable=protected-access

# Marker attribute set on tf1shim's store class.
SHIM_STORE_MARKER = "_is_tf1shim_store"

UNMANAGED_GET_VARIABLE_MESSAGE = (
    "tf.compat.v1.get_variable({name!r}) was called in TF2 (eager or inside "
    "tf.function) outside any method decorated with "
    "track_tf1_style_variables. TensorFlow then creates a new, freshly "
    "initialized variable on every call and nothing tracks or trains it. "
    "Decorate the Layer or tf.Module method that runs this code with "
    "@tf1shim.track_tf1_style_variables (or, after tf1shim.install(), "
    "@tf.compat.v1.keras.utils.track_tf1_style_variables)."
)


def is_shim_store(store):
  return getattr(store, SHIM_STORE_MARKER, False)


def current_variable_store():
  """The store `get_variable` would use now, or None. Never creates one."""
  stores = _ops.get_collection(_VARSTORE_KEY)
  return stores[0] if stores else None


def shim_store_active():
  return is_shim_store(current_variable_store())


def with_variable_store(store):
  """Routes `tf.compat.v1.get_variable` to `store` inside the block."""
  return _vs.with_variable_store(store)


@contextlib.contextmanager
def fresh_variable_scopes():
  """Runs the block with a new root variable scope and new scope counts.

  TF1 names layers by counting scopes in the graph (`dense`, `dense_1`, ...).
  In eager mode the counts live in one global graph and grow forever, so the
  second call of a model would name its layers `dense_2`, ... Each top-level
  decorated call therefore starts from counts of zero, exactly as each TF1
  graph did.
  """
  scope_stores = _ops.get_collection_ref(_VARSCOPESTORE_KEY)
  saved = list(scope_stores)
  scope_stores[:] = [_VariableScopeStore()]
  try:
    yield
  finally:
    scope_stores[:] = saved


def unique_variable_scope(prefix):
  """The name `variable_scope(None, default_name=prefix)` would take now."""
  return _vs._get_unique_variable_scope(prefix)  # pylint: disable=protected-access


def scoped_name(name):
  """`name` inside the current variable scope."""
  current = _vs.get_variable_scope().name
  return current + "/" + name if current else name


def variable_scope_count(scope_name):
  """How many times `scope_name` was opened under the current scope counts."""
  return _vs.get_variable_scope_store().variable_scope_count(scope_name)


# --- Patches of VariableScope, active only for tf1shim stores ---------------

_original_scope_init = VariableScope.__init__
_original_scope_get_variable = VariableScope.get_variable


_original_set_caching_device = VariableScope.set_caching_device

_PureVariableScope = _vs._pure_variable_scope  # pylint: disable=protected-access
_original_pure_scope_enter = _PureVariableScope.__enter__


@functools.wraps(_original_scope_init)
def _scope_init_keeping_reuse(self, reuse, *args, **kwargs):
  if not shim_store_active():
    _original_scope_init(self, reuse, *args, **kwargs)
    return
  # Eagerly TensorFlow refuses a scope's `caching_device`; TF1 code sets it
  # (and `variable_scope` copies it into nested scopes). The scope keeps it,
  # as in TF1; the store ignores it (TF2 reads a variable where it is used).
  caching_device = kwargs.pop("caching_device", None)
  _original_scope_init(self, reuse, *args, **kwargs)
  self._reuse = reuse  # pylint: disable=protected-access
  self._caching_device = caching_device  # pylint: disable=protected-access


@functools.wraps(_original_set_caching_device)
def _set_caching_device(self, caching_device):
  if not shim_store_active():
    _original_set_caching_device(self, caching_device)
    return
  self._caching_device = caching_device  # pylint: disable=protected-access


@functools.wraps(_original_scope_get_variable)
def _scope_get_variable(self, var_store, name, shape=None, dtype=None,
                        initializer=None, regularizer=None, reuse=None,
                        trainable=None, collections=None, caching_device=None,
                        partitioner=None, validate_shape=True,
                        use_resource=None, custom_getter=None, constraint=None,
                        synchronization=tf.VariableSynchronization.AUTO,
                        aggregation=tf.VariableAggregation.NONE):
  kwargs = dict(shape=shape, dtype=dtype, initializer=initializer,
                regularizer=regularizer, reuse=reuse, trainable=trainable,
                collections=collections, caching_device=caching_device,
                partitioner=partitioner, validate_shape=validate_shape,
                use_resource=use_resource, custom_getter=custom_getter,
                constraint=constraint, synchronization=synchronization,
                aggregation=aggregation)
  if not is_shim_store(var_store):
    if (tf.compat.v1.executing_eagerly_outside_functions() and
        not getattr(var_store, "_store_eager_variables", False)):
      full_name = self.name + "/" + name if self.name else name
      warnings.warn(UNMANAGED_GET_VARIABLE_MESSAGE.format(name=full_name),
                    UserWarning, stacklevel=3)
    return _original_scope_get_variable(self, var_store, name, **kwargs)
  return _scope_get_variable_as_in_graph(self, var_store, name, **kwargs)


def _scope_get_variable_as_in_graph(scope, var_store, name, *, shape, dtype,
                                    initializer, regularizer, reuse, trainable,
                                    collections, caching_device, partitioner,
                                    validate_shape, use_resource,
                                    custom_getter, constraint,
                                    synchronization, aggregation):
  """TensorFlow's graph-mode `VariableScope.get_variable`, for tf1shim stores.

  Mirrors `tensorflow/python/ops/variable_scope.py` with its eager branch
  (which discards `reuse`) removed.
  """
  if regularizer is None:
    regularizer = scope.regularizer
  if caching_device is None:
    caching_device = scope.caching_device
  if partitioner is None:
    partitioner = scope.partitioner
  if custom_getter is None:
    custom_getter = scope.custom_getter
  if reuse is None:
    reuse = scope.reuse
  full_name = scope.name + "/" + name if scope.name else name
  # Variable names depend on the variable scope only, not on the name scope.
  with _ops.name_scope(None, skip_on_eager=False):
    if (dtype is not None and initializer is not None and
        not callable(initializer)):
      init_dtype = _ops.convert_to_tensor(initializer).dtype.base_dtype
      if init_dtype != dtype:
        raise ValueError("Initializer type '%s' and explicit dtype '%s' "
                         "don't match." % (init_dtype, dtype))
    if initializer is None:
      initializer = scope.initializer
    if constraint is None:
      constraint = scope.constraint
    if dtype is None:
      dtype = scope.dtype
    return var_store.get_variable(
        full_name, shape=shape, dtype=dtype, initializer=initializer,
        regularizer=regularizer, reuse=reuse, trainable=trainable,
        collections=collections, caching_device=caching_device,
        partitioner=partitioner, validate_shape=validate_shape,
        use_resource=use_resource, custom_getter=custom_getter,
        constraint=constraint, synchronization=synchronization,
        aggregation=aggregation)


@functools.wraps(_original_pure_scope_enter)
def _pure_scope_enter_in_current_store(self):
  """Enters the scope in the scope store of the call that enters it.

  TensorFlow's `_pure_variable_scope` keeps the scope store of the moment it
  was made; a `variable_scope` context manager reuses it when entered again.
  A `tf.compat.v1.make_template` keeps such a context manager across calls,
  but each decorated call has its own store (`fresh_variable_scopes`): its
  second call would set the first call's store's scope and create its
  variables at the root scope. In a TF1 graph there is one store, and this
  changes nothing.
  """
  if shim_store_active():
    self._var_scope_store = _vs.get_variable_scope_store()  # pylint: disable=protected-access
  return _original_pure_scope_enter(self)


def patch_variable_scope():
  """Installs the VariableScope patches. Idempotent."""
  VariableScope.__init__ = _scope_init_keeping_reuse
  VariableScope.get_variable = _scope_get_variable
  VariableScope.set_caching_device = _set_caching_device
  _PureVariableScope.__enter__ = _pure_scope_enter_in_current_store


def variable_scope_patched():
  return (VariableScope.__init__ is _scope_init_keeping_reuse and
          VariableScope.get_variable is _scope_get_variable and
          VariableScope.set_caching_device is _set_caching_device and
          _PureVariableScope.__enter__ is _pure_scope_enter_in_current_store)


@contextlib.contextmanager
def replaced_get_seed(get_seed):
  """Stateful random ops take their seed pair from `get_seed(op_seed)`.

  TensorFlow's ops call `random_seed.get_seed` through the module, as
  TensorFlow's own DeterministicRandomTestTool relies on.
  """
  original = _random_seed.get_seed
  _random_seed.get_seed = get_seed
  try:
    yield
  finally:
    _random_seed.get_seed = original


def root_name_scope():
  """Clears the name scope: TF1 variable names ignore name scopes."""
  return _ops.name_scope(None, skip_on_eager=False)


def module_descendants(module, predicate):
  """Objects reachable from a tf.Module's attributes that match `predicate`.

  Unlike `module.submodules`, this also finds non-Module objects such as
  Keras 3 layers.
  """
  return list(module._flatten(predicate=predicate))  # pylint: disable=protected-access


def needs_no_arguments(fn):
  """Whether `fn` can be called without arguments (TF's own check)."""
  return _vs._needs_no_arguments(fn)  # pylint: disable=protected-access


# --- TF1 variable views (tf1_variable.py) ------------------------------------

# The class of TensorFlow's resource variables that can be built around an
# existing handle: a TF1 view shares its storage with a Keras variable.
BaseResourceVariable = _rvo.BaseResourceVariable


def is_eager_resource_variable(variable):
  """A single (not distributed) resource variable created eagerly."""
  return (isinstance(variable, _rvo.BaseResourceVariable) and
          not variable._in_graph_mode)  # pylint: disable=protected-access


def same_storage_arguments(storage):
  """`BaseResourceVariable.__init__` arguments for a second Python object on
  the storage (resource handle) of the eager resource variable `storage`.

  The handle is the same tensor, so reads, writes, gradients (the tape
  watches handles) and `tf.function` captures are those of `storage`; the
  resource lives as long as either object holds the handle.
  """
  return dict(
      trainable=storage.trainable, shape=storage.shape, dtype=storage.dtype,
      handle=storage.handle, constraint=storage.constraint,
      synchronization=storage.synchronization,
      aggregation=storage.aggregation,
      unique_id=storage._unique_id,  # pylint: disable=protected-access
      in_graph_mode=False)


def is_distributed_variable(variable):
  """A variable of a `tf.distribute` strategy (one storage per replica)."""
  return isinstance(variable, _distribute_values.DistributedVariable)


def distributed_variable_alias(variable, view_class):
  """A second Python object that *is* the distributed `variable`, of class
  `view_class` (a subclass of `type(variable)` overriding some reads).

  A distributed variable keeps all its state in its instance `__dict__`
  (per-replica components, strategy, policy) and its methods read it from
  `self`; the alias shares that very dict, so it reads, assigns, takes part in
  `strategy.extended.update` and `isinstance` checks exactly as the
  variable, with only `view_class`'s overrides added. A copy would not do:
  state set later (e.g. by a checkpoint restore) would not reach it.
  """
  alias = object.__new__(view_class)
  object.__setattr__(alias, "__dict__", variable.__dict__)
  return alias


# --- TensorFlow's generated v1 API modules (install.py) ---------------------

# The module TensorFlow generates for its v1 API: `tf.compat.v1` is it until
# an `import tensorflow.compat.v1` executes it again under that name.
_V1_API_MODULE = "tensorflow._api.v2.compat.v1"


def generated_v1_api_module():
  """TensorFlow's first v1 API module object, or None if not loaded."""
  return sys.modules.get(_V1_API_MODULE)


def v1_api_module_names(submodule):
  """The names `import` finds v1 API `submodule` (`"layers"`) under."""
  return ("tensorflow.compat.v1." + submodule,
          _V1_API_MODULE + "." + submodule)


# --- What tf-slim 1.1.0 reaches in TensorFlow 2.21 (slim_compat.py) ----------

# TensorFlow's own TF1 layers module whose lazily loaded attribute serves
# BatchNormalization/BatchNorm and batch_normalization/batch_norm (those of
# `slim.batch_norm`).
_LAYERS_NORMALIZATION = ("tensorflow.python.layers.normalization",
                         "normalization")


def layers_normalization():
  """(module, attribute) of the lazy `normalization` of TF's TF1 layers.

  Raises:
    LookupError: this TensorFlow has no such module or attribute.
  """
  module_name, attribute = _LAYERS_NORMALIZATION
  try:
    module = importlib.import_module(module_name)
  except ImportError as e:
    raise LookupError("module %s is missing" % module_name) from e
  if attribute not in vars(module):  # vars: a miss loads nothing lazily
    raise LookupError("%s has no %s" % (module_name, attribute))
  return module, attribute


def eager_name_scope(name, default_name=None, values=None):
  """TensorFlow's `ops.name_scope` that also enters (and yields) the scope
  eagerly, as TF1 code's name scopes did (TF2 skips it eagerly)."""
  return _ops.name_scope(name, default_name, values, skip_on_eager=False)


from tensorflow.python.training import moving_averages as _moving_averages  # pylint: disable=g-import-not-at-top,wrong-import-position

# TensorFlow's moving-average update (no public name;
# `tf.compat.v1.train.ExponentialMovingAverage` uses it).
assign_moving_average = _moving_averages.assign_moving_average


# --- Graph collections of a decorated call (graph_collections.py) -----------

_original_get_collection = _ops.Graph.get_collection
_original_get_collection_ref = _ops.Graph.get_collection_ref
_original_add_to_collection = _ops.Graph.add_to_collection
_original_add_loss = _losses_util.add_loss
_collection_router = None


@functools.wraps(_original_get_collection)
def _get_collection(self, name, scope=None):
  if _collection_router is not None:
    routed = _collection_router.get_collection(self, name, scope)
    if routed is not None:
      return routed
  return _original_get_collection(self, name, scope)


@functools.wraps(_original_get_collection_ref)
def _get_collection_ref(self, name):
  if _collection_router is not None:
    routed = _collection_router.get_collection_ref(self, name)
    if routed is not None:
      return routed
  return _original_get_collection_ref(self, name)


@functools.wraps(_original_add_to_collection)
def _add_to_collection(self, name, value):
  if _collection_router is not None and (
      _collection_router.add_to_collection(self, name, value)):
    return
  _original_add_to_collection(self, name, value)


@functools.wraps(_original_add_loss)
def _add_loss(loss, loss_collection=_ops.GraphKeys.LOSSES):
  # TensorFlow drops losses eagerly (a process-wide collection would leak);
  # a decorated call's collections live for that call, so it takes them.
  if (loss_collection and _collection_router is not None and
      tf.executing_eagerly() and _collection_router.add_to_collection(
          _ops.get_default_graph(), loss_collection, loss)):
    return
  _original_add_loss(loss, loss_collection)


def route_collections(router):
  """Lets `router` answer for graph collections before TensorFlow does.

  Every collection function of TensorFlow (`tf.compat.v1.get_collection`,
  `get_collection_ref`, `add_to_collection(s)`, `trainable_variables`,
  `global_variables`, ..., `losses.get_regularization_losses`) goes through
  these three methods of `Graph` (and `FuncGraph`, which inherits them).
  `router.get_collection(graph, name, scope)` and
  `router.get_collection_ref(graph, name)` return a list, or None to let
  TensorFlow answer; `router.add_to_collection(graph, name, value)` returns
  True when it took the value. Idempotent.

  `tf.compat.v1.losses.*` add their losses through `losses.util.add_loss`
  (exported as `tf.compat.v1.losses.add_loss`), which skips collections
  eagerly: eagerly, it offers them to `router` too.
  """
  global _collection_router
  _collection_router = router
  _ops.Graph.get_collection = _get_collection
  _ops.Graph.get_collection_ref = _get_collection_ref
  _ops.Graph.add_to_collection = _add_to_collection
  _losses_util.add_loss = _add_loss
  if tf.compat.v1.losses.add_loss is _original_add_loss:
    tf.compat.v1.losses.add_loss = _add_loss


def collections_routed():
  return (_ops.Graph.get_collection is _get_collection and
          _ops.Graph.get_collection_ref is _get_collection_ref and
          _ops.Graph.add_to_collection is _add_to_collection and
          _losses_util.add_loss is _add_loss and
          tf.compat.v1.losses.add_loss is _add_loss)


# --- Initial values of bare tf.Variables (variable_store.py) -----------------

from tensorflow.python.eager import lift_to_graph as _lift_to_graph  # pylint: disable=g-import-not-at-top,wrong-import-position

UnliftableError = _lift_to_graph.UnliftableError


def evaluate_lifted(tensor):
  """The value of a graph tensor, computed from a copy of its ops.

  For a `tf.Variable`'s initial value made inside a `tf.function` trace (as
  `tf.function` lifts its own variables' initializers): the ops it depends
  on are copied into a new graph and run there. Raises `UnliftableError` if
  they depend on a placeholder (the function's inputs or captures).
  """
  graph = tf.Graph()
  lifted = _lift_to_graph.lift_to_graph([tensor], graph)[tensor]
  with tf.compat.v1.Session(graph=graph) as session:
    return session.run(lifted)


# --- TF1 initializer objects (layers/utils.py) -------------------------------

# The module that defines TF1's initializer classes
# (`tf.compat.v1.initializers.*`, `tf.compat.v1.glorot_uniform_initializer`):
# the TF1 layers serialize their instances by class name.
_TF1_INITIALIZERS_MODULE = "tensorflow.python.ops.init_ops"


def is_tf1_initializer(obj):
  """Whether `obj` is an instance of one of TF1's initializer classes (not
  TF2's `tf.initializers` nor Keras's)."""
  return type(obj).__module__ == _TF1_INITIALIZERS_MODULE


# --- init_from_checkpoint (checkpoint_initializers.py) ----------------------

# `init_from_checkpoint` resolves its assignment map, then sets each found
# variable's initializer through this function; inside
# `checkpoint_initializers_recorded` the pairs go to a recorder instead.
_original_set_checkpoint_initializer = (
    _checkpoint_utils._set_variable_or_list_initializer)  # pylint: disable=protected-access
_checkpoint_initializer_recorder = threading.local()


def _set_or_record_checkpoint_initializer(variable_or_list, ckpt_file,
                                          tensor_name):
  record = getattr(_checkpoint_initializer_recorder, "record", None)
  if record is None:
    return _original_set_checkpoint_initializer(variable_or_list, ckpt_file,
                                                tensor_name)
  return record(variable_or_list, ckpt_file, tensor_name)


@contextlib.contextmanager
def checkpoint_initializers_recorded(record):
  """Inside, `tf.compat.v1.train.init_from_checkpoint` resolves its
  assignment map as TF1 did (against the current variable store, with its
  errors) and hands each (variable or partitions, checkpoint file, tensor
  name) to `record(...)` instead of setting the variable's initializer."""
  _checkpoint_utils._set_variable_or_list_initializer = (  # pylint: disable=protected-access
      _set_or_record_checkpoint_initializer)
  saved = getattr(_checkpoint_initializer_recorder, "record", None)
  _checkpoint_initializer_recorder.record = record
  try:
    yield
  finally:
    _checkpoint_initializer_recorder.record = saved


# --- ExponentialMovingAverage (estimator/moving_averages.py) -----------------


def moving_average_settings(ema):
  """(decay, num_updates) a `tf.train.ExponentialMovingAverage` was made
  with: its `apply` reads them, and the class has no public getter."""
  return ema._decay, ema._num_updates  # pylint: disable=protected-access


# --- The profiler's trace (comparison/op_profile.py) -------------------------


def parse_profiler_trace(serialized):
  """An `XSpace` proto from the bytes of a `*.xplane.pb` file that
  `tf.profiler.experimental` writes: TensorFlow has no public reader of its
  own trace format (TensorBoard's profile plugin reads it the same way)."""
  from tensorflow.tsl.profiler.protobuf import xplane_pb2  # pylint: disable=g-import-not-at-top
  space = xplane_pb2.XSpace()
  space.ParseFromString(serialized)
  return space
