"""What a TF1 `model_fn` touches of `tf.estimator`: modes, the spec, config.

`ModeKeys`, `EstimatorSpec`, `RunConfig` and the export outputs
(`tf.estimator.export.PredictOutput`, `ClassificationOutput`,
`RegressionOutput`) with TF1's arguments and validation, so that a
`model_fn(features, labels, mode, params[, config])` written for
`tf.estimator` runs unchanged. `EstimatorModel` (model.py) is what runs it.
"""

import collections

import tensorflow as tf


class ModeKeys:
  """TF1's `tf.estimator.ModeKeys`: the mode a `model_fn` is called in."""
  TRAIN = "train"
  EVAL = "eval"
  PREDICT = "infer"


_MODES = (ModeKeys.TRAIN, ModeKeys.EVAL, ModeKeys.PREDICT)
DEFAULT_SERVING_SIGNATURE_DEF_KEY = "serving_default"


class EstimatorSpecError(ValueError):
  """A `model_fn` returned a spec the mode cannot use."""


class ExportOutput:
  """Base of the export outputs: `outputs` is the signature's output dict."""

  @property
  def outputs(self):
    raise NotImplementedError


def _as_dict(value, default_key):
  if isinstance(value, dict):
    return dict(value)
  return {default_key: value}


class PredictOutput(ExportOutput):
  """`tf.estimator.export.PredictOutput(outputs)`: a tensor or a dict of
  tensors, served as they are (a lone tensor under the key "output")."""

  def __init__(self, outputs):
    outputs = _as_dict(outputs, "output")
    for key in outputs:
      if not isinstance(key, str):
        raise ValueError("PredictOutput keys must be strings, got %r." % key)
    self._outputs = outputs

  @property
  def outputs(self):
    return self._outputs


class ClassificationOutput(ExportOutput):
  """`tf.estimator.export.ClassificationOutput(scores, classes)`: outputs
  "scores" (float) and/or "classes" (string), as TF1's classify signature."""

  def __init__(self, scores=None, classes=None):
    if scores is None and classes is None:
      raise ValueError("ClassificationOutput needs scores or classes.")
    self._outputs = {}
    if scores is not None:
      self._outputs["scores"] = scores
    if classes is not None:
      self._outputs["classes"] = classes

  @property
  def outputs(self):
    return self._outputs


class RegressionOutput(ExportOutput):
  """`tf.estimator.export.RegressionOutput(value)`: output "outputs"."""

  def __init__(self, value):
    self._outputs = {"outputs": value}

  @property
  def outputs(self):
    return self._outputs


class ServingInputReceiver(
    collections.namedtuple("ServingInputReceiver",
                           ["features", "receiver_tensors"])):
  """`tf.estimator.export.ServingInputReceiver`: kept so that serving
  input functions import; `EstimatorModel.export` takes an
  `input_signature` of the features instead (see core/README.md)."""


