"""`bazel run //tools:ckpt -- <command>`: see tf1shim/checkpoints/cli.py."""

import sys

from tf1shim.checkpoints import cli

if __name__ == "__main__":
  sys.exit(cli.main())
