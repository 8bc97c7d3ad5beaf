"""The private TensorFlow and Keras touch points, checked on the installed
versions (`_tf_internal.py`, `_keras_internal.py`, including those that
`install.py` and `slim_compat.py` reach through them, and the
`LooperThread` methods that `training_threads.py` replaces): a TF or Keras upgrade
that moves one of them fails here, by name."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import tf1shim
from tf1shim import _keras_internal
from tf1shim import _tf_internal
from testing.pytest_main import pytest_main

v1 = tf.compat.v1


class FakeStore:
  """Records what TensorFlow's get_variable forwards to the active store."""

  _is_tf1shim_store = True
  _store_eager_variables = True

  def __init__(self):
    self.requests = []

  def get_variable(self, name, **kwargs):
    self.requests.append((name, kwargs["reuse"]))
    return tf.Variable(tf.zeros(kwargs["shape"]), name=name)


def test_variable_scope_patches_are_installed_on_import():
  assert _tf_internal.variable_scope_patched()


def test_with_variable_store_routes_get_variable_and_keeps_reuse():
  store = FakeStore()
  with _tf_internal.with_variable_store(store):
    assert _tf_internal.current_variable_store() is store
    assert _tf_internal.shim_store_active()
    with _tf_internal.fresh_variable_scopes():
      with v1.variable_scope("a"):
        v1.get_variable("v", [1])
      with v1.variable_scope("a", reuse=True):
        v1.get_variable("v", [1])
      with v1.variable_scope("b", reuse=v1.AUTO_REUSE):
        v1.get_variable("w", [1])
  # Without the patch, eager TensorFlow would send reuse=False every time.
  assert store.requests == [("a/v", False), ("a/v", True),
                            ("b/w", v1.AUTO_REUSE)]
  assert not _tf_internal.shim_store_active()


def test_fresh_variable_scopes_restart_the_counts():
  store = FakeStore()
  names = []
  for _ in range(2):
    with _tf_internal.with_variable_store(store):
      with _tf_internal.fresh_variable_scopes():
        assert _tf_internal.unique_variable_scope("dense") == "dense"
        with v1.variable_scope(None, default_name="dense") as scope:
          names.append(scope.name)
        assert _tf_internal.unique_variable_scope("dense") == "dense_1"
        assert _tf_internal.variable_scope_count("dense") == 1
        with v1.variable_scope("outer"):
          assert _tf_internal.scoped_name("x") == "outer/x"
  assert names == ["dense", "dense"]


def test_needs_no_arguments_and_root_name_scope():
  assert _tf_internal.needs_no_arguments(lambda: 1)
  assert not _tf_internal.needs_no_arguments(lambda shape: 1)
  with tf.name_scope("outer"):
    with _tf_internal.root_name_scope():
      assert tf.Variable(1.0, name="v").name == "v:0"


def test_module_descendants_finds_keras_layers_in_modules():
  module = tf.Module()
  module.layer = keras.layers.Dense(1)
  found = _tf_internal.module_descendants(
      module, lambda x: isinstance(x, keras.layers.Layer))
  assert found == [module.layer]


def test_keras_state_lock_is_lifted_only_inside_creating_state():
  layer = keras.layers.Dense(1)
  layer.build((None, 2))
  assert _keras_internal.is_state_locked(layer)
  with _keras_internal.creating_state(layer):
    assert not _keras_internal.is_state_locked(layer)
    variable = keras.Variable(1.0, name="extra")
    _keras_internal.track_variable(layer, variable)
    _keras_internal.track_layer(layer, keras.layers.Dense(1))
  assert _keras_internal.is_state_locked(layer)
  assert any(w is variable for w in layer.weights)
  with pytest.raises(ValueError, match="cannot add new elements of state"):
    layer.extra = keras.Variable(2.0)


