"""tf-slim 1.1.0 on TensorFlow 2.21 and Keras 3, unforked: `apply()`.

`tf1shim.install()` calls `apply()` when tf-slim is installed; it also works
on its own. Afterwards `tf_slim.layers`, `tf_slim.nets` (resnet_v1,
inception_v1, vgg, ...) and slim's train ops build and train in a TF1 graph
exactly as on TF1 (variable names, collections, `UPDATE_OPS`), and inside a
method decorated with `track_tf1_style_variables` on Keras 3 (the same
variable names; regularizers in `layer.losses`; moving averages updated by
training calls, eagerly and under `tf.function`).

Nothing of tf-slim is copied: `apply()` points module-level references at
working implementations. Every private tf-slim name that tf1shim's tf-slim
support touches is in this module; the private TensorFlow modules and names
it reaches are in `_tf_internal.py` (`layers_normalization`,
`eager_name_scope`, `assign_moving_average`), checked by
`core/tests/private_api_test.py`; the names TF 2.21 moved are restored from
their public names (`tf.Tensor`, `tf.compat.v1.cond`, ...: the same
objects). What is broken, and the repair:

1. `slim.batch_norm` takes `BatchNormalization` from
   `tensorflow.python.layers.normalization`, which lazily imports
   `tf_keras.legacy_tf_layers.normalization`: tf-keras moved that module
   under `tf_keras.src`, so the import fails, with or without
   `TF_USE_LEGACY_KERAS`. The lazy module is pointed at `tf1shim.layers`
   (TF1's `BatchNormalization`: fused kernel, `UPDATE_OPS` in a graph,
   updates during the call in TF2). `slim.conv2d` and slim's other layers
   work as they are: their TensorFlow modules import TensorFlow's own frozen
   copy of the TF1 layers (`tensorflow.python.keras.legacy_tf_layers`), which
   still exists.
2. TensorFlow 2.21 moved names out of the modules tf-slim imports them from
   (`ops.Tensor`, `ops.IndexedSlices`, `control_flow_ops.cond`,
   `array_ops.stack`, `variable_scope.variable`, ...): `slim.batch_norm`'s own
   paths (rank-2 inputs, `updates_collections=None`), `smart_cond` on a
   tensor, `optimize_loss`, gradient clipping and `local_variable` fail with
   AttributeError. The tf-slim modules listed in `_MOVED_NAMES` see their
   TensorFlow modules with those names back.
3. Under the shim in a Keras 3 layer, `get_variable` returns Keras 3
   variables (whose `dtype` is a string) where tf-slim expects `tf.Variable`s:
   * slim's regularizers (`l1_regularizer`, `l2_regularizer`,
     `l1_l2_regularizer`, `sum_regularizer`) read `weights.dtype.base_dtype`:
     the regularizers they make take a Keras 3 variable as its `tf.Variable`;
   * `slim.batch_norm`'s own moving averages call `assign_moving_average`,
     which takes the `tf.Variable` too;
   * adding a variable to `variables_collections` tests `var not in
     collection`, which compares Keras 3 variables elementwise: membership
     is by identity, as TF1 variables compared (and still do in a graph).
4. Eagerly, TF2 skips `ops.name_scope` (it yields None), so slim's pooling
   layers pass `None` as end-point alias and fail when their outputs are
   collected (`vgg_16`): tf-slim's layers get their name scopes eagerly too,
   as in TF1's eager mode.
5. Eagerly, graph collections are those of the one process-wide graph,
   which would keep every call's tensors alive: `convert_collection_to_dict`
   (how the nets make their `end_points`) empties the collection eagerly,
   and slim's layers put no update ops (already run) or outputs into
   collections eagerly.

In a TF1 graph, 2-5 change nothing (the restored names are the moved
objects themselves), and 1 makes `BatchNormalization` tf1shim's, checked
against tf-keras's legacy layer (slim_port/tests/slim_compat_test.py).
tf1shim's `BatchNormalization` runs slim's `renorm` and `adjustment` as
TF1 did. tf-slim's data module is not repaired; its metrics,
losses and evaluation modules need no repair in a TF1 graph, and
`slim.learning.train` needs only that of its `Supervisor`'s threads when
eager execution is on (`tf1shim.training_threads`, which `install()`
applies).
"""

import functools
import importlib
import sys
import types

import keras
import tensorflow as tf

from tf1shim import _tf_internal
from tf1shim import layers as _tf1shim_layers

