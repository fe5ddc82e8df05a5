"""Analytical bounds: values worked out independently, order relations, and bound >= count."""

import itertools
import json
import math

import numpy as np
import pytest
from conftest import random_case
from hypothesis import given, settings
from hypothesis import strategies as st

from lrcount import Box, LRCountError, ReLUNetwork, Subspace, count_regions
from lrcount import bounds as B
from lrcount.cli import main
from lrcount.domain import stored_box


def serra_by_enumeration(widths):
    """Theorem 1 of Serra et al. 2018 literally: sum over the index set J of prod C(n_l, j_l)."""
    n0, hidden = widths[0], widths[1:]
    total = 0
    for js in itertools.product(*[range(n + 1) for n in hidden]):
        caps = [n0]
        ok = True
        for n, j in zip(hidden, js):
            if j > min(min(caps), n):
                ok = False
                break
            caps.append(n - j)
        if ok:
            total += math.prod(math.comb(n, j) for n, j in zip(hidden, js))
    return total


@pytest.mark.parametrize("widths,value", [
    ([2, 4, 4], 121), ([2, 8, 8], 1369), ([3, 10, 10], 30976), ([8, 8, 8, 8, 8, 8], 136271718308),
    ([2, 16, 16], 18769), ([1, 3, 3], 16), ([4, 8, 8], 26569), ([4, 8, 8, 8], 4330747),
])
def test_serra_values_from_the_papers(widths, value):
    assert B.serra2018(widths) == value
    assert B.hinz(widths) == value


def test_montufar_2017_value():
    assert B.montufar2017([8, 8, 8, 8, 8, 8]) == 1099511627776 == 2**40


@pytest.mark.parametrize("widths", [[1, 2], [2, 3, 2], [3, 2, 4, 3], [2, 5, 1, 4], [4, 3, 3, 3, 3], [3, 6, 6]])
def test_serra_recursion_equals_brute_force_over_J(widths):
    assert B.serra2018(widths) == serra_by_enumeration(widths)


def test_small_values_by_hand():
    # Montufar 2014: floor(4/2)^2 * (1 + 4 + 6) = 44; Serra lower for n0 = 1: (3+1) * (1+3) = 16
    assert B.montufar2014_lower([2, 4, 4]) == 44
    assert B.serra2018_lower([1, 3, 3]) == 16 == B.serra2018_one_input([1, 3, 3])
    assert B.montufar2017([2, 3]) == 7 and B.serra2018([2, 3]) == 7  # 1 + 3 + 3 lines in the plane
    assert B.serra2018([3, 5], ranks=[2]) == 1 + 5 + 10  # rank 2: a planar arrangement


widths_strategy = st.lists(st.integers(1, 9), min_size=2, max_size=5)


@settings(max_examples=150, deadline=None)
@given(widths_strategy, st.data())
def test_order_relations(widths, data):
    serra = B.serra2018(widths)
    assert serra <= B.montufar2017(widths)
    assert B.hinz(widths, "montufar") == B.montufar2017(widths)
    ranks = [data.draw(st.integers(0, min(n, m))) for n, m in zip(widths[1:], widths[:-1])]
    assert B.serra2018(widths, ranks) <= serra
    for lower in (B.montufar2014_lower, B.serra2018_lower):
        try:
            assert lower(widths) <= serra
        except LRCountError:
            pass
    if widths[0] == 1:
        assert serra <= B.serra2018_one_input(widths)
    assert B.cai2023(widths, [1.0] * (len(widths) - 1)) == serra


@settings(max_examples=40, deadline=None)
@given(widths_strategy, st.data())
def test_sparsity_aware_bound_is_below_dense_and_grows_with_density(widths, data):
    low = [data.draw(st.floats(0.05, 0.5)) for _ in widths[1:]]
    high = [min(1.0, 2 * p) for p in low]
    sparse, denser = B.cai2023(widths, low), B.cai2023(widths, high)
    assert B.log10(sparse) <= B.log10(denser) + 1e-12
    assert B.log10(denser) <= B.log10(B.serra2018(widths)) + 1e-12


