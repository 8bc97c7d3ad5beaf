"""TF1's functional layer interface (`tf.compat.v1.layers.dense(x, ...)`)."""

import inspect

import tensorflow as tf

from tf1shim import _tf_internal
from tf1shim import tracking
from tf1shim.layers import utils


# Constructor arguments that act only when variables are created: a later
# call of a functional layer may pass new (equal) objects for them.
_CREATION_ONLY_SUFFIXES = ("_initializer", "_regularizer", "_constraint")


def _same_argument(a, b):
  """Whether two constructor arguments of a functional call are the same."""
  if a is b:
    return True
  if type(a) is not type(b):
    return False
  if isinstance(a, (tuple, list)):
    return len(a) == len(b) and all(map(_same_argument, a, b))
  if isinstance(a, dict):
    return a.keys() == b.keys() and all(_same_argument(a[k], b[k]) for k in a)
  if callable(a):
    # The same function source (e.g. a lambda written inline in the call).
    code = getattr(a, "__code__", None)
    return code is not None and code is getattr(b, "__code__", None)
  try:
    return bool(a == b)
  except Exception:  # pylint: disable=broad-except
    return False


def _same_call(a, b):
  args_a, kwargs_a = a
  args_b, kwargs_b = b
  if len(args_a) != len(args_b) or kwargs_a.keys() != kwargs_b.keys():
    return False
  return all(map(_same_argument, args_a, args_b)) and all(
      _same_argument(kwargs_a[k], kwargs_b[k]) for k in kwargs_a
      if not k.endswith(_CREATION_ONLY_SUFFIXES))


def functional_form(layer_class, function_name, call_kwargs=(),
                    fixed_scope=True):
  """TF1's functional interface of `layer_class`.

  `f(inputs, *layer_args, name=None, reuse=None, **layer_kwargs)` builds the
  layer with its variable scope fixed to `name` (so a named layer is not
  uniquified, as in TF1) and calls it on `inputs`. Keyword arguments listed in
  `call_kwargs` (e.g. `training`) go to the call instead of the constructor.
  TF1's functions for layers without variables (dropout, flatten, pooling) do
  not fix the scope: `fixed_scope=False`, and they take no `reuse`.

  Inside a decorated method, the layer object made on the first call is kept
  (by the variable scope it took) and called again on later calls, after
  opening its scope exactly as a new layer would: the same TF1 names and
  scope counts, without building a new Keras layer on every call.
  """

  def layer_function(inputs, *args, name=None, reuse=None, **kwargs):
    # TF1's default (`training=False`), not the Keras call context's flag: a
    # decorated Keras layer called with training=True would otherwise pass
    # it on to a `dropout(x)` that TF1 runs in inference mode.
    call_arguments = {k: kwargs.pop(k, False) for k in call_kwargs}
    if fixed_scope:
      kwargs.update(_scope=name, _reuse=reuse)

    def new_layer():
      return layer_class(*args, name=name, **kwargs)

    store = tracking.active_store()
    # A scope's custom getter must see (and may transform) every variable on
    # every call, as in each TF1 graph: no kept layer then.
    if store is None or not isinstance(name, (str, type(None))) or (
        tf.compat.v1.get_variable_scope().custom_getter is not None):
      return new_layer()(inputs, **call_arguments)
    base_name = name or utils.to_snake_case(layer_class.__name__)
    if fixed_scope and name:
      scope_name = _tf_internal.scoped_name(name)
    else:
      scope_name = _tf_internal.scoped_name(
          _tf_internal.unique_variable_scope(base_name))
    signature = (args, kwargs)
    key = (layer_class, scope_name)
    layer = store.functional_layer(key)
    if layer is not None and _same_call(layer.tf1_functional_call,
                                        signature):
      # Open the scope as the new layer would have (TF1's scope counts).
      if fixed_scope and name:
        with tf.compat.v1.variable_scope(name):
          pass
      else:
        with tf.compat.v1.variable_scope(None, default_name=base_name):
          pass
      return layer(inputs, **call_arguments)
    layer = new_layer()
    outputs = layer(inputs, **call_arguments)
    if layer.scope_name == scope_name:
      layer.tf1_functional_call = signature
      store.keep_functional_layer(key, layer)
    return outputs

  init = inspect.signature(layer_class.__init__)
  parameters = [inspect.Parameter("inputs",
                                  inspect.Parameter.POSITIONAL_OR_KEYWORD)]
  parameters += [p for n, p in init.parameters.items()
                 if n != "self" and p.kind != inspect.Parameter.VAR_KEYWORD]
  parameters += [inspect.Parameter(k, inspect.Parameter.KEYWORD_ONLY,
                                   default=False) for k in call_kwargs]
  if fixed_scope:
    parameters.append(inspect.Parameter(
        "reuse", inspect.Parameter.KEYWORD_ONLY, default=None))
  layer_function.__signature__ = inspect.Signature(
      sorted(parameters, key=lambda p: p.kind))
  layer_function.__name__ = function_name
  layer_function.__qualname__ = function_name
  layer_function.__doc__ = ("`tf.compat.v1.layers.%s`: functional interface "
                            "of `%s`." % (function_name, layer_class.__name__))
  return layer_function
