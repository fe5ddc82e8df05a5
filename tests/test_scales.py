"""Counts do not depend on the scale of a layer, of a neuron or of the domain, anywhere a
float64 can state the network: tiny, subnormal, huge and mixed scales, on every engine,
against the unscaled network (same pattern sets) and against patterns at random points."""

import numpy as np
import pytest
from conftest import trained_network

from lrcount import Box, ReLUNetwork, count_regions
from lrcount.engines import engines_for


def pattern_set(net: ReLUNetwork, box: Box, engine: str) -> set[bytes]:
    result = count_regions(net, box, engine=engine, return_regions=True, time_limit=120)
    assert result.complete
    return {np.packbits(p).tobytes() for p in np.asarray(result.patterns, bool)}


def agrees(net: ReLUNetwork, box: Box, engine: str, reference: set[bytes]) -> bool:
    """The engine finds exactly the ``reference`` patterns (scip-count, which lists none: as
    many regions, complete)."""
    if engine == "scip-count":
        result = count_regions(net, box, engine=engine, time_limit=120)
        return result.complete and result.count == len(reference)
    return pattern_set(net, box, engine) == reference


def scaled(net: ReLUNetwork, exponent: int) -> ReLUNetwork:
    """``W0`` and every hidden bias multiplied by 2**exponent: every pre-activation is, so the
    patterns are the same at every point (the issue's "W0, b0, b1 times 1e-170")."""
    hidden = len(net.weights) - 1
    weights = (np.ldexp(net.weights[0], exponent), *net.weights[1:])
    biases = tuple(np.ldexp(b, exponent) if l < hidden else b for l, b in enumerate(net.biases))
    return ReLUNetwork(weights, biases)


BASE = ReLUNetwork.random([2, 8, 8], seed=3)
BOX = Box(-1, 1)


@pytest.fixture(scope="module")
def reference() -> set[bytes]:
    return pattern_set(BASE, BOX, "split")


@pytest.mark.parametrize("engine", engines_for(2))
@pytest.mark.parametrize("exponent", [-565, -665, 530, 1000])
def test_a_scaled_network_has_the_unscaled_patterns(engine, exponent, reference):
    """Scales 1e-170, 1e-200, 1e160 and 1e301: row norms underflowed or overflowed, engines
    counted 1 or 6,308 regions, and large weights were refused as infinite."""
    assert agrees(scaled(BASE, exponent), BOX, engine, reference)


@pytest.mark.parametrize("engine", engines_for(2))
def test_subnormal_first_layer_counts_what_its_rounded_weights_say(engine):
    """W0 and b0 below 2**-1022 keep fewer bits; multiplied back by a power of two they are
    exact again, and that network's patterns are the subnormal one's."""
    tiny = ReLUNetwork((np.ldexp(BASE.weights[0], -1040), *BASE.weights[1:]),
                       (np.ldexp(BASE.biases[0], -1040), np.ldexp(BASE.biases[1], -1040), BASE.biases[2]))
    assert np.abs(tiny.weights[0]).max() < np.finfo(float).tiny
    back = ReLUNetwork((np.ldexp(tiny.weights[0], 1040), *BASE.weights[1:]),
                       (np.ldexp(tiny.biases[0], 1040), BASE.biases[1], BASE.biases[2]))
    assert agrees(tiny, BOX, engine, pattern_set(back, BOX, "split"))


@pytest.mark.parametrize("engine", engines_for(2))
@pytest.mark.parametrize("half_width", [1e-300, 1e-200, 1e200, 1e300, 1.7e308])
def test_a_bias_free_network_counts_the_same_on_any_box(engine, half_width):
    """Without biases the regions are cones from the origin: the count is the same on every
    box centred there, from +-1e-300 to +-1.7e308 (whose width overflows)."""
    net = ReLUNetwork(BASE.weights, tuple(np.zeros_like(b) for b in BASE.biases))
    expected = count_regions(net, BOX, engine="split").count
    assert count_regions(net, Box(-half_width, half_width), engine=engine).count == expected


@pytest.mark.parametrize("engine", engines_for(2))
def test_a_huge_box_with_a_matching_first_layer_has_the_unit_box_patterns(engine, reference):
    net = ReLUNetwork((np.ldexp(BASE.weights[0], -1000), *BASE.weights[1:]), BASE.biases)
    assert agrees(net, Box(-2.0 ** 1000, 2.0 ** 1000), engine, reference)


@pytest.mark.parametrize("spread", [30, 150])
def test_rows_of_mixed_scales_count_alike_on_every_engine_and_cover_the_samples(spread):
    """The rows of (W0, b0) scaled by 10^-spread ... 10^spread (W1 unchanged): a layer-1
    neuron is then positive only through terms 1e-17 of its largest where that input is 0.
    Interval bounds in midpoint-radius form cancelled them, called the neuron inactive, and
    the MILP engines counted 14 regions, complete, where there are 17."""
    factors = np.logspace(-spread, spread, 8)
    net = ReLUNetwork((BASE.weights[0] * factors[:, None], *BASE.weights[1:]),
                      (BASE.biases[0] * factors, *BASE.biases[1:]))
    first = pattern_set(net, BOX, "split")
    assert all(agrees(net, BOX, engine, first) for engine in engines_for(2))
    points = np.random.default_rng(0).uniform(-1, 1, (200_000, 2))
    sampled = {np.packbits(p).tobytes() for p in net.activation_patterns(points)}
    assert sampled <= first and len(first) >= 15


@pytest.mark.parametrize("engine", engines_for(3))
def test_a_trained_network_scaled_per_neuron_keeps_its_patterns(engine):
    """Trained weights, each hidden neuron's row scaled by its own power of two from 2^-500 to
    2^500 and its outgoing column by the inverse: the same function, the same patterns."""
    net = trained_network([3, 8, 8], seed=2)
    rng = np.random.default_rng(2)
    weights, biases = [w.copy() for w in net.weights], [b.copy() for b in net.biases]
    for l in range(len(weights) - 1):
        e = rng.integers(-500, 500, len(biases[l]))
        weights[l], biases[l] = np.ldexp(weights[l], e[:, None]), np.ldexp(biases[l], e)
        weights[l + 1] = np.ldexp(weights[l + 1], -e[None, :])
    box = Box(-1, 1)
    assert agrees(ReLUNetwork(tuple(weights), tuple(biases)), box, engine, pattern_set(net, box, "split"))