def exact_cases():
    """Random dense and pruned networks in random boxes (the counting suite's generator)."""
    return [random_case(seed) for seed in range(0, 200, 3)]


@pytest.mark.parametrize("net,box", exact_cases())
def test_every_upper_bound_is_at_least_the_exact_count(net, box):
    count = count_regions(net, box, engine="scip-count").count
    widths = net.widths
    uppers = [B.montufar2017(widths), B.serra2018(widths), B.hinz(widths),
              B.serra2018(widths, [int(np.linalg.matrix_rank(w)) for w, _ in net.hidden_layers]),
              B.network_bound(net), B.network_bound(net, rank="structural"), B.network_bound(net, box)]
    if widths[0] == 1:
        uppers.append(B.serra2018_one_input(widths))
    assert all(bound >= count for bound in uppers), (count, uppers)


@pytest.mark.parametrize("seed", range(12))
def test_network_bound_on_subspaces_is_at_least_the_count(seed):
    rng = np.random.default_rng(seed)
    net = ReLUNetwork.random([5, 6, 5], seed=seed, density=0.5 if seed % 2 else 1.0)
    s = 1 + seed % 3
    domain = Subspace(rng.uniform(-1, 1, (s + 1, 5)), Box(-2, 2))
    count = count_regions(net, domain, engine="split").count
    assert B.network_bound(net, domain) >= count
    assert B.serra2018([s, *net.hidden_widths]) >= count
    assert B.network_bound(net, domain) <= B.serra2018([s, *net.hidden_widths])


def test_network_bound_sees_pruning_and_stability():
    net = ReLUNetwork.random([4, 8, 8], seed=0)
    w0 = net.weights[0].copy()
    w0[:, 2:] = 0.0  # the first layer only looks at two inputs
    pruned = ReLUNetwork((w0, *net.weights[1:]), net.biases)
    assert B.network_bound(pruned) == B.serra2018([2, 8, 8])
    tiny = Box(-1e-3, 1e-3)  # almost every neuron is stable on a tiny box
    assert B.network_bound(net, tiny) < B.network_bound(net)


def test_monte_carlo_rank_distribution_is_seeded():
    a = B.rank_distribution_mc(20, 30, 0.1, seed=3)
    b = B.rank_distribution_mc(20, 30, 0.1, seed=3)
    assert a.probabilities == b.probabilities and a.samples == b.samples
    assert sum(p for p, _ in a.probabilities) == 1
    assert a.capped == (a.samples == 20_000)
    if not a.capped:
        assert all(count >= 50 for count in (p * a.samples for p, _ in a.probabilities))
    quick = B.rank_distribution_mc(6, 8, 0.9, seed=0)  # almost always full rank
    assert not quick.capped and quick.samples >= 50


def test_binomial_and_monte_carlo_agree_roughly_and_binomial_dominates():
    mc = B.cai2023([10, 12, 12], [0.2, 0.2], rank_probabilities="mc", seed=1)
    binomial = B.cai2023([10, 12, 12], [0.2, 0.2])
    assert float(mc) <= float(binomial) * 1.05
    assert abs(B.log10(mc) - B.log10(binomial)) < 0.5


def test_binomial_distribution_sums_to_one():
    total = sum(p for p, _ in B.rank_distribution_binomial(30, 50, 0.03))
    assert abs(total - 1) < 1e-40


@pytest.mark.parametrize("widths,total", [([20, 10, 10], 0.05), ([30, 8, 8, 8], 0.1)])
def test_density_plan_keeps_the_budget_and_never_loses(widths, total):
    plan = B.optimize_densities(widths, total)
    sizes = [widths[l] * widths[l + 1] for l in range(len(widths) - 1)]
    assert math.isclose(sum(p * m for p, m in zip(plan.optimized, sizes)), total * sum(sizes), rel_tol=1e-9)
    assert all(0 < p <= 1 for p in plan.optimized)
    assert plan.optimized_bound >= plan.uniform_bound


