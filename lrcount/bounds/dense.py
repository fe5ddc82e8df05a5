"""Bounds on the maximum number of regions of an architecture (docs/theory.md section 3)."""

from __future__ import annotations

import itertools
import math

from ..errors import LRCountError
from .recursion import check_ranks, check_widths, dense_layers, layered_bound


# -- dense bounds --------------------------------------------------------------------------------
def montufar2014_lower(widths) -> int:
    """Montufar, Pascanu, Cho & Bengio 2014 (NeurIPS), lower bound on the maximum, for n_l >= n_0:
    ``prod_{l<L} floor(n_l / n_0)^{n_0} * sum_{j=0}^{n_0} C(n_L, j)``."""
    widths = check_widths(widths)
    n0, hidden = widths[0], widths[1:]
    if min(hidden) < n0:
        raise LRCountError("the Montufar 2014 lower bound needs every hidden width >= the input dimension")
    return math.prod((n // n0) ** n0 for n in hidden[:-1]) * sum(math.comb(hidden[-1], j) for j in range(n0 + 1))


def montufar2017(widths) -> int:
    """Montufar 2017 upper bound: ``prod_l sum_{j=0}^{d_l} C(n_l, j)``, ``d_l = min(n_0, ..., n_l)``."""
    widths = check_widths(widths)
    return math.prod(
        sum(math.comb(n, j) for j in range(min(widths[: l + 2]) + 1)) for l, n in enumerate(widths[1:])
    )


def serra2018(widths, ranks: list[int] | None = None) -> int:
    """Serra, Tjandraatmadja & Ramalingam 2018 (ICML), Theorem 1: the sum over
    ``J = {0 <= j_l <= min(n_0, n_1 - j_1, ..., n_{l-1} - j_{l-1}, n_l)}`` of
    ``prod_l C(n_l, j_l)``. With ``ranks``, the rank-refined form: the dimension that reaches
    layer l is also capped by rank(W^l)."""
    widths = check_widths(widths)
    if ranks is not None:
        check_ranks(widths, ranks)
    return layered_bound(widths[0], dense_layers(widths, ranks))


def serra2018_lower(widths) -> int:
    """Serra et al. 2018 lower bound on the maximum, for n_l >= 3 n_0:
    ``prod_{l<L} (floor(n_l / n_0) + 1)^{n_0} * sum_{j=0}^{n_0} C(n_L, j)``."""
    widths = check_widths(widths)
    n0, hidden = widths[0], widths[1:]
    if min(hidden) < 3 * n0:
        raise LRCountError("the Serra 2018 lower bound needs every hidden width >= 3 times the input dimension")
    return math.prod((n // n0 + 1) ** n0 for n in hidden[:-1]) * sum(math.comb(hidden[-1], j) for j in range(n0 + 1))


def serra2018_one_input(widths) -> int:
    """For n_0 = 1: ``prod_l (n_l + 1)``. An upper bound for every network (on each piece of
    the line, each neuron is affine and cuts it at most once) and the exact maximum when every
    n_l >= 3 (Serra et al. 2018, Theorem 5; :func:`lrcount.examples.sawtooth_network`)."""
    widths = check_widths(widths)
    if widths[0] != 1:
        raise LRCountError("the one-input maximum needs input dimension 1")
    return math.prod(n + 1 for n in widths[1:])


def hinz(widths, choice: str = "serra") -> int:
    """The histogram framework of Hinz & van de Geer 2019: propagate a histogram ``h[d]`` of
    regions by the dimension d of their image. A layer of n neurons maps a region of dimension
    d to pieces of dimension ``gamma``; the valid choices implemented are

    - ``"serra"``: C(n, j) pieces of dimension min(n - j, d) for j <= min(n, d) (Serra 2018);
    - ``"montufar"``: sum_{j <= min(n, d)} C(n, j) pieces of dimension min(n, d) (Montufar 2017).

    Tighter choices of Hinz 2021 are not included: their validity is not established here.
    """
    widths = check_widths(widths)
    if choice not in ("serra", "montufar"):
        raise LRCountError(f"unknown histogram choice {choice!r}; use serra or montufar")
    histogram = {widths[0]: 1}
    for n in widths[1:-1]:
        nxt: dict[int, int] = {}
        for d, regions in histogram.items():
            for j in range(min(n, d) + 1):
                dim = min(n - j, d) if choice == "serra" else min(n, d)
                nxt[dim] = nxt.get(dim, 0) + math.comb(n, j) * regions
        histogram = nxt
    # the last layer: a region of dimension d splits into sum_{j <= min(n, d)} C(n, j) pieces
    n = widths[-1]
    prefix = list(itertools.accumulate(math.comb(n, j) for j in range(min(n, max(histogram)) + 1)))
    return sum(regions * prefix[min(n, d)] for d, regions in histogram.items())
