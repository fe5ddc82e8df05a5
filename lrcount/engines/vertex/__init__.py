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

import numpy as np

from ...problem import CountingProblem
from ...region import AffineMap
from ...runtime import NEVER, Deadline
from .. import EngineRun, RegionLog, split
from ..frontier import Prefix, by_node, whole_search
from .polytopes import EdgeNames, NotSimple, domain_cell
from .search import VertexSearch

__all__ = ["explore", "run"]


def explore(problem: CountingProblem, prefixes: list[Prefix], *, stop_reason: Callable[[], str | None] = lambda: None,
            slice_end: Deadline = NEVER, on_region: Callable[[int], None] = lambda n: None,
            collect: bool = False) -> tuple[EngineRun, list[Prefix]]:
    """Enumerate the regions below ``prefixes`` (at layer boundaries) until ``stop_reason``
    says to stop or ``slice_end`` passes; the frontier: the cells handed back (see
    :func:`lrcount.engines.split.explore`)."""
    names = EdgeNames(problem.chart.dim)
    try:
        cells, slack = domain_cell(problem, names)
    except NotSimple:  # the whole domain goes to the split engine
        result, frontier = split.explore(problem, prefixes, stop_reason=stop_reason, slice_end=slice_end,
                                         on_region=on_region, collect=collect)
        result.stats["degenerate"] = "domain"
        return result, frontier
    log = RegionLog(on_region, collect)
    search = VertexSearch(problem, log, stop_reason, slack, names, slice_end=slice_end)
    for (layer, first), group in by_node([p for p in prefixes if not p.is_split_node]).items():
        if search.stopped or search.slicing.due():  # the rest goes back as it came
            search.frontier.extend(group)
        elif group[0].is_root:
            search.descend(cells, AffineMap.identity(problem.chart.dim).repeated(1), np.zeros((1, 0), bool), 0)
        else:
            search.explore(layer, first, group)
    handed_to_split = [p for p in prefixes if p.is_split_node]
    if handed_to_split and not search.stopped:
        search.stopped = search.fallback.explore(handed_to_split, stop_reason)
    stats = {"degenerate": search.fallback.cells, "certified": search.certified, "domain_slack": slack}
    if search.fallback.splitter is not None:
        stats["lps"] = search.fallback.lps
    return log.result(search.stopped or "complete", stats), search.frontier


def run(problem: CountingProblem, *, deadline: Deadline = NEVER, on_region: Callable[[int], None] = lambda n: None,
        collect: bool = False) -> EngineRun:
    """Enumerate every region of ``problem`` by splitting vertex sets."""
    return whole_search(explore, problem, deadline=deadline, on_region=on_region, collect=collect)