# tf-slim's regularizer factories, and the modules that export them.
_REGULARIZER_FACTORIES = ("l1_regularizer", "l2_regularizer",
                          "l1_l2_regularizer", "sum_regularizer")
_REGULARIZER_MODULES = ("tf_slim.layers.regularizers", "tf_slim.layers",
                        "tf_slim")

_MOVED_OPS = {"Tensor": "Tensor", "IndexedSlices": "IndexedSlices"}

# tf-slim module -> {its TensorFlow module attribute -> {name it lacks: the
# public TensorFlow name of that object}}.
_MOVED_NAMES = {
    "tf_slim.layers.layers": {
        "ops": _MOVED_OPS,
        "array_ops": {"stack": "stack", "unstack": "unstack"},
    },
    "tf_slim.layers.utils": {
        "ops": _MOVED_OPS,
        "control_flow_ops": {"cond": "compat.v1.cond"},
    },
    "tf_slim.layers.optimizers": {"ops": _MOVED_OPS},
    "tf_slim.learning": {"ops": _MOVED_OPS},
    "tf_slim.training.training": {"ops": _MOVED_OPS},
    "tf_slim.ops.variables": {
        "variable_scope": {"variable": "compat.v1.Variable"}},
}

# Set on every replacement, so that `apply()` recognizes its own work.
_MARKER = "_tf1shim_slim_compat"


def apply():
  """Repairs tf-slim for TensorFlow 2.21 / Keras 3. Idempotent.

  Call it before slim code makes its regularizers (`slim.l2_regularizer`,
  the nets' `*_arg_scope()`): those made before are not repaired.
  `tf1shim.install()` calls it when tf-slim is installed.

  Example:

  >>> import tensorflow as tf, tf_slim as slim
  >>> from tf1shim import slim_compat
  >>> slim_compat.apply()
  >>> with tf.Graph().as_default():
  ...   out = slim.batch_norm(tf.ones([2, 4, 4, 3]))
  ...   print([v.op.name for v in tf.compat.v1.global_variables()])
  ['BatchNorm/beta', 'BatchNorm/moving_mean', 'BatchNorm/moving_variance']

  Raises:
    ModuleNotFoundError: tf-slim is not installed.
    RuntimeError: the installed tf-slim or TensorFlow lacks a module or name
      this repair is written for (it is written for tf-slim 1.1.0 and
      TensorFlow 2.21); nothing is changed then.
  """
  try:
    importlib.import_module("tf_slim")
  except ModuleNotFoundError as e:
    if e.name != "tf_slim":
      raise
    raise ModuleNotFoundError(
        "tf1shim.slim_compat.apply() repairs tf-slim, which is not "
        "installed: pip install tf-slim==1.1.0", name="tf_slim") from e
  replacements = _replacements()  # Checks everything, changes nothing.
  for module, name, value in replacements:
    setattr(module, name, value)


def is_applied():
  """Whether `apply()` has repaired the tf-slim of this process."""
  if "tf_slim" not in sys.modules:
    return False
  try:
    replacements = _replacements()
  except RuntimeError:
    return False
  return all(getattr(module, name) is value
             for module, name, value in replacements)


def _replacements():
  """[(module, attribute, new value)]: what `apply()` sets, all checked.

  Values already set by an earlier `apply()` are returned as they are, so
  applying twice changes nothing.
  """
  replacements = []

  def replace(module, attribute, make):
    if isinstance(module, str):
      module = _module(module)
    if attribute not in vars(module):
      raise _unsupported("%s has no %s" % (module.__name__, attribute))
    current = vars(module)[attribute]
    replacements.append(
        (module, attribute, current if _is_ours(current) else make(current)))

  # 1.
  try:
    normalization, attribute = _tf_internal.layers_normalization()
  except LookupError as e:
    raise _unsupported(str(e)) from e
  replace(normalization, attribute, lambda lazy: _tf1shim_layers)
  # 2., with 3. and 4. where tf_slim.layers.layers needs them.
  views = {
      module_name: {attribute: {name: _public(public_name)
                                for name, public_name in moved.items()}
                    for attribute, moved in attributes.items()}
      for module_name, attributes in _MOVED_NAMES.items()}
  layers_views = views["tf_slim.layers.layers"]
  layers_views["ops"].update(name_scope=_eager_name_scope,
                             get_collection=_identity_collection,
                             add_to_collections=_add_to_graph_collections)
  layers_views["moving_averages"] = {
      "assign_moving_average": _assign_moving_average}
  for module_name, attributes in views.items():
    for attribute, names in attributes.items():
      replace(module_name, attribute,
              functools.partial(_ModuleView, names=names))
  # 3.: every module that exports a factory gets the same repaired one.
  regularizers = _module(_REGULARIZER_MODULES[0])
  for name in _REGULARIZER_FACTORIES:
    factory = vars(regularizers).get(name)
    if factory is None:
      raise _unsupported("%s has no %s" % (regularizers.__name__, name))
    repaired = factory if _is_ours(factory) else _taking_keras_variables(
        factory)
    for module_name in _REGULARIZER_MODULES:
      module = _module(module_name)
      if vars(module).get(name) in (factory, repaired):
        replacements.append((module, name, repaired))
  # 5.
  replace("tf_slim.layers.utils", "convert_collection_to_dict",
          _clearing_eagerly)
  return replacements


