"""TF1's batch normalization (`tf.compat.v1.layers.batch_normalization`).

Variables, in TF1's creation order: `gamma` (if `scale`), `beta` (if
`center`), `moving_mean`, `moving_variance` (non-trainable, ON_READ, MEAN).

In training the layer normalizes with the batch statistics and moves the
moving averages: `moving -= (moving - batch_stat) * (1 - momentum)`. As in
TF1, the moving variance takes the batch variance with Bessel's correction
(n / (n - 1)) on the fused path and without it otherwise. In a TF1 graph the
update ops go to `tf.compat.v1.GraphKeys.UPDATE_OPS` (group them with the
train op); in TF2 they run during the call. With `fused` None or True, 4-D
inputs normalized over the channel axis use `fused_batch_norm`, as in TF1.

16-bit inputs (a float16 layer, or a mixed policy): the parameters and
moving averages are float32 and the statistics are computed in float32, as
TF1's (tf-keras's `_param_dtype`) and Keras's own batch normalization do;
the output has the input's dtype.
"""

import tensorflow as tf

from tf1shim import _keras_internal

from tf1shim.layers import base
from tf1shim.layers import functional
from tf1shim.layers import utils


class BatchNormalization(base.Layer):
  """`tf.compat.v1.layers.BatchNormalization`.

  Args:
    axis: the feature axis (or list of axes) to normalize per feature.
    momentum: of the moving averages (0.99).
    epsilon: added to the variance (1e-3).
    center: add the learned offset `beta`.
    scale: multiply by the learned `gamma`.
    fused: None/True: use the fused kernel when possible (4-D inputs, axis 1
      or 3); False: never.
    Other arguments as in TF1. `renorm`, `virtual_batch_size` and
    `adjustment` are not supported.
  """

  def __init__(self, axis=-1, momentum=0.99, epsilon=1e-3, center=True,
               scale=True,
               beta_initializer=tf.compat.v1.zeros_initializer(),
               gamma_initializer=tf.compat.v1.ones_initializer(),
               moving_mean_initializer=tf.compat.v1.zeros_initializer(),
               moving_variance_initializer=tf.compat.v1.ones_initializer(),
               beta_regularizer=None, gamma_regularizer=None,
               beta_constraint=None, gamma_constraint=None, renorm=False,
               renorm_clipping=None, renorm_momentum=0.99, fused=None,
               trainable=True, virtual_batch_size=None, adjustment=None,
               name=None, **kwargs):
    super().__init__(trainable=trainable, name=name, **kwargs)
    unsupported = {"renorm": renorm, "renorm_clipping": renorm_clipping,
                   "virtual_batch_size": virtual_batch_size,
                   "adjustment": adjustment}
    used = sorted(k for k, v in unsupported.items() if v)
    if used:
      raise NotImplementedError(
          "tf1shim's batch_normalization does not support %s. Use "
          "keras.layers.BatchNormalization for these options." %
          ", ".join(used))
    del renorm_momentum
    self.axis = list(axis) if isinstance(axis, (list, tuple)) else axis
    self.momentum = momentum
    self.epsilon = epsilon
    self.center = center
    self.scale = scale
    self.beta_initializer = beta_initializer
    self.gamma_initializer = gamma_initializer
    self.moving_mean_initializer = moving_mean_initializer
    self.moving_variance_initializer = moving_variance_initializer
    self.beta_regularizer = beta_regularizer
    self.gamma_regularizer = gamma_regularizer
    self.beta_constraint = beta_constraint
    self.gamma_constraint = gamma_constraint
    self.fused = fused

  def create_variables(self, input_shape):
    input_shape = tf.TensorShape(input_shape)
    ndims = input_shape.rank
    if ndims is None:
      raise ValueError("Input has undefined rank.")
    axes = self.axis if isinstance(self.axis, list) else [self.axis]
    axes = sorted(a + ndims if a < 0 else a for a in axes)
    for a in axes:
      if not 0 <= a < ndims:
        raise ValueError("Invalid axis: %s" % (self.axis,))
    if len(set(axes)) != len(axes):
      raise ValueError("Duplicate axis: %s" % (self.axis,))
    self._axes = axes
    self._use_fused = (self.fused is not False and ndims == 4 and
                       axes in ([1], [3]))
    if self.fused is True and not self._use_fused:
      self._use_fused = False  # TF1 quietly falls back, too.
    if len(axes) == 1:
      param_shape = [input_shape[axes[0]]]
    else:
      # Per-feature parameters over several axes keep the other axes as 1.
      param_shape = [input_shape[i] if i in axes else 1
                     for i in range(ndims)]
    if any(d is None for d in param_shape):
      raise ValueError("Input has undefined `axis` dimension. Input shape: "
                       "%s" % input_shape)
    param_shape = [int(d) for d in param_shape]
    self.gamma = self.add_tf1_variable(
        "gamma", param_shape, dtype=self._param_dtype, initializer=self.gamma_initializer,
        regularizer=self.gamma_regularizer,
        constraint=self.gamma_constraint) if self.scale else None
    self.beta = self.add_tf1_variable(
        "beta", param_shape, dtype=self._param_dtype, initializer=self.beta_initializer,
        regularizer=self.beta_regularizer,
        constraint=self.beta_constraint) if self.center else None
    on_read = dict(trainable=False,
                   synchronization=tf.VariableSynchronization.ON_READ,
                   aggregation=tf.VariableAggregation.MEAN)
    self.moving_mean = self.add_tf1_variable(
        "moving_mean", param_shape, dtype=self._param_dtype,
        initializer=self.moving_mean_initializer, **on_read)
    self.moving_variance = self.add_tf1_variable(
        "moving_variance", param_shape, dtype=self._param_dtype,
        initializer=self.moving_variance_initializer, **on_read)

  @property
  def _param_dtype(self):
    # TF1 (tf-keras's BatchNormalization): float32 parameters for 16-bit
    # layers; float16 variances overflow easily.
    dtype = tf.as_dtype(self.variable_dtype)
    return tf.float32 if dtype in (tf.float16, tf.bfloat16) else dtype

  def call(self, inputs, training=False):
    # The float32 parameters are read as stored, not cast to a mixed
    # policy's compute dtype (Keras's own batch normalization does not
    # autocast its weights either).
    with _keras_internal.no_autocast():
      return self._normalize(inputs, training)

  def _normalize(self, inputs, training):
    inputs = tf.convert_to_tensor(inputs)
    input_dtype = inputs.dtype
    if training is None:
      training = False
    dtype = self.moving_mean.dtype
    gamma = (tf.convert_to_tensor(self.gamma) if self.scale else
             tf.ones(self.moving_mean.shape, dtype))
    beta = (tf.convert_to_tensor(self.beta) if self.center else
            tf.zeros(self.moving_mean.shape, dtype))
    moving_mean = tf.convert_to_tensor(self.moving_mean)
    moving_variance = tf.convert_to_tensor(self.moving_variance)

    if self._use_fused:
      data_format = "NCHW" if self._axes == [1] else "NHWC"

      def train_branch():
        # The fused kernel normalizes with the batch variance but returns it
        # with Bessel's correction, n / (n - 1); TF1 moved the average with
        # that returned value.
        return tf.compat.v1.nn.fused_batch_norm(
            inputs, gamma, beta, epsilon=self.epsilon, is_training=True,
            data_format=data_format)

      def inference_branch():
        outputs, _, _ = tf.compat.v1.nn.fused_batch_norm(
            inputs, gamma, beta, mean=moving_mean, variance=moving_variance,
            epsilon=self.epsilon, is_training=False, data_format=data_format)
        return outputs, moving_mean, moving_variance
    else:
      # TF1: the unfused math runs in float32 for 16-bit inputs.
      if inputs.dtype in (tf.float16, tf.bfloat16):
        inputs = tf.cast(inputs, tf.float32)
      reduction_axes = [i for i in range(inputs.shape.rank)
                        if i not in self._axes]
      keepdims = len(self._axes) > 1

      def broadcast(v):
        if keepdims or self._axes == [inputs.shape.rank - 1]:
          return v
        shape = [1] * inputs.shape.rank
        shape[self._axes[0]] = -1
        return tf.reshape(v, shape)

      def train_branch():
        mean, variance = tf.nn.moments(inputs, reduction_axes,
                                       keepdims=keepdims)
        outputs = tf.nn.batch_normalization(
            inputs, broadcast(mean), broadcast(variance), broadcast(beta),
            broadcast(gamma), self.epsilon)
        return outputs, mean, variance

      def inference_branch():
        outputs = tf.nn.batch_normalization(
            inputs, broadcast(moving_mean), broadcast(moving_variance),
            broadcast(beta), broadcast(gamma), self.epsilon)
        return outputs, moving_mean, moving_variance

    outputs, mean, variance = utils.smart_cond(training, train_branch,
                                               inference_branch)
    outputs = tf.cast(outputs, input_dtype)  # no-op unless unfused 16-bit
    static_training = (training if isinstance(training, bool) else
                       tf.get_static_value(training))
    if static_training is False:
      return outputs
    if static_training is None:
      # A training tensor: the update is a no-op when it is False.
      momentum = utils.smart_cond(training, lambda: self.momentum,
                                  lambda: 1.0)
    else:
      momentum = self.momentum
    updates = [self._move_average(self.moving_mean, mean, momentum),
               self._move_average(self.moving_variance, variance, momentum)]
    if base.in_tf1_graph():
      for update in updates:
        tf.compat.v1.add_to_collection(tf.compat.v1.GraphKeys.UPDATE_OPS,
                                       update)
    return outputs

  @staticmethod
  def _move_average(variable, value, momentum):
    decay = tf.cast(1.0 - tf.convert_to_tensor(momentum), variable.dtype)
    delta = (tf.convert_to_tensor(variable) - tf.cast(value, variable.dtype)
            ) * decay
    if base.in_tf1_graph():
      return tf.compat.v1.assign_sub(variable, delta)
    return variable.assign_sub(delta)

  def compute_output_shape(self, input_shape):
    return input_shape

  def get_config(self):
    return {**super().get_config(), "axis": self.axis,
            "momentum": self.momentum, "epsilon": self.epsilon,
            "center": self.center, "scale": self.scale, "fused": self.fused}


batch_normalization = functional.functional_form(
    BatchNormalization, "batch_normalization", call_kwargs=("training",))
