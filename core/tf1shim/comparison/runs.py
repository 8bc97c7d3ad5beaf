"""Running one stage of a migration and recording what a comparison needs.

Two runners produce the same record, a `StageRun`:

* `run_tf1_graph(model_fn, ...)`: the TF1 reference. The model function is
  built once in a `tf.compat.v1.Graph` and run in a `Session` the way TF1
  did: variables initialized by their initializer ops, `UPDATE_OPS` grouped
  with the train op, a `tf.compat.v1.train` optimizer.
* `run_tf2_stage(build_model, ...)`: a TF2 stage (a decorated layer, a Keras
  model, a tf.Module), run eagerly with the matching Keras optimizer.

Both do, on `batches[0]`: a training-mode forward with the loss's gradients
(in TF2 this moves batch-norm averages, so the reference runs its update ops
with it), then the variables are recorded, then an inference-mode forward;
then one training step per remaining batch, recording the loss and the
variables after each step. Under a `DeterministicRandomTestTool` both draw the
same numbers: the first forward builds the model (initializers and dropout
draw in construction order, as in a TF1 graph) and every training step
repeats it (`tool.step()`), as a TF1 session repeats its ops.
"""

import contextlib
import dataclasses

import numpy as np
import tensorflow as tf

import tf1shim
from tf1shim.comparison import report

v1 = tf.compat.v1


@dataclasses.dataclass(frozen=True)
class Optimizer:
  """The same optimizer on both sides: TF1 `tf.compat.v1.train` and Keras.

  Args:
    name: "sgd" (GradientDescentOptimizer / SGD), "momentum"
      (MomentumOptimizer / SGD(momentum)) or "adam" (AdamOptimizer / Adam).
    learning_rate: the learning rate.
    momentum: for "momentum".
    beta_1, beta_2, epsilon: for "adam" (TF1's defaults).
  """
  name: str = "sgd"
  learning_rate: float = 0.1
  momentum: float = 0.9
  beta_1: float = 0.9
  beta_2: float = 0.999
  epsilon: float = 1e-8

  def __post_init__(self):
    if self.name not in ("sgd", "momentum", "adam"):
      raise ValueError("Optimizer name must be 'sgd', 'momentum' or 'adam'; "
                       "got %r." % self.name)

  def tf1(self):
    if self.name == "sgd":
      return v1.train.GradientDescentOptimizer(self.learning_rate)
    if self.name == "momentum":
      return v1.train.MomentumOptimizer(self.learning_rate, self.momentum)
    return v1.train.AdamOptimizer(self.learning_rate, self.beta_1,
                                  self.beta_2, self.epsilon)

  def keras(self):
    import keras  # pylint: disable=g-import-not-at-top
    if self.name == "sgd":
      return keras.optimizers.SGD(self.learning_rate)
    if self.name == "momentum":
      return keras.optimizers.SGD(self.learning_rate, momentum=self.momentum)
    return keras.optimizers.Adam(self.learning_rate, beta_1=self.beta_1,
                                 beta_2=self.beta_2, epsilon=self.epsilon)


@dataclasses.dataclass
class StageRun:
  """What one stage did. Variables are keyed by TF1 name without `:0`."""
  variables: dict  # name -> value after the first training-mode forward
  trainable: dict  # name -> bool
  training_output: np.ndarray  # first forward, training mode, batches[0]
  inference_output: np.ndarray  # inference mode, batches[0]
  regularization_losses: list  # floats, at the recorded variables
  gradients: dict  # name -> gradient of the first forward's loss
  losses: list = dataclasses.field(default_factory=list)  # per step
  variables_after_step: list = dataclasses.field(default_factory=list)
  # Before the first forward (None when that forward created them).
  initial_variables: dict = None


def _strip(name):
  return name[:-2] if name.endswith(":0") else name


def _as_batches(batches):
  return [(np.asarray(x), np.asarray(y)) for x, y in batches]


def run_tf1_graph(model_fn, batches, loss_fn, optimizer=Optimizer(),
                  random_tool=None, initial_values=None):
  """Runs `model_fn(inputs, training=...)` the TF1 way.

  Args:
    model_fn: a TF1 model function, `(inputs, training) -> outputs`.
    batches: a list of (inputs, labels); the first is used for the forward
      passes and gradients, each later one for one training step.
    loss_fn: `(labels, outputs) -> scalar` data loss, written with TF ops.
      The regularization losses are added to it.
    optimizer: an `Optimizer`.
    random_tool: a `DeterministicRandomTestTool` to build the graph under.
    initial_values: optional {name: value} assigned after initialization.

  Returns:
    A `StageRun`.
  """
  batches = _as_batches(batches)
  x0, y0 = batches[0]
  graph = tf.Graph()
  with graph.as_default():
    inputs = v1.placeholder(tf.as_dtype(x0.dtype), (None,) + x0.shape[1:])
    labels = v1.placeholder(tf.as_dtype(y0.dtype), (None,) + y0.shape[1:])
    with random_tool.scope() if random_tool else contextlib.nullcontext():
      outputs = model_fn(inputs, training=True)
      # The model's variables: created by now, before any optimizer slot.
      model_variables = list(v1.global_variables())
      regularization = v1.get_collection(
          v1.GraphKeys.REGULARIZATION_LOSSES)
      loss = loss_fn(labels, outputs)
      if regularization:
        loss += tf.add_n(regularization)
      trainable = v1.trainable_variables()
      gradients = tf.gradients(loss, trainable)
      update_ops = v1.get_collection(v1.GraphKeys.UPDATE_OPS)
      with tf.control_dependencies(update_ops):
        train_op = optimizer.tf1().minimize(loss, var_list=trainable)
    names = [_strip(v.name) for v in model_variables]
    with v1.Session(graph=graph) as sess:
      sess.run(v1.global_variables_initializer())
      if initial_values:
        sess.run([v.assign(initial_values[name])
                  for v, name in zip(model_variables, names)
                  if name in initial_values])
      initial = dict(zip(names, sess.run(model_variables)))
      training_output, gradient_values, _ = sess.run(
          [outputs, gradients, update_ops], {inputs: x0, labels: y0})
      values = dict(zip(names, sess.run(model_variables)))
      regularization_values = sess.run(regularization)
      run = StageRun(
          variables=values,
          trainable={n: v in set(trainable)
                     for n, v in zip(names, model_variables)},
          training_output=training_output,
          inference_output=None,
          regularization_losses=[float(l) for l in regularization_values],
          gradients={_strip(v.name): g for v, g in zip(trainable,
                                                       gradient_values)},
          initial_variables=initial)
      for x, y in batches[1:]:
        _, loss_value = sess.run([train_op, loss], {inputs: x, labels: y})
        run.losses.append(float(loss_value))
        run.variables_after_step.append(
            dict(zip(names, sess.run(model_variables))))
  run.inference_output = _tf1_inference(model_fn, x0, values)
  return run


