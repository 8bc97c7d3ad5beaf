"""The variable store behind `tf.compat.v1.get_variable` in TF2.

One `VariableStore` per decorated object. While one of its methods runs, the
store is TensorFlow's active variable store, so `get_variable` (and every TF1
layer built on it) lands in `VariableStore.get_variable` with the full TF1
name, the scope's `reuse` flag and the usual arguments.

TF1 semantics, with "a call of the decorated method" in the role of "the
construction of a TF1 graph":

* The first call creates variables, exactly as TF1 would in a new graph.
* Later calls get the same variables back, by name.
* Within one call TF1's reuse rules hold: asking twice for a name without
  `reuse=True`/`AUTO_REUSE` raises TF1's "already exists, disallowed" error;
  `reuse=True` for a name the store does not have raises "does not exist".
* Shapes and dtypes must match on reuse.
* A later call that asks for a variable the first call did not create raises:
  the method took another code path, and Keras 3 would refuse the new state.

The owner (`owners.py`) keeps the variables (Keras variables in a Keras 3
layer); TF1 code gets a `tf1_variable.TF1Variable` on the same storage, and
each call lists what it got in that call's graph collections
(`graph_collections.py`).
"""

import contextlib
import functools
import inspect
import sys
import threading

import keras
import tensorflow as tf

from tf1shim import _keras_internal
from tf1shim import _tf_internal
from tf1shim import graph_collections
from tf1shim import tf1_variable

# Attribute under which a decorated object keeps its store. Set with
# `object.__setattr__` so that neither Keras nor TensorFlow tracks the store
# itself: its variables are tracked through the owner.
STORE_ATTRIBUTE = "_tf1shim_variable_store"

# Set while tf1shim itself (an owner, a `get_or_create_layer` layer) creates
# variables: the bare-variable creator (`VariableStore._variable_creator`)
# lets them through. Process-wide per thread, since a nested decorated call
# of another object has its own creator on the same stack.
_own_creation = threading.local()
# How many frames above a `tf.Variable` creator to look for the Keras (or
# tf-keras) code that creates it (`_created_by_keras`).
_KERAS_CREATION_FRAMES = 24


class NewStateOnLaterCallError(ValueError):
  """A decorated method asked for a variable or layer on a later call that
  its first call did not create."""


