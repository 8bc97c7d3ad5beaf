"""tf1shim against the official shim: tf-keras with TF_USE_LEGACY_KERAS=1.

The same model functions (`official_shim_corpus.py`) run under the official
shim in a subprocess, which writes each model's variables (names, shapes,
values), number of regularization losses, outputs, and the moving averages
after one training-mode call. This process runs them under tf1shim on Keras
3, with the official weights copied in by name, and compares.
"""

import os
import sys

import numpy as np
import pytest

from testing.pytest_main import pytest_main
from testing.subprocesses import run_python


def official_scenario(out_dir):
  """Runs in the subprocess, under tf-keras (legacy Keras 2)."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  assert tf.keras.__name__.startswith("tf_keras"), tf.keras.__name__
  import official_shim_corpus as corpus  # pylint: disable=g-import-not-at-top

  rng = np.random.RandomState(0)
  for name, model_fn in corpus.MODELS.items():
    shape = corpus.INPUT_SHAPES.get(name, corpus.DEFAULT_INPUT_SHAPE)
    x = rng.randn(*shape).astype(np.float32)
    layer = corpus.make_layer_class(model_fn)()
    out = layer(x, training=False)
    # Randomize every variable so that the comparison is not about inits.
    for v in layer.variables:
      v.assign(rng.uniform(0.5, 1.5, v.shape).astype(v.dtype.as_numpy_dtype))
    out = layer(x, training=False).numpy()
    losses = [float(l) for l in layer.losses]
    values = {v.name: v.numpy() for v in layer.variables}
    layer(x, training=True)
    after_training = {v.name: v.numpy() for v in layer.variables}
    record = {"x": x, "output": out, "losses": np.array(losses)}
    names = sorted(v.name for v in layer.variables)
    record["names"] = np.array(names)
    record["trainable"] = np.array(
        sorted(v.name for v in layer.trainable_variables))
    for i, n in enumerate(names):
      record["value_%d" % i] = values[n]
      record["trained_%d" % i] = after_training[n]
    # tf1shim's decorator on a tf-keras layer, with the official weights.
    ours = make_tf1shim_layer_class(tf, model_fn)()
    ours(x, training=False)
    for v in ours.variables:
      v.assign(values[v.name])
    record["tf_keras_tf1shim_names"] = np.array(
        sorted(v.name for v in ours.variables))
    record["tf_keras_tf1shim_output"] = ours(x, training=False).numpy()
    record["tf_keras_tf1shim_losses"] = np.array(
        [float(l) for l in ours.losses])
    np.savez(os.path.join(out_dir, name + ".npz"), **record)


def make_tf1shim_layer_class(tf, model_fn):
  import tf1shim  # pylint: disable=g-import-not-at-top

  class Wrapped(tf.keras.layers.Layer):

    @tf1shim.track_tf1_style_variables
    def call(self, inputs, training=None):
      return model_fn(inputs, training=training)

  return Wrapped


@pytest.fixture(scope="module")
def official_results(tmp_path_factory):
  out_dir = str(tmp_path_factory.mktemp("official"))
  here = os.path.dirname(os.path.abspath(__file__))
  done = run_python([os.path.abspath(__file__), "--official", out_dir],
                    TF_USE_LEGACY_KERAS="1",
                    PYTHONPATH=os.pathsep.join([here] + sys.path))
  assert done.returncode == 0, done.stderr[-5000:]
  return out_dir


import official_shim_corpus as corpus  # pylint: disable=g-import-not-at-top,wrong-import-position


@pytest.mark.parametrize("name", sorted(corpus.MODELS))
def test_same_names_shapes_losses_and_outputs_as_official_shim(
    official_results, name):
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  import tf1shim  # pylint: disable=g-import-not-at-top
  tf1shim.install()
  official = dict(np.load(os.path.join(official_results, name + ".npz")))
  names = list(official["names"])
  layer = corpus.make_layer_class(corpus.MODELS[name])()
  layer(official["x"], training=False)
  ours = {tf1shim.tf1_name(v): v for v in layer.weights}
  assert sorted(ours) == names
  assert sorted(tf1shim.tf1_name(v) for v in layer.trainable_weights) == list(
      official["trainable"])
  for i, n in enumerate(names):
    assert tuple(ours[n].shape) == official["value_%d" % i].shape, n
    ours[n].assign(official["value_%d" % i])
  out = layer(official["x"], training=False)
  assert len(layer.losses) == len(official["losses"])
  np.testing.assert_allclose(sorted(float(l) for l in layer.losses),
                             sorted(official["losses"]), rtol=1e-5)
  np.testing.assert_allclose(out, official["output"], rtol=1e-5, atol=1e-5)
  layer(official["x"], training=True)
  for i, n in enumerate(names):
    # Moving averages after one training call (fused kernels: 1e-5).
    np.testing.assert_allclose(ours[n].numpy(), official["trained_%d" % i],
                               rtol=1e-5, atol=1e-6, err_msg=n)
  del tf


@pytest.mark.parametrize("name", sorted(corpus.MODELS))
def test_tf1shim_decorator_on_tf_keras_layers(official_results, name):
  """With tf-keras active, tf1shim's decorator equals the official one."""
  official = dict(np.load(os.path.join(official_results, name + ".npz")))
  assert list(official["tf_keras_tf1shim_names"]) == list(official["names"])
  np.testing.assert_allclose(official["tf_keras_tf1shim_output"],
                             official["output"], rtol=1e-6, atol=1e-6)
  np.testing.assert_allclose(sorted(official["tf_keras_tf1shim_losses"]),
                             sorted(official["losses"]), rtol=1e-6)


if __name__ == "__main__":
  if "--official" in sys.argv:
    official_scenario(sys.argv[sys.argv.index("--official") + 1])
  else:
    raise SystemExit(pytest_main(__file__))
