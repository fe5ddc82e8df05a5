"""The ``vertex`` engine: region splitting on vertex sets (double description), no LP.

Each cell is a *simple* polytope held by its vertices, each vertex with the ``d`` facets it
lies on (the double description of Motzkin et al. 1953; Fukuda & Prodon 1996). Cutting a cell
by a hyperplane needs no LP: the sign of every vertex says which side it is on, and the new
vertices are where the edges with ends on both sides cross the hyperplane. In a simple
polytope two vertices are the ends of an edge iff they share ``d - 1`` facets, so every edge is
named by a set of ``d - 1`` facets and the crossing edges are found by matching those names
between the two sides (a sort, no adjacency test). The new vertices are solved from their
``d`` facets, not interpolated, so errors do not build up along a path.

A depth-first search enters a layer on a cell with the layer's pre-activations, affine there
(:class:`~lrcount.region.LayerPieces`), and takes the neurons in turn with numpy over all
vertices at once:

- a neuron constant on the cell takes its sign; one whose vertices are all on one side
  (farther than :data:`ON_PLANE` from its hyperplane) takes that side;
- a side whose vertices are all within ``2 epsilon`` of the hyperplane holds no ball of radius
  epsilon (its width is below ``2 epsilon``), so it is dropped, as the definition of
  :mod:`lrcount.region` says; any other side is cut off as a new cell.

After the last layer a cell's set is exactly its pattern's set. It counts iff it holds a ball
of radius epsilon: the ball around the mean of its vertices that touches the nearest facet
says so for almost every cell; the rest get the Chebyshev LP of :func:`~lrcount.region.certify`.

Simple polytopes are the generic case. A vertex that lies on a hyperplane (a zero bias through
a corner of the box, two neurons with one hyperplane, a hyperplane through a crossing of
others) or a vertex that cannot be solved accurately makes the cell non-simple or
ill-conditioned: that cell is handed to the ``split`` engine's search, which needs no
general position, and the count stays exact. ``stats["degenerate"]`` says how often.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from ..lp import search_limits
from ..problem import CountingProblem
from ..region import FEASTOL, AffineMap, LayerPieces, certify, is_region
from . import EngineRun, RegionLog
from .split import Splitter

#: A vertex within this distance of a hyperplane (unit-scaled chart units) is taken to lie on
#: it, and a solved vertex farther than this from where its edge crosses is ill-conditioned.
ON_PLANE = FEASTOL


class _Degenerate(Exception):
    """The cell is not simple (or its new vertices are ill-conditioned)."""


@dataclass
class _Cell:
    """A simple polytope ``{u : R @ (u, 1) >= 0}`` (rows with unit normals): its vertices in
    homogeneous coordinates ``V`` (k x (d + 1), last column 1), the ids of the ``d`` rows of
    ``R`` each lies on, sorted (``T``), and the names of the edges at each (:class:`_EdgeNames`)."""

    V: np.ndarray
    T: np.ndarray
    R: np.ndarray
    names: np.ndarray

    def inner_radius(self) -> tuple[float, np.ndarray]:
        """A ball inside the cell: its centre (the mean of the vertices) and the distance from
        there to the nearest row, a lower bound on the inscribed radius."""
        centre = self.V.sum(axis=0) / len(self.V)
        return float((self.R @ centre).min()), centre[:-1]


class _EdgeNames:
    """Names of the edges of simple polytopes in R^d: the edge leaving a vertex when it leaves
    its j-th facet lies on the other ``d - 1`` facets; their sorted ids, hashed to one 64-bit
    integer (matches are checked, so a collision cannot go unnoticed)."""

    def __init__(self, d: int):
        self.d = d
        self.drop = np.array([[i for i in range(d) if i != j] for j in range(d)], dtype=np.intp)
        self.weights = np.random.default_rng(0).integers(1, 2**63, size=d - 1, dtype=np.uint64) | np.uint64(1)

    def of(self, T: np.ndarray) -> np.ndarray:
        """(k, d) names: entry j names the edge along which a vertex leaves its j-th facet."""
        return (T[:, self.drop].view(np.uint64) * self.weights).sum(axis=-1, dtype=np.uint64)

    def crossing(self, cell: _Cell, first: np.ndarray, second: np.ndarray):
        """The edges of ``cell`` from a vertex in ``first`` to one in ``second``: their ends and
        the ids of the ``d - 1`` facets each lies on."""
        d = self.d
        both = np.concatenate([cell.names[first].ravel(), cell.names[second].ravel()])
        order = np.argsort(both)
        ordered = both[order]
        match = (ordered[1:] == ordered[:-1]).nonzero()[0]
        i, j = np.minimum(order[match], order[match + 1]), np.maximum(order[match], order[match + 1])
        cross = (i < first.size * d) & (j >= first.size * d)  # not an edge with both ends on one side
        i, j = i[cross], j[cross] - first.size * d
        a, b = first[i // d], second[j // d]
        facets = cell.T[a[:, None], self.drop[i % d]]
        if not (facets == cell.T[b[:, None], self.drop[j % d]]).all():
            raise _Degenerate
        return a, b, facets


def _cut(cell: _Cell, names: _EdgeNames, row: np.ndarray, distance: np.ndarray, sides: tuple[bool, bool]) -> list[_Cell]:
    """The parts of ``cell`` on the chosen sides (positive, negative) of the hyperplane
    ``row @ (u, 1) = 0`` (unit normal), given each vertex's signed ``distance`` to it, none
    within :data:`ON_PLANE`."""
    positive = distance > 0
    pos, neg = positive.nonzero()[0], (~positive).nonzero()[0]
    a, b, facets = names.crossing(cell, pos, neg)
    t = distance[a] / (distance[a] - distance[b])
    crossed = cell.V[a] + t[:, None] * (cell.V[b] - cell.V[a])
    T_new = np.empty((len(a), names.d), dtype=np.int64)
    T_new[:, :-1], T_new[:, -1] = facets, len(cell.R)
    R = np.concatenate([cell.R, row[None]])
    system = R[T_new]
    try:
        solved = np.linalg.solve(system[..., :-1], -system[..., -1:])[..., 0]
    except np.linalg.LinAlgError:
        raise _Degenerate from None
    if not np.abs(solved - crossed[:, :-1]).max() <= ON_PLANE:
        raise _Degenerate
    crossed[:, :-1] = solved
    new_names = names.of(T_new)
    parts = []
    for keep, side, R_side in ((sides[0], pos, R), (sides[1], neg, None)):
        if keep:
            if R_side is None:
                R_side = np.concatenate([cell.R, -row[None]])
            parts.append(_Cell(np.concatenate([cell.V[side], crossed]), np.concatenate([cell.T[side], T_new]), R_side,
                               np.concatenate([cell.names[side], new_names])))
    return parts


def _box_cell(lower: np.ndarray, upper: np.ndarray, names: _EdgeNames) -> _Cell:
    """The box ``[lower, upper]`` as a cell: rows ``u_j - lower_j >= 0`` (id j) and
    ``upper_j - u_j >= 0`` (id d + j)."""
    d = len(lower)
    corners = (np.arange(2**d)[:, None] >> np.arange(d)) & 1  # bit j: at the upper side of axis j
    V = np.c_[np.where(corners, upper, lower), np.ones(2**d)]
    T = np.arange(d) + d * corners
    T.sort(axis=1)
    eye = np.eye(d)
    R = np.vstack([np.c_[eye, -lower], np.c_[-eye, upper]])
    T = T.astype(np.int64)
    return _Cell(V, T, R, names.of(T))


#: How far (unit-scaled chart units) the rows of a domain that is not a simple polytope are
#: moved outwards, at random, to make it one (data subspaces of MNIST have vertices on 17 rows).
DOMAIN_SLACK = 1e-6


def _domain_cell(problem: CountingProblem, names: _EdgeNames) -> tuple[_Cell, float]:
    """The domain as a cell, and how far the cell's rows may lie outside the domain's.

    A box is one cell. A polytope (or the slice of a box by a subspace) is cut out of its
    bounding box, padded so that no box side touches it (the chart's bounds are LP bounds of
    its rows). If the polytope is not simple, its rows are moved outwards by up to
    :data:`DOMAIN_SLACK`: the cell then holds the domain, every region's set in it holds the
    region's, and :meth:`_VertexSplitter._found` allows for the difference."""
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


