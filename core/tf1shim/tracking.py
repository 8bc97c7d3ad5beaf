"""`track_tf1_style_variables` and the helpers used inside decorated methods."""

import functools

import keras
import tensorflow as tf

from tf1shim import _keras_internal
from tf1shim import _tf_internal
from tf1shim import determinism
from tf1shim import owners
from tf1shim import variable_store

_tf_internal.patch_variable_scope()


# Errors TensorFlow raises for graph-only TF1 habits run eagerly: the start
# of their message (`EagerTensor.name/op/graph`, `tf.gradients`).
_GRAPH_ONLY_ERRORS = (
    (AttributeError, "Tensor.name is undefined when eager execution"),
    (AttributeError, "Tensor.op is undefined when eager execution"),
    (AttributeError, "Tensor.graph is undefined when eager execution"),
    (RuntimeError, "tf.gradients is not supported when eager execution"),
    # tf.compat.v1.metrics.* and summary.merge_all: graph collections.
    (RuntimeError, "tf.metrics."),
    (RuntimeError, "Merging tf.summary.* ops is not compatible with eager"),
)
_NAMED_OPTION = "_tf1shim_names_graph_function"


def track_tf1_style_variables(method=None, *, graph_function=False):
  """Runs TF1 modeling code inside a method of a Layer or tf.Module.

  Inside the decorated method, `tf.compat.v1.get_variable`, `variable_scope`,
  `make_template` and the TF1 layers behave as in a TF1 graph: the first call
  creates the variables, with TF1's names; every later call reuses them. In a
  Keras 3 layer the variables are Keras variables (in `layer.weights`, with
  `variable.path` equal to the TF1 name) and regularizers appear in
  `layer.losses`. In a `tf.Module` they are `tf.Variable`s named as in TF1, in
  `module.variables`, and the module gets a `regularization_losses` property.

  In a TF1 graph (`tf.compat.v1.Graph`) the method runs unchanged, with the
  graph's own variable store and collections.

  Example:

  >>> import keras, tensorflow as tf, tf1shim
  >>> class DenseLayer(keras.layers.Layer):
  ...   def __init__(self, units, **kwargs):
  ...     super().__init__(**kwargs)
  ...     self.units = units
  ...   @tf1shim.track_tf1_style_variables
  ...   def call(self, inputs):
  ...     with tf.compat.v1.variable_scope("dense"):
  ...       kernel = tf.compat.v1.get_variable(
  ...           "kernel", [inputs.shape[-1], self.units],
  ...           regularizer=keras.regularizers.L2())
  ...       return tf.matmul(inputs, kernel)
  >>> layer = DenseLayer(3)
  >>> _ = layer(tf.ones([2, 4]))
  >>> [v.path for v in layer.weights], len(layer.losses)
  (['dense/kernel'], 1)

  With `graph_function=True` (`@track_tf1_style_variables(
  graph_function=True)`), an eager call runs the method as a graph function
  (a `tf.function`, one per object and method, without autograph), so TF1
  code that needs a graph works eagerly too: `tensor.name`, `tensor.op`,
  `tensor.graph`, `tf.gradients`, and `tf.while_loop`s (`dynamic_rnn`)
  that are one loop op as in TF1. Variables are created on its first trace.
  Python arguments (`training=True`/`False`, ...) trace it once per value;
  tensors trace it once per new shape and dtype (TensorFlow's default,
  static shapes as a TF1 graph with fixed placeholders). Calls that are
  already inside a graph (`tf.function`, `model.fit`, a Keras symbolic
  build) run the method directly, as without the option.

  Args:
    method: a method of a `keras.layers.Layer` subclass (including Models), a
      `tf.Module` subclass, or a tf-keras layer, taking `self` first.
    graph_function: whether eager calls run the method as a graph function
      (above). Keyword only; `@track_tf1_style_variables` without arguments
      keeps it off.

  Returns:
    The decorated method, with the original's signature (so Keras still
    passes `training` and `mask`).
  """
  if method is None:
    return functools.partial(track_tf1_style_variables,
                             graph_function=graph_function)
  if not callable(method):
    raise TypeError(
        "track_tf1_style_variables decorates a method; got %r. To set an "
        "option, pass it by name: @track_tf1_style_variables("
        "graph_function=True)." % (method,))
  description = getattr(method, "__qualname__", repr(method))

  @functools.wraps(method)
  def tracked_method(self, *args, **kwargs):
    if not tf.compat.v1.executing_eagerly_outside_functions():
      return method(self, *args, **kwargs)  # A real TF1 graph.
    store = store_of(self, description)
    if graph_function and tf.executing_eagerly():
      return _call_graph_function(store, method, self, args, kwargs)
    try:
      with store.calling():
        return method(self, *args, **kwargs)
    except (AttributeError, RuntimeError) as error:
      _raise_naming_graph_function(error, description)
      raise

  tracked_method.tf1shim_tracked = True
  tracked_method.tf1shim_graph_function = graph_function
  return tracked_method


def _raise_naming_graph_function(error, description):
  """Re-raises a graph-only error of an eager call with the fix, chained.

  Returns (so the caller re-raises `error` itself) for any other error,
  inside a graph, or when an inner decorated call already named the fix.
  """
  if not tf.executing_eagerly() or getattr(error, _NAMED_OPTION, False):
    return
  message = str(error)
  if not any(isinstance(error, error_type) and message.startswith(start)
             for error_type, start in _GRAPH_ONLY_ERRORS):
    return
  named = type(error)(
      "%s\n%s ran eagerly, and this TF1 code needs a graph (tensor.name, "
      ".op, .graph, tf.gradients, tf.compat.v1.metrics and "
      "summary.merge_all work only there). Decorate it with "
      "@track_tf1_style_variables(graph_function=True) (after "
      "tf1shim.install(): @tf.compat.v1.keras.utils."
      "track_tf1_style_variables(graph_function=True)) to run eager calls as "
      "a graph function, or call it inside tf.function." % (
          message, description))
  setattr(named, _NAMED_OPTION, True)
  raise named from error


