"""Keras 3 layers that compute what TF1's layers computed, without tf1shim.

For the fully native stage of a migration: plain Keras 3 (this module imports
neither tf1shim nor TensorFlow's TF1 API), shipped with the tf1shim package so
that examples, slim ports and your own native stages share one copy.

`TF1BatchNormalization`: a batch normalization that moves its averages as
TF1's did.

TF1's `tf.compat.v1.layers.batch_normalization` ran the fused kernel on 4-D
inputs (its default, `fused=None`). That kernel normalizes with the batch's
biased variance but moves `moving_variance` towards the *unbiased* one,
`n / (n - 1)` times larger (n: values per channel in the batch). Keras 3's
`BatchNormalization` moves it towards the biased one. Same names, same
defaults (momentum 0.99, epsilon 1e-3), yet after training the moving
variances differ, and so do inference outputs.

`TF1BatchNormalization` is Keras 3's layer with TF1's update, so a migrated
model keeps matching the TF1 model and its checkpoints' statistics through
training. Plain Keras only: it belongs to the fully native model. (Models
that retrain from scratch can use `keras.layers.BatchNormalization` and
accept the difference; see README.md.)

It is also as fast as TF1's: on the TensorFlow backend, float32 NHWC inputs
(4-D, channels last: what convolutions give) go through the fused kernel
TF1 ran, `FusedBatchNormV3` (TensorFlow 2's public `tf.raw_ops`, no TF1
API), in training (batch statistics; gradient `FusedBatchNormGradV3`) and
in inference (moving statistics). Keras 3's `BatchNormalization` computes
moments and the normalization as separate elementwise ops and reductions
(about ten ops forward, more backward); one fused op per layer is what
makes a network of many batch norms (resnet_v1_50, inception_v1) train and
infer at the TF1 graph's speed, and in inference it lets TensorFlow's graph
optimizer fold convolution, batch norm and ReLU into one kernel, as it did
for the TF1 graph. Other inputs (other ranks, channels first, 16-bit, other
backends) take Keras's unfused ops, with TF1's update.

Two more pieces of the same kind, for a native stage that must be as fast
as the TF1 graph it replaces (slim_port/README.md, "Speed"):
`TF1L2Regularizer(scale)`, TF1's `l2_regularizer` as its one `L2Loss` op
(Keras's `L2(scale / 2)` is the same function in three ops), and
`FusedSGD`, Keras's `SGD` applied by one fused kernel per variable, as
TF1's optimizers were; and `TF1Conv2D`, Keras's `Conv2D` whose bias
gradient is released as TF1's `minimize` released it, so oneDNN runs the
filter gradient with the kernel the TF1 graph ran.
"""

import keras
from keras import ops

# Inputs the fused kernel takes here: 4-D, channels last, float32.
_FUSED_RANK = 4


