"""TF1's RNN cells (`tf.compat.v1.nn.rnn_cell`), on Keras 3.

`RNNCell`, `BasicRNNCell`, `BasicLSTMCell`, `LSTMCell`, `GRUCell`,
`MultiRNNCell`, `DropoutWrapper`, `ResidualWrapper`, `DeviceWrapper`,
`LSTMStateTuple`, with TF1's arguments, variable names and math. They work
with TensorFlow's own `tf.compat.v1.nn.dynamic_rnn`, `static_rnn`,
`bidirectional_dynamic_rnn`, `static_bidirectional_rnn` and `raw_rnn`, in
TF1 graphs and inside methods decorated with `track_tf1_style_variables`.
"""

from tf1shim.rnn.base import LayerRNNCell
from tf1shim.rnn.base import LSTMStateTuple
from tf1shim.rnn.base import RNNCell
from tf1shim.rnn.cells import BasicLSTMCell
from tf1shim.rnn.cells import BasicRNNCell
from tf1shim.rnn.cells import GRUCell
from tf1shim.rnn.cells import LSTMCell
from tf1shim.rnn.multi import MultiRNNCell
from tf1shim.rnn.wrappers import DeviceWrapper
from tf1shim.rnn.wrappers import DropoutWrapper
from tf1shim.rnn.wrappers import ResidualWrapper

# What `tf.compat.v1.nn.rnn_cell` holds after tf1shim.install() (TF1's names).
CELL_NAMES = ("BasicLSTMCell", "BasicRNNCell", "DeviceWrapper",
              "DropoutWrapper", "GRUCell", "LSTMCell", "LSTMStateTuple",
              "MultiRNNCell", "RNNCell", "ResidualWrapper")
