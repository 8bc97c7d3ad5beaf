"""The estimator example's stages: the standard tests of `tf1shim.staging`."""

from tf1shim import staging
from examples.estimator import migration
from testing.pytest_main import pytest_main

globals().update(staging.test_namespace(migration.MIGRATION))

if __name__ == "__main__":
  raise SystemExit(pytest_main(__file__))