def test_call_loss_lists_are_where_add_loss_puts_losses():
  outer = keras.layers.Dense(2)
  inner = keras.layers.Dense(3)
  outer.inner = inner
  loss_lists = _keras_internal.call_loss_lists(outer)
  assert len(loss_lists) == 2
  loss = tf.constant(1.5)
  inner.add_loss(loss)
  assert loss_lists[1] == [loss] and loss_lists[0] == []
  assert outer.losses == [loss]
  loss_lists[1].clear()
  assert not outer.losses


def test_outside_stateless_scope():
  with keras.StatelessScope():
    with _keras_internal.outside_stateless_scope():
      variable = keras.Variable(np.ones([2]), name="real")
    assert keras.src.backend.in_stateless_scope()
  np.testing.assert_array_equal(variable.numpy(), [1.0, 1.0])


def test_new_variable_names_its_tf_variable_as_in_tf1():
  with keras.name_scope("enclosing"):
    variable = _keras_internal.new_variable(
        "a/b/kernel", lambda shape, dtype: tf.ones(shape, dtype), (2,),
        tf.float32, trainable=False)
  assert variable.value.name == "a/b/kernel:0"
  assert variable.path == "a/b/kernel"
  assert variable.name == "kernel"
  assert not variable.trainable
  assert tf1shim.tf1_name(variable) == "a/b/kernel:0"
  np.testing.assert_array_equal(variable.numpy(), [1.0, 1.0])


def test_new_variable_in_a_stateless_scope_is_initialized_on_exit():
  with keras.StatelessScope():
    variable = _keras_internal.new_variable(
        "deferred/v", lambda shape, dtype: tf.fill(shape, 3.0), (2,),
        tf.float32)
  assert variable.value.name == "deferred/v:0"
  np.testing.assert_array_equal(variable.numpy(), [3.0, 3.0])


def test_in_symbolic_trace_only_while_keras_traces_symbolically():
  seen = []

  def probe(x):
    seen.append(_keras_internal.in_symbolic_trace())
    return x

  assert not _keras_internal.in_symbolic_trace()
  keras.src.backend.compute_output_spec(probe, keras.KerasTensor((2,)))
  assert seen == [True]


def test_keras_path_scope_sets_an_absolute_prefix():
  with keras.name_scope("enclosing"):
    with _keras_internal.keras_path_scope("x/y"):
      assert keras.Variable(1.0, name="v").path == "x/y/v"
    with _keras_internal.keras_path_scope(""):
      assert keras.Variable(1.0, name="w").path == "w"


def test_save_weights_from_lets_the_callback_write_in_keras_own_format(
    tmp_path):
  model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
  replacements = {id(v): np.full(v.shape, float(i + 1), np.float32)
                  for i, v in enumerate(model.weights)}

  def write_variable(variable, group, key):
    group.create_dataset(key, data=replacements[id(variable)])

  path = str(tmp_path / "m.weights.h5")
  written = _keras_internal.save_weights_from(model, path, write_variable)
  assert sorted(id(v) for v in written.values()) == sorted(replacements)
  fresh = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
  fresh.load_weights(path)
  for v, original in zip(fresh.weights, model.weights):
    np.testing.assert_array_equal(v.numpy(), replacements[id(original)])
  import h5py  # pylint: disable=g-import-not-at-top
  with h5py.File(path, "r") as f:
    for dataset, variable in written.items():
      np.testing.assert_array_equal(f[dataset][()],
                                    replacements[id(variable)])


def test_marking_variable_initialization_wraps_keras_initializers():
  import contextlib  # pylint: disable=g-import-not-at-top
  entered = []

  @contextlib.contextmanager
  def mark():
    entered.append(1)
    yield

  with _keras_internal.marking_variable_initialization(mark):
    keras.Variable(np.ones([2]), name="not_from_initializer")
    keras.Variable(keras.initializers.Ones(), shape=(2,), name="from_init")
  keras.Variable(keras.initializers.Ones(), shape=(2,), name="after")
  assert entered == [1]


