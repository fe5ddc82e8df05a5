"""Analytical bounds on the number of linear regions (docs/theory.md sections 3-4, docs/bounds.md).

Every function takes ``widths = [n_0, n_1, ..., n_L]``: the input dimension and the hidden ReLU
widths (the affine output layer never splits and is not listed). One family per module:

- :mod:`.recursion`: the recursion the Serra, rank-refined, sparsity-aware and per-network
  bounds share, and the input checks;
- :mod:`.dense`: bounds on the maximum over all weights (Montufar, Serra, Hinz), exact integers;
- :mod:`.sparse`: the expected bound under random pruning (Cai et al. 2023) and rank
  distributions, in log space;
- :mod:`.network`: the bound of one given network on its domain;
- :mod:`.densities`: bound-guided layer-wise densities (Cai et al. 2023, Sec. 4);

and here :func:`compute_bounds`, which runs all of them for the command line.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Context, Decimal, localcontext

import numpy as np

from ..errors import LRCountError
from .dense import hinz, montufar2014_lower, montufar2017, serra2018, serra2018_lower, serra2018_one_input
from .densities import DensityPlan, optimize_densities
from .network import network_bound, structural_rank
from .recursion import Layer, Number, check_densities, check_ranks, check_widths, layered_bound, log10
from .sparse import PRECISION, RankSample, cai2023, cai2023_log10, rank_distribution_binomial, rank_distribution_mc


# -- all bounds at once ----------------------------------------------------------------------------
@dataclass(frozen=True)
class BoundValue:
    """One bound: ``kind`` is ``"upper"``, ``"lower"`` (on the maximum over weights) or
    ``"expected-upper"`` (an expectation under random pruning)."""

    method: str
    kind: str
    value: Number

    @property
    def log10(self) -> float:
        return log10(self.value)

    def decimal(self) -> str:
        """The value as a decimal string: exact for integers, ``PRECISION`` digits otherwise."""
        if isinstance(self.value, int):
            if self.value.bit_length() < 10_000:  # Python refuses str() of ints over 4300 digits
                return str(self.value)
            shift = int(self.log10) - PRECISION
            digits = str(self.value // 10**shift)  # the leading digits, exact
            return f"{digits[0]}.{digits[1:]}e+{shift + len(digits) - 1}"
        with localcontext(Context(prec=PRECISION)):
            value = self.value if isinstance(self.value, Decimal) else Decimal(self.value.numerator) / self.value.denominator
            return format(value.normalize(), "f")

    @property
    def scope(self) -> str:
        """What the value bounds: the maximum over all weights of the architecture, over
        weights of given ranks, an expectation under random pruning, or this network."""
        return BOUNDS[self.method].scope

    def to_dict(self) -> dict:
        return {"method": self.method, "kind": self.kind, "scope": self.scope, "value": self.decimal(), "log10": self.log10}


@dataclass(frozen=True)
class BoundInputs:
    """What the user gave for the bounds (each bound reads what it needs, via :func:`_need`)."""

    widths: list[int]
    densities: list[float] | None = None
    ranks: list[int] | None = None
    network: object = None
    domain: object = None
    rank_probabilities: str = "binomial"
    seed: int = 0
    progress: bool = False


@dataclass(frozen=True)
class BoundSpec:
    """One bound, as :func:`compute_bounds`, the command line and the docs learn of it:
    ``kind`` (``"upper"``, ``"lower"`` or ``"expected-upper"``), ``scope`` (what it bounds),
    and ``make``, which computes it from :class:`BoundInputs`."""

    name: str
    kind: str
    scope: str
    make: Callable[[BoundInputs], Number]


_MAXIMUM = "max over all weights of the architecture"
#: Every bound, in the order they are listed.
BOUND_SPECS = (
    BoundSpec("montufar2014", "lower", _MAXIMUM, lambda given: montufar2014_lower(given.widths)),
    BoundSpec("montufar2017", "upper", _MAXIMUM, lambda given: montufar2017(given.widths)),
    BoundSpec("serra2018", "upper", _MAXIMUM, lambda given: serra2018(given.widths)),
    BoundSpec("serra2018-rank", "upper", "max over all weights with these layer ranks",
              lambda given: serra2018(given.widths, _need(given.ranks, "ranks (--ranks or a MODEL)"))),
    BoundSpec("serra2018-lower", "lower", _MAXIMUM, lambda given: serra2018_lower(given.widths)),
    BoundSpec("serra2018-1d", "upper", _MAXIMUM, lambda given: serra2018_one_input(given.widths)),
    BoundSpec("hinz", "upper", _MAXIMUM, lambda given: hinz(given.widths)),
    BoundSpec("cai2023", "expected-upper", "expected max under random pruning at these densities",
              lambda given: cai2023(given.widths, _need(given.densities, "densities (--density)"),
                                    rank_probabilities=given.rank_probabilities, seed=given.seed, progress=given.progress)),
    BoundSpec("network", "upper", "this network on its domain",
              lambda given: network_bound(_need(given.network, "a MODEL"), given.domain)),
)
BOUNDS = {spec.name: spec for spec in BOUND_SPECS}
METHODS = tuple(BOUNDS)


def compute_bounds(
    widths,
    *,
    method: str = "all",
    densities=None,
    ranks: list[int] | None = None,
    network=None,
    domain=None,
    rank_probabilities: str = "binomial",
    seed: int = 0,
    progress: bool = False,
) -> list[BoundValue]:
    """Every bound named by ``method`` (or all that apply) for ``widths``. ``densities`` enable
    ``cai2023``; ``ranks`` (or a ``network``) enable ``serra2018-rank``; a ``network`` (with an
    optional ``domain``) enables ``network``. With ``method="all"`` bounds whose conditions do
    not hold are left out; a single named method that does not apply raises an error.
    ``progress`` shows the Monte Carlo ranks' progress on stderr (``rank_probabilities="mc"``)."""
    widths = check_widths(widths)
    if method != "all" and method not in BOUNDS:
        raise LRCountError(f"unknown bound method {method!r}; choose from all, {', '.join(METHODS)}")
    if ranks is not None:
        check_ranks(widths, ranks)  # given by the user: an error, not a silently dropped bound
    if network is not None and ranks is None:
        ranks = [int(np.linalg.matrix_rank(w)) for w, _ in network.hidden_layers]
    given = BoundInputs(widths, densities, ranks, network, domain, rank_probabilities, seed, progress)
    out = []
    for spec in BOUND_SPECS if method == "all" else (BOUNDS[method],):
        try:
            out.append(BoundValue(spec.name, spec.kind, spec.make(given)))
        except _NotGiven as missing:
            if method != "all":
                raise LRCountError(f"bound {spec.name} needs {missing}") from None
        except LRCountError:
            if method != "all":
                raise
    return out


class _NotGiven(Exception):
    """A bound's input was not given; the message says which."""


def _need(value, what: str):
    if value is None:
        raise _NotGiven(what)
    return value


__all__ = [
    "BOUNDS", "BOUND_SPECS", "METHODS", "PRECISION", "BoundInputs", "BoundSpec", "BoundValue", "DensityPlan", "Layer",
    "Number", "RankSample",
    "cai2023", "cai2023_log10", "check_densities", "check_ranks", "check_widths", "compute_bounds", "hinz",
    "layered_bound", "log10", "montufar2014_lower", "montufar2017", "network_bound", "optimize_densities",
    "rank_distribution_binomial", "rank_distribution_mc", "serra2018", "serra2018_lower", "serra2018_one_input",
    "structural_rank",
]
