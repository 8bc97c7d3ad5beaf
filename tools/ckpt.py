"""`bazel run //tools:ckpt -- <command>`: see tf1shim/checkpoints/cli.py."""

import sys

# The launcher loads cli.py without importing TensorFlow (fast --help).
from tf1shim_ckpt import main

if __name__ == "__main__":
  sys.exit(main())
