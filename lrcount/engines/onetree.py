"""The ``milp`` engine: one SCIP search tree that records each pattern and cuts it off.

A constraint handler, checked and enforced after every other constraint, rejects every
solution; when it enforces a feasible (pattern, point) pair it records the pattern and adds
the no-good ``sum_{s=1} (1 - z) + sum_{s=0} z >= 1`` to the same tree, so the search goes on
without a restart (Danna et al. 2007; Serra et al. 2018). The search ends infeasible exactly
when every pattern has been cut off.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
from pyscipopt import SCIP_RESULT, Conshdlr

from ..milp import encode, no_good, read_signs
from ..problem import CountingProblem
from . import EngineRun

#: Runs after every other constraint handler, so it only sees otherwise feasible solutions.
_LAST = -9_999_999


class _PatternCollector(Conshdlr):
    def __init__(self, problem: CountingProblem, encoding, on_region: Callable[[], None]):
        self.problem = problem
        self.encoding = encoding
        self.on_region = on_region
        self.points: dict[bytes, np.ndarray] = {}
        self.signs: dict[bytes, np.ndarray] = {}

    def _record(self) -> np.ndarray:
        signs = read_signs(self.model, self.encoding.binaries)
        key = np.packbits(signs).tobytes()
        if key not in self.signs:
            self.signs[key] = signs
            self.points[key] = np.array([self.model.getSolVal(None, t) for t in self.encoding.inputs])
            self.on_region()
        return signs

    def _enforce(self, solinfeasible: bool) -> dict:
        if solinfeasible:
            return {"result": SCIP_RESULT.FEASIBLE}
        signs = self._record()
        self.model.addCons(no_good(self.encoding.binaries, signs), name=f"nogood{len(self.signs)}", removable=False)
        return {"result": SCIP_RESULT.CONSADDED}

    def conscheck(self, constraints, solution, checkintegrality, checklprows, printreason, completely):
        # Reject without recording: a check may see a solution that another handler already
        # rejected (completely=True). The pattern is not cut off, so the search meets it again
        # as an LP solution and records it during enforcement, where solinfeasible is known.
        return {"result": SCIP_RESULT.INFEASIBLE}

    def consenfolp(self, constraints, nusefulconss, solinfeasible):
        return self._enforce(solinfeasible)

    def consenfops(self, constraints, nusefulconss, solinfeasible, objinfeasible):
        return self._enforce(solinfeasible)

    def conslock(self, constraint, locktype, nlockspos, nlocksneg):
        pass


def run(
    problem: CountingProblem,
    *,
    time_limit: float | None = None,
    on_region: Callable[[], None] = lambda: None,
    collect: bool = False,
) -> EngineRun:
    """Enumerate every region of ``problem`` in one SCIP tree."""
    encoding = encode(problem)
    model = encoding.model
    collector = _PatternCollector(problem, encoding, on_region)
    model.includeConshdlr(
        collector, "patterns", "records and cuts off activation patterns",
        enfopriority=_LAST, chckpriority=_LAST, needscons=False,
    )
    if time_limit is not None:
        model.setParam("limits/time", time_limit)
    model.optimize()
    status = model.getStatus()
    complete = status == "infeasible"
    keys = list(collector.signs)
    return EngineRun(
        count=len(keys),
        complete=complete,
        status="complete" if complete else status,
        patterns=[problem.full_pattern(collector.signs[k]) for k in keys] if collect else None,
        points=[collector.points[k] for k in keys] if collect else None,
        stats={"nodes": model.getNNodes(), "lp_iterations": model.getNLPIterations(), "binaries": len(encoding.binaries)},
    )
