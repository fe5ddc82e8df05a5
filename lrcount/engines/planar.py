"""The ``planar`` engine: exact splitting of segments (1-D domains) and convex polygons (2-D
domains) by the layers' hyperplanes, with no LP (cf. regioncam, Berzins 2023, which splits a
planar partition edge by edge).

All cells of a layer are processed at once with numpy: a cell holds its vertices and, for the
layer being split, the affine pre-activations of its region. A polygon is cut by all the
layer's lines together (:func:`_arrange`: the faces of the arrangement are read off the signs
at its vertices); a polygon where a vertex comes within :data:`CLEARANCE` of a line it is not
on is handed to the ``split`` engine, whose LPs decide it by the definition (as ``vertex``
does with cells that are not simple); segments, and polygons too large for one batch, are
split neuron by neuron (:func:`_split`), where a vertex within :data:`FEASTOL` of a
hyperplane lies on it. The definition of a region is
:mod:`lrcount.region`'s: a piece is kept iff it holds a ball of radius epsilon. For a segment
that is half its length; for a convex polygon of area A and perimeter P the inscribed radius r
obeys A / P <= r <= 2 A / P (Bonnesen), and the few pieces in between get the exact Chebyshev
LP. Neurons constant on a cell take their sign (:class:`~lrcount.region.LayerPieces`). After
each layer the cells are processed in chunks, depth first, so memory stays flat in the number
of regions.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ..errors import LRCountError
from ..lp import inscribed_ball
from ..problem import CountingProblem
from ..region import AffineMap, LayerPieces, is_region, pattern_rows
from ..runtime import NEVER, Deadline, search_limits
from ..tolerances import CLEARANCE, FEASTOL, MIN_SINE, THIN
from . import EngineRun, RegionLog
from .split import Splitter

#: Cells processed together through the next layers (bounds the memory).
CHUNK = 4096
#: Sign bits (a row per vertex and face, a bit per line crossing the cell) that
#: :func:`_arrange` holds at once; cells that need more alone are split neuron by neuron.
BATCH_BITS = 2 ** 22


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


def _interior_points(verts: np.ndarray, owner: np.ndarray, n: int, epsilon: float) -> np.ndarray:
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
    starts = np.searchsorted(owner, np.arange(n + 1))
    for cell in np.flatnonzero(~is_region(clearance, epsilon)):
        centre = _polygon_ball(verts[starts[cell]:starts[cell + 1]])[1]
        if centre is not None:
            centres[cell] = centre
    return centres


def _keep_thick(verts, owner, n, epsilon, bounds=None) -> np.ndarray:
    """The cells that hold a ball of radius epsilon (``bounds``: their
    :func:`_inscribed_radius_bounds`, if known)."""
    lower, upper = bounds if bounds is not None else _inscribed_radius_bounds(verts, owner, n)
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


def _ragged(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For consecutive groups of the given sizes: each member's group and place in it."""
    group = np.repeat(np.arange(len(counts)), counts)
    return group, np.arange(len(group)) - (np.cumsum(counts) - counts)[group]


def _rows_of(first: np.ndarray, count: int) -> np.ndarray:
    """Row ids ``first + 0 .. first + count - 1`` for every entry of ``first``, flattened."""
    return (first[:, None] + np.arange(count)).ravel()


