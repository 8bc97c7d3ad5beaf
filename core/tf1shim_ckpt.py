"""The `ckpt` tool's launcher: `tf1shim-ckpt` and `bazel run //tools:ckpt`.

Importing the `tf1shim` package imports TensorFlow (seconds, and log lines),
but `tf1shim/checkpoints/cli.py` imports only the standard library until a
command runs. Loading cli.py by its file path, without running the
package's `__init__`, lets `--help` and usage errors answer at once.
`find_spec` of a top-level package locates it without importing it.
"""

import importlib.util
import os
import sys


def load_cli():
  """tf1shim/checkpoints/cli.py as a module, without importing tf1shim."""
  package = importlib.util.find_spec("tf1shim")
  if package is None or not package.submodule_search_locations:
    from tf1shim.checkpoints import cli  # pylint: disable=g-import-not-at-top
    return cli
  path = os.path.join(list(package.submodule_search_locations)[0],
                      "checkpoints", "cli.py")
  spec = importlib.util.spec_from_file_location("tf1shim_ckpt_cli", path)
  cli = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(cli)
  return cli


def main(argv=None):
  return load_cli().main(argv)


if __name__ == "__main__":
  sys.exit(main())
