"""`tf.compat.v1.train.init_from_checkpoint` inside a decorated call.

TF1 code warm-starts from a pretrained checkpoint with
`init_from_checkpoint(path, {"bert/": "bert/"})` after building its
variables (BERT's model_fn, fine-tuning scripts, Estimator model_fns). In a
TF1 graph that replaced the variables' initializers: the checkpoint's
values arrived once, when the session initialized the variables, and a
later `Saver.restore` of a model_dir won. On TF 2.21 the function assigns
at once, on every call, which in a training step would reset the weights
at each step, and it fails on Keras variables.

Inside a decorated call (`install()` wraps the public function) it resolves
the assignment map with TensorFlow's own code against the call's variable
store (TF1's names and errors), then gives each variable its checkpoint
value once: in the first call that asks, eagerly (outside any trace),
unless the variable's value is already final — taken from a checkpoint
before, or restored by `checkpoints.restore_checkpoint`, which `settle`s
what it assigns. Outside decorated calls the function is TensorFlow's.
"""

import sys

import tensorflow as tf

from tf1shim import _tf_internal
from tf1shim import tracking

# Set on a variable whose value came from a checkpoint: TF1's initializer
# would not run again over it.
_FINAL = "_tf1shim_value_from_checkpoint"
_original = None


def settle(variables):
  """Marks `variables` as holding a checkpoint's values: a later
  `init_from_checkpoint` leaves them alone (as TF1's initializers did not
  run after a restore)."""
  for variable in variables:
    setattr(variable, _FINAL, True)


def is_settled(variable):
  return getattr(variable, _FINAL, False)


def init_from_checkpoint(ckpt_dir_or_file, assignment_map):
  """TF1's `init_from_checkpoint`; see the module docstring."""
  store = tracking.active_store()
  if store is None:
    return _original(ckpt_dir_or_file, assignment_map)
  found = []
  with _tf_internal.checkpoint_initializers_recorded(
      lambda variable, ckpt_file, name: found.append(
          (variable, ckpt_file, name))):
    _original(ckpt_dir_or_file, assignment_map)
  readers = {}
  with tf.init_scope():
    if not tf.executing_eagerly():
      raise ValueError(
          "init_from_checkpoint(%r) inside a decorated call in a TF1 graph: "
          "tf1shim gives the variables their checkpoint values eagerly. "
          "Call it in TF2 (eager or tf.function) code, or restore the "
          "checkpoint with tf1shim.checkpoints.restore_checkpoint."
          % (ckpt_dir_or_file,))
    for variable, ckpt_file, name in found:
      if isinstance(variable, (list, tuple)):
        raise ValueError(
            "init_from_checkpoint: %s is a partitioned variable, which "
            "tf1shim does not make; restore the checkpoint with "
            "tf1shim.checkpoints.restore_checkpoint and rules that join "
            "its parts." % name)
      # The owner's variable, for a TF1 view the map named (what
      # `restore_checkpoint` settles).
      variable = store.owner_variable(variable)
      if is_settled(variable):
        continue
      if ckpt_file not in readers:
        readers[ckpt_file] = tf.train.load_checkpoint(ckpt_file)
      variable.assign(readers[ckpt_file].get_tensor(name))
      settle([variable])
  return None


def install(v1_modules):
  """Makes `init_from_checkpoint` this module's in the `train` module of
  each of `v1_modules` (TensorFlow's v1 API module objects) and under the
  names `import` finds it, once."""
  global _original
  if _original is not None:
    return
  _original = tf.compat.v1.train.init_from_checkpoint
  init_from_checkpoint.__wrapped__ = _original
  train_modules = [getattr(m, "train", None) for m in v1_modules] + [
      sys.modules.get(name)
      for name in _tf_internal.v1_api_module_names("train")]
  for module in train_modules:
    if getattr(module, "init_from_checkpoint", None) is _original:
      module.init_from_checkpoint = init_from_checkpoint
