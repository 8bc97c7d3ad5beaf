"""TF1's batch normalization (`tf.compat.v1.layers.batch_normalization`).

Variables, in TF1's creation order: `gamma` (if `scale`), `beta` (if
`center`), `moving_mean`, `moving_variance` (non-trainable, ON_READ, MEAN).

In training the layer normalizes with the batch statistics and moves the
moving averages: `moving -= (moving - batch_stat) * (1 - momentum)`. As in
TF1, the moving variance takes the batch variance with Bessel's correction
(n / (n - 1)) on the fused path and without it otherwise. In a TF1 graph the
update ops go to `tf.compat.v1.GraphKeys.UPDATE_OPS` (group them with the
train op); in TF2 they run during the call. With `fused` None or True, 4-D
and 5-D inputs normalized over the channel axis (first or last) use
`fused_batch_norm`, as in TF1.

TF1's training-time variants, on the unfused path as in TF1 (which quietly
left the fused kernel for them), with TF1's variables and math (tf-keras's
`BatchNormalization`, what `tf.compat.v1.layers` is under TF 2.21):

* `renorm` (Batch Renormalization): three more non-trainable variables,
  `moving_stddev`, `renorm_mean`, `renorm_stddev`. Training normalizes with
  the batch statistics corrected by `r = stddev / renorm_stddev` and
  `d = (mean - renorm_mean) / renorm_stddev` (clipped by `renorm_clipping`,
  no gradient), read before `renorm_mean`/`renorm_stddev` move with
  `renorm_momentum`. The moving variance is `moving_stddev**2 - epsilon`.
* `virtual_batch_size` ("ghost" batch norm): training normalizes groups of
  the batch separately, reshaped to `[virtual_batch_size, -1, ...]` (TF1's
  grouping: rows `i, i + n, i + 2n, ...` with n = batch / virtual_batch_size);
  the variables get TF1's shape `[1, 1, ..., depth]`; the moving averages move
  with the groups' mean statistics.
* `adjustment(shape) -> (scale, bias)`: applied to the normalized values
  before gamma and beta, in training only.

16-bit inputs (a float16 layer, or a mixed policy): the parameters and
moving averages are float32 and the statistics are computed in float32, as
TF1's (tf-keras's `_param_dtype`) and Keras's own batch normalization do;
the output has the input's dtype.
"""

