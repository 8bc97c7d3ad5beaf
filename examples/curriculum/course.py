"""One example's training in the course: the TF1 graph and every stage, alike.

Every row of an example's table trains from the same initial weights (stage
1's under the random tool, copied by TF1 name), on the same batches in the
same order, and draws the same random numbers at every step:

* The TF1 graph is built the way a Keras model is: its variables first (the
  inference graph), then the training graph reusing them, under
  `staging.copied_weights_random_tool()` with the training graph inside the
  tool's `step()`. Its dropout ops take the operation seeds 10000, 10001, ...
  in the order the model draws, whatever its initializers drew; a session
  continues each op's random stream at every `run`.
* A stage trains with `model.fit`, under the same kind of tool, with
  `fit_draws_like_a_tf1_session`: Keras traces its train step inside the
  tool's `step()`, so the traced dropout ops take the same seeds in the same
  order, and every call of the traced step continues each op's stream, as
  the session does. Step k of every row draws the same masks.

So every row computes the same losses at every step up to float32 rounding
(the order in which the data loss and the regularization losses are
summed, the kernels a layer runs), unless a stage computes something else.

A model's inputs may be one array, or a tuple or dict of arrays (the
estimator example's features): batches and splits are handled leaf by leaf
with `tf.nest` (`stacked`, `sliced`, `concatenated`), the TF1 graph feeds
`tf1shim.staging.golden.placeholders_like` placeholders. A stage that is a
`tf1shim.estimator.EstimatorModel` (the `model_fn` run in Keras) is
compiled as its users compile it, `compile()`: it trains with its spec's
loss and its train op's optimizer (mapped to Keras) and evaluates its
`eval_metric_ops` (its `compile` refuses a loss and metrics). The estimator
example's `model_fn` has the course's loss (mean cross-entropy + the
regularization losses) and optimizer (SGD 0.1), so its rows train as the
TF1 row. Every row's train loss and accuracy are the means over the
split's batches weighted by their sizes, computed alike (`_evaluate`:
Estimator's evaluation loss is the unweighted mean of its batches').
"""

import dataclasses
import time
from typing import Optional

import keras
import numpy as np
import tensorflow as tf

from tf1shim import estimator
from tf1shim import staging
from tf1shim.staging import golden
from examples.curriculum import training
from examples.data import pipeline

v1 = tf.compat.v1


@dataclasses.dataclass
class Training:
  """What one row's training did."""
  losses: np.ndarray  # float32, per step: the step's loss, before its update
  # Data + regularization over the train split, inference mode (None when
  # no train split was given).
  train_loss: Optional[float]
  test_accuracy: float
  ms_per_step: float  # median wall time of one step, after warm-up


# TensorFlow's global seed while a data pipeline is built. `Dataset.shuffle
# (seed=...)` draws its order from its own seed and the global seed, which
# the random tools set (to their seed, 42) and leave set: without this, the
# first example of a run had another data order than the same example run
# after another (measured: `--examples estimator` alone ended 300 steps at
# 0.1223, after the other examples at 0.1240). 42, the order every example
# but the first had before.
DATA_GLOBAL_SEED = 42


def numpy_batches(split, count, batch_size, **kwargs):
  """The first `count` batches of `pipeline.load(split, batch_size,
  **kwargs)` as numpy: (inputs, labels), the inputs of any structure; the
  same order whatever ran before in the process (`DATA_GLOBAL_SEED`)."""
  tf.random.set_seed(DATA_GLOBAL_SEED)
  return [(tf.nest.map_structure(np.asarray, x), np.asarray(y))
          for x, y in pipeline.load(split, batch_size, repeat=True,
                                    **kwargs).take(count)]


def stacked(structures):
  """Structures of arrays (one per step), stacked leaf by leaf."""
  return tf.nest.map_structure(lambda *xs: np.stack(xs), *structures)


def concatenated(structures):
  """Structures of arrays, concatenated leaf by leaf along the batch."""
  return tf.nest.map_structure(lambda *xs: np.concatenate(xs), *structures)


