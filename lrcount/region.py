"""What counts as a linear region: the one definition every engine calls.

Counting happens in the *unit-scaled chart* of the domain (:meth:`Chart.unit_scaled`): the
domain's largest inscribed ball is the unit ball at the origin. On the set of points with
activation pattern ``s``, every pre-activation is affine, ``g_i(u) = a_i . u + c_i``, with
``a_i`` and ``c_i`` fixed by the signs of the earlier layers.

**Definition.** A pattern ``s`` is a region iff the set ::

    R_s = { u in domain : s_i (a_i . u + c_i) >= 0 for every neuron i not constant on R_s }

contains a ball of radius :data:`EPSILON` (relative to the domain's inradius), i.e. the
Chebyshev-ball LP ::

    max r   s.t.   s_i (a_i . u + c_i) >= r ||a_i||,   u (with radius r) inside the domain

reaches ``r >= EPSILON``. A neuron whose gradient is zero on ``R_s`` (up to rounding:
:data:`CONSTANT_RTOL`), or whose zero set lies beyond the domain's reach
(:data:`BEYOND_REACH`), is constant there and takes the sign of ``c_i`` (``c_i > 0`` on,
otherwise off, as :meth:`ReLUNetwork.activation_patterns` decides at a point) with no margin.

Why this is the right set (sketch, docs/counting.md): ``r`` is the Euclidean distance from
the centre to every hyperplane piece, so it does not change when a neuron's row and its
outgoing column are rescaled (``a_i, c_i`` scale together), nor when the domain is
translated or scaled with the first layer (the unit-scaled chart is the same). Every
full-dimensional region has ``r > 0``; lower-dimensional patterns have ``r = 0``; the only
regions not counted are those thinner than ``2 EPSILON`` domain radii, and the solvers'
feasibility tolerance :data:`FEASTOL` is two orders of magnitude below that.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from .domain import Chart
from .lp import inscribed_ball
from .network import ReLUNetwork
from .tolerances import BEYOND_REACH, CONSTANT_RTOL, DUAL_RTOL, FEASTOL


@dataclass(frozen=True)
class AffineMap:
    """``h(u) = M u + m`` on a region, with ``M_abs, m_abs`` the same products taken in absolute
    values (an upper bound on every term, so that rounding can be told from cancellation).
    A leading axis, if any, holds many regions at once (``M``: cells x width x k)."""

    M: np.ndarray
    m: np.ndarray
    M_abs: np.ndarray
    m_abs: np.ndarray

    @classmethod
    def identity(cls, k: int) -> AffineMap:
        return cls(np.eye(k), np.zeros(k), np.eye(k), np.zeros(k))

    def repeated(self, n: int) -> AffineMap:
        """This (single) map for a batch of ``n`` cells, without copying."""
        return AffineMap(*(np.broadcast_to(a, (n, *a.shape)) for a in (self.M, self.m, self.M_abs, self.m_abs)))

    def take(self, cells: np.ndarray) -> AffineMap:
        """The maps of the given cells (batched maps only)."""
        return AffineMap(self.M[cells], self.m[cells], self.M_abs[cells], self.m_abs[cells])

    def layer(self, w: np.ndarray, b: np.ndarray) -> LayerPieces:
        """The pre-activations ``g = w h + b`` of the next layer as affine functions of u."""
        abs_w = np.abs(w)
        G, G_abs = _left_multiply(w, self.M), _left_multiply(abs_w, self.M_abs)
        gamma, gamma_abs = self.m @ w.T + b, self.m_abs @ abs_w.T + np.abs(b)
        largest = np.abs(G).max(axis=-1)
        norms = _row_norms(G, largest)
        with np.errstate(over="ignore"):
            beyond_reach = np.abs(gamma) > BEYOND_REACH * norms
        constant = (largest <= CONSTANT_RTOL * G_abs.max(axis=-1)) | beyond_reach
        norms = np.where(constant, 1.0, norms)
        on_if_constant = gamma > CONSTANT_RTOL * gamma_abs
        return LayerPieces(G, gamma, norms, constant, on_if_constant, G_abs, gamma_abs)


def _row_norms(G: np.ndarray, largest: np.ndarray) -> np.ndarray:
    """Euclidean norms of the rows of ``G`` (last axis), whose largest entries are ``largest``.
    Rows whose squares would underflow or overflow (entries beyond 1e+-150: a gradient that a
    near-zero weight leaves on a region) are divided by a power of two near their largest entry
    first, so that every representable row has its norm."""
    with np.errstate(under="ignore", over="ignore"):
        norms = np.sqrt((G * G).sum(axis=-1))
    extreme = (largest < 1e-150) | (largest > 1e150)
    if extreme.any():
        scale = np.ldexp(1.0, np.frexp(np.where(largest[extreme] > 0, largest[extreme], 1.0))[1])
        rows = G[extreme] / scale[..., None]
        norms[extreme] = scale * np.sqrt((rows * rows).sum(axis=-1))
    return norms


def _left_multiply(w: np.ndarray, M: np.ndarray) -> np.ndarray:
    """``w @ M``, for a batch of maps ``M`` (cells x width x k) as one matrix product."""
    return w @ M if M.ndim == 2 else np.tensordot(M, w, axes=([1], [1])).transpose(0, 2, 1)


@dataclass(frozen=True)
class LayerPieces:
    """One layer's pre-activations ``g_i(u) = G_i . u + gamma_i`` on a region of the earlier
    layers; ``norms`` are ``||G_i||`` (1 where constant), ``constant`` marks zero gradients and
    ``on_if_constant`` the sign those neurons take."""

    G: np.ndarray
    gamma: np.ndarray
    norms: np.ndarray
    constant: np.ndarray
    on_if_constant: np.ndarray
    G_abs: np.ndarray
    gamma_abs: np.ndarray

    def take(self, cell: int) -> LayerPieces:
        """The pieces of one cell (batched pieces only)."""
        return LayerPieces(self.G[cell], self.gamma[cell], self.norms[cell], self.constant[cell],
                           self.on_if_constant[cell], self.G_abs[cell], self.gamma_abs[cell])

    def restrict(self, on: np.ndarray, cells: np.ndarray | None = None) -> AffineMap:
        """The map ``h = relu(g)`` on the part of the region where the neurons ``on`` are active
        (for batched pieces: of the given ``cells``, one row of ``on`` each)."""
        mask = on.astype(float)
        pick = (lambda a: a) if cells is None else (lambda a: a[cells])
        return AffineMap(mask[..., None] * pick(self.G), mask * pick(self.gamma),
                         mask[..., None] * pick(self.G_abs), mask * pick(self.gamma_abs))

    @cached_property
    def unit_rows(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(G / norms, gamma / norms, |G| / norms)``: each neuron's signed distance
        ``g_i(u) / ||G_i||`` is ``U_i . u + u0_i``, the margin row of its active side is
        ``-U_i`` with right-hand side ``u0_i``, and ``|U_i|`` bounds it over boxes."""
        unit = self.G / self.norms[..., None]
        return unit, self.gamma / self.norms, np.abs(unit)

    def margin_rows(self, on: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """For the neurons ``rows`` with signs ``on``: (A, c) such that ``A u <= c`` is
        ``s_i g_i(u) >= 0`` with unit-norm rows (so a ball constraint adds ``r`` to each)."""
        s = np.where(on[rows], 1.0, -1.0)
        A = -(s / self.norms[rows])[:, None] * self.G[rows]
        c = s * self.gamma[rows] / self.norms[rows]
        return A, c


@dataclass(frozen=True)
class Certificate:
    """The inscribed ball of a pattern's set: ``radius`` (``-inf`` when empty) and ``centre``.
    ``conflict`` is the index of the first neuron that is constant on the set with the other
    sign, if any: the pattern of the layers before it, with that neuron, is never a region.
    ``binding`` are the neurons whose rows hold the ball (non-zero LP duals): the set of their
    rows alone has about the same inscribed radius."""

    radius: float
    centre: np.ndarray | None = None
    conflict: int | None = None
    binding: np.ndarray | None = None


@dataclass(frozen=True)
class PatternRows:
    """The rows ``A u <= c`` (unit norm) of a pattern's set: the domain's, then
    ``s_i g_i(u) >= 0`` for each non-constant neuron in order; ``owners`` names each row's
    neuron (-1: the domain's). ``conflict`` is the first constant neuron with the wrong sign
    (the rows then stop there) and ``affine`` the map after the last layer read."""

    A: np.ndarray
    c: np.ndarray
    owners: np.ndarray
    conflict: int | None
    affine: AffineMap


def pattern_rows(net: ReLUNetwork, chart: Chart, pattern: np.ndarray, neurons: np.ndarray | None = None,
                 layers: int | None = None) -> PatternRows:
    """The rows of the set of ``pattern`` over its first ``layers`` layers (default all),
    keeping only the neurons in the mask ``neurons`` if given."""
    affine = AffineMap.identity(chart.dim)
    rows_A, rows_c, owners = [chart.A], [chart.c], [np.full(len(chart.c), -1)]

    def gathered(conflict: int | None) -> PatternRows:
        return PatternRows(np.vstack(rows_A), np.concatenate(rows_c), np.concatenate(owners), conflict, affine)

    start = 0
    for w, b in net.hidden_layers[:layers]:
        on = np.asarray(pattern[start:start + len(b)], dtype=bool)
        kept = np.ones(len(b), bool) if neurons is None else neurons[start:start + len(b)]
        pieces = affine.layer(w, b)
        wrong = np.flatnonzero(pieces.constant & (on != pieces.on_if_constant) & kept)
        if wrong.size:
            return gathered(start + int(wrong[0]))
        rows = np.flatnonzero(~pieces.constant & kept)
        A, c = pieces.margin_rows(on, rows)
        rows_A.append(A)
        rows_c.append(c)
        owners.append(start + rows)
        affine = pieces.restrict(on)
        start += len(b)
    return gathered(None)


def certify(net: ReLUNetwork, chart: Chart, pattern: np.ndarray, highs=None, neurons: np.ndarray | None = None) -> Certificate:
    """The inscribed ball of the set of ``pattern`` (all hidden neurons, layers concatenated)
    for ``net``, whose inputs are the unit-scaled chart coordinates; compare its radius with
    epsilon by :func:`is_region`. ``neurons`` (a mask over the hidden neurons) keeps only those
    neurons' rows: a partial set, which holds every set of a pattern that agrees with
    ``pattern`` on them and on every earlier layer. ``highs``: a HiGHS instance to reuse
    (:func:`lrcount.lp.new_highs`)."""
    rows = pattern_rows(net, chart, pattern, neurons)
    if rows.conflict is not None:
        return Certificate(-np.inf, conflict=rows.conflict)
    ball = inscribed_ball(rows.A, rows.c, chart.lower, chart.upper, tolerance=FEASTOL, highs=highs)
    if ball.status != "optimal":
        return Certificate(-np.inf)
    duals = np.abs(ball.row_duals)
    binding = rows.owners[(duals > DUAL_RTOL * max(duals.max(initial=0.0), 1.0)) & (rows.owners >= 0)]
    return Certificate(ball.value, ball.x, binding=binding)


def is_region(radius, epsilon: float):
    """The counting rule: the inscribed radius reaches epsilon (elementwise for arrays). A
    partial set (some neurons' rows only) that fails it holds no region, since rows only shrink
    the ball."""
    return radius >= epsilon
