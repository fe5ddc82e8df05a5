"""PyTorch: an ``nn.Sequential`` in memory, or a state dict saved with ``torch.save``."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import LRCountError
from ..network import ReLUNetwork

_PASS_THROUGH = ("Flatten", "Identity", "Dropout")


def _layers_from_affine_and_relu(steps: list, name: str, input_dim: int | None = None) -> ReLUNetwork:
    """Build a network from ``("affine", W, b)``, ``("elementwise", scale, shift)`` (x -> scale
    * x + shift, broadcast) and ``("relu",)`` steps. Affine maps with no ReLU between them are
    composed; a trailing ReLU gets an identity output layer."""
    weights, biases = [], []
    pending = None
    for step in steps:
        if step[0] in ("affine", "elementwise") and pending is None:
            n = weights[-1].shape[0] if weights else input_dim
            n = n or max(step[1].size, step[2].size)
            pending = (np.eye(n), np.zeros(n)) if step[0] == "elementwise" else None
        if step[0] == "affine":
            w, b = step[1], step[2]
            pending = (w, b) if pending is None else (w @ pending[0], w @ pending[1] + b)
        elif step[0] == "elementwise":
            scale, shift = step[1], step[2]
            pending = (scale.reshape(-1, 1) * pending[0], scale * pending[1] + shift)
        else:
            if pending is None:
                raise LRCountError(f"{name}: a ReLU with no affine layer before it is not supported")
            weights.append(pending[0])
            biases.append(pending[1])
            pending = None
    if pending is None:
        if not weights:
            raise LRCountError(f"{name}: no Linear layer found")
        n = weights[-1].shape[0]
        pending = (np.eye(n), np.zeros(n))
    weights.append(pending[0])
    biases.append(pending[1])
    return ReLUNetwork(tuple(weights), tuple(biases), name=name)


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
            w = layer.weight.detach().cpu().double().numpy()
            b = layer.bias.detach().cpu().double().numpy() if layer.bias is not None else np.zeros(w.shape[0])
            steps.append(("affine", w, b))
        elif isinstance(layer, nn.ReLU):
            steps.append(("relu",))
        elif kind not in _PASS_THROUGH:
            raise LRCountError(
                f"unsupported layer {kind} at position {position}; lrcount reads Linear, ReLU, Flatten, Identity, Dropout"
            )
    return _layers_from_affine_and_relu(steps, type(module).__name__)


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
    steps = []
    for key, tensor in state.items():
        prefix, _, kind = key.rpartition(".")
        if kind == "bias" and f"{prefix}.weight" in state:
            continue
        if kind != "weight" or tensor.ndim != 2:
            raise LRCountError(
                f"unsupported entry {key} of shape {tuple(tensor.shape)} in {path}; only Linear layers (2-D weights) are read"
            )
        w = tensor.double().numpy()
        bias = state.get(f"{prefix}.bias")
        b = bias.double().numpy() if bias is not None else np.zeros(w.shape[0])
        if steps:
            steps.append(("relu",))
        steps.append(("affine", w, b))
    return _layers_from_affine_and_relu(steps, Path(path).stem)
