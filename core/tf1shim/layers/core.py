"""TF1's core layers: `dense`, `dropout`, `flatten` (functions and classes)."""

import tensorflow as tf

from tf1shim.layers import base
from tf1shim.layers import functional
from tf1shim.layers import utils


class Dense(base.Layer):
  """`tf.compat.v1.layers.Dense`: `outputs = activation(inputs @ kernel + bias)`.

  Variables `kernel` [input_dim, units] (default initializer: TF1's Glorot
  uniform) and `bias` [units] (zeros). Inputs of rank > 2 are contracted on
  their last axis, as in TF1.
  """

  def __init__(self, units, activation=None, use_bias=True,
               kernel_initializer=None,
               bias_initializer=tf.compat.v1.zeros_initializer(),
               kernel_regularizer=None, bias_regularizer=None,
               activity_regularizer=None, kernel_constraint=None,
               bias_constraint=None, trainable=True, name=None, **kwargs):
    super().__init__(trainable=trainable, name=name, **kwargs)
    self.units = int(units)
    self.activation = utils.get_activation(activation)
    self.use_bias = use_bias
    self.kernel_initializer = kernel_initializer
    self.bias_initializer = bias_initializer
    self.kernel_regularizer = kernel_regularizer
    self.bias_regularizer = bias_regularizer
    self.tf1_activity_regularizer = utils.get_regularizer(activity_regularizer)
    self.kernel_constraint = kernel_constraint
    self.bias_constraint = bias_constraint

  def create_variables(self, input_shape):
    input_shape = tf.TensorShape(input_shape)
    last_dim = tf.compat.dimension_value(input_shape[-1])
    if last_dim is None:
      raise ValueError("The last dimension of the inputs to `Dense` should be "
                       "defined. Found `None`.")
    # Held as `_kernel`, as Keras 3's Dense does: an object-based checkpoint
    # then has the same key for this layer and its Keras 3 replacement (the
    # guide's migration step 4 depends on it).
    self._kernel = self.add_tf1_variable(
        "kernel", shape=[last_dim, self.units],
        initializer=self.kernel_initializer,
        regularizer=self.kernel_regularizer,
        constraint=self.kernel_constraint)
    if self.use_bias:
      self.bias = self.add_tf1_variable(
          "bias", shape=[self.units], initializer=self.bias_initializer,
          regularizer=self.bias_regularizer, constraint=self.bias_constraint)
    else:
      self.bias = None

  @property
  def kernel(self):
    return self._kernel

  def call(self, inputs):
    inputs = tf.convert_to_tensor(inputs)
    rank = inputs.shape.rank
    if rank == 2 or rank is None:
      outputs = tf.matmul(inputs, self.kernel)
    else:
      outputs = tf.tensordot(inputs, self.kernel, [[rank - 1], [0]])
      outputs.set_shape(inputs.shape[:-1].concatenate([self.units]))
    if self.use_bias:
      outputs = tf.nn.bias_add(outputs, self.bias)
    if self.activation is not None:
      outputs = self.activation(outputs)
    if self.tf1_activity_regularizer is not None:
      self.add_activity_loss(outputs, self.tf1_activity_regularizer)
    return outputs

  def compute_output_shape(self, input_shape):
    return tuple(input_shape[:-1]) + (self.units,)

  def get_config(self):
    return {**super().get_config(), "units": self.units,
            "activation": utils.serialize(self.activation),
            "use_bias": self.use_bias,
            "kernel_initializer": utils.serialize(self.kernel_initializer),
            "bias_initializer": utils.serialize(self.bias_initializer),
            "kernel_regularizer": utils.serialize(self.kernel_regularizer),
            "bias_regularizer": utils.serialize(self.bias_regularizer)}


dense = functional.functional_form(Dense, "dense")


class Dropout(base.Layer):
  """`tf.compat.v1.layers.Dropout`: `tf.nn.dropout` when `training`.

  Args:
    rate: fraction of the inputs to drop (0.5).
    noise_shape: shape of the keep/drop mask, broadcast to the inputs.
    seed: op seed of the random mask (TF1 semantics with the graph seed).
  """

  def __init__(self, rate=0.5, noise_shape=None, seed=None, name=None,
               **kwargs):
    super().__init__(name=name, **kwargs)
    self.rate = rate
    self.noise_shape = noise_shape
    self.seed = seed

  def call(self, inputs, training=False):
    inputs = tf.convert_to_tensor(inputs)
    if training is None:
      training = False

    def dropped():
      noise_shape = self.noise_shape
      if noise_shape is not None:
        noise_shape = [inputs.shape[i] if d is None else d
                       for i, d in enumerate(noise_shape)]
      return tf.nn.dropout(inputs, rate=self.rate, noise_shape=noise_shape,
                           seed=self.seed)

    return utils.smart_cond(training, dropped, lambda: tf.identity(inputs))

  def compute_output_shape(self, input_shape):
    return input_shape

  def get_config(self):
    return {**super().get_config(), "rate": self.rate,
            "noise_shape": self.noise_shape, "seed": self.seed}


dropout = functional.functional_form(Dropout, "dropout", call_kwargs=("training",),
                                fixed_scope=False)


class Flatten(base.Layer):
  """`tf.compat.v1.layers.Flatten`: `[batch, ...] -> [batch, -1]`.

  With `data_format='channels_first'` the features are first moved to the
  last axis, so both formats flatten in the same (channels-last) order.
  """

  def __init__(self, data_format="channels_last", name=None, **kwargs):
    super().__init__(name=name, **kwargs)
    self.data_format = utils.normalize_data_format(data_format)

  def call(self, inputs):
    inputs = tf.convert_to_tensor(inputs)
    rank = inputs.shape.rank
    if self.data_format == "channels_first" and rank and rank > 2:
      inputs = tf.transpose(inputs, [0] + list(range(2, rank)) + [1])
    flat_dim = inputs.shape[1:].num_elements()
    if flat_dim is None:
      flat_dim = -1
    return tf.reshape(inputs, [tf.shape(inputs)[0], flat_dim])

  def compute_output_shape(self, input_shape):
    rest = input_shape[1:]
    size = None if any(d is None for d in rest) else int(
        tf.TensorShape(rest).num_elements())
    return (input_shape[0], size)

  def get_config(self):
    return {**super().get_config(), "data_format": self.data_format}


flatten = functional.functional_form(Flatten, "flatten", fixed_scope=False)


__all__ = ["Dense", "dense", "Dropout", "dropout", "Flatten", "flatten"]