def test_keras_random_swap_and_get_seed_replacement_are_restored():
  from keras.src import backend  # pylint: disable=g-import-not-at-top
  original = backend.random.normal
  with _keras_internal.keras_random_as_tf_stateful_ops():
    assert backend.random.normal is not original
    with _tf_internal.replaced_get_seed(lambda op_seed: (1, 2)):
      a = keras.random.normal((3,))
      b = tf.random.normal((3,), seed=None)
  assert backend.random.normal is original
  tf.random.set_seed(1)
  np.testing.assert_array_equal(a, tf.random.normal((3,), seed=2))
  del b


def test_same_storage_arguments_build_a_second_variable_on_one_resource():
  storage = tf.Variable([1.0, 2.0], name="storage")
  assert _tf_internal.is_eager_resource_variable(storage)
  other = _tf_internal.BaseResourceVariable(
      handle_name="tf1/name", **_tf_internal.same_storage_arguments(storage))
  assert other.name == "tf1/name:0"
  assert other.handle is storage.handle
  other.assign([3.0, 4.0])
  np.testing.assert_array_equal(storage.numpy(), [3.0, 4.0])
  with tf.GradientTape() as tape:
    loss = tf.reduce_sum(other * other)
  np.testing.assert_array_equal(tape.gradient(loss, storage), [6.0, 8.0])
  with tf.Graph().as_default():
    assert not _tf_internal.is_eager_resource_variable(
        v1.get_variable("in_graph", [1]))


def test_distributed_variable_alias_is_the_same_distributed_variable():
  strategy = tf.distribute.MirroredStrategy(["/cpu:0"])
  with strategy.scope():
    storage = tf.Variable([1.0, 2.0], name="mirrored")
  assert _tf_internal.is_distributed_variable(storage)
  assert not _tf_internal.is_distributed_variable(tf.Variable([1.0]))

  class Doubled(type(storage)):

    def value(self):
      return super().value() * 2

  alias = _tf_internal.distributed_variable_alias(storage, Doubled)
  assert alias is not storage and isinstance(alias, type(storage))
  assert alias.name == storage.name
  np.testing.assert_array_equal(alias.value(), [2.0, 4.0])  # the override
  alias.assign([3.0, 4.0])  # state is shared both ways
  np.testing.assert_array_equal(storage.numpy(), [3.0, 4.0])
  storage.assign([5.0, 6.0])
  np.testing.assert_array_equal(alias.read_value(), [5.0, 6.0])
  # TensorFlow's distribution code takes it for the distributed variable.
  strategy.extended.update(alias, lambda v, d: v.assign_add(d),
                           args=(tf.constant([1.0, 1.0]),))
  np.testing.assert_array_equal(storage.numpy(), [6.0, 7.0])


def test_storage_of_is_the_tf_variable_keras_assigns():
  variable = keras.Variable(np.ones([2]), name="k")
  storage = _keras_internal.storage_of(variable)
  assert isinstance(storage, tf.Variable)
  variable.assign([5.0, 6.0])
  np.testing.assert_array_equal(storage.numpy(), [5.0, 6.0])


def test_new_variable_in_a_stateless_scope_is_initialized_at_once_in_order():
  draws = []

  def initializer(label):
    def initialize(shape, dtype):
      draws.append(label)
      return tf.ones(shape, dtype)
    return initialize

  with keras.StatelessScope():
    earlier = keras.Variable(initializer("keras"), shape=(1,), name="e")
    variable = _keras_internal.new_variable(
        "at_once/v", initializer("tf1"), (1,), tf.float32)
    assert _keras_internal.storage_of(variable) is not None
    assert _keras_internal.storage_of(earlier) is not None
  assert draws == ["keras", "tf1"]


