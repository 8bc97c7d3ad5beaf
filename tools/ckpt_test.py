"""The `ckpt` command-line tool on real Saver-written checkpoints."""

import contextlib
import errno
import hashlib
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest
import tensorflow as tf

from tf1shim.checkpoints import cli
from tf1shim.checkpoints import outputs
from testing import rnn_checkpoint_models as rnn_models
from testing import tf1_checkpoints
from testing.pytest_main import pytest_main
from testing.subprocesses import python_env
from testing.subprocesses import run_python

MODELS = textwrap.dedent('''
    import numpy as np
    from testing import tf1_checkpoints
    from testing.shim_models import ShimLayer

    def build_native():
      return tf1_checkpoints.built_native_model(name="native")

    def build_shim():
      model = ShimLayer(tf1_checkpoints.tf1_model)
      model(np.zeros([1, 8, 8, 3], np.float32))
      return model

    def broken():
      raise RuntimeError("this factory is broken")

    def not_a_model():
      return "a string, not a model"

    def paused_native():
      """build_native, whose first dataset write touches $CKPT_MARKER and
      waits: the test signals the process while its output is staged."""
      import os, time, h5py
      original = h5py.Dataset.write_direct

      def write_direct(self, *args, **kwargs):
        marker = os.environ["CKPT_MARKER"]
        if not os.path.exists(marker):
          open(marker, "w").close()
          time.sleep(60)
        return original(self, *args, **kwargs)

      h5py.Dataset.write_direct = write_direct
      return build_native()
''')
# Both of the head's variables to one TF1 name (first matching rule wins).
DUPLICATE_RULES = (
    r"^native(_model)?(_\d+)?/dense(_\d+)?/(kernel|bias)$ -> "
    "model/head/projection/w\n" + tf1_checkpoints.NATIVE_RULES)
RULES = tf1_checkpoints.NATIVE_RULES


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
  root = tmp_path_factory.mktemp("ckpt")
  (root / "models.py").write_text(MODELS)
  (root / "native.rules").write_text(RULES)
  (root / "duplicate.rules").write_text(DUPLICATE_RULES)
  before, _ = tf1_checkpoints.write_tf1_checkpoint(str(root / "before"),
                                                   steps=1)
  after, _ = tf1_checkpoints.write_tf1_checkpoint(str(root / "after"),
                                                  steps=4)
  return root, before, after


def ckpt(workspace, *args, env=None):
  """Runs tools/ckpt.py in the workspace folder (where models.py is)."""
  root = workspace[0]
  program = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                         "ckpt.py")
  return run_python([program] + list(args), cwd=str(root), timeout=300,
                    PYTHONPATH=os.pathsep.join([str(root)] + sys.path),
                    **(env or {}))


def test_help_has_examples(workspace):
  done = ckpt(workspace, "--help")
  assert done.returncode == 0
  assert "examples:" in done.stdout and "ckpt convert" in done.stdout


def test_inspect_json_lists_every_entry_with_statistics(workspace):
  _, before, _ = workspace
  done = ckpt(workspace, "inspect", before, "--json")
  assert done.returncode == 0, done.stderr
  entries = {e["name"]: e for e in json.loads(done.stdout)["entries"]}
  assert entries["model/head/projection/w"]["shape"] == [36, 5]
  w = tf1_checkpoints.read_entry(before, "model/head/projection/w")
  assert entries["model/head/projection/w"]["max"] == pytest.approx(
      float(w.max()))
  assert entries["global_step"]["dtype"] == "int64"


def test_diff_reports_changed_values_and_exits_1(workspace):
  _, before, after = workspace
  done = ckpt(workspace, "diff", before, after, "--json")
  assert done.returncode == 1
  result = json.loads(done.stdout)
  changed = {c["name"]: c["max_abs_diff"] for c in result["changed"]}
  w_before = tf1_checkpoints.read_entry(before, "model/conv2d/kernel")
  w_after = tf1_checkpoints.read_entry(after, "model/conv2d/kernel")
  assert changed["model/conv2d/kernel"] == pytest.approx(
      float(np.max(np.abs(w_before - w_after))))
  same = ckpt(workspace, "diff", before, before)
  assert same.returncode == 0 and "identical" in same.stdout


def test_map_and_verify_with_rules_and_without(workspace):
  _, _, after = workspace
  done = ckpt(workspace, "map", after, "--model", "models:build_native",
              "--rules", "native.rules", "--json")
  assert done.returncode == 0, done.stdout + done.stderr
  mapping = json.loads(done.stdout)["mapping"]
  assert mapping["native/dense/kernel"] == "model/head/projection/w"
  ok = ckpt(workspace, "verify", after, "--model", "models:build_native",
            "--rules", "native.rules")
  assert ok.returncode == 0 and "OK" in ok.stdout
  bad = ckpt(workspace, "verify", after, "--model", "models:build_native")
  assert bad.returncode == 1 and "missing in checkpoint" in bad.stdout
  auto = ckpt(workspace, "verify", after, "--model", "models:build_native",
              "--auto")
  assert auto.returncode == 0, auto.stdout + auto.stderr


