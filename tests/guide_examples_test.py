"""The guide's examples ("Use TF1.x models in TF2 workflows") on Keras 3.

Each test is the guide's code, unmodified but for `tf1shim.install()` and
these Keras 3 differences, marked `# Keras 3:` where they occur:

* a Keras 3 variable's `name` is its last path component; the TF1 name is
  `tf1shim.tf1_name(v)` (`dense/kernel:0`), the guide's `v.name`;
* Keras 3 functional models require inputs of the rank they were built for
  (the guide feeds a (5, 5) tensor to an `Input(shape=(5, 5))` model, which
  tf-keras tolerated);
* Keras 3 `Input(shape=(20))` needs a tuple, `(20,)`.

The DeterministicRandomTestTool sections belong to the determinism tests.
"""

import numpy as np
import pytest
import tensorflow as tf
import tensorflow.compat.v1 as v1

import tf1shim
from testing.pytest_main import pytest_main

tf1shim.install()
tf1_name = tf1shim.tf1_name


class DenseLayer(tf.keras.layers.Layer):

  def __init__(self, units, *args, **kwargs):
    super().__init__(*args, **kwargs)
    self.units = units

  @tf.compat.v1.keras.utils.track_tf1_style_variables
  def call(self, inputs):
    out = inputs
    with tf.compat.v1.variable_scope("dense"):
      # The weights are created with a `regularizer`,
      # so the layer should track their regularization losses
      kernel = tf.compat.v1.get_variable(
          shape=[out.shape[-1], self.units],
          regularizer=tf.keras.regularizers.L2(),
          initializer=tf.compat.v1.initializers.glorot_normal,
          name="kernel")
      bias = tf.compat.v1.get_variable(
          shape=[self.units,],
          initializer=tf.compat.v1.initializers.zeros,
          name="bias")
      out = tf.linalg.matmul(out, kernel)
      out = tf.compat.v1.nn.bias_add(out, bias)
    return out


def test_layer_built_on_get_variable():
  layer = DenseLayer(10)
  x = tf.random.normal(shape=(8, 20))
  out = layer(x)
  assert out.shape == (8, 10)
  assert len(layer.trainable_variables) == 2
  assert len(layer.losses) == 1
  np.testing.assert_allclose(
      layer.losses[0], 0.01 * np.sum(np.square(layer.weights[0].numpy())),
      rtol=1e-5)
  # Keras 3: var.name -> tf1_name(var)
  assert sorted(tf1_name(var) for var in layer.trainable_variables) == [
      "dense/bias:0", "dense/kernel:0"]
  for var in layer.trainable_variables:
    var.assign(var * 0.0)
  out = layer(x)
  assert [float(l) for l in layer.losses] == [0.0]
  np.testing.assert_array_equal(out, np.zeros([8, 10]))

  inputs = tf.keras.Input(shape=(20,))  # Keras 3: (20) -> (20,)
  outputs = DenseLayer(10)(inputs)
  model = tf.keras.Model(inputs=inputs, outputs=outputs)
  x = tf.random.normal(shape=(8, 20))
  assert model(x).shape == (8, 10)
  assert len(model.weights) == 2 and len(model.losses) == 1


class CompatV1LayerModel(tf.keras.layers.Layer):

  def __init__(self, units, *args, **kwargs):
    super().__init__(*args, **kwargs)
    self.units = units

  @tf.compat.v1.keras.utils.track_tf1_style_variables
  def call(self, inputs):
    with tf.compat.v1.variable_scope('model'):
      out = tf.compat.v1.layers.conv2d(
          inputs, 3, 3,
          kernel_regularizer="l2")
      out = tf.compat.v1.layers.flatten(out)
      out = tf.compat.v1.layers.dense(
          out, self.units,
          kernel_regularizer="l2")
      return out


def test_model_built_on_v1_layers():
  layer = CompatV1LayerModel(10)
  x = tf.random.normal(shape=(8, 5, 5, 5))
  assert layer(x).shape == (8, 10)
  assert len(layer.losses) == 2
  assert sorted(tf1_name(var) for var in layer.trainable_variables) == [
      'model/conv2d/bias:0', 'model/conv2d/kernel:0', 'model/dense/bias:0',
      'model/dense/kernel:0']
  for var in layer.trainable_variables:
    var.assign(var * 0.0)
  out = layer(x)
  assert [float(l) for l in layer.losses] == [0.0, 0.0]
  np.testing.assert_array_equal(out, np.zeros([8, 10]))

  inputs = tf.keras.Input(shape=(5, 5, 5))
  outputs = CompatV1LayerModel(10)(inputs)
  model = tf.keras.Model(inputs=inputs, outputs=outputs)
  x = tf.random.normal(shape=(8, 5, 5, 5))
  assert model(x).shape == (8, 10)
  assert len(model.weights) == 4 and len(model.losses) == 2


