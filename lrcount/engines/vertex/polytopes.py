"""Simple polytopes held by their vertices and the facets each lies on (double description),
cut by hyperplanes without LPs; the domain as such a polytope."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...problem import CountingProblem
from ...tolerances import DOMAIN_SLACK, ON_PLANE
from ..cells import ragged_starts

#: Rows (two per cut cell) kept before the cells that go on copy out the ones they use.
MAX_ROWS = 100_000
_OWNER_MIX = np.uint64(0x9E3779B97F4A7C15)  # hashes a cell's index into its edges' names


class NotSimple(Exception):
    """The domain is not a simple polytope."""


class EdgeNames:
    """Names of the edges of simple polytopes in R^d: the edge leaving a vertex when it leaves
    its j-th facet lies on the other ``d - 1`` facets; their sorted ids, hashed to one 64-bit
    integer."""

    def __init__(self, d: int):
        self.d = d
        self.drop = np.array([[i for i in range(d) if i != j] for j in range(d)], dtype=np.intp)
        self.weights = np.random.default_rng(0).integers(1, 2**63, size=d - 1, dtype=np.uint64) | np.uint64(1)

    def of(self, T: np.ndarray) -> np.ndarray:
        """(k, d) names: entry j names the edge along which a vertex leaves its j-th facet."""
        return (T[:, self.drop].view(np.uint64) * self.weights).sum(axis=-1, dtype=np.uint64)


@dataclass
class Cells:
    """Simple polytopes ``{u : R[ids] @ (u, 1) >= 0}`` (rows with unit normals): the vertices of
    cell c are the rows of ``V`` (homogeneous: last column 1) with ``owner == c`` (sorted);
    ``T`` holds the ids of the ``d`` rows each vertex lies on (sorted) and ``names`` its edges'
    names. ``R`` is shared by the cells, which only refer to it."""

    V: np.ndarray
    T: np.ndarray
    names: np.ndarray
    owner: np.ndarray
    n: int
    R: np.ndarray

    def starts(self) -> np.ndarray:
        """Where each cell's vertices start, and the end."""
        return ragged_starts(self.owner, self.n)

    def take(self, first: int, last: int, names: EdgeNames) -> Cells:
        """Cells ``first`` to ``last - 1`` (see :meth:`select`)."""
        starts = self.starts()
        lo, hi = starts[first], starts[last]
        return self._with_vertices(slice(lo, hi), self.owner[lo:hi] - first, last - first, names)

    def _with_vertices(self, at, owner: np.ndarray, n: int, names: EdgeNames) -> Cells:
        """The cells of the vertices ``at``, whose new owners are ``owner``; once the rows pass
        :data:`MAX_ROWS`, with their own compact copy of the rows they use."""
        if len(self.R) <= MAX_ROWS:
            return Cells(self.V[at], self.T[at], self.names[at], owner, n, self.R)
        ids, T = np.unique(self.T[at], return_inverse=True)
        T = T.reshape(len(owner), -1)
        return Cells(self.V[at], T, names.of(T), owner, n, self.R[ids])

    def parts(self) -> list[dict[str, np.ndarray]]:
        """Each cell on its own, as plain arrays: its vertices, their facets' ids and the rows
        the cells use (one array shared by all; :meth:`joined` puts them together again)."""
        ids, T = np.unique(self.T, return_inverse=True)
        T, R = T.reshape(self.T.shape).astype(np.int64), self.R[ids]
        starts = self.starts()
        return [{"V": self.V[starts[c]:starts[c + 1]], "T": T[starts[c]:starts[c + 1]], "R": R} for c in range(self.n)]

    @classmethod
    def joined(cls, parts: list[dict[str, np.ndarray]], names: EdgeNames) -> Cells:
        """The cells of :meth:`parts` (of one or more batches), as one batch."""
        rows: dict[int, int] = {}  # each distinct row array, by identity, and where it goes
        blocks = []
        for part in parts:
            if id(part["R"]) not in rows:
                rows[id(part["R"])] = sum(len(block) for block in blocks)
                blocks.append(part["R"])
        T = np.concatenate([part["T"] + rows[id(part["R"])] for part in parts])
        owner = np.repeat(np.arange(len(parts)), [len(part["V"]) for part in parts])
        return cls(np.concatenate([part["V"] for part in parts]), T, names.of(T), owner, len(parts), np.concatenate(blocks))

    def cut(self, names: EdgeNames, sub: np.ndarray, distance: np.ndarray, planes: np.ndarray,
            keep: np.ndarray) -> tuple[Cells, np.ndarray, np.ndarray, np.ndarray]:
        """Cut the cells ``sub`` (sorted) by one hyperplane each (``planes``: unit normal and
        offset), given the signed ``distance`` of their vertices (in order) to it, keeping the
        parts ``keep[:, 0]`` (positive side) and ``keep[:, 1]`` (negative side).

        Returns the new cells (the others first, in order, then the positive parts, then the
        negative ones), each one's parent and side (+1, -1, or 0 when not cut), and the cells
        of ``sub`` that could not be cut: a vertex on the hyperplane, a name collision, or an
        ill-conditioned new vertex. Those are left out."""
        d = names.d
        in_sub = np.zeros(self.n, bool)
        in_sub[sub] = True
        at = np.flatnonzero(in_sub[self.owner])
        sub_owner = np.searchsorted(sub, self.owner[at])
        bad = np.bincount(sub_owner, weights=np.abs(distance) <= ON_PLANE, minlength=len(sub)) > 0
        pos_v, neg_v = np.flatnonzero(distance > ON_PLANE), np.flatnonzero(distance < -ON_PLANE)
        a, b, facets = self._crossing_edges(names, at, sub_owner, pos_v, neg_v, bad)
        # new rows (both orientations) and vertices
        cutting = np.flatnonzero(keep.any(axis=1) & ~bad)
        row_id = np.full(len(sub), -1)
        row_id[cutting] = len(self.R) + 2 * np.arange(len(cutting))
        R = np.concatenate([self.R, np.stack([planes[cutting], -planes[cutting]], axis=1).reshape(-1, d + 1)])
        edges = np.flatnonzero(row_id[sub_owner[a]] >= 0)
        a, b, facets = a[edges], b[edges], facets[edges]
        edge_cell = sub_owner[a]
        T_pos = np.concatenate([facets, row_id[edge_cell][:, None]], axis=1)
        crossed, wrong = _new_vertices(R, T_pos, self.V[at[a]], self.V[at[b]], distance[a], distance[b])
        bad[edge_cell[wrong]] = True
        # the new cells: the others (in order), then the positive parts, then the negative parts
        cut = np.zeros(self.n, bool)
        cut[sub] = True
        groups = [np.flatnonzero(~cut)]
        kept_v = np.flatnonzero(~cut[self.owner])
        V, T, edge_names = [self.V[kept_v]], [self.T[kept_v]], [self.names[kept_v]]
        owner = [(np.cumsum(~cut) - 1)[self.owner[kept_v]]]
        base = len(groups[0])
        T_neg = T_pos.copy()
        T_neg[:, -1] += 1
        for side, side_v, T_new in ((0, pos_v, T_pos), (1, neg_v, T_neg)):
            part = keep[:, side] & ~bad
            part_id = np.full(len(sub), -1)
            part_id[part] = base + np.arange(part.sum())
            side_v = side_v[part[sub_owner[side_v]]]
            new = part[edge_cell]
            owners = np.concatenate([part_id[sub_owner[side_v]], part_id[edge_cell[new]]])
            grouped = np.argsort(owners, kind="stable")
            owner.append(owners[grouped])
            V.append(np.concatenate([self.V[at[side_v]], crossed[new]])[grouped])
            T.append(np.concatenate([self.T[at[side_v]], T_new[new]])[grouped])
            edge_names.append(np.concatenate([self.names[at[side_v]], names.of(T_new[new])])[grouped])
            groups.append(sub[part])
            base += len(groups[-1])
        cells = Cells(*(np.concatenate(x) for x in (V, T, edge_names)), np.concatenate(owner), base, R)
        side = np.concatenate([np.zeros(len(groups[0]), np.int8), np.ones(len(groups[1]), np.int8),
                               -np.ones(len(groups[2]), np.int8)])
        return cells, np.concatenate(groups), side, sub[bad & keep.any(axis=1)]

    def _crossing_edges(self, names: EdgeNames, at, sub_owner, pos_v, neg_v, bad):
        """The edges from a vertex ``at[pos_v]`` to one ``at[neg_v]`` of the same cell: their
        ends (positions in ``at``) and the ``d - 1`` facets each lies on. Every edge name
        (hashed with its cell) must appear exactly twice, once from each end; the cells where
        one does not, or where the two ends disagree on the facets, are marked in ``bad``."""
        d = names.d
        ends = np.concatenate([np.repeat(pos_v, d), np.repeat(neg_v, d)])
        column = np.tile(np.arange(d), len(ends) // d)
        key = self.names[at[ends], column] ^ sub_owner[ends].astype(np.uint64) * _OWNER_MIX
        order = np.argsort(key)
        ordered = key[order]
        run = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1], True]) if len(ordered) else np.zeros(1, np.intp)
        length = np.diff(run)
        bad[sub_owner[ends[order[np.repeat(length != 2, length)]]]] = True
        pair = run[:-1][length == 2]
        i1, i2 = np.minimum(order[pair], order[pair + 1]), np.maximum(order[pair], order[pair + 1])
        crossing = (i1 < len(pos_v) * d) & (i2 >= len(pos_v) * d)  # not an edge with both ends on one side
        i1, i2 = i1[crossing], i2[crossing]
        a, b = ends[i1], ends[i2]
        facets = self.T[at[a][:, None], names.drop[column[i1]]]
        unlike = (sub_owner[a] != sub_owner[b]) | (facets != self.T[at[b][:, None], names.drop[column[i2]]]).any(axis=1)
        bad[sub_owner[a[unlike]]] = bad[sub_owner[b[unlike]]] = True
        return a, b, facets

    def inner_radius(self) -> tuple[np.ndarray, np.ndarray]:
        """A ball inside each cell: its centre (the mean of the vertices) and the distance from
        there to the nearest facet, a lower bound on the inscribed radius."""
        starts = self.starts()[:-1]
        centres = np.add.reduceat(self.V, starts, axis=0) / np.diff(self.starts())[:, None]
        distance = np.einsum("vjk,vk->vj", self.R[self.T], centres[self.owner]).min(axis=1)
        return np.minimum.reduceat(distance, starts), centres[:, :-1]


