"""Degenerate cases: pruned and duplicate neurons, hyperplanes through corners, slices,
networks without hidden layers, and the margin (tolerance) policy."""

import numpy as np
import pytest

from lrcount import Box, Polytope, ReLUNetwork, Subspace, count_regions
from lrcount.engines import ENGINE_NAMES, engines_for


def counts(net, domain, **kw) -> set[int]:
    dim = domain.chart(net.input_dim).dim
    return {count_regions(net, domain, engine=name, **kw).count for name in engines_for(dim)}


def net1(w, b):
    w = np.asarray(w, float)
    return ReLUNetwork((w, np.ones((1, w.shape[0]))), (np.asarray(b, float), np.zeros(1)))


def test_fully_pruned_neuron_is_stable_and_harmless():
    for bias in (0.0, 0.7, -0.7):
        assert counts(net1([[1, 0], [0, 1], [0, 0]], [0, 0, bias]), Box(-1, 1)) == {4}


def test_fully_pruned_deeper_neuron():
    net = ReLUNetwork.random([2, 4, 3], seed=1)
    w1 = net.weights[1].copy()
    w1[0] = 0.0
    pruned = ReLUNetwork((net.weights[0], w1, net.weights[2]), net.biases)
    dropped = ReLUNetwork((net.weights[0], w1[1:], net.weights[2][:, 1:]), (net.biases[0], net.biases[1][1:], net.biases[2]))
    assert counts(pruned, Box(-2, 2)) == counts(dropped, Box(-2, 2))
    assert len(counts(pruned, Box(-2, 2))) == 1


def test_duplicate_neurons_count_once():
    assert counts(net1([[1, 0], [1, 0], [0, 1]], [0.1, 0.1, 0]), Box(-1, 1)) == {4}


def test_opposite_neurons_share_a_hyperplane():
    assert counts(net1([[1, 0], [-1, 0]], [0, 0]), Box(-1, 1)) == {2}


def test_hyperplane_through_a_corner_does_not_split():
    assert counts(net1([[1, 1], [1, 0]], [-2, 0]), Box(-1, 1)) == {2}


def test_hyperplane_along_a_face_does_not_split():
    assert counts(net1([[1, 0], [0, 1]], [-1, 0]), Box(-1, 1)) == {2}


def test_four_lines_through_a_point_give_eight():
    angles = np.pi * np.arange(4) / 4
    assert counts(net1(np.c_[np.cos(angles), np.sin(angles)], np.zeros(4)), Box(-1, 1)) == {8}


def test_no_hidden_layer_has_one_region():
    net = ReLUNetwork((np.ones((2, 3)),), (np.zeros(2),))
    assert counts(net, Box(-1, 1)) == {1}


def test_bias_free_network_keeps_the_region_where_a_layer_is_off():
    """Without biases, layer-2 neurons are constant (0) where all their inputs are off: that
    region still counts. A dense grid sees a subset of the regions, including that one."""
    base = ReLUNetwork.random([2, 3, 3], seed=1)
    net = ReLUNetwork(base.weights, tuple(np.zeros_like(b) for b in base.biases))
    got = counts(net, Box(-1, 1))
    assert len(got) == 1
    grid = np.stack(np.meshgrid(*[np.linspace(-1, 1, 801)] * 2), -1).reshape(-1, 2)
    off = net.activation_patterns(grid)
    assert len({p.tobytes() for p in off}) <= got.pop()
    assert not off[:, :3].any(axis=1).sum() == 0  # some points have layer 1 all off


def test_a_neuron_zero_up_to_rounding_is_not_stably_active():
    """g = relu(x) + (0.1 + 0.2) - 0.3 is 5.6e-17 where x < 0 (zero up to rounding, so off) and
    positive where x > 0: two regions. Its interval lower bound is positive by rounding, and
    the MILP engines once took the neuron as stably active and lost the region x < 0."""
    from lrcount.preact import UNSTABLE
    from lrcount.problem import CountingProblem

    net = ReLUNetwork((np.array([[1.0], [0.0]]), np.array([[1.0, 0.1 + 0.2]]), np.ones((1, 1))),
                      (np.array([0.0, 1.0]), np.array([-0.3]), np.zeros(1)))
    assert counts(net, Box(-1, 1)) == {2}
    assert CountingProblem.build(net, Box(-1, 1), tighten=True).bounds.states[1][0] == UNSTABLE


