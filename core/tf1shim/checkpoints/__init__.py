"""TF1 name-based checkpoints for every migration stage.

    from tf1shim import checkpoints
    report = checkpoints.restore_checkpoint(
        "train/model.ckpt-1000", model,
        mapping=checkpoints.load_rules("native_to_tf1.rules"),  # or "auto"
        strict=True)

Conversion and the command-line tool (`tools/ckpt`) are tracked by the
checkpoint issue; this package holds reading, mapping and verified restore.
"""

from tf1shim.checkpoints.mapping import load_rules
from tf1shim.checkpoints.mapping import map_automatically
from tf1shim.checkpoints.mapping import map_by_rules
from tf1shim.checkpoints.mapping import MappingError
from tf1shim.checkpoints.mapping import parse_rules
from tf1shim.checkpoints.mapping import Rule
from tf1shim.checkpoints.reader import CheckpointError
from tf1shim.checkpoints.reader import CheckpointReader
from tf1shim.checkpoints.reader import Entry
from tf1shim.checkpoints.restore import restore_checkpoint
from tf1shim.checkpoints.restore import RestoreError
from tf1shim.checkpoints.restore import RestoreReport

__all__ = ["CheckpointError", "CheckpointReader", "Entry", "MappingError",
           "RestoreError", "RestoreReport", "Rule", "load_rules",
           "map_automatically", "map_by_rules", "parse_rules",
           "restore_checkpoint"]
