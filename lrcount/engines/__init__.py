"""Exact enumeration engines. Each takes a :class:`~lrcount.problem.CountingProblem` and
returns an :class:`EngineRun`; :func:`lrcount.count.count_regions` turns that into a result.

- ``milp``: one SCIP branch-and-bound tree; each pattern found is recorded and cut off with a
  no-good inside SCIP by a constraint handler (Danna et al. 2007; Serra et al. 2018).
- ``scip-count``: SCIP's own solution counter on the same model (counts, returns no regions).
- ``split``: region splitting with interval bounds first and warm-started Chebyshev-ball LPs in
  HiGHS, independent of SCIP and of the MILP encoding.
- ``planar``: exact splitting of segments and polygons (1-D and 2-D domains), no LP.
- ``vertex``: splitting the vertex sets of simple polytopes (double description), no LP.

:data:`ENGINES` describes each one, once: ``auto``, the command line, its help and the error
messages are made from it. All of them count the set that :mod:`lrcount.region` defines.
"""

from __future__ import annotations

import math
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


@dataclass(frozen=True)
class EngineSpec:
    """One engine, as everything else (``auto``, the CLI, its help and errors) learns of it.

    ``domains`` is a short text for tables; ``max_dim`` the largest domain dimension it takes
    (None: any); ``auto_max_dim`` the dimensions, per kind of domain (``"box"`` or
    ``"polytope"``, subspaces are polytopes), up to which ``auto`` picks it (None: never);
    ``tightened_bounds`` whether its model needs LP-tightened
    pre-activation bounds (the MILP's big-M constants), which the others derive per cell."""

    name: str
    module: str
    domains: str
    summary: str
    lists_regions: bool = True
    max_dim: int | None = None
    auto_max_dim: dict[str, float] | None = field(default=None, compare=False)
    tightened_bounds: bool = False


#: Every engine, in the order ``auto`` tries them (the measured rules of docs/benchmarks.md).
ENGINES = (
    EngineSpec("planar", "planar", "1-D, 2-D", "exact splitting of segments and convex polygons by a whole layer at a "
               "time, no LP (degenerate polygons go to `split`)", max_dim=2, auto_max_dim={"box": 2, "polytope": 2}),
    EngineSpec("vertex", "vertex", "any (fastest in 3-6)", "region splitting on the vertices of simple polytopes "
               "(double description), no LP; cells that are not simple go to `split`",
               auto_max_dim={"box": 6, "polytope": 5}),
    EngineSpec("split", "split", "any", "region splitting: bounds decide most neurons, a warm-started Chebyshev-ball "
               "LP (a compiled dual simplex) the rest", auto_max_dim={"box": math.inf, "polytope": math.inf}),
    EngineSpec("milp", "onetree", "any", "one SCIP branch-and-bound tree; each candidate pattern is certified by the "
               "same ball LP, recorded and cut off by a no-good", tightened_bounds=True),
    EngineSpec("scip-count", "scipcount", "any", "SCIP's own counter (`Model.count()`) on the same model, candidates "
               "certified", lists_regions=False, tightened_bounds=True),
)
ENGINE_NAMES = tuple(spec.name for spec in ENGINES)
_BY_NAME = {spec.name: spec for spec in ENGINES}


def engine_spec(name: str) -> EngineSpec:
    """The engine called ``name``, or a clear error naming the choices."""
    from ..errors import LRCountError

    if name not in _BY_NAME:
        raise LRCountError(f"unknown engine {name!r}; choose one of auto, {', '.join(ENGINE_NAMES)}")
    return _BY_NAME[name]


def get_engine(name: str) -> Engine:
    """The engine function called ``name`` (see :data:`ENGINES`), imported on first use."""
    from importlib import import_module

    return import_module(f".{engine_spec(name).module}", __name__).run


def get_explorer(name: str) -> Callable | None:
    """The function that explores a task's prefixes for the engine called ``name``
    (:mod:`lrcount.engines.frontier`), or None for an engine that runs only as one search."""
    from importlib import import_module

    return getattr(import_module(f".{engine_spec(name).module}", __name__), "explore", None)


def engines_for(dim: int) -> tuple[str, ...]:
    """The engines that can count in a domain of dimension ``dim``."""
    return tuple(spec.name for spec in ENGINES if spec.max_dim is None or dim <= spec.max_dim)


def listing_engines() -> tuple[str, ...]:
    """The engines that return each region's pattern and interior point."""
    return tuple(spec.name for spec in ENGINES if spec.lists_regions)


def auto_engine(dim: int, kind: str) -> str:
    """The engine ``auto`` runs on a domain of dimension ``dim`` and ``kind`` ("box" or
    "polytope"): the first in :data:`ENGINES` whose rule covers it."""
    return next(spec.name for spec in ENGINES if spec.auto_max_dim is not None and dim <= spec.auto_max_dim[kind])


def auto_rule() -> str:
    """``auto``'s rule in words, for the CLI's help and the docs."""
    bounded = [spec for spec in ENGINES if spec.auto_max_dim is not None and math.isfinite(spec.auto_max_dim["box"])]
    rules = [f"{spec.name} up to {spec.auto_max_dim['box']}-D" + (
        f" ({spec.auto_max_dim['polytope']}-D for polytopes and subspaces)"
        if spec.auto_max_dim["polytope"] != spec.auto_max_dim["box"] else "") for spec in bounded]
    return ", ".join(rules) + f", {auto_engine(10**9, 'box')} above"


__all__ = ["ENGINES", "ENGINE_NAMES", "Engine", "EngineRun", "EngineSpec", "RegionLog", "auto_engine", "auto_rule",
           "engine_spec", "engines_for", "get_engine", "get_explorer", "listing_engines"]
