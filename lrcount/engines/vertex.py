"""The ``vertex`` engine: region splitting on vertex sets (double description), no LP.

Each cell is a *simple* polytope held by its vertices, each vertex with the ``d`` facets it
lies on (the double description of Motzkin et al. 1953; Fukuda & Prodon 1996). Cutting a cell
by a hyperplane needs no LP: the sign of every vertex says which side it is on, and the new
vertices are where the edges with ends on both sides cross the hyperplane. In a simple
polytope two vertices are the ends of an edge iff they share ``d - 1`` facets, so every edge is
named by a set of ``d - 1`` facets (hashed with its cell), and the crossing edges are found by
sorting those names: every name appears exactly twice, once from each end. The new vertices
are solved from their ``d`` facets, not interpolated, so errors do not build up along a path.

As the ``planar`` engine does in 2-D, all cells of a layer are split at once, neuron by neuron,
with numpy over all their vertices:

- a neuron constant on a cell takes its sign; one whose hyperplane misses the cell's bounding
  box, or whose vertices are all on one side (farther than :data:`ON_PLANE`), takes that side;
- a side whose vertices are all within ``2 epsilon`` of the hyperplane holds no ball of radius
  epsilon (its width is below ``2 epsilon``), so it is dropped, as the definition of
  :mod:`lrcount.region` says; any other side becomes a new cell.

After the last layer a cell's set is exactly its pattern's set. It counts iff it holds a ball
of radius epsilon: the ball around the mean of its vertices that touches the nearest facet
says so for almost every cell; the rest get the Chebyshev LP of :func:`~lrcount.region.certify`.
Cells go through the layers in chunks of :data:`CHUNK_VERTICES` vertices, and a layer's cells
are halved when they pass :data:`LAYER_VERTICES`, so memory stays flat in the number of regions.

Simple polytopes are the generic case. A vertex that lies on a hyperplane (a zero bias through
a corner of the box, two neurons with one hyperplane, a hyperplane through a crossing of
others), a vertex that cannot be solved accurately, or a name collision makes a cell non-simple
or unsure: that cell is handed to the ``split`` engine's search, which needs no general
position, and the count stays exact (``stats["degenerate"]`` says how often). A polytope domain
that is not simple has its rows moved out by at most :data:`DOMAIN_SLACK`, and certification
allows for it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ..problem import CountingProblem
from ..region import AffineMap, LayerPieces, certify, is_region
from ..runtime import NEVER, Deadline, search_limits
from ..tolerances import DOMAIN_SLACK, ON_PLANE
from . import EngineRun, RegionLog, split
from .split import Splitter

#: Vertices of the cells that go through the next layers together.
CHUNK_VERTICES = 20_000
#: A layer's cells are processed in halves once they hold more vertices than this.
LAYER_VERTICES = 250_000
#: Rows (two per cut cell) kept before the cells that go on copy out the ones they use.
MAX_ROWS = 100_000
_OWNER_MIX = np.uint64(0x9E3779B97F4A7C15)  # hashes a cell's index into its edges' names


class _Degenerate(Exception):
    """The domain is not a simple polytope."""


class _EdgeNames:
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
class _Cells:
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
        return np.searchsorted(self.owner, np.arange(self.n + 1))

    def take(self, first: int, last: int, names: _EdgeNames) -> _Cells:
        """Cells ``first`` to ``last - 1``; once the rows pass :data:`MAX_ROWS`, with their own
        compact copy of the rows they use."""
        starts = self.starts()
        lo, hi = starts[first], starts[last]
        owner = self.owner[lo:hi] - first
        if len(self.R) <= MAX_ROWS:
            return _Cells(self.V[lo:hi], self.T[lo:hi], self.names[lo:hi], owner, last - first, self.R)
        ids, T = np.unique(self.T[lo:hi], return_inverse=True)
        T = T.reshape(hi - lo, -1)
        return _Cells(self.V[lo:hi], T, names.of(T), owner, last - first, self.R[ids])

    def cut(self, names: _EdgeNames, sub: np.ndarray, distance: np.ndarray, planes: np.ndarray,
            keep: np.ndarray) -> tuple[_Cells, np.ndarray, np.ndarray, np.ndarray]:
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
        cells = _Cells(*(np.concatenate(x) for x in (V, T, edge_names)), np.concatenate(owner), base, R)
        side = np.concatenate([np.zeros(len(groups[0]), np.int8), np.ones(len(groups[1]), np.int8),
                               -np.ones(len(groups[2]), np.int8)])
        return cells, np.concatenate(groups), side, sub[bad & keep.any(axis=1)]

    def _crossing_edges(self, names: _EdgeNames, at, sub_owner, pos_v, neg_v, bad):
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


def _box_cell(lower: np.ndarray, upper: np.ndarray, names: _EdgeNames) -> _Cells:
    """The box ``[lower, upper]`` as one cell: rows ``u_j - lower_j >= 0`` (id j) and
    ``upper_j - u_j >= 0`` (id d + j)."""
    d = len(lower)
    corners = (np.arange(2**d)[:, None] >> np.arange(d)) & 1  # bit j: at the upper side of axis j
    V = np.c_[np.where(corners, upper, lower), np.ones(2**d)]
    T = np.sort(np.arange(d) + d * corners, axis=1).astype(np.int64)
    eye = np.eye(d)
    R = np.vstack([np.c_[eye, -lower], np.c_[-eye, upper]])
    return _Cells(V, T, names.of(T), np.zeros(2**d, np.intp), 1, R)


def _domain_cell(problem: CountingProblem, names: _EdgeNames) -> tuple[_Cells, float]:
    """The domain as a cell, and how far the cell's rows may lie outside the domain's.

    A box is one cell. A polytope (or the slice of a box by a subspace) is cut out of its
    bounding box, padded so that no box side touches it (the chart's bounds are LP bounds of
    its rows). If the polytope is not simple, its rows are moved outwards by up to
    :data:`DOMAIN_SLACK`: the cell then holds the domain, every region's set in it holds the
    region's, and :meth:`_Search._found` allows for the difference."""
    chart = problem.chart
    if chart.A.shape[0] == 0:
        return _box_cell(chart.lower, chart.upper, names), 0.0
    pad = 0.01 * (chart.upper - chart.lower) + 1.0
    box = _box_cell(chart.lower - pad, chart.upper + pad, names)
    rows = np.unique(np.c_[-chart.A, chart.c] / np.linalg.norm(chart.A, axis=1)[:, None], axis=0)
    try:
        return _cut_out(box, rows, names), 0.0
    except _Degenerate:
        rng = np.random.default_rng(0)
        rows[:, -1] += DOMAIN_SLACK / 2 * rng.uniform(0.5, 1.0, len(rows))
        return _cut_out(box, rows, names, rng), DOMAIN_SLACK


