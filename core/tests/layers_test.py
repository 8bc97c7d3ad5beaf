"""The TF1 layers: Keras 3 layer contract, TF1 graph collections, naming."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from keras.src.testing import test_case as keras_test_case

import tf1shim
from tf1shim import layers
from testing.pytest_main import pytest_main
from testing.shim_models import ShimLayer

v1 = tf.compat.v1

# (class, constructor kwargs, input shape, expected output shape,
#  trainable weights, non-trainable weights).
CONTRACT_CASES = [
    (layers.Dense, {"units": 3}, (2, 4), (2, 3), 2, 0),
    (layers.Dense, {"units": 3, "kernel_regularizer": "l2"}, (2, 5, 4),
     (2, 5, 3), 2, 0),
    (layers.Dropout, {"rate": 0.5}, (2, 4), (2, 4), 0, 0),
    (layers.Flatten, {}, (2, 3, 4), (2, 12), 0, 0),
    (layers.Conv1D, {"filters": 2, "kernel_size": 3}, (2, 8, 3), (2, 6, 2),
     2, 0),
    (layers.Conv2D, {"filters": 2, "kernel_size": 3, "padding": "same"},
     (2, 6, 6, 3), (2, 6, 6, 2), 2, 0),
    (layers.Conv3D, {"filters": 2, "kernel_size": 2}, (2, 4, 4, 4, 1),
     (2, 3, 3, 3, 2), 2, 0),
    (layers.Conv2DTranspose, {"filters": 2, "kernel_size": 3, "strides": 2},
     (2, 4, 4, 3), (2, 9, 9, 2), 2, 0),
    (layers.SeparableConv2D, {"filters": 4, "kernel_size": 3},
     (2, 6, 6, 3), (2, 4, 4, 4), 3, 0),
    (layers.MaxPooling1D, {"pool_size": 2, "strides": 2}, (2, 8, 3),
     (2, 4, 3), 0, 0),
    (layers.MaxPooling2D, {"pool_size": 2, "strides": 2}, (2, 6, 6, 3),
     (2, 3, 3, 3), 0, 0),
    (layers.MaxPooling3D, {"pool_size": 2, "strides": 2}, (2, 4, 4, 4, 1),
     (2, 2, 2, 2, 1), 0, 0),
    (layers.AveragePooling1D, {"pool_size": 2, "strides": 1}, (2, 8, 3),
     (2, 7, 3), 0, 0),
    (layers.AveragePooling2D, {"pool_size": 3, "strides": 2,
                               "padding": "same"}, (2, 6, 6, 3),
     (2, 3, 3, 3), 0, 0),
    (layers.AveragePooling3D, {"pool_size": 2, "strides": 2},
     (2, 4, 4, 4, 1), (2, 2, 2, 2, 1), 0, 0),
    (layers.BatchNormalization, {}, (4, 3, 3, 2), (4, 3, 3, 2), 2, 2),
    (layers.BatchNormalization, {"axis": 1}, (4, 5), (4, 5), 2, 2),
    (layers.BatchNormalization, {"renorm": True,
                                 "renorm_clipping": {"rmax": 3.0}},
     (4, 3, 3, 2), (4, 3, 3, 2), 2, 5),
    (layers.BatchNormalization, {"virtual_batch_size": 2}, (4, 5), (4, 5),
     2, 2),
]


class LayerContractTest(keras_test_case.TestCase):
  """Keras 3's own layer contract: weights, build, training, serialization."""

  def test_contract(self):
    for cls, kwargs, in_shape, out_shape, n_train, n_non_train in (
        CONTRACT_CASES):
      with self.subTest(layer=cls.__name__, kwargs=kwargs):
        self.run_layer_test(
            cls, init_kwargs=kwargs, input_shape=in_shape,
            expected_output_shape=out_shape,
            expected_num_trainable_weights=n_train,
            expected_num_non_trainable_weights=n_non_train,
            expected_num_losses=1 if "kernel_regularizer" in kwargs else 0,
            supports_masking=False, run_mixed_precision_check=False)


