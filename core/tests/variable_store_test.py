"""TF1 variable semantics inside decorated methods, checked against TF1 graphs.

Each scenario is run twice: inside a decorated Keras 3 layer (eager) and in a
real `tf.compat.v1.Graph`, the reference for what TF1 did.
"""

import re
import warnings

import keras
import numpy as np
import pytest
import tensorflow as tf

import tf1shim
from testing.pytest_main import pytest_main
from testing.shim_models import ShimLayer
from testing.shim_models import ShimModule

v1 = tf.compat.v1


def graph_run(model_fn, inputs):
  """Runs `model_fn` in a TF1 graph; returns {name: shape} of its variables."""
  with tf.Graph().as_default():
    model_fn(tf.constant(inputs), training=False)
    return {v.name: v.shape.as_list() for v in v1.global_variables()}


def shim_names(layer):
  return {tf1shim.tf1_name(v): v.shape.as_list() for v in layer.weights}


def nested_scopes(x, training=None):
  del training
  with v1.variable_scope("outer"):
    with v1.variable_scope(None, default_name="block"):
      a = v1.get_variable("w", [x.shape[-1], 3])
    with v1.variable_scope(None, default_name="block"):
      b = v1.get_variable("w", [3, 2])
    with v1.variable_scope("shared"):
      c = v1.get_variable("v", [2])
    with v1.variable_scope("shared", reuse=True):
      c2 = v1.get_variable("v", [2])
    with v1.variable_scope("auto", reuse=v1.AUTO_REUSE):
      d = v1.get_variable("v", [2], initializer=v1.ones_initializer())
      d2 = v1.get_variable("v", [2])
  return tf.matmul(tf.matmul(x, a), b) + c + c2 + d + d2


def test_names_match_tf1_graph_and_stay_fixed_across_calls():
  x = np.ones([2, 4], np.float32)
  layer = ShimLayer(nested_scopes)
  layer(x)
  layer(x)
  assert shim_names(layer) == graph_run(nested_scopes, x)
  assert [tf1shim.tf1_name(v) for v in layer.weights] == [
      "outer/block/w:0", "outer/block_1/w:0", "outer/shared/v:0",
      "outer/auto/v:0"]
  assert [v.path for v in layer.weights][0] == "outer/block/w"


def test_reuse_false_twice_raises_tf1_error():

  def twice(x, training=None):
    del training
    with v1.variable_scope("s"):
      v1.get_variable("v", [1])
    with v1.variable_scope("s", reuse=False):
      v1.get_variable("v", [1])
    return x

  message = "Variable s/v already exists, disallowed"
  with pytest.raises(ValueError, match=message):
    graph_run(twice, np.ones([1, 1], np.float32))
  with pytest.raises(ValueError, match=message):
    ShimLayer(twice)(np.ones([1, 1], np.float32))


def test_reuse_true_for_missing_variable_raises_tf1_error():

  def missing(x, training=None):
    del training
    with v1.variable_scope("s", reuse=True):
      v1.get_variable("v", [1])
    return x

  message = "Variable s/v does not exist, or was not created"
  with pytest.raises(ValueError, match=message):
    graph_run(missing, np.ones([1, 1], np.float32))
  with pytest.raises(ValueError, match=message):
    ShimLayer(missing)(np.ones([1, 1], np.float32))


def test_shape_mismatch_on_reuse_names_variable_and_both_shapes():

  def mismatch(x, training=None):
    del training
    with v1.variable_scope("s"):
      v1.get_variable("kernel", [3, 4])
    with v1.variable_scope("s", reuse=True):
      v1.get_variable("kernel", [5, 4])
    return x

  message = re.escape("Trying to share variable s/kernel, but specified "
                      "shape (5, 4) and found shape (3, 4).")
  with pytest.raises(ValueError, match=message):
    graph_run(mismatch, np.ones([1, 1], np.float32))
  with pytest.raises(ValueError, match=message):
    ShimLayer(mismatch)(np.ones([1, 1], np.float32))


def test_dtype_mismatch_on_reuse_names_variable_and_both_dtypes():

  def mismatch(x, training=None):
    del training
    with v1.variable_scope("s"):
      v1.get_variable("v", [2], dtype=tf.float32)
    with v1.variable_scope("s", reuse=True):
      v1.get_variable("v", [2], dtype=tf.int32)
    return x

  message = ("Trying to share variable s/v, but specified dtype int32 and "
             "found dtype float32")
  with pytest.raises(ValueError, match=message):
    graph_run(mismatch, np.ones([1, 1], np.float32))
  with pytest.raises(ValueError, match=message):
    ShimLayer(mismatch)(np.ones([1, 1], np.float32))


