"""The runtime of a computation, apart from what it computes: deadlines, Ctrl-C, and the file
descriptors that C libraries write to. Nothing here knows about networks or LPs."""

from __future__ import annotations

import ctypes
import os
import signal
import sys
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass


class SetupTimeout(Exception):
    """The deadline passed before counting could start (a domain's chart, LP bounds)."""


@dataclass(frozen=True)
class Deadline:
    """A moment (``time.monotonic()``) after which a computation stops; ``at=None`` never
    comes. One object is passed down from ``count_regions`` to the set-up and the engines, so
    that every part stops at the same moment."""

    at: float | None = None

    @classmethod
    def after(cls, seconds: float | None) -> Deadline:
        """The deadline ``seconds`` from now (None: none)."""
        return cls(None if seconds is None else time.monotonic() + seconds)

    def passed(self) -> bool:
        return self.at is not None and time.monotonic() > self.at

    def remaining(self) -> float | None:
        """Seconds left (at least a millisecond, so that a solver given it still starts and
        stops at once), or None without a deadline."""
        return None if self.at is None else max(self.at - time.monotonic(), 1e-3)


#: The deadline that never comes.
NEVER = Deadline()
@contextmanager
def c_stdout_redirected(target_fd: int | None = None):
    """Send what C code writes to file descriptor 1 to ``target_fd`` (default: /dev/null).

    Solvers print banners and warnings straight to fd 1, past Python's ``sys.stdout``.
    """
    with _fd_redirected(1, target_fd):
        yield


@contextmanager
def _fd_redirected(fd: int, target_fd: int | None = None):
    """Point file descriptor ``fd`` at ``target_fd`` (default: /dev/null) for a while."""
    sys.stdout.flush()
    _libc.fflush(None)
    saved = os.dup(fd)
    devnull = os.open(os.devnull, os.O_WRONLY) if target_fd is None else None
    try:
        os.dup2(devnull if target_fd is None else target_fd, fd)
        yield
    finally:
        sys.stdout.flush()
        _libc.fflush(None)  # C stdio buffers what solvers print: flush before the fd moves back
        os.dup2(saved, fd)
        os.close(saved)
        if devnull is not None:
            os.close(devnull)


_libc = ctypes.CDLL(None)


class StopFlag:
    """Set by Ctrl-C while :func:`catch_interrupt` is active."""

    def __init__(self) -> None:
        self.stopped = False


@contextmanager
def catch_interrupt():
    """Turn Ctrl-C (SIGINT) into a flag that a long loop polls. HiGHS swallows the
    KeyboardInterrupt raised during its solves, so a loop of LPs would never see it."""
    flag = StopFlag()
    if threading.current_thread() is not threading.main_thread():
        yield flag
        return

    def handler(signum, frame):
        flag.stopped = True

    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield flag
    finally:
        signal.signal(signal.SIGINT, previous)


@contextmanager
def search_limits(deadline: Deadline):
    """A function that says why a long search must stop: ``"userinterrupt"`` after Ctrl-C,
    ``"timelimit"`` once ``deadline`` has passed, else None."""
    with catch_interrupt() as flag:

        def stop_reason() -> str | None:
            if flag.stopped:
                return "userinterrupt"
            if deadline.passed():
                return "timelimit"
            return None

        yield stop_reason