class EstimatorSpec(collections.namedtuple("EstimatorSpec", [
    "mode", "predictions", "loss", "train_op", "eval_metric_ops",
    "export_outputs", "training_chief_hooks", "training_hooks", "scaffold",
    "evaluation_hooks", "prediction_hooks"])):
  """`tf.estimator.EstimatorSpec`, checked as TF1 checked it.

  TRAIN needs `loss` and `train_op`, EVAL needs `loss`, PREDICT needs
  `predictions`. Hooks and `scaffold` are accepted and kept (the spec's
  `unsupported()` names them: Keras runs no session hooks; callbacks replace
  them, see core/README.md).
  """

  def __new__(cls, mode, predictions=None, loss=None, train_op=None,
              eval_metric_ops=None, export_outputs=None,
              training_chief_hooks=None, training_hooks=None, scaffold=None,
              evaluation_hooks=None, prediction_hooks=None):
    if mode not in _MODES:
      raise EstimatorSpecError(
          "EstimatorSpec mode must be one of %s, got %r." % (_MODES, mode))
    if mode == ModeKeys.TRAIN and train_op is None:
      raise EstimatorSpecError(
          "Missing train_op: the model_fn's EstimatorSpec in TRAIN mode "
          "must have a train_op (optimizer.minimize(loss, ...)).")
    if mode in (ModeKeys.TRAIN, ModeKeys.EVAL) and loss is None:
      raise EstimatorSpecError(
          "Missing loss: the model_fn's EstimatorSpec in %s mode must have "
          "a loss." % mode.upper())
    if mode == ModeKeys.PREDICT and predictions is None:
      raise EstimatorSpecError(
          "Missing predictions: the model_fn's EstimatorSpec in PREDICT "
          "mode must have predictions.")
    if export_outputs is not None:
      for key, output in export_outputs.items():
        if not isinstance(output, ExportOutput):
          raise EstimatorSpecError(
              "export_outputs[%r] must be a tf.estimator.export.PredictOutput, "
              "ClassificationOutput or RegressionOutput, got %r." %
              (key, type(output).__name__))
    for name, metric in (eval_metric_ops or {}).items():
      if not (isinstance(metric, tuple) and len(metric) == 2):
        raise EstimatorSpecError(
            "eval_metric_ops[%r] must be a (value, update_op) pair, as "
            "tf.compat.v1.metrics.* return." % name)
    return super().__new__(
        cls, mode, predictions, loss, train_op, eval_metric_ops or {},
        export_outputs, tuple(training_chief_hooks or ()),
        tuple(training_hooks or ()), scaffold, tuple(evaluation_hooks or ()),
        tuple(prediction_hooks or ()))

  def unsupported(self):
    """The fields Keras does not run (hooks, a scaffold), by name."""
    names = [name for name in ("training_chief_hooks", "training_hooks",
                               "evaluation_hooks", "prediction_hooks")
             if getattr(self, name)]
    if self.scaffold is not None:
      names.append("scaffold")
    return names


class RunConfig:
  """`tf.estimator.RunConfig`: the fields `model_fn`s read.

  Keras runs none of the session settings; they are kept so that a
  `model_fn` reading `config.model_dir`, `config.tf_random_seed`,
  `config.save_checkpoints_steps`, `config.is_chief`,
  `config.num_worker_replicas`, ... gets TF1's values (one local worker).
  """

  def __init__(self, model_dir=None, tf_random_seed=None,
               save_summary_steps=100, save_checkpoints_steps=None,
               save_checkpoints_secs=None, session_config=None,
               keep_checkpoint_max=5, keep_checkpoint_every_n_hours=10000,
               log_step_count_steps=100, train_distribute=None,
               device_fn=None, protocol=None, eval_distribute=None,
               experimental_distribute=None,
               experimental_max_worker_delay_secs=None,
               session_creation_timeout_secs=7200,
               checkpoint_save_graph_def=True):
    if save_checkpoints_steps is not None and save_checkpoints_secs is not None:
      raise ValueError("Can not provide both save_checkpoints_steps and "
                       "save_checkpoints_secs.")
    if save_checkpoints_steps is None and save_checkpoints_secs is None:
      save_checkpoints_secs = 600  # TF1's default.
    self.model_dir = model_dir
    self.tf_random_seed = tf_random_seed
    self.save_summary_steps = save_summary_steps
    self.save_checkpoints_steps = save_checkpoints_steps
    self.save_checkpoints_secs = save_checkpoints_secs
    self.session_config = session_config
    self.keep_checkpoint_max = keep_checkpoint_max
    self.keep_checkpoint_every_n_hours = keep_checkpoint_every_n_hours
    self.log_step_count_steps = log_step_count_steps
    self.train_distribute = train_distribute
    self.eval_distribute = eval_distribute
    self.experimental_distribute = experimental_distribute
    self.device_fn = device_fn
    self.protocol = protocol
    self.experimental_max_worker_delay_secs = experimental_max_worker_delay_secs
    self.session_creation_timeout_secs = session_creation_timeout_secs
    self.checkpoint_save_graph_def = checkpoint_save_graph_def
    # One local process, as TF1 without TF_CONFIG.
    self.task_type = "worker"
    self.task_id = 0
    self.cluster_spec = tf.train.ClusterSpec({})
    self.master = ""
    self.evaluation_master = ""
    self.is_chief = True
    self.num_ps_replicas = 0
    self.num_worker_replicas = 1
    self.global_id_in_cluster = 0
    self.service = None

  def replace(self, **kwargs):
    """A copy with `kwargs` changed, as TF1's `RunConfig.replace`."""
    copy = RunConfig.__new__(RunConfig)
    copy.__dict__.update(self.__dict__)
    for key, value in kwargs.items():
      if key not in copy.__dict__:
        raise ValueError("RunConfig has no field %r." % key)
      setattr(copy, key, value)
    return copy


