"""The depth-first search of the ``planar`` engine: a layer at a time, degenerate cells handed
to ``split``, regions recorded in chunks."""

from __future__ import annotations

import numpy as np

from ...problem import CountingProblem
from ...region import LayerPieces
from ...runtime import NEVER, Deadline
from ...tolerances import FEASTOL
from .. import RegionLog
from ..cells import box_sides, ragged_starts, unit_planes
from ..frontier import Prefix, Slicing, chunk_bounds, prefix_maps
from ..split import Fallback
from .arrangement import BATCH_BITS, Faces, arrange, batches
from .polygons import Cells, cut_by_line, interior_points, keep_thick, select

#: Cells processed together through the next layers (bounds the memory).
CHUNK = 1024


class PlanarSplitter:
    """The search. ``stop_reason`` says why to stop, if at all. With ``draw``, degenerate cells
    are split neuron by neuron so that every region has a polygon; otherwise they are handed
    to the ``split`` engine, which decides them by the LPs of the definition (:meth:`_hand_over`).

    Once ``slice_end`` passes, cells not yet taken below a layer boundary go to ``frontier``
    instead, with their vertices (:class:`~lrcount.engines.frontier.Slicing` says which)."""

    def __init__(self, problem: CountingProblem, on_region, collect, stop_reason, *, draw: bool = False,
                 slice_end: Deadline = NEVER):
        self.problem = problem
        self.layers = problem.net.hidden_layers
        self.log = RegionLog(on_region, collect)
        self.slicing = Slicing(slice_end, len(self.layers), lambda: self.log.count)
        self.frontier: list[Prefix] = []
        self.stop_reason = stop_reason
        self.draw = draw
        self.polygons: list[np.ndarray] = []
        self.fallback = Fallback(problem, self.log, slice_end=slice_end, frontier=self.frontier)

    def should_stop(self) -> None:
        if reason := self.stop_reason():
            raise Stop(reason)

    def descend(self, cells: Cells, l: int, on: np.ndarray | None = None, first: int = 0) -> None:
        """Split ``cells`` (with their signs ``on`` of layer ``l``'s neurons before ``first``)
        by the layers from ``l`` on and record the regions."""
        if l == len(self.layers):
            self._found(cells)
            return
        cells, pieces, entry, on = self._split_layer(cells, l, on, first)
        bounds = chunk_bounds(np.ones(cells.n, int), self.slicing.chunk_size(CHUNK, l + 1))
        for start, end in self.slicing.chunks(bounds, l + 1):
            chunk = np.arange(start, end)
            verts, owner = select(cells.verts, cells.owner, cells.n, chunk)
            # the maps of one chunk at a time: for all cells they can take gigabytes
            affine = pieces.restrict(on[chunk], entry[chunk])
            self.descend(Cells(verts, owner, len(chunk), affine, cells.patterns[chunk]), l + 1)
        if (lo := self.slicing.rest_from) is not None:
            rest = np.arange(lo, cells.n)
            self.frontier.extend(Prefix(l + 1, cells.patterns[c], cell={"verts": v})
                                 for c, v in zip(rest, _polygons(cells.verts, cells.owner, cells.n, rest)))

    def explore(self, l: int, first: int, prefixes: list[Prefix]) -> None:
        """Search below ``prefixes`` (of layer ``l``, with their cells and the signs of the
        layer's neurons before ``first``), a chunk at a time; the chunks not taken when the
        slice ends go back as they came."""
        for lo, hi in self.slicing.chunks(chunk_bounds(np.ones(len(prefixes), int), self.slicing.chunk_size(CHUNK, l)),
                                          l):
            bits = np.array([prefix.bits for prefix in prefixes[lo:hi]])
            verts = [prefix.cell["verts"] for prefix in prefixes[lo:hi]]
            owner = np.repeat(np.arange(hi - lo), [len(v) for v in verts])
            affine = prefix_maps(self.layers, bits, l, self.problem.chart.dim)
            on = np.array([prefix.on for prefix in prefixes[lo:hi]]) if first else None
            self.descend(Cells(np.concatenate(verts), owner, hi - lo, affine, bits), l, on, first)
        if self.slicing.rest_from is not None:
            self.frontier.extend(prefixes[self.slicing.rest_from:])

    def _split_layer(self, cells: Cells, l: int, on: np.ndarray | None,
                     first: int) -> tuple[Cells, LayerPieces, np.ndarray, np.ndarray]:
        """Split ``cells`` (with their signs ``on`` of the layer's neurons before ``first``) by
        layer ``l``: the new cells (patterns up to l, no maps yet), the layer's pieces, and each
        new cell's entry cell and signs in the layer. Cells handed back meanwhile are not in it.

        Polygons are cut by all the layer's lines at once (:func:`arrange`), in batches of
        :data:`BATCH_BITS`; those where that meets a degeneracy are handed over
        (:meth:`_hand_over`; split neuron by neuron when drawing); segments and polygons too
        large for a batch, and cells handed back inside the layer, are split neuron by neuron
        (:meth:`_split_by_neurons`)."""
        batched = cells.affine if cells.affine.M.ndim == 3 else cells.affine.repeated(cells.n)
        pieces: LayerPieces = batched.layer(*self.layers[l])
        planes = unit_planes(pieces)
        starts = ragged_starts(cells.owner, cells.n)[:-1]
        lower, upper = np.minimum.reduceat(cells.verts, starts), np.maximum.reduceat(cells.verts, starts)
        # slack FEASTOL: a line within it of a vertex is on it, here as when splitting neuron by neuron
        centre, may_cross = box_sides(planes, (lower + upper) / 2, (upper - lower) / 2, FEASTOL)
        may_cross &= ~pieces.constant
        settled = np.where(pieces.constant, pieces.on_if_constant, centre > 0)
        parts, by_neurons = [], [np.arange(cells.n)]
        if cells.verts.shape[1] == 2 and first == 0:
            lines = may_cross.sum(axis=1)
            cost = (np.bincount(cells.owner, minlength=cells.n) + 2 * lines * (lines + 1)) * np.maximum(lines, 1)
            small = np.flatnonzero(cost <= BATCH_BITS)
            by_neurons = [np.flatnonzero(cost > BATCH_BITS)]
            for group in batches(cost[small]):
                group = small[group]
                self.should_stop()
                if self.slicing.hand_back_inside(l):  # this group and the ones after it, as they came
                    rest = np.concatenate([small[small >= group[0]], by_neurons[0]])
                    self.frontier.extend(Prefix(l, cells.patterns[c], cell={"verts": v})
                                         for c, v in zip(rest, _polygons(cells.verts, cells.owner, cells.n, rest)))
                    by_neurons = by_neurons[1:]  # cells that met a degeneracy, when drawing
                    break
                verts, owner = select(cells.verts, cells.owner, cells.n, group)
                faces, degenerate = arrange(verts, owner, len(group), planes[group], may_cross[group],
                                              settled[group], self.problem.epsilon)
                parts.append(faces.from_cells(group))
                if self.draw:
                    by_neurons.append(group[degenerate])
                else:
                    self._hand_over(cells.patterns[group[degenerate]], l)
                self.slicing.steps += 1
        by_neurons = np.concatenate(by_neurons) if by_neurons else np.zeros(0, int)
        if by_neurons.size:
            verts, owner = select(cells.verts, cells.owner, cells.n, by_neurons)
            start = np.zeros((len(by_neurons), planes.shape[1]), bool) if on is None else on[by_neurons]
            faces = self._split_by_neurons(verts, owner, planes[by_neurons], may_cross[by_neurons],
                                           settled[by_neurons], start, first, l, cells.patterns[by_neurons])
            parts.append(faces.from_cells(by_neurons))
        faces = Faces.concatenate(parts) if parts else Faces.empty(cells.verts.shape[1], planes.shape[1])
        patterns = np.concatenate([cells.patterns[faces.entry], faces.on], axis=1)
        return Cells(faces.verts, faces.owner, faces.n, None, patterns), pieces, faces.entry, faces.on

    def _hand_over(self, prefixes: np.ndarray, l: int) -> None:
        """Count the regions below cells where the arrangement is degenerate (their earlier
        layers' signs: ``prefixes``) with the ``split`` engine, from layer ``l`` on. Their
        polygons' vertices are too close to other lines to trust, so the LPs of the definition
        decide them (docs/counting.md, the engines' table)."""
        for j, bits in enumerate(prefixes):
            if j and self.slicing.due():  # the rest goes back, to be counted as split nodes
                self.frontier.extend(Prefix(l, rest) for rest in prefixes[j:])
                return
            if reason := self.fallback.count_prefix(Prefix(l, bits), self.stop_reason):
                raise Stop(reason)

    def _split_by_neurons(self, verts, owner, planes, may_cross, settled, on, first, l, patterns) -> Faces:
        """Split cells (with the signs ``on`` of layer ``l``'s neurons before ``first``, and
        the earlier layers' ``patterns``) by one neuron at a time: the pieces, as
        :class:`Faces`; none if the slice ends first (the cells are then handed back)."""
        n, width = len(on), planes.shape[1]
        entry = np.arange(n)  # each cell's cell at the layer's entry
        on = on.copy()
        for i in range(first, width):
            self.should_stop()
            if self.slicing.hand_back_inside(l):
                todo = np.arange(i, width)
                self.frontier.extend(Prefix(l, patterns[e], on[c], todo, cell={"verts": v})
                                     for c, (e, v) in enumerate(zip(entry, _polygons(verts, owner, n, np.arange(n)))))
                return Faces.empty(verts.shape[1], width)
            self.slicing.steps += 1
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
            new_verts, new_owner, n_new, sub_parent, sub_side = cut_by_line(sub_verts, sub_owner, n_sub, distance,
                                                                      np.zeros(n_sub, int))
            if n_new != n_sub:
                first_new = n_new - 2 * (n_new - n_sub)  # the halves of split cells come last
                tail = np.searchsorted(new_owner, first_new)
                keep = np.ones(n_new, bool)
                keep[first_new:] = keep_thick(new_verts[tail:], new_owner[tail:] - first_new, n_new - first_new,
                                               self.problem.epsilon)
                if not keep.all():
                    kept = np.flatnonzero(keep)
                    new_verts, new_owner = select(new_verts, new_owner, n_new, kept)
                    sub_parent, sub_side = sub_parent[kept], sub_side[kept]
            # the cells it cannot cross first, unchanged, then the crossed ones as split
            rest = ~crossing
            n_rest = int(rest.sum())
            verts = np.concatenate([verts[~at_crossing], new_verts])
            owner = np.concatenate([(np.cumsum(rest) - 1)[owner[~at_crossing]], n_rest + new_owner])
            parent = np.concatenate([np.flatnonzero(rest), np.flatnonzero(crossing)[sub_parent]])
            entry, on, n = entry[parent], on[parent], len(parent)
            on[n_rest:, i] = sub_side
        return Faces(verts, owner, n, entry, on)

    def _found(self, cells: Cells) -> None:
        if self.draw:
            starts = cells.starts
            self.polygons.extend(cells.verts[starts[j]:starts[j + 1]] for j in range(cells.n))
        points = interior_points(cells.verts, cells.owner, cells.n, self.problem.epsilon) if self.log.collect else ()
        self.log.add(cells.patterns, points)


def _polygons(verts: np.ndarray, owner: np.ndarray, n: int, cells: np.ndarray) -> list[np.ndarray]:
    """The vertices of each of ``cells`` (of ``n`` grouped by the sorted ``owner``)."""
    starts = ragged_starts(owner, n)
    return [verts[starts[c]:starts[c + 1]] for c in cells]


class Stop(Exception):
    def __init__(self, status: str):
        self.status = status
