"""The search of the ``vertex`` engine: a layer at a time, neuron by neuron over all cells'
vertices at once, cells that are not simple handed to ``split``."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ...problem import CountingProblem
from ...region import AffineMap, LayerPieces, certify, is_region
from ...runtime import NEVER, Deadline
from ...tolerances import ON_PLANE
from .. import RegionLog
from ..cells import box_sides, unit_planes
from ..frontier import Prefix, Slicing, chunk_bounds, prefix_maps
from ..split import Fallback
from .polytopes import Cells, EdgeNames

#: Vertices of the cells that go through the next layers together.
CHUNK_VERTICES = 20_000
#: A layer's cells are processed in halves once they hold more vertices than this.
LAYER_VERTICES = 250_000


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


class VertexSearch:
    """The search; ``slack`` is how far the domain cell's rows may lie outside the domain.

    Once ``slice_end`` passes, cells not yet taken below a layer boundary go to ``frontier``
    instead, with their vertices (:class:`~lrcount.engines.frontier.Slicing` says which)."""

    def __init__(self, problem: CountingProblem, log: RegionLog, stop_reason: Callable[[], str | None], slack: float,
                 names: EdgeNames, *, slice_end: Deadline = NEVER):
        self.problem = problem
        self.slicing = Slicing(slice_end, len(problem.net.hidden_layers), lambda: log.count)
        self.frontier: list[Prefix] = []
        self.log = log
        self.stop_reason = stop_reason
        self.slack = slack
        self.names = names
        self.eps = problem.epsilon
        self.layers = problem.net.hidden_layers
        self.fallback = Fallback(problem, log, slice_end=slice_end, frontier=self.frontier)
        self.stopped: str | None = None
        self.certified = 0

    def descend(self, cells: Cells, affine: AffineMap, patterns: np.ndarray, l: int, on: np.ndarray | None = None,
                first: int = 0) -> None:
        """Split ``cells`` (where ``h^{l-1} = affine(u)``, batched; ``on``: their signs of layer
        ``l``'s neurons before ``first``) by the layers from ``l`` on and record the regions."""
        if l == len(self.layers):
            self._found(cells, patterns)
            return
        pieces = affine.layer(*self.layers[l])
        planes = unit_planes(pieces)
        starts = cells.starts()[:-1]
        lower, upper = np.minimum.reduceat(cells.V[:, :-1], starts), np.maximum.reduceat(cells.V[:, :-1], starts)
        # slack 2 epsilon: the width below which a side cut off is dropped (_split_neuron), so
        # that a plane that grazes the box is tested on the vertices by the same rule
        centre, may_cross = box_sides(planes, (lower + upper) / 2, (upper - lower) / 2, 2 * self.eps)
        may_cross &= ~pieces.constant
        layer = _Layer(l, pieces, planes, may_cross, np.where(pieces.constant, pieces.on_if_constant, centre > 0), patterns)
        on = np.zeros((cells.n, planes.shape[1]), bool) if on is None else on
        self._split_from(layer, cells, np.arange(cells.n), on, first)

    def _split_from(self, layer: _Layer, cells: Cells, entry: np.ndarray, on: np.ndarray, first: int) -> None:
        """Split ``cells`` (from the entry cells ``entry``, with the signs ``on`` of the neurons
        before ``first``) by the layer's neurons from ``first`` on, then go on to the next layer."""
        for i in range(first, on.shape[1]):
            self.stopped = self.stopped or self.stop_reason()
            if self.stopped:
                return
            if self.slicing.hand_back_inside(layer.index):
                todo = np.arange(i, on.shape[1])
                self.frontier.extend(Prefix(layer.index, layer.patterns[e], on[c], todo, cell)
                                     for c, (e, cell) in enumerate(zip(entry, cells.parts())))
                return
            cells, entry, on = self._split_neuron(layer, cells, entry, on, i)
            self.slicing.steps += 1
            if cells.n == 0:
                return
            if len(cells.V) > LAYER_VERTICES and cells.n > 1:
                half = cells.n // 2
                for lo, hi in ((0, half), (half, cells.n)):
                    self._split_from(layer, cells.take(lo, hi, self.names), entry[lo:hi], on[lo:hi], i + 1)
                return
        patterns = np.concatenate([layer.patterns[entry], on], axis=1)
        bounds = chunk_bounds(np.diff(cells.starts()), self.slicing.chunk_size(CHUNK_VERTICES, layer.index + 1))
        for lo, hi in self.slicing.chunks(bounds, layer.index + 1):
            affine = layer.pieces.restrict(on[lo:hi], entry[lo:hi])
            self.descend(cells.take(lo, hi, self.names), affine, patterns[lo:hi], layer.index + 1)
            if self.stopped:
                return
        if (lo := self.slicing.rest_from) is not None:
            rest = cells.take(lo, cells.n, self.names).parts()
            self.frontier.extend(Prefix(layer.index + 1, bits, cell=cell) for bits, cell in zip(patterns[lo:], rest))

    def explore(self, layer: int, first: int, prefixes: list[Prefix]) -> None:
        """Search below ``prefixes`` (of one layer, with their cells and the signs of the
        layer's neurons before ``first``), a chunk at a time; the chunks not taken when the
        slice ends go back as they came."""
        bounds = chunk_bounds(np.array([len(p.cell["V"]) for p in prefixes]),
                              self.slicing.chunk_size(CHUNK_VERTICES, layer))
        for lo, hi in self.slicing.chunks(bounds, layer):
            bits = np.array([prefix.bits for prefix in prefixes[lo:hi]])
            affine = prefix_maps(self.layers, bits, layer, self.problem.chart.dim)
            on = np.array([prefix.on for prefix in prefixes[lo:hi]]) if first else None
            self.descend(Cells.joined([prefix.cell for prefix in prefixes[lo:hi]], self.names), affine, bits, layer,
                         on, first)
            if self.stopped:
                return
        if self.slicing.rest_from is not None:
            self.frontier.extend(prefixes[self.slicing.rest_from:])

    def _split_neuron(self, layer: _Layer, cells: Cells, entry: np.ndarray, on: np.ndarray, i: int):
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

    def _hand_over(self, layer: _Layer, cells: Cells, e: int, on: np.ndarray, i: int, mine: np.ndarray) -> None:
        """Count the regions below a cell that is not simple with the ``split`` engine."""
        if self.stopped:
            return
        vertices, facets = cells.V[mine, :-1], cells.R[np.unique(cells.T[mine])]
        chart = self.problem.chart
        # witnesses must lie in the domain: all vertices do, unless the domain cell has slack
        inside = np.all(vertices @ chart.A.T <= chart.c, axis=1)
        inside &= np.all((vertices >= chart.lower) & (vertices <= chart.upper), axis=1)
        pieces = layer.pieces.take(e)
        rest = np.arange(i, len(pieces.gamma))
        on = on.copy()
        on[rest] = pieces.on_if_constant[rest]
        self.stopped = self.fallback.count_below(
            self.stop_reason, layer=layer.index, pieces=pieces, on=on, todo=rest[~pieces.constant[rest]],
            path=(layer.patterns[e],), A=-facets[:, :-1], c=facets[:, -1], lower=vertices.min(axis=0),
            upper=vertices.max(axis=0), points=vertices[inside])

    def _found(self, cells: Cells, patterns: np.ndarray) -> None:
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