def test_batch_norm_training_argument_and_moving_averages():
  calls = []

  class CompatV1BatchNorm(tf.keras.layers.Layer):

    @tf.compat.v1.keras.utils.track_tf1_style_variables
    def call(self, inputs, training=None):
      calls.append(training)
      with v1.variable_scope('batch_norm_layer'):
        return v1.layers.batch_normalization(x, training=training)

  # The guide's call() normalizes the global `x` (a notebook global defined
  # in an earlier cell), not `inputs`; keep that, with `x` defined first.
  x = tf.random.normal(shape=(8, 5, 5, 5))
  inputs = tf.keras.Input(shape=(5, 5, 5))
  outputs = CompatV1BatchNorm()(inputs)
  model = tf.keras.Model(inputs=inputs, outputs=outputs)
  model(x, training=False)
  before = {tf1_name(var): var.numpy()
            for var in model.non_trainable_variables}
  assert sorted(before) == [
      'batch_norm_layer/batch_normalization/moving_mean:0',
      'batch_norm_layer/batch_normalization/moving_variance:0']
  np.testing.assert_array_equal(
      before['batch_norm_layer/batch_normalization/moving_mean:0'],
      np.zeros(5))
  model(x, training=True)
  after = {tf1_name(var): var.numpy()
           for var in model.non_trainable_variables}
  batch_mean = x.numpy().reshape(-1, 5).mean(0)
  np.testing.assert_allclose(
      after['batch_norm_layer/batch_normalization/moving_mean:0'],
      0.01 * batch_mean, rtol=1e-4, atol=1e-7)
  assert calls[-2:] == [False, True]


def test_get_or_create_layer():

  class NestedModel(tf.keras.Model):

    def __init__(self, units, *args, **kwargs):
      super().__init__(*args, **kwargs)
      self.units = units

    def build_model(self):
      inp = tf.keras.Input(shape=(5,))  # Keras 3: rank of the real input
      dense_layer = tf.keras.layers.Dense(
          10, name="dense", kernel_regularizer="l2",
          kernel_initializer=tf.compat.v1.ones_initializer())
      model = tf.keras.Model(inputs=inp, outputs=dense_layer(inp))
      return model

    @tf.compat.v1.keras.utils.track_tf1_style_variables
    def call(self, inputs):
      # Get or create a nested model without assigning it as an explicit
      # property
      model = tf.compat.v1.keras.utils.get_or_create_layer(
          "dense_model", self.build_model)
      return model(inputs)

  layer = NestedModel(10)
  np.testing.assert_array_equal(layer(tf.ones(shape=(5, 5))),
                                np.full([5, 10], 5.0))
  assert len(layer.weights) == 2
  weights = {tf1_name(x): x for x in layer.variables}  # Keras 3: x.name
  assert set(weights.keys()) == {"dense/bias:0", "dense/kernel:0"}
  np.testing.assert_allclose(tf.add_n(layer.losses), 0.5, rtol=1e-6)


