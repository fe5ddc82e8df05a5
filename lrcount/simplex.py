"""The ``split`` engine's small LPs, solved by a dense dual simplex compiled with numba.

The engine asks, thousands of times per second, for the largest ball in a polytope that is
its parent plus one row (docs/counting.md): ``max r`` subject to ``a_i . u + r <= c_i`` for
unit-norm rows ``a_i``, in k <= a few dozen dimensions, with a few dozen rows. HiGHS solves
each in about 0.26 ms from Python, mostly fixed costs of a general solver
(docs/benchmarks.md); this module solves them in tens of microseconds.

**Method.** The dual simplex in its active-set form (Lemke 1954; Fletcher, *Practical Methods
of Optimization*, ch. 8): for ``max c . z`` subject to ``M z <= h`` with z in R^n, a *basis* is
n rows whose matrix ``M_B`` is nonsingular and whose duals ``y = M_B^-T c`` are >= 0 (dual
feasible). Its vertex ``z = M_B^-1 h_B`` satisfies ``c . z >= `` the optimum (weak duality).
Each step takes the most violated row j into the basis and drops the row p that keeps the
duals >= 0 (the ratio test; Bland's rule after
:data:`~lrcount._simplex_kernel.BLAND_AFTER` steps); no candidate p means the duals can
grow without bound, so the polytope is empty. The first basis that violates no row is
optimal.

**Warm starts.** Rows are pushed and truncated in the search's depth-first order. A dual
feasible basis stays dual feasible when rows are added (the objective does not change), so a
solve starts from the optimal basis of the last solve on the current path; the box rows give
the first one (:meth:`ChebyshevLP.start_basis`). Because ``c . z`` bounds the optimum from above
at every step, a solve that only has to decide whether the radius reaches a threshold stops as
soon as the bound falls below it: most polytopes that hold no region are decided that way in
one or two steps.

**Start-up.** numba's start-up costs about half a second per process even when the machine
code is cached on disk, more than many whole counts take. A count's LPs therefore run in a
warm-started HiGHS model until the process's HiGHS solves have taken :data:`COMPILE_AFTER`
seconds (about what the start-up costs: a count never takes more than twice as long as the
better of the two would have), and then the compiled solver takes over, for this count and
every later one of the process. The seconds add up over the process, not one LP: a worker of
a parallel count runs many short tasks, each with its own LP, and would otherwise never switch.

**Safety.** The basis inverse is rebuilt by Gauss-Jordan elimination at the start of every
solve and updated by Sherman-Morrison between steps; a pivot below
:data:`~lrcount.tolerances.PIVOT_TOL`, a singular basis or more than
:data:`~lrcount._simplex_kernel.MAX_STEPS` steps hands the LP to HiGHS instead (counted in
``fallbacks``). Every LP of the test suite's split runs is also solved by HiGHS and the two
must agree (``tests/test_simplex.py``).
"""

from __future__ import annotations

import sys
import time

import highspy
import numpy as np

from .lp import new_highs
from .tolerances import FEASTOL

INF = highspy.kHighsInf

#: Seconds of HiGHS solves after which a count pays numba's start-up and the compiled simplex
#: takes over: small counts never pay it.
COMPILE_AFTER = 0.5

_highs_seconds = 0.0  # of this process's HiGHS solves, until the compiled solver takes over


def _kernel():
    """The compiled solver's module (:mod:`lrcount._simplex_kernel`). numba is imported only
    here, so that counts that solve few LPs (small ``split`` counts, the fallback of
    ``vertex`` and ``planar``) do not pay numba's start-up (about half a second per process,
    even with the machine code cached on disk)."""
    from . import _simplex_kernel

    return _simplex_kernel


def _kernel_loaded() -> bool:
    return "lrcount._simplex_kernel" in sys.modules