def _cut_out(cell: _Cell, rows: np.ndarray, names: _EdgeNames, rng: np.random.Generator | None = None) -> _Cell:
    """``cell`` cut by the half-spaces ``rows @ (u, 1) >= 0``, the deepest cut first. With
    ``rng``, a row that meets a vertex is moved outwards by up to ``DOMAIN_SLACK / 20`` and
    tried again, at most 10 times (so no row moves by more than ``DOMAIN_SLACK`` in all)."""
    tries = np.zeros(len(rows), int)
    while True:
        distance = cell.V @ rows.T
        cutting = np.flatnonzero(distance.min(axis=0) < -ON_PLANE)
        if cutting.size == 0:
            return cell
        i = cutting[np.argmin(distance[:, cutting].min(axis=0))]
        try:
            if np.any(np.abs(distance[:, i]) <= ON_PLANE):
                raise _Degenerate
            cell = _cut(cell, names, rows[i], distance[:, i], (True, False))[0]
        except _Degenerate:
            if rng is None or tries[i] == 10:
                raise
            tries[i] += 1
            rows[i, -1] += DOMAIN_SLACK / 20 * rng.uniform()


@dataclass
class _Node:
    """A cell of the search inside layer ``layer``: ``on`` holds the signs of the layer's
    neurons outside ``todo``; ``path`` those of the earlier layers."""

    layer: int
    pieces: LayerPieces
    planes: np.ndarray  # the layer's hyperplanes (G_i, gamma_i) / ||G_i||
    on: np.ndarray
    todo: np.ndarray
    path: tuple
    cell: _Cell