def _new_vertices(R, T_new, V_a, V_b, d_a, d_b) -> tuple[np.ndarray, np.ndarray]:
    """The vertices where the edges from ``V_a`` to ``V_b`` (signed distances ``d_a > 0 > d_b``)
    cross the hyperplane, solved from their ``d`` facets ``R[T_new]``, and which of them are
    ill-conditioned (farther than :data:`ON_PLANE` from the crossing by interpolation)."""
    crossed = V_a + (d_a / (d_a - d_b))[:, None] * (V_b - V_a)
    system = R[T_new]
    try:
        solved = np.linalg.solve(system[..., :-1], -system[..., -1:])[..., 0]
    except np.linalg.LinAlgError:
        return crossed, np.ones(len(crossed), bool)
    wrong = ~(np.abs(solved - crossed[:, :-1]).max(axis=1, initial=0.0) <= ON_PLANE)
    crossed[:, :-1] = solved
    return crossed, wrong


def _box_cell(lower: np.ndarray, upper: np.ndarray, names: EdgeNames) -> Cells:
    """The box ``[lower, upper]`` as one cell: rows ``u_j - lower_j >= 0`` (id j) and
    ``upper_j - u_j >= 0`` (id d + j)."""
    d = len(lower)
    corners = (np.arange(2**d)[:, None] >> np.arange(d)) & 1  # bit j: at the upper side of axis j
    V = np.c_[np.where(corners, upper, lower), np.ones(2**d)]
    T = np.sort(np.arange(d) + d * corners, axis=1).astype(np.int64)
    eye = np.eye(d)
    R = np.vstack([np.c_[eye, -lower], np.c_[-eye, upper]])
    return Cells(V, T, names.of(T), np.zeros(2**d, np.intp), 1, R)