def _cut_out(cell: _Cells, rows: np.ndarray, names: _EdgeNames, rng: np.random.Generator | None = None) -> _Cells:
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
            raise _Degenerate
        else:
            tries[i] += 1
            rows[i, -1] += DOMAIN_SLACK / 20 * rng.uniform()


@dataclass
class _Layer:
    """A layer's pieces for a batch of cells at its entry, with what the cells' bounding boxes
    decide: ``may_cross[e, i]`` when neuron i's hyperplane may meet entry cell e, else
    ``settled[e, i]`` is its sign there."""

    index: int
    pieces: LayerPieces
    planes: np.ndarray  # (entry cells, width, d + 1): unit normals and offsets
    may_cross: np.ndarray
    settled: np.ndarray
    patterns: np.ndarray  # the entry cells' signs of the earlier layers


class _Search:
    """The search; ``slack`` is how far the domain cell's rows may lie outside the domain."""

    def __init__(self, problem: CountingProblem, log: RegionLog, stop_reason: Callable[[], str | None], slack: float,
                 names: _EdgeNames):
        self.problem = problem
        self.log = log
        self.stop_reason = stop_reason
        self.slack = slack
        self.names = names
        self.eps = problem.epsilon
        self.layers = problem.net.hidden_layers
        self.fallback: Splitter | None = None
        self.stopped: str | None = None
        self.degenerate = self.certified = 0

    def descend(self, cells: _Cells, affine: AffineMap, patterns: np.ndarray, l: int) -> None:
        """Split ``cells`` (where ``h^{l-1} = affine(u)``, batched) by the layers from ``l`` on
        and record the regions."""
        if l == len(self.layers):
            self._found(cells, patterns)
            return
        pieces = affine.layer(*self.layers[l])
        planes = np.concatenate([pieces.G, pieces.gamma[..., None]], axis=-1) / pieces.norms[..., None]
        starts = cells.starts()[:-1]
        lower, upper = np.minimum.reduceat(cells.V[:, :-1], starts), np.maximum.reduceat(cells.V[:, :-1], starts)
        centre = np.einsum("enk,ek->en", planes[..., :-1], (lower + upper) / 2) + planes[..., -1]
        spread = np.einsum("enk,ek->en", np.abs(planes[..., :-1]), (upper - lower) / 2)
        may_cross = (np.abs(centre) <= spread + 2 * self.eps) & ~pieces.constant
        layer = _Layer(l, pieces, planes, may_cross, np.where(pieces.constant, pieces.on_if_constant, centre > 0), patterns)
        self._split_from(layer, cells, np.arange(cells.n), np.zeros((cells.n, planes.shape[1]), bool), 0)

    def _split_from(self, layer: _Layer, cells: _Cells, entry: np.ndarray, on: np.ndarray, first: int) -> None:
        """Split ``cells`` (from the entry cells ``entry``, with the signs ``on`` of the neurons
        before ``first``) by the layer's neurons from ``first`` on, then go on to the next layer."""
        for i in range(first, on.shape[1]):
            self.stopped = self.stopped or self.stop_reason()
            if self.stopped:
                return
            cells, entry, on = self._split_neuron(layer, cells, entry, on, i)
            if cells.n == 0:
                return
            if len(cells.V) > LAYER_VERTICES and cells.n > 1:
                half = cells.n // 2
                for lo, hi in ((0, half), (half, cells.n)):
                    self._split_from(layer, cells.take(lo, hi, self.names), entry[lo:hi], on[lo:hi], i + 1)
                return
        starts = cells.starts()
        bounds = np.unique(np.r_[np.searchsorted(starts, np.arange(0, starts[-1], CHUNK_VERTICES), side="right") - 1, cells.n])
        for lo, hi in zip(bounds[:-1], bounds[1:]):
            affine = layer.pieces.restrict(on[lo:hi], entry[lo:hi])
            patterns = np.concatenate([layer.patterns[entry[lo:hi]], on[lo:hi]], axis=1)
            self.descend(cells.take(lo, hi, self.names), affine, patterns, layer.index + 1)
            if self.stopped:
                return

    def _split_neuron(self, layer: _Layer, cells: _Cells, entry: np.ndarray, on: np.ndarray, i: int):
        """Decide or split every cell by neuron ``i``: (cells, entry, on) after it."""
        on[:, i] = layer.settled[entry, i]
        sub = np.flatnonzero(layer.may_cross[entry, i])
        if sub.size == 0:
            return cells, entry, on
        in_sub = np.zeros(cells.n, bool)
        in_sub[sub] = True
        at = np.flatnonzero(in_sub[cells.owner])
        planes = layer.planes[entry[sub], i]
        touched = np.searchsorted(sub, cells.owner[at])  # each vertex's cell, as a position in sub
        distance = np.einsum("vk,vk->v", cells.V[at], planes[touched])
        starts = np.searchsorted(cells.owner[at], sub)
        lowest, highest = np.minimum.reduceat(distance, starts), np.maximum.reduceat(distance, starts)
        on[sub, i] = lowest > ON_PLANE
        one_side = (lowest > ON_PLANE) | (highest < -ON_PLANE)
        keep = np.stack([highest >= 2 * self.eps, lowest <= -2 * self.eps], axis=1) & ~one_side[:, None]
        change = ~one_side  # split, or dropped when neither side is kept
        if not change.any():
            return cells, entry, on
        new, parent, side, bad = cells.cut(self.names, sub[change], distance[change[touched]], planes[change], keep[change])
        for c in bad:
            self._hand_over(layer, cells, entry[c], on[c], i, cells.owner == c)
        on = on[parent]
        on[side != 0, i] = side[side != 0] > 0
        return new, entry[parent], on

    def _hand_over(self, layer: _Layer, cells: _Cells, e: int, on: np.ndarray, i: int, mine: np.ndarray) -> None:
        """Count the regions below a cell that is not simple with the ``split`` engine."""
        if self.stopped:
            return
        self.degenerate += 1
        if self.fallback is None:
            self.fallback = Splitter(self.problem, self.log)
        vertices, facets = cells.V[mine, :-1], cells.R[np.unique(cells.T[mine])]
        chart = self.problem.chart
        # witnesses must lie in the domain: all vertices do, unless the domain cell has slack
        inside = np.all(vertices @ chart.A.T <= chart.c, axis=1)
        inside &= np.all((vertices >= chart.lower) & (vertices <= chart.upper), axis=1)
        pieces = layer.pieces.take(e)
        rest = np.arange(i, len(pieces.gamma))
        on = on.copy()
        on[rest] = pieces.on_if_constant[rest]
        frame = self.fallback.resume(layer.index, pieces, on, rest[~pieces.constant[rest]], (layer.patterns[e],),
                                     -facets[:, :-1], facets[:, -1], vertices.min(axis=0), vertices.max(axis=0),
                                     vertices[inside])
        self.stopped = self.fallback.drain([frame], self.stop_reason)

    def _found(self, cells: _Cells, patterns: np.ndarray) -> None:
        """Record the cells that hold an epsilon-ball; the rows of the domain moved out by the
        slack are allowed for (the ball shrunk by it lies in the domain)."""
        radius, centres = cells.inner_radius()
        sure = is_region(radius - self.slack, self.eps)
        found, points = list(patterns[sure]), list(centres[sure]) if self.log.collect else []
        for c in np.flatnonzero(~sure):
            self.certified += 1
            certificate = certify(self.problem.net, self.problem.chart, patterns[c])
            if is_region(certificate.radius, self.eps):
                found.append(patterns[c])
                points.append(certificate.centre)
        self.log.add(found, points)


def run(
    problem: CountingProblem,
    *,
    deadline: Deadline = NEVER,
    on_region: Callable[[int], None] = lambda n: None,
    collect: bool = False,
) -> EngineRun:
    """Enumerate every region of ``problem`` by splitting vertex sets."""
    names = _EdgeNames(problem.chart.dim)
    try:
        cells, slack = _domain_cell(problem, names)
    except _Degenerate:
        cells = None
    if cells is None:  # the whole domain goes to the split engine
        result = split.run(problem, deadline=deadline, on_region=on_region, collect=collect)
        result.stats["degenerate"] = "domain"
        return result
    log = RegionLog(on_region, collect)
    with search_limits(deadline) as stop_reason:
        search = _Search(problem, log, stop_reason, slack, names)
        identity = AffineMap.identity(problem.chart.dim)
        batched = AffineMap(*(a[None] for a in (identity.M, identity.m, identity.M_abs, identity.m_abs)))
        search.descend(cells, batched, np.zeros((1, 0), bool), 0)
    stats = {"degenerate": search.degenerate, "certified": search.certified, "domain_slack": slack}
    if search.fallback is not None:
        stats["lps"] = search.fallback.lp.solves
    return log.result(search.stopped or "complete", stats)
