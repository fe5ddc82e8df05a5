"""Convex cells as ragged arrays of vertices (a segment is its two end points): selection,
splitting by one line, the inscribed-radius test of the region definition, interior points."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...lp import inscribed_ball
from ...problem import CountingProblem
from ...region import AffineMap, is_region
from ...tolerances import FEASTOL
from ..cells import ragged_starts


@dataclass
class Cells:
    """Convex cells: ``verts`` (V x k) in cyclic order, grouped by ``owner`` (sorted); a
    segment is its two end points. ``patterns`` holds the signs of the layers done so far."""

    verts: np.ndarray
    owner: np.ndarray
    n: int
    affine: AffineMap | None  # None once split by a layer, until its chunk is taken
    patterns: np.ndarray

    @property
    def starts(self) -> np.ndarray:
        return ragged_starts(self.owner, self.n)


def select(verts: np.ndarray, owner: np.ndarray, n: int, cells: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The vertices and new owner ids of the cells ``cells`` (sorted ids) out of ``n``."""
    new_id = np.full(n, -1)
    new_id[cells] = np.arange(len(cells))
    keep = new_id[owner] >= 0
    return verts[keep], new_id[owner[keep]]


def _next_in_cycle(owner: np.ndarray, n: int) -> np.ndarray:
    """Index of each vertex's successor around its cell."""
    starts = ragged_starts(owner, n)
    nxt = np.arange(1, len(owner) + 1)
    nxt[starts[1:][starts[1:] > starts[:-1]] - 1] = starts[:-1][starts[1:] > starts[:-1]]
    return nxt


def cut_by_line(verts, owner, n, distance, forced):
    """Split every cell by its hyperplane, given each vertex's signed distance to it.

    ``forced`` is +1 / -1 for cells on which the neuron is constant (on / off), else 0.
    Returns the new (verts, owner, n), each new cell's parent cell and side (True: active).
    """
    sign = (distance > FEASTOL).astype(np.int8) - (distance < -FEASTOL)
    pos = np.bincount(owner, weights=sign > 0, minlength=n) > 0
    neg = np.bincount(owner, weights=sign < 0, minlength=n) > 0
    split = pos & neg & (forced == 0)
    side = np.where(forced != 0, forced > 0, pos)
    if not split.any():
        return verts, owner, n, np.arange(n), side
    nxt = _next_in_cycle(owner, n)
    at_split = split[owner]
    cross = at_split & (sign * sign[nxt] < 0)
    t = np.where(cross, distance / np.where(cross, distance - distance[nxt], 1.0), 0.0)
    crossing = verts + t[:, None] * (verts[nxt] - verts)
    candidates = np.stack([verts, crossing], axis=1).reshape(-1, verts.shape[1])
    candidate_owner = np.repeat(owner, 2)
    in_split = np.repeat(at_split, 2)
    keep_pos = np.stack([sign >= 0, cross], axis=1).reshape(-1) & in_split
    keep_neg = np.stack([sign <= 0, cross], axis=1).reshape(-1) & in_split
    whole, halves = np.flatnonzero(~split), np.flatnonzero(split)
    new_id = np.full((3, n), -1)
    new_id[0, whole] = np.arange(len(whole))
    new_id[1, halves] = len(whole) + np.arange(len(halves))
    new_id[2, halves] = len(whole) + len(halves) + np.arange(len(halves))
    verts = np.concatenate([verts[~at_split], candidates[keep_pos], candidates[keep_neg]])
    owner = np.concatenate([new_id[0, owner[~at_split]], new_id[1, candidate_owner[keep_pos]],
                            new_id[2, candidate_owner[keep_neg]]])
    parent = np.concatenate([whole, halves, halves])
    side = np.concatenate([side[whole], np.ones(len(halves), bool), np.zeros(len(halves), bool)])
    if verts.shape[1] == 1:  # a segment keeps its two end points
        starts = np.searchsorted(owner, np.arange(len(parent)))
        verts = np.stack([np.minimum.reduceat(verts[:, 0], starts), np.maximum.reduceat(verts[:, 0], starts)], 1)
        verts, owner = verts.reshape(-1, 1), np.repeat(np.arange(len(parent)), 2)
    return verts, owner, len(parent), parent, side