def test_new_variable_on_a_later_call_is_an_error_naming_it():

  def branchy(x, training=None):
    v = v1.get_variable("always", [1])
    if training:
      v = v + v1.get_variable("only_when_training", [1])
    return x * v

  layer = ShimLayer(branchy)
  layer(np.ones([1, 1], np.float32), training=False)
  with pytest.raises(ValueError, match="'only_when_training' on a later call"):
    layer(np.ones([1, 1], np.float32), training=True)


def test_decorating_a_method_of_a_plain_object_names_the_fix():

  class NotALayer:

    @tf1shim.track_tf1_style_variables
    def forward(self, x):
      return x

  with pytest.raises(TypeError, match="keras.layers.Layer.*tf.Module"):
    NotALayer().forward(tf.ones([1]))


def test_get_variable_outside_decorated_method_warns_with_the_fix():
  with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    v1.get_variable("lonely_variable", [1])
  messages = [str(w.message) for w in caught]
  assert any("lonely_variable" in m and "track_tf1_style_variables" in m
             for m in messages), messages


def test_no_warning_inside_decorated_method_or_tf1_graph():
  with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    ShimLayer(nested_scopes)(np.ones([2, 4], np.float32))
    graph_run(nested_scopes, np.ones([2, 4], np.float32))
  assert not [w for w in caught if "track_tf1_style_variables" in
              str(w.message)]


def test_initializers_and_dtypes_as_tf1():

  def model(x, training=None):
    del training
    from_value = v1.get_variable("from_value", initializer=[1.0, 2.0])
    counter = v1.get_variable("counter", [2], dtype=tf.int64, trainable=False)
    by_class = v1.get_variable("by_class", [2],
                               initializer=v1.initializers.ones)
    keras_init = v1.get_variable(
        "keras_init", [2], initializer=keras.initializers.Constant(3.0))
    return x + from_value + tf.cast(counter, tf.float32) + by_class + (
        keras_init)

  layer = ShimLayer(model)
  out = layer(np.zeros([1, 2], np.float32))
  np.testing.assert_array_equal(out, [[5.0, 6.0]])
  by_name = {tf1shim.tf1_name(v): v for v in layer.weights}
  assert by_name["counter:0"].dtype == "int64"
  assert not by_name["counter:0"].trainable
  assert len(layer.trainable_weights) == 3


def test_custom_getter_sees_and_changes_variables():
  seen = []

  def doubling_getter(getter, name, *args, **kwargs):
    seen.append(name)
    return getter(name, *args, **kwargs) * 2.0

  def model(x, training=None):
    del training
    with v1.variable_scope("s", custom_getter=doubling_getter):
      v = v1.get_variable("v", [1], initializer=v1.ones_initializer())
    return x * v

  out = ShimLayer(model)(np.ones([1, 1], np.float32))
  np.testing.assert_array_equal(out, [[2.0]])
  assert seen == ["s/v"]


def make_templates():
  """Two templates of one function (`net`, `net_1`) and one of another."""
  def dense(u):
    with v1.variable_scope("d"):
      kernel = v1.get_variable("kernel", [4, 3])
      bias = v1.get_variable("bias", [3], initializer=v1.zeros_initializer())
    return tf.matmul(u, kernel) + bias

  def tower(u):
    return tf.matmul(u, v1.get_variable("w", [3, 2]))

  return (v1.make_template("net", dense), v1.make_template("net", dense),
          v1.make_template("tower", tower))


def call_templates(templates, x):
  net, net_again, tower = templates
  return tower(tf.nn.relu(net(x) + net(x) + net_again(x)))


class TemplateLayer(keras.layers.Layer):
  """TF1 code that keeps its templates: made in __init__ or in the first
  call (where a TF1 model function would make them)."""

  def __init__(self, make_in_init):
    super().__init__()
    self.templates = make_templates() if make_in_init else None

  @tf1shim.track_tf1_style_variables
  def call(self, x):
    if self.templates is None:
      self.templates = make_templates()
    return call_templates(self.templates, x)


