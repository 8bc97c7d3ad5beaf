"""The random tools stages are compared under.

`random_tool()`: every stage draws the same initial weights and dropout
masks as the TF1 graph (random ops seeded by their index).
`copied_weights_random_tool()`: for stages compared with copied weights, the
training forward's draws start at a fixed seed, so they do not depend on how
many random ops each stage's initializers ran.
"""

import contextlib

import tf1shim

# Where the training draws start when weights are copied (above every seed
# the initializers of a model take).
TRAINING_OPERATION_SEED = 10000


def random_tool():
  """A fresh `num_random_ops` tool."""
  return tf1shim.DeterministicRandomTestTool(mode="num_random_ops")


class _TrainingDrawsFromAFixedSeed(tf1shim.DeterministicRandomTestTool):
  """`num_random_ops`, the training draws starting at a fixed operation seed.

  With weights copied, what the initializers drew is overwritten, but in
  `num_random_ops` mode their number still shifts every later seed: a Keras
  `LSTM` draws two initial tensors (kernel, recurrent kernel) where TF1's
  `LSTMCell` draws one (its joint kernel), so a native stage's dropout masks
  would take other seeds than the TF1 stage's. Here the first `step()` (the
  first training forward) continues at `TRAINING_OPERATION_SEED` (TF's tool
  allows setting `operation_seed`), so the masks depend only on the random
  ops of the training forward, in order.
  """

  def __init__(self):
    super().__init__(mode="num_random_ops")
    self._training_started = False

  @contextlib.contextmanager
  def step(self):
    if not self._training_started:
      self._training_started = True
      self.operation_seed = TRAINING_OPERATION_SEED
    with super().step():
      yield


def copied_weights_random_tool():
  """A fresh tool for comparing stages with copied weights."""
  return _TrainingDrawsFromAFixedSeed()
