"""The status of TF1 APIs under tf1shim: data, read by the scanner.

One `Entry` per API or API pattern, by its canonical name (what
`scanner.canonical_name` makes of the code's spelling):

* `tf.compat.v1.X` for TensorFlow's v1 API, whether the code wrote
  `tf.X` under `import tensorflow as tf` (TF1 code: its `tf` was the v1 API)
  or `tf.compat.v1.X`, `import tensorflow.compat.v1 as tf`, ...;
* `tf.contrib.X`, `tf.estimator.X` (removed from TensorFlow),
  `tensorflow.python.X` (TensorFlow's private modules), `tf_slim.X`
  (tf-slim 1.1.0);
* `NAME(keyword=)`: a call of NAME passing `keyword` (not None/False).

A pattern is an `fnmatch` pattern (`*` also matches dots); `X.*` matches X
itself too. The most specific entry wins: an exact name, else the pattern
with the most literal characters.

Statuses are those of the code run on TensorFlow 2.21 with `tf1shim.install()`
done, as a Keras 3 model: AS_IS (unchanged), CHANGE (the change named in
`note`), UNSUPPORTED (the reason in `note`). `lesson` is a path in this
repository to read (an example stage, a slim port, a README section).
`provided_by` names the tf1shim object the API is after `tf1shim.install()`;
`replacement`, what to write instead. `core/tests/scan_test.py` checks all
of it against TensorFlow, tf-slim and tf1shim as installed: the APIs marked
AS_IS/CHANGE exist (or their replacement does), `provided_by` is what the
API resolves to, chosen UNSUPPORTED ones really fail, lessons exist.

To add an API: add its Entry here, run `core/tests/scan_test.py`.
"""

import collections
import fnmatch

AS_IS = "runs as is"
CHANGE = "runs with a change"
UNSUPPORTED = "not supported"
STATUSES = (AS_IS, CHANGE, UNSUPPORTED)

Entry = collections.namedtuple(
    "Entry", ["api", "status", "note", "lesson", "provided_by", "replacement"],
    defaults=("", "", ""))

# --- Lessons: where this repository shows the step ---------------------------
# Decorating the method that runs get_variable code.
DENSE_STAGE1 = "examples/dense/stage1_functional_v1.py"
DENSE_STAGE2 = "examples/dense/stage2_oo_v1.py"  # variables into layer objects
CONV_STAGE2 = "examples/conv/stage2_oo_v1.py"  # TF1 layers as objects
CONV_STAGE3 = "examples/conv/stage3_partially_native.py"  # TF1 layers -> Keras
BATCHNORM_STAGE1 = "examples/batchnorm/stage1_functional_v1.py"  # no UPDATE_OPS
BATCHNORM_STAGE4 = "examples/batchnorm/stage4_fully_native.py"
TRAINING = "examples/curriculum/course.py"  # Session.run loop vs model.fit
OPTIMIZERS = "examples/curriculum/training.py"  # TF1 vs Keras optimizer
SLIM = "slim_port/resnet_v1_50"  # slim, under the shim, in four stages
SLIM_ARG_SCOPE = "slim_port/vgg_16"  # arg_scope removed (stage 2)
CORE = "core/README.md"
RNN = "examples/rnn"  # cells under the shim, then keras.layers.LSTM, in four stages
ESTIMATOR = "examples/estimator"  # a model_fn in EstimatorModel, then Keras

# --- What tf1shim provides after install() (checked by scan_test) -----------
# `tf1shim.layers.LAYER_NAMES`: tf.compat.v1.layers.<name>.
TF1SHIM_LAYERS = (
    "AveragePooling1D", "AveragePooling2D", "AveragePooling3D", "AvgPool1D",
    "AvgPool2D", "AvgPool3D", "BatchNormalization", "Conv1D", "Conv2D",
    "Conv2DTranspose", "Conv3D", "Conv3DTranspose", "Convolution1D",
    "Convolution2D", "Convolution2DTranspose", "Convolution3D",
    "Convolution3DTranspose", "Deconvolution2D", "Deconvolution3D", "Dense",
    "Dropout", "Flatten", "InputSpec", "Layer", "MaxPool1D", "MaxPool2D",
    "MaxPool3D", "MaxPooling1D", "MaxPooling2D", "MaxPooling3D",
    "SeparableConv1D", "SeparableConv2D", "SeparableConvolution1D",
    "SeparableConvolution2D", "average_pooling1d", "average_pooling2d",
    "average_pooling3d", "batch_normalization", "conv1d", "conv2d",
    "conv2d_transpose", "conv3d", "conv3d_transpose", "deconv2d", "deconv3d",
    "dense", "dropout", "flatten", "functional", "max_pooling1d",
    "max_pooling2d", "max_pooling3d", "separable_conv1d", "separable_conv2d")
