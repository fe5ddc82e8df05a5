"""Pre-activation bounds over a domain and the neurons they prove stable.

For each hidden neuron, bounds ``L_i <= g_i <= U_i`` valid on the whole domain: interval
arithmetic first, then LP tightening over the triangle relaxation of the earlier layers
(Ehlers 2017; used for MILP big-M constants by Tjeng et al. 2019 and Serra et al. 2018). For the
first layer over a box, interval arithmetic is exact (a linear function over a box attains its
extremes at corners), so no LP is solved there.
"""

from __future__ import annotations

from dataclasses import dataclass

import highspy
import numpy as np

from .domain import Chart
from .lp import INF, new_highs
from .network import ReLUNetwork
from .runtime import NEVER, Deadline
from .tolerances import ACTIVE_RTOL, LP_SLACK

ACTIVE, UNSTABLE, INACTIVE = 1, 0, -1


@dataclass(frozen=True)
class PreactivationBounds:
    """Per hidden layer, the lower and upper bounds of the pre-activations on the domain, and
    each neuron's state: ``ACTIVE`` (L > 0), ``INACTIVE`` (U <= 0) or ``UNSTABLE``.

    A neuron that is 0 on the whole domain (a pruned neuron with zero bias) is inactive, as
    :mod:`lrcount.region` decides for constant neurons. A neuron is active only if its lower
    bound clears zero by :data:`ACTIVE_RTOL` of the size of its terms: one whose least value is
    0 up to rounding may be constant 0 on a region, where it is off, so it must stay unstable
    (the lower bound of an unstable neuron is then at most 0). Bounds from LPs are loosened by
    :data:`LP_SLACK` of the interval width before they decide a state, so that the solver's
    tolerance never declares stable a neuron that crosses zero.
    """

    lower: list[np.ndarray]
    upper: list[np.ndarray]
    states: list[np.ndarray]

    def counts(self) -> list[dict[str, int]]:
        """Per layer, the numbers of stably active, stably inactive and unstable neurons."""
        return [
            {
                "active": int(np.sum(s == ACTIVE)),
                "inactive": int(np.sum(s == INACTIVE)),
                "unstable": int(np.sum(s == UNSTABLE)),
            }
            for s in self.states
        ]




def _states(lower: np.ndarray, upper: np.ndarray, size: np.ndarray) -> np.ndarray:
    """INACTIVE where ``upper <= 0``, ACTIVE where ``lower > ACTIVE_RTOL * size``, else UNSTABLE."""
    return np.where(upper <= 0, INACTIVE, np.where(lower > ACTIVE_RTOL * size, ACTIVE, UNSTABLE))


