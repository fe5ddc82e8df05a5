"""Assemble a ReLUNetwork from a chain of affine, elementwise and ReLU steps (used by the
PyTorch and ONNX readers)."""

from __future__ import annotations

import numpy as np

from ..errors import LRCountError
from ..network import ReLUNetwork


def network_from_steps(steps: list, name: str, input_dim: int | None = None) -> ReLUNetwork:
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
    if input_dim is not None and weights[0].shape[1] != input_dim:
        raise LRCountError(f"{name}: the input is declared with {input_dim} features but the first layer takes "
                           f"{weights[0].shape[1]}; fix the model's input shape")
    return ReLUNetwork(tuple(weights), tuple(biases), name=name)