def test_nested_layers_and_explicit_tracking():

  class NestedLayer(tf.keras.layers.Layer):

    def __init__(self, units, *args, **kwargs):
      super().__init__(*args, **kwargs)
      self.units = units

    @tf.compat.v1.keras.utils.track_tf1_style_variables
    def __call__(self, inputs):
      out = inputs
      with tf.compat.v1.variable_scope("inner_dense"):
        kernel = tf.compat.v1.get_variable(
            shape=[out.shape[-1], self.units],
            regularizer=tf.keras.regularizers.L2(),
            initializer=tf.compat.v1.initializers.glorot_normal,
            name="kernel")
        bias = tf.compat.v1.get_variable(
            shape=[self.units,],
            initializer=tf.compat.v1.initializers.zeros,
            name="bias")
        out = tf.linalg.matmul(out, kernel)
        out = tf.compat.v1.nn.bias_add(out, bias)
      return out

  class WrappedDenseLayer(tf.keras.layers.Layer):

    def __init__(self, units, **kwargs):
      super().__init__(**kwargs)
      self.units = units
      # Only create the nested tf.variable/module/layer/model
      # once, and then reuse it each time!
      self._dense_layer = NestedLayer(self.units)

    @tf.compat.v1.keras.utils.track_tf1_style_variables
    def call(self, inputs):
      with tf.compat.v1.variable_scope('outer'):
        outputs = tf.compat.v1.layers.dense(inputs, 3)
        outputs = tf.compat.v1.layers.dense(inputs, 4)
        return self._dense_layer(outputs)

  layer = WrappedDenseLayer(10)
  layer(tf.ones(shape=(5, 5)))
  assert len(layer.weights) == 6
  weights = {tf1_name(x): x for x in layer.variables}  # Keras 3: x.name
  assert set(weights.keys()) == {"outer/inner_dense/bias:0",
                                 "outer/inner_dense/kernel:0",
                                 "outer/dense/bias:0",
                                 "outer/dense/kernel:0",
                                 "outer/dense_1/bias:0",
                                 "outer/dense_1/kernel:0"}
  assert len(layer.losses) == 1


def test_make_template_in_a_decorated_method():

  class CompatV1TemplateScaleByY(tf.keras.layers.Layer):

    def __init__(self, **kwargs):
      super().__init__(**kwargs)

      def my_op(x, scalar_name):
        var1 = tf.compat.v1.get_variable(
            scalar_name, shape=[],
            regularizer=tf.compat.v1.keras.regularizers.L2(),
            initializer=tf.compat.v1.constant_initializer(1.5))
        return x * var1

      self.scale_by_y = tf.compat.v1.make_template(
          'scale_by_y', my_op, scalar_name='y')

    @tf.compat.v1.keras.utils.track_tf1_style_variables
    def call(self, inputs):
      with tf.compat.v1.variable_scope('layer'):
        # Using a scope ensures the `scale_by_y` name will not be incremented
        # for each instantiation of the layer.
        return self.scale_by_y(inputs)

  layer = CompatV1TemplateScaleByY()
  for _ in range(2):
    out = layer(tf.ones(shape=(2, 3)))
    assert [tf1_name(v) for v in layer.weights] == ['layer/scale_by_y/y:0']
    np.testing.assert_allclose([float(l) for l in layer.losses], [0.0225],
                               rtol=1e-6)
    np.testing.assert_array_equal(out, np.full([2, 3], 1.5))


def test_checkpoint_compatible_migration_steps():

  class FunctionalStyleCompatModel(tf.keras.layers.Layer):

    @tf.compat.v1.keras.utils.track_tf1_style_variables
    def call(self, inputs, training=None):
      with tf.compat.v1.variable_scope('model'):
        out = tf.compat.v1.layers.conv2d(inputs, 3, 3, kernel_regularizer="l2")
        out = tf.compat.v1.layers.conv2d(out, 4, 4, kernel_regularizer="l2")
        out = tf.compat.v1.layers.conv2d(out, 5, 5, kernel_regularizer="l2")
        return out

  layer = FunctionalStyleCompatModel()
  layer(tf.ones(shape=(10, 10, 10, 10)))
  assert sorted(tf1_name(v) for v in layer.weights) == [
      'model/conv2d/bias:0', 'model/conv2d/kernel:0', 'model/conv2d_1/bias:0',
      'model/conv2d_1/kernel:0', 'model/conv2d_2/bias:0',
      'model/conv2d_2/kernel:0']

  class OOStyleCompatModel(tf.keras.layers.Layer):

    def __init__(self, *args, **kwargs):
      super().__init__(*args, **kwargs)
      self.conv_1 = tf.compat.v1.layers.Conv2D(3, 3, kernel_regularizer="l2")
      self.conv_2 = tf.compat.v1.layers.Conv2D(4, 4, kernel_regularizer="l2")

    @tf.compat.v1.keras.utils.track_tf1_style_variables
    def call(self, inputs, training=None):
      with tf.compat.v1.variable_scope('model'):
        out = self.conv_1(inputs)
        out = self.conv_2(out)
        out = tf.compat.v1.layers.conv2d(out, 5, 5, kernel_regularizer="l2")
        return out

  layer = OOStyleCompatModel()
  layer(tf.ones(shape=(10, 10, 10, 10)))
  weights = {tf1_name(v): v for v in layer.weights}  # Keras 3: v.name
  assert sorted(weights) == [
      'model/conv2d/bias:0', 'model/conv2d/kernel:0', 'model/conv2d_1/bias:0',
      'model/conv2d_1/kernel:0', 'model/conv2d_2/bias:0',
      'model/conv2d_2/kernel:0']
  assert weights['model/conv2d/kernel:0'] is layer.conv_1.kernel
  assert weights['model/conv2d_1/bias:0'] is layer.conv_2.bias

  def record_scope(scope_name):
    """Record a variable_scope to make sure future ones get incremented."""
    with tf.compat.v1.variable_scope(scope_name):
      pass

  class PartiallyNativeKerasLayersModel(tf.keras.layers.Layer):

    def __init__(self, *args, **kwargs):
      super().__init__(*args, **kwargs)
      self.conv_1 = tf.keras.layers.Conv2D(3, 3, kernel_regularizer="l2")
      self.conv_2 = tf.keras.layers.Conv2D(4, 4, kernel_regularizer="l2")

    @tf.compat.v1.keras.utils.track_tf1_style_variables
    def call(self, inputs, training=None):
      with tf.compat.v1.variable_scope('model'):
        out = self.conv_1(inputs)
        record_scope('conv2d')  # Only needed if follow-on compat.v1.layers do not pass a `name` arg
        out = self.conv_2(out)
        record_scope('conv2d_1')  # Only needed if follow-on compat.v1.layers do not pass a `name` arg
        out = tf.compat.v1.layers.conv2d(out, 5, 5, kernel_regularizer="l2")
        return out

  layer = PartiallyNativeKerasLayersModel()
  layer(tf.ones(shape=(10, 10, 10, 10)))
  weights = set(tf1_name(v) for v in layer.weights)  # Keras 3: v.name
  assert 'model/conv2d_2/kernel:0' in weights
  assert 'model/conv2d_2/bias:0' in weights
  assert len(layer.losses) == 3


