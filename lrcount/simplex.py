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
duals >= 0 (the ratio test); no candidate p means the duals can grow without bound, so the
polytope is empty. The first basis that violates no row is optimal.

**Warm starts.** Rows are pushed and truncated in the search's depth-first order. A dual
feasible basis stays dual feasible when rows are added (the objective does not change), so a
solve starts from the optimal basis of the last solve on the current path; the box rows give
the first one (:meth:`ChebyshevLP.start_basis`). Because ``c . z`` bounds the optimum from above
at every step, a solve that only has to decide whether the radius reaches a threshold stops as
soon as the bound falls below it: most polytopes that hold no region are decided that way in
one or two steps.

**Safety.** The basis inverse is rebuilt by Gauss-Jordan elimination at the start of every
solve and updated by Sherman-Morrison between steps; a pivot below :data:`PIVOT_TOL`, a
singular basis or more than :data:`MAX_STEPS` steps hands the LP to HiGHS instead (counted in
``fallbacks``). Every LP of the test suite's split runs is also solved by HiGHS and the two
must agree (``tests/test_simplex.py``).
"""

from __future__ import annotations

import numpy as np

from .tolerances import FEASTOL

#: A ratio-test entry below this is not a pivot (the rows are unit-norm, the chart unit-scaled).
PIVOT_TOL = 1e-9
#: Steps of one solve before it is handed to HiGHS (a cycle on a degenerate vertex).
MAX_STEPS = 500

_OPTIMAL, _BELOW, _EMPTY, _TROUBLE = 0, 1, 2, 3


def _kernel():
    """The compiled solver (numba compiles it on first use and caches it on disk)."""
    global _compiled
    if _compiled is None:
        _compiled = _compile()
    return _compiled


_compiled = None


def _compile():
    from numba import njit

    @njit(cache=True)
    def invert(a, out):
        """``out = a^-1`` by Gauss-Jordan elimination with partial pivoting; False if singular."""
        n = a.shape[0]
        work = a.copy()
        for i in range(n):
            for j in range(n):
                out[i, j] = 1.0 if i == j else 0.0
        for col in range(n):
            pivot, best = col, abs(work[col, col])
            for r in range(col + 1, n):
                if abs(work[r, col]) > best:
                    pivot, best = r, abs(work[r, col])
            if best < PIVOT_TOL:
                return False
            if pivot != col:
                for j in range(n):
                    work[col, j], work[pivot, j] = work[pivot, j], work[col, j]
                    out[col, j], out[pivot, j] = out[pivot, j], out[col, j]
            scale = 1.0 / work[col, col]
            for j in range(n):
                work[col, j] *= scale
                out[col, j] *= scale
            for r in range(n):
                if r != col and work[r, col] != 0.0:
                    f = work[r, col]
                    for j in range(n):
                        work[r, j] -= f * work[col, j]
                        out[r, j] -= f * out[col, j]
        return True

    @njit(cache=True)
    def dual_simplex(M, h, m, c, basis, threshold, z):
        """Maximise ``c . z`` over ``M[:m, :n] z <= h[:m]`` from the dual feasible ``basis``
        (n row indices, updated in place); ``z`` receives the last vertex. Returns (status,
        steps): optimal, below ``threshold`` (the bound ``c . z`` fell under it), empty, or
        trouble (singular basis, tiny pivot, too many steps)."""
        n = basis.shape[0]
        rows = np.empty((n, n))
        for i in range(n):
            for j in range(n):
                rows[i, j] = M[basis[i], j]
        inverse = np.empty((n, n))
        if not invert(rows, inverse):
            return _TROUBLE, 0
        w = np.empty(n)
        d_inv = np.empty(n)
        for step in range(MAX_STEPS):
            value = 0.0
            for i in range(n):
                s = 0.0
                for j in range(n):
                    s += inverse[i, j] * h[basis[j]]
                z[i] = s
                value += c[i] * s
            if value < threshold:
                return _BELOW, step
            entering, worst = -1, FEASTOL
            for r in range(m):
                s = -h[r]
                for j in range(n):
                    s += M[r, j] * z[j]
                if s > worst:
                    entering, worst = r, s
            if entering < 0:
                return _OPTIMAL, step
            leaving, ratio = -1, np.inf
            for i in range(n):  # w = M_B^-T a_entering, y = M_B^-T c
                wi, yi = 0.0, 0.0
                for j in range(n):
                    wi += inverse[j, i] * M[entering, j]
                    yi += inverse[j, i] * c[j]
                w[i] = wi
                if wi > PIVOT_TOL and yi / wi < ratio:
                    leaving, ratio = i, yi / wi
            if leaving < 0:
                return _EMPTY, step
            # row `leaving` of M_B becomes M[entering]: inverse -= (inverse e_p)(d inverse) / (1 + d inverse e_p)
            for j in range(n):
                s = 0.0
                for i in range(n):
                    s += (M[entering, i] - M[basis[leaving], i]) * inverse[i, j]
                d_inv[j] = s
            denominator = 1.0 + d_inv[leaving]
            if abs(denominator) < PIVOT_TOL:
                return _TROUBLE, step
            for i in range(n):
                f = inverse[i, leaving] / denominator
                for j in range(n):
                    inverse[i, j] -= f * d_inv[j]
            basis[leaving] = entering
        return _TROUBLE, MAX_STEPS

    return dual_simplex


class ChebyshevLP:
    """``max r`` over the current polytope of a depth-first search, in the k chart coordinates
    u and the radius r: the box rows ``+-u_j + r <= bound`` first, then unit-norm rows
    ``a . u + r <= c`` pushed and truncated in DFS order (the module docstring)."""

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
        self._dual_simplex = _kernel()
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
            while self._bases and self._bases[-1][0] > n_rows:
                self._bases.pop()

    def solve(self, threshold: float = -np.inf) -> tuple[float, np.ndarray | None]:
        """The inscribed radius of the current polytope and its centre; or, once the radius is
        known to lie below ``threshold``, that upper bound and None (-inf: empty)."""
        self.solves += 1
        basis = (self._bases[-1][1] if self._bases else self.start_basis(self.radius_cost)).copy()
        status, steps = self._dual_simplex(self.M, self.h, self.n_rows, self.radius_cost, basis, threshold, self._z)
        self.steps += steps
        if status == _OPTIMAL:
            self._bases.append((self.n_rows, basis))
            return float(self._z[self.k]), self._z[: self.k].copy()
        if status == _BELOW:
            return float(self._z[self.k]), None
        if status == _EMPTY:
            return -np.inf, None
        return self._highs(self.radius_cost, threshold)

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
                basis = self.start_basis(cost)
                z = np.empty(k)
                status, steps = self._dual_simplex(self.M, self.h, self.n_rows, cost, basis, -np.inf, z)
                self.steps += steps
                if status != _OPTIMAL:
                    _, z = self._highs(cost, -np.inf)
                points[2 * j + side] = z
        return points[0::2].diagonal().copy(), points[1::2].diagonal().copy(), points

    def _highs(self, cost: np.ndarray, threshold: float) -> tuple[float, np.ndarray | None]:
        """The same LP in HiGHS, for the rare solve the dense simplex gives up on."""
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
