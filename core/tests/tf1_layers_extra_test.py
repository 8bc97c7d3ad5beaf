"""The rest of `tf.compat.v1.layers` against TF1 itself.

`conv3d_transpose`/`Conv3DTranspose`, `separable_conv1d`/`SeparableConv1D`,
`InputSpec`, and `tf.compat.v1.layers.Layer` subclasses written the TF1 way
(`add_weight("scale", shape, ...)` and TF1's alias `add_variable` with the
name first, `build`/`call`,
`input_spec`, `self.built`). The reference is tf-keras's legacy layers (what
`tf.compat.v1.layers` is under `TF_USE_LEGACY_KERAS=1`) in a TF1 graph, in a
subprocess: variable names and shapes, then, with random values set, the
outputs, regularization losses and gradients of a random linear loss. This
process runs the same functions after `tf1shim.install()` in a TF1 graph and
in a decorated Keras 3 layer, eagerly and under `tf.function`.

Tolerances (float32): outputs are sums of <= ~100 products of values in
[-0.5, 0.5] (magnitudes up to ~5): rtol 1e-5 / atol 1e-5 allow for kernels
that sum in another order; gradients likewise.
"""

import os
import sys

import numpy as np
import pytest
import tensorflow as tf

from testing import legacy_reference
from testing.pytest_main import pytest_main

v1 = tf.compat.v1
RTOL, ATOL = 1e-5, 1e-5
LEARNING_RATE = 0.1


def _layers():
  # Looked up at call time: tf-keras's in the reference, tf1shim's here.
  return tf.compat.v1.layers


def conv3d_transpose_functions_and_class(x):
  layers = _layers()
  h = layers.conv3d_transpose(x, 3, 2, strides=2, padding="same",
                              activation=tf.nn.relu)
  h = layers.Conv3DTranspose(2, (2, 3, 1), strides=(1, 2, 1),
                             kernel_regularizer=lambda k: tf.reduce_sum(k * k),
                             name="up")(h)
  return h


def separable_conv1d_functions_and_class(x):
  layers = _layers()
  x = tf.reshape(x, [2, 12, 4])
  h = layers.separable_conv1d(x, 5, 3, depth_multiplier=2, padding="same")
  h = layers.SeparableConv1D(3, 2, strides=2, dilation_rate=1,
                             pointwise_regularizer="l2")(h)
  return layers.separable_conv1d(h, 2, 2, dilation_rate=2, use_bias=False)


def tf1_style_layer_subclass(x):
  layers = _layers()

  class Scale(layers.Layer):
    """A TF1 layer: positional add_weight, build/call, input_spec, built."""

    def __init__(self, **kwargs):
      super().__init__(**kwargs)
      self.input_spec = layers.InputSpec(min_ndim=2)

    def build(self, input_shape):
      depth = int(input_shape[-1])
      self.scale = self.add_weight("scale", [depth],
                                   initializer=v1.ones_initializer())
      self.shift = self.add_weight(
          "shift", shape=[depth],
          regularizer=lambda w: 0.1 * tf.reduce_sum(w * w))
      # TF1's deprecated alias, name first too.
      self.offset = self.add_variable("offset", [depth], trainable=False,
                                      initializer=v1.zeros_initializer())
      self.calls = self.add_variable("calls", [], trainable=False,
                                     initializer=v1.zeros_initializer())
      self.built = True

    def call(self, inputs):
      # An update (UPDATE_OPS in a graph; run by the call in TF2) through
      # TF1's assign function, and a loss (REGULARIZATION_LOSSES).
      self.add_update(v1.assign_add(self.calls, 1.0))
      self.add_loss(0.01 * tf.reduce_sum(tf.square(self.scale)))
      return inputs * self.scale + self.shift + self.offset

  x = tf.reshape(x, [2, -1])
  h = Scale()(x)
  with v1.variable_scope("block"):
    h = Scale(name="norm")(h)
  return Scale()(tf.nn.relu(h))


def _training_tensor(x):
  """True, but not known until the graph runs (a TF1 `is_training` tensor)."""
  return tf.less(tf.reduce_sum(x), 1e9)


