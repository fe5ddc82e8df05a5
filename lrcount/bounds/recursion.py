"""The recursion shared by the bounds, the input checks, and log10 of numbers of any size.

Every function takes ``widths = [n_0, n_1, ..., n_L]``: the input dimension and the hidden ReLU
widths (the affine output layer never splits and is not listed). Bounds over all weights are
exact Python integers; the recursion also takes rank distributions with ``Fraction`` (exact)
or ``Decimal`` probabilities, and :func:`lrcount.bounds.cai2023` returns its expectation as a
15-digit ``Decimal`` computed in log space.

The recursion shared by the Serra, rank-refined, sparsity-aware and per-network bounds is, for
layer l with ``u`` splitting neurons, ``a`` neurons that are always active and rank ``k``::

    R(l, d) = sum_{j=0}^{min(u, d')} C(u, j) R(l + 1, min(a + u - j, d')),   d' = min(d, k)

with ``R(L + 1, .) = 1`` and the bound ``R(1, n_0)`` (Serra et al. 2018, Theorem 1 for
``u = n_l, a = 0, k = n_l``; the rank refinement for ``k = rank(W^l)``). Cai et al. 2023
(Theorem 1) average over a distribution of k for each layer, which is what :class:`Layer`
holds.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction

import numpy as np

from ..errors import LRCountError

Number = int | Fraction | Decimal


# -- input checks ------------------------------------------------------------------------------
def check_widths(widths) -> list[int]:
    """``widths`` as a list of positive ints with at least one hidden layer, or a clear error."""
    try:
        widths = [int(w) for w in widths]
    except (TypeError, ValueError):
        raise LRCountError(f"widths must be whole numbers, got {widths!r}") from None
    if len(widths) < 2:
        raise LRCountError("widths need the input dimension and at least one hidden layer, e.g. 784,100,100")
    bad = [w for w in widths if w <= 0]
    if bad:
        raise LRCountError(f"every width must be positive, got {bad[0]} in {widths}")
    return widths


def check_densities(widths: list[int], densities) -> list[float]:
    """One density in (0, 1] per hidden layer; a single number applies to every layer."""
    densities = [float(p) for p in np.atleast_1d(np.asarray(densities, dtype=float))]
    if len(densities) == 1:
        densities *= len(widths) - 1
    if len(densities) != len(widths) - 1:
        raise LRCountError(
            f"give one density per hidden layer: {len(widths) - 1} for widths {widths}, got {len(densities)}"
        )
    bad = [p for p in densities if not 0.0 < p <= 1.0]
    if bad:
        raise LRCountError(f"densities must lie in (0, 1], got {bad[0]}")
    return densities


def check_ranks(widths: list[int], ranks: list[int]) -> None:
    """One rank per hidden layer, each within what an n_l x n_{l-1} matrix allows."""
    if len(ranks) != len(widths) - 1:
        raise LRCountError(f"give one rank per hidden layer ({len(widths) - 1}), got {len(ranks)}")
    for l, (rank, n_in, n_out) in enumerate(zip(ranks, widths[:-1], widths[1:]), start=1):
        if not 0 <= rank <= min(n_in, n_out):
            raise LRCountError(f"layer {l} is {n_out} x {n_in}: its rank lies in [0, {min(n_in, n_out)}], got {rank}")



# -- the shared recursion ------------------------------------------------------------------------
@dataclass(frozen=True)
class Layer:
    """One hidden layer for the recursion: ``splitting`` neurons whose hyperplanes can cut,
    ``always_active`` neurons that never switch off, and the distribution of the layer's rank
    as ``((probability, rank), ...)`` (a single ``(1, k)`` for a fixed rank)."""

    splitting: int
    always_active: int = 0
    ranks: tuple[tuple[Number, int], ...] = ()


def layered_bound(n0: int, layers: list[Layer]) -> Number:
    """``R(1, n_0)`` of the recursion in the module docstring, exactly. The dimensions each
    layer can be entered with are found forwards, then ``R`` is evaluated backwards over just
    those, layer by layer (no recursion, so a thousand layers need no deep stack). The last
    layer's ``R(L, d) = sum_k P(k) sum_{j <= min(u, d, k)} C(u, j)`` comes from prefix sums of
    binomials, so a layer of a million neurons costs no more than one of ten."""
    entered = [{n0}]
    for layer in layers[:-1]:
        reachable: set[int] = set()
        for d in entered[-1]:
            for _, rank in layer.ranks:
                dim = min(d, rank)
                low = min(layer.always_active + layer.splitting - min(layer.splitting, dim), dim)
                reachable.update(range(low, min(layer.always_active + layer.splitting, dim) + 1))
        entered.append(reachable)
    last = layers[-1]
    top = min(last.splitting, n0)
    prefix = list(itertools.accumulate(math.comb(last.splitting, j) for j in range(top + 1)))
    values = {d: sum(p * prefix[min(top, d, rank)] for p, rank in last.ranks) for d in entered[-1]}
    for layer, dims in zip(reversed(layers[:-1]), reversed(entered[:-1])):
        binomials = [math.comb(layer.splitting, j) for j in range(min(layer.splitting, n0) + 1)]
        values = {d: _layer_sum(layer, d, binomials, values) for d in dims}
    return values[n0]


def _layer_sum(layer: Layer, d: int, binomials: list[int], below: dict[int, Number]) -> Number:
    """``R(l, d)`` from the values ``below`` of the next layer."""
    total: Number = 0
    for probability, rank in layer.ranks:
        dim = min(d, rank)
        total += probability * sum(binomials[j] * below[min(layer.always_active + layer.splitting - j, dim)]
                                   for j in range(min(layer.splitting, dim) + 1))
    return total


def dense_layers(widths: list[int], ranks: list[int] | None = None) -> list[Layer]:
    ranks = ranks or widths[1:]
    return [Layer(n, 0, ((1, int(k)),)) for n, k in zip(widths[1:], ranks)]


def log10(value: Number) -> float:
    """log10 of a positive int, Fraction or Decimal of any size (0 gives -inf)."""
    if value <= 0:
        return float("-inf")
    if isinstance(value, Decimal):
        return float(value.log10())
    if isinstance(value, Fraction):
        return log10(value.numerator) - log10(value.denominator)
    if value.bit_length() > 1000:  # beyond floats: keep the leading 64 bits
        shift = value.bit_length() - 64
        return math.log10(value >> shift) + shift * math.log10(2)
    return math.log10(value)