def domain_cell(problem: CountingProblem, names: EdgeNames) -> tuple[Cells, float]:
    """The domain as a cell, and how far the cell's rows may lie outside the domain's.

    A box is one cell. A polytope (or the slice of a box by a subspace) is cut out of its
    bounding box, padded so that no box side touches it (the chart's bounds are LP bounds of
    its rows). If the polytope is not simple, its rows are moved outwards by up to
    :data:`DOMAIN_SLACK`: the cell then holds the domain, every region's set in it holds the
    region's, and :meth:`VertexSearch._found` allows for the difference."""
    chart = problem.chart
    if chart.A.shape[0] == 0:
        return _box_cell(chart.lower, chart.upper, names), 0.0
    pad = 0.01 * (chart.upper - chart.lower) + 1.0
    box = _box_cell(chart.lower - pad, chart.upper + pad, names)
    rows = np.unique(np.c_[-chart.A, chart.c] / np.linalg.norm(chart.A, axis=1)[:, None], axis=0)
    try:
        return _cut_out(box, rows, names), 0.0
    except NotSimple:
        rng = np.random.default_rng(0)
        rows[:, -1] += DOMAIN_SLACK / 2 * rng.uniform(0.5, 1.0, len(rows))
        return _cut_out(box, rows, names, rng), DOMAIN_SLACK


def _cut_out(cell: Cells, rows: np.ndarray, names: EdgeNames, rng: np.random.Generator | None = None) -> Cells:
    """The one ``cell`` cut by the half-spaces ``rows @ (u, 1) >= 0``, the deepest cut first.
    With ``rng``, a row that cannot cut is moved outwards by up to ``DOMAIN_SLACK / 20`` and
    tried again, at most 10 times (so no row moves by more than ``DOMAIN_SLACK`` in all)."""
    tries = np.zeros(len(rows), int)
    only, keep_inside = np.zeros(1, np.intp), np.array([[True, False]])
    while True:
        distance = cell.V @ rows.T
        cutting = np.flatnonzero(distance.min(axis=0) < -ON_PLANE)
        if cutting.size == 0:
            return cell
        i = cutting[np.argmin(distance[:, cutting].min(axis=0))]
        new, _, _, bad = cell.cut(names, only, distance[:, i], rows[i][None], keep_inside)
        if bad.size == 0:
            cell = new
        elif rng is None or tries[i] == 10:
            raise NotSimple
        else:
            tries[i] += 1
            rows[i, -1] += DOMAIN_SLACK / 20 * rng.uniform()
