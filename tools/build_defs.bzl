"""Macros shared by the repository's BUILD files."""

def py_test_files(srcs, deps = [], data = [], size = "medium", shard_count = None, tags = []):
    """One py_test per test file: `foo_test.py` becomes target `:foo_test`.

    Every test file is a pytest module ending in
    `raise SystemExit(pytest_main(__file__))`, so `bazel test` and `pytest`
    run the same tests.

    Args:
      srcs: the test files.
      deps: py_library deps common to all of them.
      data: data files common to all of them.
      size: Bazel test size (timeout class).
      shard_count: unused by default; tests are small files.
      tags: tags for all of them.
    """
    for src in srcs:
        native.py_test(
            name = src[:-len(".py")],
            srcs = [src],
            main = src,
            deps = deps,
            data = data,
            size = size,
            shard_count = shard_count,
            tags = tags,
            python_version = "PY3",
        )