def test_convert_keras_tf2_and_back_to_tf1(workspace):
  root, _, after = workspace
  keras_out = str(root / "native.weights.h5")
  done = ckpt(workspace, "convert", after, "--model", "models:build_native",
              "--rules", "native.rules", "--to", "keras", keras_out)
  assert done.returncode == 0, done.stdout + done.stderr
  tf2_out = str(root / "tf2")
  os.makedirs(tf2_out, exist_ok=True)
  done = ckpt(workspace, "convert", after, "--model", "models:build_shim",
              "--to", "tf2", os.path.join(tf2_out, "ckpt"))
  assert done.returncode == 0, done.stdout + done.stderr
  back_dir = root / "back"
  back_dir.mkdir(exist_ok=True)
  done = ckpt(workspace, "convert", keras_out, "--model",
              "models:build_native", "--rules", "native.rules", "--to", "tf1",
              str(back_dir / "model.ckpt"))
  assert done.returncode == 0, done.stdout + done.stderr
  diff = ckpt(workspace, "diff", after, str(back_dir / "model.ckpt"),
              "--json")
  result = json.loads(diff.stdout)
  # Bitwise equal; only the TF1 training state was not carried over.
  assert result["changed"] == [] and result["reshaped"] == []
  assert result["removed"] == ["global_step"] and result["added"] == []


@pytest.mark.parametrize("args, message", [
    (["inspect", "missing/model.ckpt"], "index file .* does not exist"),
    (["verify", "{after}", "--model", "nomodule:build"],
     "Cannot import module 'nomodule'"),
    (["verify", "{after}", "--model", "models:broken"],
     "factory models:broken failed"),
    (["verify", "{after}", "--model", "models:build_native", "--rules",
      "missing.rules"], "Cannot read rules file"),
])
def test_bad_input_is_a_clear_error_with_exit_2(workspace, args, message):
  import re  # pylint: disable=g-import-not-at-top
  _, _, after = workspace
  done = ckpt(workspace, *[a.format(after=after) for a in args])
  assert done.returncode == 2
  assert re.search(message, done.stderr), done.stderr


