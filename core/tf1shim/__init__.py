"""tf1shim: TF1.x modeling code on TensorFlow 2 with Keras 3.

The shim of TensorFlow's guide "Use TF1.x models in TF2 workflows", rebuilt
for Keras 3 and tf.Module. See the repository README for a tour.
"""

from tf1shim.determinism import DeterministicRandomTestTool
from tf1shim.tracking import get_or_create_layer
from tf1shim.tracking import record_scope
from tf1shim.tracking import tf1_name
from tf1shim.tracking import track_tf1_style_variables
from tf1shim import estimator
from tf1shim import layers
from tf1shim import rnn
from tf1shim.install import install

__all__ = [
    "DeterministicRandomTestTool",
    "estimator",
    "get_or_create_layer",
    "install",
    "layers",
    "record_scope",
    "rnn",
    "tf1_name",
    "track_tf1_style_variables",
]

__version__ = "0.1.0"