class CompatModel(tf.keras.layers.Layer):

  def __init__(self, units, *args, **kwargs):
    super().__init__(*args, **kwargs)
    self.units = units

  @tf.compat.v1.keras.utils.track_tf1_style_variables
  def call(self, inputs, training=None):
    with tf.compat.v1.variable_scope('model'):
      out = tf.compat.v1.layers.conv2d(
          inputs, 3, 3,
          kernel_regularizer="l2")
      out = tf.compat.v1.layers.flatten(out)
      out = tf.compat.v1.layers.dropout(out, training=training)
      out = tf.compat.v1.layers.dense(
          out, self.units,
          kernel_regularizer="l2")
      return out


class PartiallyMigratedModel(tf.keras.layers.Layer):

  def __init__(self, units, *args, **kwargs):
    super().__init__(*args, **kwargs)
    self.units = units
    self.conv_layer = tf.keras.layers.Conv2D(
      3, 3,
      kernel_regularizer="l2")

  @tf.compat.v1.keras.utils.track_tf1_style_variables
  def call(self, inputs, training=None):
    with tf.compat.v1.variable_scope('model'):
      out = self.conv_layer(inputs)
      out = tf.compat.v1.layers.flatten(out)
      out = tf.compat.v1.layers.dropout(out, training=training)
      out = tf.compat.v1.layers.dense(
          out, self.units,
          kernel_regularizer="l2")
      return out


class NearlyFullyNativeModel(tf.keras.layers.Layer):

  def __init__(self, units, *args, **kwargs):
    super().__init__(*args, **kwargs)
    self.units = units
    self.conv_layer = tf.keras.layers.Conv2D(
      3, 3,
      kernel_regularizer="l2")
    self.flatten_layer = tf.keras.layers.Flatten()
    self.dense_layer = tf.keras.layers.Dense(
      self.units,
      kernel_regularizer="l2")

  @tf.compat.v1.keras.utils.track_tf1_style_variables
  def call(self, inputs):
    with tf.compat.v1.variable_scope('model'):
      out = self.conv_layer(inputs)
      out = self.flatten_layer(out)
      out = self.dense_layer(out)
      return out


class FullyNativeModel(tf.keras.layers.Layer):

  def __init__(self, units, *args, **kwargs):
    super().__init__(*args, **kwargs)
    self.units = units
    self.conv_layer = tf.keras.layers.Conv2D(
      3, 3,
      kernel_regularizer="l2")
    self.flatten_layer = tf.keras.layers.Flatten()
    self.dense_layer = tf.keras.layers.Dense(
      self.units,
      kernel_regularizer="l2")

  def call(self, inputs):
    out = self.conv_layer(inputs)
    out = self.flatten_layer(out)
    out = self.dense_layer(out)
    return out