# `tf1shim.rnn.CELL_NAMES`: tf.compat.v1.nn.rnn_cell.<name>.
TF1SHIM_CELLS = (
    "BasicLSTMCell", "BasicRNNCell", "DeviceWrapper", "DropoutWrapper",
    "GRUCell", "LSTMCell", "LSTMStateTuple", "MultiRNNCell", "RNNCell",
    "ResidualWrapper")
# tf.compat.v1.keras.utils.<name> -> tf1shim.<name> (install.KERAS_UTILS).
TF1SHIM_KERAS_UTILS = (
    "track_tf1_style_variables", "get_or_create_layer",
    "DeterministicRandomTestTool")
# tf.contrib.layers.<name> that tf-slim 1.1.0 keeps as tf_slim.<name> (the
# same function, the same variable names).
CONTRIB_LAYERS_IN_SLIM = (
    "apply_regularization", "avg_pool2d", "avg_pool3d", "batch_norm",
    "bias_add", "conv1d", "conv2d", "conv2d_in_plane", "conv2d_transpose",
    "conv3d", "conv3d_transpose", "convolution", "convolution1d",
    "convolution2d", "convolution2d_in_plane", "convolution2d_transpose",
    "convolution3d", "convolution3d_transpose", "dense_to_sparse", "dropout",
    "elu", "flatten", "fully_connected", "gdn", "GDN", "group_norm",
    "images_to_sequence", "instance_norm", "l1_l2_regularizer",
    "l1_regularizer", "l2_regularizer", "layer_norm", "linear", "max_pool2d",
    "max_pool3d", "maxout", "one_hot_encoding", "optimize_loss", "pool",
    "recompute_grad", "relu", "relu6", "repeat", "scale_gradient",
    "separable_conv2d", "separable_convolution2d", "sequence_to_images",
    "softmax", "spatial_softmax", "stack", "sum_regularizer",
    "summarize_activation", "summarize_activations", "summarize_collection",
    "summarize_tensor", "summarize_tensors", "unit_norm",
    "variance_scaling_initializer", "xavier_initializer",
    "xavier_initializer_conv2d")
# tf.contrib.framework.<name> kept as tf_slim.<name>.
CONTRIB_FRAMEWORK_IN_SLIM = (
    "add_arg_scope", "arg_scope", "assign_from_checkpoint",
    "assign_from_checkpoint_fn", "get_model_variables",
    "get_or_create_global_step", "get_trainable_variables",
    "get_unique_variable", "get_variables", "get_variables_by_name",
    "get_variables_to_restore", "local_variable", "model_variable",
    "variable")

_DECORATE = (
    "decorate the method that runs it with track_tf1_style_variables "
    "(tf1shim's, or tf.compat.v1.keras.utils' after tf1shim.install())")
_INSTALL_AND_DECORATE = (
    "tf1shim.install() provides it on Keras 3; " + _DECORATE)
_COLLECTIONS = (
    "call it inside a method decorated with track_tf1_style_variables: "
    "there it lists that call's variables and losses, as the TF1 graph did")
_SESSION = (
    "a Keras 3 model has no graph to run: the Session-based loop becomes "
    "model.fit (or a tf.GradientTape loop); tf.compat.v1.Session still runs "
    "TF1 graphs, e.g. as a test's reference")
_PARTITIONED = (
    "partitioned variables: tf1shim refuses partitioner= (ValueError); "
    "remove it, the whole variable keeps the TF1 name under which Saver "
    "stored it; rows looked up with embedding_lookup's default 'mod' "
    "strategy need the checkpoint rule transform `mod_partitions N`")
