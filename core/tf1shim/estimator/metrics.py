"""`tf.compat.v1.metrics.*` in `eval_metric_ops`, as Keras 3 metrics.

A TF1 metric is a pair of ops, `(value, update_op)`, over local variables
that an Estimator's evaluation loop updates once per batch and reads at the
end. Eagerly TensorFlow refuses them ("not supported when eager execution is
enabled"). While `EstimatorModel` calls the `model_fn` (`recording()`),
each supported `tf.compat.v1.metrics` function returns `(value, value)`:
the metric of this batch alone (so TF1 code may still log or summarize
it), and records the call. The model keeps one Keras metric per
`eval_metric_ops` key and feeds it every batch; its result is TF1's value:

| TF1 metric | Keras metric, fed with |
|---|---|
| `accuracy(labels, predictions, weights)` | `Mean` of `equal(labels, predictions)` (predictions cast to the labels' dtype, as TF1) |
| `mean(values, weights)` | `Mean` of `values` |
| `mean_squared_error`, `mean_absolute_error` | `Mean` of the squared / absolute difference (every element, as TF1) |
| `root_mean_squared_error` | `RootMeanSquaredError` |
| `precision`, `recall` | `Precision`, `Recall` of labels and predictions cast to bool |
| `auc(..., curve, summation_method, num_thresholds, thresholds)` | `TF1AUC`: Keras's `AUC` counts at TF1's thresholds, TF1's value (its epsilon; trapezoidal, careful_interpolation, minoring, majoring) |

Weights broadcast to the values as in TF1. Any other metric is an error
naming it. Outside `recording()`, in TF1 graphs too, the functions are
TensorFlow's.
"""

import contextlib
import importlib
import threading

import keras
import tensorflow as tf

_state = threading.local()
_installed = False


class UnsupportedMetricError(ValueError):
  """An `eval_metric_ops` metric with no Keras equivalent here."""


def _float(x):
  return tf.cast(x, tf.float32)


def _broadcast_weights(weights, values):
  if weights is None:
    return None
  return tf.broadcast_to(_float(weights), tf.shape(values))


def _accuracy_values(labels, predictions):
  labels = tf.convert_to_tensor(labels)
  predictions = tf.convert_to_tensor(predictions)
  if labels.dtype != predictions.dtype:
    predictions = tf.cast(predictions, labels.dtype)
  # TF1 squeezes a trailing dimension of 1 off either side.
  if labels.shape.rank is not None and predictions.shape.rank is not None:
    if labels.shape.rank == predictions.shape.rank + 1 and (
        labels.shape[-1] == 1):
      labels = tf.squeeze(labels, -1)
    elif predictions.shape.rank == labels.shape.rank + 1 and (
        predictions.shape[-1] == 1):
      predictions = tf.squeeze(predictions, -1)
  return _float(tf.equal(labels, predictions))


def _difference(labels, predictions):
  return _float(predictions) - _float(labels)


class MetricCall:
  """One TF1 metric call: which Keras metric, and what to feed it."""

  def __init__(self, tf1_name, make_metric, args, weights, batch_value):
    self.tf1_name = tf1_name
    self.make_metric = make_metric  # name -> a new Keras metric
    self.args = args  # positional arguments of update_state
    self.weights = weights
    # The metric of this batch alone (what TF1 code may log).
    self.batch_value = batch_value

  def update(self, metric):
    metric.update_state(*self.args, sample_weight=self.weights)


def _weighted_mean(values, weights):
  if weights is None:
    return tf.reduce_mean(values)
  return tf.math.divide_no_nan(tf.reduce_sum(values * weights),
                               tf.reduce_sum(weights))


def _mean_of(name, values, weights):
  values = _float(values)
  weights = _broadcast_weights(weights, values)
  return MetricCall(name, lambda n: keras.metrics.Mean(name=n), (values,),
                    weights, _weighted_mean(values, weights))


def accuracy(labels, predictions, weights=None, metrics_collections=None,
             updates_collections=None, name=None):
  del metrics_collections, updates_collections, name
  return _mean_of("accuracy", _accuracy_values(labels, predictions), weights)


def mean(values, weights=None, metrics_collections=None,
         updates_collections=None, name=None):
  del metrics_collections, updates_collections, name
  return _mean_of("mean", values, weights)


def mean_squared_error(labels, predictions, weights=None,
                       metrics_collections=None, updates_collections=None,
                       name=None):
  del metrics_collections, updates_collections, name
  return _mean_of("mean_squared_error",
                  tf.square(_difference(labels, predictions)), weights)


def mean_absolute_error(labels, predictions, weights=None,
                        metrics_collections=None, updates_collections=None,
                        name=None):
  del metrics_collections, updates_collections, name
  return _mean_of("mean_absolute_error",
                  tf.abs(_difference(labels, predictions)), weights)


