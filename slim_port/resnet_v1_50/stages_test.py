"""resnet_v1_50's stages: the standard tests of `tf1shim.staging` and slim's own
(slim_port/staging/stage_tests.py)."""

from slim_port.resnet_v1_50 import migration
from slim_port.staging import stage_tests
from testing.pytest_main import pytest_main

globals().update(stage_tests.test_namespace(migration.MIGRATION,
                                            migration.NETWORK))

if __name__ == "__main__":
  raise SystemExit(pytest_main(__file__))
