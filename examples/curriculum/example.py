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
passes a `data_transform` to `declare`: `(image, label) -> (image, label)`
of TF ops, which the input pipeline maps over the examples (rnn's shortened
sequences).
"""

import dataclasses
import importlib
import os
from typing import Any

from tf1shim import staging
from examples.curriculum import training

EXAMPLES = ("dense", "conv", "batchnorm", "rnn")
# The stage modules of every example, in order (each example's migration.py
# lists them; the Bazel macro takes the same list as `stages`).
STAGE_MODULES = ("stage1_functional_v1", "stage2_oo_v1",
                 "stage3_partially_native", "stage4_fully_native")
EXAMPLES_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# The name the comparison and checkpoint tools use (TF1 name, no `:0`).
variable_name = staging.variable_name


@dataclasses.dataclass(frozen=True)
class Example(staging.Migration):
  """A migration on the digits; `data_transform` as in the docstring."""
  data_transform: Any = None

  @property
  def folder(self):
    return os.path.join(EXAMPLES_DIR, self.name)


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
  """The example `name` (one of `EXAMPLES`): its package's `MIGRATION`."""
  if name not in EXAMPLES:
    raise ValueError("Unknown example %r; the examples are: %s." %
                     (name, ", ".join(EXAMPLES)))
  return importlib.import_module("examples.%s.migration" % name).MIGRATION