def test_every_layer_in_a_tf1_graph_fills_the_collections():
  with tf.Graph().as_default():
    x = v1.placeholder(tf.float32, [None, 8, 8, 3])
    training = v1.placeholder_with_default(False, [])
    with v1.variable_scope("net"):
      h = layers.conv2d(x, 4, 3, kernel_regularizer="l2", name="conv")
      h = layers.batch_normalization(h, training=training)
      h = layers.max_pooling2d(h, 2, 2)
      h = layers.separable_conv2d(h, 4, 3, padding="same")
      h = layers.conv2d_transpose(h, 2, 2, strides=2)
      h = layers.average_pooling2d(h, 2, 2)
      h = layers.flatten(h)
      h = layers.dropout(h, 0.3, training=training)
      out = layers.dense(h, 5, bias_regularizer=lambda b: tf.reduce_sum(b))
    names = [v.name for v in v1.global_variables()]
    trainable = [v.name for v in v1.trainable_variables()]
    reg_losses = v1.get_collection(v1.GraphKeys.REGULARIZATION_LOSSES)
    update_ops = v1.get_collection(v1.GraphKeys.UPDATE_OPS)
    with v1.Session() as sess:
      sess.run(v1.global_variables_initializer())
      batch = np.random.RandomState(0).randn(2, 8, 8, 3).astype(np.float32)
      sess.run(update_ops, {x: batch, training: True})
      moving_mean = sess.run(
          v1.global_variables("net/batch_normalization/moving_mean")[0])
      result = sess.run(out, {x: batch})
  assert names == [
      "net/conv/kernel:0", "net/conv/bias:0",
      "net/batch_normalization/gamma:0", "net/batch_normalization/beta:0",
      "net/batch_normalization/moving_mean:0",
      "net/batch_normalization/moving_variance:0",
      "net/separable_conv2d/depthwise_kernel:0",
      "net/separable_conv2d/pointwise_kernel:0",
      "net/separable_conv2d/bias:0",
      "net/conv2d_transpose/kernel:0", "net/conv2d_transpose/bias:0",
      "net/dense/kernel:0", "net/dense/bias:0"]
  assert "net/batch_normalization/moving_mean:0" not in trainable
  assert len(trainable) == len(names) - 2
  assert len(reg_losses) == 2
  assert len(update_ops) == 2
  assert np.any(moving_mean != 0)  # the update ops moved the average
  assert result.shape == (2, 5)


def test_functional_layers_auto_name_as_tf1_in_graph_and_shim():

  def model(x, training=None):
    h = layers.dense(x, 4)
    h = layers.dense(h, 4, name="named")
    with v1.variable_scope("block"):
      h = layers.dense(h, 4)
      h = layers.dense(h, 4)
    h = layers.batch_normalization(h, training=training)
    return layers.dense(h, 2)

  with tf.Graph().as_default():
    model(v1.placeholder(tf.float32, [None, 3]), training=False)
    graph_names = [v.name for v in v1.global_variables()]
  shim = ShimLayer(model)
  shim(np.ones([2, 3], np.float32))
  assert sorted(tf1shim.tf1_name(v) for v in shim.weights) == sorted(
      graph_names)
  assert "dense_1/kernel:0" in graph_names  # after dense and named
  assert "block/dense_1/kernel:0" in graph_names


def test_named_functional_layer_is_not_uniquified_and_reuse_works():

  def model(x, training=None):
    del training
    a = layers.dense(x, 2, name="shared")
    b = layers.dense(x, 2, name="shared", reuse=True)
    return a + b

  shim = ShimLayer(model)
  out = shim(np.ones([1, 3], np.float32))
  assert len(shim.weights) == 2
  # One kernel, used twice; float32 against a float64 reference.
  kernel = shim.weights[0].numpy()
  np.testing.assert_allclose(out, 2 * (np.ones([1, 3], np.float32) @ kernel),
                             rtol=1e-6)


def test_object_layer_created_in_init_reuses_its_scope():

  class OO(keras.layers.Layer):

    def __init__(self, **kwargs):
      super().__init__(**kwargs)
      self.fc = layers.Dense(3)

    @tf1shim.track_tf1_style_variables
    def call(self, inputs):
      with v1.variable_scope("model"):
        return self.fc(self.fc(inputs))

  layer = OO()
  layer(tf.ones([1, 3]))
  layer(tf.ones([1, 3]))
  assert [v.path for v in layer.weights] == ["model/dense/kernel",
                                             "model/dense/bias"]
  assert layer.fc.kernel is layer.weights[0]


def test_standalone_layers_take_tf1_default_names_in_order():
  first = layers.Dense(2, name="standalone_fc")
  second = layers.Dense(2, name="standalone_fc")
  first(tf.ones([1, 2]))
  second(tf.ones([1, 2]))
  assert (first.scope_name, second.scope_name) == ("standalone_fc",
                                                   "standalone_fc_1")
  assert [v.path for v in second.weights] == ["standalone_fc_1/kernel",
                                              "standalone_fc_1/bias"]


