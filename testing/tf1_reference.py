"""Run TF1 model functions the TF1 way (graph + session) and the shim way.

`run_tf1_graph` is the reference: a real `tf.compat.v1.Graph`, variables
initialized by their initializer ops, collections as TF1 filled them.
`run_shim` runs the same function in a decorated Keras 3 layer or tf.Module,
with the graph's variable values copied in by TF1 name.
"""

import dataclasses
import re

import numpy as np
import tensorflow as tf

import tf1shim
from testing.shim_models import ShimLayer
from testing.shim_models import ShimModule

v1 = tf.compat.v1


@dataclasses.dataclass
class Run:
  variables: dict  # TF1 name (with :0) -> numpy value
  shapes: dict  # TF1 name -> shape list
  dtypes: dict  # TF1 name -> dtype name
  trainable: dict  # TF1 name -> bool
  output: np.ndarray
  regularization_losses: list  # floats
  error: str = ""  # first sentence of the error, if the function raised


def first_sentence(error):
  """`Type: first sentence`, without Keras's "Exception encountered" wrap."""
  message = re.sub(r"\x1b\[[0-9;]*m", "", str(error))
  if message.startswith("Exception encountered when calling"):
    message = message.split("\n\n", 1)[1]
  message = message.split("\n\n")[0]
  return "%s: %s" % (type(error).__name__, message.split(". ")[0].strip())


def run_tf1_graph(model_fn, inputs, training=False):
  """Builds and runs `model_fn` in a new TF1 graph."""
  with tf.Graph().as_default():
    try:
      output = model_fn(tf.constant(inputs), training=training)
    except (ValueError, TypeError) as e:
      return Run({}, {}, {}, {}, None, [], error=first_sentence(e))
    variables = v1.global_variables()
    trainable = {v.name for v in v1.trainable_variables()}
    losses = v1.get_collection(v1.GraphKeys.REGULARIZATION_LOSSES)
    with v1.Session() as sess:
      sess.run(v1.global_variables_initializer())
      values, out, loss_values = sess.run([variables, output, losses])
  return Run(
      variables={v.name: val for v, val in zip(variables, values)},
      shapes={v.name: v.shape.as_list() for v in variables},
      dtypes={v.name: v.dtype.base_dtype.name for v in variables},
      trainable={v.name: v.name in trainable for v in variables},
      output=out,
      regularization_losses=[float(l) for l in loss_values])


def run_shim(model_fn, inputs, values=None, training=False, module=False):
  """Runs `model_fn` in a decorated layer (or module) in TF2.

  The first call creates the variables; `values` (TF1 name -> value) are then
  assigned and the function is called again for the outputs.
  """
  holder = ShimModule(model_fn) if module else ShimLayer(model_fn)
  try:
    holder(tf.constant(inputs), training=training)
  except (ValueError, TypeError) as e:
    return Run({}, {}, {}, {}, None, [], error=first_sentence(e))
  variables = holder.variables if module else holder.weights
  for v in variables:
    if values is not None:
      v.assign(values[tf1shim.tf1_name(v)])
  output = holder(tf.constant(inputs), training=training)
  losses = (holder.regularization_losses if module else holder.losses)
  return Run(
      variables={tf1shim.tf1_name(v): v.numpy() for v in variables},
      shapes={tf1shim.tf1_name(v): list(v.shape) for v in variables},
      dtypes={tf1shim.tf1_name(v): tf.as_dtype(v.dtype).name
              for v in variables},
      trainable={tf1shim.tf1_name(v): bool(v.trainable) for v in variables},
      output=np.asarray(output),
      regularization_losses=[float(l) for l in losses])


def assert_same_as_tf1(model_fn, inputs, training=False, module=False,
                       rtol=1e-5, atol=1e-6):
  """The differential check: names, shapes, dtypes, trainable flags, errors,
  outputs and regularization losses equal the TF1 graph's."""
  graph = run_tf1_graph(model_fn, inputs, training=training)
  shim = run_shim(model_fn, inputs, None if graph.error else graph.variables,
                  training=training, module=module)
  assert shim.error == graph.error, (shim.error, graph.error)
  if graph.error:
    return graph
  assert sorted(shim.shapes.items()) == sorted(graph.shapes.items())
  assert shim.dtypes == graph.dtypes
  assert shim.trainable == graph.trainable
  np.testing.assert_allclose(shim.output, graph.output, rtol=rtol, atol=atol)
  np.testing.assert_allclose(sorted(shim.regularization_losses),
                             sorted(graph.regularization_losses),
                             rtol=rtol, atol=atol)
  return graph