def test_truncated_checkpoint_conversion_is_exit_2_and_leaves_nothing(
    workspace):
  import shutil  # pylint: disable=g-import-not-at-top
  root, _, after = workspace
  cut_dir = root / "cut"
  cut_dir.mkdir(exist_ok=True)
  for path in os.listdir(os.path.dirname(after)):
    if path.startswith(os.path.basename(after) + "."):
      shutil.copy(os.path.join(os.path.dirname(after), path), cut_dir)
  cut = str(cut_dir / os.path.basename(after))
  data = [p for p in os.listdir(cut_dir) if ".data-" in p][0]
  with open(cut_dir / data, "r+b") as f:
    f.truncate(os.path.getsize(cut_dir / data) // 3)
  out_dir = root / "cut_out"
  out_dir.mkdir(exist_ok=True)
  done = ckpt(workspace, "convert", cut, "--model", "models:build_native",
              "--rules", "native.rules", "--to", "keras",
              str(out_dir / "m.weights.h5"))
  assert done.returncode == 2, done.stdout + done.stderr
  assert "corrupt or truncated" in done.stderr
  assert list(out_dir.iterdir()) == []


def test_failed_conversion_leaves_nothing(workspace):
  root, _, after = workspace
  out_dir = root / "empty"
  out_dir.mkdir(exist_ok=True)
  done = ckpt(workspace, "convert", after, "--model", "models:build_native",
              "--to", "keras", str(out_dir / "m.weights.h5"))
  assert done.returncode == 1 and "missing" in done.stdout
  assert list(out_dir.iterdir()) == []



# Item by item, the ways issue 10 found to lose data or fail badly. Most run
# the tool in this process (`run`: seconds less per call); the ones about
# the process itself (signals, logs, --help) run it as a program.


def run(workspace, *args):
  """cli.main(args) in the workspace folder: (exit code, stdout, stderr)."""
  root = workspace[0]
  out, err = io.StringIO(), io.StringIO()
  cwd = os.getcwd()
  os.chdir(root)
  try:
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
      try:
        code = cli.main([str(a) for a in args])
      except SystemExit as e:
        code = e.code
  finally:
    os.chdir(cwd)
  return code, out.getvalue(), err.getvalue()


def assert_bad_input(result, *fragments):
  """Exit 2 and one line on stderr, `error: ...`, holding `fragments`."""
  code, stdout, stderr = result
  assert code == 2, (code, stdout, stderr)
  assert stderr.startswith("error: ") and stderr.count("\n") == 1, stderr
  assert "Traceback" not in stderr + stdout
  for fragment in fragments:
    assert fragment in stderr, (fragment, stderr)


def copy_checkpoint(prefix, directory):
  os.makedirs(directory, exist_ok=True)
  for path in tf.io.gfile.glob(prefix + ".*"):
    shutil.copy(path, directory)
  return os.path.join(str(directory), os.path.basename(prefix))


def snapshot(folder):
  """{relative path: sha256} of every file under `folder`."""
  found = {}
  for parent, _, files in os.walk(folder):
    for name in files:
      path = os.path.join(parent, name)
      with open(path, "rb") as f:
        found[os.path.relpath(path, folder)] = hashlib.sha256(
            f.read()).hexdigest()
  return found


def flip(path, offset):
  with open(path, "r+b") as f:
    f.seek(offset)
    byte = f.read(1)
    f.seek(offset)
    f.write(bytes([byte[0] ^ 0x01]))


def data_file(prefix):
  return tf.io.gfile.glob(prefix + ".data-*")[0]


@pytest.fixture(scope="module")
def keras_weights(workspace):
  root, _, after = workspace
  path = str(root / "source" / "native.weights.h5")
  os.makedirs(os.path.dirname(path), exist_ok=True)
  code, out, err = run(workspace, "convert", after, "--model",
                       "models:build_native", "--rules", "native.rules",
                       "--to", "keras", path)
  assert code == 0, out + err
  return path


# 1. Two variables mapped to one TF1 name.
def test_tf1_target_refuses_two_variables_with_one_name(workspace,
                                                        keras_weights,
                                                        tmp_path):
  code, out, err = run(workspace, "convert", keras_weights, "--model",
                       "models:build_native", "--rules", "duplicate.rules",
                       "--to", "tf1", tmp_path / "model.ckpt")
  assert code == 1, out + err
  assert "same TF1 name" in out and "model/head/projection/w <- " in out
  assert "Wrote" not in out
  assert list(tmp_path.iterdir()) == []


# 2. convert TF2_PREFIX --to tf1 TF2_PREFIX.
def test_tf2_to_tf1_refuses_to_overwrite_its_input(workspace, tmp_path):
  _, _, after = workspace
  tf2 = str(tmp_path / "ckpt")
  code, out, err = run(workspace, "convert", after, "--model",
                       "models:build_shim", "--to", "tf2", tf2)
  assert code == 0, out + err
  before = snapshot(tmp_path)
  for force in ([], ["--force"]):
    assert_bad_input(run(workspace, "convert", tf2, "--model",
                         "models:build_shim", "--to", "tf1", tf2, *force),
                     "it is the input")
  assert snapshot(tmp_path) == before


# 3. An output through a symlinked folder that resolves to the input.
def test_output_through_a_symlinked_folder_is_not_the_input(workspace,
                                                           tmp_path):
  _, _, after = workspace
  prefix = copy_checkpoint(after, tmp_path / "in")
  os.symlink(tmp_path / "in", tmp_path / "link")
  through_link = str(tmp_path / "link" / os.path.basename(prefix))
  before = snapshot(tmp_path / "in")
  for to, model in (("tf2", "models:build_shim"),
                    ("tf1", "models:build_shim")):
    for force in ([], ["--force"]):
      source = prefix
      if to == "tf1":  # from a TF2 checkpoint, onto itself through the link
        source = str(tmp_path / "tf2" / "ckpt")
        if not os.path.exists(source + ".index"):
          os.makedirs(os.path.dirname(source))
          assert run(workspace, "convert", prefix, "--model", model, "--to",
                     "tf2", source)[0] == 0
          os.symlink(tmp_path / "tf2", tmp_path / "tf2link")
        through = str(tmp_path / "tf2link" / "ckpt")
      else:
        through = through_link
      tf2_before = snapshot(tmp_path / "tf2") if to == "tf1" else None
      assert_bad_input(run(workspace, "convert", source, "--model", model,
                           "--to", to, through, *force), "it is the input")
      if tf2_before is not None:
        assert snapshot(tmp_path / "tf2") == tf2_before
  assert snapshot(tmp_path / "in") == before


def test_output_hard_linked_to_the_input_is_refused(workspace, tmp_path):
  _, _, after = workspace
  prefix = copy_checkpoint(after, tmp_path / "in")
  os.makedirs(tmp_path / "out")
  out = str(tmp_path / "out" / "model.ckpt")
  for path in tf.io.gfile.glob(prefix + ".*"):
    if path.endswith(".index") or ".data-" in path:
      os.link(path, out + path[len(prefix):])
  before = snapshot(tmp_path / "in")
  assert_bad_input(run(workspace, "convert", prefix, "--model",
                       "models:build_shim", "--to", "tf2", out, "--force"),
                   "it is the input", "through a link")
  assert snapshot(tmp_path / "in") == before


# 4. verify checks the data, not only the index.
@pytest.mark.parametrize("damage", ["flip", "truncate"])
def test_verify_checks_every_byte_of_the_data(workspace, tmp_path, damage):
  _, _, after = workspace
  prefix = copy_checkpoint(after, tmp_path)
  data = data_file(prefix)
  if damage == "flip":
    flip(data, os.path.getsize(data) - 3)
  else:
    with open(data, "r+b") as f:
      f.truncate(os.path.getsize(data) - 1)
  assert_bad_input(run(workspace, "verify", prefix, "--model",
                       "models:build_native", "--rules", "native.rules"),
                   prefix, "checksum" if damage == "flip" else "truncated")
  ok = run(workspace, "verify", after, "--model", "models:build_native",
           "--rules", "native.rules")
  assert ok[0] == 0 and "every byte" not in ok[2]
  assert "match their checksums" in ok[1]


# 5. inspect and diff on damaged data.
def test_inspect_and_diff_on_damaged_data_are_one_error_line(workspace,
                                                            tmp_path):
  _, before, after = workspace
  prefix = copy_checkpoint(after, tmp_path)
  flip(data_file(prefix), 5)
  for args in (["inspect", prefix], ["inspect", prefix, "--json"],
               ["diff", before, prefix], ["diff", prefix, prefix, "--json"]):
    assert_bad_input(run(workspace, *args), "do not match their checksum")


# 6. --to tf1 --auto.
def test_to_tf1_with_auto_is_refused(workspace, keras_weights, tmp_path):
  assert_bad_input(run(workspace, "convert", keras_weights, "--model",
                       "models:build_native", "--auto", "--to", "tf1",
                       tmp_path / "model.ckpt"), "--auto", "--rules")
  assert list(tmp_path.iterdir()) == []


# 7. A stale shard beside a valid checkpoint.
def test_stale_shards_beside_a_valid_checkpoint_are_ignored(workspace,
                                                            tmp_path):
  _, _, after = workspace
  prefix = copy_checkpoint(after, tmp_path)
  # What a 22-shard checkpoint of the same prefix left; the index says 1.
  for i in range(21):
    with open("%s.data-%05d-of-00022" % (prefix, i), "wb") as f:
      f.write(b"old shard")
  code, out, err = run(workspace, "inspect", prefix, "--json")
  assert code == 0, err
  entries = {e["name"]: e for e in json.loads(out)["entries"]}
  w = tf1_checkpoints.read_entry(prefix, "model/head/projection/w")
  assert entries["model/head/projection/w"]["max"] == pytest.approx(
      float(w.max()))
  code, out, err = run(workspace, "verify", prefix, "--model",
                       "models:build_native", "--rules", "native.rules")
  assert code == 0, out + err


# 8. Signals, and the staging folders of killed runs.
def start_paused_conversion(workspace, out_dir, marker):
  root = workspace[0]
  env = python_env(PYTHONPATH=os.pathsep.join([str(root)] + sys.path),
                   CKPT_MARKER=str(marker))
  cli_path = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                          "ckpt.py")
  process = subprocess.Popen(
      [sys.executable, cli_path, "convert", workspace[2], "--model",
       "models:paused_native", "--rules", "native.rules", "--to", "keras",
       str(out_dir / "m.weights.h5")], cwd=str(root), env=env,
      stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
  deadline = time.time() + 120
  while not os.path.exists(marker):
    assert process.poll() is None, process.communicate()
    assert time.time() < deadline, "the conversion never started writing"
    time.sleep(0.1)
  staging = [p for p in os.listdir(out_dir)
             if p.startswith(outputs.STAGING_PREFIX)]
  assert len(staging) == 1, os.listdir(out_dir)
  return process


@pytest.mark.parametrize("signum, code", [(signal.SIGTERM, 143),
                                          (signal.SIGINT, 130)])
def test_a_signal_mid_conversion_is_one_line_and_leaves_nothing(
    workspace, tmp_path, signum, code):
  out_dir = tmp_path / "out"
  out_dir.mkdir()
  process = start_paused_conversion(workspace, out_dir, tmp_path / "marker")
  process.send_signal(signum)
  stdout, stderr = process.communicate(timeout=120)
  assert process.returncode == code, (stdout, stderr)
  assert stderr.startswith("error: interrupted (%s)" % signum.name), stderr
  assert stderr.count("\n") == 1 and "Traceback" not in stderr
  assert os.listdir(out_dir) == []


def test_the_next_run_removes_a_killed_runs_staging_not_a_live_ones(
    workspace, tmp_path):
  out_dir = tmp_path / "out"
  out_dir.mkdir()
  killed = start_paused_conversion(workspace, out_dir, tmp_path / "marker")
  killed.kill()  # SIGKILL: no cleanup possible
  killed.communicate(timeout=60)
  left = [p for p in os.listdir(out_dir)]
  assert len(left) == 1 and left[0].startswith(outputs.STAGING_PREFIX)
  # A live run's staging folder, in another process, holding its lock.
  live = subprocess.Popen(
      [sys.executable, "-c", textwrap.dedent("""
          import sys, time
          from tf1shim.checkpoints import outputs
          with outputs.Staging(sys.argv[1]) as staging:
            print(staging.path, flush=True)
            time.sleep(120)
          """), str(out_dir)], env=python_env(), stdout=subprocess.PIPE,
      text=True)
  try:
    live_path = live.stdout.readline().strip()
    assert os.path.isdir(live_path)
    code, out, err = run(workspace, "convert", workspace[2], "--model",
                         "models:build_native", "--rules", "native.rules",
                         "--to", "keras", out_dir / "m.weights.h5")
    assert code == 0, out + err
    assert sorted(os.listdir(out_dir)) == sorted(
        ["m.weights.h5", os.path.basename(live_path)])
  finally:
    live.kill()
    live.communicate(timeout=60)


# 9. One-line errors instead of tracebacks.
def test_output_folder_under_a_file_is_one_line(workspace, tmp_path):
  (tmp_path / "file").write_text("not a folder")
  assert_bad_input(run(workspace, "convert", workspace[2], "--model",
                       "models:build_native", "--rules", "native.rules",
                       "--to", "keras", tmp_path / "file" / "m.weights.h5"),
                   "not a folder")


@pytest.mark.parametrize("to", ["keras", "tf2"])
def test_output_path_that_is_a_folder_is_one_line(workspace, tmp_path, to):
  target = tmp_path / ("m.weights.h5" if to == "keras" else "ckpt")
  target.mkdir()
  model = (["--model", "models:build_native", "--rules", "native.rules"]
           if to == "keras" else ["--model", "models:build_shim"])
  assert_bad_input(run(workspace, "convert", workspace[2], *model, "--to",
                       to, target), "is a folder")


@pytest.fixture
def small_tmpfs(tmp_path):
  """A 64 KiB tmpfs (a full disk) and a read-only one; skips where this
  process may not mount (not root, or no mount namespace)."""
  full, readonly = tmp_path / "full", tmp_path / "readonly"
  full.mkdir()
  readonly.mkdir()
  mounted = []
  try:
    for folder, options in ((full, "size=64k"), (readonly, "size=64k")):
      done = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs",
                             str(folder)], capture_output=True, text=True,
                            timeout=30, check=False)
      if done.returncode != 0:
        pytest.skip("cannot mount a tmpfs here: %s" % done.stderr.strip())
      mounted.append(folder)
    subprocess.run(["mount", "-o", "remount,ro", str(readonly)], check=True,
                   timeout=30)
    yield full, readonly
  finally:
    for folder in mounted:
      subprocess.run(["umount", "-l", str(folder)], check=False, timeout=30)