def test_batch_norm_training_flag_and_moving_averages():
  bn = layers.BatchNormalization(momentum=0.5)
  x = tf.constant(np.arange(24, dtype=np.float32).reshape(4, 2, 3))
  inference = bn(x, training=False)
  np.testing.assert_allclose(inference, x / np.sqrt(1 + 1e-3), rtol=1e-6)
  np.testing.assert_array_equal(bn.moving_mean.numpy(), np.zeros(3))
  bn(x, training=True)
  mean = x.numpy().reshape(-1, 3).mean(0)
  var = x.numpy().reshape(-1, 3).var(0)
  np.testing.assert_allclose(bn.moving_mean.numpy(), 0.5 * mean, rtol=1e-6)
  np.testing.assert_allclose(bn.moving_variance.numpy(), 0.5 + 0.5 * var,
                             rtol=1e-6)


def test_fused_batch_norm_moves_the_variance_with_bessels_correction():
  # TF1 (tf.compat.v1.layers, graph mode) moves the moving variance of 4-D
  # inputs with the fused kernel's corrected variance, of 2-D inputs with the
  # plain one; tests/official_shim_test.py checks both against tf-keras.
  x = np.random.RandomState(1).randn(3, 4, 4, 2).astype(np.float32)
  n = 3 * 4 * 4
  bn = layers.BatchNormalization(momentum=0.0)
  out = bn(x, training=True)
  var = x.reshape(-1, 2).var(0)
  np.testing.assert_allclose(bn.moving_variance.numpy(), var * n / (n - 1),
                             rtol=1e-5)
  expected = (x - x.reshape(-1, 2).mean(0)) / np.sqrt(var + 1e-3)
  np.testing.assert_allclose(out, expected, rtol=1e-4, atol=1e-4)
  flat = layers.BatchNormalization(momentum=0.0)
  flat(x.reshape(-1, 2), training=True)
  np.testing.assert_allclose(flat.moving_variance.numpy(), var, rtol=1e-5)


def test_dropout_training_flag():
  x = tf.ones([100, 100])
  np.testing.assert_array_equal(layers.dropout(x, 0.5, training=False), x)
  dropped = layers.dropout(x, 0.5, training=True).numpy()
  assert set(np.unique(dropped)) == {0.0, 2.0}


def test_dense_on_rank_3_inputs_contracts_the_last_axis():
  layer = layers.Dense(2, kernel_initializer=v1.ones_initializer())
  out = layer(tf.ones([2, 5, 3]))
  np.testing.assert_array_equal(out, np.full([2, 5, 2], 3.0))


def test_activity_regularizer_as_tf1_mean_over_batch():

  def model(x, training=None):
    del training
    return layers.dense(x, 2, kernel_initializer=v1.ones_initializer(),
                        activity_regularizer=lambda a: tf.reduce_sum(a))

  shim = ShimLayer(model)
  shim(tf.ones([4, 3]))
  # sum of outputs (4 * 2 * 3 = 24) / batch size 4.
  assert [float(l) for l in shim.losses] == [6.0]


def test_functional_form_keeps_tf1_signature():
  import inspect  # pylint: disable=g-import-not-at-top
  params = inspect.signature(layers.conv2d).parameters
  assert list(params)[:3] == ["inputs", "filters", "kernel_size"]
  assert params["padding"].default == "valid"
  assert "reuse" in params


def test_functional_layers_are_kept_across_calls_but_checked():
  units = [4]
  made = []

  class Counting(layers.Dense):

    def __init__(self, *args, **kwargs):
      made.append(1)
      super().__init__(*args, **kwargs)

  counting_dense = layers.functional.functional_form(Counting, "dense")

  def model(x, training=None):
    del training
    with v1.variable_scope("m"):
      return counting_dense(counting_dense(x, units[0]), 2)

  shim = ShimLayer(model)
  first = shim(np.ones([1, 3], np.float32))
  second = shim(np.ones([1, 3], np.float32))
  np.testing.assert_array_equal(first, second)
  assert len(made) == 2  # built on the first call only
  units[0] = 5  # a later call asking for another shape is a TF1 error
  with pytest.raises(ValueError, match="Trying to share variable m/counting/kernel, but specified shape \\(3, 5\\)"):
    shim(np.ones([1, 3], np.float32))


