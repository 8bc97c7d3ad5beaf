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

def migration_stages(name, stages, deps = [], data = [], srcs = None, size = "medium"):
    """A `tf1shim.staging` migration: its library and one test per stage.

    The package holds the stage modules, a module declaring the migration
    (`tf1shim.staging.Migration`, e.g. `migration.py`) and `stages_test.py`
    (`globals().update(staging.test_namespace(MIGRATION))`: a class per
    stage). Makes:
      :<name>            py_library of the listed stage modules and the
                         package's other modules (a `stage*.py` not listed
                         is left out)
      :<stage>_test      for each stage, in order: that stage's class of
                         stages_test.py (`-k TestStageN`); the environment
                         variable TF1SHIM_STAGES carries the list, which
                         `test_namespace` checks against the migration's

    Args:
      name: the library's name.
      stages: the stage modules, in order, without `.py` (explicit: the
        same list as the migration's).
      deps: what the library needs besides tf1shim.
      data: data of the library and the tests (e.g. the golden checkpoint).
      srcs: the library's other sources (default: every .py but the tests
        and the stage modules).
      size: Bazel test size of each stage's test.
    """
    others = srcs if srcs != None else native.glob(
        ["*.py"],
        exclude = ["*_test.py", "stage*.py"],
    )
    native.py_library(
        name = name,
        srcs = [stage + ".py" for stage in stages] + others,
        data = data,
        deps = ["//core:tf1shim"] + deps,
        visibility = ["//visibility:public"],
    )
    for number, stage in enumerate(stages, 1):
        native.py_test(
            name = stage + "_test",
            srcs = ["stages_test.py"],
            main = "stages_test.py",
            args = ["-k", "TestStage%d" % number],
            env = {"TF1SHIM_STAGES": ",".join(stages)},
            data = data,
            deps = [
                ":" + name,
                "//testing",
            ],
            size = size,
            python_version = "PY3",
        )

def example_stages(name, stages, size = "medium"):
    """An example under examples/: `migration_stages` on the digits, with the
    examples' shared code and the golden checkpoint in `golden/`.

    Args:
      name: the example's name (its folder).
      stages: the stage modules, in order (as in its migration.py).
      size: Bazel test size of each stage's test.
    """
    migration_stages(
        name = name,
        stages = stages,
        deps = [
            "//examples/curriculum",
            "//examples/data",
        ],
        data = native.glob(["golden/*"]),
        size = size,
    )

    # The lessons, which the curriculum's report links to.
    native.exports_files(["README.md"], visibility = ["//visibility:public"])

def slim_network(name, size = "large"):
    """A ported slim network under slim_port/: its library and its test.

    The folder holds the four stage modules, `slim_names.rules` (the naming
    table), `migration.py` (the network as a `tf1shim.staging` migration)
    and `stages_test.py` (the library's standard tests and slim's own,
    slim_port/staging/stage_tests.py). All stages run in one target, not
    one per stage as `migration_stages` makes: they share the checkpoint
    the TF1 graph writes at test time, which each target would write again
    (resnet_v1_50: 13 s of a 2-core machine), and vgg_16's 138M weights.
    """
    native.exports_files(["README.md"], visibility = ["//visibility:public"])
    native.py_library(
        name = name,
        srcs = native.glob(["*.py"], exclude = ["*_test.py"]),
        data = ["slim_names.rules"],
        deps = [
            "//core:tf1shim",
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