@pytest.mark.parametrize("make_in_init", [True, False])
def test_make_template_shares_its_variables_across_calls_as_in_tf1(
    make_in_init):
  """A template keeps its variable scope across calls; each decorated call
  has scope counts of its own (fresh_variable_scopes). Without the
  `_pure_variable_scope` patch its second call created its variables at the
  root scope (`d/kernel`) and failed."""
  x = np.random.RandomState(0).randn(2, 4).astype(np.float32)
  with tf.Graph().as_default():
    templates = make_templates()
    first = call_templates(templates, tf.constant(x))
    second = call_templates(templates, tf.constant(x))  # shares everything
    variables = v1.global_variables()
    with v1.Session() as sess:
      sess.run(v1.global_variables_initializer())
      values = {v.name: value for v, value in zip(variables,
                                                  sess.run(variables))}
      expected, expected_again = sess.run([first, second])
  assert sorted(values) == ["net/d/bias:0", "net/d/kernel:0",
                            "net_1/d/bias:0", "net_1/d/kernel:0",
                            "tower/w:0"]
  # Grappler may fold the two builds differently (1 ulp seen).
  np.testing.assert_allclose(expected, expected_again, rtol=1e-6, atol=1e-6)

  layer = TemplateLayer(make_in_init)
  layer(x)
  weights = {tf1shim.tf1_name(v): v for v in layer.weights}
  assert sorted(weights) == sorted(values)
  for name, value in values.items():
    weights[name].assign(value)
  # Float32, O(1) values, the same few ops as the graph: 1e-6.
  for call in (layer, layer, tf.function(layer)):
    np.testing.assert_allclose(call(x), expected, rtol=1e-6, atol=1e-6)
  assert len(layer.weights) == len(values)


def moving_average_model(x, training=None):
  """TF1 evaluation code: `ExponentialMovingAverage` of a weight (its slot
  variable's `get_variable` name ends in `/`)."""
  del training
  w = v1.get_variable("w", [4, 3])
  ema = v1.train.ExponentialMovingAverage(0.9)
  with tf.control_dependencies([ema.apply([w])]):
    return tf.matmul(x, ema.average(w))


def test_moving_average_slot_has_its_tf1_name_and_values(tmp_path):
  """`w/ExponentialMovingAverage`, as TF1's Saver writes it (not
  `w/ExponentialMovingAverage/`, which Keras cannot name), moved as in a
  TF1 session: applied once, the weight changed, applied again."""
  from tf1shim import checkpoints  # pylint: disable=g-import-not-at-top
  x = np.random.RandomState(0).randn(2, 4).astype(np.float32)
  with tf.Graph().as_default():
    out = moving_average_model(tf.constant(x))
    w, shadow = v1.global_variables()
    with v1.Session() as sess:
      sess.run(v1.global_variables_initializer())
      w0 = sess.run(w)
      sess.run(out)
      sess.run(w.assign_add(tf.ones_like(w)))
      expected_out = sess.run(out)
      expected_shadow = sess.run(shadow)
      path = v1.train.Saver().save(sess, str(tmp_path / "ema.ckpt"))
  assert shadow.op.name == "w/ExponentialMovingAverage"

  layer = ShimLayer(moving_average_model)
  layer(x)
  assert sorted(shim_names(layer)) == ["w/ExponentialMovingAverage:0", "w:0"]
  weights = {tf1shim.tf1_name(v): v for v in layer.weights}
  weights["w:0"].assign(w0)
  weights["w/ExponentialMovingAverage:0"].assign(w0)
  weights["w:0"].assign_add(np.ones_like(w0))
  # Float32, O(1) values: 1e-6. numpy: the average moved a tenth of the way.
  np.testing.assert_allclose(layer(x), expected_out, rtol=1e-6, atol=1e-6)
  shadow_value = weights["w/ExponentialMovingAverage:0"].numpy()
  np.testing.assert_allclose(shadow_value, expected_shadow, rtol=1e-6,
                             atol=1e-6)
  np.testing.assert_allclose(shadow_value, w0 + 0.1, rtol=1e-6, atol=1e-6)
  # TF1's checkpoint restores by TF1 name, both variables.
  report = checkpoints.restore_checkpoint(path, layer, strict=True)
  assert not report.missing and not report.unused, report
  np.testing.assert_array_equal(
      weights["w/ExponentialMovingAverage:0"].numpy(), expected_shadow)


def test_a_slot_made_on_a_later_call_is_named_by_its_tf1_name():
  class AveragesLater(keras.layers.Layer):
    calls = 0

    @tf1shim.track_tf1_style_variables
    def call(self, x):
      w = v1.get_variable("w", [4, 3])
      self.calls += 1
      if self.calls > 1:  # a code path the first call did not take
        v1.train.ExponentialMovingAverage(0.9).apply([w])
      return tf.matmul(x, w)

  layer = AveragesLater()
  layer(np.ones((2, 4), np.float32))
  with pytest.raises(ValueError, match="new variable "
                     "'w/ExponentialMovingAverage' on a later call"):
    layer(np.ones((2, 4), np.float32))


