"""The estimator example declared once as a `tf1shim.staging` migration.

Its sample batches are the digits as its `input_fn` gives them (a dict of
features), and its golden checkpoint is an Estimator model_dir
(`model.ckpt-60` and the `checkpoint` state file; see golden.py).
"""

import dataclasses

from tf1shim import staging
from examples.curriculum import example
from examples.estimator import data
from examples.estimator import stage1_functional_v1
from examples.estimator import stage2_oo_v1
from examples.estimator import stage3_partially_native
from examples.estimator import stage4_fully_native

GOLDEN_STEPS = 60
REGENERATE = ("Regenerate it on purpose with `bazel run "
              "//examples/estimator:regenerate_golden -- --force` (or "
              "`python -m examples.estimator.golden --force`) and commit the "
              "model_dir with its manifest.")

_DECLARED = example.declare(
    "estimator",
    tf1_model_fn=stage1_functional_v1.TF1_MODEL_FN,
    stage_modules=[stage1_functional_v1, stage2_oo_v1,
                   stage3_partially_native, stage4_fully_native],
    data_transform=data.example_features)

MIGRATION = dataclasses.replace(
    _DECLARED,
    sample_batches=data.sample_batches,
    golden=staging.GoldenCheckpoint(
        _DECLARED.golden.folder, REGENERATE,
        checkpoint="model.ckpt-%d" % GOLDEN_STEPS,
        extra_files=("checkpoint",)))
