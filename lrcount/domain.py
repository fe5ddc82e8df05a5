"""Input domains: a box, a polytope, or the affine subspace through data points within a box.

Every domain reduces to a :class:`Chart`: an affine map ``x = origin + basis @ t`` from a
full-dimensional bounded polytope ``{t : A t <= c, lower <= t <= upper}`` in R^k. Regions are
counted in t, so a line, a plane or a box with fixed coordinates is handled like a box
(full-dimensional relative to the slice, docs/theory.md section 1).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .errors import LRCountError
from .lp import inscribed_ball, load_lp, new_highs, run
from .runtime import NEVER, Deadline, SetupTimeout
from .tolerances import DEPENDENCE_RTOL, INTERIOR_RTOL, MAX_EXTENT

#: Subspaces of more dimensions get a box from the pseudo-inverse of their directions instead of
#: 2k LPs (15 s at 100 dimensions of the MNIST box, minutes at 300). Their regions are counted
#: by ``split``, which bounds each region by LPs itself.
LP_BOX_MAX_DIM = 16


@dataclass(frozen=True)
class Chart:
    """``x = origin + basis @ t`` with ``t`` in ``{A t <= c} ∩ [lower, upper]`` (full-dimensional)."""

    origin: np.ndarray
    basis: np.ndarray
    A: np.ndarray
    c: np.ndarray
    lower: np.ndarray
    upper: np.ndarray

    @property
    def dim(self) -> int:
        """k, the dimension of the domain."""
        return self.basis.shape[1]

    def to_input(self, t: np.ndarray) -> np.ndarray:
        """Map chart coordinates (shape (m, k) or (k,)) to network inputs."""
        return np.asarray(t) @ self.basis.T + self.origin

    def inscribed_ball(self) -> tuple[np.ndarray, float]:
        """Centre and radius of the largest ball in the domain (for a box: its centre and half
        its narrowest side)."""
        if self.A.shape[0] == 0:
            half = _half_widths(self.lower, self.upper)
            return self.lower + half, float(np.min(half))
        ball = inscribed_ball(self.A, self.c, self.lower, self.upper)
        if ball.status != "optimal":
            raise LRCountError("the domain has no interior")
        return ball.x, ball.value

    def unit_scaled(self) -> Chart:
        """The same domain in coordinates ``u = (t - centre) / R``, where the largest inscribed
        ball has centre 0 and radius 1. Every tolerance of :mod:`lrcount.region` is measured
        in these units, so counts do not change when the domain is translated or scaled."""
        centre, radius = self.inscribed_ball()
        lower, upper = (self.lower - centre) / radius, (self.upper - centre) / radius
        if max(np.abs(lower).max(), np.abs(upper).max()) > MAX_EXTENT:
            raise LRCountError(f"the domain is more than {MAX_EXTENT:g} times longer than its inscribed radius; "
                               "count in a less elongated domain or fix the thin coordinates")
        return Chart(
            self.origin + self.basis @ centre,
            self.basis * radius,
            self.A * radius,
            self.c - self.A @ centre,
            lower,
            upper,
        )


def _half_widths(lower: np.ndarray, upper: np.ndarray) -> np.ndarray:
    """``(upper - lower) / 2``, also where the difference overflows (a box of +-1e308)."""
    with np.errstate(over="ignore"):
        width = upper - lower
    return np.where(np.isfinite(width), width / 2, upper / 2 - lower / 2)


class Domain:
    """Base class: a set of network inputs in which regions are counted. Subclasses define
    :meth:`_chart`; :meth:`chart` computes it once per input dimension and keeps it, since a
    study counts many networks on one domain and a subspace's chart costs 2k LPs. The arrays
    that define a domain are read-only, so the kept chart cannot go stale."""

    def chart(self, input_dim: int, *, deadline: Deadline = NEVER) -> Chart:
        """The domain as a :class:`Chart` for a network of ``input_dim`` inputs; once
        ``deadline`` passes, :class:`~lrcount.runtime.SetupTimeout` is raised."""
        charts = self.__dict__.setdefault("_charts", {})
        if input_dim not in charts:
            charts[input_dim] = self._chart(input_dim, deadline)
        return charts[input_dim]

    def _chart(self, input_dim: int, deadline: Deadline) -> Chart:  # pragma: no cover - interface
        raise NotImplementedError

    def to_dict(self) -> dict:  # pragma: no cover - interface
        raise NotImplementedError


def _frozen(array: np.ndarray) -> np.ndarray:
    """A read-only copy of ``array``."""
    array = np.array(array)
    array.setflags(write=False)
    return array


def stored_box(network) -> Box | None:
    """The default box saved with ``network`` (an ``.npz`` file's ``box``), or None."""
    box = network.default_box
    return None if box is None else Box(box[:, 0], box[:, 1])


def _check_dim(name: str, got: int, input_dim: int) -> None:
    if got != input_dim:
        raise LRCountError(f"{name} has dimension {got} but the network has {input_dim} inputs")


class Box(Domain):
    """The box ``lower <= x <= upper``; scalars apply to every input. Coordinates with
    ``lower == upper`` are fixed: the regions are counted in the slice of the free ones."""

    def __init__(self, lower, upper):
        self.scalar = np.ndim(lower) == 0 and np.ndim(upper) == 0
        try:
            lower, upper = np.broadcast_arrays(
                np.atleast_1d(np.asarray(lower, dtype=np.float64)), np.atleast_1d(np.asarray(upper, dtype=np.float64))
            )
        except ValueError:
            raise LRCountError(
                f"box bounds must be two vectors of one length, got {np.shape(lower)} and {np.shape(upper)}"
            ) from None
        if lower.ndim != 1:
            raise LRCountError(f"box bounds must be vectors, got shape {lower.shape}")
        if not (np.isfinite(lower).all() and np.isfinite(upper).all()):
            raise LRCountError("box bounds must be finite numbers")
        bad = np.flatnonzero(lower > upper)
        if bad.size:
            i = int(bad[0])
            raise LRCountError(f"empty box: lower {lower[i]:g} > upper {upper[i]:g} at input {i}; swap the bounds")
        self.lower, self.upper = _frozen(lower), _frozen(upper)

    def bounds(self, input_dim: int) -> tuple[np.ndarray, np.ndarray]:
        """(lower, upper) broadcast to ``input_dim`` inputs."""
        if not self.scalar:
            _check_dim("the box", self.lower.size, input_dim)
        return np.broadcast_to(self.lower, input_dim).copy(), np.broadcast_to(self.upper, input_dim).copy()

    def _chart(self, input_dim: int, deadline: Deadline) -> Chart:
        lower, upper = self.bounds(input_dim)
        free = np.flatnonzero(upper > lower)
        if free.size == 0:
            raise LRCountError("the box is a single point; give at least one input a positive width")
        origin = np.where(upper > lower, 0.0, lower)
        basis = np.eye(input_dim)[:, free]
        return Chart(origin, basis, np.zeros((0, free.size)), np.zeros(0), lower[free], upper[free])

    def to_dict(self) -> dict:
        return {"type": "box", "lower": self.lower.tolist(), "upper": self.upper.tolist()}

    def __repr__(self) -> str:
        return f"Box(lower={self.lower.tolist()}, upper={self.upper.tolist()})"


class Polytope(Domain):
    """The bounded polytope ``{x : A x <= c}`` with a non-empty interior."""

    def __init__(self, A, c):
        self.A = _frozen(np.atleast_2d(np.asarray(A, dtype=np.float64)))
        self.c = _frozen(np.asarray(c, dtype=np.float64).reshape(-1))
        if self.A.shape[0] != self.c.shape[0]:
            raise LRCountError(f"polytope: A has {self.A.shape[0]} rows but c has {self.c.shape[0]} entries")
        if not (np.isfinite(self.A).all() and np.isfinite(self.c).all()):
            raise LRCountError("polytope: A and c must be finite numbers")

    def _chart(self, input_dim: int, deadline: Deadline) -> Chart:
        _check_dim("the polytope", self.A.shape[1], input_dim)
        return _bounded_chart(np.zeros(input_dim), np.eye(input_dim), self.A, self.c, "the polytope", deadline)

    def to_dict(self) -> dict:
        return {"type": "polytope", "A": self.A.tolist(), "c": self.c.tolist()}


class Subspace(Domain):
    """The affine hull of S+1 points ``p_0..p_S`` intersected with a box:
    ``x = p_0 + sum_i a_i (p_i - p_0)`` (Cai et al. 2023, eq. 14). S = 1 is a line through two
    points, S = 2 a plane (Hanin & Rolnick 2019). Regions are counted in the S-dimensional slice.

    The domain is the whole part of the affine hull inside ``box``, not the convex hull of the
    points (a line through two points runs from box face to box face). Without a box, the
    points' own range is used (the smallest box holding them), as ``lrcount count --through``
    does; pass the input box of the data (MNIST: ``Box(-0.5, 2.9)`` in normalised units, as
    Cai et al.) to count on the whole slice."""

    def __init__(self, points, box: Box | None = None):
        try:
            self.points = _frozen(np.atleast_2d(np.asarray(points, dtype=np.float64)))
        except (TypeError, ValueError):
            raise LRCountError("subspace points must be rows of numbers, all of one length (an S+1 x n0 array)") from None
        if self.points.ndim != 2 or self.points.shape[0] < 2:
            raise LRCountError("a subspace needs at least two points (S + 1 with S >= 1), as the rows of a matrix")
        if not np.isfinite(self.points).all():
            raise LRCountError("subspace points must be finite numbers")
        directions = (self.points[1:] - self.points[0]).T
        shortest = np.linalg.svd(directions, compute_uv=False)[-1] if directions.shape[0] >= directions.shape[1] else 0.0
        size = float(np.abs(self.points).max())
        if shortest <= DEPENDENCE_RTOL * size or shortest == 0:
            raise LRCountError(f"the subspace points are (nearly) affinely dependent: the shortest direction they span "
                               f"is {shortest:.2g} long, against coordinates up to {size:.2g}; drop or perturb a point")
        self.box = box if box is not None else Box(self.points.min(axis=0), self.points.max(axis=0))

    @property
    def dim(self) -> int:
        """S, the dimension of the subspace."""
        return self.points.shape[0] - 1

    def _chart(self, input_dim: int, deadline: Deadline) -> Chart:
        _check_dim("the subspace points", self.points.shape[1], input_dim)
        lower, upper = self.box.bounds(input_dim)
        p0 = self.points[0]
        basis = (self.points[1:] - p0).T
        A = np.vstack([basis, -basis])
        c = np.concatenate([upper - p0, p0 - lower])
        box = None if self.dim <= LP_BOX_MAX_DIM else _coordinate_box(basis, p0, lower, upper)
        return _bounded_chart(p0, basis, A, c, "the subspace within the box", deadline, box)

    def to_dict(self) -> dict:
        return {"type": "subspace", "points": self.points.tolist(), "box": self.box.to_dict()}


def _coordinate_box(basis: np.ndarray, origin: np.ndarray, lower: np.ndarray, upper: np.ndarray):
    """A box around ``{t : lower <= origin + basis t <= upper}`` without LPs: every such t is
    ``pinv(basis) (x - origin)`` for an x in the box (``basis`` has full column rank), so the
    range of that linear map over the box (rounded outwards) holds them. Looser than the
    bounding box, and just as valid as a chart's box, which only bounds a set its rows define."""
    inverse = np.linalg.pinv(basis)
    centre = inverse @ ((lower + upper) / 2 - origin)
    spread = np.abs(inverse) @ ((upper - lower) / 2)
    pad = 1e-9 * (np.abs(centre) + spread) + np.finfo(float).tiny
    return centre - spread - pad, centre + spread + pad


def _bounded_chart(origin, basis, A, c, what: str, deadline: Deadline = NEVER, box=None) -> Chart:
    """The chart of ``{t : A t <= c}``: its bounding box by 2k LPs (or the valid ``box``
    given, for many dimensions, where 2k LPs would take minutes) and a check that it has an
    interior (the largest inscribed ball, Chebyshev centre, has a positive radius). Rows that
    are zero (a box side along which the subspace does not move) are dropped, or make the set
    empty when their right-hand side is negative; the others are scaled by powers of two to a
    largest entry near 1 (the same set, in numbers the LP solver resolves). Once ``deadline``
    passes, :class:`~lrcount.runtime.SetupTimeout` is raised."""
    zero = ~np.any(A != 0, axis=1)
    if np.any(c[zero] < 0):
        raise LRCountError(f"{what} is empty; check its constraints")
    A, c = A[~zero], c[~zero]
    scale = np.ldexp(1.0, -np.frexp(np.maximum(np.abs(A).max(axis=1), np.abs(c)))[1])
    A, c = A * scale[:, None], c * scale
    lower, upper = box if box is not None else _bounding_box(A, c, what, deadline)
    ball = inscribed_ball(A, c, lower, upper)
    if ball.status != "optimal" or ball.value <= INTERIOR_RTOL * np.max(upper - lower):
        raise LRCountError(f"{what} has an empty interior; describe a lower-dimensional set as a Subspace")
    return Chart(origin, basis, A, c, lower, upper)


def _bounding_box(A: np.ndarray, c: np.ndarray, what: str, deadline: Deadline) -> tuple[np.ndarray, np.ndarray]:
    """The bounding box of ``{t : A t <= c}`` by 2k LPs in one HiGHS model whose objective
    alone changes; past ``deadline``, :class:`~lrcount.runtime.SetupTimeout`."""
    k = A.shape[1]
    highs = new_highs()
    highs.setOptionValue("presolve", "off")  # presolving anew would discard the last basis
    load_lp(highs, np.zeros(k), A, c, np.full(k, -np.inf), np.full(k, np.inf))
    lower, upper = np.empty(k), np.empty(k)
    for i in range(k):
        for sign, store in ((1.0, lower), (-1.0, upper)):
            if deadline.passed():
                raise SetupTimeout(f"the time limit passed while bounding {what} ({i} of {k} coordinates)")
            highs.changeColCost(i, sign)
            res = run(highs)
            if res.status == "infeasible":
                raise LRCountError(f"{what} is empty; check its constraints")
            if res.status == "unbounded":
                raise LRCountError(f"{what} is unbounded; add bounds on every input")
            store[i] = sign * res.value
        highs.changeColCost(i, 0.0)
    return lower, upper
