"""Test data through Bazel runfiles, or next to the source outside Bazel."""

import os


def locate(workspace_path, default):
  """The path of `workspace_path` (relative to the workspace root, e.g.
  "examples/dense/golden") in a Bazel test's or binary's runfiles when it is
  there (the target lists it in `data`); else `default` (usually a path
  built from `__file__`: pytest, an installed package)."""
  workspace = os.environ.get("TEST_WORKSPACE", "")
  for root in (os.environ.get("TEST_SRCDIR"), os.environ.get("RUNFILES_DIR")):
    if not root:
      continue
    for candidate in (os.path.join(root, workspace, workspace_path),
                      os.path.join(root, workspace_path)):
      if os.path.exists(candidate):
        return candidate
  return default
