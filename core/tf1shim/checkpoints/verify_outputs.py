"""`ckpt verify --reference`: the model restored through the rules against
the TF1 graph restored from the checkpoint, on one batch.

Shapes cannot catch a wrong gate order or row range in a rules file (every
permutation of an LSTM's gate blocks has the kernel's shape); outputs can.
The reference is the TF1 model function in a `tf.compat.v1.Graph`, its
variables restored by `tf.compat.v1.train.Saver` as TF1 did.
"""

import dataclasses

import numpy as np
import tensorflow as tf

v1 = tf.compat.v1


class RunError(ValueError):
  """The reference function or the model cannot run on the inputs; the
  message says which and why."""


def _first_line(error):
  message = (getattr(error, "message", None) or str(error)).strip()
  return message.splitlines()[0] if message else type(error).__name__


def _flat(outputs):
  return [np.asarray(o) for o in tf.nest.flatten(outputs)]


def tf1_graph_outputs(model_fn, prefix, inputs):
  """`model_fn(inputs, training=False)` in a TF1 graph restored from the
  checkpoint at `prefix` by Saver: the flat list of its outputs."""
  with tf.Graph().as_default() as graph:
    x = v1.placeholder(tf.as_dtype(inputs.dtype),
                       (None,) + tuple(inputs.shape[1:]))
    try:
      outputs = model_fn(x, training=False)
    except Exception as e:  # pylint: disable=broad-except
      raise RunError("--reference failed in a TF1 graph: %s: %s" % (
          type(e).__name__, _first_line(e))) from e
    variables = v1.global_variables()
    if not variables:
      raise RunError("--reference created no variables in a TF1 graph;"
                           " it must be the TF1 model function that wrote "
                           "the checkpoint.")
    with v1.Session(graph=graph) as sess:
      try:
        v1.train.Saver(variables).restore(sess, prefix)
      except (tf.errors.OpError, ValueError) as e:
        raise RunError("The checkpoint does not restore into "
                             "--reference's TF1 graph: %s" % _first_line(
                                 e)) from e
      return _flat(sess.run(outputs, {x: inputs}))


def model_outputs(model, inputs):
  """`model(inputs, training=False)`, flat."""
  try:
    return _flat(model(inputs, training=False))
  except Exception as e:  # pylint: disable=broad-except
    raise RunError("The --model cannot run on --inputs of shape %s: "
                         "%s: %s" % (inputs.shape, type(e).__name__,
                                     _first_line(e))) from e


@dataclasses.dataclass
class Comparison:
  ok: bool
  text: str


def compare(got, expected, tolerance):
  """Whether every output is within `tolerance` times the largest
  reference output (outputs of O(1) or O(10) alike) of the reference's."""
  if len(got) != len(expected) or any(
      g.shape != e.shape for g, e in zip(got, expected)):
    return Comparison(False, "Outputs: the model gives %s, the TF1 graph %s."
                      % ([g.shape for g in got],
                         [e.shape for e in expected]))
  scale = max([float(np.max(np.abs(e))) for e in expected if e.size] + [0.0])
  bound = tolerance * (scale or 1.0)
  worst = max([float(np.max(np.abs(g.astype(np.float64) - e)))
               for g, e in zip(got, expected) if e.size] + [0.0])
  ok = bool(np.isfinite(worst) and worst <= bound)
  return Comparison(ok, "Outputs: max |difference| %.3g against the TF1 "
                    "graph's (largest output %.3g, allowed %.3g): %s." % (
                        worst, scale, bound, "equal" if ok else "DIFFERENT"))