def _interval(w: np.ndarray, b: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Range of ``w @ h + b`` over the box ``lo <= h <= hi``, rounded outwards.

    Each end is the sum of its own terms (``w+ hi + w- lo + b`` for the upper end), widened by
    the float error bound of that sum (Higham 2002, eq. 3.5: ``gamma_n`` times the sum of the
    terms' magnitudes). A midpoint-radius form would cancel: when a large term meets ``h = 0`` at
    one end, the small terms that decide the sign there would be lost, and a neuron that is
    positive only through them would be called inactive (docs/theory.md, "Float error of
    interval bounds")."""
    positive, negative = np.maximum(w, 0.0), np.minimum(w, 0.0)
    lower_terms, upper_terms = (positive, lo, negative, hi), (positive, hi, negative, lo)
    gamma = _sum_error_factor(w.shape[1] + 1)
    ends = []
    for direction, (w_a, h_a, w_b, h_b) in ((-1.0, lower_terms), (1.0, upper_terms)):
        value = w_a @ h_a + w_b @ h_b + b
        magnitude = np.abs(w_a) @ np.abs(h_a) + np.abs(w_b) @ np.abs(h_b) + np.abs(b)
        ends.append(value + direction * gamma * magnitude)
    return ends[0], ends[1]


def _sum_error_factor(n: int) -> float:
    """``gamma_n = n u / (1 - n u)``, doubled to cover the products as well as the sum."""
    unit = np.finfo(np.float64).eps / 2
    return 2 * n * unit / (1 - 2 * n * unit)


def preactivation_bounds(
    net: ReLUNetwork, chart: Chart, *, tighten: bool = True, deadline: Deadline = NEVER
) -> PreactivationBounds:
    """Bounds of every hidden pre-activation of ``net`` (whose inputs are chart coordinates)
    over the chart's polytope, with LP tightening unless ``tighten`` is False; after
    ``deadline`` the remaining neurons keep their interval bounds."""
    lowers, uppers, states = [], [], []
    h_lo, h_hi = chart.lower, chart.upper
    relaxation = _Relaxation(chart) if tighten else None
    for l, (w, b) in enumerate(net.hidden_layers):
        lo, hi = _interval(w, b, h_lo, h_hi)
        needs_lp = (lo < 0) & (hi > 0) if (l > 0 or chart.A.shape[0] > 0) else np.zeros(len(b), bool)
        if relaxation is not None and needs_lp.any():
            for i in np.flatnonzero(needs_lp):
                if deadline.passed():
                    break
                slack = LP_SLACK * (hi[i] - lo[i])
                lo[i] = max(lo[i], relaxation.optimise(w[i], b[i], maximize=False) - slack)
                hi[i] = min(hi[i], relaxation.optimise(w[i], b[i], maximize=True) + slack)
        state = _states(lo, hi, np.abs(w) @ np.maximum(np.abs(h_lo), np.abs(h_hi)) + np.abs(b))
        lo = np.where(state == UNSTABLE, np.minimum(lo, 0.0), lo)
        lowers.append(lo)
        uppers.append(hi)
        states.append(state)
        if relaxation is not None and l < len(net.weights) - 2:
            relaxation.add_layer(w, b, lo, hi, state)
        h_lo = np.where(state == INACTIVE, 0.0, np.maximum(lo, 0.0))
        h_hi = np.where(state == INACTIVE, 0.0, np.maximum(hi, 0.0))
    return PreactivationBounds(lowers, uppers, states)


class _Relaxation:
    """The triangle (LP) relaxation of the layers added so far, over the chart's polytope, in
    one HiGHS instance whose objective is swapped for each bound."""

    def __init__(self, chart: Chart):
        self.h = new_highs()
        k = chart.dim
        self.h.addVars(k, chart.lower, chart.upper)
        self._add_rows(chart.A, -INF, chart.c, np.arange(k))
        self.prev = np.arange(k)  # column indices of the current layer's inputs

    def _add_rows(self, rows: np.ndarray, lower, upper, cols: np.ndarray) -> None:
        rows = np.atleast_2d(rows)
        for r, row in enumerate(rows):
            nz = np.flatnonzero(row)
            self.h.addRow(np.broadcast_to(lower, len(rows))[r], np.broadcast_to(upper, len(rows))[r],
                          len(nz), cols[nz].astype(np.int32), row[nz])

    def optimise(self, w_row: np.ndarray, bias: float, *, maximize: bool) -> float:
        n = self.h.getNumCol()
        cost = np.zeros(n)
        cost[self.prev] = w_row
        self.h.changeColsCost(n, np.arange(n, dtype=np.int32), cost)
        self.h.changeObjectiveSense(highspy.ObjSense.kMaximize if maximize else highspy.ObjSense.kMinimize)
        self.h.run()
        if self.h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
            return -np.inf if not maximize else np.inf  # keep the interval bound
        return self.h.getInfo().objective_function_value + bias

    def add_layer(self, w, b, lo, hi, state) -> None:
        """Add h = relu(w @ prev + b) relaxed: h = 0 (inactive), h = g (active), and for an
        unstable neuron the triangle h >= 0, h >= g, h <= U (g - L) / (U - L)."""
        start = self.h.getNumCol()
        n = len(b)
        h_hi = np.where(state == INACTIVE, 0.0, np.maximum(hi, 0.0))
        h_lo = np.where(state == ACTIVE, np.maximum(lo, 0.0), 0.0)
        self.h.addVars(n, h_lo, h_hi)
        cols = np.r_[self.prev, np.arange(start, start + n)]
        for i in range(n):
            unit = np.zeros(n)
            unit[i] = -1.0
            row = np.r_[w[i], unit]  # w h_prev - h_i
            if state[i] == ACTIVE:
                self._add_rows(row, -b[i], -b[i], cols)
            elif state[i] == UNSTABLE:
                slope = hi[i] / (hi[i] - lo[i])
                self._add_rows(row, -INF, -b[i], cols)  # h >= g
                self._add_rows(np.r_[-slope * w[i], -unit], -INF, slope * (b[i] - lo[i]), cols)  # h <= slope (g - L)
        self.prev = np.arange(start, start + n)