def sliced(inputs, start, stop):
  """The examples `start:stop` of every leaf of `inputs`."""
  return tf.nest.map_structure(lambda x: x[start:stop], inputs)


def _feed(placeholders, values):
  return dict(zip(tf.nest.flatten(placeholders), tf.nest.flatten(values)))


def _split_in_batches(split, size):
  """[(inputs, labels)] of `split` ((inputs, labels)) in batches of `size`."""
  inputs, labels = split
  return [(sliced(inputs, i, i + size), labels[i:i + size])
          for i in range(0, len(labels), size)]


def _weighted_mean(parts):
  """The mean over a split from its batches' [(mean, batch size)]."""
  parts = list(parts)
  return sum(value * size for value, size in parts) / sum(
      size for _, size in parts)


def random_tool():
  """The tool every row trains under (see the module's docstring)."""
  return staging.copied_weights_random_tool()


def fit_draws_like_a_tf1_session(model, tool):
  """Makes `model.fit` draw per step as a TF1 session does, and log each
  step's own loss.

  Keras traces `model.train_step` once into a `tf.function` and calls it
  every step. Traced inside `tool.step()` (and `tool.scope()`, which must
  be open while `fit` runs), its random ops take the seeds the first step
  took, in draw order, as the ops of a TF1 training graph built under the
  same tool; each call continues their streams, as `Session.run` does. (A
  retrace, e.g. for a last batch of another size, would restart them: the
  course's batches all have one size.) The metrics are reset at the start
  of each step, so the `loss` in a callback's logs is that step's loss, not
  the running mean over the epoch.
  """
  keras_train_step = model.train_step

  def train_step(data):
    model.reset_metrics()
    with tool.step():
      return keras_train_step(data)

  model.train_step = train_step


def _median_ms(times, warmup=5):
  times = times[warmup:] if len(times) > warmup * 2 else times
  return 1000.0 * float(np.median(times))


class _StepRecorder(keras.callbacks.Callback):
  """Each step's loss and wall time; `on_step(step, loss)` after each."""

  def __init__(self, on_step):
    super().__init__()
    self.on_step = on_step
    self.losses, self.times = [], []

  def on_train_batch_begin(self, batch, logs=None):
    self.start = time.perf_counter()

  def on_train_batch_end(self, batch, logs=None):
    self.times.append(time.perf_counter() - self.start)
    self.losses.append(float(logs["loss"]))
    if self.on_step:
      self.on_step(batch + 1, self.losses[-1])


def _variable_name(variable):
  return staging.variable_name(variable)


def train_tf1_graph(example, initial, batches, train, test, on_step=None):
  """The reference row: the TF1 model function trained in a TF1 session.

  `initial`: {TF1 name: value}; `batches`: [(inputs, labels)], one per
  step; `train`, `test`: (inputs, labels) of whole splits (`train` None:
  no train loss). Inputs: an array, or a tuple or dict of arrays.
  """
  tool = random_tool()
  graph = tf.Graph()
  with graph.as_default():
    images = golden.placeholders_like(batches[0][0])
    labels = v1.placeholder(tf.int32, (None,))
    with tool.scope():
      eval_logits = example.tf1_model_fn(images, training=False)
      regularization = list(
          v1.get_collection(v1.GraphKeys.REGULARIZATION_LOSSES))
      updates_before = len(v1.get_collection(v1.GraphKeys.UPDATE_OPS))
      with tool.step(), v1.variable_scope("", reuse=True):
        logits = example.tf1_model_fn(images, training=True)
    update_ops = v1.get_collection(v1.GraphKeys.UPDATE_OPS)[updates_before:]
    penalty = tf.add_n(regularization) if regularization else 0.0
    loss = training.loss(labels, logits) + penalty
    with tf.control_dependencies(update_ops):
      train_op = example.optimizer.tf1().minimize(loss)
    eval_loss = training.loss(labels, eval_logits) + penalty
    accuracy = tf.reduce_mean(tf.cast(tf.equal(
        tf.argmax(eval_logits, 1, output_type=tf.int32), labels), tf.float32))
    model_variables = [v for v in v1.global_variables()
                       if _variable_name(v) in initial]
    assign_initial = [v.assign(initial[_variable_name(v)])
                      for v in model_variables]
  with v1.Session(graph=graph) as sess:
    sess.run(v1.global_variables_initializer())
    sess.run(assign_initial)
    losses, times = [], []
    for step, (x, y) in enumerate(batches, start=1):
      start = time.perf_counter()
      _, value = sess.run([train_op, loss],
                          {**_feed(images, x), labels: y})
      times.append(time.perf_counter() - start)
      losses.append(value)
      if on_step:
        on_step(step, float(value))
    def evaluate(value, split):  # the mean over the split, in batches
      return _weighted_mean(
          (sess.run(value, {**_feed(images, x), labels: y}), len(y))
          for x, y in _split_in_batches(split, example.eval_batch_size))
    train_loss = None if train is None else float(evaluate(eval_loss, train))
    test_accuracy = evaluate(accuracy, test)
  return Training(np.asarray(losses, np.float32), train_loss,
                  float(test_accuracy), _median_ms(times))


