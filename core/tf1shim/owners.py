"""What a variable store needs from the object whose method is decorated.

A store creates TF1-named `tf.Variable`s; its owner decides how they become
part of the object: Keras 3 layers get Keras variables (in `layer.weights`,
regularized through `variable.regularizer`), `tf.Module`s and tf-keras layers
keep plain `tf.Variable`s. In every case the variables are also held, by TF1
name, in a `TF1Variables` container attribute, so that `tf.train.Checkpoint`
saves them and `tf.Module.variables` finds them.
"""

import contextlib
import sys

import keras
import tensorflow as tf

from tf1shim import _keras_internal
from tf1shim import _tf_internal
from tf1shim import determinism

CONTAINER_ATTRIBUTE = "_tf1_variables"


class TF1Variables(tf.Module):
  """The variables of one decorated object, by TF1 name (checkpoint deps)."""

  def __init__(self):
    super().__init__(name="tf1_variables")
    self.by_name = {}
    self.layers = {}


def _is_tf_keras_layer(obj):
  module = sys.modules.get("tf_keras")
  return module is not None and isinstance(obj, module.layers.Layer)


def owner_for(obj, method_name):
  """The owner adapter for `obj`, or a TypeError naming what is accepted."""
  if isinstance(obj, keras.layers.Layer):
    return KerasLayerOwner(obj)
  if _is_tf_keras_layer(obj):
    return TfKerasLayerOwner(obj)
  if isinstance(obj, tf.Module):
    return ModuleOwner(obj)
  raise TypeError(
      "track_tf1_style_variables decorates methods of a keras.layers.Layer "
      "(or keras.Model), a tf.Module, or a tf-keras Layer, but %s was called "
      "on an object of type %s.%s. Make the class subclass "
      "keras.layers.Layer or tf.Module, or remove the decorator." %
      (method_name, type(obj).__module__, type(obj).__qualname__))


class _Owner:
  """Common part: the container attribute and per-call losses."""

  # Whether losses are collected per call (`add_loss`), as Keras layers do,
  # rather than read from the store (`regularization_losses`).
  reports_losses_per_call = False
  # Whether TF1 code gets `tf1_variable` views of the variables (TF1's name
  # and API on the same storage) rather than the variables themselves.
  hands_tf1_views = True

  def __init__(self, obj):
    self.obj = obj

  def storage(self, variable):
    """The `tf.Variable` holding `variable`'s value (None: not yet made)."""
    return variable

  def adopt_tf1_view(self, name, view, variable):
    """`view`, what TF1 code gets for `variable`, now exists.

    Returns the owner's variable from now on.
    """
    del name, view
    return variable

  @property
  def container(self):
    container = getattr(self.obj, CONTAINER_ATTRIBUTE, None)
    if container is None:
      container = TF1Variables()
      setattr(self.obj, CONTAINER_ATTRIBUTE, container)
      container = getattr(self.obj, CONTAINER_ATTRIBUTE)
    return container

  def creating_state(self):
    return contextlib.nullcontext()

  def create_variable(self, name, initial_value, shape, dtype, trainable,
                      validate_shape, constraint, synchronization,
                      aggregation):
    """Creates the variable `name`; `initial_value` is a value or a thunk."""
    with tf.init_scope(), _tf_internal.root_name_scope(), \
        determinism.initializing_variables():
      variable = tf.Variable(
          initial_value=initial_value, name=name, trainable=trainable,
          dtype=dtype, validate_shape=validate_shape, constraint=constraint,
          synchronization=synchronization, aggregation=aggregation)
    self.container.by_name[name] = variable
    return variable

  def regularize(self, variable, regularizer):
    """Returns True if the owner itself reports this variable's loss."""
    del variable, regularizer
    return False

  def begin_call(self):
    """A new top-level call starts (Keras clears its own losses itself)."""

  def add_call_loss(self, loss):
    del loss

  def call_losses(self):
    return []

  def track_layer(self, name, layer):
    self.container.layers[name] = layer

  def dtype_policy(self):
    """The object's Keras dtype policy (mixed precision), or None."""
    return None


class KerasLayerOwner(_Owner):
  """A Keras 3 layer: Keras variables, `variable.regularizer`, `add_loss`."""

  reports_losses_per_call = True

  def dtype_policy(self):
    return self.obj.dtype_policy

  @contextlib.contextmanager
  def creating_state(self):
    with _keras_internal.creating_state(self.obj):
      yield
    # A decorated `__call__` bypasses Keras's build: the layer is built once
    # its first call created its state (no "unbuilt state" warnings later).
    if not self.obj.built:
      self.obj.built = True

  def create_variable(self, name, initial_value, shape, dtype, trainable,
                      validate_shape, constraint, synchronization,
                      aggregation):
    del validate_shape  # Keras variables always have a full shape.
    if callable(initial_value):
      initializer = lambda shape, dtype: initial_value()
    else:
      value = tf.convert_to_tensor(initial_value, dtype=dtype)
      shape, dtype = value.shape, value.dtype
      initializer = lambda shape, dtype: value
    variable = _keras_internal.new_variable(
        name, initializer, tuple(shape), dtype, trainable=trainable,
        aggregation=aggregation, synchronization=synchronization)
    if constraint is not None:
      variable.constraint = constraint  # Keras optimizers apply it.
    _keras_internal.track_variable(self.obj, variable)
    self.container.by_name[name] = variable
    return variable

  def storage(self, variable):
    return _keras_internal.storage_of(variable)

  def regularize(self, variable, regularizer):
    # Keras sums `variable.regularizer(variable)` over trainable weights into
    # `layer.losses` on every access: one live loss per variable.
    if variable.trainable:
      variable.regularizer = regularizer
      return True
    return False

  def add_call_loss(self, loss):
    self.obj.add_loss(loss)

  def track_layer(self, name, layer):
    super().track_layer(name, layer)
    if isinstance(layer, keras.layers.Layer):
      _keras_internal.track_layer(self.obj, layer)


class TfKerasLayerOwner(_Owner):
  """A tf-keras (Keras 2) layer: `tf.Variable`s and callable losses."""

  reports_losses_per_call = True
  # tf-keras tracks the variables its layers get from `get_variable` as their
  # weights (and checkpoints them): they must be the owned variables.
  hands_tf1_views = False

  def regularize(self, variable, regularizer):
    self.obj.add_loss(lambda: regularizer(variable))
    return True

  def add_call_loss(self, loss):
    self.obj.add_loss(loss)


class ModuleOwner(_Owner):
  """A tf.Module: `tf.Variable`s; losses via `regularization_losses`."""

  def __init__(self, obj):
    super().__init__(obj)
    self._call_losses = []

  def adopt_tf1_view(self, name, view, variable):
    # The module's variable *is* what TF1 code gets (a `tf.Variable` on the
    # same storage): `module.variables` and checkpoints find it here, so TF1
    # code keeping it (`self.w = get_variable(...)`, a TF1 layer's kernel)
    # adds no second variable.
    del variable
    self.container.by_name[name] = view
    return view

  def begin_call(self):
    self._call_losses = []

  def add_call_loss(self, loss):
    self._call_losses.append(loss)

  def call_losses(self):
    return list(self._call_losses)
