"""The conv example's stages: the standard tests of examples/curriculum/stage_tests.py."""

from examples.curriculum import stage_tests
from testing.pytest_main import pytest_main

globals().update(stage_tests.test_namespace("conv"))

if __name__ == "__main__":
  raise SystemExit(pytest_main(__file__))
