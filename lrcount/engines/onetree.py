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

from ..milp import certified_model, search_stats
from ..problem import CountingProblem
from ..runtime import NEVER, Deadline
from . import EngineRun

#: Runs after every other constraint handler, so it only sees otherwise feasible solutions.
_LAST = -9_999_999


def run(
    problem: CountingProblem,
    *,
    deadline: Deadline = NEVER,
    on_region: Callable[[int], None] = lambda n: None,
    collect: bool = False,
) -> EngineRun:
    """Enumerate every region of ``problem`` in one SCIP tree."""
    encoding, certifier = certified_model(problem, on_region, accept_regions=False, priority=_LAST,
                                          deadline=deadline)
    certifier.search(encoding.model.optimize)
    status = encoding.model.getStatus()
    complete = status == "infeasible"
    regions = list(certifier.regions.values())
    return EngineRun(
        count=len(regions),
        complete=complete,
        status="complete" if complete else status,
        patterns=[problem.full_pattern(signs) for signs, _ in regions] if collect else None,
        points=[centre for _, centre in regions] if collect else None,
        stats=search_stats(encoding, certifier),
    )
