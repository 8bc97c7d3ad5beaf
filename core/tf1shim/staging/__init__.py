"""Staging a TF1 model's migration: declare it once, get the standard tests.

    from tf1shim import staging

    MIGRATION = staging.Migration(
        name="my_model",
        tf1_model_fn=stage1.tf1_model,            # (inputs, training) -> outputs
        stages=staging.stages_from_modules([stage1, stage2, stage3, stage4]),
        sample_batches=my_batches,                # (split, count, data_dir)
        loss=my_loss,                             # (labels, outputs) -> scalar
        golden=staging.GoldenCheckpoint(folder))

    # stages_test.py
    globals().update(staging.test_namespace(MIGRATION))

A stage module that sets `TEMPLATE` (True, or the lesson to follow) is a
stage still to write: its tests are skipped with that message
(`tf1shim-migrate new` makes such templates). `stage_tests` says which
tests each stage gets; `golden` writes and reads
the golden TF1 checkpoint; `random_tools` are the tools stages are compared
under. `test_namespace` needs pytest (not a dependency of tf1shim).
"""

from tf1shim.staging.calibration import batch_norm_calibration_ops
from tf1shim.staging.golden import CheckpointWrittenAtTestTime
from tf1shim.staging.golden import GoldenCheckpoint
from tf1shim.staging.golden import GoldenError
from tf1shim.staging.migration import Migration
from tf1shim.staging.migration import Stage
from tf1shim.staging.migration import stages_from_modules
from tf1shim.staging.migration import variable_name
from tf1shim.staging.random_tools import copied_weights_random_tool
from tf1shim.staging.random_tools import random_tool
from tf1shim.staging.runfiles import locate


def test_namespace(migration, skip=None):
  """Fixtures and `TestStage1`..`TestStageN` (see `stage_tests`); `skip`:
  {standard test name: reason} to skip in every stage."""
  from tf1shim.staging import stage_tests  # pylint: disable=g-import-not-at-top
  return stage_tests.test_namespace(migration, skip)
