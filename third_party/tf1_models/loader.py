"""Loads one public TF1 model file from its installed PyPI package.

The model files are not kept in this repository: each is read, at test
time, from the pinned distribution that requirements.lock installs
(README.md says which), edited in memory where TF 2.x lacks what it imports
(`tensorflow.contrib`), and executed as a module of its own. Executing the
one file, rather than importing it from its package, keeps the package's
other imports out (tensorflow_gan's `__init__` imports
tensorflow_probability and more) and lets the edits apply.

Each edit is (old, new, count): `old` must occur exactly `count` times in
the installed file; each expectation (text, count) is checked on the edited
file. So a different upstream file fails loudly here instead of running
changed code.
"""

import importlib.metadata
import sys
import types


def _source(distribution, version, path):
  """The text of `path` (relative to site-packages) of an installed dist."""
  dist = importlib.metadata.distribution(distribution)
  if dist.version != version:
    raise ImportError("%s %s is installed; tf1_models pins %s (README.md)"
                      % (distribution, dist.version, version))
  location = dist.locate_file(path)
  with open(location, encoding="utf-8") as f:
    return str(location), f.read()


def _check_count(source, text, count, filename):
  found = source.count(text)
  if found != count:
    raise ValueError("%s: expected %d occurrence(s) of %r, found %d"
                     % (filename, count, text, found))


def apply_edits(source, edits, expect=(), filename="<source>"):
  """`source` with each (old, new, count) edit, each old occurring count
  times; then each (text, count) of `expect` must occur count times."""
  for old, new, count in edits:
    _check_count(source, old, count, filename)
    source = source.replace(old, new)
  for text, count in expect:
    _check_count(source, text, count, filename)
  return source


def load(module_name, distribution, version, path, edits=(), expect=(),
         namespace=None):
  """Executes the edited file as module `module_name` (cached).

  `namespace`: names the edited file uses that the loader provides (set in
  the module before it runs).
  """
  if module_name in sys.modules:
    return sys.modules[module_name]
  filename, source = _source(distribution, version, path)
  source = apply_edits(source, edits, expect, filename)
  module = types.ModuleType(module_name)
  module.__file__ = filename  # tracebacks show the installed file's lines
  module.__dict__.update(namespace or {})
  code = compile(source, filename, "exec")
  sys.modules[module_name] = module
  try:
    exec(code, module.__dict__)  # pylint: disable=exec-used
  except BaseException:
    del sys.modules[module_name]
    raise
  return module


# --- The model files (README.md's table) ---

BERT_DIST, BERT_VERSION = "bert-tensorflow", "1.0.4"
# bert-tensorflow 1.0.4's modeling.py already imports tensorflow.compat.v1;
# its one TF 2.x gap is contrib's layers module, used once (layer_norm),
# which tf-slim keeps as `tf_slim.layers` (the same layer_norm, the same
# variable names).
BERT_EDITS = (
    ("from tensorflow.contrib import layers as contrib_layers",
     "from tf_slim import layers as contrib_layers", 1),
)
BERT_EXPECT = (
    ("contrib_layers.", 1),            # only layer_norm comes from it
    ("contrib", 2),                    # the import line and that call
    ("import tensorflow.compat.v1 as tf\n", 1),
)

GAN_DIST, GAN_VERSION = "tensorflow-gan", "2.1.0"
# The CIFAR DCGAN of tensorflow_gan's examples: tf.compat.v1.layers only,
# so no edit; loaded alone, so tensorflow_gan's package imports
# (tensorflow_probability, tensorflow_hub) do not run.
GAN_EXPECT = (
    ("import tensorflow.compat.v1 as tf\n", 1),
    ("\nimport ", 1),                  # nothing else is imported
    ("contrib", 0),
)


def bert_modeling():
  """google-research/bert `modeling.py`, from bert-tensorflow."""
  return load("tf1_models_bert_modeling", BERT_DIST, BERT_VERSION,
              "bert/modeling.py", BERT_EDITS, BERT_EXPECT)


def cifar_dcgan_networks():
  """tensorflow/gan `examples/cifar/networks.py`, from tensorflow-gan."""
  return load("tf1_models_cifar_dcgan_networks", GAN_DIST, GAN_VERSION,
              "tensorflow_gan/examples/cifar/networks.py", (), GAN_EXPECT)


BILM_DIST, BILM_VERSION = "bilm", "0.1.post5"
# allenai/bilm-tf's `training.py`: ELMo's bidirectional LSTM language model
# (`LanguageModel`: char CNN + highway, LSTMCell stacks with projection and
# clipping, ResidualWrapper, DropoutWrapper, MultiRNNCell, static_rnn,
# softmax). Written for TF 1.x: TF1's API through tensorflow.compat.v1; its
# relative import of the package's vocabulary classes from the installed
# package (this file is executed alone); and its five `tf.placeholder`s
# (token characters, their reverse, next token ids) become `_bilm_input`,
# which hands the model the tensors `bilm_inputs` holds (a placeholder
# cannot exist eagerly; in a TF1 graph they are the same tensors a feed
# would give).
BILM_EDITS = (
    ("import tensorflow as tf\n", "import tensorflow.compat.v1 as tf\n", 1),
    ("from .data import ", "from bilm.data import ", 1),
    ("tf.placeholder(", "_bilm_input(", 5),
)
BILM_EXPECT = (
    ("contrib", 0),
    ("tf.nn.rnn_cell.LSTMCell(", 2),
    ("tf.nn.static_rnn(", 2),
)

# name of a placeholder of training.py -> the tensor it stands for.
bilm_inputs = {}


def _bilm_input(dtype, shape=None, name=None):
  """What bilm's `tf.placeholder(dtype, shape, name)` gives (see above)."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  value, dtype = bilm_inputs[name], tf.as_dtype(dtype)
  if value.dtype != dtype or (shape is not None and
                              value.shape.as_list() != list(shape)):
    raise ValueError("bilm input %s: expected %s%s, got %s%s" % (
        name, dtype.name, list(shape), value.dtype.name,
        value.shape.as_list()))
  return value


def bilm_training():
  """allenai/bilm-tf `bilm/training.py`, from bilm."""
  return load("tf1_models_bilm_training", BILM_DIST, BILM_VERSION,
              "bilm/training.py", BILM_EDITS, BILM_EXPECT,
              namespace={"_bilm_input": _bilm_input})
