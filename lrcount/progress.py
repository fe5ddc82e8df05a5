"""Progress of long runs on stderr: a tqdm bar on a terminal, plain lines elsewhere (a log file,
a CI job, a pipe), and nothing for runs that end within a second."""

from __future__ import annotations

import sys
import time

#: Runs that end sooner show no progress at all.
DELAY = 1.0
#: Seconds between two plain lines when stderr is not a terminal.
LINE_INTERVAL = 5.0


class _NoProgress:
    """What :func:`progress_bar` returns when progress is off: a context that counts nothing
    (a disabled tqdm still builds a multiprocessing lock: 4 ms, more than a small count takes)."""

    def __enter__(self) -> _NoProgress:
        return self

    def __exit__(self, *exc) -> None:
        pass

    def update(self, n: int = 1) -> None:
        pass

    def set_postfix_str(self, text: str, refresh: bool = True) -> None:
        pass


class _Lines:
    """Progress as a plain line every :data:`LINE_INTERVAL` seconds, after :data:`DELAY`:
    ``lrcount: DESC: N[/TOTAL] UNIT, S s``; the same interface as tqdm's (``update``)."""

    def __init__(self, *, desc: str, unit: str, total: int | None = None, stream=None):
        self.desc, self.unit, self.total = desc, unit.strip(), total
        self.stream = stream or sys.stderr
        self.n = 0
        self.postfix = ""
        self.start = time.monotonic()
        self.last = self.start + DELAY - LINE_INTERVAL

    def __enter__(self) -> _Lines:
        return self

    def __exit__(self, *exc) -> None:
        if time.monotonic() - self.start >= DELAY:
            self._write()

    def update(self, n: int = 1) -> None:
        self.n += n
        now = time.monotonic()
        if now - self.last >= LINE_INTERVAL:
            self.last = now
            self._write()

    def set_postfix_str(self, text: str, refresh: bool = True) -> None:
        """Text shown after the count (tqdm's name for it)."""
        self.postfix = text

    def _write(self) -> None:
        done = f"{self.n}/{self.total}" if self.total else f"{self.n}"
        seconds = time.monotonic() - self.start
        rate = f", {self.n / seconds:.0f} {self.unit}/s" if seconds > 0 else ""
        extra = f", {self.postfix}" if self.postfix else ""
        print(f"lrcount: {self.desc}: {done} {self.unit}, {seconds:.0f} s{rate}{extra}", file=self.stream, flush=True)


def progress_bar(enabled: bool, *, desc: str, unit: str, total: int | None = None):
    """A progress reporter with tqdm's ``update`` and ``set_postfix_str``, used as a context manager: a tqdm bar when
    stderr is a terminal, plain lines when it is not, a no-op when not ``enabled``."""
    if not enabled:
        return _NoProgress()
    if sys.stderr.isatty():
        from tqdm import tqdm

        return tqdm(total=total, desc=desc, unit=unit, delay=DELAY, leave=False, file=sys.stderr)
    return _Lines(desc=desc, unit=unit, total=total)