class _VertexSplitter:
    """The search; ``slack`` is how far the domain cell's rows may lie outside the domain."""

    def __init__(self, problem: CountingProblem, log: RegionLog, stop_reason: Callable[[], str | None], slack: float,
                 names: _EdgeNames):
        self.problem = problem
        self.stop_reason = stop_reason
        self.stopped: str | None = None
        self.eps = problem.epsilon
        self.layers = problem.net.hidden_layers
        self.log = log
        self.names = names
        self.fallback: Splitter | None = None
        self.slack = slack
        self.degenerate = self.certified = 0

    def enter(self, layer: int, affine: AffineMap, path: tuple, cell: _Cell) -> _Node:
        """The node that starts hidden layer ``layer`` on ``cell``, where ``h^{layer-1} = affine(u)``."""
        pieces = affine.layer(*self.layers[layer])
        planes = np.concatenate([pieces.G, pieces.gamma[:, None]], axis=1) / pieces.norms[:, None]
        return _Node(layer, pieces, planes, pieces.on_if_constant.copy(), np.flatnonzero(~pieces.constant), path, cell)

    def expand(self, node: _Node) -> list[_Node]:
        """Decide what the node's vertices decide; split its cell by the first neuron they do not."""
        while True:
            todo, cell = node.todo, node.cell
            distance = cell.V @ node.planes[todo].T
            lowest, highest = distance.min(axis=0), distance.max(axis=0)
            positive_ok, negative_ok = highest >= 2 * self.eps, lowest <= -2 * self.eps
            if not (positive_ok | negative_ok).all():
                return []  # both sides of a hyperplane are thinner than 2 epsilon
            on_side = lowest > ON_PLANE
            open_ = ~(on_side | (highest < -ON_PLANE))
            on = node.on.copy()
            on[todo] = np.where(open_, on[todo], on_side)
            if open_.any():
                break
            if node.layer + 1 == len(self.layers):
                self._found((*node.path, on), cell)
                return []
            node = self.enter(node.layer + 1, node.pieces.restrict(on), (*node.path, on), cell)
        open_ = open_.nonzero()[0]
        j = open_[0]
        i, rest = todo[j], todo[open_[1:]]
        sides = (positive_ok[j], negative_ok[j])
        try:
            if (np.abs(distance[:, j]) <= ON_PLANE).any():
                raise _Degenerate
            parts = _cut(cell, self.names, node.planes[i], distance[:, j], sides)
        except _Degenerate:
            return self._hand_over(node, on, todo[open_])
        children = []
        for side, part in zip([s for s, keep in zip((True, False), sides) if keep], parts):
            child_on = on.copy()
            child_on[i] = side
            children.append(_Node(node.layer, node.pieces, node.planes, child_on, rest, node.path, part))
        return children

    def _found(self, path: tuple, cell: _Cell) -> None:
        pattern = np.concatenate(path) if path else np.zeros(0, bool)
        radius, centre = cell.inner_radius()
        # rows of the domain moved out by the slack: the ball shrunk by it lies in the domain
        if not is_region(radius - self.slack, self.eps):
            self.certified += 1
            certificate = certify(self.problem.net, self.problem.chart, pattern)
            if not is_region(certificate.radius, self.eps):
                return
            centre = certificate.centre
        self.log.add([pattern], [centre])

    def _hand_over(self, node: _Node, on: np.ndarray, todo: np.ndarray) -> list[_Node]:
        """Count the regions below a degenerate node with the ``split`` engine."""
        self.degenerate += 1
        if self.fallback is None:
            self.fallback = Splitter(self.problem, self.log)
        R, vertices = node.cell.R, node.cell.V[:, :-1]
        chart = self.problem.chart
        # witnesses must lie in the domain: all vertices do, unless the domain cell has slack
        inside = np.all(vertices @ chart.A.T <= chart.c, axis=1)
        inside &= np.all((vertices >= chart.lower) & (vertices <= chart.upper), axis=1)
        frame = self.fallback.resume(node.layer, node.pieces, on, todo, node.path, -R[:, :-1], R[:, -1],
                                     vertices.min(axis=0), vertices.max(axis=0), vertices[inside])
        self.stopped = self.fallback.drain([frame], self.stop_reason)
        return []

    def search(self, stack: list[_Node]) -> str | None:
        """Depth first from ``stack``; the reason to stop early, if any."""
        steps = 0
        while stack and not self.stopped:
            stack.extend(self.expand(stack.pop()))
            steps += 1
            if steps % 64 == 0:
                self.stopped = self.stop_reason()
        return self.stopped


