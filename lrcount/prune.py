"""Pruning: boolean masks on the weights of a network (True keeps a weight).

One mask per affine layer; the output layer is kept dense unless ``prune_output`` is set (Cai et
al. 2023 prune the hidden layers). Magnitude pruning keeps the weights of largest absolute value
(Han et al. 2015); layer-wise pruning keeps the same fraction in every layer, or the given
per-layer densities (e.g. the bound-guided ones of
:func:`lrcount.bounds.optimize_densities`). Kept counts are exact: ``round(density * size)``
per layer, with the total fixed by largest remainders so that two plans with the same total
density keep the same number of weights.
"""

from __future__ import annotations

import numpy as np

from .errors import LRCountError
from .network import ReLUNetwork

Masks = list[np.ndarray]


def _prunable(net: ReLUNetwork, prune_output: bool) -> list[int]:
    return list(range(len(net.weights) if prune_output else len(net.weights) - 1))


def _per_layer(densities, n_layers: int) -> list[float]:
    values = [float(p) for p in np.atleast_1d(np.asarray(densities, dtype=float))]
    if len(values) == 1:
        values *= n_layers
    if len(values) != n_layers:
        raise LRCountError(f"give one density per pruned layer ({n_layers}) or a single one, got {len(values)}")
    bad = [p for p in values if not 0.0 < p <= 1.0]
    if bad:
        raise LRCountError(f"densities must lie in (0, 1], got {bad[0]}")
    return values


def kept_counts(sizes: list[int], densities: list[float]) -> list[int]:
    """How many weights each layer keeps: ``density * size`` rounded so that the total is
    ``round(sum density * size)`` (largest remainders), at least one per layer."""
    wanted = np.array([p * n for p, n in zip(densities, sizes)])
    counts = np.floor(wanted).astype(int)
    short = int(round(wanted.sum())) - counts.sum()
    for layer in np.argsort(-(wanted - counts), kind="stable")[: max(short, 0)]:
        counts[layer] += 1
    return [int(min(max(c, 1), n)) for c, n in zip(counts, sizes)]


def _top(values: np.ndarray, keep: int) -> np.ndarray:
    """A mask keeping the ``keep`` entries of largest absolute value (ties: the earlier one)."""
    order = np.argsort(-np.abs(values).ravel(), kind="stable")
    mask = np.zeros(values.size, bool)
    mask[order[:keep]] = True
    return mask.reshape(values.shape)


def _full(net: ReLUNetwork) -> Masks:
    return [np.ones(w.shape, bool) for w in net.weights]


def layerwise_magnitude(net: ReLUNetwork, densities, *, prune_output: bool = False) -> Masks:
    """Keep the largest weights of each layer: the same ``density`` everywhere, or one per
    pruned layer."""
    layers = _prunable(net, prune_output)
    densities = _per_layer(densities, len(layers))
    masks = _full(net)
    counts = kept_counts([net.weights[l].size for l in layers], densities)
    for l, keep in zip(layers, counts):
        masks[l] = _top(net.weights[l], keep)
    return masks


def global_magnitude(net: ReLUNetwork, density: float, *, prune_output: bool = False) -> Masks:
    """Keep the largest weights over all pruned layers together (one threshold)."""
    layers = _prunable(net, prune_output)
    density = _per_layer(density, 1)[0]
    weights = np.concatenate([net.weights[l].ravel() for l in layers])
    keep = _top(weights, max(len(layers), int(round(density * weights.size))))
    masks, start = _full(net), 0
    for l in layers:
        masks[l] = keep[start:start + net.weights[l].size].reshape(net.weights[l].shape)
        start += net.weights[l].size
    return masks


def random_masks(net: ReLUNetwork, densities, *, seed: int = 0, prune_output: bool = False) -> Masks:
    """Keep weights chosen uniformly at random (seeded), the given fraction per layer."""
    layers = _prunable(net, prune_output)
    densities = _per_layer(densities, len(layers))
    rng = np.random.default_rng(seed)
    masks = _full(net)
    for l, keep in zip(layers, kept_counts([net.weights[l].size for l in layers], densities)):
        masks[l] = _top(rng.random(net.weights[l].shape), keep)
    return masks


def apply(net: ReLUNetwork, masks: Masks) -> ReLUNetwork:
    """The network with the pruned weights set to zero."""
    if len(masks) != len(net.weights) or any(m.shape != w.shape for m, w in zip(masks, net.weights)):
        raise LRCountError("the masks do not match the network's layers")
    return ReLUNetwork(tuple(w * m for w, m in zip(net.weights, masks)), net.biases, name=net.name,
                       default_box=net.default_box)


def densities(masks: Masks) -> list[float]:
    """The fraction of weights each mask keeps."""
    return [float(m.mean()) for m in masks]
