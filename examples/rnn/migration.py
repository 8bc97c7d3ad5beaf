"""The rnn example declared once as a `tf1shim.staging` migration: its data
are the digits read as sequences (the package's `DATA_TRANSFORM`)."""

from examples import rnn
from examples.curriculum import example
from examples.rnn import stage1_functional_v1
from examples.rnn import stage2_oo_v1
from examples.rnn import stage3_partially_native
from examples.rnn import stage4_fully_native

MIGRATION = example.declare(
    "rnn",
    tf1_model_fn=stage1_functional_v1.TF1_MODEL_FN,
    stage_modules=[stage1_functional_v1, stage2_oo_v1,
                   stage3_partially_native, stage4_fully_native],
    data_transform=rnn.DATA_TRANSFORM)
