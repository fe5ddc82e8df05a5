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
        return SCOPES[self.method]

    def to_dict(self) -> dict:
        return {"method": self.method, "kind": self.kind, "scope": self.scope, "value": self.decimal(), "log10": self.log10}


METHODS = ("montufar2014", "montufar2017", "serra2018", "serra2018-rank", "serra2018-lower", "serra2018-1d",
           "hinz", "cai2023", "network")
_MAXIMUM = "max over all weights of the architecture"
SCOPES = {
    "montufar2014": _MAXIMUM, "montufar2017": _MAXIMUM, "serra2018": _MAXIMUM, "serra2018-lower": _MAXIMUM,
    "serra2018-1d": _MAXIMUM, "hinz": _MAXIMUM,
    "serra2018-rank": "max over all weights with these layer ranks",
    "cai2023": "expected max under random pruning at these densities",
    "network": "this network on its domain",
}


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
    if method != "all" and method not in METHODS:
        raise LRCountError(f"unknown bound method {method!r}; choose from all, {', '.join(METHODS)}")
    if ranks is not None:
        check_ranks(widths, ranks)  # given by the user: an error, not a silently dropped bound
    if network is not None and ranks is None:
        ranks = [int(np.linalg.matrix_rank(w)) for w, _ in network.hidden_layers]
    makers = {
        "montufar2014": ("lower", lambda: montufar2014_lower(widths)),
        "montufar2017": ("upper", lambda: montufar2017(widths)),
        "serra2018": ("upper", lambda: serra2018(widths)),
        "serra2018-rank": ("upper", lambda: serra2018(widths, _need(ranks, "ranks (--ranks or a MODEL)"))),
        "serra2018-lower": ("lower", lambda: serra2018_lower(widths)),
        "serra2018-1d": ("upper", lambda: serra2018_one_input(widths)),
        "hinz": ("upper", lambda: hinz(widths)),
        "cai2023": ("expected-upper", lambda: cai2023(
            widths, _need(densities, "densities (--density)"), rank_probabilities=rank_probabilities, seed=seed,
            progress=progress)),
        "network": ("upper", lambda: network_bound(_need(network, "a MODEL"), domain)),
    }
    out = []
    for name in METHODS if method == "all" else (method,):
        kind, make = makers[name]
        try:
            out.append(BoundValue(name, kind, make()))
        except _NotGiven as missing:
            if method != "all":
                raise LRCountError(f"bound {name} needs {missing}") from None
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
    "METHODS", "PRECISION", "SCOPES", "BoundValue", "DensityPlan", "Layer", "Number", "RankSample",
    "cai2023", "cai2023_log10", "check_densities", "check_ranks", "check_widths", "compute_bounds", "hinz",
    "layered_bound", "log10", "montufar2014_lower", "montufar2017", "network_bound", "optimize_densities",
    "rank_distribution_binomial", "rank_distribution_mc", "serra2018", "serra2018_lower", "serra2018_one_input",
    "structural_rank",
]
