"""Analytical bounds on the number of linear regions (theory.md sections 3-4).

Every function takes ``widths = [n_0, n_1, ..., n_L]``: the input dimension and the hidden ReLU
widths (the affine output layer never splits and is not listed). Bounds are exact Python
integers; expectations over random pruning are exact ``Fraction`` objects.

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
from decimal import Context, Decimal, localcontext
from fractions import Fraction
from functools import lru_cache

import numpy as np

from .errors import LRCountError

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
    """``R(1, n_0)`` of the recursion in the module docstring, exactly. The last layer's
    ``R(L, d) = sum_k P(k) sum_{j <= min(u, d, k)} C(u, j)`` comes from prefix sums of binomials,
    so a layer of a million neurons costs no more than one of ten."""
    last = layers[-1]
    top = min(last.splitting, n0)
    prefix = list(itertools.accumulate(math.comb(last.splitting, j) for j in range(top + 1)))

    @lru_cache(maxsize=None)
    def regions(l: int, d: int) -> Number:
        if l == len(layers) - 1:
            return sum(probability * prefix[min(top, d, rank)] for probability, rank in last.ranks)
        layer = layers[l]
        total: Number = 0
        for probability, rank in layer.ranks:
            dim = min(d, rank)
            total += probability * sum(
                math.comb(layer.splitting, j) * regions(l + 1, min(layer.always_active + layer.splitting - j, dim))
                for j in range(min(layer.splitting, dim) + 1)
            )
        return total

    return regions(0, n0)


def _dense_layers(widths: list[int], ranks: list[int] | None = None) -> list[Layer]:
    ranks = ranks or widths[1:]
    return [Layer(n, 0, ((1, int(k)),)) for n, k in zip(widths[1:], ranks)]


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
    return layered_bound(widths[0], _dense_layers(widths, ranks))


def check_ranks(widths: list[int], ranks: list[int]) -> None:
    """One rank per hidden layer, each within what an n_l x n_{l-1} matrix allows."""
    if len(ranks) != len(widths) - 1:
        raise LRCountError(f"give one rank per hidden layer ({len(widths) - 1}), got {len(ranks)}")
    for l, (rank, n_in, n_out) in enumerate(zip(ranks, widths[:-1], widths[1:]), start=1):
        if not 0 <= rank <= min(n_in, n_out):
            raise LRCountError(f"layer {l} is {n_out} x {n_in}: its rank lies in [0, {min(n_in, n_out)}], got {rank}")


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


# -- sparsity: Cai et al. 2023 -------------------------------------------------------------------
#: Decimal digits carried by the binomial expectation; its relative error is below 10^(2-PRECISION).
PRECISION = 60


def rank_distribution_binomial(rows: int, cols: int, density: float) -> tuple[tuple[Decimal, int], ...]:
    """P(rank = k) approximated by the number of non-zero rows of the shorter side:
    ``Binomial(m, 1 - (1 - p)^n)`` for the m x n orientation with m <= n (theory.md section 4).

    Rank never exceeds that number, so this distribution dominates the true one and the bound
    computed from it is at least the one from the true distribution (the recursion grows with
    rank). Computed in ``PRECISION``-digit decimals: exact rationals would have denominators
    of 10^(2 m n) digits.
    """
    m, n = min(rows, cols), max(rows, cols)
    with localcontext(Context(prec=PRECISION)):
        p = Decimal(str(density))
        empty = (1 - p) ** n  # a row of length n is all zero
        power = lambda x, e: x**e if e else Decimal(1)  # noqa: E731 - Decimal refuses 0 ** 0
        return tuple((math.comb(m, k) * power(1 - empty, k) * power(empty, m - k), k) for k in range(m + 1))


@dataclass(frozen=True)
class RankSample:
    """A Monte Carlo rank distribution: ``probabilities`` as ((Fraction, rank), ...);
    ``capped`` is True when ``max_samples`` ran out before every rank was seen often enough."""

    probabilities: tuple[tuple[Fraction, int], ...]
    samples: int
    seconds: float
    capped: bool


def rank_distribution_mc(
    rows: int,
    cols: int,
    density: float,
    *,
    seed: int = 0,
    per_rank: int = 50,
    batch: int = 50,
    max_samples: int = 20_000,
) -> RankSample:
    """P(rank = k) of a rows x cols Gaussian matrix whose entries are kept with probability
    ``density``, by Monte Carlo with the stopping rule of Cai et al. 2023: draw ``per_rank``
    matrices, then keep drawing until every rank seen has been seen ``per_rank`` times (at most
    ``max_samples`` matrices). Ranks of a batch are computed at once (batched SVD, numpy's
    default tolerance)."""
    import time

    rng = np.random.default_rng(seed)
    start = time.perf_counter()
    counts: dict[int, int] = {}
    total = 0
    while total < max_samples:
        size = min(batch, max_samples - total)
        mats = rng.standard_normal((size, rows, cols)) * (rng.random((size, rows, cols)) < density)
        for k, c in zip(*np.unique(np.linalg.matrix_rank(mats), return_counts=True)):
            counts[int(k)] = counts.get(int(k), 0) + int(c)
        total += size
        if total >= per_rank and min(counts.values()) >= per_rank:
            break
    probabilities = tuple((Fraction(c, total), k) for k, c in sorted(counts.items()))
    capped = min(counts.values()) < per_rank
    return RankSample(probabilities, total, time.perf_counter() - start, capped)


def cai2023(
    widths, densities, *, rank_probabilities: str = "binomial", seed: int = 0, max_samples: int = 20_000
) -> Number:
    """Cai et al. 2023 (CPAIOR), Theorem 1: the expected bound under random pruning with
    layer densities p_l (theory.md section 4), with P(k | n_l, n_{l-1}, p_l) from the binomial
    non-zero-row approximation (``"binomial"``) or Monte Carlo (``"mc"``, seeded). At
    density 1 the rank is full and the bound equals :func:`serra2018` (exactly). Below it, the
    expectation is summed in log space (:func:`cai2023_log10`) and returned as a Decimal of 15
    significant digits: widths of thousands and densities of 1e-5 take well under a second."""
    widths = check_widths(widths)
    densities = check_densities(widths, densities)
    if all(p == 1.0 for p in densities):
        return serra2018(widths)
    value = cai2023_log10(widths, densities, rank_probabilities=rank_probabilities, seed=seed,
                          max_samples=max_samples)
    with localcontext(Context(prec=15)):
        return +(Decimal(10) ** Decimal(repr(value)))


def cai2023_log10(
    widths, densities, *, rank_probabilities: str = "binomial", seed: int = 0, max_samples: int = 20_000
) -> float:
    """log10 of :func:`cai2023`, by the recursion of the module docstring in float64 log space
    (relative error below 1e-12): per layer, ``S(e) = sum_j C(n, j) R(l + 1, min(n - j, e))``
    for every dimension e <= n_0 at once, then ``R(l, d) = sum_{k<d} P(k) S(k) + P(K >= d) S(d)``
    with prefix sums over the rank distribution."""
    widths = check_widths(widths)
    densities = check_densities(widths, densities)
    if rank_probabilities not in ("binomial", "mc"):
        raise LRCountError(f"unknown rank probabilities {rank_probabilities!r}; use binomial or mc")
    n0 = widths[0]
    log_r = np.zeros(n0 + 1)  # ln R(L + 1, d) = 0
    for l in reversed(range(len(densities))):
        rows, cols, p = widths[l + 1], widths[l], densities[l]
        if p == 1.0:
            ranks, log_p = np.array([min(rows, cols)]), np.zeros(1)
        elif rank_probabilities == "mc":
            sample = rank_distribution_mc(rows, cols, p, seed=seed + l, max_samples=max_samples).probabilities
            ranks = np.array([k for _, k in sample])
            log_p = np.log([float(q) for q, _ in sample])
        else:
            ranks, log_p = _log_rank_binomial(rows, cols, p)
        log_r = _log_layer(log_r, rows, ranks, log_p)
    return float(log_r[n0] / math.log(10))


def _log_comb(n: int, top: int) -> np.ndarray:
    """ln C(n, j) for j = 0..top."""
    j = np.arange(1, top + 1)
    return np.concatenate([[0.0], np.cumsum(np.log(n - j + 1.0) - np.log(j))])


def _log_rank_binomial(rows: int, cols: int, density: float) -> tuple[np.ndarray, np.ndarray]:
    """Ranks 0..m and ln P(rank = k) of :func:`rank_distribution_binomial`, in float64."""
    m, n = min(rows, cols), max(rows, cols)
    log_empty = n * math.log1p(-density)  # ln (1 - p)^n: a row of length n is all zero
    log_full = math.log(-math.expm1(log_empty))
    k = np.arange(m + 1)
    return k, _log_comb(m, m) + k * log_full + (m - k) * log_empty


def _log_layer(log_next: np.ndarray, width: int, ranks: np.ndarray, log_p: np.ndarray) -> np.ndarray:
    """ln R(l, d) for d = 0..n_0 from ln R(l + 1, .) (see :func:`cai2023_log10`)."""
    top = len(log_next) - 1
    j = np.arange(min(width, top) + 1)
    dims = np.arange(top + 1)[:, None]
    terms = _log_comb(width, len(j) - 1)[None, :] + log_next[np.minimum(width - j[None, :], dims)]
    log_s = _logsumexp(np.where(j[None, :] <= dims, terms, -np.inf), axis=1)
    order = np.argsort(ranks)
    ranks, log_p = ranks[order], log_p[order]
    below = np.full(top + 1, -np.inf)  # ln P(k) S(k) at k = d, for the prefix sums
    small = ranks <= top
    below[ranks[small]] = log_p[small] + log_s[ranks[small]]
    prefix = np.concatenate([[-np.inf], np.logaddexp.accumulate(below)[:-1]])  # sum over k < d
    tail = np.logaddexp.accumulate(log_p[::-1])[::-1]  # ln P(K >= ranks[i])
    first = np.searchsorted(ranks, np.arange(top + 1))
    log_tail = np.where(first < len(ranks), tail[np.minimum(first, len(ranks) - 1)], -np.inf)
    return np.logaddexp(prefix, log_tail + log_s)


def _logsumexp(values: np.ndarray, axis: int) -> np.ndarray:
    peak = np.max(values, axis=axis, keepdims=True)
    peak = np.where(np.isfinite(peak), peak, 0.0)
    with np.errstate(divide="ignore"):
        return np.squeeze(peak, axis) + np.log(np.sum(np.exp(values - peak), axis=axis))


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


# -- one given network -----------------------------------------------------------------------------
def structural_rank(matrix: np.ndarray) -> int:
    """The size of a maximum matching in the bipartite graph of the non-zeros of ``matrix``
    (Hopcroft-Karp, networkx): an upper bound on the rank, equal to it for generic values."""
    import networkx as nx

    rows, cols = np.nonzero(matrix)
    graph = nx.Graph()
    left = [("r", i) for i in range(matrix.shape[0])]
    graph.add_nodes_from(left, bipartite=0)
    graph.add_nodes_from((("c", j) for j in range(matrix.shape[1])), bipartite=1)
    graph.add_edges_from(zip((("r", i) for i in rows), (("c", j) for j in cols)))
    return len(nx.bipartite.hopcroft_karp_matching(graph, top_nodes=left)) // 2


def network_bound(network, domain=None, *, rank: str = "numerical") -> int:
    """An upper bound on the regions of one given network, from its actual weights: the
    recursion of the module docstring with, per layer, the rank of W^l restricted to the
    neurons that can vary (``rank`` = ``"numerical"``, SVD, or ``"structural"``, matching),
    the input dimension replaced by the domain's dimension (a subspace through S + 1 points has
    dimension S), and, when a domain is given, neurons stable on it taken out of the splitting
    ones (they never cut; stably active ones still carry dimension; Serra & Ramalingam 2020).
    Neurons whose rows are zero (after dropping inputs that are constant) never cut nor carry
    dimension. The bound is at least the exact count of :func:`lrcount.count_regions` on the
    same domain.
    """
    from .preact import ACTIVE, INACTIVE, UNSTABLE

    if rank not in ("numerical", "structural"):
        raise LRCountError(f"unknown rank {rank!r}; use numerical or structural")
    rank_of = np.linalg.matrix_rank if rank == "numerical" else structural_rank
    if domain is not None:
        from .problem import CountingProblem

        problem = CountingProblem.build(network, domain, tighten=True)
        net, states = problem.net, problem.bounds.states
    else:
        net, states = network, [np.full(n, UNSTABLE) for n in network.hidden_widths]
    live = np.ones(net.input_dim, bool)  # inputs of the current layer that vary
    layers = []
    for (w, _), state in zip(net.hidden_layers, states):
        w = w[:, live]
        varies = (state != INACTIVE) & np.any(w != 0, axis=1)
        splitting = int(np.sum(varies & (state == UNSTABLE)))
        active = int(np.sum(varies & (state == ACTIVE)))
        k = int(rank_of(w[varies])) if varies.any() and live.any() else 0
        layers.append(Layer(splitting, active, ((1, k),)))
        live = varies
    return layered_bound(net.input_dim, layers)


# -- bound-guided layer-wise densities (Cai et al. 2023, Sec. 4) ------------------------------------
@dataclass(frozen=True)
class DensityPlan:
    """Per-layer densities at a total density, with the binomial sparsity-aware bound of each."""

    total_density: float
    uniform: list[float]
    uniform_bound: Number
    optimized: list[float]
    optimized_bound: Number
    method: str


def _layer_sizes(widths: list[int]) -> np.ndarray:
    return np.array([widths[l] * widths[l + 1] for l in range(len(widths) - 1)], dtype=float)


def _log_bound(widths: list[int], densities) -> float:
    return cai2023_log10(widths, [float(np.clip(p, 1e-12, 1.0)) for p in densities])


def _quadratic_recipe(widths: list[int], total_density: float) -> list[float]:
    """Two pruned layers: fit a quadratic in p_1 through log(bound) at the two extremes (prune
    as much as possible from one layer) and at uniform density, and take its maximum; when the
    fit has no maximum inside the range, search a grid of 41 points (Cai et al. 2023, Sec. 4)."""
    m1, m2 = _layer_sizes(widths)
    kept = total_density * (m1 + m2)
    lo, hi = max(1.0 / m1, (kept - m2) / m1), min(1.0, (kept - 1.0) / m1)
    p2 = lambda p1: (kept - p1 * m1) / m2  # noqa: E731 - the budget line
    xs = np.array([lo, total_density, hi])
    ys = np.array([_log_bound(widths, [x, p2(x)]) for x in xs])
    a, b, _ = np.polyfit(xs, ys, 2)
    if a < 0 and lo <= -b / (2 * a) <= hi:
        best = -b / (2 * a)
    else:
        grid = np.linspace(lo, hi, 41)
        best = grid[int(np.argmax([_log_bound(widths, [x, p2(x)]) for x in grid]))]
    return [float(best), float(p2(best))]


def _exchange_search(widths: list[int], total_density: float, rounds: int = 12) -> list[float]:
    """Any number of layers: start uniform and move kept weights between pairs of layers while
    the bound grows, halving the step (a pattern search on the budget simplex)."""
    sizes = _layer_sizes(widths)
    kept = total_density * sizes
    best = _log_bound(widths, kept / sizes)
    step = 0.5
    for _ in range(rounds):
        improved = False
        for a in range(len(sizes)):
            for b in range(len(sizes)):
                if a == b:
                    continue
                moved = min(step * kept[a], (1.0 - kept[b] / sizes[b]) * sizes[b], kept[a] - 1.0)
                if moved <= 0:
                    continue
                trial = kept.copy()
                trial[a] -= moved
                trial[b] += moved
                value = _log_bound(widths, trial / sizes)
                if value > best + 1e-12:
                    kept, best, improved = trial, value, True
        if not improved:
            step /= 2
    return [float(p) for p in kept / sizes]


def optimize_densities(widths, total_density: float, *, method: str = "auto") -> DensityPlan:
    """The per-layer densities that maximise the sparsity-aware bound (binomial ranks) at the
    same number of kept weights as ``total_density`` in every layer. ``method`` is
    ``"quadratic"`` (the authors' recipe, two layers), ``"search"`` (any number of layers) or
    ``"auto"`` (quadratic for two layers)."""
    widths = check_widths(widths)
    if not 0.0 < total_density <= 1.0:
        raise LRCountError(f"the total density must lie in (0, 1], got {total_density}")
    n_layers = len(widths) - 1
    if method == "auto":
        method = "quadratic" if n_layers == 2 else "search"
    if method == "quadratic" and n_layers != 2:
        raise LRCountError("the quadratic recipe is for two pruned layers; use method 'search'")
    if method not in ("quadratic", "search"):
        raise LRCountError(f"unknown method {method!r}; use quadratic, search or auto")
    sizes = _layer_sizes(widths)
    if total_density * sizes.sum() < n_layers:
        raise LRCountError(
            f"total density {total_density:g} keeps {total_density * sizes.sum():.3g} of {int(sizes.sum())} weights; "
            f"every layer needs at least one (total density >= {n_layers / sizes.sum():.3g})"
        )
    uniform = [total_density] * n_layers
    if total_density == 1.0 or n_layers == 1:
        optimized = uniform
    else:
        optimized = (_quadratic_recipe if method == "quadratic" else _exchange_search)(widths, total_density)
        if _log_bound(widths, optimized) < _log_bound(widths, uniform):
            optimized = uniform  # never report a plan worse than the baseline
    return DensityPlan(
        total_density, uniform, cai2023(widths, uniform), optimized, cai2023(widths, optimized), method
    )


# -- all bounds at once ----------------------------------------------------------------------------
@dataclass(frozen=True)
class BoundValue:
    """One bound: ``kind`` is ``"upper"``, ``"lower"`` (on the maximum over weights) or
    ``"expected-upper"`` (an expectation under random pruning)."""

    method: str
    kind: str
    value: Number

    @property
    def log10(self) -> float:
        return log10(self.value)

    def decimal(self) -> str:
        """The value as a decimal string: exact for integers, ``PRECISION`` digits otherwise."""
        if isinstance(self.value, int):
            if self.value.bit_length() < 10_000:  # Python refuses str() of ints over 4300 digits
                return str(self.value)
            shift = int(self.log10) - PRECISION
            digits = str(self.value // 10**shift)  # the leading digits, exact
            return f"{digits[0]}.{digits[1:]}e+{shift + len(digits) - 1}"
        with localcontext(Context(prec=PRECISION)):
            value = self.value if isinstance(self.value, Decimal) else Decimal(self.value.numerator) / self.value.denominator
            return format(value.normalize(), "f")

    @property
    def scope(self) -> str:
        """What the value bounds: the maximum over all weights of the architecture, over
        weights of given ranks, an expectation under random pruning, or this network."""
        return SCOPES[self.method]

    def to_dict(self) -> dict:
        return {"method": self.method, "kind": self.kind, "scope": self.scope, "value": self.decimal(), "log10": self.log10}


METHODS = ("montufar2014", "montufar2017", "serra2018", "serra2018-rank", "serra2018-lower", "serra2018-1d",
           "hinz", "cai2023", "network")
_MAXIMUM = "max over all weights of the architecture"
SCOPES = {
    "montufar2014": _MAXIMUM, "montufar2017": _MAXIMUM, "serra2018": _MAXIMUM, "serra2018-lower": _MAXIMUM,
    "serra2018-1d": _MAXIMUM, "hinz": _MAXIMUM,
    "serra2018-rank": "max over all weights with these layer ranks",
    "cai2023": "expected max under random pruning at these densities",
    "network": "this network on its domain",
}


def compute_bounds(
    widths,
    *,
    method: str = "all",
    densities=None,
    ranks: list[int] | None = None,
    network=None,
    domain=None,
    rank_probabilities: str = "binomial",
    seed: int = 0,
) -> list[BoundValue]:
    """Every bound named by ``method`` (or all that apply) for ``widths``. ``densities`` enable
    ``cai2023``; ``ranks`` (or a ``network``) enable ``serra2018-rank``; a ``network`` (with an
    optional ``domain``) enables ``network``. With ``method="all"`` bounds whose conditions do
    not hold are left out; a single named method that does not apply raises an error."""
    widths = check_widths(widths)
    if method != "all" and method not in METHODS:
        raise LRCountError(f"unknown bound method {method!r}; choose from all, {', '.join(METHODS)}")
    if ranks is not None:
        check_ranks(widths, ranks)  # given by the user: an error, not a silently dropped bound
    if network is not None and ranks is None:
        ranks = [int(np.linalg.matrix_rank(w)) for w, _ in network.hidden_layers]
    makers = {
        "montufar2014": ("lower", lambda: montufar2014_lower(widths)),
        "montufar2017": ("upper", lambda: montufar2017(widths)),
        "serra2018": ("upper", lambda: serra2018(widths)),
        "serra2018-rank": ("upper", lambda: serra2018(widths, _need(ranks, "ranks (--ranks or a MODEL)"))),
        "serra2018-lower": ("lower", lambda: serra2018_lower(widths)),
        "serra2018-1d": ("upper", lambda: serra2018_one_input(widths)),
        "hinz": ("upper", lambda: hinz(widths)),
        "cai2023": ("expected-upper", lambda: cai2023(
            widths, _need(densities, "densities (--density)"), rank_probabilities=rank_probabilities, seed=seed)),
        "network": ("upper", lambda: network_bound(_need(network, "a MODEL"), domain)),
    }
    out = []
    for name in METHODS if method == "all" else (method,):
        kind, make = makers[name]
        try:
            out.append(BoundValue(name, kind, make()))
        except _NotGiven as missing:
            if method != "all":
                raise LRCountError(f"bound {name} needs {missing}") from None
        except LRCountError:
            if method != "all":
                raise
    return out


class _NotGiven(Exception):
    """A bound's input was not given; the message says which."""


def _need(value, what: str):
    if value is None:
        raise _NotGiven(what)
    return value
