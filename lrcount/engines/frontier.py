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
from ..runtime import NEVER, Deadline, search_limits


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

    @property
    def is_root(self) -> bool:
        return self.layer == 0 and self.todo is None and self.cell is None

    @property
    def is_split_node(self) -> bool:
        """A node of the ``split`` engine's search (no cell), which the layer-by-layer engines
        hand back for the cells they give to it."""
        return self.cell is None and not self.is_root


def pack(prefixes: Sequence[Prefix]) -> dict[str, np.ndarray]:
    """Prefixes as a few flat arrays (ragged parts end to end, with their lengths), to send or
    save: thousands of small arrays cost far more to move one by one. Arrays that several
    prefixes share (a batch's facet rows) are stored once."""
    out = {"layer": np.array([p.layer for p in prefixes], dtype=np.int64)}
    _ragged(out, "bits", [p.bits for p in prefixes])
    split = [p for p in prefixes if p.todo is not None]
    out["split"] = np.array([p.todo is not None for p in prefixes], dtype=bool)
    _ragged(out, "on", [p.on for p in split])
    _ragged(out, "todo", [np.asarray(p.todo, dtype=np.int64) for p in split])
    cells = [p for p in prefixes if p.cell is not None]
    out["cell"] = np.array([p.cell is not None for p in prefixes], dtype=bool)
    for key in sorted({key for p in cells for key in p.cell}):
        blocks: dict[int, int] = {}
        distinct = []
        for p in cells:
            if id(p.cell[key]) not in blocks:
                blocks[id(p.cell[key])] = len(distinct)
                distinct.append(p.cell[key])
        _ragged(out, f"cell.{key}", distinct)
        out[f"cell.{key}.block"] = np.array([blocks[id(p.cell[key])] for p in cells], dtype=np.int64)
    return out


def unpack(arrays: dict[str, np.ndarray]) -> list[Prefix]:
    """The prefixes of :func:`pack`."""
    bits = _split(arrays, "bits")
    on, todo = iter(_split(arrays, "on")), iter(_split(arrays, "todo"))
    keys = sorted({name.split(".")[1] for name in arrays if name.startswith("cell.")})
    blocks = {key: _split(arrays, f"cell.{key}") for key in keys}
    cells = iter(range(int(arrays["cell"].sum())))
    prefixes = []
    for layer, b, is_split, has_cell in zip(arrays["layer"], bits, arrays["split"], arrays["cell"]):
        cell = None
        if has_cell:
            c = next(cells)
            cell = {key: blocks[key][arrays[f"cell.{key}.block"][c]] for key in keys}
        prefixes.append(Prefix(int(layer), b.astype(bool), next(on).astype(bool) if is_split else None,
                               next(todo).astype(np.intp) if is_split else None, cell))
    return prefixes


