"""Closed forms: Zaslavsky for one layer, products for 1-D inputs, and an independent 1-D sweep."""

from itertools import combinations
from math import comb, prod

import numpy as np
import pytest

from lrcount import Box, ReLUNetwork, Subspace, count_regions
from lrcount.engines import ENGINE_NAMES, engines_for
from lrcount.examples import sawtooth_network


def general_position_layer(n: int, d: int, seed: int) -> tuple[ReLUNetwork, Box]:
    """One hidden layer of n random hyperplanes in R^d and a box holding every vertex."""
    rng = np.random.default_rng(seed)
    w, b = rng.standard_normal((n, d)), rng.standard_normal(n)
    # vertices: points where min(n, d) hyperplanes meet (least norm when n < d)
    vertices = [np.linalg.lstsq(w[list(s)], -b[list(s)], rcond=None)[0] for s in combinations(range(n), min(n, d))]
    reach = np.abs(np.array(vertices)).max() + 1.0
    net = ReLUNetwork((w, np.ones((1, n))), (b, np.zeros(1)))
    return net, Box(-reach, reach)


@pytest.mark.parametrize("engine,n,d", [(engine, n, d) for n, d in [(1, 1), (5, 1), (4, 2), (7, 2), (6, 3), (5, 4), (4, 5)]
                                         for engine in engines_for(d)])
def test_zaslavsky_one_layer(engine, n, d):
    net, box = general_position_layer(n, d, seed=10 * n + d)
    assert count_regions(net, box, engine=engine).count == sum(comb(n, i) for i in range(d + 1))


@pytest.mark.parametrize("engine", ENGINE_NAMES)
@pytest.mark.parametrize("widths", [[1, 3], [1, 3, 3], [1, 5, 3], [1, 3, 5, 3], [1, 7, 5]])
def test_one_input_construction_attains_the_product(engine, widths):
    net = sawtooth_network(widths)
    assert count_regions(net, engine=engine).count == prod(n + 1 for n in widths[1:])


def sweep_1d(net: ReLUNetwork, lo: float, hi: float, grid: int = 20001) -> int:
    """Independent count for one input: the distinct consecutive patterns along a fine grid,
    refined where a breakpoint could hide (used only on nets whose pieces are long)."""
    x = np.linspace(lo, hi, grid)[:, None]
    patterns = net.activation_patterns(x)
    return 1 + int(np.count_nonzero(np.any(patterns[1:] != patterns[:-1], axis=1)))


@pytest.mark.parametrize("seed", range(12))
def test_one_input_matches_a_dense_sweep(seed):
    net = ReLUNetwork.random([1, 6, 6], seed=seed)
    result = count_regions(net, Box(-2.0, 2.5), engine="milp")
    assert result.count == sweep_1d(net, -2.0, 2.5)


@pytest.mark.parametrize("seed", range(6))
def test_line_through_two_points_matches_the_sweep(seed):
    """A Subspace through two points is the 1-D net t -> net(p0 + t (p1 - p0))."""
    rng = np.random.default_rng(seed)
    net = ReLUNetwork.random([3, 6, 5], seed=seed)
    p = rng.uniform(-1, 1, (2, 3))
    count = count_regions(net, Subspace(p, Box(-1.0, 1.0)), engine="split").count
    # where the line leaves the box [-1, 1]^3
    d = p[1] - p[0]
    with np.errstate(divide="ignore"):
        ends = np.sort(np.r_[(-1 - p[0]) / d, (1 - p[0]) / d].reshape(2, -1), axis=0)
    lo, hi = ends[0].max(), ends[1].min()
    line = net.compose_input(p[0], d[:, None])
    assert count == sweep_1d(line, lo, hi, grid=200001)
