"""Partial activation patterns: the units of work of a parallel or resumable count.

The regions of a network are the leaves of a tree whose nodes are partial patterns (the signs
of the first layers' neurons, then of some neurons of the next layer). The subtrees below
disjoint nodes hold disjoint sets of regions, so a count can be cut into tasks at any set of
nodes that covers the tree's unexplored part, and the task counts add up exactly. The domain is
never cut: a region on a cut would be counted twice (docs/parallel.md).

A task is a list of :class:`Prefix` nodes. An engine explores them until its time slice ends
and hands back its unexplored nodes (its *frontier*) as new prefixes, so the work balances
over any tree shape without shared memory, and the tasks are plain arrays that can travel to
other processes, other machines, or a checkpoint file. A node of ``planar`` or ``vertex``
carries its cell (vertices, and the facets they lie on), so that the engine goes on with the
very numbers its serial search would have had; a ``split`` node is rebuilt from its pattern's
rows.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from ..region import AffineMap
from ..runtime import NEVER, Deadline


@dataclass(frozen=True)
class Prefix:
    """The node of the search below which lie the regions whose pattern starts with ``bits``
    (the signs of every hidden neuron of the layers before ``layer``) and, when ``todo`` is
    given, agrees with ``on`` on the neurons of ``layer`` that are not in ``todo`` (the
    ``split`` engine's nodes inside a layer; ``todo`` keeps its order of splitting)."""

    layer: int
    bits: np.ndarray
    on: np.ndarray | None = None
    todo: np.ndarray | None = None
    cell: dict[str, np.ndarray] | None = None  # an engine's own description of the node's set

    @classmethod
    def root(cls) -> Prefix:
        """The whole tree."""
        return cls(0, np.zeros(0, bool))

    def to_json(self) -> dict:
        """A JSON-ready dict (bit arrays packed, base64)."""
        out = {"layer": self.layer, "n": len(self.bits), "bits": _pack(self.bits)}
        if self.todo is not None:
            out.update(on=_pack(self.on), width=len(self.on), todo=self.todo.tolist())
        if self.cell is not None:
            cell = dict(self.cell)
            if "T" in cell:  # facet ids into rows shared with other cells: keep this cell's rows only
                ids, T = np.unique(cell["T"], return_inverse=True)
                cell.update(T=T.reshape(cell["T"].shape).astype(np.int64), R=cell["R"][ids])
            out["cell"] = {name: {"dtype": a.dtype.str, "shape": list(a.shape),
                                  "data": base64.b64encode(np.ascontiguousarray(a).tobytes()).decode("ascii")}
                           for name, a in cell.items()}
        return out

    @classmethod
    def from_json(cls, data: dict) -> Prefix:
        """The inverse of :meth:`to_json`."""
        bits = _unpack(data["bits"], int(data["n"]))
        on = todo = cell = None
        if "todo" in data:
            on, todo = _unpack(data["on"], data["width"]), np.asarray(data["todo"], dtype=np.intp)
        if "cell" in data:
            cell = {name: np.frombuffer(base64.b64decode(a["data"]), dtype=np.dtype(a["dtype"])).reshape(a["shape"]).copy()
                    for name, a in data["cell"].items()}
        return cls(int(data["layer"]), bits, on, todo, cell)


def _pack(bits: np.ndarray) -> str:
    return base64.b64encode(np.packbits(bits).tobytes()).decode("ascii")


def _unpack(text: str, n: int) -> np.ndarray:
    return np.unpackbits(np.frombuffer(base64.b64decode(text), np.uint8), count=n).astype(bool)


def prefix_maps(layers, bits: np.ndarray, layer: int, dim: int) -> AffineMap:
    """The maps ``h^{layer-1}(u)`` on the sets of the patterns ``bits`` (rows; the signs of
    the layers before ``layer``), batched, by the steps the layer-by-layer engines take."""
    affine = AffineMap.identity(dim).repeated(len(bits))
    start = 0
    for w, b in layers[:layer]:
        affine = affine.layer(w, b).restrict(bits[:, start:start + len(b)])
        start += len(b)
    return affine


def chunk_bounds(sizes: np.ndarray, limit: int) -> list[tuple[int, int]]:
    """Consecutive runs ``(lo, hi)`` of items whose ``sizes`` add up to about ``limit`` (a run
    ends at the first item that starts at or past a multiple of it; at least one item each)."""
    starts = np.r_[0, np.cumsum(sizes)]
    bounds = np.unique(np.r_[np.searchsorted(starts, np.arange(0, starts[-1], limit), side="right") - 1, len(sizes)])
    return list(zip(bounds[:-1].tolist(), bounds[1:].tolist()))


def by_layer(prefixes: Sequence[Prefix]) -> dict[int, list[Prefix]]:
    """The prefixes grouped by layer, in order of first appearance."""
    groups: dict[int, list[Prefix]] = {}
    for prefix in prefixes:
        groups.setdefault(prefix.layer, []).append(prefix)
    return groups


class Slicing:
    """Where a layer-by-layer search (``planar``, ``vertex``) takes its cells below a layer
    boundary in chunks, and when it hands the chunks not taken back once ``slice_end`` has
    passed (and the task has found a region, so that every task makes progress).

    Handing a cell back costs about what splitting it by one layer costs (its maps are rebuilt
    from its pattern), so the cells that only wait for the last layer are finished here while
    a shallower loop still holds chunks, which go back instead; and while sliced, the loops
    above the last layer take small chunks, so that what goes back comes in small pieces
    (the last layer's loop keeps large ones: they batch the most work)."""

    def __init__(self, slice_end: Deadline, n_layers: int):
        self.slice_end, self.n_layers = slice_end, n_layers
        self.sliced = slice_end is not NEVER
        self.more: list[bool] = []  # per open loop, outermost first: chunks wait after the current one
        self.rest_from: int | None = None

    def chunk_size(self, default: int, boundary: int) -> int:
        """The size of a chunk below ``boundary``: smaller above the last layer while sliced."""
        return max(1, default // 16) if self.sliced and boundary < self.n_layers - 1 else default

    def chunks(self, bounds: Sequence[tuple[int, int]], boundary: int, found: Callable[[], int]) -> Iterator[tuple[int, int]]:
        """The chunks ``(lo, hi)`` to take below ``boundary``; when it stops early,
        ``rest_from`` is the first cell to hand back (else None)."""
        self.more.append(False)
        self.rest_from = None
        try:
            for j, (lo, hi) in enumerate(bounds):
                self.more[-1] = j + 1 < len(bounds)
                if (self.sliced and boundary < self.n_layers and found() and self.slice_end.passed()
                        and (boundary < self.n_layers - 1 or not any(self.more[:-1]))):
                    self.rest_from = lo
                    return
                yield lo, hi
                self.rest_from = None
        finally:
            self.more.pop()
