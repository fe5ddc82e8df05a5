"""Writing files so that nothing is lost: every output is written under a temporary name in its
own folder, flushed to disk and renamed over its target in one step (POSIX ``rename`` is atomic
within a file system). A kill or a full disk therefore leaves the earlier file as it was, never
a partial or empty one; and a target that is a hard link of an input is replaced as a name, not
written through, so the input keeps its contents."""

from __future__ import annotations

import os
import shutil
import stat
import tempfile
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from ..errors import LRCountError, NotWrittenError


def write_atomically(path, write: Callable[[BinaryIO], None]) -> Path:
    """Call ``write`` with a binary file open under a temporary name beside ``path``, then move
    that file over ``path``. On any error the temporary file is removed, ``path`` is untouched,
    and a :class:`NotWrittenError` says what was not written and why."""
    path = Path(path)
    try:
        descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    except OSError as exc:
        raise NotWrittenError(f"could not write {path}: {exc.strerror}") from None
    try:
        with os.fdopen(descriptor, "wb") as stream:
            write(stream)
            stream.flush()
            os.fsync(stream.fileno())
        os.chmod(temporary, stat.S_IMODE(path.stat().st_mode) if path.exists() else 0o644)
        os.replace(temporary, path)
    except BaseException as exc:
        Path(temporary).unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise NotWrittenError(f"could not write {path}: {exc.strerror or exc}; "
                                  "any earlier file of that name is unchanged") from None
        raise
    return path


def check_output_file(path, what: str, *, inputs=()) -> Path:
    """``path`` as a Path if a result can be written there: its folder exists and is writable,
    it is not a folder, a pipe or a device, and it is not one of the ``inputs`` under another
    name (compared by identity, so hard and symbolic links are caught). Checked before the work,
    so that a long computation is never lost to a bad path."""
    path = Path(path)
    if path.is_dir():
        raise LRCountError(f"{what} {path} is a directory; give a file name such as {path / 'out'}")
    if not path.parent.is_dir():
        raise LRCountError(f"{what}: the directory {path.parent} does not exist; create it first")
    if not os.access(path.parent, os.W_OK):
        raise LRCountError(f"{what}: cannot write in {path.parent} (permission denied)")
    if path.exists():
        if not stat.S_ISREG(path.stat().st_mode):
            raise LRCountError(f"{what} {path} is not a regular file (a pipe or a device); give a file name")
        for source in inputs:
            if Path(source).exists() and os.path.samefile(path, source):
                raise LRCountError(f"{what} {path} would overwrite the input {source} (the same file); choose another name")
    return path



def check_output_folder(path, what: str, *, marker: str) -> Path:
    """``path`` as a Path if a run can be written there as a whole: it does not exist yet, is an
    empty folder, or holds an earlier run (recognised by its ``marker`` file), and its parent
    folder is writable. Checked before the work."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise LRCountError(f"{what} {path} is a file; give a folder (it is created if missing)")
    if path.is_dir() and any(path.iterdir()) and not (path / marker).is_file():
        raise LRCountError(f"{what} {path} holds files of something other than an earlier run (no {marker}); "
                           "give a new or empty folder")
    parent = path.absolute().parent
    if not parent.is_dir():
        raise LRCountError(f"{what}: the directory {parent} does not exist; create it first")
    if not os.access(parent, os.W_OK):
        raise LRCountError(f"{what}: cannot write in {parent} (permission denied)")
    return path


@contextmanager
def staged_folder(path: Path):
    """A fresh folder beside ``path`` to write a whole run into; when the block ends without
    error it takes the place of ``path`` (whose earlier contents are removed only then), and on
    any error or interrupt it is removed and ``path`` stays as it was. A run's files are thus
    never mixed with an earlier run's."""
    path = Path(path).absolute()
    try:
        staging = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part"))
    except OSError as exc:
        raise NotWrittenError(f"could not create a folder beside {path}: {exc.strerror}") from None
    try:
        yield staging
        staging.chmod(0o755)
        earlier = None
        if path.exists():
            earlier = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}.", suffix=".old"))
            os.replace(path, earlier / path.name)
        os.replace(staging, path)
    except BaseException as exc:
        shutil.rmtree(staging, ignore_errors=True)
        if isinstance(exc, OSError):
            raise NotWrittenError(f"could not write {path}: {exc.strerror or exc}") from None
        raise
    if earlier is not None:
        shutil.rmtree(earlier, ignore_errors=True)


def check_readable_file(path, what: str) -> Path:
    """``path`` as a Path if it is a regular file that can be read; otherwise a clear error
    (missing, a directory, a device, a broken link or a link loop, no permission)."""
    path = Path(path)
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        if path.is_symlink():
            raise LRCountError(f"{path} is a broken symbolic link; give the {what} file it should point to") from None
        raise LRCountError(f"no such file: {path}") from None
    except OSError as exc:  # a link loop (ELOOP), a name too long, ...
        raise LRCountError(f"cannot open {path}: {exc.strerror}") from None
    if stat.S_ISDIR(mode):
        raise LRCountError(f"{path} is a directory; give the {what} file inside it")
    if not stat.S_ISREG(mode):
        raise LRCountError(f"{path} is not a regular file (a device or a pipe); give a {what} file")
    if not os.access(path, os.R_OK):
        raise LRCountError(f"{path} is not readable (permission denied)")
    return path
