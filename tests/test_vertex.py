"""The vertex engine's own paths: cells that are not simple go to the split engine, thin cells
get the Chebyshev LP, polytope and subspace domains are cut out of a box. Each is checked
against a closed form or the split engine (LPs, no vertices), and the paths are shown to run."""

from math import comb

import numpy as np
import pytest

from lrcount import Box, Polytope, ReLUNetwork, Subspace, count_regions
from lrcount.engines.vertex.polytopes import EdgeNames, _box_cell


def one_layer(weights, biases) -> ReLUNetwork:
    weights = np.asarray(weights, float)
    return ReLUNetwork((weights, np.ones((1, len(weights)))), (np.asarray(biases, float), np.zeros(1)))


@pytest.mark.parametrize("d, n", [(3, 8), (4, 7), (5, 6)])
def test_central_arrangement_goes_to_split_and_matches_the_closed_form(d, n):
    """n hyperplanes through the centre of the box, in general position otherwise: every cell
    has the centre as a vertex on many hyperplanes (not simple), and the count is
    2 sum_{i<d} C(n-1, i) (Zaslavsky, central arrangement)."""
    weights = np.random.default_rng(d).standard_normal((n, d))
    result = count_regions(one_layer(weights, np.zeros(n)), Box(-1, 1), engine="vertex")
    assert result.count == 2 * sum(comb(n - 1, i) for i in range(d))
    assert result.stats["degenerate"] > 0


def test_hyperplane_through_a_box_corner():
    weights = np.array([[1.0, 1.0, 1.0], [1.0, -1.0, 0.0], [0.0, 1.0, -2.0]])
    net = one_layer(weights, [-3.0, 0.3, 0.1])  # the first touches the corner (1, 1, 1) only
    result = count_regions(net, Box(-1, 1), engine="vertex")
    assert result.stats["degenerate"] > 0
    assert result.count == count_regions(net, Box(-1, 1), engine="split").count == 4


@pytest.mark.parametrize("seed", range(4))
def test_domain_with_four_facets_at_a_vertex_is_moved_out_by_the_slack(seed):
    """The octahedron |x| + |y| + |z| <= 1 is not simple (four facets at each vertex): its
    rows are moved out by up to 1e-6, and the cells near the boundary are certified."""
    signs = np.array([[a, b, c] for a in (1, -1) for b in (1, -1) for c in (1, -1)], float)
    octahedron = Polytope(signs, np.ones(8))
    net = ReLUNetwork.random([3, 6, 5], seed=seed)
    result = count_regions(net, octahedron, engine="vertex")
    assert result.stats["domain_slack"] > 0
    assert result.count == count_regions(net, octahedron, engine="split").count


def test_mnist_subspaces_are_not_simple_and_still_exact():
    """Slices of the MNIST box through test images have vertices on 17 rows at once."""
    from conftest import DATA, require

    from lrcount.data import mnist

    require(DATA / "mnist" / "t10k-images-idx3-ubyte.gz")
    points = mnist(DATA / "mnist").x_test
    net = ReLUNetwork.random([784, 12, 10], seed=0)
    for rows in ([0, 1, 2, 3], [10, 11, 12, 13, 14]):
        domain = Subspace(points[rows], Box(-0.5, 2.9))
        vertex = count_regions(net, domain, engine="vertex")
        assert vertex.stats["domain_slack"] > 0
        assert vertex.count == count_regions(net, domain, engine="split").count


def test_simplex_and_subspace_domains_match_split():
    simplex = Polytope(np.vstack([-np.eye(4), np.ones((1, 4))]), np.r_[np.zeros(4), 1.0])
    net = ReLUNetwork.random([4, 10, 8], seed=5)
    assert count_regions(net, simplex, engine="vertex").count == count_regions(net, simplex, engine="split").count
    points = np.random.default_rng(0).uniform(-1, 1, (4, 12))
    deep = ReLUNetwork.random([12, 12, 10], seed=6)
    counts = {engine: count_regions(deep, Subspace(points, Box(-1, 1)), engine=engine).count
              for engine in ("vertex", "split", "milp")}
    assert len(set(counts.values())) == 1, counts