def train_stage(stage, initial, batches, train, test, on_step=None,
                eval_batch_size=512, optimizer=training.OPTIMIZER,
                callbacks=()):
  """A stage's row: its model built, set to `initial` through its rules,
  compiled with the course's loss and `optimizer` (a
  `tf1shim.comparison.Optimizer`, the TF1 row's) and trained by `model.fit`
  (one epoch over `batches`, in order; `callbacks`: more Keras callbacks)."""
  tool = random_tool()
  with tool.scope():
    model = stage.build_model()
    model(batches[0][0], training=False)
    stage.assign_tf1_values(model, initial)  # through its rules' transforms
    _compile(model, optimizer)
    fit_draws_like_a_tf1_session(model, tool)
    recorder = _StepRecorder(on_step)
    data = tf.data.Dataset.from_tensor_slices(
        (stacked([x for x, _ in batches]), np.stack([y for _, y in batches])))
    model.fit(data, epochs=1, verbose=0, shuffle=False,
              callbacks=[recorder] + list(callbacks))
  train_loss = (None if train is None else
                _evaluate(model, train, eval_batch_size, "loss"))
  test_accuracy = _evaluate(model, test, eval_batch_size, "accuracy")
  return Training(np.asarray(recorder.losses, np.float32), train_loss,
                  test_accuracy, _median_ms(recorder.times))


def _compile(model, optimizer):
  """The course's loss, accuracy and `optimizer`; an `EstimatorModel`
  trains as its `model_fn` says (see the module's docstring)."""
  if isinstance(model, estimator.EstimatorModel):
    # The spec's loss (the model_fn's mean cross-entropy + its
    # regularization losses), its eval_metric_ops' "accuracy" and the Keras
    # optimizer of its train op (found on the first fit), as a user runs it:
    # the course's only if the model_fn's loss and optimizer are the
    # course's, which the step losses then show.
    model.compile()
    return
  model.compile(
      optimizer=optimizer.keras(),
      loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
      metrics=["accuracy"])


def _evaluate(model, split, batch_size, key):
  """`model.evaluate`'s `key` over `split`, batch by batch, as the TF1 row
  computes it: each batch's mean, weighted by its size (an `EstimatorModel`
  reports the unweighted mean of its batches' losses, as Estimator did)."""
  return float(_weighted_mean(
      (model.evaluate(x, y, batch_size=len(y), verbose=0,
                      return_dict=True)[key], len(y))
      for x, y in _split_in_batches(split, batch_size)))


def initial_values(example, images):
  """Stage 1's initial weights under the random tool, by TF1 name
  (`images`: a batch of the model's inputs, any structure)."""
  with staging.random_tool().scope():
    model = example.stage(1).build_model()
    model(images, training=False)
  names = example.stage(1).tf1_name_map(model)
  return {names[_variable_name(v)]: v.numpy() for v in model.weights}
