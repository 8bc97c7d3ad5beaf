"""`EstimatorModel`: a Keras 3 model that runs a TF1 Estimator `model_fn`.

`tf.estimator` ran a `model_fn(features, labels, mode, params)` in three
graphs: TRAIN (its `train_op`, with the batch-norm `UPDATE_OPS` as control
dependencies, advancing the global step), EVAL (`eval_metric_ops`, updated
once per batch) and PREDICT (`predictions`, `export_outputs` as the
SavedModel's signatures). `EstimatorModel` calls the same `model_fn` under
`track_tf1_style_variables`, once per step, in the mode Keras asks for:

* `predict` and `model(features)`: PREDICT mode, the spec's `predictions`
  (the entry `predictions_key` when given). `model(features,
  training=True)` runs TRAIN mode (batch norm in training mode) and returns
  the predictions too; its labels are the batch's inside `fit`, zeros of
  the labels' spec elsewhere (the loss is not used then).
* `fit`: TRAIN mode; the logged loss is the spec's `loss`; each of the
  train op's optimizer updates (`minimize` of its loss, or the gradients
  given to `apply_gradients`) goes to the Keras optimizer equivalent to its
  TF1 optimizer (`optimizers.py`); the global step advances by one per
  update asked to (`minimize(loss, global_step=...)`). Under the
  shim, batch normalization updates its moving averages during the call,
  so once per training step, as TF1's `UPDATE_OPS` did; the `model_fn`'s
  `control_dependencies(UPDATE_OPS)` is a no-op (the collection is empty).
  The logs are TF1's `LoggingTensorHook`'s: the step's `loss` and
  `global_step`. An `ExponentialMovingAverage` applied in TRAIN mode
  (after the train op, or grouped with it) keeps its shadows in
  `model.moving_averages` (`moving_averages.py`), moved after each step.
* `evaluate`: EVAL mode; `loss` is the mean of the batches' losses (as
  Estimator's), each `eval_metric_ops` entry a Keras metric with TF1's value
  (`metrics.py`), and `global_step`.
* `export`: a SavedModel whose signatures are the PREDICT spec's
  `export_outputs` (plus Keras's `serve`, the predictions).
* `restore(model_dir_or_prefix)`: an Estimator model_dir's latest
  checkpoint (or a prefix), strictly by TF1 name, the global step and the
  TF1 optimizer's slots (into the mapped Keras optimizer) and the moving
  averages included.

The global step is a `tf.Variable` of the model named `global_step` (in the
model_fn's `GLOBAL_VARIABLES` and `GLOBAL_STEP` collections, found by
`tf.compat.v1.train.get_global_step()`/`get_or_create_global_step()`);
saved by `tf.train.Checkpoint`, not one of `model.weights`.
"""

import contextlib
import inspect
import warnings

import keras
import tensorflow as tf

from tf1shim import checkpoints
from tf1shim import graph_collections
from tf1shim import tracking
from tf1shim.checkpoints import model_dir as model_dir_lib
from tf1shim.estimator import metrics as metrics_lib
from tf1shim.estimator import moving_averages as moving_averages_lib
from tf1shim.estimator import optimizers as optimizers_lib
from tf1shim.estimator import spec as spec_lib

ModeKeys = spec_lib.ModeKeys
_KEYS = tf.compat.v1.GraphKeys


def _model_fn_arguments(model_fn):
  """The arguments `model_fn` takes, of features/labels/mode/params/config
  (Estimator passes only those it names)."""
  names = set(inspect.signature(model_fn).parameters)
  if "features" not in names:
    raise ValueError("model_fn %s must take an argument named 'features' "
                     "(Estimator's model_fn(features, labels, mode, params, "
                     "config))." % getattr(model_fn, "__name__", model_fn))
  return names


def _spec_of(value):
  """A TensorSpec (batch dimension free) of an array or tensor."""
  value = tf.convert_to_tensor(value) if not isinstance(
      value, tf.TensorSpec) else value
  shape = tf.TensorShape(value.shape)
  if shape.rank:
    shape = tf.TensorShape([None]).concatenate(shape[1:])
  return tf.TensorSpec(shape, value.dtype)


def _specs_of_data(x, y=None):
  """(features spec, labels spec) of fit/evaluate's data: a tf.data.Dataset
  of (features, labels) (an input_fn's), or features and labels."""
  if isinstance(x, tf.data.Dataset):
    element = x.element_spec
    if not isinstance(element, tuple) or len(element) < 2:
      raise ValueError(
          "The dataset must yield (features, labels), as an Estimator "
          "input_fn's; its elements are %s." % (element,))
    features, labels = element[0], element[1]
  else:
    features, labels = x, y
  return (tf.nest.map_structure(_spec_of, features),
          None if labels is None else tf.nest.map_structure(_spec_of, labels))


