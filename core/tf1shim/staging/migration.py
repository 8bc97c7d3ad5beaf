"""What a migration is: a TF1 model function and its stages, declared once.

A `Migration` names everything the standard stage tests need and nothing
about a data set: the TF1 model function, the stages in order, a function
giving sample batches (inputs of any structure: an array, a tuple or a
dict), the loss, the optimizer, and the golden TF1 checkpoint. A `Stage` is
a model builder with optional `tf1shim.checkpoints` rules (model variable
name -> TF1 name, transforms included) for when its names are not the TF1
names.
"""

import dataclasses
from typing import Any, Callable, Optional, Tuple

import numpy as np

import tf1shim
from tf1shim import checkpoints
from tf1shim import comparison


def variable_name(variable):
  """The name the comparison and checkpoint tools use (TF1 name, no `:0`)."""
  name = tf1shim.tf1_name(variable)
  return name[:-2] if name.endswith(":0") else name


def _specs(variables):
  """{variable name: (shape, dtype)}, the rules engine's view of them."""
  return {variable_name(v): (tuple(v.shape), np.dtype(v.dtype))
          for v in variables}


@dataclasses.dataclass(frozen=True)
class Stage:
  """One stage: `build_model() -> model`, called `model(inputs, training=)`.

  `build_model` should be a module-level function: the last stage's tests
  import it by name in a fresh process (without tf1shim) and through the
  `tf1shim-ckpt` command line. `rules` is the text of `tf1shim.checkpoints`
  rules (model name -> TF1 name), empty when the names are the TF1 names.
  """
  number: int
  name: str
  build_model: Callable[[], Any]
  rules: str = ""
  doc: str = ""
  # Non-empty while the stage is still a template (its module's `TEMPLATE`):
  # what to do to write it. Its tests are skipped with this message.
  template: str = ""

  @property
  def title(self):
    """The first line of the stage's docstring (or its name)."""
    return (self.doc or self.name).strip().splitlines()[0]

  @property
  def import_path(self):
    """(module, attribute) of `build_model`, to import it elsewhere."""
    return self.build_model.__module__, self.build_model.__qualname__

  @property
  def tf1_names(self):
    """The parsed rules (`tf1shim.checkpoints.Rules`), or None when the
    stage's names are the TF1 names; `comparison` and `restore_checkpoint`
    take it as `mapping`."""
    if not self.rules.strip():
      return None
    return checkpoints.parse_rules(self.rules, self.name + " rules")

  def tf1_name_map(self, model):
    """{variable name in `model` (built): its TF1 name}."""
    names = [variable_name(v) for v in model.weights]
    return comparison.report.resolve_mapping(self.tf1_names, names)

  def tf1_variables(self, model):
    """{TF1 name: shape} of the TF1 variables `model` (built) stands for,
    through the inverse of the rules (a Keras LSTM's `kernel` and
    `recurrent_kernel` are one TF1 `kernel`). Raises `MappingError` unless
    the model's variables make every element of each exactly once."""
    plan = checkpoints.plan_inverse(self.tf1_names, _specs(model.weights))
    problems = [p for p in map(plan.coverage_problem, plan.users()) if p]
    if problems:
      raise checkpoints.MappingError("; ".join(problems))
    return {name: tuple(shape) for name, (shape, _) in plan.sources.items()}

  def assign_tf1_values(self, model, values):
    """Sets `model`'s variables (built) from {TF1 name: value} through the
    rules, transforms applied."""
    variables = {variable_name(v): v for v in model.weights}
    plan = checkpoints.plan_mapping(
        self.tf1_names, _specs(model.weights),
        {n: (np.shape(x), np.asarray(x).dtype) for n, x in values.items()})
    if plan.missing or plan.mismatched:
      raise checkpoints.MappingError(
          "%s: no TF1 value for %s; mismatched: %s" % (
              self.name, plan.missing, plan.mismatched))
    for name, value in plan.forward(values).items():
      variables[name].assign(value)


def template_message(number, name, marker):
  """The skip message of a template stage: `marker` is its module's
  `TEMPLATE` (True, or a string saying which lesson to follow)."""
  lesson = marker if isinstance(marker, str) else (
      "write it, then delete its TEMPLATE line")
  return "stage %d (%s) is still a template: %s" % (number, name, lesson)


def stages_from_modules(modules, builder="build_model", rules="TF1_NAMES",
                        template="TEMPLATE"):
  """Stages 1..N from stage modules, in the order given: each module's
  `builder` function, its `rules` text (if it defines one), and whether it
  is still a template (a true `template` attribute: True, or the lesson to
  follow as a string; its tests are skipped until the line is deleted)."""
  stages = []
  for number, module in enumerate(modules, start=1):
    name = module.__name__.rsplit(".", 1)[-1]
    marker = getattr(module, template, None)
    stages.append(Stage(
        number, name, getattr(module, builder), getattr(module, rules, ""),
        module.__doc__ or "",
        template_message(number, name, marker) if marker else ""))
  return tuple(stages)


@dataclasses.dataclass(frozen=True)
class Migration:
  """A TF1 model's migration, declared once.

  Attributes:
    name: a short name (messages, generated module names).
    tf1_model_fn: the TF1 model function, `(inputs, training) -> outputs`,
      runnable in a TF1 graph.
    stages: the `Stage`s, in order (`stages_from_modules` makes them).
    sample_batches: `(split, count, data_dir) -> [(inputs, labels)]`, the
      first `count` batches of "train" or "test" in a fixed order; `inputs`
      is an array or a (nested) tuple or dict of arrays; `data_dir` is a
      scratch folder the function may prepare data in.
    loss: `(labels, outputs) -> scalar` data loss written with TF ops (it
      runs in a TF1 graph and eagerly); regularization losses are added.
    golden: the `GoldenCheckpoint` (a TF1 `Saver` checkpoint of the TF1
      model), or None for no golden-checkpoint tests.
    optimizer: the `tf1shim.comparison.Optimizer` training steps use.
    equivalence_steps: training steps compared stage against stage.
  """
  name: str
  tf1_model_fn: Callable
  stages: Tuple[Stage, ...]
  sample_batches: Callable
  loss: Callable
  golden: Optional[Any] = None
  optimizer: Any = dataclasses.field(
      default_factory=lambda: comparison.Optimizer("sgd", learning_rate=0.1))
  equivalence_steps: int = 20

  def stage(self, number):
    return self.stages[number - 1]

  def written_stage_before(self, number):
    """The last stage before stage `number` that is not a template (stage
    1 at worst: it wraps the TF1 function and is never a template)."""
    for stage in reversed(self.stages[:number - 1]):
      if not stage.template:
        return stage
    return self.stages[0]

  def equivalence_batches(self, data_dir=None):
    """Batch 0 for the forward passes, then one batch per training step."""
    return self.sample_batches("train", self.equivalence_steps + 1, data_dir)

  def test_batch(self, data_dir=None):
    """The first test batch (checkpoint and export checks)."""
    return self.sample_batches("test", 1, data_dir)[0]