class TPUEstimatorSpec(collections.namedtuple("TPUEstimatorSpec", [
    "mode", "predictions", "loss", "train_op", "eval_metrics",
    "export_outputs", "scaffold_fn", "host_call", "training_hooks",
    "evaluation_hooks", "prediction_hooks"])):
  """`tf.estimator.tpu.TPUEstimatorSpec`, what TPU model_fns return
  (BERT's, EfficientNet's), run as TPUEstimator ran it off TPUs
  (`use_tpu=False`): as the `EstimatorSpec` of `as_estimator_spec()`.

  `eval_metrics` is `(metric_fn, tensors)`, a list of tensors or a dict of
  them; its `eval_metric_ops` are `metric_fn(*tensors)` (or
  `metric_fn(**tensors)`). `scaffold_fn()` gives the scaffold. `host_call`
  (summaries written on the host) is kept and reported, like hooks.
  """

  def __new__(cls, mode, predictions=None, loss=None, train_op=None,
              eval_metrics=None, export_outputs=None, scaffold_fn=None,
              host_call=None, training_hooks=None, evaluation_hooks=None,
              prediction_hooks=None):
    if eval_metrics is not None:
      if not (isinstance(eval_metrics, (tuple, list)) and
              len(eval_metrics) == 2 and callable(eval_metrics[0])):
        raise EstimatorSpecError(
            "TPUEstimatorSpec eval_metrics must be (metric_fn, tensors), "
            "tensors a list or a dict; got %r." % (eval_metrics,))
    return super().__new__(
        cls, mode, predictions, loss, train_op, eval_metrics, export_outputs,
        scaffold_fn, host_call, training_hooks, evaluation_hooks,
        prediction_hooks)

  def as_estimator_spec(self):
    """The `EstimatorSpec` TPUEstimator ran off TPUs (checked as one)."""
    eval_metric_ops = None
    if self.eval_metrics is not None:
      metric_fn, tensors = self.eval_metrics
      eval_metric_ops = (metric_fn(**tensors) if isinstance(tensors, dict)
                         else metric_fn(*tensors))
    spec = EstimatorSpec(
        self.mode, predictions=self.predictions, loss=self.loss,
        train_op=self.train_op, eval_metric_ops=eval_metric_ops,
        export_outputs=self.export_outputs,
        scaffold=self.scaffold_fn() if self.scaffold_fn else None,
        training_hooks=self.training_hooks,
        evaluation_hooks=self.evaluation_hooks,
        prediction_hooks=self.prediction_hooks)
    return spec, ["host_call"] if self.host_call is not None else []


def cross_shard_optimizer(optimizer, reduction=None, name=None,
                          group_assignment=None):
  """`tf.estimator.tpu.CrossShardOptimizer` off TPUs: one shard, whose
  gradients are the optimizer's own (the sum or mean over one shard)."""
  del reduction, name, group_assignment
  return optimizer
