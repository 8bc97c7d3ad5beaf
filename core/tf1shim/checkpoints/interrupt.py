"""SIGTERM and SIGINT as an exception, so that cleanup code runs.

By default SIGTERM kills Python at once (no `finally` runs: staging folders
would be left) and SIGINT raises KeyboardInterrupt anywhere. Inside
`handled()`, the first of them raises `Interrupted` in the main thread;
later ones are ignored, so cleanup cannot itself be interrupted (SIGKILL
still stops the process; the next run removes what it left, see
`outputs.remove_stale`). Inside `deferred()` (moving outputs into place,
removing a staging folder) the exception waits until the block is done.
"""

import contextlib
import signal
import threading

_SIGNALS = (signal.SIGINT, signal.SIGTERM)
_state = threading.local()


class Interrupted(BaseException):
  """SIGINT or SIGTERM arrived. A BaseException, like KeyboardInterrupt, so
  that `except Exception` clauses do not swallow it."""

  def __init__(self, signum):
    super().__init__(signal.Signals(signum).name)
    self.signum = signum

  @property
  def exit_code(self):
    return 128 + self.signum  # the shell's convention: 130, 143


class _Handler:

  def __init__(self):
    self.fired = False
    self.depth = 0       # nesting of `deferred` blocks
    self.pending = None  # a signal that arrived inside one

  def __call__(self, signum, unused_frame):
    if self.fired:
      return
    if self.depth:
      self.pending = self.pending or signum
      return
    self.fired = True
    raise Interrupted(signum)


_handler = None


@contextlib.contextmanager
def handled():
  """SIGINT/SIGTERM raise `Interrupted` in this block (main thread only:
  elsewhere signals cannot be handled and this does nothing)."""
  global _handler
  if threading.current_thread() is not threading.main_thread():
    yield
    return
  previous = {s: signal.getsignal(s) for s in _SIGNALS}
  outer, _handler = _handler, _Handler()
  for s in _SIGNALS:
    signal.signal(s, _handler)
  try:
    yield
  finally:
    _handler = outer
    for s, h in previous.items():
      signal.signal(s, h)


@contextlib.contextmanager
def deferred():
  """A signal arriving in this block raises only at its end."""
  handler = _handler
  if handler is None or threading.current_thread() is not (
      threading.main_thread()):
    yield
    return
  handler.depth += 1
  try:
    yield
  finally:
    handler.depth -= 1
    if not handler.depth and handler.pending and not handler.fired:
      signum, handler.pending = handler.pending, None
      handler.fired = True
      raise Interrupted(signum)
