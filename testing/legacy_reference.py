"""A test file's TF1 reference, computed by the same file in a subprocess.

Tests of TF1 layers and cells compare tf1shim with TF1 itself: tf-keras's
legacy layers in a TF1 graph, which need `TF_USE_LEGACY_KERAS=1` before
TensorFlow is imported, so in another process. The test file runs itself
with `--reference DIR`, writes one `.npz` per scenario there, and its tests
read them back:

    reference = legacy_reference.fixture(__file__, "rnn_reference")

    def test_x(reference):
      ref = reference("lstm")            # {"output": ..., "value_0": ...}
      values = legacy_reference.records(ref, "value")
"""

import os

import numpy as np
import pytest

from testing.subprocesses import run_python


def fixture(test_file, folder_name, timeout=900):
  """A module-scoped pytest fixture: `reference(name)` -> dict of arrays.

  Args:
    test_file: the test file (`__file__`); run as
      `test_file --reference DIR` with TF_USE_LEGACY_KERAS=1.
    folder_name: the temporary folder's name (for debugging).
    timeout: seconds before the subprocess is killed and the tests fail.
  """

  @pytest.fixture(scope="module")
  def reference(tmp_path_factory):
    out_dir = str(tmp_path_factory.mktemp(folder_name))
    done = run_python([os.path.abspath(test_file), "--reference", out_dir],
                      timeout=timeout, TF_USE_LEGACY_KERAS="1")
    assert done.returncode == 0, done.stderr[-5000:]
    return lambda name: dict(np.load(os.path.join(out_dir, name + ".npz")))

  return reference


def records(record, prefix):
  """`record[prefix_0]`, `record[prefix_1]`, ... as a list."""
  count = len([k for k in record if k.startswith(prefix + "_")])
  return [record["%s_%d" % (prefix, i)] for i in range(count)]


def assert_all_close(actual, expected, what, rtol, atol):
  """Each array of `actual` close to the one of `expected` at its index."""
  assert len(actual) == len(expected), what
  for i, (a, e) in enumerate(zip(actual, expected)):
    np.testing.assert_allclose(np.asarray(a), e, rtol=rtol, atol=atol,
                               err_msg="%s %d" % (what, i))
