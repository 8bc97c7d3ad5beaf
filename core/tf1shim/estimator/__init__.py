"""`tf1shim.estimator`: TF1 Estimator `model_fn`s on Keras 3.

What a `model_fn` touches of `tf.estimator` (`ModeKeys`, `EstimatorSpec`,
`RunConfig`, `export.PredictOutput` & co.) and `EstimatorModel`, the Keras 3
model that runs it (`fit`/`evaluate`/`predict`/`export`, Estimator model_dir
restore). After `tf1shim.install()`, `tf.estimator` and
`tf.compat.v1.estimator` are this module. See core/README.md, "Estimator
model_fn".
"""

import types

from tf1shim.estimator import metrics
from tf1shim.estimator import moving_averages
from tf1shim.estimator import optimizers
from tf1shim.estimator import spec

from tf1shim.estimator.model import EstimatorModel
from tf1shim.estimator.model import model_function
from tf1shim.estimator.optimizers import UnsupportedOptimizerError
from tf1shim.estimator.metrics import UnsupportedMetricError
from tf1shim.estimator.spec import ClassificationOutput
from tf1shim.estimator.spec import EstimatorSpec
from tf1shim.estimator.spec import EstimatorSpecError
from tf1shim.estimator.spec import ModeKeys
from tf1shim.estimator.spec import PredictOutput
from tf1shim.estimator.spec import RegressionOutput
from tf1shim.estimator.spec import RunConfig
from tf1shim.estimator.spec import ServingInputReceiver
from tf1shim.estimator.spec import TPUEstimatorSpec


# tf.estimator.export
export = types.ModuleType("tf1shim.estimator.export",
                          "tf.estimator.export, provided by tf1shim.")
export.PredictOutput = PredictOutput
export.ClassificationOutput = ClassificationOutput
export.RegressionOutput = RegressionOutput
export.ServingInputReceiver = ServingInputReceiver

# tf.estimator.tpu: what a TPU model_fn uses, run off TPUs.
tpu = types.ModuleType("tf1shim.estimator.tpu",
                       "tf.estimator.tpu, provided by tf1shim (off TPUs).")
tpu.TPUEstimatorSpec = TPUEstimatorSpec
tpu.CrossShardOptimizer = spec.cross_shard_optimizer
TPU_API_NAMES = ("TPUEstimatorSpec", "CrossShardOptimizer")


def _missing_tpu_api(name):
  if name.startswith("__"):
    raise AttributeError(name)
  raise AttributeError(
      "tf.estimator.tpu.%s is not provided by tf1shim, which runs a TPU "
      "model_fn's TPUEstimatorSpec off TPUs in EstimatorModel (as "
      "TPUEstimator with use_tpu=False): model = "
      "tf1shim.estimator.EstimatorModel(model_fn, params={'batch_size': "
      "...}). TPU training in TF2 is a keras model under "
      "tf.distribute.TPUStrategy." % name)


tpu.__getattr__ = _missing_tpu_api

# What install() makes tf.estimator / tf.compat.v1.estimator hold.
API_NAMES = ("ModeKeys", "EstimatorSpec", "RunConfig", "export", "tpu",
             "EstimatorModel")


def missing_api_message(name):
  """Why `tf.estimator.<name>` is not there, and what replaces it."""
  if name in ("Estimator", "train_and_evaluate", "TrainSpec", "EvalSpec"):
    return (
        "tf.estimator.%s is not provided by tf1shim: Estimator's training "
        "loop (Session, hooks, train_and_evaluate) does not exist on TF "
        "2.21. Run the same model_fn in Keras 3: model = "
        "tf1shim.estimator.EstimatorModel(model_fn, params); model.compile(); "
        "model.fit(train_input_fn(), validation_data=eval_input_fn()); "
        "model.evaluate(...); model.restore(model_dir); model.export(path). "
        "See examples/estimator/README.md." % name)
  return (
      "tf.estimator.%s is not provided by tf1shim, which provides what a "
      "model_fn uses (%s) and EstimatorModel to run it. A canned estimator "
      "becomes a Keras 3 model (see examples/estimator/README.md)." % (
          name, ", ".join(API_NAMES)))

__all__ = list(API_NAMES) + [
    "ClassificationOutput", "EstimatorSpecError", "model_function",
    "PredictOutput",
    "RegressionOutput", "ServingInputReceiver", "TPUEstimatorSpec",
    "UnsupportedMetricError",
    "UnsupportedOptimizerError"]