class _ModuleView(types.ModuleType):
  """A TensorFlow module as a tf-slim module sees it: `names`, then its own."""

  def __init__(self, module, names):
    super().__init__(module.__name__, module.__doc__)
    vars(self).update(names)
    vars(self)["_tf1shim_module"] = module
    vars(self)[_MARKER] = True

  def __getattr__(self, name):
    return getattr(vars(self)["_tf1shim_module"], name)


# --- 3. Keras 3 variables where tf-slim expects tf.Variables ------------------


def _as_tf_variable(value):
  """A Keras 3 variable's `tf.Variable`; anything else as it is."""
  if isinstance(value, keras.Variable):
    return value.value
  return value


def _taking_keras_variables(factory):
  """A regularizer factory whose regularizers also take Keras 3 variables."""

  @functools.wraps(factory)
  def repaired_factory(*args, **kwargs):
    regularizer = factory(*args, **kwargs)

    @functools.wraps(regularizer)
    def repaired_regularizer(weights, *rest, **options):
      return regularizer(_as_tf_variable(weights), *rest, **options)

    return repaired_regularizer

  setattr(repaired_factory, _MARKER, True)
  return repaired_factory


def _assign_moving_average(variable, value, decay, zero_debias=True,
                           name=None):
  return _tf_internal.assign_moving_average(
      _as_tf_variable(variable), value, decay, zero_debias=zero_debias,
      name=name)


class _IdentityList(list):
  """A collection's items, where `in` means "is one of" (TF1's variables)."""

  def __contains__(self, item):
    return any(item is x for x in self)


def _identity_collection(key, scope=None):
  return _IdentityList(tf.compat.v1.get_collection(key, scope))


# --- 4. Name scopes in eager mode ----------------------------------------------


def _eager_name_scope(name, default_name=None, values=None,
                      skip_on_eager=True):
  """`ops.name_scope` that enters (and yields) the scope eagerly too."""
  del skip_on_eager  # TF1 named scopes in eager mode too.
  return _tf_internal.eager_name_scope(name, default_name, values)


# --- 5. Collections in eager mode ------------------------------------------------


def _add_to_graph_collections(names, value):
  """`ops.add_to_collections`, in graphs only (tf.function's included)."""
  if not tf.executing_eagerly():
    tf.compat.v1.add_to_collections(names, value)


def _clearing_eagerly(convert_collection_to_dict):
  """`convert_collection_to_dict` that empties the collection eagerly.

  In eager mode the collection lives in the process-wide graph and would
  grow by a whole set of activations on every call of the network.
  """

  @functools.wraps(convert_collection_to_dict)
  def repaired(collection, clear_collection=False):
    if tf.executing_eagerly():
      clear_collection = True
    return convert_collection_to_dict(collection,
                                      clear_collection=clear_collection)

  setattr(repaired, _MARKER, True)
  return repaired


# --- Helpers ------------------------------------------------------------------


def _is_ours(obj):
  # `__dict__`, not getattr: a lazy module would load on a missing attribute.
  return (obj is _tf1shim_layers or
          getattr(obj, "__dict__", {}).get(_MARKER) is True)


def _unsupported(what):
  return RuntimeError(
      "tf1shim.slim_compat is written for tf-slim 1.1.0 on TensorFlow 2.21, "
      "but here %s." % what)


def _module(name):
  try:
    return importlib.import_module(name)
  except ImportError as e:
    raise _unsupported("module %s is missing" % name) from e


def _public(name):
  """`tf.<name>` ("compat.v1.cond"): TensorFlow's public name of an object
  that tf-slim looks for in a private module it has left."""
  obj = tf
  for part in name.split("."):
    if not hasattr(obj, part):
      raise _unsupported("tf.%s is missing" % name)
    obj = getattr(obj, part)
  return obj