def test_partitioner_is_refused_with_a_clear_error():

  def model(x, training=None):
    del training
    v1.get_variable("big", [4, 2],
                    partitioner=v1.fixed_size_partitioner(2))
    return x

  with pytest.raises(ValueError, match="big.*partitioner"):
    ShimLayer(model)(np.ones([1, 1], np.float32))


@pytest.mark.parametrize("regularizer", [
    "l2",
    "l1",
    keras.regularizers.L2(0.5),
    lambda w: 0.1 * tf.reduce_sum(tf.square(w)),
], ids=["l2", "l1", "keras_object", "callable"])
def test_regularizers_one_loss_per_variable_never_accumulating(regularizer):

  def model(x, training=None):
    del training
    with v1.variable_scope("m"):
      w = v1.get_variable("w", [2, 2], regularizer=regularizer,
                          initializer=v1.constant_initializer(2.0))
      b = v1.get_variable("b", [2], regularizer=regularizer,
                          initializer=v1.constant_initializer(-1.0))
      v1.get_variable("free", [2])
    return tf.matmul(x, w) + b

  expected = tf1shim.variable_store.resolve_regularizer(regularizer)
  want = [float(expected(tf.fill([2, 2], 2.0))),
          float(expected(tf.fill([2], -1.0)))]
  layer = ShimLayer(model)
  for _ in range(3):
    layer(np.ones([1, 2], np.float32))
    np.testing.assert_allclose([float(l) for l in layer.losses], want,
                               rtol=1e-6)


def test_regularizer_returning_none_adds_no_loss_as_in_tf1():

  def model(x, training=None):
    del training
    v1.get_variable("w", [1], regularizer=lambda w: None)
    return x

  layer = ShimLayer(model)
  layer(np.ones([1, 1], np.float32))
  assert layer.losses == []


def test_non_trainable_regularized_variable_still_has_its_loss():

  def model(x, training=None):
    del training
    v = v1.get_variable("frozen", [2], trainable=False,
                        initializer=v1.ones_initializer(),
                        regularizer=lambda w: tf.reduce_sum(w))
    return x + v

  layer = ShimLayer(model)
  for _ in range(2):
    layer(np.ones([1, 2], np.float32))
    assert [float(l) for l in layer.losses] == [2.0]


def test_module_variables_named_as_tf1_with_regularization_losses():

  def model(x, training=None):
    del training
    with v1.variable_scope("dense"):
      k = v1.get_variable("kernel", [2, 3],
                          initializer=v1.ones_initializer(),
                          regularizer=lambda w: tf.reduce_sum(w))
      b = v1.get_variable("bias", [3], initializer=v1.zeros_initializer())
    return tf.matmul(x, k) + b

  module = ShimModule(model)
  module(tf.ones([1, 2]))
  module(tf.ones([1, 2]))
  assert all(isinstance(v, tf.Variable) for v in module.variables)
  assert sorted(v.name for v in module.variables) == [
      "dense/bias:0", "dense/kernel:0"]
  assert [float(l) for l in module.regularization_losses] == [6.0]
  assert len(module.trainable_variables) == 2


def test_nested_module_regularization_losses_are_collected():

  def inner_model(x, training=None):
    del training
    v = v1.get_variable("w", [1], initializer=v1.ones_initializer(),
                        regularizer=lambda w: 3.0 * tf.reduce_sum(w))
    return x * v

  inner = ShimModule(inner_model)

  def outer_model(x, training=None):
    del training
    with v1.variable_scope("outer"):
      v = v1.get_variable("u", [1], initializer=v1.ones_initializer(),
                          regularizer=lambda w: 5.0 * tf.reduce_sum(w))
      return inner(x * v)

  outer = ShimModule(outer_model)
  outer.inner = inner
  outer(tf.ones([1]))
  assert sorted(v.name for v in outer.variables) == ["outer/u:0",
                                                     "outer/w:0"]
  assert sorted(float(l) for l in outer.regularization_losses) == [3.0, 5.0]
  assert [float(l) for l in inner.regularization_losses] == [3.0]


# --- variable_scope defaults (initializer, regularizer, dtype, ...) ----------


