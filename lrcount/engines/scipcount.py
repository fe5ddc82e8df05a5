"""The ``scip-count`` engine: SCIP's solution counter on the MILP encoding.

With continuous variables, SCIP counts the projections of the feasible set onto the integer
variables (SCIP's COUNTER documentation). The encoding's feasible patterns are candidates
(:mod:`lrcount.milp`), so :class:`~lrcount.milp.PatternCertifier` runs before the counter and
cuts off every candidate that the geometric LP does not certify; the counter counts the rest.
It needs the counting parameters (restarts, dual reductions and sparse counting off) and ends
with status 'infeasible' by design. It counts but does not list the regions.
"""

from __future__ import annotations

from collections.abc import Callable

from ..milp import certified_model, search_stats
from ..problem import CountingProblem
from ..runtime import NEVER, Deadline
from . import EngineRun

#: Before SCIP's counter (priority -9999999), after every other constraint handler.
_BEFORE_COUNTER = -9_000_000


def run(
    problem: CountingProblem,
    *,
    deadline: Deadline = NEVER,
    on_region: Callable[[int], None] = lambda n: None,
    collect: bool = False,
) -> EngineRun:
    """Count the regions of ``problem`` with ``Model.count()``."""
    encoding, certifier = certified_model(problem, on_region, accept_regions=True, priority=_BEFORE_COUNTER,
                                          deadline=deadline)
    certifier.search(encoding.model.count)
    status = encoding.model.getStatus()
    complete = status in ("infeasible", "optimal")
    return EngineRun(
        count=encoding.model.getNCountedSols(),
        complete=complete,
        status="complete" if complete else status,
        stats=search_stats(encoding, certifier),
    )