@pytest.mark.parametrize("to", ["keras", "tf2", "tf1"])
def test_full_disk_and_read_only_folder_are_one_line(workspace, small_tmpfs,
                                                      keras_weights, to):
  _, _, after = workspace
  source, model, rules = {
      "keras": (after, "models:build_native", ["--rules", "native.rules"]),
      "tf2": (after, "models:build_shim", []),
      "tf1": (keras_weights, "models:build_native", ["--rules",
                                                      "native.rules"]),
  }[to]
  full, readonly = small_tmpfs
  # Fill the disk but a few bytes: the conversion's writes fail.
  with open(full / "filler", "wb") as f:
    try:
      f.write(b"x" * (64 << 10))
    except OSError as e:
      assert e.errno == errno.ENOSPC
  name = "m.weights.h5" if to == "keras" else "model.ckpt"
  assert_bad_input(run(workspace, "convert", source, "--model", model,
                       *rules, "--to", to, full / name), "Cannot write",
                   "No space left on device")
  assert os.listdir(full) == ["filler"]
  assert_bad_input(run(workspace, "convert", source, "--model", model,
                       *rules, "--to", to, readonly / name),
                   "Read-only file system")


def test_full_disk_simulated_is_one_line(workspace, keras_weights, tmp_path,
                                         monkeypatch):
  """The same without a mount (which needs root): the writers fail as they
  do on a full disk (h5py: OSError ENOSPC; TensorFlow: RESOURCE_EXHAUSTED
  "No space left on device")."""
  import h5py  # pylint: disable=g-import-not-at-top
  _, _, after = workspace

  def no_space(*unused_args, **unused_kwargs):
    raise OSError(errno.ENOSPC, "No space left on device")

  def no_space_tf(*unused_args, **unused_kwargs):
    raise tf.errors.ResourceExhaustedError(
        None, None, "model.ckpt.tempstate; No space left on device")

  monkeypatch.setattr(h5py.Dataset, "write_direct", no_space)
  monkeypatch.setattr(tf.raw_ops, "SaveV2", no_space_tf)
  assert_bad_input(run(workspace, "convert", after, "--model",
                       "models:build_native", "--rules", "native.rules",
                       "--to", "keras", tmp_path / "m.weights.h5"),
                   "Cannot write", "No space left on device")
  assert_bad_input(run(workspace, "convert", keras_weights, "--model",
                       "models:build_native", "--rules", "native.rules",
                       "--to", "tf1", tmp_path / "model.ckpt"),
                   "Cannot write", "No space left on device")
  assert os.listdir(tmp_path) == []


