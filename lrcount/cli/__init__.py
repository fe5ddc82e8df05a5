"""The ``lrcount`` command line: a thin layer over the library.

Errors print one line on stderr and exit non-zero. Solver output never reaches stdout: while a
command runs, file descriptor 1 points to stderr, and only the command's result is printed to
the real stdout, so ``--json`` output stays parseable.
"""

from __future__ import annotations

import os
import sys
import warnings

from ..errors import LRCountError, NotWrittenError
from ..runtime import c_stdout_redirected
from .parser import build_parser

EXIT_BAD_INPUT = 2
EXIT_NOT_WRITTEN = 1  # the result was printed, but a file it should have gone to was not written
EXIT_INTERRUPTED = 130


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        with c_stdout_redirected(2), warnings.catch_warnings():
            warnings.showwarning = _show_warning
            output = args.run(args)
    except NotWrittenError as exc:  # the work was done: show it, then say what was not written
        if exc.result is not None:
            _print_result(exc.result)
        print(f"lrcount: error: {exc}", file=sys.stderr)
        return EXIT_NOT_WRITTEN
    except LRCountError as exc:
        print(f"lrcount: error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("lrcount: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as exc:  # a bug: say so in one line unless asked for the traceback
        if os.environ.get("LRCOUNT_DEBUG"):
            raise
        print(f"lrcount: internal error: {type(exc).__name__}: {exc} (set LRCOUNT_DEBUG=1 for the traceback)", file=sys.stderr)
        return 1
    _print_result(output)
    return 0


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """A library warning as one line on stderr."""
    print(f"lrcount: warning: {message}", file=sys.stderr)


def _print_result(output: str) -> None:
    try:
        print(output)
        sys.stdout.flush()
    except BrokenPipeError:  # the reader closed the pipe (| head): nothing left to say
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


if __name__ == "__main__":
    sys.exit(main())


__all__ = ["build_parser", "main"]
