"""Decorated Keras 3 layers: weights, training, saving, tf.function, nesting."""

import os

import keras
import numpy as np
import pytest
import tensorflow as tf

import tf1shim
from testing.pytest_main import pytest_main

v1 = tf.compat.v1


@keras.saving.register_keras_serializable(package="tf1shim_tests")
class TF1Classifier(keras.layers.Layer):
  """A small TF1-style model: get_variable dense + TF1 layers + batch norm."""

  def __init__(self, units=3, **kwargs):
    super().__init__(**kwargs)
    self.units = units

  @tf1shim.track_tf1_style_variables
  def call(self, inputs, training=None):
    with v1.variable_scope("model"):
      with v1.variable_scope("hidden"):
        kernel = v1.get_variable(
            "kernel", [inputs.shape[-1], 8],
            initializer=v1.glorot_uniform_initializer(seed=1),
            regularizer=keras.regularizers.L2(0.01))
        bias = v1.get_variable("bias", [8], initializer=v1.zeros_initializer())
      out = tf.nn.relu(tf.matmul(inputs, kernel) + bias)
      out = tf1shim.layers.batch_normalization(out, training=training)
      out = tf1shim.layers.dense(out, self.units, kernel_regularizer="l2")
      return out

  def get_config(self):
    return {**super().get_config(), "units": self.units}


def make_model():
  inputs = keras.Input((4,))
  outputs = TF1Classifier(3)(inputs)
  return keras.Model(inputs, outputs)


def data(n=64, seed=0):
  rng = np.random.RandomState(seed)
  x = rng.randn(n, 4).astype(np.float32)
  y = (x[:, 0] > 0).astype(np.int64) + (x[:, 1] > 0).astype(np.int64)
  return x, y


def test_weights_are_keras_variables_with_tf1_paths():
  model = make_model()
  paths = [v.path for v in model.weights]
  # Keras lists trainable weights first, each group in creation order.
  assert paths == [
      "model/hidden/kernel", "model/hidden/bias",
      "model/batch_normalization/gamma", "model/batch_normalization/beta",
      "model/dense/kernel", "model/dense/bias",
      "model/batch_normalization/moving_mean",
      "model/batch_normalization/moving_variance"]
  assert all(isinstance(v, keras.Variable) for v in model.weights)
  assert {v.path for v in model.non_trainable_weights} == {
      "model/batch_normalization/moving_mean",
      "model/batch_normalization/moving_variance"}
  assert len(model.trainable_weights) == 6
  assert [tf1shim.tf1_name(v) for v in model.weights][0] == (
      "model/hidden/kernel:0")
  assert model.weights[0].value.name == "model/hidden/kernel:0"
  assert len(model.losses) == 2


def test_fit_trains_every_trainable_weight_and_moving_averages():
  model = make_model()
  before = [v.numpy().copy() for v in model.weights]
  model.compile(optimizer=keras.optimizers.SGD(0.1),
                loss=keras.losses.SparseCategoricalCrossentropy(
                    from_logits=True))
  x, y = data()
  history = model.fit(x, y, batch_size=16, epochs=3, verbose=0)
  assert history.history["loss"][-1] < history.history["loss"][0]
  for v, old in zip(model.weights, before):
    assert not np.array_equal(v.numpy(), old), v.path
  assert len(model.weights) == 8  # fit created nothing new


def test_regularization_losses_enter_the_training_loss():
  model = make_model()
  model.compile(optimizer="sgd", loss="mse")
  x, _ = data(8)
  target = model.predict(x, verbose=0)
  # With targets equal to the outputs, the loss is the regularization only.
  loss = model.evaluate(x, target, verbose=0)
  np.testing.assert_allclose(loss, float(tf.add_n(model.losses)), rtol=1e-5)


def test_custom_training_loop_gradients_reach_every_trainable_weight():
  model = make_model()
  x, y = data(16)
  with tf.GradientTape() as tape:
    logits = model(x, training=True)
    loss = tf.reduce_mean(
        tf.keras.losses.sparse_categorical_crossentropy(
            y, logits, from_logits=True)) + tf.add_n(model.losses)
  grads = tape.gradient(loss, model.trainable_weights)
  assert all(g is not None for g in grads)