class VariableStore:
  """TF1-named variables of one decorated object.

  Args:
    owner: an `owners._Owner` adapter for the decorated object.
    description: how errors name the object (e.g. `MyLayer.call`).
  """

  _is_tf1shim_store = True  # see _tf_internal.SHIM_STORE_MARKER
  # TF's EagerTemplate (make_template in eager mode) nests its own store
  # inside the active one when that one stores eager variables.
  _store_eager_variables = True

  def __init__(self, owner, description):
    self._owner = owner
    self._description = description
    self._vars = {}  # TF1 name -> the owner's variable (Keras's, a module's)
    # TF1 name -> what TF1 code gets (tf1_variable.py), once the storage
    # exists; and the initial values TF1 code may ask for.
    self._tf1_views = {}
    self._initial_value_fns = {}
    self._names_of_views = {}  # id(view) -> TF1 name
    # TF1 name -> the graph collections TF1 puts it in, and the regularizer
    # whose loss goes to REGULARIZATION_LOSSES (graph_collections.py).
    self._collection_keys = {}
    self._collection_regularizers = {}
    self._names_by_scope = {}  # variable scope -> names of its variables
    self._unreported_regularizers = {}  # name -> (variable, regularizer)
    self._regularized = set()  # names of variables with a regularizer
    self._layers = {}  # get_or_create_layer: scoped name -> layer
    # TF1 functional layers (`tf.compat.v1.layers.dense(...)`) made on the
    # first call, by (class, variable scope), to call again on later calls.
    self._functional_layers = {}
    # Names of the variables TF1 code created with a bare `tf.Variable(...)`
    # (`tf.compat.v1.Variable`): global variables named by the name scope.
    self._bare_names = set()
    self._created_all = False
    # The decorated methods' graph functions (`graph_function=True` in
    # tracking.py): decorated method -> tf.function bound to the object.
    self.graph_functions = {}
    self._thread_state = threading.local()

  # --- What TensorFlow's variable-store protocol needs --------------------

  def get_variable(self, name, shape=None, dtype=tf.float32, initializer=None,
                   regularizer=None, reuse=None, trainable=None,
                   collections=None, caching_device=None, partitioner=None,
                   validate_shape=True, use_resource=None, custom_getter=None,
                   constraint=None,
                   synchronization=tf.VariableSynchronization.AUTO,
                   aggregation=tf.VariableAggregation.NONE):
    """TF1's `_VariableStore.get_variable` (see TF's docs for arguments)."""
    # caching_device: TF2 variables are read where they are; use_resource:
    # every TF2 variable is a resource variable.
    del caching_device, use_resource
    if custom_getter is not None and not callable(custom_getter):
      raise ValueError("Passed a custom_getter which is not callable: %s" %
                       custom_getter)
    try:
      dtype = dtype.base_dtype
    except AttributeError:
      pass

    def true_getter(name, shape=None, dtype=tf.float32, initializer=None,
                    regularizer=None, reuse=None, trainable=None,
                    partitioner=None, validate_shape=True, constraint=None,
                    synchronization=tf.VariableSynchronization.AUTO,
                    aggregation=tf.VariableAggregation.NONE, collections=None,
                    **unused):
      del unused  # caching_device, use_resource
      if partitioner is not None:
        raise ValueError(
            "Variable %s was requested with a partitioner (from get_variable "
            "or its variable_scope), but partitioned variables exist only in "
            "TF1 graphs. Remove the partitioner: the variable is then one "
            "variable of the full shape under the same TF1 name, which is "
            "also the name under which TF1 checkpoints store a partitioned "
            "variable (whole, the parts one after the other). If TF1 code "
            "looks it up with embedding_lookup's default "
            "partition_strategy='mod', its rows are then in another order: "
            "restore TF1 checkpoints with the rule '^NAME$ -> NAME | "
            "mod_partitions N' (N parts; tf1shim.checkpoints). In TF2, "
            "shard large variables with a tf.distribute strategy instead."
            % name)
      return self._get_single_variable(
          name, shape=shape, dtype=dtype, initializer=initializer,
          regularizer=regularizer, reuse=reuse, trainable=trainable,
          validate_shape=validate_shape, constraint=constraint,
          synchronization=synchronization, aggregation=aggregation,
          collections=collections)

    kwargs = dict(shape=shape, dtype=dtype, initializer=initializer,
                  regularizer=regularizer, reuse=reuse, trainable=trainable,
                  partitioner=partitioner, validate_shape=validate_shape,
                  constraint=constraint, synchronization=synchronization,
                  aggregation=aggregation)
    if custom_getter is None:
      return true_getter(name, collections=collections, **kwargs)
    kwargs.update(collections=collections, caching_device=None,
                  use_resource=True)
    if not _accepts(custom_getter, "constraint"):
      del kwargs["constraint"]
    return custom_getter(getter=true_getter, name=name, **kwargs)

  def variables(self):
    return list(self._vars.values())

  def trainable_variables(self):
    return [v for v in self._vars.values() if v.trainable]

  def non_trainable_variables(self):
    return [v for v in self._vars.values() if not v.trainable]

  # --- tf1shim's own API ---------------------------------------------------

  @property
  def variables_by_name(self):
    """TF1 name (without `:0`) -> variable, in creation order."""
    return {_op_name(name): v for name, v in self._vars.items()}

  def regularization_losses(self):
    """Losses the owner does not report itself (tf.Module owners).

    The regularizers of its variables, evaluated now, and the activity
    regularization losses of the last call.
    """
    return [regularizer(variable)
            for variable, regularizer in
            self._unreported_regularizers.values()] + self._owner.call_losses()

  def get_or_create_layer(self, name, create_layer):
    """The layer stored as `name` in the current variable scope."""
    scope_name = tf.compat.v1.get_variable_scope().name
    full_name = scope_name + "/" + name if scope_name else name
    if full_name in self._layers:
      return self._layers[full_name]
    self._check_may_create("layer", full_name)
    # Keras variables of the new layer get the TF1 scope as path prefix.
    with _keras_internal.outside_stateless_scope(), tf.init_scope(), \
        _keras_internal.keras_path_scope(scope_name), _creating_own():
      layer = create_layer()
    self._layers[full_name] = layer
    self._owner.track_layer(full_name, layer)
    return layer

  def dtype_policy(self):
    """The decorated object's Keras dtype policy, or None (not a Keras 3
    layer). TF1 layers without a dtype follow it when it is mixed."""
    return self._owner.dtype_policy()

  def functional_layer(self, key):
    """The functional layer kept under `key`, if not yet used in this call.

    A second use in the same call is a second TF1 layer with the same scope
    and must go through `get_variable` (and its reuse rules) itself.
    """
    used = self._thread_state.functional_used
    if key in used:
      return None
    layer = self._functional_layers.get(key)
    if layer is not None:
      used.add(key)
    return layer

  def keep_functional_layer(self, key, layer):
    self._thread_state.functional_used.add(key)
    self._functional_layers.setdefault(key, layer)

  @contextlib.contextmanager
  def calling(self, fresh_scopes=True):
    """Makes this store TensorFlow's variable store for one call.

    Args:
      fresh_scopes: start scope counts from zero, as in a new TF1 graph,
        unless another tf1shim store is already active (then this call is
        nested in that one's graph, as TF1 code nested in TF1 code).
    """
    if getattr(self._thread_state, "accessed", None) is not None:
      yield  # A decorated method of the same object calling another.
      return
    creating = not self._created_all
    nested = _tf_internal.shim_store_active()
    with contextlib.ExitStack() as stack:
      # TF1 code's graph collections: this call's (a nested call shares its
      # caller's); losses TF1 code adds to them are this object's losses.
      call_collections = stack.enter_context(graph_collections.of_call())
      stack.callback(setattr, call_collections, "on_regularization_loss",
                     call_collections.on_regularization_loss)
      call_collections.on_regularization_loss = self._add_owner_call_loss
      if creating:
        stack.enter_context(self._owner.creating_state())
      stack.enter_context(_tf_internal.with_variable_store(self))
      # A bare `tf.Variable(...)` of TF1 code is a variable of this object.
      stack.enter_context(tf.variable_creator_scope(self._variable_creator))
      self._owner.begin_call()
      if fresh_scopes and not nested:
        # After the store: the new root scope must see it to keep `reuse`.
        stack.enter_context(_tf_internal.fresh_variable_scopes())
        # And the root name scope, as in a TF1 graph: names TF1 code derives
        # from name scopes (tf-slim's end points, op names) are then TF1's,
        # without the Keras layer's own scope in front.
        stack.enter_context(_tf_internal.root_name_scope())
      self._thread_state.accessed = set()
      self._thread_state.functional_used = set()
      self._thread_state.op_names = set()  # bare variables' names, lowered
      # Bare variables are named by the name scope below this one: the root
      # for a top-level call; a nested call's Keras name scope may differ
      # between its first and later calls.
      self._thread_state.base_scope = tf.get_current_name_scope()
      try:
        yield
      finally:
        self._thread_state.accessed = None
        self._thread_state.functional_used = None
        self._thread_state.op_names = None
    if creating:
      self._created_all = True
    if self._owner.reports_losses_per_call:
      # Keras layers: add the losses Keras does not compute itself.
      for variable, regularizer in self._unreported_regularizers.values():
        self._add_owner_call_loss(regularizer(variable))

  def add_call_loss(self, loss):
    """A loss of this call only (TF1 activity regularization)."""
    call_collections = graph_collections.current()
    if call_collections is not None:
      call_collections.add(tf.compat.v1.GraphKeys.REGULARIZATION_LOSSES, loss)
    self._add_owner_call_loss(loss)

  def _add_owner_call_loss(self, loss):
    sink = getattr(self._thread_state, "call_loss_sink", None)
    if sink is not None:
      sink.append(loss)
    else:
      self._owner.add_call_loss(loss)

  @contextlib.contextmanager
  def collecting_call_losses(self):
    """Inside, this object's per-call losses go to the yielded list.

    For a graph function run on an eager call (`tracking.py`): the losses
    are tensors of the function's graph, which must not reach the owner
    (`layer.losses` read eagerly would hold graph tensors); the function
    returns them and `replay_call_losses` gives the owner their values.
    """
    saved = getattr(self._thread_state, "call_loss_sink", None)
    self._thread_state.call_loss_sink = sink = []
    try:
      yield sink
    finally:
      self._thread_state.call_loss_sink = saved

  def replay_call_losses(self, losses):
    """The owner gets `losses`, the values of a graph function's call."""
    self._owner.begin_call()
    for loss in losses:
      self._owner.add_call_loss(loss)

  # --- Internals -----------------------------------------------------------

  def _accessed(self):
    accessed = getattr(self._thread_state, "accessed", None)
    if accessed is None:
      raise RuntimeError(
          "tf1shim: variable store of %s used outside a call of it." %
          self._description)
    return accessed

  def _check_may_create(self, what, name):
    if self._created_all:
      raise NewStateOnLaterCallError(
          "%s tried to create the new %s %r on a later call. A method "
          "decorated with track_tf1_style_variables creates all its "
          "variables and layers on its first call and must ask for the same "
          "ones on every call; this call took another code path (a Python "
          "branch on the inputs, on `training` or on object state). Create "
          "everything on the first call, or move the optional part into a "
          "layer created in __init__. TF1 code that makes state in training "
          "only (slim.batch_norm(zero_debias_moving_mean=True), "
          "ExponentialMovingAverage.apply) needs a first call with "
          "training=True: call the model on a batch with training=True "
          "before predict, evaluate or a build call." % (
              self._description, what, name))

  def _get_single_variable(self, name, shape, dtype, initializer, regularizer,
                           reuse, trainable, validate_shape, constraint,
                           synchronization, aggregation, collections=None):
    accessed = self._accessed()
    initializing_from_value = (initializer is not None and
                               not callable(initializer))
    if shape is not None and initializing_from_value:
      raise ValueError("If initializer is a constant, do not specify shape.")
    dtype = tf.as_dtype(dtype)
    if shape is not None:
      shape = tf.TensorShape(shape)

    if name in self._bare_names:
      raise ValueError(
          "tf1shim: get_variable(%r) asks for the name of a variable TF1 code "
          "created with tf.Variable(...) in this decorated call. "
          "get_variable never shares a tf.Variable (in a TF1 graph it would "
          "create a second variable, renamed); give one of them another "
          "name." % name)
    if name in self._vars:
      found = self._vars[name]
      if reuse is not True and reuse is not _tf_internal.AUTO_REUSE and (
          name in accessed):
        raise ValueError(
            "Variable %s already exists, disallowed. Did you mean to set "
            "reuse=True or reuse=tf.AUTO_REUSE in VarScope?" % name)
      found_shape = tf.TensorShape(found.shape)
      if shape is not None and not shape.is_compatible_with(found_shape):
        raise ValueError(
            "Trying to share variable %s, but specified shape %s and found "
            "shape %s." % (name, shape, found_shape))
      # The storage's dtype: a Keras variable reports its autocast dtype
      # inside a mixed-policy call (float16 for a float32 variable).
      view = self._tf1_views.get(name)
      found_dtype = tf.as_dtype((view if view is not None else found).dtype)
      if not dtype.is_compatible_with(found_dtype):
        raise ValueError(
            "Trying to share variable %s, but specified dtype %s and found "
            "dtype %s." % (name, dtype.name, found_dtype.name))
      accessed.add(name)
      view = self.tf1_variable(name)
      self._list_in_collections(name, view,
                                self._collection_regularizers.get(name))
      return view

    if reuse is True:
      raise ValueError(
          "Variable %s does not exist, or was not created with "
          "tf.get_variable(). Did you mean to set reuse=tf.AUTO_REUSE in "
          "VarScope?" % name)
    self._check_may_create("variable", _op_name(name))

    if trainable is None:
      trainable = synchronization != tf.VariableSynchronization.ON_READ
    elif trainable and synchronization == tf.VariableSynchronization.ON_READ:
      raise ValueError(
          "Synchronization value can be set to "
          "VariableSynchronization.ON_READ only for non-trainable variables. "
          "You have specified trainable=True and "
          "synchronization=VariableSynchronization.ON_READ.")

    if initializer is None:
      if shape is None:
        raise ValueError(
            f"Variable {name} did not get an initializer, so its `shape` "
            "argument must be specified.")
      initializer = _default_initializer(name, dtype)
    initial_value, value_dtype = _initial_value(name, initializer, shape,
                                                dtype, initializing_from_value)
    with _creating_own():
      variable = self._owner.create_variable(
          _op_name(name), initial_value, shape, value_dtype,
          trainable=trainable,
          validate_shape=validate_shape, constraint=constraint,
          synchronization=synchronization, aggregation=aggregation)
    self._vars[name] = variable
    self._initial_value_fns[name] = _initial_value_fn(initial_value,
                                                      value_dtype)
    accessed.add(name)
    # TF1's VariableV1: GLOBAL_VARIABLES unless `collections` says otherwise,
    # and TRAINABLE_VARIABLES when trainable.
    keys = list(collections) if collections is not None else [
        tf.compat.v1.GraphKeys.GLOBAL_VARIABLES]
    if trainable and tf.compat.v1.GraphKeys.TRAINABLE_VARIABLES not in keys:
      keys.append(tf.compat.v1.GraphKeys.TRAINABLE_VARIABLES)
    self._collection_keys[name] = keys
    self._names_by_scope.setdefault(name.rpartition("/")[0], []).append(name)
    view = self.tf1_variable(name)
    self._list_in_collections(name, view)

    if regularizer is not None:
      self._regularize(name, variable, regularizer)
    return view

  # --- Bare `tf.Variable(...)` in TF1 code ----------------------------------

  def _variable_creator(self, next_creator, **kwargs):
    """`tf.variable_creator_scope` creator while a call of this store runs.

    TF1 code's own `tf.Variable(...)` / `tf.compat.v1.Variable(...)` becomes
    a variable of the decorated object (`_bare_variable`); variables tf1shim
    creates itself, and those Keras or tf-keras create for their layers and
    variables (a layer from `get_or_create_layer`, a Keras layer called in
    the method, a nested decorated layer), pass through untouched.
    """
    if (getattr(_own_creation, "depth", 0) or
        kwargs.get("variable_def") is not None or
        _created_by_keras(sys._getframe(1))):  # pylint: disable=protected-access
      return next_creator(**kwargs)
    return self._bare_variable(**kwargs)

  def _bare_variable(self, initial_value=None, name=None, trainable=None,
                     dtype=None, constraint=None,
                     synchronization=tf.VariableSynchronization.AUTO,
                     aggregation=tf.VariableAggregation.NONE,
                     collections=None, **unused):
    """A TF1 global variable: created on the first call, then returned.

    As in a TF1 graph, it is named by the current name scope (`Variable`,
    `scope/Variable`, `name=` replacing `Variable`), made unique among the
    names of this call (`Variable_1`, ...: TF1's op-name uniquification), so
    the n-th such variable of every call is the same variable. It is in
    GLOBAL_VARIABLES (or `collections=`) and, when trainable,
    TRAINABLE_VARIABLES; Keras sees a Keras variable with that path.
    """
    del unused  # shape, validate_shape, caching_device, use_resource, ...
    accessed = self._accessed()
    op_names = self._thread_state.op_names
    scope = tf.get_current_name_scope()
    base_scope = self._thread_state.base_scope
    if base_scope and (scope + "/").startswith(base_scope + "/"):
      scope = scope[len(base_scope) + 1:]
    base = (name or "Variable").rstrip("/")
    base = scope + "/" + base if scope else base
    full_name, i = base, 0
    while full_name.lower() in op_names or (
        full_name in accessed and full_name not in self._bare_names):
      i += 1
      full_name = "%s_%d" % (base, i)
    op_names.add(full_name.lower())
    if full_name in self._bare_names:
      accessed.add(full_name)
      view = self.tf1_variable(full_name)
      self._list_in_collections(full_name, view)
      return view
    if full_name in self._vars:
      raise ValueError(
          "tf1shim: tf.Variable(...) named %r in a decorated call takes the "
          "name of a variable TF1 code gets from get_variable later in the "
          "call. Give the tf.Variable another name." % full_name)
    self._check_may_create("variable", full_name)
    if trainable is None:
      trainable = synchronization != tf.VariableSynchronization.ON_READ
    value = _concrete_initial_value(initial_value, dtype, full_name)
    with _creating_own():
      # A thunk: the owner evaluates it where it creates the variable (the
      # eager value must not be captured into a tf.function's graph).
      variable = self._owner.create_variable(
          full_name, lambda: value, value.shape, value.dtype,
          trainable=trainable,
          validate_shape=True, constraint=constraint,
          synchronization=synchronization, aggregation=aggregation)
    self._vars[full_name] = variable
    self._bare_names.add(full_name)
    self._initial_value_fns[full_name] = lambda: value
    accessed.add(full_name)
    keys = list(collections) if collections is not None else [
        tf.compat.v1.GraphKeys.GLOBAL_VARIABLES]
    if trainable and tf.compat.v1.GraphKeys.TRAINABLE_VARIABLES not in keys:
      keys.append(tf.compat.v1.GraphKeys.TRAINABLE_VARIABLES)
    self._collection_keys[full_name] = keys
    view = self.tf1_variable(full_name)
    self._list_in_collections(full_name, view)
    return view

  def list_scope_variables(self, scope_name):
    """Lists the variables of `scope_name` in this call's collections.

    For a TF1 layer called again (built, so it asks `get_variable` for
    nothing): as in a new TF1 graph, its variables are listed where it is
    called.
    """
    for name in self._names_by_scope.get(scope_name, ()):
      self._list_in_collections(name, self.tf1_variable(name),
                                self._collection_regularizers.get(name))

  def _list_in_collections(self, name, view, regularizer=None):
    call_collections = graph_collections.current()
    if call_collections is not None:
      call_collections.add_variable(view, self._collection_keys[name],
                                    regularizer)

  def tf1_variable(self, name):
    """What TF1 code gets for the variable `name` (see tf1_variable.py).

    One object per variable, so that TF1 code comparing variables by
    identity (collections, reuse) sees one variable.
    """
    view = self._tf1_views.get(name)
    if view is not None:
      return view
    variable = self._vars[name]
    storage = self._owner.storage(variable)
    if not self._owner.hands_tf1_views or storage is None:
      return variable
    view = tf1_variable.view_of(storage, _op_name(name),
                                self._initial_value_fns[name])
    self._tf1_views[name] = view
    self._names_of_views[id(view)] = name
    self._vars[name] = self._owner.adopt_tf1_view(_op_name(name), view,
                                                  variable)
    return view

  def owner_variable(self, variable):
    """The owner's variable (e.g. Keras's) for what TF1 code got."""
    name = self._names_of_views.get(id(variable))
    if name is not None and self._tf1_views[name] is variable:
      return self._vars[name]
    return variable

  def add_regularizer(self, variable, regularizer):
    """Store protocol: a layer regularizing a variable it got from us.

    tf-keras's legacy layers (`tf.compat.v1.layers` under tf-keras) pass
    their regularizers here instead of to `get_variable`, on every call.
    """
    for name, known in self._vars.items():
      if known is variable or self._tf1_views.get(name) is variable:
        self._regularize(name, known, regularizer)
        return

  def _regularize(self, name, variable, regularizer):
    if name in self._regularized:
      return
    self._regularized.add(name)
    regularizer = resolve_regularizer(regularizer)
    if self._owner.hands_tf1_views:
      # TF1 regularizers take the TF1 variable (`weights.dtype.base_dtype`,
      # `weights.op.name`), wherever Keras evaluates them.
      regularizer = _OnTF1Variable(regularizer, variable,
                                   functools.partial(self.tf1_variable, name))
    # TF1 keeps no loss for a regularizer that returns None.
    if regularizer(variable) is None:
      return
    self._collection_regularizers[name] = regularizer
    call_collections = graph_collections.current()
    if call_collections is not None:
      call_collections.add_regularization(self.tf1_variable(name),
                                          regularizer)
    if not self._owner.regularize(variable, regularizer):
      self._unreported_regularizers[name] = (variable, regularizer)