def zero_labels(features, labels_spec):
  """Labels of `labels_spec` for the batch of `features`, all zeros: a
  TRAIN-mode call made for its predictions (batch norm in training mode)
  computes a loss nobody reads."""
  batch = tf.shape(tf.nest.flatten(features)[0])[0]

  def zeros(spec):
    return tf.zeros(tf.concat([[batch], spec.shape[1:]], 0), spec.dtype)
  return tf.nest.map_structure(zeros, labels_spec)


def model_function(model_fn, params=None, config=None, predictions_key=None,
                   labels_spec=None):
  """`model_fn` as a TF1 model function `(features, training) -> outputs`:
  PREDICT mode's predictions, or TRAIN mode's (zero labels of
  `labels_spec`) when training; its train op and metrics build nothing.

  What `EstimatorModel.call` runs, for code that takes a model function:
  `tf1shim.staging` (a TF1 graph reference of the Keras model) or
  `tf1shim.comparison.tf1_graph`. Runs in a TF1 graph or a decorated call.
  """
  names = _model_fn_arguments(model_fn)
  config = config or spec_lib.RunConfig()
  moving_averages_lib.install()

  def tf1_model_function(features, training=False):
    mode = ModeKeys.TRAIN if training else ModeKeys.PREDICT
    labels = zero_labels(features, labels_spec) if training else None
    kwargs = {"features": features}
    for name, value in (("labels", labels), ("mode", mode),
                        ("params", dict(params or {})), ("config", config)):
      if name in names:
        kwargs[name] = value
    with optimizers_lib.recording(), metrics_lib.recording():
      spec = model_fn(**kwargs)
    predictions = spec.predictions
    if predictions_key is not None:
      predictions = predictions[predictions_key]
    return predictions

  tf1_model_function.__name__ = getattr(model_fn, "__name__", "model_fn")
  return tf1_model_function


def _named_specs(specs):
  """TensorSpecs named after their dict keys (the signature's inputs)."""
  if not isinstance(specs, dict):
    return specs
  return {key: tf.TensorSpec(spec.shape, spec.dtype, name=key)
          if isinstance(spec, tf.TensorSpec) else spec
          for key, spec in specs.items()}


class _MoreOptimizers(tf.Module):
  """The Keras optimizers of a train op's second and further optimizer
  updates (a wide & deep model_fn's), saved with the model."""

  def __init__(self):
    super().__init__(name="more_optimizers")
    self.list = []


class _Metrics:
  """The EVAL metrics, per eval_metric_ops key; a plain holder, which Keras
  does not track (they are made after the model is built and locked)."""

  def __init__(self):
    self.by_key = {}
    self.reported = set()  # spec fields already warned about


