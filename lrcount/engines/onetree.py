"""The ``milp`` engine: one SCIP search tree that certifies each candidate pattern and cuts it off.

:class:`~lrcount.milp.PatternCertifier`, checked and enforced after every other constraint,
rejects every solution; when it enforces a feasible (pattern, point) pair it certifies the
pattern with the geometric LP of :mod:`lrcount.region`, records it if it is a region, and adds
its no-good clause (:func:`~lrcount.milp.add_no_good`) to the same tree, so the search goes on
without a restart (Danna et al. 2007; Serra et al. 2018). The search ends infeasible exactly
when every candidate has been cut off.
"""

from __future__ import annotations

from collections.abc import Callable

from ..errors import LRCountError
from ..milp import certified_model, search_stats
from ..problem import CountingProblem
from ..runtime import NEVER, Deadline
from . import EngineRun


def run(problem: CountingProblem, *, deadline: Deadline = NEVER, on_region: Callable[[int], None] = lambda n: None,
        collect: bool = False) -> EngineRun:
    """Enumerate every region of ``problem`` in one SCIP tree."""
    return certified_search(problem, deadline=deadline, on_region=on_region, collect=collect, counter=False)


#: The certifier's priority for the milp engine: after every other constraint handler, so it
#: only sees otherwise feasible solutions.
LAST = -9_999_999
#: For scip-count: before SCIP's counter (priority -9999999), after every other handler.
BEFORE_COUNTER = -9_000_000


def certified_search(problem: CountingProblem, *, deadline: Deadline, on_region, collect: bool, counter: bool) -> EngineRun:
    """One SCIP search with the :class:`~lrcount.milp.PatternCertifier`, as the two MILP engines run it:
    ``counter=False`` (``milp``) rejects every candidate, records the regions and cuts them off
    until the tree is infeasible; ``counter=True`` (``scip-count``) lets SCIP's counter count
    the candidates the certifier accepts (it counts, and lists no region)."""
    encoding, certifier = certified_model(problem, on_region, accept_regions=counter,
                                          priority=BEFORE_COUNTER if counter else LAST, deadline=deadline)
    certifier.search(encoding.model.count if counter else encoding.model.optimize)
    status = encoding.model.getStatus()
    complete = status in (("infeasible", "optimal") if counter else ("infeasible",))
    found = encoding.model.getNCountedSols() if counter else len(certifier.regions)
    if complete and found == 0:
        raise LRCountError("SCIP found no region at all, which cannot be right for a domain with an interior: its "
                           "numerics failed on this network; count with split or vertex")
    regions = [] if counter else list(certifier.regions.values())
    listed = collect and not counter
    return EngineRun(
        count=found,
        complete=complete,
        status="complete" if complete else status,
        patterns=[problem.full_pattern(signs) for signs, _ in regions] if listed else None,
        points=[centre for _, centre in regions] if listed else None,
        stats=search_stats(encoding, certifier),
    )