def inscribed_radius_bounds(verts, owner, n) -> tuple[np.ndarray, np.ndarray]:
    """Lower and upper bounds on each cell's inscribed radius: half the length of a segment
    (exact); ``A / P`` and ``2 A / P`` for a convex polygon of area A and perimeter P."""
    nxt = _next_in_cycle(owner, n)
    if verts.shape[1] == 1:
        half = np.bincount(owner, weights=np.abs(verts[nxt, 0] - verts[:, 0]), minlength=n) / 4
        return half, half
    x, y = verts[:, 0], verts[:, 1]
    area = np.abs(np.bincount(owner, weights=x * y[nxt] - x[nxt] * y, minlength=n)) / 2
    edges = verts[nxt] - verts
    perimeter = np.bincount(owner, weights=np.sqrt(np.einsum("ij,ij->i", edges, edges)), minlength=n)
    ratio = np.divide(area, perimeter, out=np.zeros(n), where=perimeter > 0)
    return ratio, 2 * ratio


def _polygon_ball(points: np.ndarray) -> tuple[float, np.ndarray | None]:
    """The largest ball in a convex polygon (vertices in cyclic order) or segment: radius, centre."""
    if points.shape[1] == 1:
        return (points.max() - points.min()) / 2, np.array([(points.max() + points.min()) / 2])
    edges = np.roll(points, -1, axis=0) - points
    normals = np.c_[edges[:, 1], -edges[:, 0]]
    if np.sum(normals * (points.mean(axis=0) - points), axis=1).sum() > 0:  # orient outwards
        normals = -normals
    lengths = np.linalg.norm(normals, axis=1)
    ok = lengths > 0
    A, c = normals[ok], np.sum(normals * points, axis=1)[ok]
    ball = inscribed_ball(A, c, points.min(axis=0), points.max(axis=0))
    return (ball.value, ball.x) if ball.status == "optimal" else (-np.inf, None)


def interior_points(verts: np.ndarray, owner: np.ndarray, n: int, epsilon: float) -> np.ndarray:
    """A point of each cell with a ball of radius ``epsilon`` around it inside the cell: the
    mean of its vertices (inside, as the cell is convex), or where that lies nearer than
    epsilon to an edge (a thin cell), the centre of the cell's largest ball by one LP."""
    counts = np.bincount(owner, minlength=n)
    centres = np.stack([np.bincount(owner, weights=verts[:, d], minlength=n) for d in range(verts.shape[1])], 1)
    centres /= counts[:, None]
    if verts.shape[1] == 1:
        clearance = np.bincount(owner, weights=np.abs(verts[:, 0] - centres[owner, 0]), minlength=n) / 2
    else:
        edges = verts[_next_in_cycle(owner, n)] - verts
        lengths = np.hypot(edges[:, 0], edges[:, 1])
        to_centre = centres[owner] - verts
        distance = np.abs(edges[:, 0] * to_centre[:, 1] - edges[:, 1] * to_centre[:, 0])
        distance = np.where(lengths > 0, distance / np.where(lengths > 0, lengths, 1.0), np.inf)
        clearance = np.full(n, np.inf)
        np.minimum.at(clearance, owner, distance)
    starts = ragged_starts(owner, n)
    for cell in np.flatnonzero(~is_region(clearance, epsilon)):
        centre = _polygon_ball(verts[starts[cell]:starts[cell + 1]])[1]
        if centre is not None:
            centres[cell] = centre
    return centres


def keep_thick(verts, owner, n, epsilon, bounds=None) -> np.ndarray:
    """The cells that hold a ball of radius epsilon (``bounds``: their
    :func:`inscribed_radius_bounds`, if known)."""
    lower, upper = bounds if bounds is not None else inscribed_radius_bounds(verts, owner, n)
    keep = is_region(lower, epsilon)
    unsure = np.flatnonzero(~keep & is_region(upper, epsilon))
    if unsure.size:
        starts = ragged_starts(owner, n)
        for cell in unsure:
            keep[cell] = is_region(_polygon_ball(verts[starts[cell]:starts[cell + 1]])[0], epsilon)
    return keep


def domain_cells(problem: CountingProblem) -> Cells:
    """The domain as one cell: its bounding box (a segment or a rectangle) cut by its rows."""
    chart = problem.chart
    lo, hi = chart.lower, chart.upper
    if chart.dim == 1:
        verts = np.array([[lo[0]], [hi[0]]])
    else:
        verts = np.array([[lo[0], lo[1]], [hi[0], lo[1]], [hi[0], hi[1]], [lo[0], hi[1]]])
    owner, n = np.zeros(len(verts), int), 1
    for row, rhs in zip(chart.A, chart.c):
        distance = (rhs - verts @ row) / np.linalg.norm(row)
        verts, owner, n, parent, side = cut_by_line(verts, owner, n, distance, np.zeros(n, int))
        cells = np.flatnonzero(side)
        verts, owner = select(verts, owner, n, cells)
        n = len(cells)
    return Cells(verts, owner, n, AffineMap.identity(chart.dim), np.zeros((n, 0), bool))