@pytest.mark.parametrize("tf1_layer,keras_layer,input_shape", [
    (lambda: layers.Dense(3), lambda: keras.layers.Dense(3), (2, 4)),
    (lambda: layers.Conv2D(3, 2), lambda: keras.layers.Conv2D(3, 2),
     (2, 5, 5, 2)),
    (lambda: layers.Conv2DTranspose(3, 2),
     lambda: keras.layers.Conv2DTranspose(3, 2), (2, 5, 5, 2)),
    (lambda: layers.SeparableConv2D(3, 2),
     lambda: keras.layers.SeparableConv2D(3, 2), (2, 5, 5, 2)),
    (lambda: layers.BatchNormalization(),
     lambda: keras.layers.BatchNormalization(), (2, 5, 5, 2)),
])
def test_object_checkpoint_of_a_tf1_layer_loads_into_its_keras_layer(
    tf1_layer, keras_layer, input_shape, tmp_path):
  # The guide's migration step 4: an object-based checkpoint written while a
  # TF1 layer object was an attribute loads after it is swapped for Keras's.
  x = np.random.RandomState(0).rand(*input_shape).astype(np.float32)
  old = tf1_layer()
  old(x)
  for v in old.weights:
    v.assign(np.random.RandomState(len(v.name)).rand(*v.shape))
  path = tf.train.Checkpoint(layer=old).write(str(tmp_path / "ckpt"))
  new = keras_layer()
  new(x)
  status = tf.train.Checkpoint(layer=new).read(path)
  status.assert_existing_objects_matched()
  status.assert_consumed()
  for a, b in zip(sorted(old.weights, key=lambda v: v.name),
                  sorted(new.weights, key=lambda v: v.name)):
    np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_initializer_names_and_configs_as_tf1_layers_took_them():
  """TF1's layers passed initializer names and configs through tf-keras's
  `initializers.get` (`kernel_initializer="ones"`); so do tf1shim's, and
  renorm's standard deviations start at the named variance's square root."""
  constant = lambda value: {"class_name": "Constant",
                            "config": {"value": value}}

  def model(x, training=None):
    h = layers.dense(x, 2, kernel_initializer="ones",
                     bias_initializer=constant(0.5))
    return layers.batch_normalization(
        h, training=training, renorm=True,
        moving_variance_initializer=constant(4.0))

  for in_graph in (False, True):
    if in_graph:
      with tf.Graph().as_default():
        model(tf.ones([4, 3]))
        with v1.Session() as sess:
          sess.run(v1.global_variables_initializer())
          values = {v.op.name: sess.run(v) for v in v1.global_variables()}
    else:
      shim = ShimLayer(model)
      shim(np.ones((4, 3), np.float32))
      values = {tf1shim.tf1_name(v)[:-2]: v.numpy() for v in shim.weights}
    np.testing.assert_array_equal(values["dense/kernel"], np.ones((3, 2)))
    np.testing.assert_array_equal(values["dense/bias"], [0.5, 0.5])
    for name, value in (("moving_variance", 4.0), ("moving_stddev", 2.0),
                        ("renorm_stddev", 2.0)):
      np.testing.assert_array_equal(
          values["batch_normalization/" + name], [value, value], name)


@pytest.mark.parametrize("kwargs, shape, message", [
    ({"renorm": True, "renorm_clipping": {"r_max": 3.0}}, None, "'r_max'"),
    ({"virtual_batch_size": 0}, None, "positive integer"),
    ({"virtual_batch_size": 2, "adjustment": lambda s: (1.0, 0.0)}, None,
     "not both"),
    ({"virtual_batch_size": 2, "axis": [0, 1]}, (4, 3), "axis 0"),
])
def test_bad_batch_norm_options_fail_clearly(kwargs, shape, message):
  with pytest.raises(ValueError, match=message):
    layers.BatchNormalization(**kwargs)(tf.ones(shape or (4, 3)))


@pytest.mark.parametrize("kwargs", [
    {"renorm": True}, {"virtual_batch_size": 2},
    {"adjustment": lambda shape: (tf.fill(shape[-1:], 1.5),
                                  tf.fill(shape[-1:], 0.5))}])
def test_batch_norm_variants_with_a_false_training_tensor_infer(kwargs):
  """A `training` tensor that is False at run time (TF1's `is_training`
  placeholder): the output is inference's and no average moves, as with a
  Python False; under tf.function the value is unknown while tracing."""
  x = np.random.RandomState(0).randn(4, 3, 3, 2).astype(np.float32)
  bn = layers.BatchNormalization(momentum=0.5, **kwargs)
  bn(x, training=True)  # Moves the averages away from their initial values.
  before = [v.numpy() for v in bn.weights]
  expected = bn(x, training=False)
  flag = tf.Variable(False)
  out = tf.function(lambda x: bn(x, training=tf.identity(flag)))(x)
  np.testing.assert_allclose(out, expected, rtol=1e-6, atol=1e-6)
  for value, variable in zip(before, bn.weights):
    np.testing.assert_array_equal(variable.numpy(), value, variable.path)


if __name__ == "__main__":
  raise SystemExit(pytest_main(__file__))
