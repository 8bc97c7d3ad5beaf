"""`tf1shim.install()`: the guide's TF1 entry points, back on Keras 3."""

import sys
import types

import tensorflow as tf

from tf1shim import determinism
from tf1shim import layers
from tf1shim import tracking

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
  * `tf.compat.v1.layers.*` (Keras 3 refuses every one of them).

  Returns:
    None.
  """
  global _installed
  if _installed:
    return
  utils_module = tf.compat.v1.keras.utils  # Keras 3's keras.utils.
  for name, value in KERAS_UTILS.items():
    setattr(utils_module, name, value)
  _install_layers_module()
  _installed = True


def _missing_layer(name):
  if name.startswith("__"):
    raise AttributeError(name)
  raise AttributeError(
      "tf.compat.v1.layers.%s is not provided by tf1shim. It provides: %s. "
      "Replace it with its Keras 3 equivalent (keras.layers), or run this "
      "code under tf-keras (TF_USE_LEGACY_KERAS=1)." %
      (name, ", ".join(layers.LAYER_NAMES)))


def _install_layers_module():
  """Makes `tf.compat.v1.layers` (and its submodule) tf1shim's layers."""
  module = types.ModuleType(
      "tensorflow.compat.v1.layers",
      "TF1 layers, provided by tf1shim (tf1shim.layers).")
  for name in layers.LAYER_NAMES:
    setattr(module, name, getattr(layers, name))
  module.__getattr__ = _missing_layer
  tf.compat.v1.layers = module
  for module_name in ("tensorflow.compat.v1.layers",
                      "tensorflow._api.v2.compat.v1.layers"):
    sys.modules[module_name] = module

