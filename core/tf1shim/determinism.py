"""`DeterministicRandomTestTool`: the same random numbers in every stage.

The guide proves each migration step by running the old and the new stage
on the same random numbers. TensorFlow's tool only controls TF's stateful
random ops; Keras 3 draws through stateless ops seeded from Python's `random`,
so on Keras 3 the guide's chain diverges. Inside `scope()` this tool makes
*every* draw follow one sequence, whichever API asks:

* stateful TF ops (`tf.random.*`, TF1 initializers, `tf.nn.dropout`, the TF1
  layers) get the seed pair `(seed, operation_seed)`, as TensorFlow's tool;
* Keras 3's random functions (its initializers — GlorotUniform, HeNormal,
  Orthogonal, ... —, `keras.random.*`, the Dropout layer, `SeedGenerator`s)
  are routed to the same stateful TF ops, so they draw from the same
  sequence.

So a TF1 `conv2d` kernel and a Keras 3 `Conv2D` kernel created at the same
point of the sequence are equal, eagerly, in `tf.function` and in a TF1
graph. Nothing is patched outside the scope.

Example:

>>> tool = DeterministicRandomTestTool(mode="num_random_ops")
>>> with tool.scope():
...   a = keras.initializers.GlorotUniform()((2, 2))
>>> with DeterministicRandomTestTool(mode="num_random_ops").scope():
...   b = tf.compat.v1.glorot_uniform_initializer()((2, 2))
>>> bool(np.all(a == b))
True
"""

import contextlib
import threading

import tensorflow as tf

from tf1shim import _keras_internal
from tf1shim import _tf_internal

MODES = ("constant", "num_random_ops")
_DISCARDED_OP_SEED = 2**31 - 1
_initializing = threading.local()


@contextlib.contextmanager
def initializing_variables():
  """Marks random draws inside as variable initialization (see `step`)."""
  _initializing.depth = getattr(_initializing, "depth", 0) + 1
  try:
    yield
  finally:
    _initializing.depth -= 1


def _in_variable_initialization():
  return getattr(_initializing, "depth", 0) > 0


_graph_function_call = threading.local()


class _TracesOfOneCall:
  """The seeds the first trace of a graph function's call took, in order.

  TensorFlow traces a `tf.function` twice on a call whose first trace
  creates variables (it keeps the second trace, which must create none) and
  discards the first. A TF1 graph builds the model once, so each random op
  of the kept trace must take the seed that op took in the first trace, and
  the sequence continue after the first trace's seeds. Variable
  initializers ran once, in the first trace, and are not replayed.
  """

  def __init__(self):
    self.seeds = []
    self.traced = False
    self.position = None  # None: recording (first trace); else replaying

  def start_trace(self):
    if self.traced:
      self.position = 0
    self.traced = True

  def replayed_pair(self):
    if self.position is None or self.position >= len(self.seeds):
      return None
    pair = self.seeds[self.position]
    self.position += 1
    return pair

  def record(self, pair):
    if self.position is None:
      self.seeds.append(pair)


@contextlib.contextmanager
def graph_function_call():
  """One eager call of a decorated method's graph function (tracking.py).

  The Python function calls `graph_function_traced()` when a trace starts;
  inside, traces after the first replay the first trace's seeds.
  """
  saved = getattr(_graph_function_call, "traces", None)
  _graph_function_call.traces = _TracesOfOneCall()
  try:
    yield
  finally:
    _graph_function_call.traces = saved


def graph_function_traced():
  """A trace of the graph function of the current `graph_function_call`."""
  traces = getattr(_graph_function_call, "traces", None)
  if traces is not None:
    traces.start_trace()


class DeterministicRandomTestTool:
  """Deterministic, API-independent random numbers inside `scope()`.

  Args:
    seed: the global seed (first element of every op's seed pair).
    mode: `"constant"`: every random op uses operation seed
      `operation_seed` (0 unless set), as TensorFlow's tool does;
      `"num_random_ops"`: the operation seed is the number of random ops drawn
      so far in the scope; reusing one is an error.
  """

  def __init__(self, seed=42, mode="constant"):
    if mode not in MODES:
      raise ValueError(
          "Mode arg must be 'constant' or 'num_random_ops'. Got: %s" % mode)
    self._seed = seed
    self._mode = mode
    self.operation_seed = 0
    self._observed_seeds = set()
    self._step_seeds = None  # seeds of the first step(), in draw order
    self._step_position = None  # draws so far in the current step()

  @property
  def operation_seed(self):
    return self._operation_seed

  @operation_seed.setter
  def operation_seed(self, value):
    self._operation_seed = value

  def _next_seed_pair(self):
    traces = getattr(_graph_function_call, "traces", None)
    if traces is None or _in_variable_initialization():
      return self._next_seed_pair_of_step()
    pair = traces.replayed_pair()
    if pair is None:
      pair = self._next_seed_pair_of_step()
      traces.record(pair)
    return pair

  def _next_seed_pair_of_step(self):
    if self._step_position is not None and not _in_variable_initialization():
      position = self._step_position
      self._step_position += 1
      if position < len(self._step_seeds):
        return (self._seed, self._step_seeds[position])  # a repeated step
      pair = self._fresh_seed_pair()
      self._step_seeds.append(pair[1])
      return pair
    return self._fresh_seed_pair()

  def _fresh_seed_pair(self):
    op_seed = self._operation_seed
    if self._mode == "constant":
      # Resets TF's eager kernel cache: the same seed gives the same numbers.
      tf.random.set_seed(op_seed)
    else:
      if op_seed in self._observed_seeds:
        raise ValueError(
            "This `DeterministicRandomTestTool` object is trying to re-use "
            "the already-used operation seed %d. It cannot guarantee random "
            "numbers will match between eager and sessions when an "
            "operation seed is reused. You most likely set "
            "`operation_seed` explicitly but used a value that caused the "
            "naturally-incrementing operation seed sequences to overlap "
            "with an already-used seed." % op_seed)
      self._observed_seeds.add(op_seed)
      self._operation_seed += 1
    return (self._seed, op_seed)

  @contextlib.contextmanager
  def scope(self):
    """Inside, every random draw follows this tool's seed sequence."""
    tf.random.set_seed(self._seed)

    def get_seed(op_seed):
      del op_seed  # The tool decides, as TensorFlow's tool does.
      if _keras_internal.in_symbolic_trace():
        # Keras's symbolic shape inference: the values are thrown away, and
        # TF1 had no such pass, so it does not take a seed of the sequence.
        return (self._seed, _DISCARDED_OP_SEED)
      return self._next_seed_pair()

    with _tf_internal.replaced_get_seed(get_seed), \
        _keras_internal.keras_random_as_tf_stateful_ops(), \
        _keras_internal.marking_variable_initialization(
            initializing_variables):
      yield

  @contextlib.contextmanager
  def step(self):
    """One repetition of a computation, e.g. a training step.

    In a TF1 session a training step runs the *same* random ops every time:
    each op keeps its seed and continues its random stream. Inside `step()`
    the k-th random op gets the seed of the k-th random op of the first
    `step()` (the first takes fresh seeds), so eager code repeating a step
    draws the numbers a TF1 session would. Variable initializers always take
    fresh seeds. Use it inside `scope()`.
    """
    if self._step_seeds is None:
      self._step_seeds = []
    self._step_position = 0
    try:
      yield
    finally:
      self._step_position = None