def test_route_collections_answers_before_tensorflow():
  from tf1shim import graph_collections  # pylint: disable=g-import-not-at-top
  taken = []

  class Router:

    @staticmethod
    def get_collection(graph, key, scope):
      del graph, scope
      return ["routed"] if key == "mine" else None

    @staticmethod
    def get_collection_ref(graph, key):
      del graph
      return taken if key == "mine" else None

    @staticmethod
    def add_to_collection(graph, key, value):
      del graph
      if key == "mine":
        taken.append(value)
        return True
      return False

  try:
    _tf_internal.route_collections(Router)
    assert _tf_internal.collections_routed()
    with tf.Graph().as_default():
      v1.add_to_collection("mine", 1)
      v1.add_to_collection("theirs", 2)
      assert v1.get_collection("mine") == ["routed"]
      assert v1.get_collection_ref("mine") is taken
      assert v1.get_collection("theirs") == [2]
    assert taken == [1]
    # `tf.compat.v1.losses.*` reach the router eagerly too.
    v1.losses.mean_squared_error(tf.zeros([2]), tf.ones([2]),
                                 loss_collection="mine")
    v1.losses.add_loss(tf.ones([]), loss_collection="mine")
    assert len(taken) == 3
  finally:
    _tf_internal.route_collections(graph_collections._Router)  # pylint: disable=protected-access


def test_scopes_keep_caching_device_under_shim_stores():
  # (Outside them TensorFlow raises NotImplementedError eagerly, unchanged.)
  store = FakeStore()
  with _tf_internal.with_variable_store(store):
    with v1.variable_scope("s", caching_device="/cpu:0") as scope:
      assert scope.caching_device == "/cpu:0"
      with v1.variable_scope("nested") as nested:
        assert nested.caching_device == "/cpu:0"
        nested.set_caching_device("/cpu:1")
        assert nested.caching_device == "/cpu:1"


def test_autocast_dtype_is_the_one_keras_casts_its_variables_to():
  """Inside a mixed_float16 layer's call Keras reads float32 variables as
  float16; `autocast_dtype` must say so, and nothing outside a call."""
  seen = {}

  class Probe(keras.layers.Layer):

    def build(self, input_shape):
      self.w = self.add_weight(shape=(1,), initializer="ones")

    def call(self, inputs):
      seen["dtype"] = _keras_internal.autocast_dtype()
      seen["read"] = tf.convert_to_tensor(self.w).dtype
      return inputs

  assert _keras_internal.autocast_dtype() is None
  Probe(dtype="mixed_float16")(tf.ones([1, 1]))
  assert seen == {"dtype": tf.float16, "read": tf.float16}
  Probe()(tf.ones([1, 1]))  # float32: no scope
  assert seen == {"dtype": None, "read": tf.float32}

  class Uncast(Probe):

    def call(self, inputs):
      with _keras_internal.no_autocast():
        return super().call(inputs)

  Uncast(dtype="mixed_float16")(tf.ones([1, 1]))
  assert seen == {"dtype": None, "read": tf.float32}


# --- install.py: TensorFlow's generated v1 API module ------------------------


def test_generated_v1_api_module_is_tensorflow_v1_api():
  import importlib  # pylint: disable=g-import-not-at-top
  module = _tf_internal.generated_v1_api_module()
  assert module is not None
  assert module.__name__ == _tf_internal.v1_api_module_names("x")[1][:-2]
  assert module.get_variable is v1.get_variable
  # Both names import the v1 API's submodules (install() replaces `layers`
  # and `nn.rnn_cell` under them; `nn` itself is TensorFlow's).
  for name in _tf_internal.v1_api_module_names("nn"):
    assert importlib.import_module(name).dynamic_rnn is v1.nn.dynamic_rnn


def test_install_replaces_the_modules_under_both_names():
  import sys  # pylint: disable=g-import-not-at-top
  tf1shim.install()
  for submodule in ("layers", "nn.rnn_cell"):
    names = _tf_internal.v1_api_module_names(submodule)
    assert sys.modules[names[0]] is sys.modules[names[1]]
  assert v1.layers.dense is tf1shim.layers.dense
  assert _tf_internal.generated_v1_api_module().layers.dense is (
      tf1shim.layers.dense)