import math

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
      or 3; 5-D inputs, axis 1 or 4); False: never.
    renorm, renorm_clipping, renorm_momentum, virtual_batch_size,
      adjustment: TF1's training-time variants (see the module docstring).
    Other arguments as in TF1.
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
    self.renorm = bool(renorm)
    self.renorm_clipping = dict(renorm_clipping or {})
    unknown = sorted(set(self.renorm_clipping) - {"rmax", "rmin", "dmax"})
    if unknown:
      raise ValueError(
          "renorm_clipping takes the keys 'rmax', 'rmin' and 'dmax'; got %s." %
          ", ".join(map(repr, unknown)))
    self.renorm_momentum = renorm_momentum
    if virtual_batch_size is not None and virtual_batch_size <= 0:
      raise ValueError(
          "virtual_batch_size must be a positive integer that divides the "
          "batch size; got %r." % (virtual_batch_size,))
    if virtual_batch_size is not None and adjustment is not None:
      raise ValueError("batch_normalization takes virtual_batch_size or "
                       "adjustment, not both (as in TF1).")
    self.virtual_batch_size = virtual_batch_size
    self.adjustment = adjustment
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
    if self.virtual_batch_size is not None and 0 in axes:
      raise ValueError(
          "With virtual_batch_size, axis 0 is the batch: the normalized axis "
          "cannot include it; got axis=%s." % (self.axis,))
    self._axes = axes
    # TF1 quietly falls back to the unfused math where the kernel cannot do
    # what was asked, `fused=True` included.
    self._data_format = _FUSED_LAYOUTS.get((ndims, tuple(axes)))
    self._use_fused = (self.fused is not False and
                       self._data_format is not None and not self.renorm and
                       self.virtual_batch_size is None and
                       self.adjustment is None)
    if len(axes) == 1 and self.virtual_batch_size is None:
      param_shape = [input_shape[axes[0]]]
    else:
      # Per-feature parameters over several axes keep the other axes as 1;
      # virtual batches add TF1's axis 1 for the groups.
      param_shape = [input_shape[i] if i in axes else 1
                     for i in range(ndims)]
      if self.virtual_batch_size is not None:
        param_shape.insert(1, 1)
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
    if self.renorm:
      # TF1 tracks the inference standard deviation for renorm, and the
      # renorm averages used in training; in this order.
      stddev_initializer = _square_root_of(self.moving_variance_initializer)
      self.moving_stddev = self.add_tf1_variable(
          "moving_stddev", param_shape, dtype=self._param_dtype,
          initializer=stddev_initializer, **on_read)
      self.renorm_mean = self.add_tf1_variable(
          "renorm_mean", param_shape, dtype=self._param_dtype,
          initializer=self.moving_mean_initializer, **on_read)
      self.renorm_stddev = self.add_tf1_variable(
          "renorm_stddev", param_shape, dtype=self._param_dtype,
          initializer=stddev_initializer, **on_read)

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
    if training is None:
      training = False
    static_training = (training if isinstance(training, bool) else
                       tf.get_static_value(training))
    if self._use_fused:
      outputs, mean, variance = self._fused(inputs, training)
      if static_training is False:
        return outputs
      momentum = self._momentum_in_training(self.momentum, training,
                                            static_training)
      updates = [self._move_average(self.moving_mean, mean, momentum),
                 self._move_average(self.moving_variance, variance, momentum)]
    else:
      outputs, updates = self._unfused(inputs, training, static_training)
    if base.in_tf1_graph():
      for update in updates:
        tf.compat.v1.add_to_collection(tf.compat.v1.GraphKeys.UPDATE_OPS,
                                       update)
    return outputs

  def _parameters(self):
    """gamma and beta as tensors (ones and zeros where TF1 had none)."""
    dtype = self.moving_mean.dtype
    gamma = (tf.convert_to_tensor(self.gamma) if self.scale else
             tf.ones(self.moving_mean.shape, dtype))
    beta = (tf.convert_to_tensor(self.beta) if self.center else
            tf.zeros(self.moving_mean.shape, dtype))
    return gamma, beta

  def _fused(self, inputs, training):
    """TF1's fused kernel: (outputs, mean, variance for the averages)."""
    gamma, beta = self._parameters()
    moving_mean = tf.convert_to_tensor(self.moving_mean)
    moving_variance = tf.convert_to_tensor(self.moving_variance)
    data_format = self._data_format

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

    return utils.smart_cond(training, train_branch, inference_branch)

  def _unfused(self, inputs, training, static_training):
    """TF1's unfused math, with its training-time variants: (outputs, the
    update ops of the moving averages)."""
    input_dtype = inputs.dtype
    static_shape = inputs.shape
    # TF1: the unfused math runs in float32 for 16-bit inputs.
    if inputs.dtype in (tf.float16, tf.bfloat16):
      inputs = tf.cast(inputs, tf.float32)
    axes = self._axes
    if self.virtual_batch_size is not None:
      original_shape = tf.shape(inputs)
      # tf-keras's grouping (TF 2.21's TF1 layers): virtual batches only
      # when `training` is a Python True; else one group (inference uses
      # the moving averages, so the grouping does not change the output).
      groups = ([self.virtual_batch_size, -1] if static_training else
                [-1, 1])
      inputs = tf.reshape(inputs, tf.concat([groups, original_shape[1:]], 0))
      axes = [a + 1 for a in axes]
    ndims = inputs.shape.rank
    reduction_axes = [i for i in range(ndims) if i not in axes]
    if self.virtual_batch_size is not None:
      del reduction_axes[1]  # One set of statistics per virtual batch.
    keepdims = self.virtual_batch_size is not None or len(axes) > 1

    def broadcast(v):
      if keepdims or axes == [ndims - 1]:
        return v
      shape = [1] * ndims
      shape[axes[0]] = -1
      return tf.reshape(v, shape)

    gamma, beta = self._parameters()
    scale, offset = broadcast(gamma), broadcast(beta)
    updates = []
    if static_training is False:
      mean = tf.convert_to_tensor(self.moving_mean)
      variance = tf.convert_to_tensor(self.moving_variance)
    else:
      if self.adjustment is not None:
        adjust_scale, adjust_bias = self.adjustment(tf.shape(inputs))
        adjust_scale = utils.smart_cond(
            training, lambda: adjust_scale, lambda: tf.ones_like(adjust_scale))
        adjust_bias = utils.smart_cond(
            training, lambda: adjust_bias, lambda: tf.zeros_like(adjust_bias))
        scale, offset = adjust_scale * scale, adjust_bias * scale + offset
      batch_mean, batch_variance = tf.nn.moments(
          tf.cast(inputs, self.moving_mean.dtype), reduction_axes,
          keepdims=keepdims)
      mean = utils.smart_cond(training, lambda: batch_mean,
                              lambda: tf.convert_to_tensor(self.moving_mean))
      variance = utils.smart_cond(
          training, lambda: batch_variance,
          lambda: tf.convert_to_tensor(self.moving_variance))
      new_mean, new_variance = mean, variance
      if self.virtual_batch_size is not None:
        # TF1 moves the averages once, with the groups' mean statistics.
        new_mean = tf.reduce_mean(mean, axis=1, keepdims=True)
        new_variance = tf.reduce_mean(variance, axis=1, keepdims=True)
      renorm_updates = []
      if self.renorm:
        r, d, renorm_updates = self._renorm_correction(
            new_mean, new_variance, training, static_training)
        # (x * r + d) * gamma + beta: r and d fold into scale and offset.
        r, d = broadcast(r), broadcast(d)
        scale, offset = r * scale, d * scale + offset
      momentum = self._momentum_in_training(self.momentum, training,
                                            static_training)
      # TF1 runs the renorm averages' updates with the mean's update.
      with tf.control_dependencies(renorm_updates):
        updates.append(self._move_average(self.moving_mean, new_mean,
                                          momentum))
      if self.renorm:
        # TF1 keeps the standard deviation (epsilon in it, as in training)
        # and derives the variance from it.
        stddev = self._move_average(
            self.moving_stddev, tf.sqrt(new_variance + self.epsilon),
            momentum)
        value = utils.smart_cond(
            training,
            lambda: tf.nn.relu(tf.square(tf.convert_to_tensor(stddev)) -
                               self.epsilon),
            lambda: tf.convert_to_tensor(self.moving_variance))
        updates.append(self._assign(self.moving_variance, value))
      else:
        updates.append(self._move_average(self.moving_variance, new_variance,
                                          momentum))
    outputs = tf.nn.batch_normalization(
        inputs, broadcast(tf.cast(mean, inputs.dtype)),
        broadcast(tf.cast(variance, inputs.dtype)),
        tf.cast(offset, inputs.dtype), tf.cast(scale, inputs.dtype),
        self.epsilon)
    if self.virtual_batch_size is not None:
      outputs = tf.reshape(outputs, original_shape)
      outputs.set_shape(static_shape)
    return tf.cast(outputs, input_dtype), updates

  def _renorm_correction(self, mean, variance, training, static_training):
    """TF1's renorm: (r, d), read before the renorm averages move, and the
    ops that move them."""
    stddev = tf.sqrt(variance + self.epsilon)
    renorm_mean = tf.convert_to_tensor(self.renorm_mean)
    # TF1's floor: no division by zero early in training.
    renorm_stddev = tf.maximum(tf.convert_to_tensor(self.renorm_stddev),
                               math.sqrt(self.epsilon))
    r = stddev / renorm_stddev
    d = (mean - renorm_mean) / renorm_stddev
    rmin, rmax, dmax = (self.renorm_clipping.get(key)
                        for key in ("rmin", "rmax", "dmax"))
    if rmin is not None:
      r = tf.maximum(r, rmin)
    if rmax is not None:
      r = tf.minimum(r, rmax)
    if dmax is not None:
      d = tf.minimum(tf.maximum(d, -dmax), dmax)
    r = utils.smart_cond(training, lambda: r, lambda: tf.ones_like(r))
    d = utils.smart_cond(training, lambda: d, lambda: tf.zeros_like(d))
    momentum = self._momentum_in_training(self.renorm_momentum, training,
                                          static_training)
    with tf.control_dependencies([r, d]):
      updates = [self._move_average(self.renorm_mean, mean, momentum),
                 self._move_average(self.renorm_stddev, stddev, momentum)]
    return tf.stop_gradient(r), tf.stop_gradient(d), updates

  @staticmethod
  def _momentum_in_training(momentum, training, static_training):
    """`momentum`, or 1.0 (no move) when a `training` tensor is False."""
    if static_training is None:
      return utils.smart_cond(training, lambda: momentum, lambda: 1.0)
    return momentum

  @staticmethod
  def _assign(variable, value):
    if base.in_tf1_graph():
      return tf.compat.v1.assign(variable, value)
    return variable.assign(value)

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
            "center": self.center, "scale": self.scale, "fused": self.fused,
            "renorm": self.renorm, "renorm_clipping": self.renorm_clipping,
            "renorm_momentum": self.renorm_momentum,
            "virtual_batch_size": self.virtual_batch_size}


batch_normalization = functional.functional_form(
    BatchNormalization, "batch_normalization", call_kwargs=("training",))


# TF1's fused kernel's layouts: (rank, normalized axes) -> data format.
_FUSED_LAYOUTS = {(4, (1,)): "NCHW", (4, (3,)): "NHWC",
                  (5, (1,)): "NCDHW", (5, (4,)): "NDHWC"}


def _square_root_of(initializer):
  """An initializer of the square root of `initializer`'s values (TF1's
  standard deviations start at the variance initializer's square root)."""
  initializer = utils.get_initializer(initializer)

  def initialize(shape, dtype=None, partition_info=None):
    del partition_info
    return tf.sqrt(initializer(shape, dtype=dtype))
  return initialize
