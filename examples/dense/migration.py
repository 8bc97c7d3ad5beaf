"""The dense example declared once as a `tf1shim.staging` migration."""

from examples.curriculum import example
from examples.dense import stage1_functional_v1
from examples.dense import stage2_oo_v1
from examples.dense import stage3_partially_native
from examples.dense import stage4_fully_native

MIGRATION = example.declare(
    "dense",
    tf1_model_fn=stage1_functional_v1.TF1_MODEL_FN,
    stage_modules=[stage1_functional_v1, stage2_oo_v1,
                   stage3_partially_native, stage4_fully_native])
