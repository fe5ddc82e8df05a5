"""The ``lp`` engine: layer-by-layer region splitting with LPs in HiGHS.

Each region is a polytope on which every pre-activation is an affine function of the input
(theory.md section 2, independent methods; cf. nnenum, Tseran & Montufar). A depth-first search
walks the neurons in order; on the current polytope neuron i has pre-activation
``g_i(t) = G_i t + gamma_i``. A side s (active +1, inactive -1) is kept iff the LP

    max f   s.t.   t in domain,   f <= s_j g_j(t) for every neuron j cut so far (and i)

reaches ``f >= epsilon``: the same margin as the MILP, solved without SCIP. The point that
proves one side is reused: a side that the current witness point already satisfies needs no
LP. Neurons stable on the whole domain get no cut; a neuron constant on the region (zero
gradient) with ``|gamma| < epsilon`` takes the sign of gamma without a margin.
"""

from __future__ import annotations

import time
from typing import Callable

import highspy
import numpy as np

from ..lp import catch_interrupt, new_highs
from ..preact import ACTIVE, UNSTABLE
from ..problem import FEASTOL, CountingProblem
from . import EngineRun

#: A pre-activation whose gradient on a region is below this (relative) is constant there.
_CONSTANT_GRADIENT = 1e-12


class _Stop(Exception):
    """Raised inside the search when the time limit passes or Ctrl-C is pressed."""

    def __init__(self, status: str):
        self.status = status


class _Splitter:
    def __init__(self, problem: CountingProblem, time_limit, on_region, collect, interrupt):
        self.problem = problem
        self.interrupt = interrupt
        self.eps = problem.epsilon
        self.deadline = None if time_limit is None else time.monotonic() + time_limit
        self.on_region = on_region
        self.collect = collect
        self.layers = problem.net.hidden_layers
        self.states = problem.bounds.states
        self.count = 0
        self.n_lps = 0
        self.patterns: list[np.ndarray] = []
        self.points: list[np.ndarray] = []
        chart = problem.chart
        self.k = chart.dim
        self.h = new_highs()
        self.h.setOptionValue("primal_feasibility_tolerance", FEASTOL)
        self.h.setOptionValue("dual_feasibility_tolerance", FEASTOL)
        self.h.addVars(self.k, chart.lower, chart.upper)
        self.h.addVar(-highspy.kHighsInf, problem.margin_cap())  # f, the last column
        self.h.changeColCost(self.k, 1.0)
        self.h.changeObjectiveSense(highspy.ObjSense.kMaximize)
        for row, c in zip(chart.A, chart.c):
            self._push(np.r_[row, 0.0], c)

    # -- the LP ------------------------------------------------------------------------------
    def _push(self, row: np.ndarray, rhs: float) -> None:
        nz = np.flatnonzero(row)
        self.h.addRow(-highspy.kHighsInf, rhs, len(nz), nz.astype(np.int32), row[nz])

    def _pop(self) -> None:
        last = self.h.getNumRow() - 1
        self.h.deleteRows(1, np.array([last], dtype=np.int32))

    def _cut(self, grad: np.ndarray, offset: float, side: int) -> None:
        """Add the margin row f <= side * (grad @ t + offset)."""
        self._push(np.r_[-side * grad, 1.0], side * offset)

    def _max_margin(self) -> tuple[float, np.ndarray | None]:
        self.n_lps += 1
        self.h.run()
        if self.h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
            return -np.inf, None
        x = np.array(self.h.getSolution().col_value)
        return x[self.k], x[: self.k]

    # -- the search --------------------------------------------------------------------------
    def search(self) -> str:
        """Run the search; the status: 'complete', 'timelimit' or 'userinterrupt'."""
        margin, point = self._max_margin()
        if margin < self.eps - FEASTOL:
            return "complete"
        try:
            self._layer(0, np.eye(self.k), np.zeros(self.k), [], point, margin)
        except _Stop as stop:
            return stop.status
        return "complete"

    def _layer(self, l, M, m, pattern, point, margin) -> None:
        """Enter layer l on a region where h^{l-1} = M t + m."""
        if l == len(self.layers):
            self._found(pattern, point)
            return
        w, b = self.layers[l]
        self._neuron(l, 0, w @ M, w @ m + b, pattern, point, margin)

    def _neuron(self, l, i, G, gamma, pattern, point, margin) -> None:
        if self.interrupt.stopped:
            raise _Stop("userinterrupt")
        if self.deadline is not None and time.monotonic() > self.deadline:
            raise _Stop("timelimit")
        if i == len(gamma):
            signs = np.array(pattern[len(pattern) - len(gamma):], dtype=float)
            self._layer(l + 1, signs[:, None] * G, signs * gamma, pattern, point, margin)
            return
        state = self.states[l][i]
        if state != UNSTABLE:
            self._neuron(l, i + 1, G, gamma, pattern + [state == ACTIVE], point, margin)
            return
        grad, offset = G[i], gamma[i]
        if np.linalg.norm(grad) <= _CONSTANT_GRADIENT * (1.0 + abs(offset)) and abs(offset) < self.eps:
            self._neuron(l, i + 1, G, gamma, pattern + [offset > 0], point, margin)
            return
        value = grad @ point + offset
        for side in ((1, -1) if value >= 0 else (-1, 1)):
            self._cut(grad, offset, side)
            if side * value >= self.eps and margin >= self.eps:
                child_margin, child_point = min(margin, side * value), point
            else:
                child_margin, child_point = self._max_margin()
            if child_margin >= self.eps - FEASTOL:
                self._neuron(l, i + 1, G, gamma, pattern + [side > 0], child_point, child_margin)
            self._pop()

    def _found(self, pattern, point) -> None:
        self.count += 1
        if self.collect:
            self.patterns.append(np.array(pattern, dtype=bool))
            self.points.append(point.copy())
        self.on_region()


def run(
    problem: CountingProblem,
    *,
    time_limit: float | None = None,
    on_region: Callable[[], None] = lambda: None,
    collect: bool = False,
) -> EngineRun:
    """Enumerate every region of ``problem`` by splitting polytopes with LPs."""
    with catch_interrupt() as interrupt:
        splitter = _Splitter(problem, time_limit, on_region, collect, interrupt)
        status = splitter.search()
    return EngineRun(
        count=splitter.count,
        complete=status == "complete",
        status=status,
        patterns=splitter.patterns if collect else None,
        points=splitter.points if collect else None,
        stats={"lps": splitter.n_lps},
    )
