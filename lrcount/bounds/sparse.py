"""Cai et al. 2023 (CPAIOR): the expected bound under random pruning, and rank distributions."""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Context, Decimal, localcontext
from fractions import Fraction

import numpy as np

from ..errors import LRCountError
from ..progress import progress_bar
from .dense import serra2018
from .recursion import Number, check_densities, check_widths

# -- sparsity: Cai et al. 2023 -------------------------------------------------------------------
#: Decimal digits carried by the binomial expectation; its relative error is below 10^(2-PRECISION).
PRECISION = 60


def rank_distribution_binomial(rows: int, cols: int, density: float) -> tuple[tuple[Decimal, int], ...]:
    """P(rank = k) approximated by the number of non-zero rows of the shorter side:
    ``Binomial(m, 1 - (1 - p)^n)`` for the m x n orientation with m <= n (docs/theory.md section 4).

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
    progress: bool = False,
) -> RankSample:
    """P(rank = k) of a rows x cols Gaussian matrix whose entries are kept with probability
    ``density``, by Monte Carlo with the stopping rule of Cai et al. 2023: draw ``per_rank``
    matrices, then keep drawing until every rank seen has been seen ``per_rank`` times (at most
    ``max_samples`` matrices). Ranks of a batch are computed at once (batched SVD, numpy's
    default tolerance). ``progress`` shows the matrices drawn on stderr, for runs over a second."""
    import time

    rng = np.random.default_rng(seed)
    start = time.perf_counter()
    counts: dict[int, int] = {}
    total = 0
    with progress_bar(progress, desc=f"ranks of {rows} x {cols} at density {density:g}", unit=" matrices",
                      total=max_samples) as bar:
        while total < max_samples:
            size = min(batch, max_samples - total)
            mats = rng.standard_normal((size, rows, cols)) * (rng.random((size, rows, cols)) < density)
            for k, c in zip(*np.unique(np.linalg.matrix_rank(mats), return_counts=True)):
                counts[int(k)] = counts.get(int(k), 0) + int(c)
            total += size
            bar.update(size)
            if total >= per_rank and min(counts.values()) >= per_rank:
                break
    probabilities = tuple((Fraction(c, total), k) for k, c in sorted(counts.items()))
    capped = min(counts.values()) < per_rank
    return RankSample(probabilities, total, time.perf_counter() - start, capped)


def cai2023(
    widths, densities, *, rank_probabilities: str = "binomial", seed: int = 0, max_samples: int = 20_000,
    progress: bool = False,
) -> Number:
    """Cai et al. 2023 (CPAIOR), Theorem 1: the expected bound under random pruning with
    layer densities p_l (docs/theory.md section 4), with P(k | n_l, n_{l-1}, p_l) from the binomial
    non-zero-row approximation (``"binomial"``) or Monte Carlo (``"mc"``, seeded). At
    density 1 the rank is full and the bound equals :func:`serra2018` (exactly). Below it, the
    expectation is summed in log space (:func:`cai2023_log10`) and returned as a Decimal of 15
    significant digits: widths of thousands and densities of 1e-5 take well under a second."""
    widths = check_widths(widths)
    densities = check_densities(widths, densities)
    if all(p == 1.0 for p in densities):
        return serra2018(widths)
    value = cai2023_log10(widths, densities, rank_probabilities=rank_probabilities, seed=seed,
                          max_samples=max_samples, progress=progress)
    with localcontext(Context(prec=15)):
        return +(Decimal(10) ** Decimal(repr(value)))


def cai2023_log10(
    widths, densities, *, rank_probabilities: str = "binomial", seed: int = 0, max_samples: int = 20_000,
    progress: bool = False,
) -> float:
    """log10 of :func:`cai2023`, by the recursion of the module docstring in float64 log space
    (relative error below 1e-12): per layer, ``S(e) = sum_j C(n, j) R(l + 1, min(n - j, e))``
    for every dimension e <= n_0 at once, then ``R(l, d) = sum_{k<d} P(k) S(k) + P(K >= d) S(d)``
    with prefix sums over the rank distribution. ``progress``: of the Monte Carlo ranks."""
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
            sample = rank_distribution_mc(rows, cols, p, seed=seed + l, max_samples=max_samples, progress=progress).probabilities
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
