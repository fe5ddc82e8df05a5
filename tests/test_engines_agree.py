"""Every engine agrees with every other on many seeded random networks."""

import numpy as np
import pytest
from conftest import random_case

from lrcount import count_regions
from lrcount.engines import engines_for

SEEDS = range(200)


@pytest.mark.parametrize("seed", SEEDS)
def test_engines_agree_on_random_networks(seed):
    net, box = random_case(seed)
    results = {name: count_regions(net, box, engine=name) for name in engines_for(net.input_dim)}
    assert all(r.complete for r in results.values())
    counts = {name: r.count for name, r in results.items()}
    assert len(set(counts.values())) == 1, counts
    assert counts["split"] >= 1
    assert ("planar" in counts) == (net.input_dim <= 2)


def test_suite_covers_the_promised_range():
    """The generator really yields dims 1-5, depths 1-3, widths up to 16, dense and pruned."""
    cases = [random_case(s)[0] for s in SEEDS]
    assert {n.input_dim for n in cases} == {1, 2, 3, 4, 5}
    assert {len(n.hidden_widths) for n in cases} == {1, 2, 3}
    assert max(max(n.hidden_widths) for n in cases) == 16
    assert min(min(n.densities()) for n in cases) < 0.8
    assert max(min(n.densities()) for n in cases) == 1.0


@pytest.mark.parametrize("seed", range(0, 200, 10))
def test_sampled_patterns_are_found(seed):
    """Every pattern seen at random sample points (with a margin) is among the enumerated
    regions, and the regions' interior points have the reported patterns."""
    net, box = random_case(seed)
    result = count_regions(net, box, engine="milp", return_regions=True)
    found = {p.tobytes() for p in result.patterns}
    rng = np.random.default_rng(seed)
    x = rng.uniform(box.lower, box.upper, size=(2000, net.input_dim))
    g = np.concatenate(net.balanced().preactivations(x), axis=1)
    clear = np.all(np.abs(g) > 1e-3, axis=1)
    for pattern in net.activation_patterns(x[clear]):
        assert pattern.tobytes() in found
    assert len(found) == result.count
    at_points = net.activation_patterns(result.points)
    assert np.array_equal(at_points, result.patterns)
    assert np.all(result.points >= box.lower - 1e-9) and np.all(result.points <= box.upper + 1e-9)
