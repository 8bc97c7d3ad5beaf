"""Stage 4, fully native: a plain Keras 3 model, no TF1 API and no tf1shim.

The `EstimatorSpec` goes, and each of its parts becomes Keras's:

| EstimatorSpec | Keras 3 |
|---|---|
| the network in `model_fn` | `call(features, training)` on Keras layers named as TF1 named them |
| `loss` (data loss + `get_regularization_loss()`) | `compile(loss=SparseCategoricalCrossentropy(from_logits=True))`; the kernels' `L2(scale / 2)` is added by `fit` |
| `train_op` (`GradientDescentOptimizer`, `UPDATE_OPS`, global step) | `compile(optimizer=SGD(lr))`; batch norm moves its averages in the training call; `optimizer.iterations` counts the steps |
| `eval_metric_ops` (`tf.compat.v1.metrics.accuracy`) | `compile(metrics=[SparseCategoricalAccuracy("accuracy")])` |
| `predictions` / `export_outputs` | `predict`; `export()` below writes the same signatures |

Every variable path is still its TF1 name (the model is named `digits`),
so the Estimator's model_dir loads with `tf1shim.checkpoints` or converts
once to `.weights.h5` with the ckpt tool. Batch normalization is
Keras's own `BatchNormalization`: on 2-D inputs (a dense layer's) TF1 did
not run its fused kernel, and its unfused update moves the moving variance
towards the batch's biased variance, as Keras 3's does (on 4-D inputs the
fused kernel's Bessel correction differs: `TF1BatchNormalization`, see
examples/batchnorm).
"""

import keras
import tensorflow as tf

LEARNING_RATE = 0.1
PARAMS = {"learning_rate": LEARNING_RATE, "hidden_units": 32,
          "l2_scale": 1e-3, "momentum": 0.9, "num_classes": 10}


@keras.saving.register_keras_serializable(package="examples.estimator.stage4")
class DigitsClassifier(keras.Model):
  """The digits classifier in Keras 3: features dict -> logits."""

  def __init__(self, params=None, name="digits", **kwargs):
    super().__init__(name=name, **kwargs)
    self.params = dict(params or PARAMS)
    regularizer = keras.regularizers.L2(self.params["l2_scale"] / 2)
    self.flatten = keras.layers.Flatten()
    self.hidden = keras.layers.Dense(self.params["hidden_units"],
                                     use_bias=False,
                                     kernel_regularizer=regularizer,
                                     name="dense")
    self.batch_norm = keras.layers.BatchNormalization(
        momentum=self.params["momentum"], name="batch_normalization")
    self.logits = keras.layers.Dense(self.params["num_classes"],
                                     kernel_regularizer=regularizer,
                                     name="dense_1")

  def call(self, features, training=False):
    x = keras.ops.concatenate(
        [self.flatten(features["pixels"]), features["ink"]], axis=1)
    x = self.hidden(x)
    x = self.batch_norm(x, training=training)
    x = keras.ops.relu(x)
    return self.logits(x)

  def get_config(self):
    return {**super().get_config(), "params": self.params}


def build_model(num_classes=10):
  """The stage's model: `build_model()(features, training=...) -> logits`."""
  return DigitsClassifier(dict(PARAMS, num_classes=num_classes))


def compile_model(model):
  """What the EstimatorSpec's loss, train_op and eval_metric_ops were."""
  model.compile(
      optimizer=keras.optimizers.SGD(model.params["learning_rate"]),
      loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
      metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy")])
  return model


def export(model, path, features_spec):
  """The SavedModel the Estimator exported: `serving_default` (the
  PredictOutput: classes, probabilities, logits) and `classify` (the
  ClassificationOutput's scores), the features by name."""
  signature = [{key: tf.TensorSpec(spec.shape, spec.dtype, name=key)
                for key, spec in features_spec.items()}]

  def predictions(features):
    logits = model(features, training=False)
    return {"classes": tf.argmax(logits, axis=1),
            "probabilities": tf.nn.softmax(logits), "logits": logits}

  archive = keras.export.ExportArchive()
  archive.track(model)
  archive.add_endpoint("serving_default", predictions, signature)
  archive.add_endpoint(
      "classify",
      lambda features: {"scores": tf.nn.softmax(model(features))},
      signature)
  archive.write_out(path, verbose=False)
