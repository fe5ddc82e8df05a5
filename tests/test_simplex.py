"""The split engine's dense simplex (lrcount.simplex) against HiGHS, LP by LP, and the split
engine in 8 to 16 dimensions against the MILP engine, random points and rescaling."""

import numpy as np
import pytest
from conftest import random_case, trained_network

from lrcount import Box, ReLUNetwork, Subspace, count_regions, simplex
from lrcount.engines import split
from lrcount.lp import inscribed_ball, solve_lp
from lrcount.simplex import ChebyshevLP
from lrcount.tolerances import EPSILON

#: Two optimal radii of one LP may differ by this much (both solvers keep rows to 1e-10).
AGREE = 1e-8


def _highs_radius(lp: ChebyshevLP) -> float:
    m = lp.n_rows
    result = solve_lp(lp.radius_cost, lp.M[:m], lp.h[:m], np.full(lp.k + 1, -np.inf), np.full(lp.k + 1, np.inf),
                      maximize=True, tolerance=1e-10, presolve=False)
    assert result.status == "optimal"  # the radius is free: the LP is never infeasible
    return float(result.x[lp.k])


class CheckedLP(ChebyshevLP):
    """Every solve of the search also solved by HiGHS from scratch; the answers must agree."""

    checked: list = []

    def solve(self, threshold=-np.inf):
        radius, centre = super().solve(threshold)
        reference = _highs_radius(self)
        if centre is None:  # stopped early: an upper bound below the threshold
            assert radius < threshold and reference <= radius + AGREE
        else:
            assert abs(radius - reference) <= AGREE
            rows = self.M[: self.n_rows]
            assert np.all(rows[:, : self.k] @ centre + radius <= self.h[: self.n_rows] + 1e-9)
        CheckedLP.checked.append((radius >= EPSILON, reference >= EPSILON, abs(reference - EPSILON) < AGREE))
        return radius, centre


