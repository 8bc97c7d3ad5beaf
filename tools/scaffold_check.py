"""CI's check of the scaffolder inside this repository, under Bazel.

    tools/dev check-scaffold

A team's model file (testing/scaffold_models.py: a function that appears
nowhere else in the repository) is written to a temporary folder outside the
repository, scaffolded *into* it as a package (`tf1shim-migrate new
<package> --from FILE:glyph_net ...`), and the package's targets run with
`bazel test`: stage 1's must pass with every test run, stages 2-4's must be
skipped with their lesson. core/tests/scaffold_test.py checks the same with
pytest (a test cannot start Bazel inside Bazel); this is the `bazel test`
half, a step of `.ci/run`. The package and the model file are removed in
every outcome. Exits 0 when the check holds; prints one line per finding.
"""

import os
import shutil
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ElementTree

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path[:0] = [ROOT]
from testing.scaffold_models import THEIR_MODEL  # pylint: disable=g-import-not-at-top,wrong-import-position

STAGES = ["stage1_functional_v1", "stage2_oo_v1", "stage3_partially_native",
          "stage4_fully_native"]
# Generous: the first `bazel test` of a package builds its runfiles; a hung
# test is stopped by Bazel's own per-test timeout well before this.
TIMEOUT_S = 1800


def _results(package, stage):
  """(tests, failures + errors, skipped, skip messages) of a stage's
  target, from Bazel's test.xml."""
  path = os.path.join(ROOT, "bazel-testlogs", package,
                      stage + "_test", "test.xml")
  tests = failed = skipped = 0
  messages = []
  for case in ElementTree.parse(path).iter("testcase"):
    tests += 1
    if case.find("failure") is not None or case.find("error") is not None:
      failed += 1
    skip = case.find("skipped")
    if skip is not None:
      skipped += 1
      messages.append(skip.get("message", ""))
  return tests, failed, skipped, messages


def check(package):
  """Findings (empty when the check holds)."""
  findings = []
  tests, failed, skipped, _ = _results(package, STAGES[0])
  if not tests or failed or skipped:
    findings.append("stage 1: %d tests, %d failed, %d skipped (want all "
                    "run and passing)" % (tests, failed, skipped))
  for number, stage in enumerate(STAGES[1:], start=2):
    tests, failed, skipped, messages = _results(package, stage)
    lesson = "stage %d (%s) is still a template: follow the stage %d " \
             "lesson" % (number, stage, number)
    if not tests or failed or skipped != tests or not all(
        lesson in m for m in messages):
      findings.append("stage %d: %d tests, %d failed, %d skipped (want all "
                      "skipped with %r)" % (number, tests, failed, skipped,
                                             lesson))
  return findings


def main():
  package = "scaffold_check_%d" % os.getpid()
  dest = os.path.join(ROOT, package)
  outside = tempfile.mkdtemp(prefix="their_code_")
  try:
    model_file = os.path.join(outside, "glyphs.py")
    with open(model_file, "w") as f:
      f.write(THEIR_MODEL)
    env = dict(os.environ, PYTHONPATH=os.path.join(ROOT, "core"))
    subprocess.run(
        [sys.executable, os.path.join(ROOT, "core", "tf1shim_migrate.py"),
         "new", dest, "--from", model_file + ":glyph_net", "--input-shape",
         "6,6,1", "--num-classes", "3"], env=env, check=True,
        timeout=TIMEOUT_S)
    done = subprocess.run(
        ["bazel", "test", "//%s/..." % package, "--test_output=errors"],
        cwd=ROOT, check=False, timeout=TIMEOUT_S)
    if done.returncode != 0:
      print("scaffold check: `bazel test //%s/...` failed (exit %d)" %
            (package, done.returncode))
      return 1
    findings = check(package)
    for finding in findings:
      print("scaffold check: " + finding)
    if findings:
      return 1
    print("scaffold check: stage 1 of a scaffolded package passes under "
          "bazel test, stages 2-4 skip with their lessons")
    return 0
  finally:
    shutil.rmtree(dest, ignore_errors=True)
    shutil.rmtree(outside, ignore_errors=True)


if __name__ == "__main__":
  raise SystemExit(main())
