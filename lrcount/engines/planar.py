"""The ``planar`` engine: exact splitting of segments (1-D domains) and convex polygons (2-D
domains) neuron by neuron, with no LP (cf. regioncam, Berzins 2023, which splits a planar
partition edge by edge).

All cells of a layer are split at once with numpy: a cell holds its vertices and, for the
layer being split, the affine pre-activations of its region. A vertex within :data:`FEASTOL`
of a hyperplane lies on it; a cell is split where its vertices have both signs, at the
crossing points of its edges. The definition of a region is :mod:`lrcount.region`'s: a piece
is kept iff it holds a ball of radius epsilon. For a segment that is half its length; for a
convex polygon of area A and perimeter P the inscribed radius r obeys A / P <= r <= 2 A / P
(Bonnesen), and the few pieces in between get the exact Chebyshev LP. Neurons constant on a
cell take their sign (:class:`~lrcount.region.LayerPieces`). After each layer the cells are
processed in chunks, depth first, so memory stays flat in the number of regions.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from ..errors import LRCountError
from ..lp import inscribed_ball, search_limits
from ..problem import CountingProblem
from ..region import FEASTOL, AffineMap, LayerPieces, is_region
from . import EngineRun, RegionLog

#: Cells processed together through the next layers (bounds the memory).
CHUNK = 4096


@dataclass
class _Cells:
    """Convex cells: ``verts`` (V x k) in cyclic order, grouped by ``owner`` (sorted); a
    segment is its two end points. ``patterns`` holds the signs of the layers done so far."""

    verts: np.ndarray
    owner: np.ndarray
    n: int
    affine: AffineMap | None  # None once split by a layer, until its chunk is taken
    patterns: np.ndarray

    @property
    def starts(self) -> np.ndarray:
        return np.searchsorted(self.owner, np.arange(self.n + 1))


def _select(verts: np.ndarray, owner: np.ndarray, n: int, cells: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The vertices and new owner ids of the cells ``cells`` (sorted ids) out of ``n``."""
    new_id = np.full(n, -1)
    new_id[cells] = np.arange(len(cells))
    keep = new_id[owner] >= 0
    return verts[keep], new_id[owner[keep]]


def _next_in_cycle(owner: np.ndarray, n: int) -> np.ndarray:
    """Index of each vertex's successor around its cell."""
    starts = np.searchsorted(owner, np.arange(n + 1))
    nxt = np.arange(1, len(owner) + 1)
    nxt[starts[1:][starts[1:] > starts[:-1]] - 1] = starts[:-1][starts[1:] > starts[:-1]]
    return nxt


def _split(verts, owner, n, distance, forced):
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


def _inscribed_radius_bounds(verts, owner, n) -> tuple[np.ndarray, np.ndarray]:
    """Lower and upper bounds on each cell's inscribed radius: half the length of a segment
    (exact); ``A / P`` and ``2 A / P`` for a convex polygon of area A and perimeter P."""
    nxt = _next_in_cycle(owner, n)
    if verts.shape[1] == 1:
        half = np.bincount(owner, weights=np.abs(verts[nxt, 0] - verts[:, 0]), minlength=n) / 4
        return half, half
    x, y = verts[:, 0], verts[:, 1]
    area = np.abs(np.bincount(owner, weights=x * y[nxt] - x[nxt] * y, minlength=n)) / 2
    perimeter = np.bincount(owner, weights=np.linalg.norm(verts[nxt] - verts, axis=1), minlength=n)
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


def _keep_thick(verts, owner, n, epsilon) -> np.ndarray:
    """The cells that hold a ball of radius epsilon."""
    lower, upper = _inscribed_radius_bounds(verts, owner, n)
    keep = is_region(lower, epsilon)
    unsure = np.flatnonzero(~keep & is_region(upper, epsilon))
    if unsure.size:
        starts = np.searchsorted(owner, np.arange(n + 1))
        for cell in unsure:
            keep[cell] = is_region(_polygon_ball(verts[starts[cell]:starts[cell + 1]])[0], epsilon)
    return keep


def _domain_cells(problem: CountingProblem) -> _Cells:
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
        verts, owner, n, parent, side = _split(verts, owner, n, distance, np.zeros(n, int))
        cells = np.flatnonzero(side)
        verts, owner = _select(verts, owner, n, cells)
        n = len(cells)
    return _Cells(verts, owner, n, AffineMap.identity(chart.dim), np.zeros((n, 0), bool))


