"""`ckpt` on damaged checkpoints, as a hostile user would damage them.

Hypothesis damages real `Saver` checkpoints (one shard; two shards with a
string and a partitioned variable): a flipped byte anywhere in the index or
a data shard, truncation at any offset, shuffled shards, bytes appended to
a shard, a garbage index. Each damaged checkpoint goes through a command
(inspect, diff either way, verify, map, convert to Keras and TF2), run in
this process (`cli.main`, seconds faster than a process per example):

* never a traceback, and never exit 0 -- every byte of a checkpoint is
  covered by a check (`integrity.py`), so every such damage is found;
  `map` reads only the index, so only damage to the index must fail it;
* exit 2 comes with one line on stderr starting with `error:`;
* the inputs are byte for byte what they were, and the output folder is
  empty afterwards (no output, no staging folder).

A few runs of the real program confirm the process's side (exit code, one
line on stderr). The profile is derandomized with a bounded number of
examples, so CI runs the same examples every time.
"""

import contextlib
import hashlib
import io
import os
import shutil
import sys
import tempfile
import textwrap

import hypothesis
from hypothesis import strategies as st
import numpy as np
import pytest
import tensorflow as tf

from tf1shim.checkpoints import cli
from testing import tf1_checkpoints
from testing.pytest_main import pytest_main
from testing.subprocesses import run_python

v1 = tf.compat.v1
MODELS = textwrap.dedent("""
    import numpy as np
    from testing import tf1_checkpoints
    from testing.shim_models import ShimLayer

    def build_native():
      return tf1_checkpoints.built_native_model(name="native")

    def build_shim():
      model = ShimLayer(tf1_checkpoints.tf1_model)
      model(np.zeros([1, 8, 8, 3], np.float32))
      return model
""")
FUZZ = hypothesis.settings(
    max_examples=int(os.environ.get("CKPT_FUZZ_EXAMPLES", "300")),
    derandomize=True, database=None, deadline=None, print_blob=True,
    suppress_health_check=list(hypothesis.HealthCheck))


def write_two_shard_checkpoint(directory):
  """Saver(sharded=True) on two CPU devices: two data shards, a string
  tensor and a partitioned variable (slices with entries of their own)."""
  rng = np.random.RandomState(0)
  with tf.Graph().as_default():
    with tf.device("/cpu:0"):
      v1.get_variable("first", initializer=rng.randn(5, 3).astype(
          np.float32))
      v1.get_variable("words", initializer=tf.constant(["a", "longer"]),
                      dtype=tf.string)
    with tf.device("/cpu:1"):
      v1.get_variable("second", initializer=rng.randn(7).astype(np.float64))
      v1.get_variable("part", shape=[6, 2],
                      partitioner=v1.fixed_size_partitioner(3))
    saver = v1.train.Saver(sharded=True)
    config = v1.ConfigProto(device_count={"CPU": 2})
    with v1.Session(config=config) as sess:
      sess.run(v1.global_variables_initializer())
      return saver.save(sess, os.path.join(directory, "model.ckpt"))


def checkpoint_files(prefix):
  return sorted(tf.io.gfile.glob(prefix + ".index") +
                tf.io.gfile.glob(prefix + ".data-*"))


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
  root = tmp_path_factory.mktemp("fuzz")
  (root / "models.py").write_text(MODELS)
  (root / "native.rules").write_text(tf1_checkpoints.NATIVE_RULES)
  one, _ = tf1_checkpoints.write_tf1_checkpoint(str(root / "one"), steps=1)
  (root / "two").mkdir()
  two = write_two_shard_checkpoint(str(root / "two"))
  assert len(checkpoint_files(two)) == 3  # index + 2 shards
  return root, {"one": one, "two": two}


def run(root, args):
  """cli.main(args) in `root`: (exit code, stdout, stderr)."""
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


def snapshot(folder):
  found = {}
  for parent, _, files in os.walk(folder):
    for name in files:
      path = os.path.join(parent, name)
      with open(path, "rb") as f:
        found[os.path.relpath(path, folder)] = hashlib.sha256(
            f.read()).hexdigest()
  return found


# A damage: (kind, which file, a number in [0, 1) for where, a byte).
DAMAGES = st.one_of(
    st.tuples(st.just("flip"), st.integers(0, 2), st.floats(0, 1,
                                                            exclude_max=True),
              st.integers(1, 255)),
    st.tuples(st.just("truncate"), st.integers(0, 2),
              st.floats(0, 1, exclude_max=True), st.just(0)),
    st.tuples(st.just("append"), st.integers(1, 2), st.just(0.0),
              st.integers(1, 255)),
    st.tuples(st.just("garbage_index"), st.just(0), st.floats(0, 1),
              st.integers(0, 255)),
    st.tuples(st.just("shuffle_shards"), st.just(0), st.just(0.0),
              st.just(0)),
)
COMMANDS = ["inspect", "inspect_json", "diff", "diff_reversed", "verify",
            "map", "convert_keras", "convert_tf2"]


def damage(prefix, kind, which, where, byte):
  """Damages the checkpoint at `prefix`; returns whether the index was hit.
  """
  files = checkpoint_files(prefix)
  index = prefix + ".index"
  shards = [f for f in files if f != index]
  if kind == "shuffle_shards":
    if len(shards) < 2:
      kind, which = "truncate", 1  # one shard: nothing to shuffle
    else:
      first, second = (open(p, "rb").read() for p in shards[:2])
      for path, content in zip(shards, (second, first)):
        with open(path, "wb") as f:
          f.write(content)
      return False
  path = index if which == 0 else shards[(which - 1) % len(shards)]
  size = os.path.getsize(path)
  with open(path, "r+b") as f:
    if kind == "flip":
      offset = int(where * size)
      f.seek(offset)
      old = f.read(1)[0]
      f.seek(offset)
      f.write(bytes([old ^ byte]))
    elif kind == "truncate":
      f.truncate(int(where * size))
    elif kind == "append":
      f.seek(0, os.SEEK_END)
      f.write(bytes([byte]) * 7)
    elif kind == "garbage_index":
      rng = np.random.RandomState(byte)
      f.truncate(0)
      f.write(rng.bytes(int(where * 400)))
  return path == index