def scope_defaults(x, training=None):
  del training
  with v1.variable_scope(
      "defaults", initializer=v1.constant_initializer(0.2),
      regularizer=lambda w: 0.3 * tf.reduce_sum(tf.square(w))):
    w = v1.get_variable("w", [x.shape[-1], 3])
    h = tf1shim.layers.dense(x, 3, name="fc")  # kernel and bias: the scope's
    with v1.variable_scope("wide", dtype=tf.float64):
      d = v1.get_variable("d", [3])
    with v1.variable_scope("cached", caching_device="/cpu:0"):
      c = v1.get_variable("c", [3], regularizer=lambda w: tf.reduce_sum(w))
    own = v1.get_variable("own", [3], initializer=v1.ones_initializer(),
                          regularizer=lambda w: 2.0 * tf.reduce_sum(w))
  return tf.matmul(x, w) + h + tf.cast(d, tf.float32) + c + own


@pytest.mark.parametrize("module", [False, True], ids=["layer", "module"])
def test_variable_scope_defaults_as_in_tf1_graph(module):
  from testing import tf1_reference  # pylint: disable=g-import-not-at-top
  x = np.random.RandomState(3).randn(2, 4).astype(np.float32)
  # Names, dtypes, trainable flags, outputs and every regularization loss
  # (the scope's regularizer included) with the graph's weights copied in.
  graph = tf1_reference.assert_same_as_tf1(scope_defaults, x, module=module)
  assert graph.dtypes["defaults/wide/d:0"] == "float64"
  assert len(graph.regularization_losses) == 6
  # The scope's initializer: the shim's own initial values equal TF1's.
  shim = tf1_reference.run_shim(scope_defaults, x, module=module)
  for name, value in graph.variables.items():
    np.testing.assert_array_equal(shim.variables[name], value, err_msg=name)


def test_scope_custom_getter_as_in_tf1_graph():
  from testing import tf1_reference  # pylint: disable=g-import-not-at-top

  def scaling_getter(getter, name, *args, **kwargs):
    variable = getter(name, *args, **kwargs)
    return variable * 0.5 if "scaled" in name else variable

  def model(x, training=None):
    del training
    with v1.variable_scope("g", custom_getter=scaling_getter):
      a = v1.get_variable("scaled", [x.shape[-1]],
                          regularizer=lambda w: tf.reduce_sum(w))
      b = v1.get_variable("plain", [x.shape[-1]])
      return x * a + b

  tf1_reference.assert_same_as_tf1(model, np.ones([2, 3], np.float32))


def test_scope_partitioner_is_refused_naming_the_variable_and_the_fix():

  def model(x, training=None):
    del training
    with v1.variable_scope("emb", partitioner=v1.fixed_size_partitioner(2)):
      table = v1.get_variable("table", [10, 4])
    return tf.nn.embedding_lookup(table, tf.cast(x[:, 0], tf.int32))

  with pytest.raises(ValueError,
                     match="emb/table.*partitioner.*Remove the partitioner"):
    ShimLayer(model)(np.zeros([2, 1], np.float32))



def test_without_its_partitioner_a_variable_has_the_tf1_checkpoint_name(
    tmp_path):
  """What the partitioner error promises: TF1's Saver stores a partitioned
  variable whole, under the name the unpartitioned variable has."""

  def model(x, partitioner):
    with v1.variable_scope("emb", partitioner=partitioner):
      table = v1.get_variable("table", [10, 4])
    return tf.nn.embedding_lookup(table, tf.cast(x[:, 0], tf.int32))

  with tf.Graph().as_default():
    model(tf.zeros([2, 1]), v1.fixed_size_partitioner(2))
    with v1.Session() as sess:
      sess.run(v1.global_variables_initializer())
      prefix = v1.train.Saver().save(sess, str(tmp_path / "model.ckpt"))
  layer = ShimLayer(lambda x, training=None: model(x, None))
  layer(np.zeros([2, 1], np.float32))
  assert [(tf1shim.tf1_name(v)[:-len(":0")], v.shape.as_list())
          for v in layer.weights] == [
              (n, s) for n, s in tf.train.list_variables(prefix)]


def test_tf1_name_for_every_kind_of_variable():
  assert tf1shim.tf1_name(tf.Variable(1.0, name="a/b")) == "a/b:0"
  dense = keras.layers.Dense(2, name="d")
  dense.build((None, 3))
  assert tf1shim.tf1_name(dense.kernel) == "d/kernel:0"


if __name__ == "__main__":
  raise SystemExit(pytest_main(__file__))