@keras.saving.register_keras_serializable(package="tf1_keras_layers")
class TF1BatchNormalization(keras.layers.BatchNormalization):
  """`keras.layers.BatchNormalization` whose moving variance moves as in
  TF1: by the fused kernel's Bessel-corrected batch variance where TF1 used
  that kernel (4-D and 5-D inputs), by the biased one elsewhere. Masks, renorm and
  synchronized statistics are Keras's own and are not supported here."""

  def call(self, inputs, training=None, mask=None):
    training = bool(training and self.trainable)
    if training and (mask is not None or self.renorm or self.synchronized):
      raise ValueError("TF1BatchNormalization supports neither masks, "
                       "renorm nor synchronized statistics; TF1's fused "
                       "batch norm had none of them.")
    if mask is None and self._fused_kernel_applies(inputs):
      return self._fused_call(inputs, training)
    if not training:
      return super().call(inputs, training=training, mask=mask)
    return self._unfused_training_call(inputs)

  def _fused_kernel_applies(self, inputs):
    return (keras.backend.backend() == "tensorflow" and
            len(inputs.shape) == _FUSED_RANK and
            self.axis % _FUSED_RANK == _FUSED_RANK - 1 and
            self.compute_dtype == "float32" and
            not self.renorm and not self.synchronized)

  def _fused_call(self, inputs, training):
    """TF1's fused batch norm: one `FusedBatchNormV3` op; in training the
    moving averages move towards its batch mean and Bessel-corrected batch
    variance, `moving -= (moving - batch) * (1 - momentum)` as TF1's
    `assign_moving_average` wrote it."""
    import tensorflow as tf  # pylint: disable=g-import-not-at-top
    channels = inputs.shape[-1]
    scale = (self.gamma.value if self.scale else
             tf.ones([channels], tf.float32))
    offset = (self.beta.value if self.center else
              tf.zeros([channels], tf.float32))
    inputs = tf.convert_to_tensor(inputs, tf.float32)
    if training:
      empty = tf.constant([], tf.float32)
      outputs, batch_mean, batch_variance = tf.raw_ops.FusedBatchNormV3(
          x=inputs, scale=scale, offset=offset, mean=empty, variance=empty,
          epsilon=self.epsilon, data_format="NHWC", is_training=True)[:3]
      decay = 1.0 - self.momentum
      self.moving_mean.assign_sub(
          (self.moving_mean.value - batch_mean) * decay)
      self.moving_variance.assign_sub(
          (self.moving_variance.value - batch_variance) * decay)
      return outputs
    return tf.raw_ops.FusedBatchNormV3(
        x=inputs, scale=scale, offset=offset,
        mean=self.moving_mean.value, variance=self.moving_variance.value,
        epsilon=self.epsilon, data_format="NHWC", is_training=False)[0]

  def _unfused_training_call(self, inputs):
    """Keras's ops (any rank, axis, dtype, backend) with TF1's update.

    TF1's `batch_normalization` ran its fused kernel (Bessel-corrected
    moving variance) only where the kernel applies: rank 4 with the channels
    on axis 1 or 3, rank 5 on axis 1 or 4. Any other input (a dense layer's
    [batch, features]) took `nn.moments` and moved the variance by the
    biased batch variance; so does this layer.
    """
    inputs = ops.cast(inputs, "float32")
    rank = len(inputs.shape)
    axis = self.axis % rank
    reduction_axes = [a for a in range(rank) if a != axis]
    mean, variance = ops.moments(inputs, axes=reduction_axes)
    if _tf1_would_fuse(rank, axis):
      count = ops.cast(ops.size(inputs) // ops.shape(inputs)[axis],
                       "float32")
      variance_update = variance * count / ops.maximum(count - 1.0, 1.0)
    else:
      variance_update = variance
    self.moving_mean.assign(self.moving_mean * self.momentum +
                            mean * (1.0 - self.momentum))
    self.moving_variance.assign(self.moving_variance * self.momentum +
                                variance_update * (1.0 - self.momentum))
    outputs = ops.batch_normalization(
        inputs, mean, variance, axis=axis,
        offset=self.beta if self.center else None,
        scale=self.gamma if self.scale else None, epsilon=self.epsilon)
    return ops.cast(outputs, self.compute_dtype)


def _tf1_would_fuse(rank, axis):
  """Whether TF1's `batch_normalization` used its fused kernel for inputs of
  this rank with the channels on `axis` (tf-keras's legacy
  `_fused_can_be_used`: the kernel's NCHW/NHWC and NCDHW/NDHWC layouts)."""
  return (rank == 4 and axis in (1, 3)) or (rank == 5 and axis in (1, 4))


@keras.saving.register_keras_serializable(package="tf1_keras_layers")
class TF1L2Regularizer(keras.regularizers.Regularizer):
  """TF1's `l2_regularizer(scale)` (and slim's): `scale * sum(w ** 2) / 2`.

  Keras's `L2(scale / 2)` is the same function, computed as `Square`, `Sum`
  and `Mul` (and in the gradient `Mul`s and a `Tile`) per variable; on the
  TensorFlow backend this is TF1's one `L2Loss` op (gradient: one `Mul`),
  which counts in a network of fifty regularized kernels.
  """

  def __init__(self, scale):
    self.scale = float(scale)

  def __call__(self, x):
    if keras.backend.backend() == "tensorflow":
      import tensorflow as tf  # pylint: disable=g-import-not-at-top
      return self.scale * tf.nn.l2_loss(x)
    return self.scale * ops.sum(ops.square(x)) / 2

  def get_config(self):
    return {"scale": self.scale}