class _HighsLP:
    """The same LPs in one warm-started HiGHS model whose rows follow the search's lazily:
    rows are added and deleted only when a solve needs them."""

    def __init__(self, k: int):
        h = self.highs = new_highs()
        # primal simplex: about 10% faster than dual here on re-solves after a row is added
        for name, value in (("primal_feasibility_tolerance", FEASTOL), ("dual_feasibility_tolerance", FEASTOL),
                            ("presolve", "off"), ("solver", "simplex"), ("simplex_strategy", 4)):
            h.setOptionValue(name, value)
        h.addVars(k + 1, np.full(k + 1, -INF), np.full(k + 1, INF))
        self.k, self.rows = k, 0
        self.cols = np.arange(k + 1, dtype=np.int32)

    def sync(self, M: np.ndarray, h: np.ndarray, n_rows: int, unchanged: int) -> None:
        """Make the model's rows ``M[:n_rows] z <= h[:n_rows]``, of which the first
        ``unchanged`` are already there."""
        keep = min(self.rows, unchanged)
        if self.rows > keep:
            self.highs.deleteRows(self.rows - keep, np.arange(keep, self.rows, dtype=np.int32))
        for r in range(keep, n_rows):
            self.highs.addRow(-INF, h[r], self.k + 1, self.cols, M[r])
        self.rows = n_rows

    def maximize(self, cost: np.ndarray) -> np.ndarray | None:
        """The optimal z of ``max cost . z`` (cost over u only: the radius is held at 0), or None."""
        h, k = self.highs, self.k
        flat = cost.size == k
        h.changeColsCost(k + 1, self.cols, np.r_[cost, 0.0] if flat else cost)
        if flat:
            h.changeColBounds(k, 0.0, 0.0)
        h.changeObjectiveSense(highspy.ObjSense.kMaximize)
        h.run()
        optimal = h.getModelStatus() == highspy.HighsModelStatus.kOptimal
        z = np.array(h.getSolution().col_value) if optimal else None
        if flat:
            h.changeColBounds(k, -INF, INF)
        return z