def test_factory_returning_a_non_model_is_one_line(workspace):
  assert_bad_input(run(workspace, "verify", workspace[2], "--model",
                       "models:not_a_model"), "models:not_a_model returned",
                   "builtins.str")


def test_bad_rules_files_are_one_line(workspace, tmp_path):
  bad_group = tmp_path / "group.rules"
  # Matches every variable (two groups), refers to a third.
  bad_group.write_text(r"^(.*)/(kernel|bias|gamma|beta|moving_mean|"
                       r"moving_variance)$ -> model/\3" + "\n")
  assert_bad_input(run(workspace, "verify", workspace[2], "--model",
                       "models:build_native", "--rules", bad_group),
                   "group.rules:1: invalid replacement",
                   "invalid group reference 3")
  latin1 = tmp_path / "latin1.rules"
  latin1.write_bytes("# caf\u00e9\n^a -> b\n".encode("latin-1"))
  assert_bad_input(run(workspace, "verify", workspace[2], "--model",
                       "models:build_native", "--rules", latin1),
                   "latin1.rules is not UTF-8")


# 10. Output-path errors are exit 2 with `error:` on stderr.
def test_missing_output_folder_is_bad_input(workspace, tmp_path):
  code, out, err = run(workspace, "convert", workspace[2], "--model",
                       "models:build_native", "--rules", "native.rules",
                       "--to", "keras", tmp_path / "nowhere" / "m.weights.h5")
  assert_bad_input((code, out, err), "does not exist")
  assert out == ""


