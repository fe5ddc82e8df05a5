"""Linear programs with HiGHS (highspy), silenced, for bound tightening and region checks."""

from __future__ import annotations

import threading
from dataclasses import dataclass

import highspy
import numpy as np

from .runtime import c_stdout_redirected

INF = highspy.kHighsInf


def new_highs() -> highspy.Highs:
    """A HiGHS instance that prints nothing. HiGHS writes its banner straight to fd 1 when the
    process builds its first instance, before any option can be set: only that construction
    runs with fd 1 on /dev/null, under a lock, so no other thread's output is lost later and
    two threads never swap the descriptor under each other."""
    global _highs_banner_shown
    with _highs_banner_lock:
        if not _highs_banner_shown:
            with c_stdout_redirected():
                h = highspy.Highs()
            _highs_banner_shown = True
        else:
            h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    return h


_highs_banner_lock = threading.Lock()
_highs_banner_shown = False


@dataclass
class LPResult:
    """Outcome of one LP: ``status`` is 'optimal', 'infeasible' or 'unbounded'; at an optimum
    ``x`` and ``value``, and ``row_duals`` (one per row of ``a_ub``)."""

    status: str
    x: np.ndarray | None = None
    value: float = float("nan")
    row_duals: np.ndarray | None = None


def solve_lp(
    cost: np.ndarray,
    a_ub: np.ndarray,
    b_ub: np.ndarray,
    lower: np.ndarray,
    upper: np.ndarray,
    *,
    maximize: bool = False,
    tolerance: float | None = None,
    presolve: bool = True,
    highs: highspy.Highs | None = None,
) -> LPResult:
    """Optimise ``cost @ x`` subject to ``a_ub @ x <= b_ub`` and ``lower <= x <= upper``, in
    ``highs`` (a :func:`new_highs` instance, reused for many LPs) or a new HiGHS instance."""
    h = highs or new_highs()
    h.setOptionValue("presolve", "on" if presolve else "off")
    if tolerance is not None:
        h.setOptionValue("primal_feasibility_tolerance", tolerance)
        h.setOptionValue("dual_feasibility_tolerance", tolerance)
    load_lp(h, cost, a_ub, b_ub, lower, upper, maximize=maximize)
    return run(h)


def load_lp(h: highspy.Highs, cost, a_ub, b_ub, lower, upper, *, maximize: bool = False) -> None:
    """Pass the LP of :func:`solve_lp` to the HiGHS instance ``h``."""
    a_ub = np.asarray(a_ub, dtype=np.float64).reshape(-1, len(cost))
    lp = highspy.HighsLp()
    lp.num_col_ = len(cost)
    lp.num_row_ = a_ub.shape[0]
    lp.col_cost_ = np.asarray(cost, dtype=np.float64)
    lp.col_lower_ = np.where(np.isfinite(lower), lower, -INF).astype(np.float64)
    lp.col_upper_ = np.where(np.isfinite(upper), upper, INF).astype(np.float64)
    lp.row_lower_ = np.full(a_ub.shape[0], -INF)
    lp.row_upper_ = np.asarray(b_ub, dtype=np.float64)
    rows, cols = np.nonzero(a_ub)
    lp.a_matrix_.format_ = highspy.MatrixFormat.kRowwise
    lp.a_matrix_.start_ = np.concatenate([[0], np.cumsum(np.bincount(rows, minlength=a_ub.shape[0]))]).astype(np.int32)
    lp.a_matrix_.index_ = cols.astype(np.int32)
    lp.a_matrix_.value_ = a_ub[rows, cols]
    lp.sense_ = highspy.ObjSense.kMaximize if maximize else highspy.ObjSense.kMinimize
    h.passModel(lp)


def inscribed_ball(
    A: np.ndarray, c: np.ndarray, lower: np.ndarray, upper: np.ndarray, *, tolerance: float | None = None,
    highs: highspy.Highs | None = None,
) -> LPResult:
    """The largest ball in ``{t : A t <= c, lower <= t <= upper}`` (the Chebyshev centre LP,
    Boyd & Vandenberghe, Convex Optimization, sec. 8.5.1): maximise r subject to
    ``A_i t + r ||A_i|| <= c_i`` and ``lower + r <= t <= upper - r``. ``value`` is the radius
    (negative or 'infeasible' when the set is empty) and ``x`` the centre; ``tolerance`` is
    HiGHS's primal and dual feasibility tolerance (default: HiGHS's). The LP has k + 1
    columns, so it is solved without presolve (which takes longer than the simplex here), in
    ``highs`` if given."""
    k = len(lower)
    eye = np.eye(k)
    rows = np.vstack([np.c_[A, np.linalg.norm(A, axis=1)], np.c_[eye, np.ones(k)], np.c_[-eye, np.ones(k)]])
    rhs = np.concatenate([c, upper, -lower])
    res = solve_lp(np.r_[np.zeros(k), 1.0], rows, rhs, np.r_[lower, -INF], np.r_[upper, INF], maximize=True,
                   tolerance=tolerance, presolve=False, highs=highs)
    if res.status == "optimal":
        res.x, res.row_duals = res.x[:k], res.row_duals[: len(c)]
    return res


def run(h: highspy.Highs) -> LPResult:
    """Solve the LP loaded in ``h`` and read the result."""
    h.run()
    status = h.getModelStatus()
    if status == highspy.HighsModelStatus.kOptimal:
        solution = h.getSolution()
        return LPResult("optimal", np.array(solution.col_value), h.getInfo().objective_function_value,
                        np.array(solution.row_dual))
    if status == highspy.HighsModelStatus.kInfeasible:
        return LPResult("infeasible")
    if status in (highspy.HighsModelStatus.kUnbounded, highspy.HighsModelStatus.kUnboundedOrInfeasible):
        return LPResult("unbounded")
    raise RuntimeError(f"HiGHS ended with status {h.modelStatusToString(status)}")
