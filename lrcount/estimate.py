"""Bounds and estimates of the number of regions where exact enumeration cannot finish.

On a domain, a region (:mod:`lrcount.region`) is fixed by the signs of the neurons that are
not stable there: the binaries ``z`` of the SCIP model (:mod:`lrcount.milp`). A *parity
constraint* ``XOR_{j in S} z_j = b`` with a uniformly random right-hand side ``b`` keeps any
one pattern with probability exactly 1/2, whatever the subset ``S``, and ``s`` independent
ones keep it with probability ``2^-s``. Whether some region survives ``s`` of them tells
the number of regions ``N`` (docs/estimating.md has the proofs):

* **Lower bound** (MBound; Gomes, Sabharwal & Selman 2006). If ``N < c 2^(s - a)``, the
  expected number of survivors is below ``c 2^-a``, so (Markov) a trial at level ``s`` finds
  ``c`` of them with probability below ``2^-a``, and ``t`` independent trials all do with
  probability below ``2^(-a t)``. Levels are searched upwards; the highest level whose trials
  all succeeded gives ``N >= c 2^(s - a)``, wrong with probability at most
  ``sum_j 2^(-t (a + j)) = 2^(-a t) / (1 - 2^-t)`` per test of a level, which
  :func:`mbound_slack` sets to ``1 - confidence``.
* **Two-sided estimate** (ApproxMC2; Chakraborty, Meel & Vardi 2016). With ``m`` dense
  parities (3-wise independent hashing), the regions of one hashed cell are enumerated up to a
  threshold; the smallest ``m`` whose cell holds fewer than the threshold gives
  ``2^m |cell|``, and the median over repeats is within a factor ``1 + eps`` of ``N`` with
  probability at least ``1 - delta`` (threshold and repeats: :func:`approxmc_parameters`).

A region counts only when the region LP certifies it (:class:`~lrcount.milp.PatternCertifier`,
the definition every engine uses), so a parity never lets a lower-dimensional pattern through;
a search that runs out of time counts as finding nothing, which keeps the lower bound sound.
The confidence is over the random parities, for this network and domain.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import numpy as np
from pyscipopt import quicksum

from .bounds.network import layers_bound
from .count import _checked_inputs, count_regions
from .domain import Domain, stored_box
from .engines import get_explorer
from .engines.frontier import Prefix
from .engines.onetree import LAST
from .errors import LRCountError
from .milp import certified_model
from .network import ReLUNetwork
from .preact import ACTIVE
from .problem import CountingProblem, resolve_domain
from .progress import progress_bar
from .runtime import NEVER, Deadline, SetupTimeout
from .tolerances import EPSILON

#: Points per batch when sampling patterns (a batch of 784-D points is then 12 MB).
SAMPLE_BATCH = 2_000
#: Without a time limit, ``scope="auto"`` goes on from the first layer's parities to parities
#: over every binary only up to this many binaries: SCIP's trials with dense parities grow
#: with the number of binaries (docs/estimating.md).
AUTO_ALL_BINARIES = 64
#: First-layer trials visit every solution of the parities when there are at most this many.
ALL_CELLS = 256
#: Hit-and-run steps before a chain's points are used, and chains run side by side.
BURN_IN, CHAINS = 20, 500


@dataclass(frozen=True)
class Parities:
    """``rows @ z = rhs (mod 2)``: one parity constraint per row over the ``n`` binaries."""

    rows: np.ndarray  # m x n, bool
    rhs: np.ndarray  # m, bool

    @classmethod
    def draw(cls, rng: np.random.Generator, m: int, n: int, pool: int | None = None) -> Parities:
        """``m`` independent parities, each binary in each with probability 1/2 and each
        right-hand side uniform: the 3-wise independent family ``H_xor`` of ApproxMC. With
        ``pool``, only the first ``pool`` binaries take part (each pattern still survives
        each parity with probability exactly 1/2)."""
        pool = n if pool is None else pool
        rows = np.zeros((m, n), bool)
        rows[:, :pool] = rng.random((m, pool)) < 0.5
        return cls(rows, rng.random(m) < 0.5)

    def first(self, m: int) -> Parities:
        """The first ``m`` parities (nested cells: a pattern kept by them is kept by fewer)."""
        return Parities(self.rows[:m], self.rhs[:m])

    def keep(self, signs: np.ndarray) -> np.ndarray:
        """Which of the sign vectors (rows of ``signs``) satisfy every parity."""
        sums = np.asarray(signs, dtype=np.int64) @ self.rows.T.astype(np.int64)
        return np.all((sums % 2).astype(bool) == self.rhs, axis=1)

    @property
    def contradictory(self) -> bool:
        """A parity over no binary with right-hand side 1: nothing satisfies it."""
        return bool(np.any(~self.rows.any(axis=1) & self.rhs))


@dataclass(frozen=True)
class Cell:
    """What a search under parities found: ``count`` regions (it stops at the number asked
    for), and whether it was ``decided`` (the search ended, or reached that number) rather
    than stopped by the deadline."""

    count: int
    decided: bool


#: Counts the regions that satisfy parities, up to a number, until a deadline.
CellCounter = Callable[[Parities, int, Deadline], Cell]


class ParitySearch:
    """A :data:`CellCounter` over the SCIP model of a problem: one model, whose parity
    constraints are swapped between searches, with the certifier of the ``milp`` engine
    (each region found is certified and cut off, so a search enumerates distinct regions).

    ``encoding``: ``"xor"`` (SCIP's XOR constraints) or ``"integer"`` (``sum z - 2 k = b``
    with an integer ``k``). Every region certified in any search is kept in
    :attr:`certified`, a certain lower bound on the count."""

    def __init__(self, problem: CountingProblem, *, encoding: str = "xor"):
        if encoding not in ("xor", "integer"):
            raise LRCountError(f"unknown parity encoding {encoding!r}; use xor or integer")
        self.encoding = encoding
        self.model_encoding, self.certifier = certified_model(problem, self._on_region, accept_regions=False,
                                                              priority=LAST, deadline=NEVER)
        self.model = self.model_encoding.model
        self.certified: set[bytes] = set()
        self._found, self._wanted = 0, 1

    def _on_region(self, n: int) -> None:
        self._found += n
        if self._found >= self._wanted:
            self.model.interruptSolve()

    def __call__(self, parities: Parities, at_most: int, deadline: Deadline) -> Cell:
        if parities.contradictory:
            return Cell(0, True)
        model = self.model
        added, helpers = self._add(parities)
        self.certifier.forget_regions()
        self._found, self._wanted = 0, at_most
        model.setParam("limits/time", deadline.remaining() if deadline.at is not None else 1e20)
        try:
            self.certifier.search(model.optimize)
            status = model.getStatus()
        finally:
            self.certified.update(self.certifier.regions)
            model.freeTransform()
            for constraint in added:
                model.delCons(constraint)
            for variable in helpers:
                model.delVar(variable)
        if status == "userinterrupt" and self._found < at_most:
            raise KeyboardInterrupt  # Ctrl-C, caught by SCIP during its search
        return Cell(min(self._found, at_most), self._found >= at_most or status == "infeasible")

    def _add(self, parities: Parities) -> tuple[list, list]:
        """Add the parities to the model; the constraints and the integer variables of the
        ``integer`` encoding, to delete after the search."""
        binaries = self.model_encoding.binaries
        added, helpers = [], []
        for j, (row, rhs) in enumerate(zip(parities.rows, parities.rhs)):
            members = [binaries[i] for i in np.flatnonzero(row)]
            if not members:
                continue
            if self.encoding == "xor":
                added.append(self.model.addConsXor(members, bool(rhs), name=f"parity{j}"))
            else:
                helpers.append(self.model.addVar(f"half{j}", vtype="I", lb=0, ub=len(members) // 2))
                added.append(self.model.addCons(quicksum(members) - 2 * helpers[-1] == int(rhs), name=f"parity{j}"))
        return added, helpers


@dataclass(frozen=True)
class ParitySolutions:
    """The solutions ``z`` of ``rows @ z = rhs`` over GF(2), from Gaussian elimination:
    ``pivots`` are fixed by the ``free`` variables through the reduced rows; ``consistent`` is
    False when there is no solution."""

    reduced: np.ndarray  # rank x (n + 1): reduced rows, right-hand side last
    pivots: np.ndarray
    free: np.ndarray
    consistent: bool

    @classmethod
    def of(cls, parities: Parities) -> ParitySolutions:
        rows = np.c_[parities.rows, parities.rhs].astype(bool)
        n = parities.rows.shape[1]
        pivots, r = [], 0
        for col in range(n):
            if r == len(rows):
                break
            hit = np.flatnonzero(rows[r:, col])
            if hit.size == 0:
                continue
            rows[[r, r + hit[0]]] = rows[[r + hit[0], r]]
            others = np.flatnonzero(rows[:, col])
            rows[others[others != r]] ^= rows[r]
            pivots.append(col)
            r += 1
        free = np.setdiff1d(np.arange(n), pivots)
        return cls(rows[:r], np.array(pivots, dtype=int), free, not rows[r:, -1].any())

    def solve(self, free_values: np.ndarray) -> np.ndarray:
        """The solution with the given values of the free variables."""
        z = np.zeros(self.reduced.shape[1] - 1, bool)
        z[self.free] = free_values
        z[self.pivots] = self.reduced[:, -1] ^ (np.count_nonzero(self.reduced[:, :-1] & z, axis=1) % 2 == 1)
        return z

    def draw(self, rng: np.random.Generator) -> np.ndarray:
        """A uniformly random solution (the system must be consistent)."""
        return self.solve(rng.random(len(self.free)) < 0.5)

    def every(self, rng: np.random.Generator):
        """Every solution, in random order (there are ``2^len(free)``)."""
        for index in rng.permutation(2 ** len(self.free)):
            yield self.solve((int(index) >> np.arange(len(self.free))) & 1 == 1)


class FirstLayerTrials:
    """A :data:`CellCounter` for parities over the first layer's binaries only. A solution of
    the parities is a first-layer pattern; every region in its first-layer cell satisfies the
    parities, and the ``split`` engine enumerates them from that prefix
    (:mod:`lrcount.engines.frontier`), certified as in every count. Distinct solutions give
    disjoint cells. When the parities have at most :data:`ALL_CELLS` solutions all are
    visited, so the count is exact (up to the number asked for); otherwise random solutions are
    tried, ``attempts`` per region asked for, and then :class:`ParitySearch` takes over. On
    a first layer of fewer neurons than input dimensions nearly every pattern has a cell, so
    a trial costs a few LPs per region at any level (docs/estimating.md)."""

    def __init__(self, problem: CountingProblem, search: ParitySearch, rng: np.random.Generator, attempts: int = 2):
        self.problem, self.search, self.rng, self.attempts = problem, search, rng, attempts
        width = problem.net.hidden_widths[0]
        self.pool = problem.unstable[problem.unstable < width]
        self.first_bits = (problem.states == ACTIVE)[:width]
        self.explore = get_explorer("split")

    def __call__(self, parities: Parities, at_most: int, deadline: Deadline) -> Cell:
        solutions = ParitySolutions.of(Parities(parities.rows[:, : len(self.pool)], parities.rhs))
        if not solutions.consistent:
            return Cell(0, True)
        exhaustive = len(solutions.free) <= math.log2(ALL_CELLS)
        patterns = solutions.every(self.rng) if exhaustive else (
            solutions.draw(self.rng) for _ in range(self.attempts * at_most))
        found: set[bytes] = set()
        for signs in patterns:
            if deadline.passed():
                return Cell(len(found), False)
            found |= self._regions_in_cell(signs, at_most - len(found), deadline)
            if len(found) >= at_most:
                break
        self.search.certified.update(found)
        if len(found) >= at_most or exhaustive:
            return Cell(min(len(found), at_most), not deadline.passed() or len(found) >= at_most)
        return self.search(parities, at_most, deadline)

    def _regions_in_cell(self, signs: np.ndarray, wanted: int, deadline: Deadline) -> set[bytes]:
        """Keys of up to ``wanted`` regions whose first-layer signs on the pool are ``signs``."""
        bits = self.first_bits.copy()
        bits[self.pool] = signs
        seen = [0]

        def counted(n: int) -> None:
            seen[0] += n

        def stop() -> str | None:
            return "enough" if seen[0] >= wanted else ("timelimit" if deadline.passed() else None)

        run, _ = self.explore(self.problem, [Prefix(1, bits)], stop_reason=stop, collect=True, on_region=counted)
        unstable = self.problem.unstable
        return {np.packbits(np.asarray(p, bool)[unstable]).tobytes() for p in (run.patterns or [])[:wanted]}


# -- the lower bound (MBound) -------------------------------------------------------------------
def trials_for(confidence: float) -> int:
    """Trials per level: enough that the slack :func:`mbound_slack` stays near one bit."""
    return max(1, math.ceil(math.log2(1 / (1 - confidence))))


def mbound_slack(confidence: float, trials: int, tests_per_level: int = 1) -> float:
    """The slack ``a`` (bits) such that ``k 2^(-a t) / (1 - 2^-t) = 1 - confidence``: the
    chance that any test of a level above ``log2 N + a`` has all its ``t`` trials feasible,
    when each level is tested at most ``k`` times (once per phase of the search)."""
    return -math.log2((1 - confidence) * (1 - 2.0 ** -trials) / tests_per_level) / trials


@dataclass
class LevelTrials:
    """One tested level: ``parities`` per trial, the binaries they ranged ``over``, trials
    run, how many found their regions, seconds."""

    parities: int
    over: int
    trials: int
    feasible: int
    seconds: float


@dataclass
class LevelSearch:
    """The search for the highest level in ``(start, n]`` at which ``trials`` independent
    trials (each with fresh parities) all find at least ``cell_size`` regions: doubling steps
    up to the first level that fails, then bisection, each level tested once per
    :meth:`run` and stopped at its first trial that finds fewer. ``held`` is the highest level
    that held so far (None: none), ``held_over`` the binaries its parities ranged over, and
    ``levels`` what each tested level did; all stay valid when a search is cut short. A
    level ``s`` that held proves ``N >= cell_size 2^(s - a)`` (:func:`mbound_slack`, with one
    test per level and run), whichever binaries the parities range over."""

    n: int
    trials: int
    cell_size: int = 1
    levels: list[LevelTrials] = field(default_factory=list)
    held: int | None = None
    held_over: int | None = None

    def run(self, count_cell: CellCounter, start: int, rng: np.random.Generator, deadline: Deadline,
            pool: int | None = None, on_trial: Callable[[int, int], None] = lambda level, trial: None) -> bool:
        """Search from ``start`` with parities over the first ``pool`` binaries (default all),
        counted by ``count_cell``; False if ``deadline`` passed before the search ended."""
        self._count_cell, self._pool = count_cell, self.n if pool is None else pool
        failed, step, level = self.n + 1, 1, start + 1
        while level <= self.n and failed > self.n:  # doubling steps up to the first failure
            outcome = self._holds(level, rng, deadline, on_trial)
            if outcome is None:
                return False
            if outcome:
                self._record(level)
                step *= 2
                level = min(level + step // 2, self.n) if level < self.n else self.n + 1
            else:
                failed = level
        low = start if self.held is None else self.held
        while failed - low > 1:  # bisection between the highest level that held and the lowest that failed
            middle = (low + failed) // 2
            outcome = self._holds(middle, rng, deadline, on_trial)
            if outcome is None:
                return False
            if outcome:
                self._record(middle)
                low = middle
            else:
                failed = middle
        return True

    def _record(self, level: int) -> None:
        if self.held is None or level > self.held:
            self.held, self.held_over = level, self._pool

    def _holds(self, level: int, rng, deadline: Deadline, on_trial) -> bool | None:
        """Whether every trial at ``level`` finds ``cell_size`` regions; None if one ran out of time."""
        began = time.perf_counter()
        record = LevelTrials(level, self._pool, 0, 0, 0.0)
        self.levels.append(record)
        for trial in range(self.trials):
            on_trial(level, trial)
            cell = self._count_cell(Parities.draw(rng, level, self.n, self._pool), self.cell_size, deadline)
            record.trials, record.feasible = trial + 1, record.feasible + (cell.count >= self.cell_size)
            record.seconds = time.perf_counter() - began
            if cell.count < self.cell_size:
                return False if cell.decided else None
        return True


# -- the two-sided estimate (ApproxMC2) ---------------------------------------------------------
def approxmc_parameters(epsilon: float, delta: float) -> tuple[int, int]:
    """ApproxMC2's cell threshold ``1 + 9.84 (1 + eps / (1 + eps)) (1 + 1 / eps)^2`` and its
    number of repeats ``17 log2(3 / delta)`` (Chakraborty, Meel & Vardi 2016, Algorithm 1),
    rounded up, the repeats to an odd number so that the median is one of them."""
    threshold = math.ceil(1 + 9.84 * (1 + epsilon / (1 + epsilon)) * (1 + 1 / epsilon) ** 2)
    repeats = math.ceil(17 * math.log2(3 / delta))
    return threshold, repeats + (repeats % 2 == 0)


class _Stopped(Exception):
    """A cell's search passed the deadline: the estimate cannot finish."""