def integer_network(weights, biases) -> ReLUNetwork:
    return ReLUNetwork(tuple(np.asarray(w, float) for w in weights), tuple(np.asarray(b, float) for b in biases))


@pytest.mark.parametrize("net,box,expected", [
    (integer_network(([[-1], [2], [-1], [1], [1], [2], [2]],
                      [[0, -1, -1, 2, 0, 2, 2], [-2, 2, 0, -1, 0, 0, 2], [0, -2, -2, 1, -2, 1, 0],
                       [0, 1, -1, 1, -2, 2, 1], [-2, 2, 0, 2, -1, -1, -1]],
                      [[2, 0, 2, 2, 2], [1, 2, 0, -2, 1], [2, 1, -1, -2, -2], [0, -2, 0, 0, -2],
                       [-2, 0, -1, 1, -2], [0, -2, 1, 0, 2], [2, 1, -2, 0, -2]], np.ones((1, 7))),
                     ([2, 0, -2, 1, 0, 0, 1], [0, 2, 1, 2, 2], [2, 0, -1, 0, -1, 1, 2], [0])),
     Box(-1.5553, -0.9428), 2),
    (integer_network(([[0, 2], [2, 0]], [[1, 2], [0, 1], [-2, -1], [-2, 1]], np.ones((1, 4))),
                     ([0, -2], [0, 0, 0, 1], [0])),
     Box([0.31071817475964103, -0.3086124997988371], [3.0375899207243457, -0.16142542850105812]), 2),
])
def test_presolving_does_not_lose_regions(net, box, expected):
    """On these integer-weight networks (found by fuzzing) SCIP's presolving, which the MILP
    engines once ran, fixed binaries by dual reductions (a zero objective does not care where
    a variable sits) and the milp engine lost a region. Which reductions fire depends on the
    last digits of the box, so the boxes are given in full."""
    assert counts(net, box) == {expected}


@pytest.mark.parametrize("widths", [[2, 8, 8, 1], [2, 6, 6, 6, 1]])
@pytest.mark.parametrize("engine", ["milp", "scip-count"])
def test_milp_engines_finish_on_bias_free_networks(widths, engine):
    """Without biases every hyperplane of the first layer, and of every later layer on a cone,
    passes through the origin, whose closed sets hold 2^(neurons) candidate patterns. A
    candidate that fails is cut off with all patterns that share its binding rows' layers and
    signs; cut off one by one they kept the MILP engines from finishing within minutes (a
    count of 1 after 30 s on 2-8-8, of 30 regions)."""
    base = ReLUNetwork.random(widths, seed=3)
    net = ReLUNetwork(base.weights, tuple(np.zeros_like(b) for b in base.biases))
    result = count_regions(net, Box(-1, 1), engine=engine, time_limit=120)
    assert result.complete
    assert result.count == count_regions(net, Box(-1, 1), engine="split").count
    assert result.stats["rejected_candidates"] < 100 * result.count


def test_subspace_equals_the_composed_network():
    rng = np.random.default_rng(3)
    net = ReLUNetwork.random([4, 6, 6], seed=3)
    points = rng.uniform(-1, 1, (3, 4))
    direct = counts(net, Subspace(points, Box(-2, 2)))
    assert len(direct) == 1
    # the same plane as a polytope in its own coordinates a: -2 <= p0 + P a <= 2
    basis = (points[1:] - points[0]).T
    plane = net.compose_input(points[0], basis)
    polytope = Polytope(np.vstack([basis, -basis]), np.r_[2 - points[0], 2 + points[0]])
    assert counts(plane, polytope) == direct


def test_box_with_fixed_inputs_is_a_slice():
    net = ReLUNetwork.random([3, 5, 5], seed=4)
    sliced = counts(net, Box([-1, -1, 0.3], [1, 1, 0.3]))
    fixed = net.compose_input(np.array([0, 0, 0.3]), np.eye(3)[:, :2])
    assert sliced == counts(fixed, Box(-1, 1))
    assert len(sliced) == 1


