"""`tf1shim.install()` reaches every spelling of TF's v1 API, whatever the
import order (each scenario in a fresh interpreter: import order matters)."""

import textwrap

import pytest

from testing.pytest_main import pytest_main
from testing.subprocesses import run_python

SCENARIOS = {
    # The TF1 idiom, imported after install().
    "alias_after_install": """
        import tf1shim
        tf1shim.install()
        import tensorflow.compat.v1 as tf
        import tensorflow
        layers = [tf.layers.dense, tensorflow.compat.v1.layers.dense]
        utils = [tf.keras.utils.track_tf1_style_variables,
                 tensorflow.compat.v1.keras.utils.track_tf1_style_variables]
    """,
    # ... and before it.
    "alias_before_install": """
        import tensorflow.compat.v1 as tf
        import tf1shim
        tf1shim.install()
        import tensorflow
        layers = [tf.layers.dense, tensorflow.compat.v1.layers.dense]
        utils = [tf.keras.utils.track_tf1_style_variables,
                 tensorflow.compat.v1.keras.utils.track_tf1_style_variables]
    """,
    # `tf.compat.v1` captured, then rebound by an import, then install().
    "captured_before_alias_import": """
        import tensorflow
        captured = tensorflow.compat.v1
        import tensorflow.compat.v1 as tf
        import tf1shim
        tf1shim.install()
        layers = [captured.layers.dense, tf.layers.dense,
                  tensorflow.compat.v1.layers.dense]
        utils = [captured.keras.utils.track_tf1_style_variables]
    """,
    # A library importing the alias later (tf-slim does) changes nothing.
    "tf_slim_after_install": """
        import tensorflow as tensorflow
        import tf1shim
        tf1shim.install()
        import tf_slim
        import tensorflow.compat.v1 as tf
        layers = [tf.layers.dense, tensorflow.compat.v1.layers.dense]
        utils = [tf.keras.utils.track_tf1_style_variables]
    """,
}


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_v1_layers_and_utils_reach_tf1shim(scenario):
  code = textwrap.dedent(SCENARIOS[scenario]) + textwrap.dedent("""
      from tf1shim import layers as tf1shim_layers
      from tf1shim import tracking
      assert all(f is tf1shim_layers.dense for f in layers), layers
      assert all(f is tracking.track_tf1_style_variables for f in utils)
      try:
        tf.layers.not_a_layer
      except AttributeError as e:
        assert "not provided by tf1shim" in str(e), e
      else:
        raise AssertionError("no error")
      print("ok")
  """)
  done = run_python(["-c", code], timeout=300)
  assert done.returncode == 0 and done.stdout.strip().endswith("ok"), (
      done.stdout[-2000:] + done.stderr[-3000:])


if __name__ == "__main__":
  raise SystemExit(pytest_main(__file__))
