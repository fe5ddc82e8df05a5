"""``estimate_regions``: sound lower bounds, estimates within their guarantee, exact cells.

The statistical guarantees are tested twice: on the SCIP search itself (small networks, fixed
seeds) and, for many seeds, on a cell counter that reads a known list of regions (the exact
patterns from the geometric engines, which share no code with the SCIP model)."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import numpy as np
import pytest
from conftest import trained_network

from lrcount import Box, ReLUNetwork, count_regions, save
from lrcount.errors import LRCountError
from lrcount.estimate import (
    Cell,
    FirstLayerTrials,
    LevelSearch,
    Parities,
    ParitySearch,
    ParitySolutions,
    _parity_pools,
    approx_log2,
    approxmc_parameters,
    estimate_regions,
    mbound_slack,
    trials_for,
)
from lrcount.problem import CountingProblem
from lrcount.runtime import NEVER


def known_signs(net, box) -> tuple[CountingProblem, np.ndarray]:
    """The problem and the unstable neurons' signs of every region, from the vertex/planar
    engines (no SCIP)."""
    problem = CountingProblem.build(net, box, tighten=True)
    result = count_regions(net, box, return_regions=True, jobs=1)
    assert result.complete and result.engine in ("planar", "vertex", "split")
    return problem, result.patterns[:, problem.unstable]


class KnownRegions:
    """A cell counter over a known list of regions (their unstable signs)."""

    def __init__(self, signs: np.ndarray):
        self.signs = signs

    def __call__(self, parities: Parities, at_most: int, deadline) -> Cell:
        return Cell(min(int(parities.keep(self.signs).sum()), at_most), True)


def degenerate_net() -> ReLUNetwork:
    """Integer weights, no biases, a duplicated and an opposite neuron: every first-layer line
    passes through the origin, where lower-dimensional patterns abound."""
    w1 = np.array([[1, 0], [0, 1], [1, 1], [1, -1], [1, 1], [-1, -1], [2, 1]], float)
    w2 = np.array([[1, -1, 1, 0, 0, 1, -1], [0, 1, -1, 1, 1, 0, 0], [1, 1, 0, -1, 0, 0, 1]], float)
    return ReLUNetwork((w1, w2, np.ones((1, 3))), (np.zeros(7), np.zeros(3), np.zeros(1)))


SMALL = [
    ("random 2-8-8", lambda: ReLUNetwork.random([2, 8, 8, 1], seed=0), Box(-1, 1)),
    ("random 3-10-10", lambda: ReLUNetwork.random([3, 10, 10, 1], seed=1), Box(-1, 1)),
    ("pruned 3-12-12", lambda: ReLUNetwork.random([3, 12, 12, 1], density=0.5, seed=2), Box(-1, 1)),
    ("trained 2-10-10", lambda: trained_network([2, 10, 10], seed=0), Box(-1, 1)),
    ("trained pruned 3-10-10", lambda: trained_network([3, 10, 10], seed=1, density=0.5), Box(-1, 1)),
    ("degenerate", degenerate_net, Box(-1, 1)),
]


@pytest.mark.parametrize("encoding", ["xor", "integer"])
@pytest.mark.parametrize("name,make,box", SMALL[:2] + SMALL[-1:])
def test_cells_under_parities_are_counted_exactly(name, make, box, encoding):
    """The SCIP search under random parities finds exactly the known regions that satisfy
    them, each certified (a degenerate network's lower-dimensional patterns never pass), and
    stops at the number asked for."""
    net = make()
    problem, signs = known_signs(net, box)
    search = ParitySearch(problem, encoding=encoding)
    rng = np.random.default_rng(5)
    n = len(problem.unstable)
    for m in (0, 1, 2, 3):
        parities = Parities.draw(rng, m, n)
        expected = int(parities.keep(signs).sum())
        cell = search(parities, 10**6, NEVER)
        assert cell.decided and cell.count == expected
        found = {bytes(np.packbits(s)) for s, _ in search.certifier.regions.values()}
        assert found == {bytes(np.packbits(s)) for s in signs[parities.keep(signs)]}
        if expected >= 2:
            assert search(parities, 2, NEVER) == Cell(2, True)


def test_a_parity_keeps_a_pattern_with_probability_one_half():
    rng = np.random.default_rng(0)
    pattern = rng.random((1, 30)) < 0.5
    kept = [Parities.draw(rng, 1, 30, pool).keep(pattern)[0] for pool in (30, 3) for _ in range(2000)]
    assert 0.45 < np.mean(kept[:2000]) < 0.55 and 0.45 < np.mean(kept[2000:]) < 0.55


def test_slack_meets_the_confidence():
    for confidence in (0.5, 0.9, 0.99, 0.999):
        t = trials_for(confidence)
        a = mbound_slack(confidence, t)
        assert sum(2.0 ** (-t * (a + j)) for j in range(200)) == pytest.approx(1 - confidence)
        assert a <= 2.0


def test_level_search_is_wrong_no_more_often_than_its_confidence():
    """On a known set of 2,000+ regions and 400 seeds, the bound at confidence 0.8 (one trial
    per level) exceeds the exact count in at most 20% of runs, and is tight on average."""
    net = ReLUNetwork.random([3, 12, 12, 1], seed=4)
    _, signs = known_signs(net, Box(-1, 1))
    exact = math.log2(len(signs))
    counter, n = KnownRegions(signs), signs.shape[1]
    confidence, trials = 0.8, trials_for(0.8)
    slack = mbound_slack(confidence, trials)
    bounds = []
    for seed in range(400):
        search = LevelSearch(n, trials)
        assert search.run(counter, 0, np.random.default_rng(seed), NEVER)
        bounds.append(-math.inf if search.held is None else search.held - slack)
    wrong = np.mean(np.array(bounds) > exact)
    assert wrong <= 1 - confidence
    assert exact - np.median(bounds) < 3


def test_approxmc_is_within_its_factor_as_often_as_promised():
    """ApproxMC2 on a known set of regions: the estimate is within a factor 1 + eps in at
    least 1 - delta of 12 seeds; fewer regions than the threshold are counted exactly."""
    net = ReLUNetwork.random([3, 10, 10, 1], seed=7)
    _, signs = known_signs(net, Box(-1, 1))
    counter, n = KnownRegions(signs), signs.shape[1]
    epsilon, delta = 0.8, 0.2
    within = [abs(approx_log2(counter, n, epsilon=epsilon, delta=delta, rng=np.random.default_rng(seed),
                              deadline=NEVER) - math.log2(len(signs))) <= math.log2(1 + epsilon) for seed in range(12)]
    assert np.mean(within) >= 1 - delta
    few = KnownRegions(signs[:20])
    assert approx_log2(few, n, epsilon=epsilon, delta=delta, rng=np.random.default_rng(0), deadline=NEVER) == math.log2(20)
    assert approxmc_parameters(0.8, 0.2) == (73, 67)


@pytest.mark.parametrize("name,make,box", SMALL)
def test_lower_bound_is_sound_and_tight(name, make, box):
    """The bound from parities alone (no points sampled, no time to enumerate) never exceeds
    the exact count, and is within a factor 8 of it, on random, pruned, trained and
    degenerate networks."""
    net = make()
    exact = count_regions(net, box).count
    result = estimate_regions(net, box, samples=0, exact_time=0, seed=1)
    assert result.exact is None and result.complete
    assert 2 ** result.lower_log2 <= exact
    assert result.parities_log2 is not None or exact < 4 * 8  # cells of 8 need a few times 8 regions
    if result.parities_log2 is not None:
        assert 2 ** result.parities_log2 <= exact
    assert exact / 2 ** result.lower_log2 <= 8
    assert result.certified_regions <= exact
    assert result.upper_log2 >= math.log2(exact)


def test_small_counts_are_exact_and_the_json_has_every_key():
    net = ReLUNetwork.random([2, 8, 8, 1], seed=0)
    result = estimate_regions(net, Box(-1, 1))
    exact = count_regions(net, Box(-1, 1)).count
    assert result.exact == exact and result.lower_log2 == math.log2(exact) and result.lower_confidence == 1
    data = json.loads(result.to_json())
    for key in ("exact", "lower_log2", "lower_confidence", "estimate_log2", "estimate_epsilon", "estimate_delta",
                "sampled_patterns", "upper_log2", "seconds", "seed", "trials"):
        assert key in data


def test_a_domain_with_no_unstable_neuron_has_exactly_one_region():
    net = ReLUNetwork((np.eye(2), np.ones((1, 2))), (np.full(2, 5.0), np.zeros(1)))
    for exact_time in (5.0, 0):
        result = estimate_regions(net, Box(-1, 1), exact_time=exact_time)
        assert result.exact == 1 and result.unstable == 0 and result.lower_log2 == 0
        assert "no neuron changes sign" in result.summary()


def test_runs_reproduce_from_the_seed_and_time_limits_are_flagged():
    net = ReLUNetwork.random([4, 12, 12, 1], seed=3)
    runs = [estimate_regions(net, Box(-1, 1), samples=500, exact_time=0, seed=9) for _ in range(2)]
    assert runs[0].lower_log2 == runs[1].lower_log2 and runs[0].sampled_patterns == runs[1].sampled_patterns
    assert [(t["parities"], t["feasible"]) for t in runs[0].trials] == [(t["parities"], t["feasible"]) for t in runs[1].trials]
    cut = estimate_regions(net, Box(-1, 1), samples=500, exact_time=0, seed=9, time_limit=0.3)
    assert not cut.complete and cut.status == "timelimit"
    assert 2 ** cut.lower_log2 <= count_regions(net, Box(-1, 1)).count


def test_sampled_patterns_in_a_subspace_are_regions_of_it():
    from lrcount import Subspace

    net = ReLUNetwork.random([6, 10, 10, 1], seed=2)
    points = np.random.default_rng(0).uniform(-1, 1, (3, 6))
    domain = Subspace(points, Box(-1, 1))
    result = estimate_regions(net, domain, samples=3000, exact_time=0, seed=0, time_limit=5)
    assert 0 < result.sampled_patterns <= count_regions(net, domain).count


@pytest.mark.parametrize("kwargs,message", [
    ({"confidence": 1.0}, "confidence must lie strictly between 0 and 1"),
    ({"confidence": 0}, "confidence must lie strictly between 0 and 1"),
    ({"confidence": float("nan")}, "confidence must lie strictly between 0 and 1"),
    ({"epsilon_approx": 0}, "epsilon must be a positive number"),
    ({"epsilon_approx": 0.8, "delta_approx": 1.5}, "delta must lie strictly between 0 and 1"),
    ({"samples": -1}, "samples must be a whole number"),
    ({"time_limit": -2}, "time limit must be a positive number"),
    ({"cell_size": 0}, "cell_size must be a whole number"),
    ({"scope": "middle"}, "unknown parity scope"),
])
def test_bad_options_are_refused(kwargs, message):
    with pytest.raises(LRCountError, match=message):
        estimate_regions(ReLUNetwork.random([2, 4, 1], seed=0), Box(-1, 1), **kwargs)


def test_cli_estimate(tmp_path):
    path = tmp_path / "net.npz"
    save(ReLUNetwork.random([3, 10, 10, 1], seed=1), path)
    run = subprocess.run([sys.executable, "-m", "lrcount", "estimate", str(path), "--box", "-1", "1", "--exact-time",
                          "0", "--samples", "100", "--json"], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    data = json.loads(run.stdout)
    assert data["exact"] is None and data["lower_confidence"] in (0.99, 1.0) and data["trials"]
    bad = subprocess.run([sys.executable, "-m", "lrcount", "estimate", str(path), "--box", "-1", "1", "--approx", "0.8"],
                         capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "EPS,DELTA" in bad.stderr


def test_solutions_of_parities():
    rng = np.random.default_rng(1)
    for m in (0, 3, 10, 15):
        parities = Parities.draw(rng, m, 40)
        solutions = ParitySolutions.of(parities)
        assert solutions.consistent and parities.keep(solutions.draw(rng)[None])[0]
    small = Parities.draw(rng, 6, 9)
    every = np.array(list(ParitySolutions.of(small).every(rng)))
    brute = np.array([[(i >> j) & 1 for j in range(9)] for i in range(2**9)], bool)
    assert {bytes(np.packbits(z)) for z in every} == {bytes(np.packbits(z)) for z in brute[small.keep(brute)]}
    rows = np.array([[1, 1, 0], [0, 1, 1], [1, 0, 1]], bool)
    assert not ParitySolutions.of(Parities(rows, np.array([1, 0, 0], bool))).consistent
    assert ParitySolutions.of(Parities(rows, np.array([1, 1, 0], bool))).consistent


@pytest.mark.parametrize("widths", [[6, 5, 6, 1], [4, 12, 6, 1]])
def test_first_layer_trials_report_only_regions_that_satisfy_the_parities(widths):
    """Every solution of the parities visited (5 binaries), or random ones and then SCIP (12)."""
    net = ReLUNetwork.random(widths, seed=3)
    problem, signs = known_signs(net, Box(-1, 1))
    search = ParitySearch(problem)
    trials = FirstLayerTrials(problem, search, np.random.default_rng(0))
    pool, = _parity_pools(problem, "first-layer", NEVER)
    assert 0 < pool < len(problem.unstable)
    assert _parity_pools(problem, "auto", NEVER) == [pool, len(problem.unstable)]
    rng = np.random.default_rng(2)
    for m in (1, 3, 5):
        parities = Parities.draw(rng, m, len(problem.unstable), pool)
        cell = trials(parities, 3, NEVER)
        assert cell.count == min(3, int(parities.keep(signs).sum()))
    known = {bytes(np.packbits(s)) for s in signs}
    assert search.certified and search.certified <= known


def test_ctrl_c_returns_the_bounds_proven_so_far(tmp_path):
    import signal
    import time

    path = tmp_path / "wide.npz"
    save(ReLUNetwork.random([6, 30, 30, 1], seed=0), path)
    proc = subprocess.Popen([sys.executable, "-m", "lrcount", "estimate", str(path), "--box", "-1", "1", "--exact-time",
                             "1", "--samples", "2000", "--json"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(6)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    data = json.loads(out)
    assert data["complete"] is False and data["status"] == "userinterrupt"
    assert data["sampled_patterns"] > 0 and data["lower_log2"] >= math.log2(data["sampled_patterns"])
    assert "bounds are those proven so far" in err