def root_mean_squared_error(labels, predictions, weights=None,
                            metrics_collections=None, updates_collections=None,
                            name=None):
  del metrics_collections, updates_collections, name
  difference = _difference(labels, predictions)
  weights = _broadcast_weights(weights, difference)
  return MetricCall(
      "root_mean_squared_error",
      lambda n: keras.metrics.RootMeanSquaredError(name=n),
      (tf.zeros_like(difference), difference), weights,
      tf.sqrt(_weighted_mean(tf.square(difference), weights)))


def _bool_metric(tf1_name, keras_class, relevant):
  def metric(labels, predictions, weights=None, metrics_collections=None,
             updates_collections=None, name=None):
    del metrics_collections, updates_collections, name
    labels = _float(tf.cast(labels, tf.bool))
    predictions = _float(tf.cast(predictions, tf.bool))
    weights = _broadcast_weights(weights, predictions)
    if weights is None:
      weights_or_one = tf.ones_like(predictions)
    else:
      weights_or_one = weights
    true_positives = tf.reduce_sum(labels * predictions * weights_or_one)
    batch_value = tf.math.divide_no_nan(
        true_positives,
        tf.reduce_sum(relevant(labels, predictions) * weights_or_one))
    return MetricCall(tf1_name, lambda n: keras_class(name=n),
                      (labels, predictions), weights, batch_value)
  metric.__name__ = tf1_name
  return metric


# TF1's auc: thresholds padded by this below 0 and above 1, and this added
# to the rates' numerators and denominators (metrics_impl.auc).
_AUC_THRESHOLD_EPSILON = 1e-7
_AUC_EPSILON = 1e-6
_AUC_SUMMATIONS = ("trapezoidal", "careful_interpolation", "minoring",
                   "majoring")


def _auc_thresholds(num_thresholds, thresholds):
  """TF1's (and Keras's) thresholds of `auc`."""
  if thresholds is not None:
    inner = sorted(float(t) for t in thresholds)
  else:
    inner = [(i + 1) * 1.0 / (num_thresholds - 1)
             for i in range(num_thresholds - 2)]
  return ([0.0 - _AUC_THRESHOLD_EPSILON] + inner +
          [1.0 + _AUC_THRESHOLD_EPSILON])


def _interpolated_pr_auc(tp, fp, fn):
  """TF1's `careful_interpolation` of the PR curve (Davis & Goadrich 2006):
  precision interpolated linearly in true positives between thresholds."""
  dtp = tp[:-1] - tp[1:]
  p = tp + fp
  slope = tf.math.divide_no_nan(dtp, tf.maximum(p[:-1] - p[1:], 0))
  intercept = tp[1:] - slope * p[1:]
  p_ratio = tf.where(
      tf.logical_and(p[:-1] > 0, p[1:] > 0),
      tf.math.divide_no_nan(p[:-1], tf.maximum(p[1:], 0)),
      tf.ones_like(p[1:]))
  return tf.reduce_sum(tf.math.divide_no_nan(
      slope * (dtp + intercept * tf.math.log(p_ratio)),
      tf.maximum(tp[1:] + fn[1:], 0)))


def tf1_auc(tp, fp, tn, fn, curve, summation_method):
  """TF1's `auc` value from the confusion counts at its thresholds."""
  if curve == "PR" and summation_method == "careful_interpolation":
    return _interpolated_pr_auc(tp, fp, fn)
  recall = (tp + _AUC_EPSILON) / (tp + fn + _AUC_EPSILON)
  if curve == "ROC":
    x, y = fp / (fp + tn + _AUC_EPSILON), recall
  else:
    x, y = recall, (tp + _AUC_EPSILON) / (tp + fp + _AUC_EPSILON)
  if summation_method == "minoring":
    heights = tf.minimum(y[:-1], y[1:])
  elif summation_method == "majoring":
    heights = tf.maximum(y[:-1], y[1:])
  else:  # trapezoidal (and ROC's careful_interpolation)
    heights = (y[:-1] + y[1:]) / 2.0
  return tf.reduce_sum((x[:-1] - x[1:]) * heights)


@keras.saving.register_keras_serializable(package="tf1shim.estimator")
class TF1AUC(keras.metrics.AUC):
  """Keras's AUC accumulation (true/false positives/negatives at TF1's
  thresholds, which Keras makes the same way) with TF1's value: its
  epsilon, and each of its summation methods (Keras has no trapezoidal
  PR-AUC)."""

  def __init__(self, curve="ROC", tf1_summation_method="trapezoidal",
               **kwargs):
    super().__init__(curve=curve, **kwargs)
    self.tf1_curve = curve
    self.tf1_summation_method = tf1_summation_method

  def result(self):
    return tf1_auc(self.true_positives, self.false_positives,
                   self.true_negatives, self.false_negatives, self.tf1_curve,
                   self.tf1_summation_method)

  def get_config(self):
    return {**super().get_config(),
            "tf1_summation_method": self.tf1_summation_method}