def batch_norm_renorm(x):
  """Batch Renormalization: each clipping bound, channels last and first, a
  Python and a tensor `training`. The bounds keep r and d in the paper's
  ranges: the variables' random values would otherwise give r up to ~30
  (renorm_stddev floored at sqrt(epsilon)), activations far from O(1)."""
  layers = _layers()
  h = tf.reshape(x, [4, 3, 2, 4])
  h = layers.batch_normalization(
      h, training=True, renorm=True, momentum=0.8, renorm_momentum=0.9,
      renorm_clipping={"rmin": 0.5, "rmax": 2.0, "dmax": 1.0})
  h = layers.BatchNormalization(
      axis=1, renorm=True, renorm_momentum=0.5, fused=True,
      renorm_clipping={"rmin": 1 / 3, "rmax": 3.0},
      name="channels_first")(h, training=True)
  flat = tf.reshape(h, [8, -1])
  return layers.batch_normalization(
      flat, training=_training_tensor(x), renorm=True, scale=False,
      renorm_clipping={"rmin": 1 / 3, "rmax": 3.0, "dmax": 2.0})


def batch_norm_virtual_batches_and_adjustment(x):
  """Ghost batch norm (one and two axes) and an adjustment."""
  layers = _layers()
  h = tf.reshape(x, [8, 3, 4])
  h = layers.batch_normalization(h, training=True, virtual_batch_size=2,
                                 momentum=0.5)
  h = layers.BatchNormalization(axis=[1, 2], virtual_batch_size=4,
                                center=False)(h, training=True)

  def adjustment(shape):
    ramp = tf.cast(tf.range(shape[-1]), tf.float32)
    return 0.9 + 0.05 * ramp, 0.1 - 0.05 * ramp

  h = tf.reshape(h, [4, 2, 3, 4])
  return layers.batch_normalization(h, training=True, adjustment=adjustment,
                                    momentum=0.7)


def batch_norm_5d(x):
  """5-D inputs, channels last and first: TF1 ran the fused kernel (and
  moved the variance by its Bessel-corrected value) as for 4-D ones."""
  layers = _layers()
  h = layers.batch_normalization(x, training=True, momentum=0.5)
  h = layers.BatchNormalization(axis=1, momentum=0.5)(h, training=True)
  return layers.batch_normalization(h, training=True, fused=False,
                                    momentum=0.5)


# The names of a scenario's layer outputs in its last TF1 graph.
LAYER_OUTPUT_NAMES = []


def tf1_layers_in_a_model(x):
  """Common layers, a layer object called twice, a variable scope; in a TF1
  graph their outputs have TF1's names (`conv/Relu:0`, `tower/head/Tanh_1:0`),
  which TF1 code fetches tensors by."""
  layers = _layers()
  x = tf.reshape(x, [2, 4, 6, 2])
  conv = layers.conv2d(x, 3, 2, activation=tf.nn.relu, name="conv")
  norm = layers.batch_normalization(conv, training=True)
  flat = layers.flatten(layers.max_pooling2d(norm, 2, 1))
  head = layers.Dense(3, activation=tf.nn.tanh, name="head")
  with v1.variable_scope("tower"):
    a, b = head(flat), head(flat)
  out = layers.dense(a + b, 2)
  if not tf.executing_eagerly() and not v1.get_default_graph(
      ).building_function:
    # Pooling's inner ops are named differently (`MaxPool2d`, not
    # `MaxPool`); the layers whose output names TF1 code uses are these.
    LAYER_OUTPUT_NAMES[:] = [t.name for t in (conv, norm, flat, a, b, out)]
  return out


SCENARIOS = {f.__name__: f for f in (conv3d_transpose_functions_and_class,
                                     separable_conv1d_functions_and_class,
                                     batch_norm_renorm,
                                     batch_norm_5d,
                                     batch_norm_virtual_batches_and_adjustment,
                                     tf1_style_layer_subclass,
                                     tf1_layers_in_a_model)}


def _inputs():
  return np.random.RandomState(0).uniform(
      -1, 1, (2, 2, 3, 2, 4)).astype(np.float32)


