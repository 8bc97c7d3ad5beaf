"""TF1 name-based checkpoints for every migration stage.

    from tf1shim import checkpoints
    report = checkpoints.restore_checkpoint(
        "train/model.ckpt-1000", model,
        mapping=checkpoints.load_rules("native_to_tf1.rules"),  # or "auto"
        strict=True)

Reading, mapping and verified restore; the rules format (`rules.py`: the
one rules engine, first matching rule wins, with tensor transforms such as
an LSTM's gate order, `transforms.py`), planned against shapes with a
forward, gradients and inverse (`tensor_mapping.py`: `plan_mapping`,
`plan_inverse`, `between` for two stages that both map to TF1 names);
conversion (`to_keras_weights`, `to_tf2_checkpoint`, `to_tf1_checkpoint`,
which never write an input nor replace an existing output unless
`force=True`), `check_data` (every byte of a checkpoint against its
checksums), and the `ckpt` command-line tool (`cli.py`).
"""

from tf1shim.checkpoints.convert import ConversionError
from tf1shim.checkpoints.convert import to_keras_weights
from tf1shim.checkpoints.convert import to_tf1_checkpoint
from tf1shim.checkpoints.convert import to_tf2_checkpoint
from tf1shim.checkpoints.integrity import check as check_data
from tf1shim.checkpoints.mapping import load_rules
from tf1shim.checkpoints.mapping import map_automatically
from tf1shim.checkpoints.mapping import map_by_rules
from tf1shim.checkpoints.mapping import MappingError
from tf1shim.checkpoints.mapping import parse_rules
from tf1shim.checkpoints.mapping import Rule
from tf1shim.checkpoints.outputs import OutputError
from tf1shim.checkpoints.reader import CheckpointError
from tf1shim.checkpoints.reader import CheckpointReader
from tf1shim.checkpoints.reader import Entry
from tf1shim.checkpoints.restore import restore_checkpoint
from tf1shim.checkpoints.restore import RestoreError
from tf1shim.checkpoints.restore import RestoreReport
from tf1shim.checkpoints.restore import TRAINING_STATE
from tf1shim.checkpoints.rules import Rules
from tf1shim.checkpoints.tensor_mapping import between
from tf1shim.checkpoints.tensor_mapping import plan as plan_mapping
from tf1shim.checkpoints.tensor_mapping import plan_inverse
from tf1shim.checkpoints.tensor_mapping import TensorMapping

__all__ = ["ConversionError", "to_keras_weights", "to_tf1_checkpoint",
           "to_tf2_checkpoint", "check_data", "CheckpointError",
           "CheckpointReader", "Entry", "MappingError", "OutputError",
           "RestoreError", "RestoreReport", "Rule", "load_rules",
           "map_automatically", "map_by_rules", "parse_rules",
           "restore_checkpoint", "Rules", "TensorMapping", "TRAINING_STATE",
           "between", "plan_inverse", "plan_mapping"]