def run_stage(model_class):
  random_tool = v1.keras.utils.DeterministicRandomTestTool(
      mode='num_random_ops')
  with random_tool.scope():
    layer = model_class(10)

    inputs = tf.random.normal(shape=(10, 5, 5, 5))
    output = layer(inputs)

    # Grab the regularization loss as well
    regularization_loss = tf.math.add_n(layer.losses)
  return output.numpy(), regularization_loss.numpy()


def test_migration_chain_is_identical_under_the_random_tool():
  """The guide's chain CompatModel -> ... -> FullyNativeModel on Keras 3."""
  original_output, original_regularization_loss = run_stage(CompatModel)
  # The value the guide printed (tf-keras's official tool and shim, 2021).
  np.testing.assert_allclose(original_regularization_loss, 0.17953834,
                             rtol=1e-6)
  for stage in (PartiallyMigratedModel, NearlyFullyNativeModel,
                FullyNativeModel, CompatModel):
    migrated_output, migrated_regularization_loss = run_stage(stage)
    # Verify that the regularization loss and output both match
    np.testing.assert_allclose(original_regularization_loss,
                               migrated_regularization_loss)
    np.testing.assert_allclose(original_output, migrated_output)


def test_migration_chain_equals_the_v1_stage_in_a_tf1_graph():

  def v1_model(inputs, training=None):
    with tf.compat.v1.variable_scope('model'):
      out = tf.compat.v1.layers.conv2d(inputs, 3, 3, kernel_regularizer="l2")
      out = tf.compat.v1.layers.flatten(out)
      out = tf.compat.v1.layers.dropout(out, training=training)
      return tf.compat.v1.layers.dense(out, 10, kernel_regularizer="l2")

  with tf.Graph().as_default():
    with v1.keras.utils.DeterministicRandomTestTool(
        mode='num_random_ops').scope():
      inputs = tf.random.normal(shape=(10, 5, 5, 5))
      output = v1_model(inputs)
      loss = tf.math.add_n(
          v1.get_collection(v1.GraphKeys.REGULARIZATION_LOSSES))
      with v1.Session() as sess:
        sess.run(v1.global_variables_initializer())
        graph_output, graph_loss = sess.run([output, loss])
  native_output, native_loss = run_stage(FullyNativeModel)
  np.testing.assert_allclose(graph_output, native_output, rtol=1e-6)
  np.testing.assert_allclose(graph_loss, native_loss, rtol=1e-6)


def test_install_is_idempotent_and_exposes_every_tf1_layer():
  tf1shim.install()
  tf1shim.install()
  assert tf.compat.v1.keras.utils.track_tf1_style_variables is (
      tf1shim.track_tf1_style_variables)
  assert tf.compat.v1.keras.utils.get_or_create_layer is (
      tf1shim.get_or_create_layer)
  # Every public name of TF 1.15's tf.compat.v1.layers (its API docs).
  tf1_names = [
      "AveragePooling1D", "AveragePooling2D", "AveragePooling3D",
      "BatchNormalization", "Conv1D", "Conv2D", "Conv2DTranspose", "Conv3D",
      "Conv3DTranspose", "Dense", "Dropout", "Flatten", "InputSpec", "Layer",
      "MaxPooling1D", "MaxPooling2D", "MaxPooling3D", "SeparableConv1D",
      "SeparableConv2D", "average_pooling1d", "average_pooling2d",
      "average_pooling3d", "batch_normalization", "conv1d", "conv2d",
      "conv2d_transpose", "conv3d", "conv3d_transpose", "dense", "dropout",
      "flatten", "max_pooling1d", "max_pooling2d", "max_pooling3d",
      "separable_conv1d", "separable_conv2d"]
  for name in tf1_names:
    assert getattr(tf.compat.v1.layers, name) is getattr(tf1shim.layers, name)
  # A name TF1 never had gets an error that says what tf1shim provides.
  with pytest.raises(AttributeError, match="conv4d is not provided"):
    tf.compat.v1.layers.conv4d  # pylint: disable=pointless-statement


if __name__ == "__main__":
  raise SystemExit(pytest_main(__file__))
