"""What TF1 code gets from `get_variable` inside a decorated method.

A Keras 3 variable lacks most of the `tf.Variable` API (`read_value()`,
`value()`, `get_shape()`, `dtype.base_dtype`, `sparse_read`, `scatter_*`,
`tf.compat.v1.assign(var, ...)`, `assign_moving_average(var, ...)`) and is
named by its leaf (`w`), where TF1 code filters on `scope/w:0`. So TF1 code
gets a `TF1Variable`: a TensorFlow resource variable built around the *same*
resource handle as the Keras variable's storage. Whatever TF1 code does to it
(reads, assigns, gradients, `tf.function` captures) acts on the storage that
Keras's optimizer updates and checkpoints save; Keras keeps seeing its own
variable in `layer.weights`.

On top of TensorFlow's resource variable it behaves as a variable of a TF1
graph where TF2 differs:

* `name` is TF1's (`scope/w:0`) and `op.name` TF1's op name (`scope/w`);
  eagerly a variable has no op, so `op` is a small record (name, type,
  device) rather than a graph `Operation`.
* `==` and `hash` go by identity, as in TF1 graphs (TF2 compares eager
  variables elementwise and refuses to hash them), so `var in collection`,
  `set(variables)` and dicts keyed by variables work as in TF1.
* `initial_value` is the value of the variable's initializer, computed where
  it is asked for (a TF1 graph evaluates its initializer op wherever it is
  used); `initialized_value()` is the current value (a TF2 variable is
  always initialized).

Under a mixed dtype policy (`mixed_float16`), a float32 variable is read
(`value()`, `read_value()`, any use as a tensor) cast to the compute dtype
while a mixed Keras layer's call runs, exactly when Keras 3 casts its own
variables (its `AutocastScope`), so TF1 code computes in float16 on float32
storage. Its `dtype` stays the storage's (float32); variables of other
dtypes (an explicit `dtype=tf.float16` or `tf.float64`) are read as they are.
"""

import collections

import tensorflow as tf

from tf1shim import _keras_internal
from tf1shim import _tf_internal

VariableOp = collections.namedtuple("VariableOp", ["name", "type", "device"])


class _AutocastReads:
  """Reads of a float32 variable cast to the compute dtype while a mixed
  Keras layer's call runs (Keras 3's `AutocastScope`); identity equality and
  hashing as in TF1 graphs. A mixin before a TensorFlow variable class."""

  def _autocast_dtype(self):
    """The dtype reads are cast to now (a mixed policy's call), or None."""
    dtype = _keras_internal.autocast_dtype()
    if dtype is None or self.dtype != tf.float32 or dtype == self.dtype:
      return None
    return dtype

  def _maybe_autocast(self, value):
    dtype = self._autocast_dtype()
    return value if dtype is None else tf.cast(value, dtype)

  def value(self):
    return self._maybe_autocast(super().value())

  def read_value(self):
    return self._maybe_autocast(super().read_value())

  def _dense_var_to_tensor(self, dtype=None, name=None, as_ref=False):
    # Asked for float32 explicitly (or a reference): the storage's value.
    cast_to = self._autocast_dtype()
    if cast_to is not None and not as_ref and (
        dtype is None or tf.as_dtype(dtype) == cast_to):
      return tf.cast(super().value(), cast_to, name=name)
    return self._uncast_tensor(dtype, name, as_ref)

  def _uncast_tensor(self, dtype, name, as_ref):
    return super()._dense_var_to_tensor(dtype=dtype, name=name, as_ref=as_ref)

  def __eq__(self, other):
    return self is other

  def __ne__(self, other):
    return self is not other

  def __hash__(self):
    return id(self)


class TF1Variable(_AutocastReads, _tf_internal.BaseResourceVariable):
  """A `tf.Variable` on another variable's storage, with TF1's name.

  Args:
    storage: an eager resource variable (a Keras variable's `tf.Variable`, or
      a module's own variable).
    name: the TF1 name, without `:0`.
    initial_value_fn: a function with no arguments returning the initial
      value, or None if it is unknown.
  """

  def __init__(self, storage, name, initial_value_fn=None):
    super().__init__(handle_name=name,
                     **_tf_internal.same_storage_arguments(storage))
    self._tf1_initial_value_fn = initial_value_fn

  @property
  def op(self):
    return VariableOp(name=self.name[:-len(":0")], type="VarHandleOp",
                      device=self.device)

  @property
  def initial_value(self):
    if self._tf1_initial_value_fn is None:
      raise RuntimeError(
          "tf1shim: the initial value of variable %s is unknown (it was "
          "created outside tf.compat.v1.get_variable)." % self.name)
    return tf.convert_to_tensor(self._tf1_initial_value_fn(),
                                dtype=self.dtype)

  def _uncast_tensor(self, dtype, name, as_ref):
    if dtype is not None and not tf.as_dtype(dtype).is_compatible_with(
        self.dtype):
      raise ValueError(
          "Incompatible type conversion requested to type %s for "
          "tf.Variable of type %s. (Variable: %s)" %
          (tf.as_dtype(dtype).name, self.dtype.name, self.name))
    if as_ref:
      return super(_AutocastReads, self).read_value().op.inputs[0]
    return super(_AutocastReads, self).value()

  def initialized_value(self):
    # TensorFlow's version reads in an init_scope, which inside tf.function
    # would freeze the value at trace time.
    return self.read_value()


class _DistributedAutocastReads(_AutocastReads):
  """A distributed variable's operators (`w * 2`, `w[0]`) read the current
  replica's component directly (`_get_as_operand`); read it cast too."""

  def _get_as_operand(self):
    return self.value()


_DISTRIBUTED_VIEW_CLASSES = {}


def _distributed_view_class(variable_class):
  """`variable_class` (e.g. `MirroredVariable`) with autocast reads."""
  if variable_class not in _DISTRIBUTED_VIEW_CLASSES:
    _DISTRIBUTED_VIEW_CLASSES[variable_class] = type(
        "TF1" + variable_class.__name__,
        (_DistributedAutocastReads, variable_class), {"__module__": __name__})
  return _DISTRIBUTED_VIEW_CLASSES[variable_class]


def view_of(storage, name, initial_value_fn=None):
  """What TF1 code gets for a variable whose storage is `storage`.

  A `TF1Variable` for a plain eager resource variable. A distributed variable
  (MirroredStrategy) has one storage per replica, already TF1's name and the
  whole `tf.Variable` API, and TensorFlow's distribution code (e.g.
  `assign_moving_average` in a replica) requires the distributed variable
  itself: TF1 code gets an alias of it (the same object state) whose reads
  are cast under a mixed policy, as a `TF1Variable`'s are.
  """
  if _tf_internal.is_eager_resource_variable(storage):
    return TF1Variable(storage, name, initial_value_fn)
  if _tf_internal.is_distributed_variable(storage):
    return _tf_internal.distributed_variable_alias(
        storage, _distributed_view_class(type(storage)))
  return storage