def approx_log2(count_cell: CellCounter, n: int, *, epsilon: float, delta: float, rng: np.random.Generator,
                deadline: Deadline, on_repeat: Callable[[int, int], None] = lambda repeat, repeats: None,
                ) -> float | None:
    """log2 of ApproxMC2's estimate of the number of regions, or None if ``deadline`` passed
    first. With fewer regions than the threshold, the cell of no parity holds them all and
    the answer is exact."""
    threshold, repeats = approxmc_parameters(epsilon, delta)
    whole = count_cell(Parities.draw(rng, 0, n), threshold, deadline)
    if not whole.decided:
        return None
    if whole.count < threshold:
        return math.log2(whole.count) if whole.count else -math.inf
    estimates, guess = [], 1
    for repeat in range(repeats):
        on_repeat(repeat, repeats)
        cells = _HashedCells(count_cell, Parities.draw(rng, n, n), threshold, deadline, {0: threshold})
        try:
            guess = _smallest_small_cell(cells.size, n, threshold, guess)
        except _Stopped:
            return None
        size = cells.size(guess)
        estimates.append(guess + math.log2(size) if size else -math.inf)
    return float(np.median(estimates))


@dataclass
class _HashedCells:
    """The nested cells of one hash: cell ``m`` holds the regions that satisfy its first ``m``
    parities; sizes are counted up to ``threshold``, once each."""

    count_cell: CellCounter
    hashing: Parities
    threshold: int
    deadline: Deadline
    sizes: dict[int, int] = field(default_factory=dict)

    def size(self, m: int) -> int:
        if m not in self.sizes:
            cell = self.count_cell(self.hashing.first(m), self.threshold, self.deadline)
            if not cell.decided:
                raise _Stopped
            self.sizes[m] = cell.count
        return self.sizes[m]


