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

from ..problem import CountingProblem
from ..runtime import NEVER, Deadline
from . import EngineRun
from .onetree import certified_search


def run(problem: CountingProblem, *, deadline: Deadline = NEVER, on_region: Callable[[int], None] = lambda n: None,
        collect: bool = False) -> EngineRun:
    """Count the regions of ``problem`` with ``Model.count()``."""
    return certified_search(problem, deadline=deadline, on_region=on_region, collect=collect, counter=True)