_ESTIMATOR_MODEL = (
    "tf1shim.install() makes tf.estimator tf1shim.estimator; the model_fn "
    "runs in a tf1shim.estimator.EstimatorModel (fit, evaluate, predict, "
    "export)")

ENTRIES = [
    # TensorFlow's v1 API: what TF 2.21 keeps under tf.compat.v1 runs.
    Entry("tf.compat.v1.*", AS_IS,
          "TensorFlow 2.21 keeps it in tf.compat.v1"),
    Entry("tf.compat.v1.*_initializer", AS_IS,
          "TF1's initializer; get_variable and the TF1 layers use it as TF1 "
          "did", DENSE_STAGE2),
    Entry("tf.compat.v1.initializers.*", AS_IS,
          "TF1's initializers", DENSE_STAGE2),
    Entry("tf.compat.v1.losses.*", AS_IS,
          "inside a decorated method the loss is also in its LOSSES "
          "collection"),
    Entry("tf.compat.v1.nn.*", AS_IS, "TensorFlow's ops"),
    # Variables and scopes.
    Entry("tf.compat.v1.get_variable", CHANGE, _DECORATE, DENSE_STAGE2),
    Entry("tf.compat.v1.variable_scope", CHANGE,
          "inside a method decorated with track_tf1_style_variables it has "
          "TF1's reuse rules and names", DENSE_STAGE2),
    Entry("tf.compat.v1.get_variable_scope", CHANGE, _DECORATE, DENSE_STAGE2),
    Entry("tf.compat.v1.AUTO_REUSE", CHANGE, _DECORATE, DENSE_STAGE2),
    Entry("tf.compat.v1.make_template", CHANGE, _DECORATE, CORE),
    Entry("tf.compat.v1.get_variable(partitioner=)", UNSUPPORTED,
          _PARTITIONED, CORE),
    Entry("tf.compat.v1.variable_scope(partitioner=)", UNSUPPORTED,
          _PARTITIONED, CORE),
    Entry("tf.compat.v1.*_partitioner", UNSUPPORTED, _PARTITIONED, CORE),
    Entry("tf.compat.v1.create_partitioned_variables", UNSUPPORTED,
          _PARTITIONED, CORE),
    Entry("tf.compat.v1.gradients", CHANGE,
          "graph-only: decorate the method with "
          "track_tf1_style_variables(graph_function=True), or use "
          "tf.GradientTape", CORE),
    # Graph collections.
    Entry("tf.compat.v1.get_collection", CHANGE, _COLLECTIONS, CORE),
    Entry("tf.compat.v1.get_collection_ref", CHANGE, _COLLECTIONS, CORE),
    Entry("tf.compat.v1.add_to_collection", CHANGE, _COLLECTIONS, CORE),
    Entry("tf.compat.v1.add_to_collections", CHANGE, _COLLECTIONS, CORE),
    Entry("tf.compat.v1.global_variables", CHANGE, _COLLECTIONS, CORE),
    Entry("tf.compat.v1.all_variables", CHANGE, _COLLECTIONS, CORE),
    Entry("tf.compat.v1.trainable_variables", CHANGE, _COLLECTIONS, CORE),
    Entry("tf.compat.v1.model_variables", CHANGE, _COLLECTIONS, CORE),
    Entry("tf.compat.v1.local_variables", CHANGE, _COLLECTIONS, CORE),
    Entry("tf.compat.v1.GraphKeys.*", CHANGE, _COLLECTIONS, CORE),
    Entry("tf.compat.v1.GraphKeys.UPDATE_OPS", CHANGE,
          "drop the control dependency on UPDATE_OPS: tf1shim's batch "
          "normalization updates its moving averages during the training "
          "call (the collection stays empty in TF2)", BATCHNORM_STAGE1),
    Entry("tf.compat.v1.losses.get_regularization_loss", CHANGE,
          _COLLECTIONS + "; a Keras model has them in model.losses",
          DENSE_STAGE1),
    Entry("tf.compat.v1.losses.get_regularization_losses", CHANGE,
          _COLLECTIONS + "; a Keras model has them in model.losses",
          DENSE_STAGE1),
    Entry("tf.compat.v1.losses.get_total_loss", CHANGE, _COLLECTIONS, CORE),
    Entry("tf.compat.v1.losses.get_losses", CHANGE, _COLLECTIONS, CORE),
    # The TF1 layers and RNN cells: tf1shim's.
    Entry("tf.compat.v1.layers", CHANGE,
          "tf1shim.install() makes it tf1shim's TF1 layers", CONV_STAGE2),
    Entry("tf.compat.v1.layers.*", UNSUPPORTED,
          "tf1shim.layers does not provide it: write it with keras.layers, "
          "or run under tf-keras (TF_USE_LEGACY_KERAS=1)", CONV_STAGE3),
] + [
    Entry("tf.compat.v1.layers." + name, CHANGE, _INSTALL_AND_DECORATE,
          BATCHNORM_STAGE1 if "atch" in name else CONV_STAGE2,
          provided_by="tf1shim.layers." + name)
    for name in TF1SHIM_LAYERS
] + [
    Entry("tf.compat.v1.nn.rnn_cell", CHANGE,
          "tf1shim.install() makes it tf1shim's TF1 cells", RNN),
    Entry("tf.compat.v1.nn.rnn_cell.*", UNSUPPORTED,
          "tf1shim.rnn does not provide this cell: write it with "
          "keras.layers (an RNN cell), or run under tf-keras", RNN),
] + [
    Entry("tf.compat.v1.nn.rnn_cell." + name, CHANGE, _INSTALL_AND_DECORATE,
          RNN, provided_by="tf1shim.rnn." + name)
    for name in TF1SHIM_CELLS
] + [
    Entry("tf.compat.v1.nn." + fn, CHANGE,
          "with tf1shim's cells, inside a decorated method (the cells create "
          "their variables there)", RNN)
    for fn in ("dynamic_rnn", "static_rnn", "bidirectional_dynamic_rnn",
               "static_bidirectional_rnn", "raw_rnn")
] + [
    # The guide's entry points.
    Entry("tf.compat.v1.keras.utils." + name, CHANGE,
          "tf1shim.install() first (Keras 3 has none), or use tf1shim." + name,
          DENSE_STAGE1, provided_by="tf1shim." + name)
    for name in TF1SHIM_KERAS_UTILS
] + [
    Entry("tf.compat.v1.keras.*", CHANGE,
          "on TF 2.21 tf.keras is Keras 3, not TF1's Keras 2: check the "
          "Keras 3 differences, or run under tf-keras (TF_USE_LEGACY_KERAS=1)",
          CORE),
    # Graph-mode execution and training.
    Entry("tf.compat.v1.Session", UNSUPPORTED, _SESSION, TRAINING),
    Entry("tf.compat.v1.InteractiveSession", UNSUPPORTED, _SESSION, TRAINING),
    Entry("tf.compat.v1.train.MonitoredTrainingSession", UNSUPPORTED,
          _SESSION, TRAINING),
    Entry("tf.compat.v1.train.MonitoredSession", UNSUPPORTED, _SESSION,
          TRAINING),
    Entry("tf.compat.v1.train.SingularMonitoredSession", UNSUPPORTED,
          _SESSION, TRAINING),
    Entry("tf.compat.v1.train.start_queue_runners", UNSUPPORTED,
          "queue runners need a Session: read the data with tf.data",
          TRAINING),
    Entry("tf.compat.v1.placeholder", UNSUPPORTED,
          "eager code has no placeholders (RuntimeError): the inputs are "
          "the arguments of the model's call", TRAINING),
    Entry("tf.compat.v1.placeholder_with_default", UNSUPPORTED,
          "eager code has no placeholders: the inputs are the arguments of "
          "the model's call", TRAINING),
    Entry("tf.compat.v1.global_variables_initializer", CHANGE,
          "remove it: TF2 initializes variables when they are created",
          TRAINING),
    Entry("tf.compat.v1.local_variables_initializer", CHANGE,
          "remove it: TF2 initializes variables when they are created",
          TRAINING),
    Entry("tf.compat.v1.initialize_all_variables", CHANGE,
          "remove it: TF2 initializes variables when they are created",
          TRAINING),
    Entry("tf.compat.v1.disable_eager_execution", CHANGE,
          "remove it: tf1shim runs TF1 code eagerly inside Keras 3 models",
          TRAINING),
    Entry("tf.compat.v1.disable_v2_behavior", CHANGE,
          "remove it: tf1shim runs TF1 code eagerly inside Keras 3 models",
          TRAINING),
    Entry("tf.compat.v1.train.*Optimizer", CHANGE,
          "compile the Keras model with the matching keras.optimizers "
          "optimizer (tf1shim.comparison.Optimizer pairs them)", OPTIMIZERS),
    Entry("tf.compat.v1.train.init_from_checkpoint", CHANGE,
          "call it inside a method decorated with track_tf1_style_variables "
          "(after tf1shim.install()): the first call that asks gives the "
          "named variables the checkpoint's values, once, as TF1's "
          "initializers did; outside, TF 2.21 assigns on every call", CORE,
          provided_by="tf1shim.checkpoint_initializers.init_from_checkpoint"),
    Entry("tf.compat.v1.train.Saver", CHANGE,
          "TF1 checkpoints load by TF1 name into the shimmed and migrated "
          "models (tf1shim.checkpoints, the tf1shim-ckpt tool); save with "
          "model.save_weights or tf.train.Checkpoint", CORE),
    Entry("tf.compat.v1.summary.*", CHANGE,
          "TF2's tf.summary with a writer (tf.summary.create_file_writer), "
          "or Keras's TensorBoard callback"),
    Entry("tf.compat.v1.summary.merge_all", CHANGE,
          "graph-only: in a method decorated with "
          "track_tf1_style_variables(graph_function=True) it returns the "
          "call's serialized summaries; or TF2's tf.summary with a writer",
          CORE),
    Entry("tf.compat.v1.metrics.*", CHANGE,
          "graph-only streaming metrics (local variables, update ops): in a "
          "method decorated with track_tf1_style_variables("
          "graph_function=True) they accumulate across calls as across a "
          "Session's runs; EstimatorModel runs a model_fn's "
          "eval_metric_ops as Keras metrics; else keras.metrics", CORE),
    # Removed from TensorFlow; what a model_fn uses is tf1shim.estimator's.
    Entry("tf.estimator.*", UNSUPPORTED,
          "tf.estimator is gone from TensorFlow 2.21; tf1shim.estimator "
          "provides only what a model_fn uses (ModeKeys, EstimatorSpec, "
          "RunConfig, export outputs): a canned estimator becomes a Keras "
          "model", ESTIMATOR),
    Entry("tf.estimator.Estimator", UNSUPPORTED,
          "Estimator's Session loop is gone: run the model_fn in "
          "tf1shim.estimator.EstimatorModel (compile, fit, evaluate, "
          "predict, export, restore(model_dir))", ESTIMATOR),
] + [
    Entry("tf.estimator." + name, UNSUPPORTED,
          "model.fit(train_data, validation_data=eval_data, epochs=..., "
          "callbacks=[...]) replaces train_and_evaluate", ESTIMATOR)
    for name in ("train_and_evaluate", "TrainSpec", "EvalSpec")
] + [
    Entry("tf.estimator." + name, CHANGE, _ESTIMATOR_MODEL, ESTIMATOR,
          provided_by="tf1shim.estimator." + name)
    for name in ("ModeKeys", "EstimatorSpec", "RunConfig")
] + [
    Entry("tf.estimator.ModeKeys.*", CHANGE, _ESTIMATOR_MODEL, ESTIMATOR),
] + [
    Entry("tf.estimator.export." + name, CHANGE, _ESTIMATOR_MODEL, ESTIMATOR,
          provided_by="tf1shim.estimator.export." + name)
    for name in ("PredictOutput", "ClassificationOutput", "RegressionOutput",
                 "ServingInputReceiver")
] + [
    Entry("tf.estimator.tpu." + name, CHANGE,
          _ESTIMATOR_MODEL + " (off TPUs, as TPUEstimator with "
          "use_tpu=False)", ESTIMATOR,
          provided_by="tf1shim.estimator.tpu." + name)
    for name in ("TPUEstimatorSpec", "CrossShardOptimizer")
] + [
    Entry("tf.contrib.*", UNSUPPORTED,
          "tf.contrib was removed in TensorFlow 2.0 and tf1shim knows no "
          "replacement for this part"),
    Entry("tf.contrib.layers", CHANGE, "tf.contrib.layers -> tf_slim", SLIM,
          replacement="tf_slim"),
] + [
    Entry("tf.contrib.layers." + name, CHANGE,
          "tf.contrib.layers -> tf_slim (tf_slim.%s); tf1shim.install() "
          "repairs tf-slim" % name, SLIM, replacement="tf_slim." + name)
    for name in CONTRIB_LAYERS_IN_SLIM
] + [
    Entry("tf.contrib.framework." + name, CHANGE,
          "tf.contrib.framework -> tf_slim (tf_slim.%s)" % name,
          SLIM_ARG_SCOPE if "arg_scope" in name else SLIM,
          replacement="tf_slim." + name)
    for name in CONTRIB_FRAMEWORK_IN_SLIM
] + [
    Entry("tf.contrib.rnn." + name, CHANGE,
          "tf.contrib.rnn -> tf.compat.v1.nn.rnn_cell (tf1shim's %s after "
          "tf1shim.install()), inside a decorated method" % name, RNN,
          replacement="tf.compat.v1.nn.rnn_cell." + name)
    for name in TF1SHIM_CELLS
] + [
    Entry("tf.contrib.slim.*", CHANGE,
          "tf.contrib.slim -> tf_slim (pip install tf-slim==1.1.0); "
          "tf1shim.install() repairs it; call it inside a decorated method",
          SLIM, replacement="tf_slim"),
    Entry("tf.contrib.slim.learning.*", UNSUPPORTED,
          "slim's Session-based training loop: " + _SESSION, TRAINING),
    Entry("tensorflow.python.*", UNSUPPORTED,
          "a private TensorFlow module, moved or gone in TF 2.21: use the "
          "public tf.compat.v1 name"),
    # tf-slim 1.1.0.
    Entry("tf_slim.*", CHANGE,
          "tf1shim.install() repairs tf-slim 1.1.0 on TF 2.21 "
          "(tf1shim.slim_compat); call it inside a decorated method", SLIM),
    Entry("tf_slim.arg_scope", CHANGE,
          "tf1shim.install() repairs tf-slim; call it inside a decorated "
          "method (the native port states each default explicitly)",
          SLIM_ARG_SCOPE),
    Entry("tf_slim.learning.*", UNSUPPORTED,
          "slim's Session-based training loop: " + _SESSION, TRAINING),
    Entry("tf_slim.evaluation.*", UNSUPPORTED,
          "slim's Session-based evaluation loop: use model.evaluate",
          TRAINING),
    Entry("tf_slim.data.*", UNSUPPORTED,
          "tf1shim.slim_compat does not repair tf_slim.data: read the data "
          "with tf.data", CORE),
    Entry("tf_slim.metrics.*", CHANGE,
          "slim's streaming metrics (tf.compat.v1.metrics): in a method "
          "decorated with track_tf1_style_variables(graph_function=True) "
          "they accumulate across calls as across a Session's runs; else "
          "keras.metrics", CORE),
    Entry("tf_slim.losses.*", UNSUPPORTED,
          "slim's deprecated copy of tf.compat.v1.losses, for a Session's "
          "loop (it runs in a TF1 graph): in a Keras 3 model use "
          "keras.losses, or tf.compat.v1.losses", CORE),
]


def _literal_length(pattern):
  return len(pattern.replace("*", ""))


def _matches(pattern, name):
  if pattern.endswith(".*") and name == pattern[:-2]:
    return True
  return fnmatch.fnmatchcase(name, pattern)


_EXACT = {}
_PATTERNS = []
for _entry in ENTRIES:
  if "*" in _entry.api:
    _PATTERNS.append(_entry)
  else:
    if _entry.api in _EXACT:
      raise ValueError("two entries for %s" % _entry.api)
    _EXACT[_entry.api] = _entry
_PATTERNS.sort(key=lambda e: -_literal_length(e.api))


def lookup(api):
  """The entry for the canonical name `api`, or None."""
  entry = _EXACT.get(api)
  if entry is not None:
    return entry
  for pattern in _PATTERNS:
    if _matches(pattern.api, api):
      return pattern
  return None


def keyword_entry(api, keyword):
  """The entry for calling `api` with `keyword=` (exact entries only)."""
  return _EXACT.get("%s(%s=)" % (api, keyword))
