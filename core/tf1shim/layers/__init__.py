"""The TF1 layers (`tf.compat.v1.layers`), functions and classes.

Same names, arguments, defaults, initializers and auto-naming as TF1. They
run inside methods decorated with `track_tf1_style_variables`, on their own
as Keras 3 layers, and in a real TF1 graph (`tf.compat.v1.Graph`).
"""

import keras

from tf1shim.layers.base import Layer
from tf1shim.layers.convolutional import Conv1D
from tf1shim.layers.convolutional import conv1d
from tf1shim.layers.convolutional import Conv2D
from tf1shim.layers.convolutional import conv2d
from tf1shim.layers.convolutional import Conv2DTranspose
from tf1shim.layers.convolutional import conv2d_transpose
from tf1shim.layers.convolutional import Conv3D
from tf1shim.layers.convolutional import conv3d
from tf1shim.layers.convolutional import SeparableConv2D
from tf1shim.layers.convolutional import separable_conv2d
from tf1shim.layers.convolutional_extra import Conv3DTranspose
from tf1shim.layers.convolutional_extra import conv3d_transpose
from tf1shim.layers.convolutional_extra import SeparableConv1D
from tf1shim.layers.convolutional_extra import separable_conv1d
from tf1shim.layers.core import Dense
from tf1shim.layers.core import dense
from tf1shim.layers.core import Dropout
from tf1shim.layers.core import dropout
from tf1shim.layers.core import Flatten
from tf1shim.layers.core import flatten
from tf1shim.layers.normalization import batch_normalization
from tf1shim.layers.normalization import BatchNormalization
from tf1shim.layers.pooling import average_pooling1d
from tf1shim.layers.pooling import average_pooling2d
from tf1shim.layers.pooling import average_pooling3d
from tf1shim.layers.pooling import AveragePooling1D
from tf1shim.layers.pooling import AveragePooling2D
from tf1shim.layers.pooling import AveragePooling3D
from tf1shim.layers.pooling import max_pooling1d
from tf1shim.layers.pooling import max_pooling2d
from tf1shim.layers.pooling import max_pooling3d
from tf1shim.layers.pooling import MaxPooling1D
from tf1shim.layers.pooling import MaxPooling2D
from tf1shim.layers.pooling import MaxPooling3D

# TF1's aliases.
Convolution1D = Conv1D
Convolution2D = Conv2D
Convolution3D = Conv3D
Convolution2DTranspose = Conv2DTranspose
Deconvolution2D = Conv2DTranspose
deconv2d = conv2d_transpose
SeparableConvolution2D = SeparableConv2D
SeparableConvolution1D = SeparableConv1D
Convolution3DTranspose = Conv3DTranspose
Deconvolution3D = Conv3DTranspose
deconv3d = conv3d_transpose
# TF1's `tf.compat.v1.layers.InputSpec` is Keras's (same arguments).
InputSpec = keras.layers.InputSpec
AvgPool1D = AveragePooling1D
AvgPool2D = AveragePooling2D
AvgPool3D = AveragePooling3D
MaxPool1D = MaxPooling1D
MaxPool2D = MaxPooling2D
MaxPool3D = MaxPooling3D

for _cls in (Layer, Dense, Dropout, Flatten, Conv1D, Conv2D, Conv3D,
             Conv2DTranspose, SeparableConv2D, MaxPooling1D, MaxPooling2D,
             MaxPooling3D, AveragePooling1D, AveragePooling2D,
             AveragePooling3D, BatchNormalization, Conv3DTranspose,
             SeparableConv1D):
  keras.saving.register_keras_serializable(package="tf1shim")(_cls)
del _cls

# Every public name, class or function (what tf1shim.install() exports).
LAYER_NAMES = sorted(name for name in dir() if not name.startswith("_") and
                     name not in ("LAYER_NAMES", "keras", "base", "core",
                                  "convolutional", "convolutional_extra",
                                  "pooling",
                                  "normalization", "utils"))