def divide(arrays: dict[str, np.ndarray], parts: int) -> list[dict[str, np.ndarray]]:
    """The :func:`pack`ed prefixes ``arrays`` as up to ``parts`` packed runs of consecutive
    prefixes of nearly equal length, cut without unpacking them (a coordinator that cut
    thousands of cells into tasks spent more time unpacking and packing them than its
    workers spent splitting them)."""
    n = len(arrays["layer"])
    if n == 0:
        return []
    size = -(-n // max(1, min(parts, n)))
    split_before, cell_before = np.r_[0, np.cumsum(arrays["split"])], np.r_[0, np.cumsum(arrays["cell"])]
    keys = sorted({name.split(".")[1] for name in arrays if name.startswith("cell.")})
    runs = []
    for lo in range(0, n, size):
        hi = min(lo + size, n)
        run = {"layer": arrays["layer"][lo:hi], "split": arrays["split"][lo:hi], "cell": arrays["cell"][lo:hi]}
        _take_ragged(arrays, run, "bits", np.arange(lo, hi))
        for name in ("on", "todo"):
            _take_ragged(arrays, run, name, np.arange(split_before[lo], split_before[hi]))
        for key in keys:
            used, blocks = np.unique(arrays[f"cell.{key}.block"][cell_before[lo]:cell_before[hi]], return_inverse=True)
            _take_ragged(arrays, run, f"cell.{key}", used)
            run[f"cell.{key}.block"] = blocks.astype(np.int64)
        runs.append(run)
    return runs


def _take_ragged(arrays: dict, out: dict, name: str, items: np.ndarray) -> None:
    """The ragged parts ``items`` (increasing) of ``arrays[name]`` into ``out``, as :func:`_ragged` lays them out."""
    lengths = arrays[f"{name}.lengths"]
    out[f"{name}.lengths"] = lengths[items]
    if len(items) and name in arrays:
        starts = np.r_[0, np.cumsum(lengths)][items]
        taken = lengths[items]
        rows = np.arange(taken.sum()) - np.repeat(np.cumsum(taken) - taken, taken) + np.repeat(starts, taken)
        out[name] = arrays[name][rows]
        out[f"{name}.shape"] = arrays[f"{name}.shape"]


def _ragged(out: dict, name: str, parts: list[np.ndarray]) -> None:
    """``parts`` end to end along their first axis, and each one's length and trailing shape."""
    out[f"{name}.lengths"] = np.array([len(part) for part in parts], dtype=np.int64)
    if parts:
        out[name] = np.concatenate([np.asarray(part) for part in parts])
        out[f"{name}.shape"] = np.array(np.asarray(parts[0]).shape[1:], dtype=np.int64)


def _split(arrays: dict, name: str) -> list[np.ndarray]:
    lengths = arrays[f"{name}.lengths"]
    if len(lengths) == 0:
        return []
    flat = arrays[name]
    shape = tuple(arrays[f"{name}.shape"])
    return [part.reshape(len(part), *shape) for part in np.split(flat, np.cumsum(lengths)[:-1])]


def to_text(arrays: dict[str, np.ndarray]) -> dict:
    """:func:`pack`'s arrays as JSON-ready text (base64 of the raw bytes)."""
    return {name: {"dtype": a.dtype.str, "shape": list(a.shape), "data": base64.b64encode(a.tobytes()).decode("ascii")}
            for name, a in arrays.items()}


def from_text(data: dict) -> dict[str, np.ndarray]:
    """The inverse of :func:`to_text`."""
    return {name: np.frombuffer(base64.b64decode(a["data"]), dtype=np.dtype(a["dtype"])).reshape(a["shape"]).copy()
            for name, a in data.items()}


def whole_search(explore, problem, *, deadline: Deadline, on_region, collect: bool):
    """An engine's serial search, through its ``explore``: from the root, with no slice, until
    ``deadline`` passes or Ctrl-C; the :class:`~lrcount.engines.EngineRun`."""
    with search_limits(deadline) as stop_reason:
        return explore(problem, [Prefix.root()], stop_reason=stop_reason, on_region=on_region, collect=collect)[0]


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


def by_node(prefixes: Sequence[Prefix]) -> dict[tuple[int, int], list[Prefix]]:
    """The nodes of a layer-by-layer engine (``planar``, ``vertex``) grouped by where they
    stand: ``(layer, first)`` for cells whose signs of the layer's neurons before ``first``
    are decided (0 at a layer boundary; such a node's ``todo`` is the layer's neurons from
    ``first`` on), in order of first appearance."""
    groups: dict[tuple[int, int], list[Prefix]] = {}
    for prefix in prefixes:
        first = 0 if prefix.todo is None else int(prefix.todo[0])
        groups.setdefault((prefix.layer, first), []).append(prefix)
    return groups


class Slicing:
    """Where a layer-by-layer search (``planar``, ``vertex``) hands its cells back once
    ``slice_end`` has passed and the task has made progress (split a neuron or found a
    region, so that every task makes progress): between the chunks of cells it takes below a
    layer boundary, and between the neurons of a layer (the cells go back with the signs
    decided so far, so that no single layer's split, the first one's above all, is a step
    that no other worker can share).

    Handing a cell back costs about what splitting it by one layer costs (its maps are rebuilt
    from its pattern), so the cells in the last layer are finished here while a shallower loop
    still holds chunks, which go back instead; and while sliced, the loops above the last
    layer take small chunks, so that what goes back comes in small pieces (the last layer's
    loop keeps large ones: they batch the most work)."""

    def __init__(self, slice_end: Deadline, n_layers: int, found: Callable[[], int]):
        self.slice_end, self.n_layers, self.found = slice_end, n_layers, found
        self.sliced = slice_end is not NEVER
        self.more: list[bool] = []  # per open loop, outermost first: chunks wait after the current one
        self.rest_from: int | None = None
        self.steps = 0  # neurons split by this task (over batches of cells)

    def chunk_size(self, default: int, boundary: int) -> int:
        """The size of a chunk below ``boundary``: smaller above the last layer while sliced."""
        return max(1, default // 4) if self.sliced and boundary < self.n_layers - 1 else default

    def due(self) -> bool:
        """Whether the slice has passed and the task has made progress."""
        return self.sliced and (self.steps > 0 or self.found() > 0) and self.slice_end.passed()

    def hand_back_inside(self, layer: int) -> bool:
        """Whether to hand back the cells being split by ``layer``'s neurons now."""
        return self.due() and (layer < self.n_layers - 1 or not any(self.more))

    def chunks(self, bounds: Sequence[tuple[int, int]], boundary: int) -> Iterator[tuple[int, int]]:
        """The chunks ``(lo, hi)`` to take below ``boundary``; when it stops early,
        ``rest_from`` is the first cell to hand back (else None)."""
        self.more.append(False)
        self.rest_from = None
        try:
            for j, (lo, hi) in enumerate(bounds):
                self.more[-1] = j + 1 < len(bounds)
                if boundary < self.n_layers and self.due() and (boundary < self.n_layers - 1 or not any(self.more[:-1])):
                    self.rest_from = lo
                    return
                yield lo, hi
                self.rest_from = None
        finally:
            self.more.pop()