def reference_scenarios(out_dir):
  """Runs in the subprocess, with TF_USE_LEGACY_KERAS=1."""
  assert tf.keras.__name__.startswith("tf_keras"), tf.keras.__name__
  for name, fn in SCENARIOS.items():
    rng = np.random.RandomState(1)
    LAYER_OUTPUT_NAMES[:] = []
    with tf.Graph().as_default():
      x = tf.constant(_inputs())
      out = fn(x)
      variables = v1.global_variables()
      trainable = [v.name for v in v1.trainable_variables()]
      layer_output_names = list(LAYER_OUTPUT_NAMES)
      weight = rng.uniform(-1, 1, out.shape.as_list()).astype(np.float32)
      losses = v1.get_collection(v1.GraphKeys.REGULARIZATION_LOSSES)
      gradients = tf.gradients(tf.reduce_sum(out * weight),
                               v1.trainable_variables() + [x])
      # What model.fit minimizes: the loss plus the regularization losses;
      # UPDATE_OPS once per step (TF1's idiom; in TF2 the call runs them).
      update_ops = v1.get_collection(v1.GraphKeys.UPDATE_OPS)
      with tf.control_dependencies(update_ops):
        train = v1.train.GradientDescentOptimizer(LEARNING_RATE).minimize(
            tf.add_n([tf.reduce_sum(out * weight)] + losses))
      with v1.Session() as sess:
        sess.run(v1.global_variables_initializer())
        values = [rng.uniform(-0.5, 0.5, v.shape.as_list()).astype(np.float32)
                  for v in variables]
        for variable, value in zip(variables, values):
          variable.load(value, sess)
        output, loss_values, grads = sess.run([out, losses, gradients])
        sess.run(train)
        trained = sess.run(variables)
    record = {"names": np.array([v.name for v in variables]),
              "trainable": np.array(trainable),
              "update_ops": len(update_ops),
              "layer_output_names": np.array(layer_output_names, dtype=str),
              "output": output, "weight": weight,
              "losses": np.array(sorted(loss_values))}
    for i, value in enumerate(values):
      record["value_%d" % i] = value
      record["trained_%d" % i] = trained[i]
    for i, value in enumerate(grads):
      record["gradient_%d" % i] = value
    np.savez(os.path.join(out_dir, name + ".npz"), **record)


reference = legacy_reference.fixture(__file__, "layers_reference")


@pytest.fixture(scope="module", autouse=True)
def installed():
  import tf1shim  # pylint: disable=g-import-not-at-top
  tf1shim.install()


_records = legacy_reference.records


def _assert_all_close(actual, expected, what):
  legacy_reference.assert_all_close(actual, expected, what, RTOL, ATOL)


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_tf1_graph_equals_reference(reference, name):
  ref = reference(name)
  LAYER_OUTPUT_NAMES[:] = []
  with tf.Graph().as_default():
    x = tf.constant(_inputs())
    out = SCENARIOS[name](x)
    assert LAYER_OUTPUT_NAMES == list(ref["layer_output_names"])
    variables = v1.global_variables()
    assert [v.name for v in variables] == list(ref["names"])
    losses = v1.get_collection(v1.GraphKeys.REGULARIZATION_LOSSES)
    assert len(v1.get_collection(v1.GraphKeys.UPDATE_OPS)) == ref["update_ops"]
    gradients = tf.gradients(tf.reduce_sum(out * ref["weight"]),
                             v1.trainable_variables() + [x])
    with v1.Session() as sess:
      for variable, value in zip(variables, _records(ref, "value")):
        variable.load(value, sess)
      output, loss_values, grads = sess.run([out, losses, gradients])
  _assert_all_close([output], [ref["output"]], "output")
  _assert_all_close(sorted(loss_values), ref["losses"], "loss")
  _assert_all_close(grads, _records(ref, "gradient"), "gradient")


