"""Bound-guided layer-wise densities (Cai et al. 2023, Sec. 4)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import LRCountError
from ..progress import progress_bar
from .recursion import Number, check_widths
from .sparse import cai2023, cai2023_log10

# -- bound-guided layer-wise densities (Cai et al. 2023, Sec. 4) ------------------------------------
#: Two bounds closer than this in log10 are equal (a plateau of the bound).
PLATEAU_TOL = 1e-9


@dataclass(frozen=True)
class DensityPlan:
    """Per-layer densities at a total density, with the binomial sparsity-aware bound of each.

    ``plateau`` (two pruned layers) gives, per layer, the range of densities on the budget line
    whose bound equals the best one (within :data:`PLATEAU_TOL` in log10): the bound cannot
    choose among them. Tie-break: ``optimized`` is the plateau point nearest to uniform
    density, and uniform itself when it is on the plateau (``uniform_is_optimal``)."""

    total_density: float
    uniform: list[float]
    uniform_bound: Number
    optimized: list[float]
    optimized_bound: Number
    method: str
    plateau: list[tuple[float, float]] | None = None

    @property
    def uniform_is_optimal(self) -> bool:
        return self.optimized == self.uniform


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
    distinct = np.unique(np.round((xs - lo) / max(hi - lo, 1e-300), 9)).size == 3
    a, b, _ = np.polyfit((xs - lo) / (hi - lo), ys, 2) if distinct else (0.0, 0.0, 0.0)  # in [0, 1]: well conditioned
    if a < 0 and 0 <= -b / (2 * a) <= 1:
        best = lo + (hi - lo) * (-b / (2 * a))
    else:
        grid = np.linspace(lo, hi, 41)
        best = grid[int(np.argmax([_log_bound(widths, [x, p2(x)]) for x in grid]))]
    return [float(best), float(p2(best))]


def _exchange_search(widths: list[int], total_density: float, rounds: int = 12, progress: bool = False) -> list[float]:
    """Any number of layers: start uniform and move kept weights between pairs of layers while
    the bound grows, halving the step (a pattern search on the budget simplex)."""
    sizes = _layer_sizes(widths)
    kept = total_density * sizes
    best = _log_bound(widths, kept / sizes)
    step = 0.5
    with progress_bar(progress, desc="density search", unit=" layers", total=rounds * len(sizes)) as bar:
        for _ in range(rounds):
            kept, best, improved = _exchange_round(widths, sizes, kept, best, step, bar.update)
            if not improved:
                step /= 2
    return [float(p) for p in kept / sizes]


def _exchange_round(widths, sizes, kept, best, step, advance):
    """One pass over every ordered pair of layers: move ``step`` of a's kept weights to b
    where that raises the bound; ``advance(1)`` after each a. Returns the new kept counts,
    bound and whether it rose."""
    improved = False
    for a in range(len(sizes)):
        advance(1)
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
    return kept, best, improved


def optimize_densities(widths, total_density: float, *, method: str = "auto", progress: bool = False) -> DensityPlan:
    """The per-layer densities that maximise the sparsity-aware bound (binomial ranks) at the
    same number of kept weights as ``total_density`` in every layer. ``method`` is
    ``"quadratic"`` (the authors' recipe, two layers), ``"search"`` (any number of layers) or
    ``"auto"`` (quadratic for two layers). ``progress`` shows progress on stderr for searches
    over a second (many layers; the plateau scan of very wide layers)."""
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
    plateau = None
    if total_density == 1.0 or n_layers == 1:
        optimized = uniform
    else:
        optimized = _quadratic_recipe(widths, total_density) if method == "quadratic" else \
            _exchange_search(widths, total_density, progress=progress)
        if _log_bound(widths, optimized) < _log_bound(widths, uniform) + PLATEAU_TOL:
            optimized = uniform  # never report a plan worse than the baseline, nor one that only ties it
        if n_layers == 2:
            optimized, plateau = _plateau(widths, total_density, optimized, progress=progress)
    return DensityPlan(
        total_density, uniform, cai2023(widths, uniform), optimized, cai2023(widths, optimized), method, plateau
    )


def _plateau(widths: list[int], total_density: float, best: list[float], points: int = 121, progress: bool = False):
    """Two layers: the densities on the budget line whose bound ties the best (a grid of
    ``points`` values of p_1 plus the best and uniform points, so its edges are known to
    1 / (points - 1) of the feasible range), and the tie-break of :class:`DensityPlan`."""
    m1, m2 = _layer_sizes(widths)
    kept = total_density * (m1 + m2)
    lo, hi = max(1.0 / m1, (kept - m2) / m1), min(1.0, (kept - 1.0) / m1)
    p1 = np.unique(np.r_[np.linspace(lo, hi, points), best[0], total_density])
    with progress_bar(progress, desc="density plateau", unit=" bounds", total=len(p1)) as bar:
        values = []
        for x in p1:
            values.append(_log_bound(widths, [x, (kept - x * m1) / m2]))
            bar.update(1)
    values = np.array(values)
    on = p1[values >= values.max() - PLATEAU_TOL]
    choice = float(on[np.argmin(np.abs(on - total_density))])
    densities = [choice, float((kept - choice * m1) / m2)]
    if abs(choice - total_density) < 1e-12:
        densities = [total_density, total_density]
    plateau = [(float(on.min()), float(on.max())),
               (float((kept - on.max() * m1) / m2), float((kept - on.min() * m1) / m2))]
    return densities, plateau