def _tf1_inference(model_fn, x, values):
  """The inference-mode forward, in a separate TF1 graph (as an eval graph)."""
  with tf.Graph().as_default() as graph:
    outputs = model_fn(tf.constant(x), training=False)
    with v1.Session(graph=graph) as sess:
      sess.run(v1.global_variables_initializer())
      sess.run([v.assign(values[_strip(v.name)])
                for v in v1.global_variables() if _strip(v.name) in values])
      return sess.run(outputs)


def run_tf2_stage(build_model, batches, loss_fn, optimizer=Optimizer(),
                  random_tool=None, initial_values=None, variable_names=None,
                  mapping=None, create_first=False):
  """Runs a TF2 stage eagerly.

  Args:
    build_model: `() -> model`, a Keras layer/model or a tf.Module called as
      `model(inputs, training=...)`.
    batches, loss_fn, optimizer, random_tool: as for `run_tf1_graph`.
    initial_values: optional {name: value}, by reference name (see
      `mapping`). The variables are then created by an inference-mode call
      and assigned before the first forward.
    variable_names: optional `variable -> name`; default: `tf1_name` without
      `:0` (a Keras variable's path).
    mapping: how this stage's variables are made of `initial_values` (see
      `report.plan_mapping`: names, or rules with transforms).
    create_first: create the variables with an inference-mode call first and
      record them as `initial_variables` (implied by `initial_values`).

  Returns:
    A `StageRun`.
  """
  batches = _as_batches(batches)
  x0, y0 = batches[0]
  name_of = variable_names or (lambda v: _strip(tf1shim.tf1_name(v)))
  keras_optimizer = optimizer.keras()
  with random_tool.scope() if random_tool else contextlib.nullcontext():
    step = random_tool.step if random_tool else contextlib.nullcontext
    model = build_model()
    initial = None
    if initial_values is not None or create_first:
      model(x0, training=False)
    if initial_values is not None:
      variables = _variables(model)
      planned = report.plan_mapping(
          mapping, {name_of(v): v.numpy() for v in variables},
          initial_values)
      for name, source, why in planned.mismatched:
        raise ValueError("Cannot copy %s into %s: %s." % (source, name, why))
      for v in variables:
        name = name_of(v)
        if name in planned.missing:
          raise ValueError("No value to copy into %s (mapped to %s)." % (
              name, " + ".join(map(repr, planned.wanted[name]))))
        v.assign(planned.targets[name].forward(initial_values.__getitem__))
    if initial_values is not None or create_first:
      initial = {name_of(v): v.numpy() for v in _variables(model)}
    with step():
      with tf.GradientTape() as tape:
        training_output = model(x0, training=True)
        loss = loss_fn(y0, training_output) + _regularization(model)
      trainable = _trainable(model)
      gradients = tape.gradient(loss, trainable)
    variables = _variables(model)
    names = [name_of(v) for v in variables]
    if len(set(names)) != len(names):
      raise ValueError("Two variables of the stage have the same name: %s" %
                       sorted(n for n in names if names.count(n) > 1))
    run = StageRun(
        variables={n: v.numpy() for n, v in zip(names, variables)},
        trainable={n: bool(v.trainable) for n, v in zip(names, variables)},
        training_output=np.asarray(training_output),
        inference_output=np.asarray(model(x0, training=False)),
        regularization_losses=[float(l) for l in _losses(model)],
        gradients={name_of(v): np.asarray(g) if g is not None else None
                   for v, g in zip(trainable, gradients)},
        initial_variables=initial)
    for x, y in batches[1:]:
      with step():
        with tf.GradientTape() as tape:
          loss = loss_fn(y, model(x, training=True)) + _regularization(model)
        grads = tape.gradient(loss, trainable)
        keras_optimizer.apply_gradients(zip(grads, trainable))
      run.losses.append(float(loss))
      run.variables_after_step.append(
          {n: v.numpy() for n, v in zip(names, variables)})
  return run


def _variables(model):
  return list(getattr(model, "weights", None) or model.variables)


def _trainable(model):
  return list(getattr(model, "trainable_weights", None) or
              model.trainable_variables)


def _losses(model):
  losses = getattr(model, "losses", None)
  if losses is None:
    losses = getattr(model, "regularization_losses", [])
  return losses


def _regularization(model):
  losses = _losses(model)
  return tf.add_n(losses) if losses else 0.0