@keras.saving.register_keras_serializable(package="tf1shim.estimator")
class EstimatorModel(keras.Model):
  """A Keras 3 model running a TF1 `model_fn` (see the module docstring).

  Args:
    model_fn: `model_fn(features, labels, mode, params, config)` returning a
      `tf.estimator.EstimatorSpec` (it may take any subset of the arguments
      after `features`, as with Estimator).
    params: the `params` dict the `model_fn` gets.
    config: a `tf.estimator.RunConfig` (default: `RunConfig()`).
    predictions_key: the entry of a dict `predictions` that `model(...)` and
      `predict` return; None returns the whole `predictions`.
    labels_spec: a `tf.TensorSpec` of the labels (batch dimension None) for
      `model(features, training=True)` outside `fit`; learned from the data
      of the first `fit`/`evaluate` when None.
    optimizer: a Keras optimizer to train with instead of the one mapped
      from the `train_op` (for an unsupported TF1 optimizer).

  Example:
    model = EstimatorModel(model_fn, params={"learning_rate": 0.1})
    model.compile()            # the optimizer comes from the train_op
    model.fit(input_fn(), epochs=1)
    model.evaluate(eval_input_fn())   # {"loss": ..., "accuracy": ..., ...}
  """

  def __init__(self, model_fn, params=None, config=None, predictions_key=None,
               labels_spec=None, optimizer=None, name="estimator_model",
               **kwargs):
    super().__init__(name=name, **kwargs)
    self._model_fn = model_fn
    self._model_fn_args = _model_fn_arguments(model_fn)
    self.params = dict(params or {})
    self.config = config or spec_lib.RunConfig()
    self.predictions_key = predictions_key
    self._labels_spec = labels_spec
    self._features_spec = None
    self._explicit_optimizer = optimizer
    self._optimizer_pending = False
    self._compile_kwargs = {}
    self._advances_global_step = None
    self._train_labels = None
    # A restored checkpoint whose optimizer slots await the optimizer.
    self._slots_prefix = None
    # Estimator made the global step before calling the model_fn.
    self.global_step = tf.Variable(0, dtype=tf.int64, trainable=False,
                                   name="global_step")
    # The shadows of the model_fn's ExponentialMovingAverage, made by the
    # first fit (moving_averages.py).
    self.moving_averages = moving_averages_lib.MovingAverages()
    # The Keras optimizers of a train op's further updates (`_optimizers`),
    # and each update's variables, known from the first fit.
    self.more_optimizers = _MoreOptimizers()
    self._updated_variables = None
    self._eval_loss = keras.metrics.Mean(name="loss")
    self._eval_metrics = _Metrics()
    optimizers_lib.install()
    metrics_lib.install()
    moving_averages_lib.install()

  # --- Calling the model_fn ------------------------------------------------

  def _model_fn_kwargs(self, features, labels, mode):
    kwargs = {"features": features}
    for name, value in (("labels", labels), ("mode", mode),
                        ("params", self.params), ("config", self.config)):
      if name in self._model_fn_args:
        kwargs[name] = value
    return kwargs

  @tracking.track_tf1_style_variables
  def _run_model_fn(self, features, labels, mode):
    """The model_fn's spec, called as a TF1 graph build (one per call)."""
    graph_collections.current().add_variable(
        self.global_step, [_KEYS.GLOBAL_VARIABLES, _KEYS.GLOBAL_STEP])
    spec = self._model_fn(**self._model_fn_kwargs(features, labels, mode))
    if isinstance(spec, spec_lib.TPUEstimatorSpec):
      # Inside the call: the metric_fn's metrics record as the model_fn's.
      spec, unsupported = spec.as_estimator_spec()
      self._report_fields(unsupported)
    return spec

  def run_model_fn(self, features, labels, mode, tape=None):
    """(spec, train op record, metrics record) of one model_fn call; in
    TRAIN mode under `tape` (a `tf.GradientTape`, made when None) for the
    model_fn's `compute_gradients`."""
    with contextlib.ExitStack() as stack:
      if mode == ModeKeys.TRAIN and tape is None:
        tape = stack.enter_context(tf.GradientTape(persistent=True))
      train_record = stack.enter_context(optimizers_lib.recording(
          tape, lambda: self.trainable_variables))
      metrics_record = stack.enter_context(metrics_lib.recording())
      spec = self._run_model_fn(features, labels, mode)
    if not isinstance(spec, spec_lib.EstimatorSpec):
      raise TypeError(
          "model_fn must return a tf.estimator.EstimatorSpec; in %s mode it "
          "returned %r." % (mode.upper(), type(spec).__name__))
    if mode == ModeKeys.TRAIN and not train_record.recorded:
      raise spec_lib.EstimatorSpecError(
          "The model_fn's train_op in TRAIN mode does not come from a "
          "tf.compat.v1.train optimizer's minimize/apply_gradients: "
          "EstimatorModel cannot tell how to train (got train_op %r)." %
          (spec.train_op,))
    self._report_unsupported(spec)
    return spec, train_record, metrics_record

  def _report_unsupported(self, spec):
    """Warns once per field: Keras runs no session hooks or scaffold."""
    self._report_fields(spec.unsupported())

  def _report_fields(self, names):
    new = [n for n in names if n not in self._eval_metrics.reported]
    if new:
      self._eval_metrics.reported.update(new)
      warnings.warn(
          "%s: the model_fn's EstimatorSpec has %s, which Keras does not "
          "run (no Session): pass keras.callbacks to fit/evaluate/predict "
          "instead (LoggingTensorHook -> the logs, CheckpointSaverHook -> "
          "ModelCheckpoint, a scaffold's init_fn -> restore() before fit, "
          "a host_call's summaries -> keras.callbacks.TensorBoard)."
          % (self.name, ", ".join(new)), UserWarning, stacklevel=3)

  def _zero_labels(self, features):
    if self._labels_spec is None:
      raise ValueError(
          "%s: a call with training=True runs the model_fn in TRAIN mode, "
          "which needs labels. Call model.fit, or give "
          "EstimatorModel(..., labels_spec=tf.TensorSpec([None], tf.int64))."
          % self.name)
    return zero_labels(features, self._labels_spec)

  def _selected(self, predictions):
    if self.predictions_key is None:
      return predictions
    if not isinstance(predictions, dict) or (
        self.predictions_key not in predictions):
      raise KeyError("predictions_key %r is not one of the model_fn's "
                     "predictions %s." % (self.predictions_key, list(
                         predictions) if isinstance(predictions, dict) else
                                          type(predictions).__name__))
    return predictions[self.predictions_key]

  def call(self, features, training=False):
    if self._features_spec is None:
      self._features_spec = tf.nest.map_structure(_spec_of, features)
    if training:
      labels = self._train_labels
      if labels is None:
        labels = self._zero_labels(features)
      spec, _, _ = self.run_model_fn(features, labels, ModeKeys.TRAIN)
      if spec.predictions is None:
        raise ValueError(
            "The model_fn returned no predictions in TRAIN mode; call the "
            "model with training=False for its predictions.")
    else:
      spec, _, _ = self.run_model_fn(features, None, ModeKeys.PREDICT)
    return self._selected(spec.predictions)

  # --- Training ---------------------------------------------------------------

  def compile(self, optimizer=None, **kwargs):
    """Like Keras's; without `optimizer`, the optimizer is the Keras
    equivalent of the train_op's TF1 optimizer, found on the first `fit`.
    `loss` and `metrics` are the spec's: giving them is an error."""
    for name in ("loss", "metrics", "weighted_metrics"):
      if kwargs.get(name) is not None:
        raise ValueError(
            "EstimatorModel trains with the model_fn's loss and evaluates "
            "its eval_metric_ops; compile(%s=...) is not used." % name)
    optimizer = optimizer or self._explicit_optimizer
    self._compile_kwargs = kwargs
    self._optimizer_pending = optimizer is None
    # A stand-in until the train_op's optimizer is known (never built).
    super().compile(optimizer=optimizer or "sgd", **kwargs)

  def _learn_specs(self, x, y=None):
    features, labels = _specs_of_data(x, y)
    if self._labels_spec is None:
      self._labels_spec = labels
    return features, labels

  def traced_spec(self, features_spec, labels_spec, mode):
    """(spec's eval_metric_ops' `MetricCall`s, train op record) of the
    model_fn in `mode`, from a trace of the model's own call (a graph built
    and discarded, as Estimator built one per mode: nothing runs, no batch
    norm average moves)."""
    found = {}

    def trace(features, labels):
      spec, train_record, metrics_record = self.run_model_fn(
          features, labels, mode)
      found["train_op"] = train_record
      found["metrics"] = {key: metrics_record.call_of(key, pair)
                          for key, pair in spec.eval_metric_ops.items()}
      return tf.constant(0)

    tf.function(trace, autograph=False).get_concrete_function(
        features_spec, labels_spec)
    return found["metrics"], found["train_op"]

  def _prepare_training(self, x, y=None):
    if not self.compiled:
      self.compile()
    features, labels = self._learn_specs(x, y)
    if self._advances_global_step is not None and not self._optimizer_pending:
      return
    _, record = self.traced_spec(features, labels, ModeKeys.TRAIN)
    self._advances_global_step = record.advances_global_step
    updates = record.updates
    if len(updates) > 1 and not self._optimizer_pending:
      raise optimizers_lib.UnsupportedOptimizerError(
          "The model_fn's train op applies %d optimizers (%s); one Keras "
          "optimizer was given. Leave optimizer= out to map each."
          % (len(updates), record.optimizer_name))
    if self._optimizer_pending:
      optimizers = [optimizers_lib.keras_optimizer(u) for u in updates]
      super().compile(optimizer=optimizers[0], **self._compile_kwargs)
      # A wide & deep model_fn's second optimizer (tf.group of two).
      self.more_optimizers.list = optimizers[1:]
      self._optimizer_pending = False
    # By name: a list of variables set on the built model would be state.
    self._updated_variables = tuple(
        tuple(tracking.tf1_name(v) for v in self._trained_variables(
            u.var_list)) for u in updates)
    # TF1's TRAIN graph made the shadows; the first training step needs them.
    self.moving_averages.make(record.moving_averages,
                              self._variables_by_tf1_name())
    self._load_optimizer_slots()

  def _variables_by_tf1_name(self):
    return {tracking.tf1_name(v)[:-len(":0")]: v for v in self.weights}

  def train_op_optimizers(self):
    """The Keras optimizer of each of the train op's updates."""
    return [self.optimizer] + list(self.more_optimizers.list)

  def _load_optimizer_slots(self):
    """The restored checkpoint's TF1 optimizer slots into the Keras
    optimizers, once they are known (Estimator continued them on
    restart)."""
    if self._slots_prefix is None or self._optimizer_pending or (
        not self.compiled) or self._updated_variables is None:
      return
    reader = checkpoints.CheckpointReader(self._slots_prefix)
    by_name = {tracking.tf1_name(v): v for v in self.trainable_variables}
    for optimizer, names in zip(self.train_op_optimizers(),
                                self._updated_variables):
      variables = [by_name[name] for name in names]
      if not optimizer.built:
        optimizer.build(variables)
      optimizers_lib.load_tf1_slots(
          optimizer, variables,
          [tracking.tf1_name(v)[:-len(":0")] for v in variables], reader)
    self._slots_prefix = None

  def fit(self, x=None, y=None, *args, **kwargs):
    self._prepare_training(x, y)
    return super().fit(x, y, *args, **kwargs)

  def train_on_batch(self, x, y=None, *args, **kwargs):
    self._prepare_training(x, y)
    return super().train_on_batch(x, y, *args, **kwargs)

  def _trained_variables(self, var_list):
    if var_list is None:
      return self.trainable_variables
    wanted = {tracking.tf1_name(v) for v in var_list}
    return [v for v in self.trainable_variables
            if tracking.tf1_name(v) in wanted]

  def _given_gradients(self, update):
    """(gradients, model variables) of an update's pairs (those the
    model_fn passed to apply_gradients, or its minimize's), without the
    None gradients (TF1 skipped them)."""
    by_name = {tracking.tf1_name(v): v for v in self.trainable_variables}
    if update.gradients is None:
      raise RuntimeError("%s: the training step's model_fn call had no "
                         "gradient tape." % self.name)
    gradients, variables = [], []
    for gradient, variable in zip(update.gradients, update.var_list):
      if gradient is None:
        continue
      name = tracking.tf1_name(variable)
      if name not in by_name:
        raise ValueError(
            "The model_fn's apply_gradients got a gradient for %s, which is "
            "not a trainable variable of the model." % name)
      gradients.append(gradient)
      variables.append(by_name[name])
    if not variables:
      raise ValueError(
          "No gradients provided for any variable: the model_fn's "
          "apply_gradients got only None gradients (as TF1 raised).")
    return gradients, variables

  def train_step(self, data):
    features, labels, _ = keras.utils.unpack_x_y_sample_weight(data)
    self._train_labels = labels
    try:
      # Persistent: each minimize/compute_gradients of the model_fn takes
      # its gradients from it (a wide & deep train op has two).
      with tf.GradientTape(persistent=True) as tape:
        spec, record, _ = self.run_model_fn(features, labels, ModeKeys.TRAIN,
                                            tape=tape)
        loss = tf.convert_to_tensor(spec.loss)
    finally:
      self._train_labels = None
    # Gradients first, then the updates, as TF1's group of minimize ops
    # computed every gradient from the step's forward pass.
    steps = [self._given_gradients(update) for update in record.updates]
    del tape
    for optimizer, update, (gradients, variables) in zip(
        self.train_op_optimizers(), record.updates, steps):
      with optimizers_lib.learning_rate_of_step(optimizer, update):
        optimizer.apply(gradients, variables)
    if record.advances_global_step:
      # After the step's data: a traced step whose input ran out must not
      # count (the increment depends on nothing else).
      with tf.control_dependencies([loss]):
        self.global_step.assign_add(record.advances_global_step)
    # After the optimizer's step and the global step, as TF1's averages op
    # under control_dependencies([train_op]).
    self.moving_averages.update(record.moving_averages)
    return {"loss": loss, "global_step": self.global_step.read_value()}

  # --- Evaluation -------------------------------------------------------------

  @property
  def metrics(self):
    return (list(super().metrics) + [self._eval_loss] +
            list(self._eval_metrics.by_key.values()))

  def _prepare_evaluation(self, x, y=None):
    if not self.compiled:
      self.compile()
    features_spec, labels_spec = self._learn_specs(x, y)
    # The eval_metric_ops' Keras metrics are made here, eagerly, not in
    # the traced test step.
    calls, _ = self.traced_spec(features_spec, labels_spec, ModeKeys.EVAL)
    for key, call in calls.items():
      if key not in self._eval_metrics.by_key:
        self._eval_metrics.by_key[key] = call.make_metric(key)

  def evaluate(self, x=None, y=None, *args, **kwargs):
    self._prepare_evaluation(x, y)
    return super().evaluate(x, y, *args, **kwargs)

  def test_on_batch(self, x, y=None, *args, **kwargs):
    self._prepare_evaluation(x, y)
    return super().test_on_batch(x, y, *args, **kwargs)

  def test_step(self, data):
    features, labels, _ = keras.utils.unpack_x_y_sample_weight(data)
    spec, _, record = self.run_model_fn(features, labels, ModeKeys.EVAL)
    # Estimator's "loss": the mean of the batches' losses.
    self._eval_loss.update_state(spec.loss)
    logs = {"loss": self._eval_loss.result()}
    for key, pair in spec.eval_metric_ops.items():
      metric = self._eval_metrics.by_key[key]
      record.call_of(key, pair).update(metric)
      logs[key] = metric.result()
    logs["global_step"] = self.global_step.read_value()
    return logs

  # --- Export and model_dir ---------------------------------------------------

  def export_output_keys(self, input_signature):
    """The PREDICT spec's export_outputs keys (traced, nothing runs)."""
    keys = []

    def trace(features):
      spec, _, _ = self.run_model_fn(features, None, ModeKeys.PREDICT)
      keys.extend(spec.export_outputs or {})
      return tf.constant(0)
    tf.function(trace).get_concrete_function(*input_signature)
    return keys

  def export(self, filepath, format="tf_saved_model", verbose=True,
             input_signature=None, **kwargs):
    """A SavedModel: Keras's `serve` endpoint (the predictions) and one
    signature per `export_outputs` key of the PREDICT spec, returning its
    outputs (`serving_default` among them, as in TF1's export)."""
    if format != "tf_saved_model":
      raise ValueError("EstimatorModel exports a TF SavedModel only "
                       "(format='tf_saved_model').")
    if input_signature is None:
      if self._features_spec is None:
        raise ValueError("Call the model on a batch (or pass "
                         "input_signature=[features spec]) before export.")
      input_signature = [self._features_spec]
    # A dict of features serves under its keys, as TF1's receiver tensors.
    input_signature = [_named_specs(spec) for spec in input_signature]
    archive = keras.export.ExportArchive()
    archive.track(self)
    archive.add_endpoint(
        "serve", lambda features: self(features, training=False),
        input_signature)
    for key in self.export_output_keys(input_signature):
      def outputs(features, key=key):
        spec, _, _ = self.run_model_fn(features, None, ModeKeys.PREDICT)
        return dict(spec.export_outputs[key].outputs)
      archive.add_endpoint(key, outputs, input_signature)
    archive.write_out(filepath, verbose=verbose, **kwargs)

  def restore(self, path, strict=True):
    """Loads an Estimator model_dir's latest checkpoint (or a checkpoint
    prefix) by TF1 name, strictly by default, and its global step; the TF1
    optimizer's slots (Momentum's accumulators, Adam's moments and step,
    ...) go into the Keras optimizer when it is the train op's mapped one
    (on the next `fit`). Returns the `checkpoints.RestoreReport`."""
    if not self.built:
      raise ValueError("%s: call the model on a batch before restore(), so "
                       "that the model_fn has made its variables." % self.name)
    resolved = model_dir_lib.resolve(path)
    report = checkpoints.restore_checkpoint(
        resolved.prefix, self, strict=strict,
        ignore=checkpoints.TRAINING_STATE +
        self.moving_averages.ignored_entries())
    if resolved.global_step is not None:
      self.global_step.assign(resolved.global_step)
    self.moving_averages.restore(resolved.prefix,
                                 self._variables_by_tf1_name(), strict)
    self._slots_prefix = resolved.prefix
    self._load_optimizer_slots()
    return report

  def get_config(self):
    # The model_fn is Python code: a subclass that fixes it (its __init__
    # taking these arguments) round-trips through .keras files.
    return {**super().get_config(), "params": self.params,
            "predictions_key": self.predictions_key}

  @classmethod
  def from_config(cls, config):
    if cls is EstimatorModel:
      raise TypeError(
          "An EstimatorModel holds a Python model_fn, which a .keras file "
          "cannot hold: subclass it with the model_fn fixed in __init__, "
          "or save its weights and rebuild it with EstimatorModel(model_fn, "
          "params).")
    return cls(**config)