def auc(labels, predictions, weights=None, num_thresholds=200,
        metrics_collections=None, updates_collections=None, curve="ROC",
        name=None, summation_method="trapezoidal", thresholds=None):
  del metrics_collections, updates_collections, name
  if curve not in ("ROC", "PR"):
    raise ValueError("Curve must be either ROC or PR. Curve %s is unknown."
                     % curve)
  if summation_method not in _AUC_SUMMATIONS:
    raise ValueError("Invalid summation_method: %s summation_method should "
                     "be one of %s." % (summation_method, _AUC_SUMMATIONS))
  # TF1: labels as bool, every element one example; weights broadcast.
  predictions = _float(predictions)
  weights = _broadcast_weights(weights, predictions)
  labels = tf.reshape(_float(tf.cast(labels, tf.bool)), [-1])
  predictions = tf.reshape(predictions, [-1])
  weights = None if weights is None else tf.reshape(weights, [-1])
  points = _auc_thresholds(num_thresholds, thresholds)
  above = _float(predictions[None, :] > tf.constant(points)[:, None])
  weight = tf.ones_like(predictions) if weights is None else weights
  positive, negative = labels * weight, (1.0 - labels) * weight
  batch_value = tf1_auc(
      tf.reduce_sum(above * positive, 1), tf.reduce_sum(above * negative, 1),
      tf.reduce_sum((1.0 - above) * negative, 1),
      tf.reduce_sum((1.0 - above) * positive, 1), curve, summation_method)
  inner = None if thresholds is None else sorted(float(t) for t in thresholds)
  return MetricCall(
      "auc", lambda n: TF1AUC(
          curve=curve, tf1_summation_method=summation_method,
          num_thresholds=num_thresholds, thresholds=inner, name=n),
      (labels, predictions), weights, batch_value)


# tf.compat.v1.metrics.<name> -> the recording version.
SUPPORTED = {
    "auc": auc,
    "accuracy": accuracy,
    "mean": mean,
    "mean_squared_error": mean_squared_error,
    "mean_absolute_error": mean_absolute_error,
    "root_mean_squared_error": root_mean_squared_error,
    # Precision: true positives over predicted positives; recall: over
    # actual positives.
    "precision": _bool_metric("precision", keras.metrics.Precision,
                              lambda labels, predictions: predictions),
    "recall": _bool_metric("recall", keras.metrics.Recall,
                           lambda labels, predictions: labels),
}


class MetricsRecord:
  """The TF1 metrics one `model_fn` call made: value tensor id -> call."""

  def __init__(self):
    self._calls = {}
    self._keep = []  # the value tensors, so that their ids stay theirs

  def add(self, value, call):
    self._calls[id(value)] = call
    self._keep.append(value)

  def call_of(self, key, pair):
    """The `MetricCall` of `eval_metric_ops[key]`."""
    for part in pair:
      call = self._calls.get(id(part))
      if call is not None:
        return call
    raise UnsupportedMetricError(
        "eval_metric_ops[%r] is not a tf.compat.v1.metrics metric that "
        "tf1shim.estimator maps to Keras (it maps tf.compat.v1.metrics.%s). "
        "Compute it with a keras.metrics metric on the model's predictions."
        % (key, ", tf.compat.v1.metrics.".join(sorted(SUPPORTED))))


def current():
  return getattr(_state, "record", None)


@contextlib.contextmanager
def recording():
  """While the block runs, supported TF1 metrics record into the yielded
  `MetricsRecord`; the others raise `UnsupportedMetricError`."""
  install()
  outer = current()
  _state.record = MetricsRecord()
  try:
    yield _state.record
  finally:
    _state.record = outer


def _recording_version(name, original):
  make_call = SUPPORTED.get(name)

  def metric(*args, **kwargs):
    record = current()
    if record is None:
      return original(*args, **kwargs)
    if make_call is None:
      raise UnsupportedMetricError(
          "The model_fn calls tf.compat.v1.metrics.%s, which "
          "tf1shim.estimator does not map to a Keras metric (it maps %s). "
          "Compute it with a keras.metrics metric on the model's "
          "predictions." % (name, ", ".join(sorted(SUPPORTED))))
    call = make_call(*args, **kwargs)
    value = call.batch_value
    record.add(value, call)
    return value, value

  metric.__name__ = name
  metric.__doc__ = original.__doc__
  metric.__wrapped__ = original
  metric.tf1shim_recording = True
  return metric


def _v1_metrics_modules():
  modules = []
  for v1 in (tf.compat.v1, importlib.import_module("tensorflow.compat.v1")):
    if all(v1.metrics is not m for m in modules):
      modules.append(v1.metrics)
  return modules


def install():
  """Wraps every public `tf.compat.v1.metrics` function once; they record
  only inside `recording()`."""
  global _installed
  if _installed:
    return
  for module in _v1_metrics_modules():
    for name in dir(module):
      original = getattr(module, name)
      if name.startswith("_") or not callable(original) or getattr(
          original, "tf1shim_recording", False):
        continue
      setattr(module, name, _recording_version(name, original))
  _installed = True
