"""What a ported slim network is: a folder with four stages and a naming table.

    slim_port/<network>/
      stage1_slim.py               the tf_slim network itself under the shim;
                                   also SLIM_MODEL_FN, the TF1 reference
      stage2_tf1_layers.py         rewritten with TF1 layers, no arg_scope
      stage3_partially_native.py   some layers Keras 3
      stage4_keras.py              Keras 3 only
      slim_names.rules             the naming table: stage 4's variable paths
                                   -> slim's checkpoint names (data, in the
                                   tf1shim.checkpoints mapping format)
      migration.py                 MIGRATION: the network as a
                                   tf1shim.staging migration (migration.py
                                   here declares it)
      stages_test.py               the library's standard tests and
                                   slim's own (stage_tests.py)

Every stage module defines `build_model(num_classes=..., input_size=None)`
(built on zeros when `input_size` is given), a model called as
`model(images, training=False, return_end_points=False)` -> logits, or
(logits, end_points) with slim's end-point names. A stage whose variable
names are not slim's defines `TF1_NAMES` (mapping rules: model name -> slim
name). Stage 1 also defines `SLIM_MODEL_FN(images, training, num_classes)
-> (logits, end_points)`: the tf_slim network with its arg_scope, which the
tests run in TF1 graphs as the reference.

A stage is a `tf1shim.staging.Stage` (the library's notion, shared with
every migration): `build_model`, its rules, `tf1_name_map`.
"""

import dataclasses
import importlib
import os

from tf1shim import staging

NETWORKS = ("vgg_16", "resnet_v1_50", "inception_v1")
# The stages of every network, in order: the one list of them.
STAGE_MODULES = ("stage1_slim", "stage2_tf1_layers",
                 "stage3_partially_native", "stage4_keras")
SLIM_PORT_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NAMING_TABLE = "slim_names.rules"


def naming_table(network_name):
  """The text of a network's naming table (stage 4 paths -> slim names)."""
  with open(os.path.join(SLIM_PORT_DIR, network_name, NAMING_TABLE)) as f:
    return f.read()


@dataclasses.dataclass(frozen=True)
class Network:
  name: str
  stages: tuple  # of tf1shim.staging.Stage
  stage1_module: object  # SLIM_MODEL_FN and the test constants

  @property
  def folder(self):
    return os.path.join(SLIM_PORT_DIR, self.name)

  @property
  def slim_model_fn(self):
    return self.stage1_module.SLIM_MODEL_FN

  @property
  def test_input_size(self):
    """The input size the tests use (reduced where the network allows)."""
    return self.stage1_module.TEST_INPUT_SIZE

  @property
  def published_num_classes(self):
    """The number of classes of the published slim checkpoints."""
    return self.stage1_module.PUBLISHED_NUM_CLASSES

  def stage(self, number):
    return self.stages[number - 1]


def stage_modules(name):
  """The network `name`'s stage modules, in order."""
  if name not in NETWORKS:
    raise ValueError("Unknown network %r; the ported networks are: %s." %
                     (name, ", ".join(NETWORKS)))
  return [importlib.import_module("slim_port.%s.%s" % (name, module))
          for module in STAGE_MODULES]


def load(name):
  modules = stage_modules(name)
  return Network(name, staging.stages_from_modules(modules), modules[0])