def _call_graph_function(store, method, obj, args, kwargs):
  """An eager call of `method` run as `obj`'s graph function for it."""
  function = store.graph_functions.get(method)
  if function is None:
    function = tf.function(_traced_call(store, method, obj), autograph=False)
    store.graph_functions[method] = function
  with determinism.graph_function_call():
    outputs, call_losses, layer_losses = function(*args, **kwargs)
  store.replay_call_losses(call_losses)
  if layer_losses:
    loss_lists = _keras_internal.call_loss_lists(obj)
    for index, losses in layer_losses.items():
      loss_lists[index].extend(losses)
  return outputs


def _traced_call(store, method, obj):
  """The Python function of `obj`'s graph function for `method`.

  It returns the method's outputs and the call's losses: the decorated
  object's (`VariableStore.collecting_call_losses`) and those nested Keras
  layers added themselves (by their index in `_flatten_layers`), graph
  tensors that must not stay in the objects; the eager caller puts their
  values back.
  """
  def call(*args, **kwargs):
    # TensorFlow traces twice when the first trace creates variables (and
    # discards the first): the random tool replays the first trace's seeds.
    determinism.graph_function_traced()
    is_layer = isinstance(obj, keras.layers.Layer)
    lengths = {id(losses): len(losses) for losses in (
        _keras_internal.call_loss_lists(obj) if is_layer else [])}
    with store.collecting_call_losses() as call_losses:
      with store.calling():
        outputs = method(obj, *args, **kwargs)
    layer_losses = {}
    # Again: the first call may have created nested layers.
    for index, losses in enumerate(
        _keras_internal.call_loss_lists(obj) if is_layer else []):
      length = lengths.get(id(losses), 0)
      if len(losses) > length:
        layer_losses[index] = losses[length:]
        del losses[length:]
    return outputs, list(call_losses), layer_losses

  return call


def store_of(obj, description):
  """The variable store of `obj`, created on first use."""
  store = obj.__dict__.get(variable_store.STORE_ATTRIBUTE)
  if store is None:
    owner = owners.owner_for(obj, description)
    store = variable_store.VariableStore(owner, description)
    object.__setattr__(obj, variable_store.STORE_ATTRIBUTE, store)
    if isinstance(owner, owners.ModuleOwner):
      _give_regularization_losses_property(type(obj))
  return store


def own_store(obj):
  """The store `obj` has made for itself, or None."""
  return obj.__dict__.get(variable_store.STORE_ATTRIBUTE)


def active_store():
  """The tf1shim store of the innermost running decorated call, or None."""
  store = _tf_internal.current_variable_store()
  return store if _tf_internal.is_shim_store(store) else None


def get_or_create_layer(name, create_layer_method):
  """Creates a nested layer once and returns the same layer on later calls.

  For existing TF1 code that builds Keras layers or models inside the forward
  pass; new code should assign layers in `__init__`. The layer is tracked by
  the decorated object (its weights and losses), and its Keras variables are
  created with the current TF1 variable scope as path prefix.

  Args:
    name: the layer's name within the current variable scope.
    create_layer_method: a callable with no arguments returning the layer.

  Returns:
    The layer.
  """
  store = active_store()
  if store is None:
    if not tf.compat.v1.executing_eagerly_outside_functions():
      return create_layer_method()  # TF1 graph: no tracking, as in TF1.
    raise ValueError(
        "get_or_create_layer(%r) was called outside a method decorated with "
        "track_tf1_style_variables, so nothing would keep the layer between "
        "calls. Call it from the decorated call() of your Layer or Module." %
        name)
  return store.get_or_create_layer(name, create_layer_method)


def record_scope(scope_name):
  """Opens and closes `scope_name`, so later default names skip it.

  When a TF1 layer created without `name` is replaced by a native Keras layer,
  the TF1 layers after it would take its auto-generated name (`conv2d_1`
  becomes `conv2d`) and stop matching checkpoints. Recording the replaced
  layer's scope keeps their names.
  """
  with tf.compat.v1.variable_scope(scope_name):
    pass


def tf1_name(variable):
  """The TF1 name of a variable, e.g. `dense/kernel:0`.

  Works for Keras 3 variables (whose TF1 name is their path), `tf.Variable`s
  and distributed variables.
  """
  if isinstance(variable, keras.Variable):
    return variable.path + ":0"
  name = getattr(variable, "name", None)
  if name is None:
    raise TypeError("Expected a variable, got %r." % (variable,))
  return name


def _module_regularization_losses(module):
  """Regularization losses of TF1 variables in this module and its children."""
  losses = []
  seen = set()
  for obj in [module] + _tf_internal.module_descendants(
      module, lambda x: isinstance(x, (tf.Module, keras.layers.Layer))):
    if id(obj) in seen:
      continue
    seen.add(id(obj))
    if isinstance(obj, keras.layers.Layer):
      losses.extend(obj.losses)
      continue
    store = obj.__dict__.get(variable_store.STORE_ATTRIBUTE)
    if store is not None:
      losses.extend(store.regularization_losses())
  return losses


def _give_regularization_losses_property(module_class):
  if not hasattr(module_class, "regularization_losses"):
    module_class.regularization_losses = property(
        _module_regularization_losses,
        doc="Losses of the regularizers of TF1 variables (tf1shim).")