def _smallest_small_cell(cell: Callable[[int], int], n: int, threshold: int, guess: int) -> int:
    """The ``m`` in [1, n] where ``cell(m - 1) >= threshold > cell(m)`` (cells shrink as
    parities are added), found from ``guess`` by doubling steps, then bisection
    (ApproxMC3's search from the previous repeat's ``m``); ``n`` if even that cell is large."""
    m = min(max(guess, 1), n)
    if cell(m) >= threshold:
        low, high, step = m, None, 1
        while high is None:
            probe = min(low + step, n)
            if cell(probe) < threshold:
                high = probe
            elif probe == n:
                return n
            else:
                low, step = probe, 2 * step
    else:
        high, low, step = m, None, 1
        while low is None:
            probe = max(high - step, 0)
            if cell(probe) >= threshold:
                low = probe
            else:
                high, step = probe, 2 * step
    while high - low > 1:
        middle = (low + high) // 2
        if cell(middle) >= threshold:
            low = middle
        else:
            high = middle
    return high


# -- patterns at random points ------------------------------------------------------------------
def sample_chart(problem: CountingProblem, count: int, rng: np.random.Generator):
    """Batches of random points of the problem's domain, ``count`` in all (chart coordinates):
    uniform in a box; from hit-and-run chains (Smith 1984) in a polytope, which reach every
    part of it."""
    chart = problem.chart
    lower, upper = chart.lower, chart.upper
    if chart.A.shape[0] == 0:
        for start in range(0, count, SAMPLE_BATCH):
            yield rng.uniform(lower, upper, (min(SAMPLE_BATCH, count - start), chart.dim))
        return
    A, c = np.vstack([chart.A, np.eye(chart.dim), -np.eye(chart.dim)]), np.r_[chart.c, upper, -lower]
    points = np.zeros((min(CHAINS, count), chart.dim))  # the centre of the unit-scaled chart
    made, step = 0, 0
    while made < count:
        direction = rng.standard_normal(points.shape)
        along, slack = direction @ A.T, c - points @ A.T
        with np.errstate(divide="ignore"):
            reach = np.where(along != 0, np.maximum(slack, 0) / along, np.inf)
        forward = np.where(along > 0, reach, np.inf).min(axis=1)
        backward = np.where(along < 0, reach, -np.inf).max(axis=1)
        points = points + rng.uniform(backward, forward)[:, None] * direction
        step += 1
        if step > BURN_IN:
            batch = points[: count - made]
            made += len(batch)
            yield batch


