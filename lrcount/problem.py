"""A counting problem: a network in the coordinates of a domain, its bounds and its tolerance.

This is what every engine receives, so that all engines count the same thing:

*Tolerance policy.* The network is first restricted to the domain's chart and balanced (every
hidden row of unit norm, :meth:`ReLUNetwork.balanced`), so pre-activations of the first layer
are Euclidean distances in chart coordinates. A pattern counts as a region iff some point of
the domain has margin ``f >= epsilon``: every neuron that is not stable on the whole domain has
``g >= f`` if active and ``g <= -f`` if inactive (Cai et al. 2023, constraints 11-12). Neurons
with ``|g| < epsilon`` on the whole domain are stable (inactive) and need no margin. A neuron
that is constant on a region (all its inputs inactive there) with ``|bias| < epsilon`` is
decided by the sign of its bias and needs no margin either, or it would wipe out that region.
Solvers check feasibility to ``FEASTOL``, far below ``epsilon``, so lower-dimensional patterns
(margin 0) are never counted; regions thinner than ``epsilon`` are not counted and the
epsilon is reported with every count.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .domain import Chart, Domain
from .errors import LRCountError
from .network import ReLUNetwork
from .preact import ACTIVE, INACTIVE, UNSTABLE, PreactivationBounds, preactivation_bounds

#: Default margin: a region must contain a point this far (in balanced pre-activation units)
#: from every hyperplane that could cut it.
EPSILON = 1e-6
#: Feasibility tolerance handed to SCIP and HiGHS: three orders of magnitude below EPSILON.
FEASTOL = 1e-9


@dataclass(frozen=True)
class CountingProblem:
    """``net`` takes chart coordinates t; regions are counted in the chart's polytope."""

    net: ReLUNetwork
    chart: Chart
    bounds: PreactivationBounds
    epsilon: float

    @classmethod
    def build(
        cls, network: ReLUNetwork, domain: Domain, epsilon: float = EPSILON, *, tighten: bool = True
    ) -> CountingProblem:
        """Restrict ``network`` to ``domain``, balance it and bound its pre-activations."""
        if not 10 * FEASTOL <= epsilon <= 1.0:
            raise LRCountError(f"epsilon must lie in [{10 * FEASTOL:g}, 1], got {epsilon:g}")
        chart = domain.chart(network.input_dim)
        net = network.compose_input(chart.origin, chart.basis).balanced()
        return cls(net, chart, preactivation_bounds(net, chart, epsilon, tighten=tighten), epsilon)

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

    def constant_when_inputs_off(self) -> list[np.ndarray]:
        """Per layer, the unstable neurons with ``|bias| < epsilon`` whose every non-inactive
        input is an unstable neuron: they are constant (= bias) on regions where those inputs
        are all off, and must then get no margin (see the module docstring)."""
        out = [np.zeros(len(s), bool) for s in self.bounds.states]
        for l in range(1, len(out)):
            w, b = self.net.hidden_layers[l]
            prev = self.bounds.states[l - 1]
            inputs = (w != 0) & (prev != INACTIVE)[None, :]
            only_unstable = ~np.any(inputs & (prev == ACTIVE)[None, :], axis=1) & inputs.any(axis=1)
            out[l] = (self.bounds.states[l] == UNSTABLE) & (np.abs(b) < self.epsilon) & only_unstable
        return out

    def margin_cap(self) -> float:
        """An upper bound on the margin f: no neuron can have a margin above max(U, -L)."""
        caps = [np.maximum(u, -l)[s == UNSTABLE] for l, u, s in
                zip(self.bounds.lower, self.bounds.upper, self.bounds.states)]
        caps = np.concatenate(caps) if caps else np.zeros(0)
        return float(caps.min()) if caps.size else 1.0


def resolve_domain(domain: Domain | None, default: Domain | None) -> Domain:
    """The domain to count in: the one given, else the network's default box."""
    if domain is not None:
        return domain
    if default is not None:
        return default
    raise LRCountError("a domain is needed: pass a Box or Polytope (CLI: --box LO HI or --box-file F)")

