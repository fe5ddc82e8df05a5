"""The ``scip-count`` engine: SCIP's solution counter on the MILP encoding.

With continuous variables, SCIP counts the projections of the feasible set onto the integer
variables (SCIP's COUNTER documentation), which are exactly the patterns with margin >= epsilon.
It needs the counting parameters (restarts and dual reductions off) and ends with status
'infeasible' by design. It counts but does not list the regions.
"""

from __future__ import annotations

from typing import Callable

from ..milp import encode
from ..problem import CountingProblem
from . import EngineRun


def run(
    problem: CountingProblem,
    *,
    time_limit: float | None = None,
    on_region: Callable[[], None] = lambda: None,
    collect: bool = False,
) -> EngineRun:
    """Count the regions of ``problem`` with ``Model.count()``."""
    encoding = encode(problem)
    model = encoding.model
    if time_limit is not None:
        model.setParam("limits/time", time_limit)
    model.count()
    count = model.getNCountedSols()
    status = model.getStatus()
    complete = status in ("infeasible", "optimal")
    return EngineRun(
        count=count,
        complete=complete,
        status="complete" if complete else status,
        stats={"nodes": model.getNNodes(), "lp_iterations": model.getNLPIterations(), "binaries": len(encoding.binaries)},
    )