class ChebyshevLP:
    """``max r`` over the current polytope of a depth-first search, in the k chart coordinates
    u and the radius r: the box rows ``+-u_j + r <= bound`` first, then unit-norm rows
    ``a . u + r <= c`` pushed and truncated in DFS order (the module docstring).

    Its solves run in HiGHS until the process's have taken :data:`COMPILE_AFTER` seconds;
    then, and in every later count of the process, the compiled dual simplex takes over."""

    def __init__(self, lower: np.ndarray, upper: np.ndarray, capacity: int = 256):
        lower, upper = np.asarray(lower, dtype=np.float64), np.asarray(upper, dtype=np.float64)
        if not (np.isfinite(lower).all() and np.isfinite(upper).all()):
            raise ValueError("the LP's box must be finite")
        k = self.k = lower.size
        self.M = np.zeros((max(capacity, 2 * k + 1), k + 1))
        self.h = np.zeros(len(self.M))
        self.n_rows = 0
        self.radius_cost = np.r_[np.zeros(k), 1.0]
        self.solves = self.steps = self.fallbacks = 0
        self._bases: list[tuple[int, np.ndarray]] = []  # (rows, optimal basis) of solves on the current path
        self._z = np.empty(k + 1)
        self._kernel = _kernel() if _kernel_loaded() else None
        self._highs = None if self._kernel is not None else _HighsLP(k)
        self._unchanged = 0  # rows of the HiGHS model still equal to these
        eye = np.eye(k)
        for row, rhs in zip(np.vstack([eye, -eye]), np.r_[upper, -lower]):
            self.push(row, rhs)

    def start_basis(self, cost: np.ndarray) -> np.ndarray:
        """A dual feasible basis of box rows for ``max cost . z``: per coordinate its upper row
        (index j) or lower row (index k + j) as the cost's sign says; for the radius (cost
        e_r, n = k + 1) all upper rows and the first lower row, whose duals are 1/2 each."""
        k = self.k
        if cost.size == k + 1:
            return np.r_[np.arange(k), k].astype(np.int64)
        return np.where(cost >= 0, np.arange(k), k + np.arange(k)).astype(np.int64)

    def push(self, row: np.ndarray, rhs: float) -> None:
        """Add the row ``row . u + r <= rhs`` (``row`` of unit norm)."""
        if self.n_rows == len(self.h):
            self.M = np.vstack([self.M, np.zeros_like(self.M)])
            self.h = np.r_[self.h, np.zeros_like(self.h)]
        self.M[self.n_rows, : self.k] = row
        self.M[self.n_rows, self.k] = 1.0
        self.h[self.n_rows] = rhs
        self.n_rows += 1

    def truncate(self, n_rows: int) -> None:
        """Drop the rows above ``n_rows`` (and the bases that used them)."""
        if self.n_rows > n_rows:
            self.n_rows = n_rows
            self._unchanged = min(self._unchanged, n_rows)
            while self._bases and self._bases[-1][0] > n_rows:
                self._bases.pop()

    def optimal_basis(self) -> np.ndarray | None:
        """The optimal basis of the last solve, if it is optimal for the current rows."""
        return self._bases[-1][1] if self._bases and self._bases[-1][0] == self.n_rows else None

    def remember(self, basis: np.ndarray) -> None:
        """Start later solves from ``basis``, optimal for the current rows (as :meth:`solve`
        would have left it)."""
        self._bases.append((self.n_rows, basis))

    def solve(self, threshold: float = -np.inf) -> tuple[float, np.ndarray | None]:
        """The inscribed radius of the current polytope and its centre; or, once the radius is
        known to lie below ``threshold``, that upper bound and None (-inf: empty)."""
        self.solves += 1
        if self._kernel is None and _highs_seconds > COMPILE_AFTER:
            self._kernel, self._highs = _kernel(), None
        if self._highs is not None:
            z = self._highs_maximize(self.radius_cost)
            return (float(z[self.k]), z[: self.k]) if z is not None else (-np.inf, None)
        basis = (self._bases[-1][1] if self._bases else self.start_basis(self.radius_cost)).copy()
        kernel = self._kernel
        status, steps = kernel.dual_simplex(self.M, self.h, self.n_rows, self.radius_cost, basis, threshold, self._z)
        self.steps += steps
        if status == kernel.OPTIMAL:
            self._bases.append((self.n_rows, basis))
            return float(self._z[self.k]), self._z[: self.k].copy()
        if status == kernel.BELOW:
            return float(self._z[self.k]), None
        if status == kernel.EMPTY:
            return -np.inf, None
        return self._fallback(self.radius_cost, threshold)

    def _highs_maximize(self, cost: np.ndarray) -> np.ndarray | None:
        global _highs_seconds
        start = time.perf_counter()
        self._highs.sync(self.M, self.h, self.n_rows, self._unchanged)
        self._unchanged = self.n_rows
        z = self._highs.maximize(cost)
        _highs_seconds += time.perf_counter() - start
        return z

    def bounding_box(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The bounding box of the current polytope and the 2k points of it that attain the
        box: 2k LPs in u alone (the radius held at 0)."""
        k = self.k
        points = np.empty((2 * k, k))
        for j in range(k):
            for side, sign in enumerate((-1.0, 1.0)):
                cost = np.zeros(k)
                cost[j] = sign
                self.solves += 1
                if self._highs is not None:
                    points[2 * j + side] = self._highs_maximize(cost)[:k]
                    continue
                basis = self.start_basis(cost)
                z = np.empty(k)
                status, steps = self._kernel.dual_simplex(self.M, self.h, self.n_rows, cost, basis, -np.inf, z)
                self.steps += steps
                if status != self._kernel.OPTIMAL:
                    _, z = self._fallback(cost, -np.inf)
                points[2 * j + side] = z
        return points[0::2].diagonal().copy(), points[1::2].diagonal().copy(), points

    def _fallback(self, cost: np.ndarray, threshold: float) -> tuple[float, np.ndarray | None]:
        """The same LP in a new HiGHS model, for the rare solve the dense simplex gives up on."""
        from .lp import solve_lp

        self.fallbacks += 1
        n = cost.size
        result = solve_lp(cost, self.M[: self.n_rows, :n], self.h[: self.n_rows], np.full(n, -np.inf),
                          np.full(n, np.inf), maximize=True, tolerance=FEASTOL, presolve=False)
        if result.status != "optimal":
            return -np.inf, None
        if n == self.k:
            return result.value, result.x
        radius = float(result.x[self.k])
        return (radius, result.x[: self.k]) if radius >= threshold else (radius, None)