class _PlanarSplitter:
    def __init__(self, problem: CountingProblem, on_region, collect, should_stop):
        self.problem = problem
        self.layers = problem.net.hidden_layers
        self.log = RegionLog(on_region, collect)
        self.should_stop = should_stop
        self.polygons: list[np.ndarray] = []

    def descend(self, cells: _Cells, l: int) -> None:
        """Split ``cells`` by the layers from ``l`` on and record the regions."""
        if l == len(self.layers):
            self._found(cells)
            return
        cells, pieces, entry, on = self._split_layer(cells, l)
        for start in range(0, cells.n, CHUNK):
            chunk = np.arange(start, min(start + CHUNK, cells.n))
            verts, owner = _select(cells.verts, cells.owner, cells.n, chunk)
            # the maps of one chunk at a time: for all cells they can take gigabytes
            affine = pieces.restrict(on[chunk], entry[chunk])
            self.descend(_Cells(verts, owner, len(chunk), affine, cells.patterns[chunk]), l + 1)

    def _split_layer(self, cells: _Cells, l: int) -> tuple[_Cells, LayerPieces, np.ndarray, np.ndarray]:
        """Split ``cells`` by layer ``l``: the new cells (patterns up to l, no maps yet), the
        layer's pieces, and each new cell's entry cell and signs in the layer."""
        batched = cells.affine if cells.affine.M.ndim == 3 else _broadcast(cells.affine, cells.n)
        pieces: LayerPieces = batched.layer(*self.layers[l])
        width = pieces.gamma.shape[1]
        planes = np.concatenate([pieces.G, pieces.gamma[..., None]], axis=-1) / pieces.norms[..., None]
        entry = np.arange(cells.n)  # each cell's cell at the layer's entry
        on = np.zeros((cells.n, width), bool)
        verts, owner, n = cells.verts, cells.owner, cells.n
        # Which hyperplanes may cross which entry cells (interval bounds over each cell's
        # bounding box), and the side of the cells they cannot cross: split only the former.
        starts = np.searchsorted(owner, np.arange(n + 1))[:-1]
        lower, upper = np.minimum.reduceat(verts, starts), np.maximum.reduceat(verts, starts)
        normals, offsets = planes[..., :-1], planes[..., -1]
        centre = np.einsum("enk,ek->en", normals, (lower + upper) / 2) + offsets
        spread = np.einsum("enk,ek->en", np.abs(normals), (upper - lower) / 2)
        may_cross = (np.abs(centre) <= spread + FEASTOL) & ~pieces.constant
        settled = np.where(pieces.constant, pieces.on_if_constant, centre > 0)
        for i in range(width):
            self.should_stop()
            on[:, i] = settled[entry, i]
            crossing = may_cross[entry, i]
            if not crossing.any():
                continue
            at_crossing = crossing[owner]
            sub_owner = (np.cumsum(crossing) - 1)[owner[at_crossing]]
            plane = planes[entry[crossing], i][sub_owner]  # each vertex's cell's unit normal and offset
            sub_verts = verts[at_crossing]
            distance = np.einsum("ij,ij->i", plane[:, :-1], sub_verts) + plane[:, -1]
            n_sub = int(crossing.sum())
            new_verts, new_owner, n_new, sub_parent, sub_side = _split(sub_verts, sub_owner, n_sub, distance,
                                                                      np.zeros(n_sub, int))
            if n_new != n_sub:
                first_new = n_new - 2 * (n_new - n_sub)  # the halves of split cells come last
                tail = np.searchsorted(new_owner, first_new)
                keep = np.ones(n_new, bool)
                keep[first_new:] = _keep_thick(new_verts[tail:], new_owner[tail:] - first_new, n_new - first_new,
                                               self.problem.epsilon)
                if not keep.all():
                    kept = np.flatnonzero(keep)
                    new_verts, new_owner = _select(new_verts, new_owner, n_new, kept)
                    sub_parent, sub_side = sub_parent[kept], sub_side[kept]
            # the cells it cannot cross first, unchanged, then the crossed ones as split
            rest = ~crossing
            n_rest = int(rest.sum())
            verts = np.concatenate([verts[~at_crossing], new_verts])
            owner = np.concatenate([(np.cumsum(rest) - 1)[owner[~at_crossing]], n_rest + new_owner])
            parent = np.concatenate([np.flatnonzero(rest), np.flatnonzero(crossing)[sub_parent]])
            entry, on, n = entry[parent], on[parent], len(parent)
            on[n_rest:, i] = sub_side
        return _Cells(verts, owner, n, None, np.concatenate([cells.patterns[entry], on], axis=1)), pieces, entry, on

    def _found(self, cells: _Cells) -> None:
        if not self.log.collect:
            self.log.add(cells.patterns, ())
            return
        starts = cells.starts
        polygons = [cells.verts[starts[j]:starts[j + 1]] for j in range(cells.n)]
        self.log.add(cells.patterns, [_polygon_ball(polygon)[1] for polygon in polygons])
        self.polygons.extend(polygons)


def _broadcast(affine: AffineMap, n: int) -> AffineMap:
    """One map repeated for n cells."""
    return AffineMap(*(np.broadcast_to(a, (n, *a.shape)) for a in (affine.M, affine.m, affine.M_abs, affine.m_abs)))


class _Stop(Exception):
    def __init__(self, status: str):
        self.status = status


def polygons(problem: CountingProblem) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Every region of a 2-D ``problem`` as (its pattern, its polygon's vertices in cyclic order,
    in the problem's unit-scaled chart coordinates), for drawing."""
    if problem.chart.dim != 2:
        raise LRCountError(f"regions can be drawn on domains of dimension 2, got {problem.chart.dim}")
    splitter = _PlanarSplitter(problem, lambda: None, True, lambda: None)
    splitter.descend(_domain_cells(problem), 0)
    return splitter.log.patterns, splitter.polygons


def run(
    problem: CountingProblem,
    *,
    time_limit: float | None = None,
    on_region: Callable[[], None] = lambda: None,
    collect: bool = False,
) -> EngineRun:
    """Enumerate every region of ``problem`` (a domain of dimension 1 or 2) by exact splitting."""
    if problem.chart.dim > 2:
        raise LRCountError(f"engine planar needs a domain of dimension 1 or 2, got {problem.chart.dim}; use split")
    status = "complete"
    with search_limits(time_limit) as stop_reason:

        def should_stop() -> None:
            if reason := stop_reason():
                raise _Stop(reason)

        splitter = _PlanarSplitter(problem, on_region, collect, should_stop)
        try:
            splitter.descend(_domain_cells(problem), 0)
        except _Stop as stop:
            status = stop.status
    return splitter.log.result(status)