@keras.saving.register_keras_serializable(package="tf1_keras_layers")
class FusedSGD(keras.optimizers.SGD):
  """`keras.optimizers.SGD` (same formula, same `momentum` slots, same
  arguments) whose update is one fused TensorFlow kernel per variable.

  Keras 3's SGD updates each variable with separate ops (two `Mul`, a
  `Sub`, an assignment of the slot and an `AssignAdd`); TF1's optimizers
  ran one `ResourceApply*` kernel per variable. On the TensorFlow backend
  this runs `ResourceApplyKerasMomentum` (Keras's formula: `m = momentum * m
  - lr * g; w += m`, Nesterov's too) or `ResourceApplyGradientDescent`
  without momentum; sparse gradients and other backends take Keras's ops.
  """

  def update_step(self, gradient, variable, learning_rate):
    if keras.backend.backend() != "tensorflow":
      return super().update_step(gradient, variable, learning_rate)
    import tensorflow as tf  # pylint: disable=g-import-not-at-top
    if isinstance(gradient, tf.IndexedSlices):
      return super().update_step(gradient, variable, learning_rate)
    target = variable.value if isinstance(variable, keras.Variable) else (
        variable)
    learning_rate = tf.cast(learning_rate, target.dtype)
    gradient = tf.cast(gradient, target.dtype)
    if self.momentum == 0:
      return tf.raw_ops.ResourceApplyGradientDescent(
          var=target.handle, alpha=learning_rate, delta=gradient)
    momentum = self.momentums[self._get_variable_index(variable)]
    return tf.raw_ops.ResourceApplyKerasMomentum(
        var=target.handle, accum=momentum.value.handle, lr=learning_rate,
        grad=gradient, momentum=tf.cast(self.momentum, target.dtype),
        use_nesterov=self.nesterov)


@keras.saving.register_keras_serializable(package="tf1_keras_layers")
class TF1Conv2D(keras.layers.Conv2D):
  """`keras.layers.Conv2D` (same arguments, variables and outputs) whose
  bias gradient is released as TF1's `Optimizer.minimize` released it.

  TF1's `minimize` defaulted to `gate_gradients=GATE_OP`: the gradients of
  each op's inputs leave it together, through `tf.tuple` (identities with
  control inputs). For a convolution's `BiasAdd` that means the filter
  gradient reads a gated copy of the output gradient, not the tensor
  `BiasAddGrad` reads. Keras's `GradientTape` does not gate, so with oneDNN
  (TensorFlow's default on x86 CPUs) its graph pass fuses each filter
  gradient with its bias gradient into `_MklNativeConv2DBackpropFilterWithBias`,
  a kernel that is slower than the separate `Conv2DBackpropFilter` on large
  feature maps (vgg_16's: slim_port/README.md, "Speed"). Here, on the
  TensorFlow backend, the bias is added by `BiasAdd` with TF1's gradient:
  `BiasAddGrad`, released together with the output gradient, as in the TF1
  graph. The values are the same as `Conv2D`'s; only which kernels compute
  them changes. Without a bias, or on another backend, it is `Conv2D`.
  """

  def call(self, inputs):
    if not self.use_bias or keras.backend.backend() != "tensorflow":
      return super().call(inputs)
    import tensorflow as tf  # pylint: disable=g-import-not-at-top
    outputs = self.convolution_op(inputs, self.kernel)
    # The bias as a tensor (read under the layer's autocast): a
    # custom gradient's inputs must be tensors, and the read passes the
    # gradient on to the variable.
    bias = tf.convert_to_tensor(self.bias)
    outputs = gated_bias_add(
        outputs, tf.cast(bias, outputs.dtype),
        "NHWC" if self.data_format == "channels_last" else "NCHW")
    if self.activation is not None:
      return self.activation(outputs)
    return outputs


def gated_bias_add(values, bias, data_format="NHWC"):
  """`tf.nn.bias_add(values, bias)` whose gradients, the output gradient
  passed through and `BiasAddGrad`, are released together (`tf.tuple`), as
  TF1's `minimize(gate_gradients=GATE_OP)` released them. TensorFlow
  backend only. `data_format`: "NHWC" (channels last) or "NCHW"."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top

  @tf.custom_gradient
  def bias_add(values, bias):
    def gradient(upstream):
      bias_gradient = tf.raw_ops.BiasAddGrad(out_backprop=upstream,
                                             data_format=data_format)
      return tuple(tf.tuple([upstream, bias_gradient]))
    return tf.nn.bias_add(values, bias, data_format=data_format), gradient

  return bias_add(values, bias)