# 11. Existing outputs: refused unless --force; --force leaves no stale
# shard.
def test_existing_output_is_refused_without_force(workspace, tmp_path):
  _, before, after = workspace
  out = tmp_path / "m.weights.h5"
  args = ["convert", after, "--model", "models:build_native", "--rules",
          "native.rules", "--to", "keras", out]
  assert run(workspace, *args)[0] == 0
  kept = snapshot(tmp_path)
  assert_bad_input(run(workspace, *args), "exists", "--force")
  assert snapshot(tmp_path) == kept
  args[1] = before
  code, stdout, stderr = run(workspace, *args, "--force")
  assert code == 0, stdout + stderr
  assert snapshot(tmp_path) != kept and os.listdir(tmp_path) == [out.name]
  model = tf1_checkpoints.built_native_model()
  model.load_weights(str(out))
  np.testing.assert_array_equal(
      model.weights[0].numpy(),
      tf1_checkpoints.read_entry(before, "model/conv2d/kernel"))


def test_force_replaces_a_checkpoint_and_its_old_shards(workspace,
                                                        tmp_path):
  _, before, after = workspace
  out = str(tmp_path / "ckpt")
  assert run(workspace, "convert", after, "--model", "models:build_shim",
             "--to", "tf2", out)[0] == 0
  # Shards of an older, 22-shard checkpoint of the same prefix.
  for i in range(22):
    with open("%s.data-%05d-of-00022" % (out, i), "wb") as f:
      f.write(b"old shard")
  assert_bad_input(run(workspace, "convert", before, "--model",
                       "models:build_shim", "--to", "tf2", out), "--force")
  code, stdout, stderr = run(workspace, "convert", before, "--model",
                             "models:build_shim", "--to", "tf2", out,
                             "--force")
  assert code == 0, stdout + stderr
  assert sorted(os.listdir(tmp_path)) == ["ckpt.data-00000-of-00001",
                                          "ckpt.index"]
  reader = tf.train.load_checkpoint(out)
  key = [k for k in reader.get_variable_to_shape_map()
         if k.endswith("kernel/.ATTRIBUTES/VARIABLE_VALUE")][0]
  np.testing.assert_array_equal(
      reader.get_tensor(key),
      tf1_checkpoints.read_entry(before, "model/conv2d/kernel"))


# 12. NaNs: diff A A is identical; inspect --json is valid JSON.
@pytest.fixture(scope="module")
def nan_checkpoint(tmp_path_factory):
  directory = str(tmp_path_factory.mktemp("nan"))
  with tf.Graph().as_default():
    tf.compat.v1.get_variable("weird", initializer=np.array(
        [np.nan, 1.0, np.inf, -np.inf, -2.0], np.float32))
    tf.compat.v1.get_variable("all_nan", initializer=np.full(
        [3], np.nan, np.float64))
    saver = tf.compat.v1.train.Saver()
    with tf.compat.v1.Session() as sess:
      sess.run(tf.compat.v1.global_variables_initializer())
      return saver.save(sess, os.path.join(directory, "model.ckpt"))


def strict_json(text):
  def refuse(constant):
    raise ValueError("not JSON: %s" % constant)
  return json.loads(text, parse_constant=refuse)


def test_nans_diff_equal_and_inspect_writes_valid_json(workspace,
                                                       nan_checkpoint,
                                                       tmp_path):
  code, out, err = run(workspace, "diff", nan_checkpoint, nan_checkpoint)
  assert code == 0 and "identical" in out, out + err
  code, out, err = run(workspace, "inspect", nan_checkpoint, "--json")
  assert code == 0, err
  entries = {e["name"]: e for e in strict_json(out)["entries"]}
  assert entries["weird"]["min"] == -2.0 and entries["weird"]["max"] == 1.0
  assert entries["weird"]["nan"] == 1 and entries["weird"]["inf"] == 2
  assert entries["all_nan"]["min"] is None and entries["all_nan"]["nan"] == 3
  # One NaN against a number is a difference, and JSON says so validly.
  with tf.Graph().as_default():
    tf.compat.v1.get_variable("weird", initializer=np.array(
        [0.5, 1.0, np.inf, -np.inf, -2.5], np.float32))
    tf.compat.v1.get_variable("all_nan", initializer=np.full(
        [3], np.nan, np.float64))
    saver = tf.compat.v1.train.Saver()
    with tf.compat.v1.Session() as sess:
      sess.run(tf.compat.v1.global_variables_initializer())
      other = saver.save(sess, str(tmp_path / "model.ckpt"))
  code, out, err = run(workspace, "diff", nan_checkpoint, other, "--json")
  assert code == 1, err
  assert strict_json(out)["changed"] == [
      {"name": "weird", "max_abs_diff": 0.5, "nonfinite": 1}]


