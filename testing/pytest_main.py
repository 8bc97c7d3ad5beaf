"""Runs one test file with pytest: the `main` of every Bazel py_test."""

import os
import sys


def pytest_main(test_file):
  """Runs the tests in `test_file`; returns pytest's exit code."""
  import pytest  # pylint: disable=g-import-not-at-top
  os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
  args = [test_file, "-q", "-p", "no:cacheprovider", "-W",
          "ignore::DeprecationWarning"]
  # Under Bazel, report to the XML file Bazel asks for.
  xml = os.environ.get("XML_OUTPUT_FILE")
  if xml:
    args.append("--junitxml=" + xml)
  return pytest.main(args + sys.argv[1:])
