"""Exact enumeration engines. Each takes a :class:`~lrcount.problem.CountingProblem` and
returns an :class:`EngineRun`; :func:`lrcount.count.count_regions` turns that into a result.

- ``milp``: one SCIP branch-and-bound tree; each pattern found is recorded and cut off with a
  no-good inside SCIP by a constraint handler (Danna et al. 2007; Serra et al. 2018).
- ``scip-count``: SCIP's own solution counter on the same model (counts, returns no regions).
- ``split``: region splitting with interval bounds first and warm-started Chebyshev-ball LPs in
  HiGHS, independent of SCIP and of the MILP encoding.
- ``planar``: exact splitting of segments and polygons (1-D and 2-D domains), no LP.

All of them count the set that :mod:`lrcount.region` defines.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np


@dataclass
class EngineRun:
    """What an engine found: the number of patterns, whether the search finished, and (when
    collected) each pattern (all hidden neurons) with an interior point in chart coordinates."""

    count: int
    complete: bool
    status: str
    patterns: list[np.ndarray] | None = None
    points: list[np.ndarray] | None = None
    stats: dict = field(default_factory=dict)


Engine = Callable[..., EngineRun]


class RegionLog:
    """What a splitting engine has found so far: the count, and each region's pattern and
    interior point when they are collected; ``on_region(n)`` is told of every n regions found."""

    def __init__(self, on_region: Callable[[int], None], collect: bool):
        self.on_region = on_region
        self.collect = collect
        self.count = 0
        self.patterns: list[np.ndarray] = []
        self.points: list[np.ndarray] = []

    def add(self, patterns, points) -> None:
        """Record regions (``patterns``, a sequence, and ``points`` are only read when collecting)."""
        self.count += len(patterns)
        if self.collect:
            self.patterns.extend(patterns)
            self.points.extend(points)
        if len(patterns):
            self.on_region(len(patterns))

    def result(self, status: str, stats: dict | None = None) -> EngineRun:
        return EngineRun(self.count, status == "complete", status, self.patterns if self.collect else None,
                         self.points if self.collect else None, stats or {})


def get_engine(name: str) -> Engine:
    """The engine function called ``name`` (see :data:`ENGINE_NAMES`)."""
    from importlib import import_module

    return import_module(f".{ENGINE_MODULES[name]}", __name__).run


#: Engine name -> module in this package (imported on first use: the modules import EngineRun).
ENGINE_MODULES = {"milp": "onetree", "scip-count": "scipcount", "split": "split", "vertex": "vertex", "planar": "planar"}
ENGINE_NAMES = tuple(ENGINE_MODULES)
#: Engines that need a domain of dimension 1 or 2.
PLANAR_ENGINES = ("planar",)
#: The engines on the SCIP model, whose big-M constants need LP-tightened bounds.
MILP_ENGINES = ("milp", "scip-count")

__all__ = ["EngineRun", "Engine", "RegionLog", "get_engine", "engines_for", "ENGINE_NAMES"]


def engines_for(dim: int) -> tuple[str, ...]:
    """The engines that can count in a domain of dimension ``dim``."""
    return tuple(name for name in ENGINE_NAMES if dim <= 2 or name not in PLANAR_ENGINES)
