"""Loaders and savers: ``.npz`` arrays, PyTorch modules and state dicts, ONNX, VNN-LIB boxes."""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import LRCountError
from ..network import ReLUNetwork
from .files import check_output_file, check_output_folder, staged_folder, write_atomically
from .npz import load_npz, save_npz, write_arrays
from .vnnlib import read_vnnlib, read_vnnlib_box

LOADERS = {".npz": "npz", ".pt": "torch", ".pth": "torch", ".onnx": "onnx"}


def load(path) -> ReLUNetwork:
    """Load a network; the file type is chosen by the suffix (.npz, .pt, .pth, .onnx)."""
    path = check_readable_file(path, "model")
    kind = LOADERS.get(path.suffix.lower())
    if kind is None:
        raise LRCountError(f"unknown model format {path.suffix!r}; use .npz, .pt, .pth or .onnx")
    if kind == "npz":
        return load_npz(path)
    if kind == "torch":
        from .torch import load_state_dict_file

        return load_state_dict_file(path)
    from .onnx import load_onnx

    return load_onnx(path)


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
    import stat

    if stat.S_ISDIR(mode):
        raise LRCountError(f"{path} is a directory; give the {what} file inside it")
    if not stat.S_ISREG(mode):
        raise LRCountError(f"{path} is not a regular file (a device or a pipe); give a {what} file")
    if not os.access(path, os.R_OK):
        raise LRCountError(f"{path} is not readable (permission denied)")
    return path


__all__ = ["check_output_file", "check_output_folder", "staged_folder", "check_readable_file", "load", "load_npz", "save_npz", "write_arrays",
           "write_atomically", "read_vnnlib", "read_vnnlib_box"]