def test_training_flag_reaches_the_decorated_call():
  seen = []

  class Recorder(keras.layers.Layer):

    @tf1shim.track_tf1_style_variables
    def call(self, inputs, training=None):
      seen.append(training)
      return inputs

  inputs = keras.Input((2,))
  model = keras.Model(inputs, Recorder()(inputs))
  seen.clear()
  model(np.ones([1, 2], np.float32), training=True)
  model(np.ones([1, 2], np.float32), training=False)
  assert seen == [True, False]


def test_tf_function_retrace_with_new_batch_size_creates_no_variables():
  layer = TF1Classifier(3)
  call = tf.function(lambda x: layer(x, training=True))
  call(tf.ones([4, 4]))
  names = [v.path for v in layer.weights]
  traces = call.experimental_get_tracing_count()
  call(tf.ones([7, 4]))
  call(tf.ones([2, 4]))
  assert call.experimental_get_tracing_count() == traces + 2
  assert [v.path for v in layer.weights] == names


def test_first_call_inside_tf_function_creates_variables_once():
  layer = TF1Classifier(2)
  step = tf.function(lambda x: layer(x))
  step(tf.ones([3, 4]))
  step(tf.ones([5, 4]))
  assert len(layer.weights) == 8


def test_keras_file_round_trip(tmp_path):
  model = make_model()
  x, _ = data(8)
  model(x, training=True)  # move the moving averages away from their init
  path = os.path.join(tmp_path, "model.keras")
  model.save(path)
  loaded = keras.models.load_model(path)
  assert [v.path for v in loaded.weights] == [v.path for v in model.weights]
  np.testing.assert_allclose(loaded(x), model(x), rtol=1e-6, atol=1e-6)


def test_tf_train_checkpoint_round_trip_keys_by_tf1_name(tmp_path):
  model = make_model()
  x, _ = data(8)
  prefix = tf.train.Checkpoint(model=model).save(
      os.path.join(tmp_path, "ckpt"))
  keys = [k for k, _ in tf.train.list_variables(prefix)]
  assert any("model.Shidden.Skernel" in k for k in keys), keys
  other = make_model()
  tf.train.Checkpoint(model=other).restore(prefix).assert_consumed()
  np.testing.assert_allclose(other(x), model(x), rtol=1e-6)


def test_keras_state_lock_still_applies_after_the_first_call():

  class Sneaky(keras.layers.Layer):

    @tf1shim.track_tf1_style_variables
    def call(self, inputs):
      v1.get_variable("w", [1])
      if getattr(self, "second", False):
        self.extra = keras.layers.Dense(1)  # new state after build
      return inputs

  layer = Sneaky()
  layer(tf.ones([1, 1]))
  layer.second = True
  with pytest.raises(ValueError, match="cannot add new elements of state"):
    layer(tf.ones([1, 1]))


def test_plain_keras_layers_stay_locked_after_build():
  dense = keras.layers.Dense(2)
  dense(tf.ones([1, 2]))
  with pytest.raises(ValueError, match="cannot add new elements of state"):
    dense.extra = keras.Variable(1.0)


def test_nested_decorated_layers_own_their_stores():

  class Inner(keras.layers.Layer):

    @tf1shim.track_tf1_style_variables
    def call(self, inputs):
      with v1.variable_scope("inner"):
        return inputs * v1.get_variable("scale", [1],
                                        initializer=v1.ones_initializer())

  class Outer(keras.layers.Layer):

    def __init__(self, **kwargs):
      super().__init__(**kwargs)
      self.inner = Inner()

    @tf1shim.track_tf1_style_variables
    def call(self, inputs):
      with v1.variable_scope("outer"):
        out = tf1shim.layers.dense(inputs, 2)
        return self.inner(out)

  outer = Outer()
  outer(tf.ones([1, 3]))
  outer(tf.ones([1, 3]))
  assert sorted(tf1shim.tf1_name(v) for v in outer.weights) == [
      "outer/dense/bias:0", "outer/dense/kernel:0", "outer/inner/scale:0"]
  assert [tf1shim.tf1_name(v) for v in outer.inner.weights] == [
      "outer/inner/scale:0"]