# --- slim_compat.py: what tf-slim 1.1.0 reaches in TensorFlow ----------------


def test_layers_normalization_is_the_lazy_module_of_tf_own_tf1_layers():
  module, attribute = _tf_internal.layers_normalization()
  assert module.__name__ == "tensorflow.python.layers.normalization"
  assert attribute in vars(module)  # lazily loaded (or tf1shim's, applied)


def test_eager_name_scope_is_entered_eagerly():
  assert tf.executing_eagerly()
  with _tf_internal.eager_name_scope("outer") as outer:
    with _tf_internal.eager_name_scope(None, default_name="d") as inner:
      pass
  assert (outer, inner) == ("outer/", "outer/d/")


def test_assign_moving_average_moves_a_variable():
  variable = tf.Variable(1.0)
  _tf_internal.assign_moving_average(variable, 3.0, decay=0.75,
                                     zero_debias=False)
  assert variable.numpy() == 1.5  # 1 - (1 - 3) * (1 - 0.75)


def test_slim_moved_names_are_the_objects_of_tensorflow_modules():
  """slim_compat restores names TF 2.21 moved from their public names; they
  must be the objects TensorFlow's private modules (where tf-slim looked
  for them) define, or a TF1 graph would see other classes."""
  import importlib  # pylint: disable=g-import-not-at-top
  from tf1shim import slim_compat  # pylint: disable=g-import-not-at-top
  where = {"Tensor": "tensorflow.python.framework.tensor",
           "IndexedSlices": "tensorflow.python.framework.indexed_slices",
           "stack": "tensorflow.python.ops.array_ops_stack",
           "unstack": "tensorflow.python.ops.array_ops_stack",
           "cond": "tensorflow.python.ops.cond",
           "variable": "tensorflow.python.ops.variable_v1"}
  checked = set()
  for attributes in slim_compat._MOVED_NAMES.values():  # pylint: disable=protected-access
    for moved in attributes.values():
      for name, public_name in moved.items():
        module = importlib.import_module(where[name])
        own = getattr(module, "VariableV1" if name == "variable" else name)
        assert slim_compat._public(public_name) is own, name  # pylint: disable=protected-access
        checked.add(name)
  assert checked == set(where)



# --- layers/utils.py: TF1 initializer objects ---------------------------------


def test_is_tf1_initializer_knows_every_tf1_initializer_class():
  """The TF1 layers serialize TF1 initializers by class name and find the
  class again in `tf.compat.v1.initializers`: every class there must be
  recognized, and TF2's and Keras's initializers not."""
  import inspect  # pylint: disable=g-import-not-at-top
  classes = [value for value in vars(v1.initializers).values()
             if inspect.isclass(value)]
  assert len(classes) >= 10  # constant, glorot_uniform, zeros, ...
  for cls in classes:
    assert _tf_internal.is_tf1_initializer(cls()), cls
  assert _tf_internal.is_tf1_initializer(v1.glorot_uniform_initializer())
  assert _tf_internal.is_tf1_initializer(v1.zeros_initializer())
  assert not _tf_internal.is_tf1_initializer(tf.initializers.GlorotUniform())
  assert not _tf_internal.is_tf1_initializer(
      keras.initializers.GlorotUniform())
  assert not _tf_internal.is_tf1_initializer(None)


def test_optimizer_variable_index_finds_the_slot_keras_built():
  variables = [keras.Variable(np.ones(2, np.float32)),
               keras.Variable(np.ones(3, np.float32))]
  optimizer = keras.optimizers.SGD(0.1, momentum=0.5)
  optimizer.build(variables)
  for variable in variables:
    slot = optimizer.momentums[
        _keras_internal.optimizer_variable_index(optimizer, variable)]
    assert tuple(slot.shape) == tuple(variable.shape)


