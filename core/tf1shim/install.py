"""`tf1shim.install()`: the guide's TF1 entry points, back on Keras 3."""

import functools
import importlib
import sys
import types
import warnings

import keras
import tensorflow as tf

from tf1shim import _tf_internal
from tf1shim import checkpoint_initializers
from tf1shim import determinism
from tf1shim import estimator
from tf1shim.distribute import multi_worker_repair
from tf1shim import layers
from tf1shim import rnn
from tf1shim import slim_compat
from tf1shim import tracking
from tf1shim import training_threads

_installed = False

# tf.compat.v1.keras.utils.<name> -> tf1shim's implementation.
KERAS_UTILS = {
    "track_tf1_style_variables": tracking.track_tf1_style_variables,
    "get_or_create_layer": tracking.get_or_create_layer,
    "DeterministicRandomTestTool": determinism.DeterministicRandomTestTool,
}


def install():
  """Points the TF1 APIs of the guide at tf1shim. Idempotent.

  Afterwards, unmodified TF1/guide code runs on Keras 3:

  * `tf.compat.v1.keras.utils.track_tf1_style_variables`,
    `get_or_create_layer` and `DeterministicRandomTestTool` (Keras 3 has
    none of them);
  * `tf.compat.v1.layers.*` (Keras 3 refuses every one of them);
  * `tf.compat.v1.nn.rnn_cell.*` (the same), tf1shim's `rnn` cells;
  * tf-slim, when it is installed: `tf1shim.slim_compat.apply()` repairs
    `slim.batch_norm` and what `tf_slim.layers` and `tf_slim.nets` need on
    TF 2.21 / Keras 3;
  * Keras 3's `model.fit`, `evaluate` and `predict` under
    `MultiWorkerMirroredStrategy` (`tf1shim.distribute.multi_worker_repair`);
  * `tf.estimator` and `tf.compat.v1.estimator` (gone since TF 2.16):
    `tf1shim.estimator`, what a `model_fn` uses, and `EstimatorModel`;
  * `tf.compat.v1.assign`, `assign_add` and `assign_sub` also take Keras 3
    variables (a TF1 layer's `self.kernel`, `model.weights`), whose `dtype`
    is a string where TensorFlow's functions read a `tf.DType`;
  * `tf.compat.v1.train.init_from_checkpoint` inside a decorated call gives
    the variables its assignment map names their checkpoint values once, as
    TF1's initializers did (`tf1shim.checkpoint_initializers`);
  * TF1's training threads (`Supervisor`'s, which `slim.learning.train`
    starts; any `tf.compat.v1.train.LooperThread`) run in graph mode, in
    the graph they were made in, as on TF1
    (`tf1shim.training_threads.repair()`).

  Returns:
    None.
  """
  global _installed
  if _installed:
    return
  utils_module = tf.compat.v1.keras.utils  # Keras 3's keras.utils.
  for name, value in KERAS_UTILS.items():
    setattr(utils_module, name, value)
  # The layers first: their `import tensorflow.compat.v1` must come before
  # tf-slim's (see _compat_v1_modules).
  _install_layers_module()
  _install_rnn_cell_module()
  _repair_tf_slim()
  _repair_multi_worker_fit()
  _install_estimator_module()
  _install_assign_functions()
  checkpoint_initializers.install(_compat_v1_modules())
  training_threads.repair()
  _installed = True


def _compat_v1_modules():
  """Every module object that code reaches as TF's v1 API.

  `tf.compat.v1` and `import tensorflow.compat.v1 as tf` (the usual TF1
  idiom, tf-slim's too) are not the same object: the import executes TF's
  v1 API module a second time, under that name, with its own `layers` set
  to Keras 3's refusing loader, and rebinds `tf.compat.v1` to it. Importing
  it here, before the layers are installed, makes both spellings reach them
  whatever is imported afterwards.
  """
  before = tf.compat.v1
  alias = importlib.import_module("tensorflow.compat.v1")
  # The first one, which code may have captured (`v1 = tf.compat.v1`)
  # before an `import tensorflow.compat.v1` rebound `tf.compat.v1`.
  original = _tf_internal.generated_v1_api_module() or before
  modules = []
  for module in (original, before, alias, tf.compat.v1):
    if all(module is not m for m in modules):
      modules.append(module)
  return modules


def _repair_tf_slim():
  """`slim_compat.apply()` if tf-slim is installed; never fails for it."""
  try:
    slim_compat.apply()
  except ModuleNotFoundError as e:
    if e.name != "tf_slim":
      raise
    # tf-slim is not installed: nothing to repair.
  except RuntimeError as e:
    # Another tf-slim or TensorFlow version: leave it alone, say so.
    warnings.warn("%s tf-slim is left as it is." % e, UserWarning,
                  stacklevel=3)


