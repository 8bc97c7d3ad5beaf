"""`Layer`: the base of the TF1 layers (`tf.compat.v1.layers.Layer`).

A TF1 layer is a Keras 3 layer whose variables come from
`tf.compat.v1.get_variable` under the layer's own variable scope, which it
picks on its first call the TF1 way (`dense`, `dense_1`, ... within the
enclosing scope). That one rule makes the same class work in three places:

* inside a method decorated with `track_tf1_style_variables`: the variables
  belong to the decorated object's store, under TF1 names;
* on its own in TF2 (eager, `tf.function`, Keras models): the layer is its own
  store and owns its variables;
* in a TF1 graph (`tf.compat.v1.Graph`): Keras 3's call machinery is skipped,
  variables and losses go to the graph's collections, and update ops (batch
  normalization) to `UPDATE_OPS`, as TF1 did.
"""

import contextlib

import keras
import tensorflow as tf

from tf1shim import tracking
from tf1shim.layers import utils


def in_tf1_graph():
  return not tf.compat.v1.executing_eagerly_outside_functions()


def _is_mixed(policy):
  return policy.compute_dtype != policy.variable_dtype


def mixed_policy():
  """The mixed Keras dtype policy TF1 layers without a dtype follow, or None.

  Inside a decorated Keras 3 layer's call, that layer's policy (its own
  `dtype=`, else Keras's global policy when it was made); outside decorated
  calls in TF2, Keras's global policy; never in a TF1 graph (TF1 layers
  ignored Keras's policies). Only mixed ones (compute dtype != variable
  dtype, e.g. `mixed_float16`) count.
  """
  if in_tf1_graph():
    return None
  store = tracking.active_store()
  policy = (store.dtype_policy() if store is not None else
            keras.config.dtype_policy())
  return policy if policy is not None and _is_mixed(policy) else None


def tf1_dtype_policy(inputs):
  """The dtype policy of a TF1 layer without a dtype, on its first call.

  TF1's rule (tf-keras's legacy base layer: an "_infer" policy, resolved in
  `_maybe_build` from the first input): variables and math take the first
  input's dtype, so a float16 input makes float16 variables. Under a mixed
  Keras policy (`mixed_policy()`) the layer takes that policy instead, as a
  Keras layer would: float32 variables read as float16. Non-float inputs
  (and non-tensors, whose dtype TF1 did not read either) infer nothing.
  Returns a Keras dtype policy, or None to keep the layer's.
  """
  policy = mixed_policy()
  if policy is not None:
    return policy
  first = tf.nest.flatten(inputs)[:1]
  if first and (tf.is_tensor(first[0]) or
                isinstance(first[0], keras.KerasTensor)):
    dtype = tf.as_dtype(first[0].dtype)
    if dtype.is_floating:
      return keras.DTypePolicy(dtype.name)
  return None