# 13. --help without TensorFlow; TensorFlow's log lines only with --verbose.
def test_help_does_not_import_tensorflow(workspace):
  cli_path = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                          "ckpt.py")
  probe = textwrap.dedent("""
      import runpy, sys
      sys.argv = ["ckpt", "--help"]
      try:
        runpy.run_path(%r, run_name="__main__")
      except SystemExit as e:
        assert e.code == 0, e.code
      print("TENSORFLOW" if "tensorflow" in sys.modules else "NO TENSORFLOW")
      """ % cli_path)
  done = run_python(["-c", probe], timeout=120, cwd=str(workspace[0]))
  assert done.returncode == 0, done.stderr
  assert "examples:" in done.stdout
  assert done.stdout.strip().endswith("NO TENSORFLOW"), done.stdout
  assert done.stderr == ""


def test_tensorflow_logs_only_with_verbose(workspace):
  _, _, after = workspace
  quiet = ckpt(workspace, "inspect", after, env={"TF_CPP_MIN_LOG_LEVEL": "0"})
  assert quiet.returncode == 0 and quiet.stderr == "", quiet.stderr
  loud = ckpt(workspace, "inspect", after, "--verbose",
              env={"TF_CPP_MIN_LOG_LEVEL": "0"})
  assert loud.returncode == 0 and loud.stderr != ""


def test_exit_codes_of_the_program(workspace, tmp_path):
  """The README's table, from a real process: one `error:` line and 2 for
  bad input, 1 for a mismatch, 0 for success."""
  _, before, after = workspace
  bad = ckpt(workspace, "inspect", str(tmp_path / "missing"))
  assert bad.returncode == 2 and bad.stdout == ""
  assert bad.stderr.startswith("error: ") and bad.stderr.count("\n") == 1
  usage = ckpt(workspace, "convert", after)
  assert usage.returncode == 2 and usage.stderr.startswith("error: ")
  assert usage.stderr.count("\n") == 1
  assert ckpt(workspace, "diff", before, after).returncode == 1
  assert ckpt(workspace, "diff", after, after).returncode == 0


# 11. Rules that transform tensors (issue 12): a TF1 LSTM and GRU, written
# by TF1 code (tf1shim.rnn's cells in a TF1 graph, Saver), into Keras 3's
# LSTM and GRU(reset_after=False), and back.

# The --model/--reference factories of the TF1 and Keras RNN models.
RNN = "testing.rnn_checkpoint_models:"


@pytest.fixture(scope="module")
def rnn_workspace(workspace):
  """Writes the rules, one batch of inputs and TF1 LSTM and GRU checkpoints
  (testing/rnn_checkpoint_models.py: random variables, so every gate block
  differs) into the workspace; returns {name: path}, the TF1 graphs'
  outputs, the models' module and the batch."""
  root = workspace[0]
  (root / "lstm.rules").write_text(rnn_models.LSTM_RULES)
  (root / "gru.rules").write_text(rnn_models.GRU_RULES)
  (root / "wrong_gates.rules").write_text(rnn_models.WRONG_GATES)
  np.save(root / "batch.npy", rnn_models.X)
  paths, outputs = {}, {}
  for name, model_fn in (("lstm", rnn_models.tf1_lstm),
                         ("gru", rnn_models.tf1_gru)):
    paths[name], outputs[name] = rnn_models.write_tf1_checkpoint(
        str(root / ("tf1_" + name)), model_fn)
  return paths, outputs, rnn_models, rnn_models.X


@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_rnn_round_trip_tf1_to_keras_weights_to_tf1(workspace, rnn_workspace,
                                                     kind, tmp_path):
  paths, outputs, models, x = rnn_workspace
  weights = tmp_path / (kind + ".weights.h5")
  code, out, err = run(workspace, "convert", paths[kind], "--model",
                       RNN + "keras_" + kind, "--rules", kind + ".rules",
                       "--to", "keras", weights)
  assert code == 0, out + err
  # The stage-4 model predicts what the TF1 graph predicts (1e-6 of the
  # largest output: a few float32 ulps, Keras's kernels against TF1's).
  model = getattr(models, "keras_" + kind)()
  model.load_weights(str(weights))
  np.testing.assert_allclose(model(x), outputs[kind], rtol=0,
                             atol=1e-6 * np.abs(outputs[kind]).max())
  back = tmp_path / "back" / "model.ckpt"
  back.parent.mkdir()
  code, out, err = run(workspace, "convert", weights, "--model",
                       RNN + "keras_" + kind, "--rules", kind + ".rules",
                       "--to", "tf1", back)
  assert code == 0, out + err
  source, result = (tf.train.load_checkpoint(str(p))
                    for p in (paths[kind], back))
  names = sorted(source.get_variable_to_shape_map())
  assert sorted(result.get_variable_to_shape_map()) == names
  for name in names:
    want, got = source.get_tensor(name), result.get_tensor(name)
    if kind == "lstm" and name.endswith("/bias"):
      # `add f 1.0` is stored in the .weights.h5 as float32(b + 1), which
      # keeps fewer of b's bits: back is float32(float32(b + 1) - 1), the
      # f block exactly that, the other blocks bitwise.
      i, j, f, o = np.split(want, 4)
      want = np.concatenate([i, j, (f + np.float32(1)) - np.float32(1), o])
    assert np.array_equal(got, want), name


