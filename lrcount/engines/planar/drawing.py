"""Every region of a 2-D problem as a polygon, for :mod:`lrcount.plot` (off the counting path)."""

from __future__ import annotations

import numpy as np

from ...errors import LRCountError
from ...problem import CountingProblem
from .polygons import domain_cells
from .search import PlanarSplitter


def polygons(problem: CountingProblem) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Every region of a 2-D ``problem`` as (its pattern, its polygon's vertices in cyclic order,
    in the problem's unit-scaled chart coordinates), for drawing."""
    if problem.chart.dim != 2:
        raise LRCountError(f"regions can be drawn on domains of dimension 2, got {problem.chart.dim}")
    splitter = PlanarSplitter(problem, lambda n: None, True, lambda: None, draw=True)
    splitter.descend(domain_cells(problem), 0)
    return splitter.log.patterns, splitter.polygons