def test_layers_variables_and_modules_assigned_in_init_are_tracked():

  class Mixed(keras.layers.Layer):

    def __init__(self, **kwargs):
      super().__init__(**kwargs)
      self.native = keras.layers.Dense(2, name="native")
      self.scale = keras.Variable(2.0, name="scale")

    @tf1shim.track_tf1_style_variables
    def call(self, inputs):
      out = self.native(inputs) * self.scale
      return tf1shim.layers.dense(out, 1)

  layer = Mixed()
  layer(tf.ones([1, 3]))
  assert sorted(v.path for v in layer.weights) == [
      "dense/bias", "dense/kernel", "mixed/native/bias", "mixed/native/kernel",
      "scale"]


def test_tf_variables_and_modules_assigned_in_init_are_checkpointed(tmp_path):
  from testing.shim_models import ShimModule  # pylint: disable=g-import-not-at-top

  def inner_model(x, training=False):
    del training
    with v1.variable_scope("inner"):
      return x * v1.get_variable("scale", [1],
                                 initializer=v1.constant_initializer(3.0))

  class WithModule(keras.layers.Layer):

    def __init__(self, **kwargs):
      super().__init__(**kwargs)
      self.offset = tf.Variable(1.0, name="offset")
      self.inner = ShimModule(inner_model)

    @tf1shim.track_tf1_style_variables
    def call(self, inputs):
      with v1.variable_scope("outer"):
        return self.inner(inputs) + self.offset

  layer = WithModule()
  np.testing.assert_array_equal(layer(tf.ones([1, 1])), [[4.0]])
  # The nested module continues the outer TF1 scope and owns its variable.
  assert [v.name for v in layer.inner.variables] == ["outer/inner/scale:0"]
  prefix = tf.train.Checkpoint(layer=layer).save(str(tmp_path / "ckpt"))
  layer.offset.assign(0.0)
  layer.inner.variables[0].assign([0.0])
  tf.train.Checkpoint(layer=layer).restore(prefix).assert_consumed()
  np.testing.assert_array_equal(layer(tf.ones([1, 1])), [[4.0]])
  # Keras 3 lists only Keras variables in `weights` (raw tf.Variables and
  # tf.Module variables are tracked by checkpoints, not by Keras).
  assert layer.weights == []


def test_get_or_create_layer_creates_once_and_tracks():
  built = []

  class WithNested(keras.layers.Layer):

    def build_nested(self):
      built.append(1)
      inputs = keras.Input((3,))
      dense = keras.layers.Dense(2, name="dense", kernel_regularizer="l2",
                                 kernel_initializer="ones")
      return keras.Model(inputs, dense(inputs))

    @tf1shim.track_tf1_style_variables
    def call(self, inputs):
      with v1.variable_scope("scope"):
        nested = tf1shim.get_or_create_layer("nested", self.build_nested)
        return nested(inputs)

  layer = WithNested()
  layer(tf.ones([1, 3]))
  layer(tf.ones([1, 3]))
  assert len(built) == 1
  assert sorted(v.path for v in layer.weights) == [
      "scope/dense/bias", "scope/dense/kernel"]
  np.testing.assert_allclose(float(tf.add_n(layer.losses)), 0.06, rtol=1e-6)


def test_get_or_create_layer_outside_decorated_method_is_an_error():
  with pytest.raises(ValueError, match="outside a method decorated"):
    tf1shim.get_or_create_layer("x", lambda: keras.layers.Dense(1))


def test_record_scope_keeps_the_names_of_later_tf1_layers():

  class Partial(keras.layers.Layer):

    def __init__(self, **kwargs):
      super().__init__(**kwargs)
      self.native = keras.layers.Dense(3)

    @tf1shim.track_tf1_style_variables
    def call(self, inputs):
      with v1.variable_scope("model"):
        out = self.native(inputs)
        tf1shim.record_scope("dense")
        return tf1shim.layers.dense(out, 2)

  layer = Partial()
  layer(tf.ones([1, 4]))
  assert {"model/dense_1/kernel", "model/dense_1/bias"} <= {
      v.path for v in layer.weights}


if __name__ == "__main__":
  raise SystemExit(pytest_main(__file__))