def test_verify_compares_outputs_and_catches_a_wrong_gate_order(
    workspace, rnn_workspace):
  paths = rnn_workspace[0]
  reference = ["--reference", RNN + "tf1_lstm", "--inputs",
               "batch.npy"]
  code, out, err = run(workspace, "verify", paths["lstm"], "--model",
                       RNN + "keras_lstm", "--rules", "lstm.rules",
                       *reference)
  assert code == 0, out + err
  assert "Outputs: max |difference|" in out and "equal" in out, out
  # A wrong gate order fits every shape: only the outputs show it.
  code, out, err = run(workspace, "verify", paths["lstm"], "--model",
                       RNN + "keras_lstm", "--rules",
                       "wrong_gates.rules", *reference)
  assert code == 1, out + err
  assert "DIFFERENT" in out and "FAILED: the outputs differ" in out, out
  # Shapes alone are not accepted for transforming rules, unless asked.
  assert_bad_input(run(workspace, "verify", paths["lstm"], "--model",
                       RNN + "keras_lstm", "--rules",
                       "wrong_gates.rules"),
                   "shapes cannot show a wrong gate order", "--reference")
  code, out, _ = run(workspace, "verify", paths["lstm"], "--model",
                     RNN + "keras_lstm", "--rules",
                     "wrong_gates.rules", "--shapes-only")
  assert code == 0 and "shapes only: outputs not compared" in out, out
  assert_bad_input(run(workspace, "verify", paths["lstm"], "--model",
                       RNN + "keras_lstm", "--rules", "lstm.rules",
                       "--reference", RNN + "tf1_lstm"),
                   "--reference and --inputs go together")
  assert_bad_input(run(workspace, "verify", paths["lstm"], "--model",
                       RNN + "keras_lstm", "--rules", "lstm.rules",
                       "--reference", RNN + "tf1_gru", "--inputs", "batch.npy"),
                   "does not restore into --reference's TF1 graph")


def test_map_lists_the_transforms_and_tf2_converts_through_them(
    workspace, rnn_workspace, tmp_path):
  paths, outputs, models, x = rnn_workspace
  code, out, err = run(workspace, "map", paths["gru"], "--model",
                       RNN + "keras_gru", "--rules", "gru.rules",
                       "--json")
  assert code == 0, out + err
  result = json.loads(out)
  assert result["mapping"]["rnn_model/gru/gru_cell/bias"] == [
      "rnn/gru_cell/gates/bias", "rnn/gru_cell/candidate/bias"]
  assert result["transforms"]["rnn_model/gru/gru_cell/bias"] == (
      "concat(rnn/gru_cell/gates/bias | gates r,u -> u,r ; "
      "rnn/gru_cell/candidate/bias)")
  code, out, err = run(workspace, "convert", paths["lstm"], "--model",
                       RNN + "keras_lstm", "--rules", "lstm.rules",
                       "--to", "tf2", tmp_path / "ckpt")
  assert code == 0, out + err
  model = models.keras_lstm()
  tf.train.Checkpoint(model=model).read(
      str(tmp_path / "ckpt")).assert_consumed()
  np.testing.assert_allclose(model(x), outputs["lstm"], rtol=0,
                             atol=1e-6 * np.abs(outputs["lstm"]).max())


def test_transform_errors_exit_codes(workspace, rnn_workspace, tmp_path):
  paths = rnn_workspace[0]
  # A rule that does not fit the shapes: a mismatch (1), naming the rule
  # and both shapes, nothing written.
  misfit = tmp_path / "misfit.rules"
  misfit.write_text(rnn_models.LSTM_RULES.replace("rows 0:6 |", "rows 0:5 |"))
  out_dir = tmp_path / "out"
  out_dir.mkdir()
  code, out, err = run(workspace, "convert", paths["lstm"], "--model",
                       RNN + "keras_lstm", "--rules", misfit, "--to",
                       "keras", out_dir / "m.weights.h5")
  assert code == 1, out + err
  assert "misfit.rules:6:" in out and "(shape (6, 20))" in out and (
      "(shape (11, 20))" in out and "give shape (5, 20)" in out), out
  assert list(out_dir.iterdir()) == []
  # A transform that does not parse: bad input (2), one line with file:line.
  bad = tmp_path / "bad.rules"
  bad.write_text(rnn_models.LSTM_RULES.replace("| add f 1.0", "| add 1.0 f", 1))
  assert_bad_input(run(workspace, "verify", paths["lstm"], "--model",
                       RNN + "keras_lstm", "--rules", bad),
                   "bad.rules:5: ", "expected `add LABEL VALUE`")


if __name__ == "__main__":
  raise SystemExit(pytest_main(__file__))