def sampled_patterns(problem: CountingProblem, count: int, rng: np.random.Generator,
                     deadline: Deadline = NEVER) -> int:
    """The number of distinct activation patterns at ``count`` random points of the domain
    (fewer points if ``deadline`` passes). A random point lies on no boundary with
    probability 1, so each pattern is a region of positive volume."""
    seen: set[bytes] = set()
    for points in sample_chart(problem, count, rng):
        if deadline.passed():
            break
        seen.update(map(bytes, np.packbits(problem.net.activation_patterns(points), axis=1)))
    return len(seen)


# -- the whole bracket --------------------------------------------------------------------------
@dataclass
class EstimateResult:
    """What is known of the number of regions ``N`` of a network in a domain.

    ``exact`` is ``N`` when enumeration finished within its budget (then the rest is not
    needed and not computed). Otherwise ``N >= 2^lower_log2`` with probability at least
    ``lower_confidence`` over the random parities (1.0 when the bound is certain: regions
    found by enumeration or certified in the trials, or patterns at random points); when a
    two-sided estimate was asked for and finished, ``2^estimate_log2`` is within a factor
    ``1 + estimate_epsilon`` of ``N`` with probability at least ``1 - estimate_delta``;
    ``N <= 2^upper_log2`` always (the per-network bound, :mod:`lrcount.bounds.network`).
    ``parities_log2`` is the bound from parities alone (at ``lower_confidence``'s level when
    it is the best one), ``parities_over`` the binaries they ranged over, of ``unstable``.
    ``complete`` is False when a time limit or Ctrl-C (``status``) cut the work short: the
    bounds are then those proven so far.
    """

    exact: int | None
    lower_log2: float
    lower_confidence: float
    lower_from: str
    estimate_log2: float | None
    estimate_epsilon: float | None
    estimate_delta: float | None
    sampled_patterns: int | None
    upper_log2: float
    seconds: float
    seed: int
    trials: list[dict] = field(default_factory=list)
    complete: bool = True
    status: str = "complete"
    unstable: int | None = None
    certified_regions: int = 0
    parities_over: int | None = None
    parities_log2: float | None = None
    widths: list[int] = field(default_factory=list)
    domain: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return asdict(self)

    def to_json(self, **kwargs) -> str:
        return json.dumps(self.to_dict(), **kwargs)

    def summary(self) -> str:
        """Human lines: the bracket, with what each number means."""
        if self.exact is not None:
            why = "no neuron changes sign on this domain" if self.unstable == 0 else "enumeration finished"
            return (f"exactly {self.exact} region{'s' if self.exact != 1 else ''} ({why}) | upper bound 2^{self.upper_log2:.2f} "
                    f"| {self.seconds:.1f} s")
        over = f" over {self.parities_over} of {self.unstable} binaries" if self.lower_from == "parities" else ""
        cut = "" if self.complete else f" (stopped early: {self.status}; bounds proven so far)"
        lines = [f"regions of {self.widths} in a {self.domain.get('type', 'domain')}{cut}:",
                 f"  lower bound  >= 2^{self.lower_log2:.2f} = {_power(self.lower_log2)} "
                 f"({'certain' if self.lower_confidence == 1 else f'confidence {self.lower_confidence:g}'}, "
                 f"{self.lower_from}{over})"]
        if self.estimate_log2 is not None:
            lines.append(f"  estimate     ~  2^{self.estimate_log2:.2f} = {_power(self.estimate_log2)} (within a factor "
                         f"{1 + self.estimate_epsilon:g} with probability >= {1 - self.estimate_delta:g})")
        if self.sampled_patterns is not None:
            lines.append(f"  sampled      {self.sampled_patterns} distinct patterns at random points")
        lines.append(f"  upper bound  <= 2^{self.upper_log2:.2f} = {_power(self.upper_log2)} (analytical, this network)")
        lines.append(f"  {self.seconds:.1f} s, seed {self.seed}")
        return "\n".join(lines)