def _networks():
    for seed in range(0, 200, 9):
        yield f"random {seed}", *random_case(seed)
    yield "trained 3-12-12", trained_network([3, 12, 12], seed=1), Box(-1.0, 1.0)
    yield "trained 4-10-10 pruned", trained_network([4, 10, 10], seed=2, density=0.4), Box(-1.0, 1.0)
    for n0, widths in ((8, [7, 6]), (10, [6, 5]), (12, [6, 5]), (16, [5, 4])):
        yield f"random {n0}-D", ReLUNetwork.random([n0, *widths], seed=n0, bias_scale=0.5), Box(-1.0, 1.0)
    rng = np.random.default_rng(5)
    net = ReLUNetwork.random([9, 8, 8], seed=5, bias_scale=0.5)
    yield "subspace of 9-D", net, Subspace(rng.uniform(-1, 1, (5, 9)), Box(-1.0, 1.0))
    w = np.array([[1.0, 0.0], [1.0, 0.0], [-1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    yield "degenerate: repeated and opposite rows", ReLUNetwork((w, np.ones((1, 5))), (np.zeros(5), np.zeros(1))), Box(-1.0, 1.0)


def _backend(monkeypatch, backend: str) -> None:
    """Every solve compiled, or every solve in the warm-started HiGHS model (a new process's)."""
    monkeypatch.setattr(simplex, "COMPILE_AFTER", -1.0 if backend == "compiled" else np.inf)
    monkeypatch.setattr(simplex, "_kernel_loaded", lambda: backend == "compiled")


@pytest.mark.parametrize("name,net,domain", list(_networks()), ids=lambda v: v if isinstance(v, str) else "")
def test_every_lp_of_the_split_search_agrees_with_highs(name, net, domain, monkeypatch):
    _backend(monkeypatch, "compiled")
    monkeypatch.setattr(split, "ChebyshevLP", CheckedLP)
    CheckedLP.checked = []
    checked = count_regions(net, domain, engine="split", jobs=1)
    assert CheckedLP.checked, "the search solved no LP"
    assert all(ours == theirs or borderline for ours, theirs, borderline in CheckedLP.checked)
    monkeypatch.undo()
    assert checked.count == count_regions(net, domain, engine="milp").count


def _dfs_rows(rng, k, depth):
    """Unit rows through random points near the centre, as a depth-first search adds them."""
    for _ in range(depth):
        a = rng.normal(size=k)
        a /= np.linalg.norm(a)
        yield a, float(a @ rng.uniform(-0.5, 0.5, k))


@pytest.mark.parametrize("backend", ["compiled", "highs"])
@pytest.mark.parametrize("k", [1, 2, 5, 12, 24])
def test_warm_started_solves_and_bounding_boxes_equal_highs(k, backend, monkeypatch):
    _backend(monkeypatch, backend)
    rng = np.random.default_rng(k)
    lower, upper = -rng.uniform(0.5, 2.0, k), rng.uniform(0.5, 2.0, k)
    lp = ChebyshevLP(lower, upper)
    for trial in range(30):
        base = lp.n_rows if trial % 3 else 2 * k
        lp.truncate(base)
        for row, rhs in _dfs_rows(rng, k, int(rng.integers(1, 8))):
            lp.push(row, rhs)
            radius, centre = lp.solve()
            A = lp.M[2 * k: lp.n_rows, :k]
            reference = inscribed_ball(A, lp.h[2 * k: lp.n_rows], lower, upper, tolerance=1e-10)
            if reference.status != "optimal" or reference.value < 0:
                assert radius < 1e-9
                break
            assert radius == pytest.approx(reference.value, abs=AGREE)
            assert np.all(A @ centre + radius <= lp.h[2 * k: lp.n_rows] + 1e-9)
            assert np.all(centre - radius >= lower - 1e-9) and np.all(centre + radius <= upper + 1e-9)
        if lp.solve()[0] > 1e-6:
            low, high, points = lp.bounding_box()
            for j in range(k):
                for sign, value in ((1.0, high[j]), (-1.0, -low[j])):
                    cost = np.zeros(k)
                    cost[j] = sign
                    ref = solve_lp(cost, lp.M[: lp.n_rows, :k], lp.h[: lp.n_rows], lower, upper, maximize=True,
                                   tolerance=1e-10)
                    assert value == pytest.approx(ref.value, abs=AGREE)
            assert np.all(points @ lp.M[: lp.n_rows, :k].T <= lp.h[: lp.n_rows] + 1e-9)


def test_a_threshold_stops_a_solve_with_a_sound_upper_bound(monkeypatch):
    _backend(monkeypatch, "compiled")
    k = 6
    lp = ChebyshevLP(-np.ones(k), np.ones(k))
    a = np.eye(k)[0]
    lp.push(a, -0.999)  # u_0 <= -0.999: a slab of width 0.001, radius 0.0005
    exact, _ = lp.solve()
    assert exact == pytest.approx(0.0005, abs=1e-12)
    lp.truncate(2 * k)
    lp.push(a, -0.999)
    bound, centre = lp.solve(threshold=0.01)
    assert centre is None and exact - 1e-12 <= bound < 0.01


def test_the_highs_fallback_gives_the_same_answers(monkeypatch):
    _backend(monkeypatch, "compiled")
    rng = np.random.default_rng(3)
    k = 7
    lp = ChebyshevLP(-np.ones(k), np.ones(k))
    for row, rhs in _dfs_rows(rng, k, 5):
        lp.push(row, rhs)
    radius, centre = lp.solve()
    fallback_radius, fallback_centre = lp._fallback(lp.radius_cost, -np.inf)
    assert lp.fallbacks == 1 and fallback_radius == pytest.approx(radius, abs=AGREE)
    assert np.all(lp.M[: lp.n_rows, :k] @ fallback_centre + fallback_radius <= lp.h[: lp.n_rows] + 1e-9)


@pytest.mark.parametrize("n0,widths,seed", [(8, [6, 6], 0), (10, [7, 7], 1), (12, [6, 6, 4], 2), (16, [6, 5], 3)])
def test_split_in_8_to_16_dimensions_against_milp_random_points_and_rescaling(n0, widths, seed):
    net = ReLUNetwork.random([n0, *widths], seed=seed, bias_scale=0.5)
    box = Box(-1.0, 1.0)
    result = count_regions(net, box, engine="split", jobs=1, return_regions=True)
    assert result.complete and result.count == count_regions(net, box, engine="milp").count
    found = {p.tobytes() for p in result.patterns}
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1, 1, (5000, n0))
    g = np.concatenate(net.balanced().preactivations(x), axis=1)
    clear = np.all(np.abs(g) > 1e-3, axis=1)
    assert {p.tobytes() for p in net.activation_patterns(x[clear])} <= found
    assert np.array_equal(net.activation_patterns(result.points), np.array(result.patterns))
    # each hidden layer's pre-activations times c_l > 0: the same patterns, so the same regions
    scales = [1.0, *[(1e3, 1e-2, 7.0)[l] for l in range(len(widths))], 1.0]
    scaled = ReLUNetwork(tuple(w * scales[l + 1] / scales[l] for l, w in enumerate(net.weights)),
                         tuple(b * scales[l + 1] for l, b in enumerate(net.biases)))
    assert count_regions(scaled, box, engine="split", jobs=1).count == result.count


def test_a_process_switches_to_the_compiled_simplex_with_the_same_counts(monkeypatch):
    net, box = ReLUNetwork.random([5, 9, 9], seed=4, bias_scale=0.5), Box(-1.0, 1.0)
    _backend(monkeypatch, "highs")
    in_highs = count_regions(net, box, engine="split", jobs=1)
    monkeypatch.setattr(simplex, "COMPILE_AFTER", 0.02)  # a few dozen HiGHS solves, then compiled ones
    switches, kernel = [], simplex._kernel
    monkeypatch.setattr(simplex, "_kernel", lambda: switches.append(1) or kernel())
    switched = count_regions(net, box, engine="split", jobs=1)
    assert switched.count == in_highs.count and switches == [1]


def test_the_switch_counts_the_seconds_of_every_lp_of_the_process(monkeypatch):
    """A worker of a parallel count makes a new LP per task; their HiGHS seconds add up, so a
    process of many short tasks switches too."""
    _backend(monkeypatch, "highs")
    monkeypatch.setattr(simplex, "_highs_seconds", 0.0)
    monkeypatch.setattr(simplex, "COMPILE_AFTER", 0.01)
    made = 0
    while made < 5000:
        made += 1
        lp = simplex.ChebyshevLP(-np.ones(3), np.ones(3))
        lp.push(np.array([0.6, 0.8, 0.0]), 0.5)
        radius, _ = lp.solve()  # one solve per LP: far below COMPILE_AFTER each
        if lp._kernel is not None:
            break
    assert lp._kernel is not None and made > 1
    # the ball touches x = -1, y = -1 and the cut 0.6 x + 0.8 y <= 0.5: 1.4 (r - 1) + r = 0.5
    assert radius == pytest.approx(19 / 24)


@pytest.mark.parametrize("backend", ["compiled", "highs"])
@pytest.mark.parametrize("relative", [1 - 1e-6, 1 + 1e-6])
def test_a_slab_at_the_edge_of_epsilon_is_decided_by_the_definition(backend, relative, monkeypatch):
    """A slab of half-width epsilon (1 +- 1e-6), tilted: a region iff its radius reaches epsilon,
    whether the solve runs to its optimum or stops at the threshold."""
    _backend(monkeypatch, backend)
    k = 9
    a = np.random.default_rng(9).normal(size=k)
    a /= np.linalg.norm(a)
    half = EPSILON * relative
    for threshold in (-np.inf, EPSILON):
        lp = ChebyshevLP(-np.ones(k), np.ones(k))
        lp.push(a, 0.1 + half)
        lp.push(-a, -(0.1 - half))
        radius, centre = lp.solve(threshold)
        assert (radius >= EPSILON) == (relative > 1)
        if threshold == -np.inf:
            assert radius == pytest.approx(half, rel=1e-9) and abs(a @ centre - 0.1) < 1e-12
