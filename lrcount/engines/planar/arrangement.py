"""The faces that all of a layer's lines cut from a batch of convex polygons at once, read off
the signs at the arrangement's vertices (no LP)."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from ...tolerances import CLEARANCE, FEASTOL, MIN_SINE, THIN
from ..cells import ragged_starts
from .polygons import inscribed_radius_bounds, keep_thick, select

#: Sign bits (a row per vertex and face, a bit per line crossing the cell) that
#: :func:`arrange` holds at once; cells that need more alone are split neuron by neuron.
BATCH_BITS = 2 ** 22


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


def arrange(verts, owner, n, planes, may_cross, settled, epsilon):
    """Cut convex polygons by all the lines of a layer at once.

    In a simple arrangement (no vertex within :data:`CLEARANCE` of a line it is not on) a
    face is known by its vertices: a corner of the cell lies in one face, each end of a chord
    (a line's segment in the cell) in the two faces on either side of the line, and each
    crossing of two chords in four. A vertex gives one row per face it lies in, holding that
    face's signs (its own lines' signs set both ways), so the faces are the distinct rows
    (cell and signs), and a face's polygon is the points of its rows in angular order. This
    takes a fixed number of numpy calls per layer, where splitting pays for every neuron.

    ``planes`` are unit normals and offsets, ``may_cross`` the lines to test and ``settled``
    every line's side of the cells it cannot cross. Returns the :class:`Faces` that hold a
    ball of radius ``epsilon``, and a mask of the cells found degenerate,
    which get no faces here (hand them over, or split them neuron by neuron).
    """
    degenerate = np.zeros(n, bool)
    on, chords, corner_rows = _chords(verts, owner, n, planes, may_cross, settled, degenerate)
    row_cell, row_bits, row_points = _vertex_rows(verts, owner, chords, corner_rows, degenerate)
    return _faces(row_cell, row_bits, row_points, on, chords, epsilon, degenerate), degenerate


def _chords(verts, owner, n, planes, may_cross, settled, degenerate):
    """The lines that cross each cell, from the signed distances of its corners: ``settled``
    with the side of the cells each line misses, the :class:`_Chords`, and the signs of the
    corners (corner, chord's place in its cell, sign). Marks ``degenerate`` the cells with a
    corner within :data:`CLEARANCE` of a line that crosses them."""
    starts = ragged_starts(owner, n)
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
    bounds = inscribed_radius_bounds(verts, owner, n_faces)
    degenerate[entry[(bounds[1] < THIN) & (corners >= 3)]] = True
    thick = keep_thick(verts, owner, n_faces, epsilon, bounds) & (corners >= 3) & ~degenerate[entry]
    if not thick.all():
        faces = np.flatnonzero(thick)
        verts, owner = select(verts, owner, n_faces, faces)
        entry, on, n_faces = entry[faces], on[faces], len(faces)
    return Faces(verts, owner, n_faces, entry, on)


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


def batches(cost: np.ndarray) -> list[np.ndarray]:
    """Consecutive groups of cells whose costs add up to about :data:`BATCH_BITS` each."""
    if not cost.size:
        return []
    group = np.cumsum(cost) // BATCH_BITS
    return np.split(np.arange(len(cost)), np.flatnonzero(np.diff(group)) + 1)


@dataclass(frozen=True)
class Faces:
    """The pieces that a layer cuts from cells: ``n`` polygons (or segments) with vertices
    ``verts`` grouped by ``owner`` (sorted), the cell each comes from (``entry``) and the signs
    of the layer's neurons on it (``on``)."""

    verts: np.ndarray
    owner: np.ndarray
    n: int
    entry: np.ndarray
    on: np.ndarray

    def from_cells(self, cells: np.ndarray) -> Faces:
        """These faces, cut from a selection ``cells`` of the cells, with their entry cells
        numbered as in the full set."""
        return replace(self, entry=cells[self.entry])

    @staticmethod
    def empty(dim: int, width: int) -> Faces:
        """No faces, of cells in ``dim`` dimensions cut by a layer of ``width`` neurons."""
        return Faces(np.zeros((0, dim)), np.zeros(0, int), 0, np.zeros(0, int), np.zeros((0, width), bool))

    @staticmethod
    def concatenate(parts: list[Faces]) -> Faces:
        """Several sets of faces, one after the other."""
        offsets = np.cumsum([0] + [part.n for part in parts])
        return Faces(np.concatenate([part.verts for part in parts]),
                     np.concatenate([part.owner + offset for part, offset in zip(parts, offsets)]),
                     int(offsets[-1]), np.concatenate([part.entry for part in parts]),
                     np.concatenate([part.on for part in parts]))
