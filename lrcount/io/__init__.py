"""Loaders and savers: ``.npz`` arrays, PyTorch modules and state dicts, ONNX, VNN-LIB boxes."""

from __future__ import annotations

from pathlib import Path

from ..errors import LRCountError
from ..network import ReLUNetwork
from .npz import load_npz, save_npz
from .vnnlib import read_vnnlib_box

LOADERS = {".npz": "npz", ".pt": "torch", ".pth": "torch", ".onnx": "onnx"}


def load(path) -> ReLUNetwork:
    """Load a network; the file type is chosen by the suffix (.npz, .pt, .pth, .onnx)."""
    path = Path(path)
    if not path.is_file():
        raise LRCountError(f"no such file: {path}")
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


__all__ = ["load", "load_npz", "save_npz", "read_vnnlib_box"]