@dataclass
class _Chords:
    """The lines that cross cells, one entry per (cell, line), grouped by cell: each line's
    unit normal and offset (``plane``) and the two ends of its chord in the cell (``ends``)."""

    cell: np.ndarray
    line: np.ndarray
    plane: np.ndarray
    ends: np.ndarray  # chords x 2 x 2
    per_cell: np.ndarray
    first: np.ndarray  # index of each cell's first chord

    @property
    def local(self) -> np.ndarray:
        """Each chord's place among its cell's chords."""
        return np.arange(len(self.cell)) - self.first[self.cell]

    def of_cells(self, cells: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """For items in the given cells: (item, chord) for every chord of each item's cell."""
        item, j = _ragged(self.per_cell[cells])
        return item, self.first[cells][item] + j

    def distance(self, chords: np.ndarray, points: np.ndarray) -> np.ndarray:
        """Signed distances of points (... x 2, one per chord) to those chords' lines."""
        plane = self.plane[chords]
        return np.einsum("pk,p...k->p...", plane[:, :2], points) + plane[:, 2].reshape(-1, *[1] * (points.ndim - 2))


def _arrange(verts, owner, n, planes, may_cross, settled, epsilon):
    """Cut convex polygons by all the lines of a layer at once.

    In a simple arrangement (no vertex within :data:`CLEARANCE` of a line it is not on) a
    face is known by its vertices: a corner of the cell lies in one face, each end of a chord
    (a line's segment in the cell) in the two faces on either side of the line, and each
    crossing of two chords in four. A vertex gives one row per face it lies in, holding that
    face's signs (its own lines' signs set both ways), so the faces are the distinct rows
    (cell and signs), and a face's polygon is the points of its rows in angular order. This
    takes a fixed number of numpy calls per layer, where splitting pays for every neuron.

    ``planes`` are unit normals and offsets, ``may_cross`` the lines to test and ``settled``
    every line's side of the cells it cannot cross. Returns (verts, owner, n, entry, on) of the
    faces that hold a ball of radius ``epsilon``, and a mask of the cells found degenerate,
    which get no faces here (hand them over, or split them neuron by neuron).
    """
    degenerate = np.zeros(n, bool)
    on, chords, corner_rows = _chords(verts, owner, n, planes, may_cross, settled, degenerate)
    row_cell, row_bits, row_points = _vertex_rows(verts, owner, chords, corner_rows, degenerate)
    return (*_faces(row_cell, row_bits, row_points, on, chords, epsilon, degenerate), degenerate)


def _chords(verts, owner, n, planes, may_cross, settled, degenerate):
    """The lines that cross each cell, from the signed distances of its corners: ``settled``
    with the side of the cells each line misses, the :class:`_Chords`, and the signs of the
    corners (corner, chord's place in its cell, sign). Marks ``degenerate`` the cells with a
    corner within :data:`CLEARANCE` of a line that crosses them."""
    starts = np.searchsorted(owner, np.arange(n + 1))
    sizes = np.diff(starts)
    pair_cell, pair_line = np.nonzero(may_cross)
    n_pairs = len(pair_cell)
    pair_plane = planes[pair_cell, pair_line]
    q_pair, q_k = _ragged(sizes[pair_cell])  # every corner of every pair's cell
    q_vert = starts[pair_cell][q_pair] + q_k
    q_next = np.arange(len(q_pair)) - q_k + (q_k + 1) % sizes[pair_cell][q_pair]
    d = np.einsum("ij,ij->i", pair_plane[q_pair, :2], verts[q_vert]) + pair_plane[q_pair, 2]
    pos = np.bincount(q_pair, d > FEASTOL, n_pairs) > 0
    crossing = pos & (np.bincount(q_pair, d < -FEASTOL, n_pairs) > 0)
    on = settled.copy()
    on[pair_cell, pair_line] = pos
    exits, entries = (d > 0) & (d[q_next] < 0), (d < 0) & (d[q_next] > 0)
    simple = (crossing & (np.bincount(q_pair, np.abs(d) <= CLEARANCE, n_pairs) == 0)
              & (np.bincount(q_pair, exits, n_pairs) == 1) & (np.bincount(q_pair, entries, n_pairs) == 1))
    degenerate[pair_cell[crossing & ~simple]] = True
    is_chord = simple & ~degenerate[pair_cell]

    def edge_point(q):
        t = d[q] / (d[q] - d[q_next[q]])
        return verts[q_vert[q]] + t[:, None] * (verts[q_vert[q_next[q]]] - verts[q_vert[q]])

    per_cell = np.bincount(pair_cell[is_chord], minlength=n)
    first = np.cumsum(per_cell) - per_cell
    chords = _Chords(pair_cell[is_chord], pair_line[is_chord], pair_plane[is_chord],
                     np.stack([edge_point(np.flatnonzero(exits & is_chord[q_pair])),
                               edge_point(np.flatnonzero(entries & is_chord[q_pair]))], axis=1), per_cell, first)
    corner = np.flatnonzero(is_chord[q_pair])
    local = np.cumsum(is_chord) - 1 - first[pair_cell]
    return on, chords, (q_vert[corner], local[q_pair[corner]], d[corner] > 0)


def _vertex_rows(verts, owner, chords: _Chords, corner_rows, degenerate):
    """One row per (vertex, face it lies in), outside ``degenerate`` cells: (cell, bits,
    point), bit j the sign of the cell's j-th chord. Corners come first, then 4 rows per chord
    (2 per end), then 4 per crossing of two chords. Marks ``degenerate`` the cells where a
    chord's end or a crossing lies within :data:`CLEARANCE` of another line, or two lines cross
    at an angle with a sine below :data:`MIN_SINE`."""
    e, f = chords.of_cells(chords.cell)  # each chord's ends against every line of its cell
    end_d = chords.distance(f, chords.ends[e])
    degenerate[chords.cell[e[(e != f) & (np.abs(end_d) <= CLEARANCE).any(axis=1)]]] = True
    # Two chords of a convex cell cross iff the ends of one lie on either side of the other's line.
    crosses = (e < f) & (end_d[:, 0] * end_d[:, 1] < 0)
    a, b = e[crosses], f[crosses]
    na, nb = chords.plane[a], chords.plane[b]
    det = na[:, 0] * nb[:, 1] - na[:, 1] * nb[:, 0]
    degenerate[chords.cell[a[np.abs(det) < MIN_SINE]]] = True
    det = np.where(np.abs(det) < MIN_SINE, 1.0, det)
    points = np.stack([(nb[:, 2] * na[:, 1] - na[:, 2] * nb[:, 1]) / det,
                       (na[:, 2] * nb[:, 0] - nb[:, 2] * na[:, 0]) / det], axis=1)
    x, g = chords.of_cells(chords.cell[a])  # each crossing against every line of its cell
    point_d = chords.distance(g, points[x])
    degenerate[chords.cell[a[x[(g != a[x]) & (g != b[x]) & (np.abs(point_d) <= CLEARANCE)]]]] = True

    n_chords, local = len(chords.cell), chords.local
    first_end, first_point = len(verts), len(verts) + 4 * n_chords
    row_cell = np.concatenate([owner, np.repeat(chords.cell, 4), np.repeat(chords.cell[a], 4)])
    row_bits = np.zeros((len(row_cell), max(chords.per_cell.max(initial=0), 1)), bool)
    corner, place, sign = corner_rows
    row_bits[corner, place] = sign
    for k in (0, 1):
        row_bits[_rows_of(first_end + 4 * e + 2 * k, 2), np.repeat(local[f], 2)] = np.repeat(end_d[:, k] > 0, 2)
        row_bits[_rows_of(first_end + 4 * np.arange(n_chords) + 2 * k, 2), np.repeat(local, 2)] = [True, False] * n_chords
    row_bits[_rows_of(first_point + 4 * x, 4), np.repeat(local[g], 4)] = np.repeat(point_d > 0, 4)
    for own, signs in ((a, [True, True, False, False]), (b, [True, False, True, False])):
        row_bits[_rows_of(first_point + 4 * np.arange(len(a)), 4), np.repeat(local[own], 4)] = signs * len(a)
    row_points = np.concatenate([verts, np.repeat(chords.ends.reshape(-1, 2), 2, axis=0), np.repeat(points, 4, axis=0)])
    kept = ~degenerate[row_cell]
    return row_cell[kept], row_bits[kept], row_points[kept]


def _faces(row_cell, row_bits, row_points, on, chords: _Chords, epsilon, degenerate):
    """The faces, as distinct (cell, bits) rows, with their vertices in angular order, and
    those that hold a ball of radius ``epsilon``: (verts, owner, n, entry, on). Marks
    ``degenerate`` (and drops the faces of) the cells with a face thinner than :data:`THIN`."""
    first_row, face = _group(_face_keys(row_cell, row_bits))
    n_faces = len(first_row)
    entry = row_cell[first_row]
    on = on[entry]
    face_of, chord = chords.of_cells(entry)
    on[face_of, chords.line[chord]] = row_bits[first_row[face_of], chords.local[chord]]
    corners = np.bincount(face, minlength=n_faces)
    centre = np.stack([np.bincount(face, row_points[:, 0], n_faces), np.bincount(face, row_points[:, 1], n_faces)], 1)
    offset = row_points - (centre / np.maximum(corners, 1)[:, None])[face]
    order = _angular_order(face, offset)
    verts, owner = row_points[order], face[order]
    bounds = _inscribed_radius_bounds(verts, owner, n_faces)
    degenerate[entry[(bounds[1] < THIN) & (corners >= 3)]] = True
    thick = _keep_thick(verts, owner, n_faces, epsilon, bounds) & (corners >= 3) & ~degenerate[entry]
    if not thick.all():
        faces = np.flatnonzero(thick)
        verts, owner = _select(verts, owner, n_faces, faces)
        entry, on, n_faces = entry[faces], on[faces], len(faces)
    return verts, owner, n_faces, entry, on


def _group(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Group equal keys: (a member of each group, each key's group), groups numbered in key
    order (``np.unique``'s index and inverse, 3x faster: no stable sort is needed)."""
    order = np.argsort(keys)
    ordered = keys[order]
    starts = np.ones(len(keys), bool)
    starts[1:] = ordered[1:] != ordered[:-1]
    group = np.empty(len(keys), int)
    group[order] = np.cumsum(starts) - 1
    return order[starts], group


def _angular_order(group: np.ndarray, offset: np.ndarray) -> np.ndarray:
    """The order that sorts points by group, then by the angle of their ``offset`` (from their
    group's centre). The angle is taken as a pseudo-angle in [0, 4) that grows with it (from
    ``dx / (|dx| + |dy|)``), and the sort is on one float key, ``4 group + pseudo-angle``: 7x
    faster than numpy's lexsort. Where the key's rounding swapped two points of a group, the
    lexsort is run after all."""
    dx, dy = offset[:, 0], offset[:, 1]
    size = np.abs(dx) + np.abs(dy)
    cosine = np.divide(dx, size, out=np.zeros_like(dx), where=size > 0)
    pseudo_angle = np.where(dy >= 0, 1 - cosine, 3 + cosine)
    order = np.argsort(4.0 * group + pseudo_angle)
    ordered_group = group[order]
    in_group = ordered_group[1:] == ordered_group[:-1]
    if np.any(in_group & (np.diff(pseudo_angle[order]) < 0)):
        return np.lexsort((pseudo_angle, group))
    return order


def _face_keys(cells: np.ndarray, bits: np.ndarray) -> np.ndarray:
    """One key per row that is equal exactly for equal (cell, bits): an integer when they fit
    in 63 bits, else their bytes."""
    if bits.shape[1] + int(cells.max(initial=0)).bit_length() <= 63:
        return (cells.astype(np.int64) << bits.shape[1]) | (bits.astype(np.int64) @ (1 << np.arange(bits.shape[1])))
    key = np.concatenate([cells.astype(">u4").view(np.uint8).reshape(-1, 4), np.packbits(bits, axis=1)], axis=1)
    return np.ascontiguousarray(key).view(f"V{key.shape[1]}").ravel()


def _batches(cost: np.ndarray) -> list[np.ndarray]:
    """Consecutive groups of cells whose costs add up to about :data:`BATCH_BITS` each."""
    if not cost.size:
        return []
    group = np.cumsum(cost) // BATCH_BITS
    return np.split(np.arange(len(cost)), np.flatnonzero(np.diff(group)) + 1)


def _with_entry(faces: tuple, cells: np.ndarray) -> tuple:
    """Faces of a selection of ``cells`` with their entry cells in the full numbering."""
    verts, owner, n, entry, on = faces
    return verts, owner, n, cells[entry], on


def _concatenate(parts: list[tuple]) -> tuple:
    """(verts, owner, n, entry, on) of several sets of faces, one after the other."""
    offsets = np.cumsum([0] + [n for _, _, n, _, _ in parts])
    return (np.concatenate([verts for verts, *_ in parts]),
            np.concatenate([owner + offset for (_, owner, *_), offset in zip(parts, offsets)]),
            int(offsets[-1]), np.concatenate([entry for *_, entry, _ in parts]),
            np.concatenate([on for *_, on in parts]))


class _PlanarSplitter:
    """The search. ``stop_reason`` says why to stop, if at all. With ``draw``, degenerate cells
    are split neuron by neuron so that every region has a polygon; otherwise they are handed
    to the ``split`` engine, which decides them by the LPs of the definition (:meth:`_hand_over`)."""

    def __init__(self, problem: CountingProblem, on_region, collect, stop_reason, *, draw: bool = False):
        self.problem = problem
        self.layers = problem.net.hidden_layers
        self.log = RegionLog(on_region, collect)
        self.stop_reason = stop_reason
        self.draw = draw
        self.polygons: list[np.ndarray] = []
        self.fallback: Splitter | None = None
        self.degenerate = 0

    def should_stop(self) -> None:
        if reason := self.stop_reason():
            raise _Stop(reason)

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
        layer's pieces, and each new cell's entry cell and signs in the layer.

        Polygons are cut by all the layer's lines at once (:func:`_arrange`), in batches of
        :data:`BATCH_BITS`; those where that meets a degeneracy are handed over
        (:meth:`_hand_over`; split neuron by neuron when drawing); segments and polygons too
        large for a batch are split neuron by neuron (:meth:`_split_by_neurons`)."""
        batched = cells.affine if cells.affine.M.ndim == 3 else _broadcast(cells.affine, cells.n)
        pieces: LayerPieces = batched.layer(*self.layers[l])
        planes = np.concatenate([pieces.G, pieces.gamma[..., None]], axis=-1) / pieces.norms[..., None]
        # Which hyperplanes may cross which cells (interval bounds over each cell's bounding
        # box), and the side of the cells they cannot cross.
        starts = np.searchsorted(cells.owner, np.arange(cells.n + 1))[:-1]
        lower, upper = np.minimum.reduceat(cells.verts, starts), np.maximum.reduceat(cells.verts, starts)
        normals, offsets = planes[..., :-1], planes[..., -1]
        centre = np.einsum("enk,ek->en", normals, (lower + upper) / 2) + offsets
        spread = np.einsum("enk,ek->en", np.abs(normals), (upper - lower) / 2)
        may_cross = (np.abs(centre) <= spread + FEASTOL) & ~pieces.constant
        settled = np.where(pieces.constant, pieces.on_if_constant, centre > 0)
        parts, by_neurons = [], [np.arange(cells.n)]
        if cells.verts.shape[1] == 2:
            lines = may_cross.sum(axis=1)
            cost = (np.bincount(cells.owner, minlength=cells.n) + 2 * lines * (lines + 1)) * np.maximum(lines, 1)
            small = np.flatnonzero(cost <= BATCH_BITS)
            by_neurons = [np.flatnonzero(cost > BATCH_BITS)]
            for group in _batches(cost[small]):
                group = small[group]
                self.should_stop()
                verts, owner = _select(cells.verts, cells.owner, cells.n, group)
                *faces, degenerate = _arrange(verts, owner, len(group), planes[group], may_cross[group],
                                              settled[group], self.problem.epsilon)
                parts.append(_with_entry(faces, group))
                if self.draw:
                    by_neurons.append(group[degenerate])
                else:
                    self._hand_over(cells.patterns[group[degenerate]], l)
        by_neurons = np.concatenate(by_neurons)
        if by_neurons.size:
            verts, owner = _select(cells.verts, cells.owner, cells.n, by_neurons)
            faces = self._split_by_neurons(verts, owner, len(by_neurons), planes[by_neurons],
                                           may_cross[by_neurons], settled[by_neurons])
            parts.append(_with_entry(faces, by_neurons))
        verts, owner, n, entry, on = _concatenate(parts)
        return _Cells(verts, owner, n, None, np.concatenate([cells.patterns[entry], on], axis=1)), pieces, entry, on

    def _hand_over(self, prefixes: np.ndarray, l: int) -> None:
        """Count the regions below cells where the arrangement is degenerate (their earlier
        layers' signs: ``prefixes``) with the ``split`` engine, from layer ``l`` on. Their
        polygons' vertices are too close to other lines to trust, so the LPs of the definition
        decide them (docs/counting.md, the engines' table)."""
        chart = self.problem.chart
        for prefix in prefixes:
            self.degenerate += 1
            if self.fallback is None:  # built on first need: its HiGHS instance costs 0.3 ms
                self.fallback = Splitter(self.problem, self.log)
            rows = pattern_rows(self.problem.net, chart, prefix, layers=l)
            if rows.conflict is not None:
                continue
            pieces = rows.affine.layer(*self.layers[l])
            mine = rows.owners >= 0
            frame = self.fallback.resume(l, pieces, pieces.on_if_constant.copy(), np.flatnonzero(~pieces.constant),
                                         (prefix,), rows.A[mine], rows.c[mine], chart.lower, chart.upper,
                                         np.zeros((0, chart.dim)))
            if reason := self.fallback.drain([frame], self.stop_reason):
                raise _Stop(reason)

    def _split_by_neurons(self, verts, owner, n, planes, may_cross, settled):
        """Split cells by one neuron at a time: (verts, owner, n, entry, on) of the pieces."""
        width = planes.shape[1]
        entry = np.arange(n)  # each cell's cell at the layer's entry
        on = np.zeros((n, width), bool)
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
        return verts, owner, n, entry, on

    def _found(self, cells: _Cells) -> None:
        if self.draw:
            starts = cells.starts
            self.polygons.extend(cells.verts[starts[j]:starts[j + 1]] for j in range(cells.n))
        points = _interior_points(cells.verts, cells.owner, cells.n, self.problem.epsilon) if self.log.collect else ()
        self.log.add(cells.patterns, points)


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
    splitter = _PlanarSplitter(problem, lambda n: None, True, lambda: None, draw=True)
    splitter.descend(_domain_cells(problem), 0)
    return splitter.log.patterns, splitter.polygons


def run(
    problem: CountingProblem,
    *,
    deadline: Deadline = NEVER,
    on_region: Callable[[int], None] = lambda n: None,
    collect: bool = False,
) -> EngineRun:
    """Enumerate every region of ``problem`` (a domain of dimension 1 or 2) by exact splitting."""
    status = "complete"
    with search_limits(deadline) as stop_reason:
        splitter = _PlanarSplitter(problem, on_region, collect, stop_reason)
        try:
            splitter.descend(_domain_cells(problem), 0)
        except _Stop as stop:
            status = stop.status
    return splitter.log.result(status, {"degenerate": splitter.degenerate})
