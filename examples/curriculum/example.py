"""The examples as migrations: each one declared once, on the digits.

Every example folder under `examples/` follows one layout:

    examples/<name>/
      stage1_functional_v1.py      TF1 code under track_tf1_style_variables;
                                   also defines TF1_MODEL_FN (the TF1 graph)
      stage2_oo_v1.py              TF1 layer objects created in __init__
      stage3_partially_native.py   some layers Keras 3, record_scope for TF1 names
      stage4_fully_native.py       Keras 3 only
      migration.py                 MIGRATION = example.declare(...): the
                                   TF1 function, the stages in order, the data
      golden/                      the TF1 checkpoint (see golden.py)
      stages_test.py               the standard tests of tf1shim.staging

The stage harness is the public `tf1shim.staging` library; what is the
examples' own is here and in `training.py`: the digits as sample batches,
the loss, the optimizer, where the golden checkpoints live. Each stage
module defines `build_model(num_classes=10)`, returning a model called as
`model(images, training=...) -> logits`; a stage whose variable names are
not the TF1 names defines `TF1_NAMES` (`tf1shim.checkpoints` rules, model
name -> TF1 name). An example whose data are not the digits as they are
passes a `data_transform` to `declare`: `(image, label) -> (inputs, label)`
of TF ops, which the input pipeline maps over the examples (rnn's shortened
sequences; the estimator's dict of features: a model's inputs may be an
array, or a tuple or dict of arrays).
"""

import dataclasses
import importlib
import os
from typing import Any, Optional

from tf1shim import staging
from examples.curriculum import training

# The course, in order: adding an example is adding its name here (and its
# package to the BUILD's EXAMPLES).
EXAMPLES = ("dense", "conv", "batchnorm", "rnn", "estimator")
# tf_slim's networks (slim_port/), on the digits at a small input size.
SLIM_NETWORKS = ("resnet_v1_50", "inception_v1", "vgg_16")
COURSE = EXAMPLES + SLIM_NETWORKS
# What `tools/dev main` runs by default: vgg_16 only when asked for (its
# smallest input is 224x224 and its 138M weights are copied into every row:
# minutes per step on two cores).
DEFAULT_COURSE = EXAMPLES + ("resnet_v1_50", "inception_v1")
# The stage modules of every example, in order (each example's migration.py
# lists them; the Bazel macro takes the same list as `stages`).
STAGE_MODULES = ("stage1_functional_v1", "stage2_oo_v1",
                 "stage3_partially_native", "stage4_fully_native")
EXAMPLES_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# The name the comparison and checkpoint tools use (TF1 name, no `:0`).
variable_name = staging.variable_name


@dataclasses.dataclass(frozen=True)
class Example(staging.Migration):
  """A migration on the digits; `data_transform` as in the docstring.

  The rest says how the course (main.py) runs it; the defaults are the
  small examples': `batch_size` per training step, at most
  `max_course_steps` steps (None: as many as asked), the loss and accuracy
  after training on the first `eval_examples` of each split (None: all) in
  batches of `eval_batch_size`, the lessons in `lessons_folder`/README.md
  (None: the example's own folder). `compared_in_course`: whether the course
  runs the stage comparison (its first column) itself. `prepare_initial`:
  `(initial values by TF1 name, images) -> initial values`, applied to the
  initial weights every row starts from. `train_loss_last_steps`: when
  set, the table's train loss is the mean of the training-mode losses of
  the last that many steps (what the rows' training computed), not the
  inference-mode loss over the train split (which the slim networks'
  batch-norm statistics, calibrated before a few steps of training, no
  longer fit: see slim_course.py).
  """
  data_transform: Any = None
  batch_size: int = training.BATCH_SIZE
  max_course_steps: Optional[int] = None
  eval_examples: Optional[int] = None
  eval_batch_size: int = 512
  lessons_folder: Optional[str] = None
  compared_in_course: bool = True
  prepare_initial: Optional[Any] = None
  train_loss_last_steps: Optional[int] = None

  @property
  def folder(self):
    return self.lessons_folder or os.path.join(EXAMPLES_DIR, self.name)


def regenerate_hint(name):
  """How an example's golden checkpoint is rewritten on purpose."""
  return ("Regenerate it on purpose with `tools/dev golden %s --force` and "
          "commit the checkpoint with its manifest." % name)


def declare(name, tf1_model_fn, stage_modules, data_transform=None):
  """The example `name` as a `tf1shim.staging` migration: `stage_modules` in
  order, the digits (through `data_transform`) as its sample batches, its
  golden checkpoint in `examples/<name>/golden` (from the runfiles under
  Bazel)."""
  golden_folder = staging.locate(
      "examples/%s/golden" % name, os.path.join(EXAMPLES_DIR, name, "golden"))

  def sample_batches(split, count, data_dir=None):
    return training.digits_batches(split, count, data_dir, data_transform)

  return Example(
      name=name,
      tf1_model_fn=tf1_model_fn,
      stages=staging.stages_from_modules(stage_modules),
      sample_batches=sample_batches,
      loss=training.loss,
      golden=staging.GoldenCheckpoint(golden_folder, regenerate_hint(name)),
      optimizer=training.OPTIMIZER,
      equivalence_steps=training.EQUIVALENCE_STEPS,
      data_transform=data_transform)


def load(name):
  """The example `name` (one of `COURSE`): its package's `MIGRATION`, or a
  slim network as the course runs it."""
  if name in SLIM_NETWORKS:
    from examples.curriculum import slim_course  # pylint: disable=g-import-not-at-top
    return slim_course.load(name)
  if name not in EXAMPLES:
    raise ValueError("Unknown example %r; the examples are: %s." %
                     (name, ", ".join(COURSE)))
  return importlib.import_module("examples.%s.migration" % name).MIGRATION