def test_bounds_json_from_the_cli(capsys):
    assert main(["bound", "--widths", "8,8,8,8,8,8", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    values = {b["method"]: b for b in data["bounds"]}
    assert values["serra2018"]["value"] == "136271718308" and values["montufar2017"]["value"] == "1099511627776"
    assert values["montufar2014"]["kind"] == "lower"
    assert main(["bound", "--widths", "20,10,10", "--density", "0.1,0.1", "--method", "cai2023", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [b["method"] for b in data["bounds"]] == ["cai2023"] and data["bounds"][0]["kind"] == "expected-upper"


def test_bound_of_a_model_includes_the_network_bound(tmp_path, capsys):
    from lrcount.examples import example_network
    from lrcount.io import save_npz

    save_npz(example_network(), tmp_path / "n.npz")
    assert main(["bound", str(tmp_path / "n.npz"), "--json"]) == 0
    values = {b["method"]: int(b["value"]) for b in json.loads(capsys.readouterr().out)["bounds"]}
    count = count_regions(example_network()).count
    assert count <= values["network"] <= values["serra2018"]


@pytest.mark.parametrize("args,fragment", [
    (["--widths", "3,-1"], "positive"), (["--widths", "3,0,2"], "positive"), (["--widths", "3"], "at least one hidden"),
    (["--widths", "3,4,4", "--density", "0,0.5"], "(0, 1]"), (["--widths", "3,4,4", "--density", "0.5,1.2"], "(0, 1]"),
    (["--widths", "3,4,4", "--density", "0.5,0.5,0.5"], "one density per hidden layer"),
    (["--widths", "3,4,4", "--method", "nope"], "unknown bound method"),
    (["--widths", "3,4,4", "--method", "network"], "needs a MODEL"),
    (["--widths", "a,b"], "whole numbers"), (["/no/such/model.npz"], "no such file"),
    (["--widths", "3,4,4", "--total-density", "2", "--optimize"], "(0, 1]"),
])
def test_bound_errors_are_one_line(args, fragment, capsys):
    assert main(["bound", *args]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and fragment in err, err


@pytest.mark.parametrize("widths", [[1, 3, 3], [1, 5, 3], [1, 3, 5, 3]])
def test_bounds_are_tight_on_the_one_input_construction(widths):
    from lrcount.examples import sawtooth_network

    net = sawtooth_network(widths)
    count = count_regions(net).count
    assert count == B.serra2018_one_input(widths) == B.serra2018_lower(widths)
    assert count <= B.network_bound(net, stored_box(net)) <= B.serra2018(widths)


@pytest.mark.parametrize("n,d", [(5, 1), (7, 2), (6, 3)])
def test_serra_is_tight_for_one_layer_in_general_position(n, d):
    from test_closed_forms import general_position_layer

    net, box = general_position_layer(n, d, seed=10 * n + d)
    count = count_regions(net, box).count
    assert count == B.serra2018([d, n]) == B.montufar2017([d, n]) == B.network_bound(net, box)


def test_density_plateaus_are_reported_with_the_documented_tie_break():
    widths = [784, 20, 20]
    tied = B.optimize_densities(widths, 0.5)
    assert tied.uniform_is_optimal and tied.optimized == tied.uniform
    plan = B.optimize_densities(widths, 0.05)
    (lo1, hi1), (lo2, hi2) = plan.plateau
    assert lo1 < hi1 and lo2 < hi2 and not plan.uniform_is_optimal
    kept = 0.05 * (784 * 20 + 20 * 20)
    best = B.log10(plan.optimized_bound)
    for p1 in np.linspace(lo1, hi1, 5):  # the whole range ties the best bound
        p2 = (kept - p1 * 784 * 20) / (20 * 20)
        assert abs(B.cai2023_log10(widths, [p1, p2]) - best) < 1e-9
    assert plan.optimized[0] == pytest.approx(hi1)  # the plateau point nearest uniform (p1 = 0.05)
    beyond = (hi1 + (kept - 1) / (784 * 20)) / 2  # past the plateau's edge (within the budget) the bound falls
    assert B.cai2023_log10(widths, [beyond, (kept - beyond * 784 * 20) / (20 * 20)]) < best - 1e-9