def test_optimizer_learning_rate_is_the_schedule_given():
  schedule = keras.optimizers.schedules.ExponentialDecay(0.1, 1, 0.5)
  assert _keras_internal.optimizer_learning_rate(
      keras.optimizers.SGD(schedule)) is schedule
  rate = _keras_internal.optimizer_learning_rate(keras.optimizers.SGD(0.25))
  assert float(rate.numpy()) == 0.25


def test_checkpoint_initializers_recorded_sees_what_tf1_would_initialize(
    tmp_path):
  with tf.Graph().as_default():
    saved = v1.get_variable("pre/w", initializer=[1.0, 2.0])
    with v1.Session() as sess:
      sess.run(saved.initializer)
      prefix = v1.train.Saver([saved]).save(sess, str(tmp_path / "ckpt"))
  with tf.Graph().as_default():
    variable = v1.get_variable("net/w", [2])
    found = []
    with _tf_internal.checkpoint_initializers_recorded(
        lambda *args: found.append(args)):
      v1.train.init_from_checkpoint(prefix, {"pre/": "net/"})
    assert found == [(variable, prefix, "pre/w")]
    # Outside, TensorFlow's: the initializer reads the checkpoint.
    v1.train.init_from_checkpoint(prefix, {"pre/": "net/"})
    with v1.Session() as sess:
      sess.run(variable.initializer)
      assert list(sess.run(variable)) == [1.0, 2.0]


def test_moving_average_settings_are_what_apply_uses():
  step = tf.Variable(3, dtype=tf.int64)
  ema = tf.compat.v1.train.ExponentialMovingAverage(0.9, num_updates=step)
  decay, num_updates = _tf_internal.moving_average_settings(ema)
  assert decay == 0.9 and num_updates is step
  assert _tf_internal.moving_average_settings(
      tf.compat.v1.train.ExponentialMovingAverage(0.5)) == (0.5, None)
  # apply's arithmetic with them: min(decay, (1 + 3) / (10 + 3)).
  variable = tf.Variable(1.0)
  ema.apply([variable])
  variable.assign(3.0)
  ema.apply([variable])
  assert ema.average(variable).numpy() == pytest.approx(1.0 + 2.0 * 9 / 13)


def test_evaluate_lifted_computes_a_traced_initial_value_and_refuses_inputs():
  # lift_to_graph copies a tf.function trace's ops into a new graph: what
  # bare tf.Variables' initial values inside a decorated call rely on.
  seen = {}

  @tf.function
  def trace(x):
    seen["value"] = _tf_internal.evaluate_lifted(
        tf.reshape(tf.range(6.0), [2, 3]) * 2.0)
    with pytest.raises(_tf_internal.UnliftableError):
      _tf_internal.evaluate_lifted(x * 2.0)
    return x

  trace(tf.constant(1.0))
  np.testing.assert_array_equal(seen["value"],
                                np.arange(6.0).reshape(2, 3) * 2.0)


def test_profiler_trace_parser_reads_tensorflows_trace_format():
  """The proto module of the profiler's `*.xplane.pb` (a real trace is
  read in op_profile_test.py)."""
  space = _tf_internal.parse_profiler_trace(b"")
  assert not space.planes and type(space).__name__ == "XSpace"


def test_supervisors_threads_are_looper_threads_with_its_run():
  """`training_threads.repair()` changes `LooperThread.__init__` and `run`,
  which must be those of Supervisor's three threads (TensorFlow's private
  `supervisor` module; the threads' behaviour is tested in
  training_threads_test.py)."""
  from tensorflow.python.training import supervisor  # pylint: disable=g-import-not-at-top
  for cls in (supervisor.SVSummaryThread, supervisor.SVStepCounterThread,
              supervisor.SVTimerCheckpointThread):
    assert issubclass(cls, v1.train.LooperThread), cls
    assert "run" not in vars(cls), cls


if __name__ == "__main__":
  raise SystemExit(pytest_main(__file__))
