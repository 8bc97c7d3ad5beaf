"""TF1 graph collections inside a decorated call.

TF1 code reads the graph's collections to find its variables and losses:
`tf.compat.v1.trainable_variables()`, `global_variables()`,
`model_variables()`, `local_variables()`, `get_collection(...)`,
`tf.compat.v1.losses.get_regularization_loss(es)`, `get_total_loss()`. In
TF2 they read the one process-wide graph (eagerly) or the `tf.function`'s
graph, where nothing is ever added, so a model function adding
`tf.add_n(tf.compat.v1.losses.get_regularization_losses())` to its loss
silently trains without weight decay.

A decorated call plays the role of building a TF1 graph, so while it runs the
collections of the model's code — TF1's standard ones below and its own
(`tf.compat.v1.add_to_collection("activations", h)`), not TensorFlow's
bookkeeping — are those of that graph: the variables TF1 code got from
`get_variable` in this call, in the order it first got them (a variable is
listed once, on first use, as TF1 lists it on creation, and every call lists
them again, as each new TF1 graph did), with the collections TF1 would have
put them in; the regularization losses of those variables (computed when
first read, in the reader's graph), and whatever TF1 code adds itself
(`tf.compat.v1.add_to_collection`). Nested decorated calls share the
outermost call's collections (one TF1 graph). TensorFlow's bookkeeping
collections, and everything outside decorated calls or inside a real
`tf.compat.v1.Graph`, are TensorFlow's.

The hook is TensorFlow's `Graph.get_collection`, `get_collection_ref` and
`add_to_collection` (`_tf_internal.route_collections`), which every
collection function goes through.
"""

import contextlib
import re
import threading

import tensorflow as tf

from tf1shim import _tf_internal

_KEYS = tf.compat.v1.GraphKeys
# The collections a decorated call keeps for itself.
CALL_KEYS = frozenset([
    _KEYS.GLOBAL_VARIABLES, _KEYS.TRAINABLE_VARIABLES, _KEYS.MODEL_VARIABLES,
    _KEYS.LOCAL_VARIABLES, _KEYS.REGULARIZATION_LOSSES, _KEYS.LOSSES,
    _KEYS.UPDATE_OPS])

# TensorFlow's own bookkeeping, which must stay the graph's: private keys
# (variable store and scopes: tuples or `__...`; `_SUMMARY_V2`, ...) and these.
_INFRASTRUCTURE_KEYS = frozenset([
    _KEYS.COND_CONTEXT, _KEYS.WHILE_CONTEXT, _KEYS.TABLE_INITIALIZERS,
    _KEYS.RESOURCES, _KEYS.LOCAL_RESOURCES, _KEYS.ASSET_FILEPATHS,
    _KEYS.SAVEABLE_OBJECTS, _KEYS.SAVERS, _KEYS.INIT_OP, _KEYS.LOCAL_INIT_OP,
    _KEYS.READY_OP, _KEYS.READY_FOR_LOCAL_INIT_OP, _KEYS.QUEUE_RUNNERS,
    _KEYS.SUMMARY_OP, _KEYS.EVAL_STEP, _KEYS.TRAIN_OP])

_state = threading.local()


def _is_model_key(key):
  """A collection of the model's code (TF1's standard ones, or its own)."""
  return (key in CALL_KEYS or isinstance(key, str) and key and
          not key.startswith("_") and key not in _INFRASTRUCTURE_KEYS)


class _PendingLoss:
  """A variable's regularization loss, computed when first read."""

  def __init__(self, variable, regularizer):
    self.variable = variable
    self.regularizer = regularizer


class CallCollections:
  """The collections of one (outermost) decorated call."""

  def __init__(self):
    self._lists = {key: [] for key in CALL_KEYS}
    # Names for `scope=` filters of values that have none eagerly (a
    # regularization loss is named after its variable, as in TF1).
    self._names = {}
    self._listed = set()  # ids of variables listed in this call
    # Called with a loss TF1 code adds to REGULARIZATION_LOSSES itself.
    self.on_regularization_loss = None

  def add_variable(self, variable, keys, regularizer=None):
    """Lists `variable` in `keys` unless this call listed it already."""
    if id(variable) in self._listed:
      return
    self._listed.add(id(variable))
    for key in keys:  # `get_variable(collections=...)` may name any key.
      self._lists.setdefault(key, []).append(variable)
    if regularizer is not None:
      self.add_regularization(variable, regularizer)

  def add_regularization(self, variable, regularizer):
    """`regularizer(variable)` in REGULARIZATION_LOSSES, computed when read."""
    self._lists[_KEYS.REGULARIZATION_LOSSES].append(
        _PendingLoss(variable, regularizer))

  def answers_for(self, key):
    """Whether this call keeps the collection `key` (see `_routed`)."""
    return key in self._lists or _is_model_key(key)

  def add(self, key, value, name=None):
    self._lists.setdefault(key, []).append(value)
    if name is not None:
      self._names[id(value)] = name

  def get_ref(self, key):
    """The collection itself (TF1 code may change it), losses computed."""
    values = self._lists.setdefault(key, [])
    for i, value in enumerate(values):
      if isinstance(value, _PendingLoss):
        loss = value.regularizer(value.variable)
        if loss is None:  # TF1 keeps no loss for a regularizer giving None.
          values[i] = None
          continue
        self._names[id(loss)] = _name(value.variable)[:-len(":0")] + (
            "/Regularizer/")
        values[i] = loss
    values[:] = [v for v in values if v is not None]
    return values

  def get(self, key, scope=None):
    values = list(self.get_ref(key))
    if scope is None:
      return values
    regex = re.compile(scope)
    return [v for v in values
            if (self._names.get(id(v)) or _name(v)) is not None and
            regex.match(self._names.get(id(v)) or _name(v))]


def _name(value):
  try:
    return value.name
  except AttributeError:  # Eager tensors have no name; TF ignores them too.
    return None


def current():
  """The collections of the running decorated call, or None."""
  return getattr(_state, "collections", None)


@contextlib.contextmanager
def of_call():
  """Gives the block (a top-level decorated call) its own collections.

  Yields the collections; a nested call gets its caller's.
  """
  outer = current()
  if outer is not None:
    yield outer
    return
  _state.collections = CallCollections()
  try:
    yield _state.collections
  finally:
    _state.collections = None


def _routed(graph, key):
  """The call's collections, if they answer for `key` in `graph`."""
  call = current()
  if call is None or not call.answers_for(key):
    return None
  # A real TF1 graph built inside the call keeps its own collections.
  if not (tf.executing_eagerly() or graph.building_function):
    return None
  return call


class _Router:
  """What `_tf_internal.route_collections` asks before TensorFlow answers."""

  @staticmethod
  def get_collection(graph, key, scope):
    call = _routed(graph, key)
    return None if call is None else call.get(key, scope)

  @staticmethod
  def get_collection_ref(graph, key):
    call = _routed(graph, key)
    return None if call is None else call.get_ref(key)

  @staticmethod
  def add_to_collection(graph, key, value):
    call = _routed(graph, key)
    if call is None:
      return False
    call.add(key, value)
    if key == _KEYS.REGULARIZATION_LOSSES and call.on_regularization_loss:
      call.on_regularization_loss(value)
    return True


_tf_internal.route_collections(_Router)