def command_args(command, workspace, which, damaged, out_dir):
  root, pristine = workspace
  rules = ["--rules", "native.rules"] if which == "one" else []
  model = "models:build_native" if which == "one" else "models:build_shim"
  return {
      "inspect": ["inspect", damaged],
      "inspect_json": ["inspect", damaged, "--json"],
      "diff": ["diff", pristine[which], damaged],
      "diff_reversed": ["diff", damaged, pristine[which], "--json"],
      "verify": ["verify", damaged, "--model", model] + rules,
      "map": ["map", damaged, "--model", model] + rules,
      "convert_keras": ["convert", damaged, "--model", "models:build_native",
                        "--rules", "native.rules", "--to", "keras",
                        os.path.join(out_dir, "m.weights.h5")],
      "convert_tf2": ["convert", damaged, "--model", "models:build_shim",
                      "--to", "tf2", os.path.join(out_dir, "ckpt")],
  }[command]


@FUZZ
@hypothesis.given(which=st.sampled_from(["one", "two"]), hurt=DAMAGES,
                  command=st.sampled_from(COMMANDS))
def test_damaged_checkpoints_never_pass_nor_crash_nor_leave_files(
    workspace, which, hurt, command):
  root, pristine = workspace
  scratch = tempfile.mkdtemp(dir=root)
  try:
    damaged = os.path.join(scratch, "in", "model.ckpt")
    os.makedirs(os.path.dirname(damaged))
    for path in checkpoint_files(pristine[which]):
      shutil.copy(path, damaged + path[len(pristine[which]):])
    index_hit = damage(damaged, *hurt)
    out_dir = os.path.join(scratch, "out")
    os.makedirs(out_dir)
    inputs = snapshot(os.path.join(scratch, "in"))
    originals = snapshot(os.path.dirname(pristine[which]))
    code, stdout, stderr = run(root, command_args(
        command, workspace, which, damaged, out_dir))
    assert "Traceback" not in stdout + stderr, stderr
    if command == "map":  # reads the index only
      assert code in (0, 1, 2) and (code == 2 or not index_hit), (
          code, stdout, stderr)
    else:
      assert code in (1, 2), (code, stdout, stderr)
    if code == 2:
      assert stderr.startswith("error: ") and stderr.count("\n") == 1, stderr
    assert snapshot(os.path.join(scratch, "in")) == inputs
    assert snapshot(os.path.dirname(pristine[which])) == originals
    assert os.listdir(out_dir) == []
  finally:
    shutil.rmtree(scratch, ignore_errors=True)


def test_every_byte_flip_of_the_small_checkpoint_is_found(workspace):
  """The claim behind "never exit 0", exhaustively where it is cheap:
  each single-bit flip of every byte of the one-shard checkpoint's index
  and data file fails `check_data`."""
  from tf1shim import checkpoints  # pylint: disable=g-import-not-at-top
  root, pristine = workspace
  scratch = tempfile.mkdtemp(dir=root)
  try:
    prefix = os.path.join(scratch, "model.ckpt")
    for path in checkpoint_files(pristine["one"]):
      shutil.copy(path, prefix + path[len(pristine["one"]):])
    checkpoints.check_data(prefix)  # intact: passes
    missed = []
    for path in checkpoint_files(prefix):
      content = open(path, "rb").read()
      for offset in range(len(content)):
        damaged = bytearray(content)
        damaged[offset] ^= 0x10
        with open(path, "wb") as f:
          f.write(damaged)
        try:
          checkpoints.check_data(prefix)
          missed.append((os.path.basename(path), offset))
        except checkpoints.CheckpointError:
          pass
      with open(path, "wb") as f:
        f.write(content)
    assert missed == []
  finally:
    shutil.rmtree(scratch, ignore_errors=True)


@pytest.mark.parametrize("hurt, args", [
    (("flip", 1, 0.5, 0x80), ["verify", "--model", "models:build_native",
                              "--rules", "native.rules"]),
    (("truncate", 0, 0.7, 0), ["inspect", "--json"]),
    (("garbage_index", 0, 0.5, 3), ["convert", "--model",
                                    "models:build_native", "--rules",
                                    "native.rules", "--to", "keras"]),
])
def test_the_program_exits_2_with_one_line(workspace, tmp_path, hurt, args):
  root, pristine = workspace
  damaged = str(tmp_path / "in" / "model.ckpt")
  os.makedirs(os.path.dirname(damaged))
  for path in checkpoint_files(pristine["one"]):
    shutil.copy(path, damaged + path[len(pristine["one"]):])
  damage(damaged, *hurt)
  before = snapshot(tmp_path)
  argv = [args[0], damaged] + args[1:]
  if args[0] == "convert":
    argv.append(str(tmp_path / "m.weights.h5"))
  program = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                         "ckpt.py")
  done = run_python([program] + argv, cwd=str(root), timeout=300,
                    PYTHONPATH=os.pathsep.join([str(root)] + sys.path))
  assert done.returncode == 2, (done.stdout, done.stderr)
  assert done.stderr.startswith("error: ") and (
      done.stderr.count("\n") == 1), done.stderr
  assert snapshot(tmp_path) == before


if __name__ == "__main__":
  raise SystemExit(pytest_main(__file__))
