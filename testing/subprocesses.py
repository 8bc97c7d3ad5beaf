"""Running a Python scenario in a fresh interpreter, with this one's imports."""

import os
import subprocess
import sys


def python_env(**overrides):
  """The environment for a child Python that imports what this one does."""
  env = dict(os.environ)
  env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
  env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
  env.update(overrides)
  return env


def run_python(args, timeout=900, cwd=None, **env_overrides):
  """Runs `python *args`; returns the CompletedProcess (text, captured)."""
  return subprocess.run([sys.executable] + list(args), capture_output=True,
                        text=True, env=python_env(**env_overrides),
                        check=False, timeout=timeout, cwd=cwd)
