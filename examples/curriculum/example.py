"""What an example is: a folder with four stage modules and a golden checkpoint.

Every example folder under `examples/` follows one layout, so the tests, the
golden-checkpoint tool and the curriculum can treat them alike:

    examples/<name>/
      stage1_functional_v1.py      TF1 code under track_tf1_style_variables;
                                   also defines TF1_MODEL_FN (the TF1 graph)
      stage2_oo_v1.py              TF1 layer objects created in __init__
      stage3_partially_native.py   some layers Keras 3, record_scope for TF1 names
      stage4_fully_native.py       Keras 3 only
      golden/                      the TF1 checkpoint (see golden.py)
      stages_test.py               the standard tests (stage_tests.py)

Each stage module defines `build_model(num_classes=10)`, returning a model
called as `model(images, training=...) -> logits`. A stage whose variable
names are not the TF1 names defines `TF1_NAMES`, rules in the
`tf1shim.checkpoints` mapping format (model name -> TF1 name).
"""

import dataclasses
import importlib
import os

import tf1shim
from tf1shim import checkpoints
from tf1shim import comparison

EXAMPLES = ("dense", "conv", "batchnorm")
STAGE_MODULES = ("stage1_functional_v1", "stage2_oo_v1",
                 "stage3_partially_native", "stage4_fully_native")
EXAMPLES_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@dataclasses.dataclass(frozen=True)
class Stage:
  number: int
  name: str  # its module's name, e.g. "stage2_oo_v1"
  module: object

  @property
  def title(self):
    """The first line of the module's docstring."""
    return (self.module.__doc__ or self.name).strip().splitlines()[0]

  def build_model(self, **kwargs):
    return self.module.build_model(**kwargs)

  @property
  def tf1_names(self):
    """`name -> TF1 name` by this stage's `TF1_NAMES` rules (the first
    matching rule rewrites, as in a mapping file), or None when its names
    are the TF1 names. Both `tf1shim.comparison` and
    `tf1shim.checkpoints.restore_checkpoint` take it as `mapping`."""
    text = getattr(self.module, "TF1_NAMES", "")
    if not text:
      return None
    rules = checkpoints.parse_rules(text, self.name + ".TF1_NAMES")
    return lambda name: checkpoints.map_by_rules([name], rules)[name]

  def tf1_name_map(self, model):
    """{variable name in `model` (built): its TF1 name}. A variable's name is
    its TF1 name under the shim, its path for a Keras 3 variable."""
    names = [variable_name(v) for v in model.weights]
    return comparison.report.resolve_mapping(self.tf1_names, names)


def variable_name(variable):
  """The name the comparison and checkpoint tools use (TF1 name, no `:0`)."""
  name = tf1shim.tf1_name(variable)
  return name[:-2] if name.endswith(":0") else name


@dataclasses.dataclass(frozen=True)
class Example:
  name: str
  stages: tuple

  @property
  def folder(self):
    return os.path.join(EXAMPLES_DIR, self.name)

  @property
  def tf1_model_fn(self):
    """The TF1 model function, `(images, training) -> logits` (stage 1's)."""
    return self.stages[0].module.TF1_MODEL_FN

  def stage(self, number):
    return self.stages[number - 1]


def load(name):
  """The example `name` (one of `EXAMPLES`), its stage modules imported."""
  if name not in EXAMPLES:
    raise ValueError("Unknown example %r; the examples are: %s." %
                     (name, ", ".join(EXAMPLES)))
  return Example(name, tuple(
      Stage(number, module_name,
            importlib.import_module("examples.%s.%s" % (name, module_name)))
      for number, module_name in enumerate(STAGE_MODULES, start=1)))