@contextlib.contextmanager
def _creating_own():
  """Variables created inside are tf1shim's own (not bare TF1 variables)."""
  _own_creation.depth = getattr(_own_creation, "depth", 0) + 1
  try:
    yield
  finally:
    _own_creation.depth -= 1


def _op_name(name):
  """The TF1 name of the variable that `get_variable` full name `name` makes.

  TF1's variable takes `name` as a name scope (`ops.name_from_scope_name`):
  a full name ending in `/` names the variable without it. TensorFlow's
  slots do that: `slot_creator` asks for `""` in the scope `w/<slot>`
  (`ExponentialMovingAverage.apply` makes `w/ExponentialMovingAverage`),
  and the store keys it as TF1's did, `w/ExponentialMovingAverage/`.
  """
  return name[:-1] if name.endswith("/") else name


def _created_by_keras(frame):
  """Whether the `tf.Variable` being created belongs to Keras or tf-keras.

  Keras 3 creates a Keras variable's `tf.Variable` in its `_initialize`
  (also deferred, after a symbolic build); tf-keras in a layer's
  `add_weight` (and its optimizers' `add_slot`). Those variables are
  tracked by their layers (and a nested decorated layer's by its own
  store), so the creator leaves them alone.
  """
  tf_keras = sys.modules.get("tf_keras")
  for _ in range(_KERAS_CREATION_FRAMES):
    if frame is None:
      return False
    code_name = frame.f_code.co_name
    if code_name in ("_initialize", "add_weight", "add_slot"):
      owner = frame.f_locals.get("self")
      if isinstance(owner, (keras.Variable, keras.layers.Layer)) or (
          tf_keras is not None and isinstance(
              owner, (tf_keras.layers.Layer, tf_keras.optimizers.Optimizer))):
        return True
    frame = frame.f_back
  return False