def test_polytope_domain_matches_the_box():
    net = ReLUNetwork.random([2, 6, 4], seed=5)
    square = Polytope(np.vstack([np.eye(2), -np.eye(2)]), np.ones(4))
    assert counts(net, square) == counts(net, Box(-1, 1))


@pytest.mark.parametrize("engine", ENGINE_NAMES)
@pytest.mark.parametrize("scale", [1.0, 1e3, 1e-4])
def test_a_slab_counts_iff_its_inscribed_radius_reaches_epsilon(engine, scale):
    """The one place any engine may differ from the exact partition (docs/counting.md): a
    region thinner than 2 epsilon domain radii. Two parallel hyperplanes 2 h apart bound a slab
    of inscribed radius h; on the box [-scale, scale]^2 it counts iff h >= epsilon * scale."""
    for relative, expected in ((1e-3, 3), (2e-6, 3), (5e-7, 2)):
        h = relative * scale
        net = net1([[1.0, 0.0], [-1.0, 0.0]], [-h, -h])
        result = count_regions(net, Box(-scale, scale), engine=engine, epsilon=1e-6)
        assert result.count == expected, relative
        assert result.epsilon == 1e-6


def test_a_deep_neuron_with_a_tiny_gradient_still_splits():
    """The undercount of issue 6: a second-layer neuron whose pre-activation spans only
    [-1e-6, 1e-6] over the box still halves it; the halves are wide regions and count."""
    w1 = np.array([[1.0, 0.0], [-1.0, 0.0]])
    tiny = 1e-6
    net = ReLUNetwork((w1, np.array([[tiny, tiny]]), np.ones((1, 1))), (np.array([0.0, 0.0]), np.array([0.0]), np.zeros(1)))
    for engine in engines_for(2):
        # layer 1 splits x = 0; layer 2 is tiny * |x| >= 0, zero only on the line: 2 regions
        assert count_regions(net, Box(-1, 1), engine=engine).count == 2
    shifted = ReLUNetwork(net.weights, (net.biases[0], np.array([-0.5 * tiny]), net.biases[2]))
    for engine in engines_for(2):
        # tiny * (|x| - 0.5) changes sign at |x| = 0.5 on each side: 4 regions
        assert count_regions(shifted, Box(-1, 1), engine=engine).count == 4


def test_margin_is_scale_free():
    """Scaling a neuron's weights does not change what counts (rows are balanced first)."""
    net = net1([[1.0, 0.0], [-1.0, 0.0]], [-2e-6, -2e-6])
    scaled = net1([[1e-3, 0.0], [-1e3, 0.0]], [-2e-9, -2e-3])
    assert counts(net, Box(-1, 1)) == counts(scaled, Box(-1, 1)) == {3}


def test_a_subspace_inside_a_box_with_fixed_coordinates():
    """A box side of zero width along which the points do not move (MNIST's border pixels)
    leaves zero rows in the subspace's polytope; they constrain nothing."""
    net = ReLUNetwork.random([4, 6, 6], seed=8)
    rng = np.random.default_rng(8)
    points = np.c_[rng.uniform(-1, 1, (3, 3)), np.full(3, 0.25)]
    flat = Subspace(points, Box([-1, -1, -1, 0.25], [1, 1, 1, 0.25]))
    wide = Subspace(points, Box([-1, -1, -1, -1], [1, 1, 1, 1]))
    assert counts(net, flat) == counts(net, wide)
    assert min(counts(net, flat)) > 1


@pytest.mark.parametrize("engine", ["milp", "scip-count"])
def test_a_milp_search_that_finds_no_region_is_an_error_not_a_count(engine, monkeypatch):
    """Every domain with an interior holds a region; a complete SCIP search that found none
    means SCIP's numerics failed (as on a network with large biases given unit rows), and is
    reported so, never as a count of 0."""
    from lrcount import LRCountError
    from lrcount.region import Certificate

    monkeypatch.setattr("lrcount.milp.certify", lambda *args, **kwargs: Certificate(-np.inf))
    with pytest.raises(LRCountError, match="found no region at all"):
        count_regions(ReLUNetwork.random([2, 4, 4], seed=0), Box(-1, 1), engine=engine)