def _power(log2: float) -> str:
    """2^log2 in decimal notation, e.g. '3.1e+45'."""
    if log2 == -math.inf:
        return "0"
    exponent = log2 * math.log10(2)
    return f"{10 ** (exponent % 1):.2g}e+{int(exponent // 1)}" if exponent >= 6 else f"{2 ** log2:,.0f}"


def _checked_options(confidence, epsilon_approx, delta_approx, samples, time_limit, exact_time, trials, seed) -> None:
    def number(value) -> bool:
        return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)

    if not number(confidence) or not 0 < confidence < 1:
        raise LRCountError(f"the confidence must lie strictly between 0 and 1, got {confidence!r}; e.g. 0.99")
    if epsilon_approx is not None and (not number(epsilon_approx) or epsilon_approx <= 0):
        raise LRCountError(f"the estimate's epsilon must be a positive number, got {epsilon_approx!r}; e.g. 0.8")
    if not number(delta_approx) or not 0 < delta_approx < 1:
        raise LRCountError(f"the estimate's delta must lie strictly between 0 and 1, got {delta_approx!r}; e.g. 0.2")
    if isinstance(samples, bool) or not isinstance(samples, int) or samples < 0:
        raise LRCountError(f"samples must be a whole number of points >= 0, got {samples!r}")
    if time_limit is not None and (not number(time_limit) or time_limit <= 0):
        raise LRCountError(f"the time limit must be a positive number of seconds, got {time_limit!r}")
    if not number(exact_time) or exact_time < 0:
        raise LRCountError(f"the exact count's budget must be a number of seconds >= 0, got {exact_time!r}")
    if trials is not None and (isinstance(trials, bool) or not isinstance(trials, int) or trials < 1):
        raise LRCountError(f"trials must be a whole number >= 1, got {trials!r}")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise LRCountError(f"the seed must be a whole number >= 0, got {seed!r}")