def _concrete_initial_value(initial_value, dtype, name):
  """The eager value of a `tf.Variable`'s `initial_value` (or thunk).

  Inside a `tf.function` trace TF1 code's initial value is a graph tensor
  (`tf.zeros(...)`, `tf.truncated_normal(...)`): a constant one is folded,
  any other is computed from the ops it depends on, which must not depend on
  the function's inputs (TF1 would have needed a feed to initialize it).
  """
  if initial_value is None:
    raise ValueError("tf.Variable %s: initial_value must be specified." %
                     name)
  with tf.init_scope():
    if callable(initial_value):
      initial_value = initial_value()
  if tf.is_symbolic_tensor(initial_value):
    folded = tf.get_static_value(initial_value)
    if folded is not None:
      initial_value = folded
    else:
      try:
        initial_value = _tf_internal.evaluate_lifted(initial_value)
      except _tf_internal.UnliftableError as error:
        raise ValueError(
            "tf1shim: the initial value of tf.Variable %s depends on the "
            "inputs of the call (%s). A variable's initial value must be "
            "computable before the model runs, as in a TF1 graph without "
            "feeds; pass a value that does not depend on the inputs." %
            (name, error)) from error
  with tf.init_scope():
    return tf.convert_to_tensor(initial_value, dtype=dtype)


