"""Tools for migrating TF1 code: the scanner (`tf1shim-migrate scan`).

`scanner.py` reads TF1 code without running it (Python's `ast`) and lists
its TF1 API uses with their status under tf1shim (`api_status.py`, data
checked against tf1shim by `core/tests/scan_test.py`); `cli.py` is the
command line. None of them imports TensorFlow: `core/tf1shim_migrate.py`
loads this package without the `tf1shim` package's `__init__`, so the
command answers at once.
"""