@pytest.mark.parametrize("compiled", [False, True], ids=["eager", "function"])
@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_decorated_layer_equals_reference(reference, name, compiled):
  import keras  # pylint: disable=g-import-not-at-top
  import tf1shim  # pylint: disable=g-import-not-at-top
  ref = reference(name)
  fn = SCENARIOS[name]

  class Model(keras.layers.Layer):

    @tf1shim.track_tf1_style_variables
    def call(self, inputs):
      return fn(inputs)

  layer = Model()
  x = tf.constant(_inputs())

  def forward(x):
    """The output, gradients and the call's losses (read where they were
    added: under `tf.function` they are the trace's tensors)."""
    with tf.GradientTape() as tape:
      tape.watch(x)
      out = layer(x)
      loss = tf.reduce_sum(out * ref["weight"])
    return (out, tape.gradient(loss, layer.trainable_weights + [x]),
            list(layer.losses))

  (tf.function(forward) if compiled else forward)(x)  # creates
  by_name = {tf1shim.tf1_name(v): v for v in layer.weights}
  assert sorted(by_name) == sorted(ref["names"])
  for name_, value in zip(ref["names"], _records(ref, "value")):
    by_name[name_].assign(value)
  trainable = {tf1shim.tf1_name(v) for v in layer.trainable_weights}
  assert trainable == set(ref["trainable"])
  out, grads, losses = (tf.function(forward) if compiled else forward)(x)
  _assert_all_close([out], [ref["output"]], "output")
  _assert_all_close(sorted(float(l) for l in losses), ref["losses"], "loss")
  ours = dict(zip([tf1shim.tf1_name(v) for v in layer.trainable_weights],
                  grads))
  expected = _records(ref, "gradient")
  # The reference's gradients: of its trainable variables, in their order.
  _assert_all_close([ours[n] for n in ref["trainable"]] + [grads[-1]],
                    expected, "gradient")


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_model_fit_step_equals_tf1_train_op(reference, name):
  import keras  # pylint: disable=g-import-not-at-top
  import tf1shim  # pylint: disable=g-import-not-at-top
  ref = reference(name)
  fn = SCENARIOS[name]

  class Trained(keras.Model):

    @tf1shim.track_tf1_style_variables
    def call(self, inputs):
      out = fn(inputs)
      self.add_loss(tf.reduce_sum(out * ref["weight"]))
      return out

  model = Trained()
  x = _inputs()
  model(x)
  by_name = {tf1shim.tf1_name(v): v for v in model.weights}
  for name_, value in zip(ref["names"], _records(ref, "value")):
    by_name[name_].assign(value)
  model.compile(optimizer=keras.optimizers.SGD(LEARNING_RATE),
                jit_compile=False)
  model.fit(x, batch_size=len(x), epochs=1, shuffle=False, verbose=0)
  _assert_all_close([by_name[n] for n in ref["names"]],
                    _records(ref, "trained"), "trained")


def test_input_spec_is_checked_in_graphs_and_in_tf2():
  import tf1shim  # pylint: disable=g-import-not-at-top

  class Matrix(tf1shim.layers.Layer):

    def __init__(self):
      super().__init__()
      self.input_spec = tf1shim.layers.InputSpec(ndim=2, axes={-1: 3})

    def call(self, inputs):
      return inputs

  Matrix()(tf.ones([2, 3]))
  for shape, message in (([2, 3, 3], "ndim=2"), ([2, 4], "axis -1")):
    with pytest.raises(ValueError, match=message):
      Matrix()(tf.ones(shape))
    with tf.Graph().as_default():
      with pytest.raises(ValueError, match=message):
        Matrix()(v1.placeholder(tf.float32, shape))


def test_add_weight_the_keras_3_way_and_bad_calls():
  import tf1shim  # pylint: disable=g-import-not-at-top

  class Bias(tf1shim.layers.Layer):

    def build(self, input_shape):
      self.b = self.add_weight(shape=(input_shape[-1],), initializer="ones",
                               name="b")

    def call(self, inputs):
      return inputs + self.b

  layer = Bias()
  np.testing.assert_array_equal(layer(tf.zeros([1, 2])), [[1.0, 1.0]])
  assert [v.path for v in layer.weights] == ["bias/b"]
  with pytest.raises(TypeError, match="takes the variable's name first"):
    tf1shim.layers.Layer().add_weight((2, 2))
  with pytest.raises(ValueError, match="partitioned"):
    tf1shim.layers.Layer().add_weight(
        "w", [4, 2], partitioner=v1.fixed_size_partitioner(2))


if __name__ == "__main__":
  if "--reference" in sys.argv:
    reference_scenarios(sys.argv[sys.argv.index("--reference") + 1])
  else:
    raise SystemExit(pytest_main(__file__))
