"""Loaders and savers: ``.npz`` arrays, PyTorch modules and state dicts, ONNX, VNN-LIB boxes."""

from __future__ import annotations

from importlib import import_module

from ..errors import LRCountError
from ..network import ReLUNetwork
from .files import check_output_file, check_output_folder, check_readable_file, staged_folder, write_atomically
from .npz import load_npz, save_npz, write_arrays
from .vnnlib import read_vnnlib, read_vnnlib_box

#: Model file suffix -> (module of this package, its reader). Imported on first use: the torch
#: and onnx readers need optional packages.
LOADERS = {
    ".npz": ("npz", "load_npz"),
    ".pt": ("torch", "load_state_dict_file"),
    ".pth": ("torch", "load_state_dict_file"),
    ".onnx": ("onnx", "load_onnx"),
}


def load(path) -> ReLUNetwork:
    """Load a network; the reader is chosen by the file's suffix (:data:`LOADERS`)."""
    path = check_readable_file(path, "model")
    reader = LOADERS.get(path.suffix.lower())
    if reader is None:
        raise LRCountError(f"unknown model format {path.suffix!r}; use {', '.join(LOADERS)}")
    module, function = reader
    return getattr(import_module(f".{module}", __name__), function)(path)


__all__ = [
    "check_output_file", "check_output_folder", "check_readable_file", "load", "load_npz", "read_vnnlib", "read_vnnlib_box",
    "save_npz", "staged_folder", "write_arrays", "write_atomically",
]