class Layer(keras.layers.Layer):
  """Base class of TF1 layers, with TF1's naming and variable scoping.

  Args:
    trainable: whether the layer's variables are trainable.
    name: the layer's TF1 name (the base of its variable scope); defaults to
      the snake-cased class name. Keras-style uniqueness is not needed: TF1
      scopes uniquify (`dense`, `dense_1`).
    dtype: the layer's dtype or Keras dtype policy. Default, as in TF1: that
      of the first input on the first call (`tf1_dtype_policy`), or the
      surrounding mixed policy (`mixed_policy`).
    **kwargs: Keras layer keyword arguments.
  """

  def __init__(self, trainable=True, name=None, dtype=None, **kwargs):
    scope = kwargs.pop("_scope", None)
    self._reuse = kwargs.pop("_reuse", None)
    if isinstance(name, tf.compat.v1.VariableScope):
      base_name = name.name
    else:
      base_name = name
    self._base_name = base_name or utils.to_snake_case(type(self).__name__)
    keras_name = (base_name or None) and base_name.replace("/", "_")
    super().__init__(trainable=trainable, name=keras_name, dtype=dtype,
                     **kwargs)
    self._scope = None
    self._in_variable_context = False
    self._tf1_infer_dtype = dtype is None
    if scope:
      with tf.compat.v1.variable_scope(scope) as captured_scope:
        self._scope = captured_scope

  @classmethod
  def from_config(cls, config):
    return cls(**{k: utils.deserialize(v) for k, v in config.items()})

  @property
  def scope_name(self):
    if self._scope is None:
      raise ValueError("No name available for layer scope because the layer "
                       "\"%s\" has not been used yet. The scope name is "
                       "determined the first time the layer instance is "
                       "called." % self._base_name)
    return self._scope.name

  def apply(self, *args, **kwargs):
    return self(*args, **kwargs)

  def _set_scope(self, scope=None):
    if self._scope is None:
      if self._reuse:
        with tf.compat.v1.variable_scope(
            scope if scope is not None else self._base_name) as captured:
          self._scope = captured
      else:
        with tf.compat.v1.variable_scope(
            scope, default_name=self._base_name) as captured:
          self._scope = captured

  def __call__(self, inputs, *args, **kwargs):
    scope = kwargs.pop("scope", None)
    if not self.built and self.__dict__.get("_tf1_infer_dtype"):
      policy = tf1_dtype_policy(inputs)
      if policy is not None and policy.name != self.dtype_policy.name:
        self.dtype_policy = policy
    with self._variable_context(scope):
      if not in_tf1_graph():
        return super().__call__(inputs, *args, **kwargs)
      # A TF1 graph: Keras 3's call machinery does not apply.
      inputs = tf.convert_to_tensor(inputs)
      utils.check_input_spec(self, inputs)  # as Keras's __call__ does in TF2
      if not self.built:
        self.build(inputs.shape)
      # TF1 named the layer's ops in the name scope its variable scope first
      # opened (`dense/MatMul`, `dense/Relu`; again `dense/MatMul_1`): code
      # fetches tensors by those names.
      with tf.compat.v1.name_scope(self._scope.original_name_scope):
        return self.call(inputs, *args, **kwargs)

  def build(self, input_shape):
    """Creates the variables under the layer's TF1 variable scope."""
    if self._in_variable_context:
      self.create_variables(input_shape)
      return
    # Called directly (`layer.build(shape)`, Keras's own build of a model).
    with self._variable_context():
      self.create_variables(input_shape)

  def create_variables(self, input_shape):
    """Subclasses create their variables here, with `add_tf1_variable`."""
    del input_shape

  @contextlib.contextmanager
  def _variable_context(self, scope=None):
    """The variable store and scope `get_variable` must see in this layer.

    Inside a decorated method, the decorated object's store; in a TF1 graph,
    the graph's; otherwise the layer is its own store. Scope counts stay the
    surrounding ones, so two unnamed layers are `dense` and `dense_1`.
    """
    with contextlib.ExitStack() as stack:
      if not in_tf1_graph() and tracking.active_store() is None:
        store = tracking.store_of(self, type(self).__name__)
        stack.enter_context(store.calling(fresh_scopes=False))
      self._set_scope(scope)
      reuse = True if self.built else self._reuse
      stack.enter_context(tf.compat.v1.variable_scope(
          self._scope, reuse=reuse, auxiliary_name_scope=False))
      if self.built and not in_tf1_graph():
        # Called again: its variables are listed in the decorated call's
        # graph collections here, as a new TF1 graph would list them.
        tracking.active_store().list_scope_variables(self._scope.name)
      outer, self._in_variable_context = self._in_variable_context, True
      try:
        yield
      finally:
        self._in_variable_context = outer

  def add_tf1_variable(self, name, shape, initializer=None, regularizer=None,
                       trainable=True, constraint=None, dtype=None,
                       synchronization=tf.VariableSynchronization.AUTO,
                       aggregation=tf.VariableAggregation.NONE):
    """Creates (or reuses) a variable the TF1 way, through `get_variable`."""
    if regularizer is not None and not callable(regularizer):
      regularizer = keras.regularizers.get(regularizer)
    variable = tf.compat.v1.get_variable(
        name, shape=shape, dtype=dtype or self.variable_dtype,
        initializer=utils.get_initializer(initializer),
        regularizer=regularizer,
        trainable=trainable and self.trainable, constraint=constraint,
        synchronization=synchronization, aggregation=aggregation)
    # TF1 code gets a TF1 view of the variable (tf1shim/tf1_variable.py); the
    # layer keeps the owner's variable, which Keras tracks and saves.
    store = tracking.active_store()
    return variable if store is None else store.owner_variable(variable)

  def add_weight(self, name=None, shape=None, dtype=None, initializer=None,
                 regularizer=None, trainable=None, constraint=None,
                 use_resource=None, synchronization=tf.VariableSynchronization.AUTO,
                 aggregation=tf.VariableAggregation.NONE, partitioner=None,
                 **kwargs):
    """TF1's `add_weight(name, shape, ...)`: `get_variable` in the layer's scope.

    TF1 layers (`tf.compat.v1.layers.Layer` subclasses) call it with the name
    first, where Keras 3's takes the shape first. Keras 3's keywords
    (`shape=`, `name=`, an initializer name) work too.
    """
    del use_resource  # Resource variables only, as in TF2.
    kwargs.pop("experimental_autocast", None)
    kwargs.pop("autocast", None)
    if kwargs:
      raise TypeError("%s.add_weight got unknown keyword arguments %s." %
                      (type(self).__name__, sorted(kwargs)))
    if not isinstance(name, str):
      raise TypeError(
          "%s.add_weight takes the variable's name first, as TF1's "
          "tf.compat.v1.layers.Layer.add_weight(name, shape, ...) does; got "
          "name=%r. Call add_weight('kernel', shape, ...), or pass name= and "
          "shape= by keyword." % (type(self).__name__, name))
    if partitioner is not None:
      raise ValueError(
          "%s.add_weight(%r): partitioned variables exist only in TF1 graphs; "
          "remove the partitioner." % (type(self).__name__, name))
    if trainable is None:
      trainable = synchronization != tf.VariableSynchronization.ON_READ
    context = (contextlib.nullcontext() if self._in_variable_context else
               self._variable_context())
    with context:
      return self.add_tf1_variable(
          name, shape, initializer=initializer, regularizer=regularizer,
          trainable=trainable, constraint=constraint, dtype=dtype,
          synchronization=synchronization, aggregation=aggregation)

  def add_variable(self, *args, **kwargs):
    """TF1's deprecated alias of `add_weight`, with the name first.

    TF1 layer code still calls it (`self.add_variable("bias", [n], ...)`);
    Keras 3's own `add_variable` takes the shape first.
    """
    return self.add_weight(*args, **kwargs)

  def add_loss(self, loss):
    """TF1's `add_loss`: a loss in `REGULARIZATION_LOSSES`.

    TF1 code reads a layer's losses from that collection
    (`tf.compat.v1.losses.get_regularization_losses()`). In a TF1 graph it
    goes there (and to the layer's `losses`); inside a decorated call, to the
    call's collection and the decorated object's `losses`, as the layer's
    activity losses do (TF1 code makes a new layer object on every call, so
    the layer's own list would be lost); a layer called on its own keeps it
    in its `losses`.
    """
    losses = [each() if callable(each) else each
              for each in (loss if isinstance(loss, (list, tuple))
                           else [loss])]
    if in_tf1_graph():
      for each in losses:
        tf.compat.v1.add_to_collection(
            tf.compat.v1.GraphKeys.REGULARIZATION_LOSSES, each)
    store = tracking.active_store()
    if store is not None and store is not tracking.own_store(self):
      for each in losses:
        store.add_call_loss(each)
      return
    super().add_loss(losses)

  def add_update(self, updates, inputs=None):
    """TF1's `add_update`: in a TF1 graph, the ops go to `UPDATE_OPS`.

    In TF2 an update op has already run when it is passed here (eagerly, or
    in order inside a `tf.function`), as tf1shim's batch normalization's
    do: nothing is listed, and a callable is called, as tf-keras did.
    `inputs` (TF1's conditional updates) is accepted and not used.
    """
    del inputs
    updates = updates if isinstance(updates, (list, tuple)) else [updates]
    for update in updates:
      if callable(update):
        update = update()
      if in_tf1_graph() and update is not None:
        self.__dict__.setdefault("_tf1_graph_updates", []).append(update)
        tf.compat.v1.add_to_collection(tf.compat.v1.GraphKeys.UPDATE_OPS,
                                       update)

  @property
  def updates(self):
    """The update ops this layer made in TF1 graphs (empty in TF2)."""
    return list(self.__dict__.get("_tf1_graph_updates", []))

  def add_activity_loss(self, outputs, activity_regularizer):
    """TF1's activity regularization: mean over the batch, one loss per call."""
    loss = activity_regularizer(outputs)
    batch_size = tf.cast(tf.shape(outputs)[0], loss.dtype)
    loss = loss / batch_size
    if in_tf1_graph():
      tf.compat.v1.add_to_collection(
          tf.compat.v1.GraphKeys.REGULARIZATION_LOSSES, loss)
    else:
      tracking.active_store().add_call_loss(loss)
