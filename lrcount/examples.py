"""Built-in networks: the example of the README and constructions with known region counts."""

from __future__ import annotations

import numpy as np

from .errors import LRCountError
from .network import ReLUNetwork


def example_network() -> ReLUNetwork:
    """A small seeded network [2, 8, 8] -> 1 with default box [-1, 1]^2."""
    net = ReLUNetwork.random([2, 8, 8], n_outputs=1, seed=2024)
    return ReLUNetwork(net.weights, net.biases, name="example", default_box=np.array([[-1.0, 1.0], [-1.0, 1.0]]))


def _sawtooth(n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """n ReLUs of a scalar s whose sum is a zigzag with n + 1 pieces on [0, 1], each piece
    covering [0, 1]: breakpoints c_1 < ... < c_n, values 1, 0, 1, ..., 0 at 0, c_1, ..., c_n and
    2 at s = 1. Neuron 0 is relu(c_n - s), neuron j >= 1 is relu(s - c_j), so every piece has
    a neuron active and none is constant. Returns (w, b, a, d) with pre-activations w s + b and
    zigzag a @ h + d."""
    if n < 3 or n % 2 == 0:
        raise LRCountError(f"the sawtooth construction needs odd widths >= 3, got {n}")
    delta = 1.0 / (n + 1.0 / 3.0)
    c = delta / 3.0 + delta * np.arange(n)
    slopes = np.empty(n + 1)
    slopes[0] = -3.0 / delta
    slopes[1:n] = np.where(np.arange(1, n) % 2 == 1, 1.0, -1.0) / delta
    slopes[n] = slopes[n - 1] - slopes[0]
    w = np.ones(n)
    w[0] = -1.0
    b = np.r_[c[-1], -c[:-1]]
    a = np.empty(n)
    a[0] = -slopes[0]
    a[1:] = np.diff(slopes[:n])
    d = 1.0 - a[0] * c[-1]
    return w, b, a, d


def sawtooth_network(widths: list[int]) -> ReLUNetwork:
    """A network with one input whose number of regions on [0, 1] is exactly prod_l (n_l + 1),
    the maximum for n_0 = 1 (Serra et al. 2018, Theorem 5): every layer folds the line with a
    zigzag whose n_l + 1 pieces all sweep [0, 1], so each piece meets every breakpoint of the
    next layer. ``widths`` = [1, n_1, ..., n_L] with odd n_l >= 3. Default box [0, 1]."""
    if not widths or widths[0] != 1:
        raise LRCountError("the sawtooth network has one input: widths must start with 1")
    weights, biases = [], []
    a, d = np.ones(1), 0.0  # the scalar fed to the next layer: s = a @ h + d (h = x at first)
    for n in widths[1:]:
        w, b, a_next, d_next = _sawtooth(n)
        weights.append(np.outer(w, a))
        biases.append(w * d + b)
        a, d = a_next, d_next
    weights.append(a[None, :])
    biases.append(np.array([d]))
    return ReLUNetwork(tuple(weights), tuple(biases), name=f"sawtooth{widths}", default_box=np.array([[0.0, 1.0]]))
