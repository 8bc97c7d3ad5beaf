"""The idiom registry: each TF1 idiom, its failure class, inputs and marks.

An idiom is a TF1 model function `f(inputs, training)` returning a float32
tensor whose first dimension is the batch. Modules of this package register
theirs with `@idiom(...)`; nothing here imports tf1shim, so the same source
runs in the TF1 reference process (tf-keras's legacy TF1 layers and cells)
and under the shim.
"""

import dataclasses
import zlib

import numpy as np

# Issue 11's failure classes; 0 is what the shim supported before issue 11
# (get_variable, scopes, tf.compat.v1.layers, tf-slim, make_template).
CLASSES = {
    0: "baseline TF1 code (get_variable, layers, slim, templates)",
    1: "TF1 code sees a TF1 variable",
    2: "graph collections inside a decorated call",
    3: "variable_scope defaults",
    4: "TF1 RNN API",
    5: "the rest of tf.compat.v1.layers",
    6: "graph-only habits (tensor.name/op/graph)",
    7: "mixed precision",
}
MODES = ("eager", "function", "fit")

# Input kinds: shape and dtype, small so that 80+ idioms run in minutes.
INPUTS = {
    "vec": ((4, 6), np.float32),
    "img": ((2, 8, 8, 3), np.float32),
    "seq": ((3, 5, 4), np.float32),
    "ids": ((4, 5), np.int32),
    "noise": ((2, 8), np.float32),
    "vol": ((2, 4, 4, 4, 2), np.float32),
}
VOCAB = 10  # ids are in [0, VOCAB)


@dataclasses.dataclass
class Idiom:
  fn: object
  cls: int
  inputs: str
  training: bool
  # mode -> reason: the strict xfails (issue 11 items not implemented yet).
  xfail: dict
  # Relative tolerance factor (see tf1_idioms_test.py); fp16 idioms need more.
  tolerance: float
  learning_rate: float
  # Whether the shim's layer is decorated with
  # `track_tf1_style_variables(graph_function=True)`, as a user of TF1 code
  # needing a graph (tensor.name, tf.gradients) decorates it.
  graph_function: bool = False

  @property
  def name(self):
    return self.fn.__name__


IDIOMS = {}


def idiom(cls, inputs="vec", training=True, xfail=None, tolerance=1e-5,
          learning_rate=0.1, graph_function=False):
  """Registers a TF1 model function as an idiom of failure class `cls`.

  `training` is the fixed `training` argument of every run (reference and
  shim, forward and the fit step): idioms with dropout run with
  training=False so that both sides compute the same function.
  `xfail`: a reason for all modes, or {mode: reason}.
  `graph_function`: the shim runs it in a layer decorated with
  `graph_function=True` (eager calls run as a graph function).
  """
  def register(fn):
    marks = xfail if isinstance(xfail, dict) else (
        {m: xfail for m in MODES} if xfail else {})
    assert fn.__name__ not in IDIOMS, fn.__name__
    IDIOMS[fn.__name__] = Idiom(fn, cls, inputs, training, marks, tolerance,
                                learning_rate, graph_function)
    return fn
  return register


def make_inputs(name):
  """The inputs of an idiom: fixed by its name (same in both processes)."""
  idiom_ = IDIOMS[name]
  shape, dtype = INPUTS[idiom_.inputs]
  rng = np.random.RandomState(zlib.crc32(name.encode()))
  if dtype == np.int32:
    return rng.randint(0, VOCAB, size=shape).astype(np.int32)
  return rng.randn(*shape).astype(dtype)
