"""resnet_v1_50's stages: the standard tests of slim_port/staging/stage_tests.py."""

from slim_port.staging import stage_tests
from testing.pytest_main import pytest_main

globals().update(stage_tests.test_namespace("resnet_v1_50"))

if __name__ == "__main__":
  raise SystemExit(pytest_main(__file__))
