"""Every private Keras 3 symbol tf1shim touches, in one place.

Checked against the installed Keras by `core/tests/keras_internal_test.py`.

Why each is needed:

* Keras 3 locks a layer's state once it is built, and the default `build()`
  runs before `call()`. TF1 code creates its variables inside `call()` on the
  first call, so tf1shim unlocks that one layer for its first decorated call
  only, and locks it again afterwards (`creating_state`).
* Functional models run `call()` on symbolic inputs inside a `StatelessScope`,
  where Keras refuses to create variables. TF1 variables are created eagerly
  (lifted with `tf.init_scope`), so the creation itself steps out of the
  stateless scope (`outside_stateless_scope`).
* A Keras variable normally creates its own `tf.Variable`, named after the
  Keras name scopes. tf1shim creates the `tf.Variable` itself, named exactly
  as in TF1, and wraps it (`wrap_tf_variable`).
"""

import contextlib

import keras
import tensorflow as tf
from keras.src.backend.common import global_state as _global_state

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


def wrap_tf_variable(tf_variable, path):
  """A Keras variable around `tf_variable`, whose `path` is `path`.

  The Keras TensorFlow backend adopts a `tf.Variable` passed as initializer
  instead of creating a new one.
  """
  parent, _, name = path.rpartition("/")
  with keras_path_scope(parent):
    variable = keras.Variable(
        tf_variable,
        dtype=tf_variable.dtype.base_dtype.name,
        trainable=tf_variable.trainable,
        aggregation=_AGGREGATIONS[tf_variable.aggregation],
        synchronization=_SYNCHRONIZATIONS[tf_variable.synchronization],
        name=name)
  if variable.value is not tf_variable:
    raise RuntimeError(
        "tf1shim: this Keras version copied the tf.Variable %r instead of "
        "adopting it; tf1shim needs Keras 3's TensorFlow backend "
        "(KERAS_BACKEND=tensorflow)." % path)
  return variable


def _enum_map(enum, names):
  return {getattr(enum, k.upper()): k for k in names}


_AGGREGATIONS = _enum_map(tf.VariableAggregation,
                          ["none", "sum", "mean", "only_first_replica"])
_SYNCHRONIZATIONS = _enum_map(tf.VariableSynchronization,
                              ["none", "on_read", "on_write", "auto"])
