"""A counting problem: a network in the unit-scaled coordinates of a domain, with its bounds.

This is what every engine receives, so that all engines count the same set: the network is
restricted to the domain's chart, scaled so that the domain's inscribed ball is the unit ball
(:meth:`Chart.unit_scaled`), and balanced exactly by powers of two (hidden rows of largest
entry in [1/2, 1), which keeps every engine's numbers near 1 whatever the scale of the
weights or of the domain, and changes no pattern). What counts as a region is defined once, in
:mod:`lrcount.region`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .domain import Chart, Domain
from .errors import LRCountError
from .network import ReLUNetwork
from .preact import ACTIVE, UNSTABLE, PreactivationBounds, preactivation_bounds
from .runtime import NEVER, Deadline
from .tolerances import EPSILON, FEASTOL


@dataclass(frozen=True)
class CountingProblem:
    """``net`` takes chart coordinates t; regions are counted in the chart's polytope."""

    net: ReLUNetwork
    chart: Chart
    bounds: PreactivationBounds
    epsilon: float

    @classmethod
    def build(
        cls, network: ReLUNetwork, domain: Domain, epsilon: float = EPSILON, *, tighten: bool = False,
        deadline: Deadline = NEVER,
    ) -> CountingProblem:
        """Restrict ``network`` to ``domain`` in unit-scaled coordinates, balance it and bound
        its pre-activations by interval arithmetic, and by LPs too if ``tighten`` (the MILP's
        big-M constants need them; the splitting engines bound each region themselves) until
        ``deadline`` passes. A domain whose chart is not done by then raises
        :class:`~lrcount.runtime.SetupTimeout`."""
        if not 10 * FEASTOL <= epsilon <= 0.5:
            raise LRCountError(f"epsilon (relative to the domain's inscribed radius) must lie in [{10 * FEASTOL:g}, 0.5], got {epsilon:g}")
        chart = domain.chart(network.input_dim, deadline=deadline).unit_scaled()
        net = network.balanced_in_chart(chart.origin, chart.basis)
        return cls(net, chart, preactivation_bounds(net, chart, tighten=tighten, deadline=deadline), epsilon)

    @property
    def states(self) -> np.ndarray:
        """State of every hidden neuron (ACTIVE / INACTIVE / UNSTABLE), layers concatenated."""
        return np.concatenate(self.bounds.states) if self.bounds.states else np.zeros(0, int)

    @property
    def unstable(self) -> np.ndarray:
        """Indices (into the concatenated neurons) of the neurons that can split regions."""
        return np.flatnonzero(self.states == UNSTABLE)

    def full_pattern(self, unstable_signs: np.ndarray) -> np.ndarray:
        """The activation pattern of all hidden neurons from the signs of the unstable ones."""
        pattern = self.states == ACTIVE
        pattern[self.unstable] = np.asarray(unstable_signs, dtype=bool)
        return pattern


def resolve_domain(domain: Domain | None, default: Domain | None) -> Domain:
    """The domain to count in: the one given, else the network's default box."""
    if domain is not None:
        return domain
    if default is not None:
        return default
    raise LRCountError("a domain is needed: pass a Box or Polytope (CLI: --box LO HI or --box-file F)")