def run(
    problem: CountingProblem,
    *,
    time_limit: float | None = None,
    on_region: Callable[[], None] = lambda: None,
    collect: bool = False,
) -> EngineRun:
    """Enumerate every region of ``problem`` by splitting vertex sets."""
    log = RegionLog(on_region, collect)
    names = _EdgeNames(problem.chart.dim)
    with search_limits(time_limit) as stop_reason:
        try:
            cell, slack = _domain_cell(problem, names)
        except _Degenerate:  # the whole domain goes to the split engine
            splitter = Splitter(problem, log)
            first = splitter.start()
            status = splitter.drain([] if first is None else [first], stop_reason)
            return log.result(status or "complete", {"lps": splitter.lp.solves, "degenerate": "domain"})
        searcher = _VertexSplitter(problem, log, stop_reason, slack, names)
        if problem.net.hidden_layers:
            status = searcher.search([searcher.enter(0, AffineMap.identity(problem.chart.dim), (), cell)])
        else:  # an affine network: the domain is one region
            searcher._found((), cell)
            status = None
    stats = {"degenerate": searcher.degenerate, "certified": searcher.certified, "domain_slack": slack}
    if searcher.fallback is not None:
        stats["lps"] = searcher.fallback.lp.solves
    return log.result(status or "complete", stats)
