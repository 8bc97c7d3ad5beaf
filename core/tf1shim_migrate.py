"""The `tf1shim-migrate` launcher: `tf1shim-migrate` and `tools/dev scan`.

Importing the `tf1shim` package imports TensorFlow (seconds, and log lines),
but `tf1shim/migrate/` needs only the standard library. Loading that
package by its path, under a name of its own and without running
`tf1shim/__init__.py`, lets every command answer at once (as
`tf1shim_ckpt.py` does for `ckpt`). `find_spec` of a top-level package
locates it without importing it.
"""

import importlib
import importlib.util
import os
import sys

_PACKAGE = "_tf1shim_migrate"


def load_cli():
  """tf1shim/migrate/cli.py as a module, without importing tf1shim."""
  if _PACKAGE + ".cli" in sys.modules:
    return sys.modules[_PACKAGE + ".cli"]
  package = importlib.util.find_spec("tf1shim")
  if package is None or not package.submodule_search_locations:
    from tf1shim.migrate import cli  # pylint: disable=g-import-not-at-top
    return cli
  folder = os.path.join(list(package.submodule_search_locations)[0],
                        "migrate")
  spec = importlib.util.spec_from_file_location(
      _PACKAGE, os.path.join(folder, "__init__.py"),
      submodule_search_locations=[folder])
  module = importlib.util.module_from_spec(spec)
  sys.modules[_PACKAGE] = module
  spec.loader.exec_module(module)
  return importlib.import_module(_PACKAGE + ".cli")


def main(argv=None):
  return load_cli().main(argv)


if __name__ == "__main__":
  sys.exit(main())
