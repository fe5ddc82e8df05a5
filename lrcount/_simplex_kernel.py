"""The compiled kernel of :mod:`lrcount.simplex` (imported on the first LP: it imports numba)."""

import numpy as np
from numba import njit

from .tolerances import FEASTOL, PIVOT_TOL, RATIO_TIE

#: Steps of one solve before it is handed to HiGHS.
MAX_STEPS = 500
#: Steps after which a solve picks rows by Bland's rule (the first violated row enters; among
#: tied ratios, within ``RATIO_TIE``, the lowest row leaves): slower, but it cannot cycle on a
#: degenerate vertex (Bland 1977), as the largest-violation rule can.
BLAND_AFTER = 50
#: How a solve ends: optimal; stopped with its bound below the threshold; empty; handed to HiGHS.
OPTIMAL, BELOW, EMPTY, TROUBLE = 0, 1, 2, 3


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
        return TROUBLE, 0
    w = np.empty(n)
    d_inv = np.empty(n)
    for step in range(MAX_STEPS):
        bland = step >= BLAND_AFTER  # on a degenerate vertex the largest violation can cycle; Bland's rule cannot
        value = 0.0
        for i in range(n):
            s = 0.0
            for j in range(n):
                s += inverse[i, j] * h[basis[j]]
            z[i] = s
            value += c[i] * s
        if value < threshold:
            return BELOW, step
        entering, worst = -1, FEASTOL
        for r in range(m):
            s = -h[r]
            for j in range(n):
                s += M[r, j] * z[j]
            if s > worst:
                entering, worst = r, s
                if bland:  # the first violated row
                    break
        if entering < 0:
            return OPTIMAL, step
        leaving, ratio = -1, np.inf
        for i in range(n):  # w = M_B^-T a_entering, y = M_B^-T c
            wi, yi = 0.0, 0.0
            for j in range(n):
                wi += inverse[j, i] * M[entering, j]
                yi += inverse[j, i] * c[j]
            w[i] = wi
            if wi > PIVOT_TOL:
                q = yi / wi
                if q < ratio - RATIO_TIE or (bland and q <= ratio + RATIO_TIE and basis[i] < basis[leaving]):
                    leaving, ratio = i, min(q, ratio)
        if leaving < 0:
            return EMPTY, step
        # row `leaving` of M_B becomes M[entering]: inverse -= (inverse e_p)(d inverse) / (1 + d inverse e_p)
        for j in range(n):
            s = 0.0
            for i in range(n):
                s += (M[entering, i] - M[basis[leaving], i]) * inverse[i, j]
            d_inv[j] = s
        denominator = 1.0 + d_inv[leaving]
        if abs(denominator) < PIVOT_TOL:
            return TROUBLE, step
        for i in range(n):
            f = inverse[i, leaving] / denominator
            for j in range(n):
                inverse[i, j] -= f * d_inv[j]
        basis[leaving] = entering
    return TROUBLE, MAX_STEPS

