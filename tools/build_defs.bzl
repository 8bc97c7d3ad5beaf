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

STAGES = [
    "stage1_functional_v1",
    "stage2_oo_v1",
    "stage3_partially_native",
    "stage4_fully_native",
]

def example_stages(name, stages = STAGES, srcs = None, size = "medium"):
    """An example project under examples/: its library and one test per stage.

    The example's folder holds the four stage modules, `stages_test.py`
    (the standard tests of examples/curriculum/stage_tests.py, a class per
    stage) and `golden/` (its TF1 checkpoint). Makes:
      :<name>            py_library of the stage modules (and helpers)
      :<stage>_test      for each stage: that stage's class of stages_test.py
                         (`-k TestStageN`), with the golden checkpoint as data

    Args:
      name: the example's name (its folder).
      stages: the stage modules, in order (default: the four standard ones).
      srcs: the library's sources (default: every .py but the test).
      size: Bazel test size of each stage's test.
    """
    native.py_library(
        name = name,
        srcs = srcs if srcs != None else native.glob(
            ["*.py"],
            exclude = ["*_test.py"],
        ),
        data = native.glob(["golden/*"]),
        deps = [
            "//core:tf1shim",
            "//examples/curriculum",
            "//examples/data",
        ],
        visibility = ["//visibility:public"],
    )
    for number, stage in enumerate(stages, 1):
        native.py_test(
            name = stage + "_test",
            srcs = ["stages_test.py"],
            main = "stages_test.py",
            args = ["-k", "TestStage%d" % number],
            data = native.glob(["golden/*"]),
            deps = [
                ":" + name,
                "//examples/curriculum",
                "//testing",
            ],
            size = size,
            python_version = "PY3",
        )

def slim_network(name, size = "large"):
    """A ported slim network under slim_port/: its library and its test.

    The folder holds the four stage modules, `slim_names.rules` (the naming
    table) and `stages_test.py` (the standard tests of
    slim_port/staging/stage_tests.py, all stages in one target: they share
    one TF1-written checkpoint, which is costly to write).
    """
    native.py_library(
        name = name,
        srcs = native.glob(["*.py"], exclude = ["*_test.py"]),
        data = ["slim_names.rules"],
        deps = [
            "//core:tf1shim",
            # TF1BatchNormalization: Keras 3 batch norm with TF1's update.
            "//examples/batchnorm",
            "//slim_port/staging",
        ],
        visibility = ["//visibility:public"],
    )
    native.py_test(
        name = "stages_test",
        srcs = ["stages_test.py"],
        main = "stages_test.py",
        deps = [
            ":" + name,
            "//slim_port/staging",
            "//testing",
        ],
        size = size,
        python_version = "PY3",
    )
