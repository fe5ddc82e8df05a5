"""PyTorch: an ``nn.Sequential`` in memory, or a state dict saved with ``torch.save``."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import LRCountError
from ..network import ReLUNetwork
from .chain import network_from_steps

_PASS_THROUGH = ("Flatten", "Identity", "Dropout")


def network_from_module(module) -> ReLUNetwork:
    """Read an ``nn.Sequential`` (nested ones are flattened) of Linear, ReLU, Flatten,
    Identity and Dropout (the last three are no-ops for vector inputs in evaluation)."""
    import torch.nn as nn

    def flatten(m):
        if isinstance(m, nn.Sequential):
            for child in m:
                yield from flatten(child)
        else:
            yield m

    if not isinstance(module, nn.Sequential):
        raise LRCountError(
            f"cannot read a {type(module).__name__}: wrap its layers in nn.Sequential "
            "(Linear, ReLU, Flatten, Identity, Dropout)"
        )
    steps = []
    for position, layer in enumerate(flatten(module)):
        kind = type(layer).__name__
        if isinstance(layer, nn.Linear):
            w = _pruned(dict(layer.named_buffers()) | dict(layer.named_parameters()), "weight")
            b = _pruned(dict(layer.named_buffers()) | dict(layer.named_parameters()), "bias")
            steps.append(("affine", w, b if b is not None else np.zeros(w.shape[0])))
        elif isinstance(layer, nn.ReLU):
            steps.append(("relu",))
        elif kind not in _PASS_THROUGH:
            raise LRCountError(
                f"unsupported layer {kind} at position {position}; lrcount reads Linear, ReLU, Flatten, Identity, Dropout"
            )
    return network_from_steps(steps, type(module).__name__)


def load_state_dict_file(path) -> ReLUNetwork:
    """Read a state dict saved with ``torch.save(model.state_dict(), path)`` (loaded with
    ``weights_only=True``: nothing is unpickled). Linear layers are taken in the order of the
    dict, with a ReLU between consecutive ones."""
    try:
        import torch
    except ImportError:
        raise LRCountError("reading .pt files needs PyTorch: pip install torch") from None
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for corrupt or pickled files
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise LRCountError(
            f"cannot read {path} as a state dict ({first[:160]}); save model.state_dict(), not the model"
        ) from None
    for key in ("state_dict", "model_state_dict"):
        if isinstance(state, dict) and isinstance(state.get(key), dict):
            state = state[key]
    if not isinstance(state, dict) or not all(hasattr(v, "shape") for v in state.values()):
        raise LRCountError(f"{path} does not hold a state dict of tensors; save model.state_dict()")
    layers: dict[str, dict] = {}  # prefix -> its entries, in the order of the dict
    for key, tensor in state.items():
        prefix, _, name = key.rpartition(".")
        layers.setdefault(prefix, {})[name] = tensor
    steps = []
    for prefix, entries in layers.items():
        w = _pruned(entries, "weight")
        unknown = set(entries) - {"weight", "weight_orig", "weight_mask", "bias", "bias_orig", "bias_mask"}
        if w is None or w.ndim != 2 or unknown:
            shapes = ", ".join(f"{prefix}.{k} {tuple(v.shape)}" for k, v in entries.items())
            raise LRCountError(f"unsupported layer {prefix!r} ({shapes}) in {path}; only Linear layers (2-D weights) are read")
        b = _pruned(entries, "bias")
        if steps:
            steps.append(("relu",))
        steps.append(("affine", w, b if b is not None else np.zeros(w.shape[0])))
    return network_from_steps(steps, Path(path).stem)


def _pruned(entries: dict, name: str) -> np.ndarray | None:
    """Parameter ``name`` as float64: itself, or ``name_orig * name_mask`` as
    ``torch.nn.utils.prune`` stores it; None if absent."""
    if f"{name}_orig" in entries:
        mask = entries.get(f"{name}_mask")
        value = entries[f"{name}_orig"] * (mask if mask is not None else 1)
    elif entries.get(name) is not None:
        value = entries[name]
    else:
        return None
    return value.detach().cpu().double().numpy()