def _repair_multi_worker_fit():
  """`multi_worker_repair.apply()`; another Keras is left as it is, with a
  warning naming what it lacks."""
  try:
    multi_worker_repair.apply()
  except RuntimeError as e:
    warnings.warn(str(e), UserWarning, stacklevel=3)


# tf.compat.v1's state functions that read `ref.dtype` as a `tf.DType`.
ASSIGN_FUNCTIONS = ("assign", "assign_add", "assign_sub")


def _install_assign_functions():
  for v1_module in _compat_v1_modules():
    for name in ASSIGN_FUNCTIONS:
      function = getattr(v1_module, name)
      if not getattr(function, "_tf1shim_takes_keras_variables", False):
        setattr(v1_module, name, _taking_keras_variables(function, name))


def _taking_keras_variables(function, method_name):
  """`function(ref, value, ...)` that assigns a Keras 3 variable through its
  own `assign*` method, as TensorFlow's does for any resource variable."""

  @functools.wraps(function)
  def assign(ref, value, *args, **kwargs):
    if isinstance(ref, keras.Variable):
      return getattr(ref, method_name)(value)
    return function(ref, value, *args, **kwargs)

  assign._tf1shim_takes_keras_variables = True  # pylint: disable=protected-access
  return assign


def _replacement_module(api_name, source, names):
  """A module named `api_name` holding `source`'s `names`.

  Any other attribute raises an AttributeError that names what tf1shim
  provides and what to do (Keras 3's own loader says only "not available").
  """
  module = types.ModuleType(
      api_name, "TF1 API, provided by tf1shim (%s)." % source.__name__)
  for name in names:
    setattr(module, name, getattr(source, name))

  def missing(name):
    if name.startswith("__"):
      raise AttributeError(name)
    raise AttributeError(
        "%s.%s is not provided by tf1shim. It provides: %s. Replace it with "
        "its Keras 3 equivalent (keras.layers), or run this code under "
        "tf-keras (TF_USE_LEGACY_KERAS=1)." %
        (api_name.replace("tensorflow.", "tf.", 1), name, ", ".join(names)))

  module.__getattr__ = missing
  return module


def _install_layers_module():
  """Makes `tf.compat.v1.layers` (and its submodule) tf1shim's layers."""
  module = _replacement_module("tensorflow.compat.v1.layers", layers,
                               layers.LAYER_NAMES)
  for v1_module in _compat_v1_modules():
    v1_module.layers = module
  for module_name in _tf_internal.v1_api_module_names("layers"):
    sys.modules[module_name] = module


def _install_rnn_cell_module():
  """Makes `tf.compat.v1.nn.rnn_cell` (Keras 3's refusing loader) tf1shim's.

  TF 2.21 has no `tf.nn.rnn_cell` in its v2 API; TF1 code's `tf.nn.rnn_cell`
  is `tf.compat.v1.nn.rnn_cell` under `import tensorflow.compat.v1 as tf`,
  whose `nn` may be another module object than `tf.compat.v1.nn`.
  """
  module = _replacement_module("tensorflow.compat.v1.nn.rnn_cell", rnn,
                               rnn.CELL_NAMES)
  for v1_module in _compat_v1_modules():
    v1_module.nn.rnn_cell = module
  for module_name in _tf_internal.v1_api_module_names("nn.rnn_cell"):
    sys.modules[module_name] = module


def _install_estimator_module():
  """Makes `tf.estimator` and `tf.compat.v1.estimator` tf1shim.estimator."""
  module = _replacement_module("tensorflow.estimator", estimator,
                               estimator.API_NAMES)

  def missing(name):
    if name.startswith("__"):
      raise AttributeError(name)
    raise AttributeError(estimator.missing_api_message(name))

  module.__getattr__ = missing
  # TF1 optimizers, metrics and moving averages record inside
  # EstimatorModel's model_fn calls: an optimizer made before (in `params`)
  # must be seen too.
  estimator.optimizers.install()
  estimator.metrics.install()
  estimator.moving_averages.install()
  tf.estimator = module
  for module_name in ("tensorflow.estimator",) + (
      _tf_internal.v1_api_module_names("estimator")):
    sys.modules[module_name] = module
    sys.modules[module_name + ".export"] = estimator.export
    sys.modules[module_name + ".tpu"] = estimator.tpu
  for v1_module in _compat_v1_modules():
    v1_module.estimator = module