def estimate_regions(
    network: ReLUNetwork,
    domain: Domain | None = None,
    *,
    confidence: float = 0.99,
    epsilon_approx: float | None = None,
    delta_approx: float = 0.2,
    time_limit: float | None = None,
    seed: int = 0,
    samples: int = 100_000,
    exact_time: float = 5.0,
    trials: int | None = None,
    cell_size: int = 8,
    scope: str = "auto",
    parity: str = "xor",
    epsilon: float = EPSILON,
    progress: bool = False,
) -> EstimateResult:
    """Bound and estimate the number of regions of ``network`` in ``domain`` (see the
    module docstring and docs/estimating.md).

    Parameters
    ----------
    confidence
        Of the lower bound from parities, over their random draws.
    epsilon_approx, delta_approx
        Ask for a two-sided estimate within a factor ``1 + epsilon_approx`` with probability
        at least ``1 - delta_approx`` (ApproxMC2); None: no estimate (it enumerates hashed
        cells of up to ~70 regions, many times: far slower than the lower bound).
    time_limit
        Seconds for everything; when it passes, the bounds proven so far are returned with
        ``complete=False``. Ctrl-C does the same.
    seed
        Every random draw (points, parities) comes from it: a run reproduces.
    samples
        Random points whose distinct patterns are counted (0: none).
    exact_time
        Seconds for exact enumeration first (one core); if it finishes, that is the answer
        (0: no enumeration).
    trials
        Trials per level of the lower bound (default: enough to keep its slack near one bit).
    cell_size
        Regions each trial must find for its level to hold: a level ``s`` that holds proves
        ``N >= cell_size 2^(s - a)``; larger cells make the bound tighter (their sizes vary
        less) and each trial longer.
    scope
        The binaries the lower bound's parities range over: ``"all"`` (the tightest bound),
        ``"first-layer"`` (those of the first hidden layer, if any is unstable: a trial then
        enumerates the regions of the first-layer cells that solve the parities
        (:class:`FirstLayerTrials`), which stays fast on large networks; the bound is still
        sound, but looser, and cannot much exceed the first layer's patterns) or
        ``"auto"``: the first layer's, then all from the level reached (each level is
        then tested at most twice, which the slack accounts for); beyond
        :data:`AUTO_ALL_BINARIES` binaries, only the first layer's unless a time limit is given.
    parity
        How parities enter SCIP: ``"xor"`` constraints or ``"integer"`` sums.
    epsilon
        The region definition's radius (:mod:`lrcount.region`).
    """
    network, domain = _checked_inputs(network, domain)
    _checked_options(confidence, epsilon_approx, delta_approx, samples, time_limit, exact_time, trials, seed)
    if isinstance(cell_size, bool) or not isinstance(cell_size, int) or cell_size < 1:
        raise LRCountError(f"cell_size must be a whole number of regions >= 1, got {cell_size!r}")
    if scope not in ("auto", "all", "first-layer"):
        raise LRCountError(f"unknown parity scope {scope!r}; use auto, all or first-layer")
    if parity not in ("xor", "integer"):
        raise LRCountError(f"unknown parity encoding {parity!r}; use xor or integer")
    domain = resolve_domain(domain, stored_box(network))
    start, deadline = time.perf_counter(), Deadline.after(time_limit)
    trials = trials or trials_for(confidence)
    points_rng, parity_rng, approx_rng, trial_rng = (np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(4))
    result = EstimateResult(exact=None, lower_log2=-math.inf, lower_confidence=1.0, lower_from="nothing yet",
                            estimate_log2=None, estimate_epsilon=epsilon_approx, estimate_delta=None,
                            sampled_patterns=None, upper_log2=math.inf, seconds=0.0, seed=seed,
                            widths=network.widths, domain=domain.to_dict())

    def certain(count: int, source: str) -> None:
        if count > 0 and math.log2(count) > result.lower_log2:
            result.lower_log2, result.lower_confidence, result.lower_from = math.log2(count), 1.0, source

    search, levels = None, None
    with progress_bar(progress, desc="estimating", unit=" trials") as bar:
        try:
            enumerated = None
            if exact_time > 0:
                bar.set_postfix_str("exact enumeration first")
                budget = exact_time if deadline.at is None else min(exact_time, deadline.remaining())
                enumerated = count_regions(network, domain, time_limit=budget, epsilon=epsilon, jobs=1)
                if enumerated.status == "userinterrupt":  # count_regions returns what it found on Ctrl-C
                    certain(enumerated.count, "regions enumerated")
                    raise KeyboardInterrupt
                certain(enumerated.count, "exact count" if enumerated.complete else "regions enumerated")
            problem = CountingProblem.build(network, domain, epsilon, tighten=True, deadline=deadline)
            result.unstable = n = len(problem.unstable)
            result.upper_log2 = math.log2(layers_bound(problem.net, problem.bounds.states))
            if n == 0 or (enumerated is not None and enumerated.complete):  # no unstable neuron: one region
                result.exact = 1 if n == 0 else enumerated.count
                certain(result.exact, "exact count")
                return _finished(result, start)
            if samples:
                bar.set_postfix_str(f"patterns at {samples} random points")
                result.sampled_patterns = sampled_patterns(problem, samples, points_rng, deadline)
                certain(result.sampled_patterns, "patterns at random points")
            search = ParitySearch(problem, encoding=parity)
            pools = _parity_pools(problem, scope, deadline)
            first_layer = int(np.sum(problem.unstable < problem.net.hidden_widths[0]))
            first_layer_trials = FirstLayerTrials(problem, search, trial_rng)
            slack = mbound_slack(confidence, trials, len(pools)) - math.log2(cell_size)  # bits from a level to its bound
            levels = LevelSearch(n, trials, cell_size)
            finished = True
            for pool in pools:
                def on_trial(level: int, trial: int, pool=pool) -> None:
                    bar.update(1)
                    bar.set_postfix_str(f"{level} parities over {pool} binaries, trial {trial + 1}/{trials}, "
                                        f"lower bound 2^{result.lower_log2:.1f}")

                counter = first_layer_trials if pool == first_layer else search
                known = result.lower_log2 if levels.held is None else levels.held - slack
                first = max(0, math.floor(known + slack)) if known > -math.inf else 0
                finished = levels.run(counter, first, parity_rng, deadline, pool, on_trial)
                if not finished:
                    break
            if finished and epsilon_approx is not None:
                def on_repeat(repeat: int, repeats: int) -> None:
                    bar.set_postfix_str(f"estimate: repeat {repeat + 1}/{repeats}")

                estimate = approx_log2(search, n, epsilon=epsilon_approx, delta=delta_approx, rng=approx_rng,
                                       deadline=deadline, on_repeat=on_repeat)
                finished = estimate is not None
                if finished:
                    result.estimate_log2, result.estimate_delta = estimate, delta_approx
            if not finished:
                result.complete, result.status = False, "timelimit"
        except SetupTimeout:
            result.complete, result.status = False, "timelimit"
        except KeyboardInterrupt:
            result.complete, result.status = False, "userinterrupt"
    if levels is not None:
        result.trials = [asdict(level) for level in levels.levels]
        if levels.held is not None:
            result.parities_log2, result.parities_over = levels.held - slack, levels.held_over
            if result.parities_log2 > result.lower_log2:
                result.lower_log2, result.lower_confidence, result.lower_from = result.parities_log2, confidence, "parities"
    if search is not None:
        result.certified_regions = len(search.certified)
        certain(result.certified_regions, "regions certified in the trials")
    return _finished(result, start)


def _parity_pools(problem: CountingProblem, scope: str, deadline: Deadline) -> list[int]:
    """How many of the problem's binaries (in layer order) the lower bound's parities range
    over, per phase of the search: the first layer's (fast trials) and then all (the tightest
    bound), or one of them (see ``scope`` in :func:`estimate_regions`)."""
    n = len(problem.unstable)
    first_layer = int(np.sum(problem.unstable < problem.net.hidden_widths[0]))
    if scope == "all" or first_layer in (0, n):
        return [n]
    if scope == "first-layer" or (n > AUTO_ALL_BINARIES and deadline.at is None):
        return [first_layer]
    return [first_layer, n]


def _finished(result: EstimateResult, start: float) -> EstimateResult:
    """The result with its time, and no epsilon for an estimate that was not made."""
    if result.estimate_log2 is None:
        result.estimate_epsilon = None
    result.seconds = time.perf_counter() - start
    return result
