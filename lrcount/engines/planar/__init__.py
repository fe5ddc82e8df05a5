"""The ``planar`` engine: exact splitting of segments (1-D domains) and convex polygons (2-D
domains) by the layers' hyperplanes, with no LP (cf. regioncam, Berzins 2023, which splits a
planar partition edge by edge).

All cells of a layer are processed at once with numpy: a cell holds its vertices and, for the
layer being split, the affine pre-activations of its region. A polygon is cut by all the
layer's lines together (:func:`arrange`: the faces of the arrangement are read off the signs
at its vertices); a polygon where a vertex comes within :data:`CLEARANCE` of a line it is not
on is handed to the ``split`` engine, whose LPs decide it by the definition (as ``vertex``
does with cells that are not simple); segments, and polygons too large for one batch, are
split neuron by neuron (:func:`cut_by_line`), where a vertex within :data:`FEASTOL` of a
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

from ...problem import CountingProblem
from ...runtime import NEVER, Deadline
from .. import EngineRun
from ..frontier import Prefix, by_node, whole_search
from .drawing import polygons
from .polygons import domain_cells
from .search import PlanarSplitter, Stop

__all__ = ["explore", "polygons", "run"]


def explore(problem: CountingProblem, prefixes: list[Prefix], *, stop_reason: Callable[[], str | None] = lambda: None,
            slice_end: Deadline = NEVER, on_region: Callable[[int], None] = lambda n: None,
            collect: bool = False) -> tuple[EngineRun, list[Prefix]]:
    """Enumerate the regions below ``prefixes`` (at layer boundaries) until ``stop_reason``
    says to stop or ``slice_end`` passes; the frontier: the cells handed back (see
    :func:`lrcount.engines.split.explore`)."""
    status = "complete"
    splitter = PlanarSplitter(problem, on_region, collect, stop_reason, slice_end=slice_end)
    try:
        for (layer, first), group in by_node([p for p in prefixes if not p.is_split_node]).items():
            if splitter.slicing.due():  # the rest goes back as it came
                splitter.frontier.extend(group)
            elif group[0].is_root:
                splitter.descend(domain_cells(problem), 0)
            else:
                splitter.explore(layer, first, group)
        handed_to_split = [p for p in prefixes if p.is_split_node]
        if handed_to_split and (reason := splitter.fallback.explore(handed_to_split, stop_reason)):
            raise Stop(reason)
    except Stop as stop:
        status = stop.status
    return splitter.log.result(status, {"degenerate": splitter.fallback.cells}), splitter.frontier


def run(problem: CountingProblem, *, deadline: Deadline = NEVER, on_region: Callable[[int], None] = lambda n: None,
        collect: bool = False) -> EngineRun:
    """Enumerate every region of ``problem`` (a domain of dimension 1 or 2) by exact splitting."""
    return whole_search(explore, problem, deadline=deadline, on_region=on_region, collect=collect)