class _OnTF1Variable:
  """A regularizer of one variable, called with its TF1 view instead.

  Keras calls `variable.regularizer(variable)` (or with a stateless scope's
  value, which is passed on as it is).
  """

  def __init__(self, regularizer, variable, tf1_variable_fn):
    self.regularizer = regularizer
    self._variable = variable
    self._tf1_variable_fn = tf1_variable_fn

  def __call__(self, value):
    if value is self._variable:
      value = self._tf1_variable_fn()
    return self.regularizer(value)


def _initial_value_fn(initial_value, dtype):
  """`initial_value` (a thunk or a value) as a thunk."""
  if callable(initial_value):
    return initial_value
  return lambda: tf.convert_to_tensor(initial_value, dtype=dtype)


def resolve_regularizer(regularizer):
  """A callable regularizer from a callable, Keras name or Keras config."""
  if isinstance(regularizer, (str, dict)):
    return keras.regularizers.get(regularizer)
  if not callable(regularizer):
    raise TypeError(
        "A regularizer must be a callable taking a variable, a Keras "
        "regularizer name such as 'l2', or a Keras regularizer config; got "
        "%r." % (regularizer,))
  return regularizer


def _default_initializer(name, dtype):
  """TF1's default: Glorot uniform for floats, zeros for ints/bools/strings."""
  if dtype.is_floating:
    return tf.compat.v1.glorot_uniform_initializer()
  if dtype.is_integer or dtype.is_unsigned or dtype.is_bool or (
      dtype == tf.string):
    return tf.compat.v1.zeros_initializer()
  raise ValueError("An initializer for variable %s of %s is required" %
                   (name, dtype.base_dtype))