@pytest.mark.parametrize("epsilon", [0.02, 0.1, 0.3])
def test_thin_cells_are_certified_by_the_lp(epsilon):
    """At large epsilon many cells fail the cheap ball test and get the Chebyshev LP; the
    counts must still equal split's, which decides every side by LP."""
    net = ReLUNetwork.random([3, 8, 8], seed=11)
    vertex = count_regions(net, Box(-1, 1), engine="vertex", epsilon=epsilon)
    split = count_regions(net, Box(-1, 1), engine="split", epsilon=epsilon)
    assert vertex.count == split.count
    assert vertex.stats["certified"] > 0


def test_interior_points_have_their_patterns():
    net = ReLUNetwork.random([3, 9, 7], seed=2)
    result = count_regions(net, Box(-2, 1), engine="vertex", return_regions=True)
    assert len(result.patterns) == result.count == len({p.tobytes() for p in result.patterns})
    assert np.array_equal(net.activation_patterns(result.points), result.patterns)


def test_box_cell_is_simple_and_named_consistently():
    names = EdgeNames(4)
    cell = _box_cell(-np.ones(4), np.ones(4), names)
    assert cell.V.shape == (16, 5)
    assert np.allclose(np.einsum("vkd,vd->vk", cell.R[cell.T], cell.V), 0)  # each vertex lies on its facets
    # every edge is named from both of its ends: each name appears exactly twice
    _, multiplicity = np.unique(cell.names, return_counts=True)
    assert (multiplicity == 2).all() and len(multiplicity) == 4 * 2**3


def test_time_limit_gives_an_incomplete_lower_bound():
    net = ReLUNetwork.random([4, 16, 16, 16], seed=0)
    partial = count_regions(net, Box(-1, 1), engine="vertex", time_limit=0.05)
    full = count_regions(net, Box(-1, 1), engine="vertex")
    assert full.complete and full.count > 2_000
    assert not partial.complete and partial.status == "timelimit"
    assert partial.count < full.count


def test_a_domain_that_cannot_be_made_simple_goes_to_split(monkeypatch):
    import lrcount.engines.vertex as vertex

    def not_simple(problem, names):
        raise vertex.NotSimple

    monkeypatch.setattr(vertex, "domain_cell", not_simple)
    simplex = Polytope(np.vstack([-np.eye(3), np.ones((1, 3))]), np.r_[np.zeros(3), 1.0])
    net = ReLUNetwork.random([3, 7, 6], seed=4)
    result = count_regions(net, simplex, engine="vertex")
    assert result.stats["degenerate"] == "domain"
    assert result.count == count_regions(net, simplex, engine="split").count


def test_a_cell_on_the_hyperplane_is_dropped_or_handed_over():
    names = EdgeNames(3)
    cell = _box_cell(-np.ones(3), np.ones(3), names)
    plane, on_plane = np.array([[1.0, 0, 0, 0]]), np.zeros(8)
    dropped, _, _, bad = cell.cut(names, np.array([0]), on_plane, plane, np.array([[False, False]]))
    assert dropped.n == 0 and bad.size == 0
    kept, _, _, bad = cell.cut(names, np.array([0]), on_plane, plane, np.array([[True, False]]))
    assert kept.n == 0 and list(bad) == [0]
    halves, _, side, bad = cell.cut(names, np.array([0]), cell.V @ plane[0] + 0.5, plane + [0, 0, 0, 0.5],
                                    np.array([[True, True]]))
    assert halves.n == 2 and bad.size == 0 and sorted(side) == [-1, 1]
    assert sorted(np.bincount(halves.owner)) == [8, 8]  # a box cut across one axis: two boxes
