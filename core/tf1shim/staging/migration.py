"""What a migration is: a TF1 model function and its stages, declared once.

A `Migration` names everything the standard stage tests need and nothing
about a data set: the TF1 model function, the stages in order, a function
giving sample batches (inputs of any structure: an array, a tuple or a
dict), the loss, the optimizer, and the golden TF1 checkpoint. A `Stage` is
a model builder with optional `tf1shim.checkpoints` rules (model variable
name -> TF1 name, transforms included) for when its names are not the TF1
names.
"""

import ast
import dataclasses
import functools
from typing import Any, Callable, Optional, Tuple

import numpy as np
import tensorflow as tf

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

  `build_model` should be a module-level function, or a `functools.partial`
  of one with keyword arguments that are Python literals (numbers, strings,
  tuples...: `stages_from_modules(..., builder_arguments=)` makes it): the
  last stage's tests import the function by name in a fresh process
  (without tf1shim) and through the `tf1shim-ckpt` command line, and call it
  with those arguments. `rules` is the text of `tf1shim.checkpoints` rules
  (model name -> TF1 name), empty when the names are the TF1 names.
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
    """(module, attribute) of `build_model`'s function, to import it
    elsewhere (call it with `builder_arguments`)."""
    function = getattr(self.build_model, "func", self.build_model)
    return function.__module__, function.__qualname__

  @property
  def builder_arguments(self):
    """The keyword arguments `build_model` binds (a `functools.partial`'s),
    checked to be literals that a generated `build_model(**{...})` line
    reproduces in another process."""
    if not isinstance(self.build_model, functools.partial):
      return {}
    if self.build_model.args:
      raise ValueError(
          "%s: bind the builder's arguments by keyword "
          "(functools.partial(build_model, num_classes=10)), not by "
          "position: %r." % (self.name, self.build_model.args))
    arguments = dict(self.build_model.keywords)
    try:
      literal = ast.literal_eval(repr(arguments)) == arguments
    except (ValueError, SyntaxError):
      literal = False
    if not literal:
      raise ValueError(
          "%s: the builder's arguments %r are not Python literals; the "
          "last stage's tests call the builder in another process and can "
          "pass only literals (numbers, strings, tuples, dicts)." % (
              self.name, arguments))
    return arguments

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
                        template="TEMPLATE", builder_arguments=None):
  """Stages 1..N from stage modules, in the order given: each module's
  `builder` function, its `rules` text (if it defines one), and whether it
  is still a template (a true `template` attribute: True, or the lesson to
  follow as a string; its tests are skipped until the line is deleted).
  `builder_arguments`: keyword arguments (literals) every stage's builder
  is called with, e.g. `{"num_classes": 10}` for a network whose builders
  take the number of classes: bound with `functools.partial`, so the
  builder stays importable by name (`Stage.import_path`)."""
  stages = []
  for number, module in enumerate(modules, start=1):
    name = module.__name__.rsplit(".", 1)[-1]
    marker = getattr(module, template, None)
    build_model = getattr(module, builder)
    if builder_arguments:
      build_model = functools.partial(build_model, **builder_arguments)
    stages.append(Stage(
        number, name, build_model, getattr(module, rules, ""),
        module.__doc__ or "",
        template_message(number, name, marker) if marker else ""))
    # Arguments that are not literals fail here, not in the last test.
    _ = stages[-1].builder_arguments
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
      model, committed), a `CheckpointWrittenAtTestTime`, or None for no
      golden-checkpoint tests.
    optimizer: the `tf1shim.comparison.Optimizer` training steps use.
    equivalence_steps: training steps compared stage against stage.
    tolerances: the `tf1shim.comparison.Tolerances` of every comparison
      (elementwise; the defaults suit small models: equal math, a few
      float32 ulps apart).
    output_scale_tolerance: for deep networks, outputs (both modes, the
      golden checkpoint's, the exported model's) may also differ by this
      fraction of the largest |value| of the output they are compared with,
      and in stage comparisons each gradient by this fraction of its own
      largest |value|. Why: the stages may run other kernels for the same math (a TF1 graph
      fuses convolution and batch norm, eager Keras does not; oneDNN or
      Eigen per CPU), which sum in other orders: a sum of K float32 terms
      is off by about eps * sqrt(K) of its terms' size, and L layers pass
      it on, so the noise is eps * sqrt(K) * L of the output's scale, not
      of each element. 0 (the default): elementwise `tolerances` only.
    forbidden_in_last_stage: top-level packages the last stage must run
      without (its fresh-process test fails if any is imported), e.g.
      ("tf1shim", "tf_slim") for a tf-slim model.
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
  tolerances: Any = dataclasses.field(default_factory=comparison.Tolerances)
  output_scale_tolerance: float = 0.0
  forbidden_in_last_stage: Tuple[str, ...] = ("tf1shim",)

  def output_tolerances(self, expected):
    """(rtol, atol) to compare an output with `expected` (see
    `output_scale_tolerance`)."""
    leaves = [np.asarray(x, np.float64) for x in tf.nest.flatten(expected)]
    scale = max((float(np.max(np.abs(x))) for x in leaves if x.size),
                default=0.0)
    return (self.tolerances.outputs_rtol,
            self.tolerances.outputs_atol + self.output_scale_tolerance * scale)

  def comparison_tolerances(self, expected_output):
    """`tolerances` for a comparison whose reference output (one mode) is
    `expected_output`: its outputs' atol widened by the scale term."""
    rtol, atol = self.output_tolerances(expected_output)
    return dataclasses.replace(self.tolerances, outputs_rtol=rtol,
                               outputs_atol=atol)

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