def _initial_value(name, initializer, shape, dtype, initializing_from_value):
  """(initial value or thunk, dtype for tf.Variable), as TF1 computes them."""
  if initializing_from_value:
    return initializer, None
  if inspect.isclass(initializer):
    initializer = initializer()
  if shape is not None and shape.is_fully_defined():
    if _accepts(initializer, "partition_info", via_kwargs=False):
      return functools.partial(initializer, shape.as_list(), dtype=dtype,
                               partition_info=None), dtype.base_dtype
    return functools.partial(initializer, shape.as_list(),
                             dtype=dtype), dtype.base_dtype
  if _tf_internal.needs_no_arguments(initializer):
    return initializer, None
  raise ValueError(
      "Variable %s: the initializer passed is not valid. It should be a "
      "callable with no arguments and the shape should not be provided or "
      "an instance of `tf.keras.initializers.*' and `shape` should be fully "
      "defined (got shape %s)." % (name, shape))


def _accepts(fn, argument, via_kwargs=True):
  """Whether `fn` takes `argument` by name (or through **kwargs)."""
  try:
    parameters = inspect.signature(fn).parameters
  except (TypeError, ValueError):
    return False
  return argument in parameters or (via_kwargs and any(
      p.kind == inspect.Parameter.VAR_KEYWORD for p in parameters.values()))
