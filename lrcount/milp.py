"""The SCIP model of a ReLU network over a domain (Serra, Tjandraatmadja & Ramalingam 2018).

Per unstable neuron with bounds ``L < 0 < U`` and binary ``z`` (big-M form of Tjeng et al. 2019,
equivalent to docs/theory.md section 2)::

    h >= 0,   h >= g,   h <= U z,   h <= g - L (1 - z)

Stable neurons get no binary: ``h = g`` if active, ``h = 0`` if inactive. The model has no
margin: its feasible patterns are those whose *closed* set meets the domain (up to SCIP's
feasibility tolerance), a superset of the regions. Each candidate is then certified by the
geometric LP of :func:`lrcount.region.certify`; one that fails is cut off and not counted. A
raw margin ``f <= s g`` in pre-activation units cannot be both safe and useful: a deep neuron's
gradient can be 1e-5 while its region is wide (docs/counting.md).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from pyscipopt import SCIP_PARAMSETTING, SCIP_RESULT, Conshdlr, Model, quicksum

from .errors import LRCountError
from .lp import new_highs
from .preact import ACTIVE, INACTIVE
from .problem import CountingProblem
from .region import certify, is_region
from .runtime import Deadline
from .tolerances import BIG_M_FLOOR, MILP_FEASTOL


@dataclass
class Encoding:
    """The SCIP model with handles on the variables the engines read."""

    model: Model
    inputs: list  # chart coordinates t
    binaries: list  # z of the unstable neurons, in the order of CountingProblem.unstable
    complements: list  # 1 - z as binaries of their own, for the no-good clauses (or empty)


def counting_parameters(model: Model) -> None:
    """Parameters under which enumerating or counting patterns is exact.

    SCIP's counting settings (``setParamsCountsols``) turn off restarts and the propagation
    that would drop solutions; dual reductions and symmetry handling are turned off too, since
    they remove patterns that are equivalent for the objective but distinct regions (duplicate
    neurons are exactly such a symmetry). Presolving is off: some of its reductions are dual
    ones that those switches do not govern (``dualsparsify``, fixing a variable at a bound that
    the zero objective does not care about) and can fix binaries of patterns that are regions;
    without it the tree is smaller too (docs/benchmarks.md). Counting checks every pattern one by one (no sparse solutions counted
    in bulk), since each must be certified. Every SCIP tolerance that decides feasibility,
    including the one it compares sums with (default 1e-6), is :data:`MILP_FEASTOL`.
    """
    model.setParamsCountsols()
    model.setPresolve(SCIP_PARAMSETTING.OFF)
    model.setParam("misc/allowstrongdualreds", False)
    model.setParam("misc/allowweakdualreds", False)
    model.setParam("misc/usesymmetry", 0)
    model.setParam("presolving/maxrestarts", 0)
    model.setParam("constraints/countsols/sparsetest", False)
    model.setParam("numerics/feastol", MILP_FEASTOL)
    model.setParam("numerics/sumepsilon", MILP_FEASTOL)


def big_m(lower: float, upper: float) -> tuple[float, float]:
    """The big-M constants ``L < 0 < U`` of an unstable neuron with bounds [lower, upper], each
    at least :data:`BIG_M_FLOOR` from zero (looser bounds are still valid): a constant within
    a few feasibility tolerances of zero lets SCIP's LPs cut off nodes that hold regions
    (docs/counting.md)."""
    return min(lower, -BIG_M_FLOOR), max(upper, BIG_M_FLOOR)


def encode(problem: CountingProblem, *, complements: bool = True) -> Encoding:
    """Build the model: feasible points are (u, pattern) pairs with u in the pattern's closed
    set; with ``complements``, a binary ``1 - z`` for every binary z too (:func:`add_no_good`)."""
    model = Model("lrcount")
    model.hideOutput()
    counting_parameters(model)
    chart, bounds = problem.chart, problem.bounds
    t = [model.addVar(f"t{i}", lb=chart.lower[i], ub=chart.upper[i]) for i in range(chart.dim)]
    for r, row in enumerate(chart.A):
        model.addCons(quicksum(a * t[i] for i, a in enumerate(row) if a != 0) <= chart.c[r], f"domain{r}")
    binaries: list = []
    h_prev = t
    for l, (w, b) in enumerate(problem.net.hidden_layers):
        lower, upper, state = bounds.lower[l], bounds.upper[l], bounds.states[l]
        h = []
        for i in range(len(b)):
            g = quicksum(w[i, j] * v for j, v in enumerate(h_prev) if v is not None and w[i, j] != 0) + b[i]
            if state[i] == INACTIVE:
                h.append(None)
                continue
            if state[i] == ACTIVE:
                h.append(model.addVar(f"h{l}_{i}", lb=lower[i], ub=upper[i]))
                model.addCons(h[-1] == g, f"active{l}_{i}")
                continue
            low, high = big_m(lower[i], upper[i])
            hi = model.addVar(f"h{l}_{i}", lb=0.0, ub=high)
            h.append(hi)
            zi = model.addVar(f"z{l}_{i}", vtype="B")
            # branch on earlier layers first: fixing them makes later pre-activations affine
            # and their bounds tight (5.9x fewer seconds on a [2, 20, 20, 20] net)
            model.chgVarBranchPriority(zi, len(problem.net.weights) - l)
            model.addCons(hi >= g)
            model.addCons(hi <= high * zi)
            model.addCons(hi <= g - low * (1 - zi))
            binaries.append(zi)
        h_prev = h
    negations = []
    for zi in binaries if complements else []:
        negations.append(model.addVar(f"not_{zi.name}", vtype="B"))
        model.addCons(zi + negations[-1] == 1)
    return Encoding(model, t, binaries, negations)


def add_no_good(model: Model, encoding: Encoding, positions: np.ndarray, signs: np.ndarray, name: str) -> None:
    """Cut off the pattern ``signs`` of the binaries at ``positions``: the clause
    ``OR_{s=1} (1 - z)  OR  OR_{s=0} z``, a logicor constraint over the complements when the
    encoding has them (SCIP propagates clauses by watched literals, where a linear no-good is
    rescanned as the tree moves; measured in docs/benchmarks.md), else its linear form ``sum_{s=1} (1 - z) + sum_{s=0} z
    >= 1``. Kept out of the LP (enforced by propagation and on the solutions that violate it)."""
    if encoding.complements:
        literals = [encoding.complements[j] if s else encoding.binaries[j] for j, s in zip(positions, signs)]
        model.addConsLogicor(literals, name=name, initial=False, separate=False)
    else:
        terms = ((1 - encoding.binaries[j]) if s else encoding.binaries[j] for j, s in zip(positions, signs))
        model.addCons(quicksum(terms) >= 1, name=name, initial=False, separate=False)


def read_signs(model: Model, binaries: list, solution=None) -> np.ndarray:
    """The 0/1 values of the binaries in a solution (rounded)."""
    return np.array([model.getSolVal(solution, z) > 0.5 for z in binaries], dtype=bool)



class PatternCertifier(Conshdlr):
    """A constraint handler that certifies the pattern of every candidate solution with the
    geometric LP (:func:`lrcount.region.certify`) and records the regions.

    A candidate that fails is cut off with every pattern that must fail with it
    (:meth:`_rejection_cut`). A region is accepted when ``accept_regions`` (SCIP's counter then
    counts it) and otherwise recorded and cut off too, by its own no-good (one-tree
    enumeration: the search ends infeasible exactly when every pattern is cut off).
    """

    def __init__(self, problem: CountingProblem, encoding: Encoding, on_region, *, accept_regions: bool):
        self.problem = problem
        self.encoding = encoding
        self.on_region = on_region
        self.accept_regions = accept_regions
        self.regions: dict[bytes, tuple[np.ndarray, np.ndarray]] = {}  # key -> (signs, centre)
        self.rejected = 0
        self.failure: str | None = None
        self._cuts: dict[bytes, np.ndarray | None] = {}  # key -> binaries to cut on (None: cannot)
        self._layer_of = np.repeat(np.arange(len(problem.net.hidden_widths)), problem.net.hidden_widths)
        self._highs = new_highs()  # one instance for every certificate

    def forget_regions(self) -> None:
        """Let the regions recorded so far be found, and recorded, again, keeping the verdicts
        on rejected candidates (never regions, whatever constraints a later search adds): for
        searches that change the model's constraints between solves (:mod:`lrcount.estimate`)."""
        for key in self.regions:
            del self._cuts[key]
        self.regions.clear()

    def _verdict(self, signs: np.ndarray) -> bool:
        """Certify a candidate once (a pattern cut off may still come back as an LP solution
        of a node created before the cut); record the regions and the rejected ones' cuts."""
        key = np.packbits(signs).tobytes()
        if key not in self._cuts:
            pattern = self.problem.full_pattern(signs)
            cert = certify(self.problem.net, self.problem.chart, pattern, self._highs)
            if is_region(cert.radius, self.problem.epsilon):
                self.regions[key] = (signs, cert.centre)
                self.on_region(1)
                self._cuts[key] = np.arange(len(signs))
            else:
                self.rejected += 1
                self._cuts[key] = self._rejection_cut(pattern, cert)
        return key in self.regions

    def _rejection_cut(self, pattern: np.ndarray, cert) -> np.ndarray | None:
        """The binaries on which every pattern that agrees with the rejected ``pattern`` (all
        hidden neurons) fails too.

        A constant neuron with the wrong sign fails with any pattern of the earlier layers'
        signs and its own. Otherwise the binding rows (:class:`~lrcount.region.Certificate`)
        of a last layer L, with every row of the layers before it, already hold no ball of
        radius epsilon (checked by one more LP); their coefficients depend only on those
        layers' signs, so the cut is the binaries before L and the binding ones in L: one clause
        cuts off every completion of a lower-dimensional prefix (bias-free networks have
        exponentially many). None (and a :attr:`failure`) when the conflicting neuron has no
        binary, since no clause could then cut the pattern off without losing regions."""
        unstable, layer_of = self.problem.unstable, self._layer_of
        if cert.conflict is not None:
            if cert.conflict not in unstable:
                self.failure = (f"internal error: hidden neuron {cert.conflict} was declared stable by its bounds but "
                                "is constant with the other sign on a candidate region; count with engine split, and "
                                "please report this network")
                return None
            earlier = np.flatnonzero(layer_of[unstable] < layer_of[cert.conflict])
            return np.r_[earlier, np.flatnonzero(unstable == cert.conflict)]
        everything = np.arange(len(unstable))
        if cert.binding is None or not cert.binding.size:
            return everything
        last = layer_of[cert.binding].max()
        kept = layer_of < last
        kept[cert.binding] = True
        positions = np.flatnonzero(kept[unstable])
        if positions.size == 0 or positions.size == len(unstable):
            return everything
        partial = certify(self.problem.net, self.problem.chart, pattern, self._highs, neurons=kept)
        return everything if is_region(partial.radius, self.problem.epsilon) else positions

    def _enforce(self, solinfeasible: bool) -> dict:
        if solinfeasible:
            return {"result": SCIP_RESULT.FEASIBLE}
        signs = read_signs(self.model, self.encoding.binaries)
        if self._verdict(signs) and self.accept_regions:
            return {"result": SCIP_RESULT.FEASIBLE}
        keep = self._cuts[np.packbits(signs).tobytes()]
        if keep is None:
            self.model.interruptSolve()
            return {"result": SCIP_RESULT.CUTOFF}
        add_no_good(self.model, self.encoding, keep, signs[keep], f"nogood{len(self._cuts)}")
        return {"result": SCIP_RESULT.CONSADDED}

    def search(self, start) -> None:
        """Run SCIP's search (``start``: the model's ``optimize`` or ``count``); an LP that SCIP
        cannot solve, or a :attr:`failure` of the certifier, is an :class:`LRCountError` (a
        count would be wrong)."""
        try:
            start()
        except Exception as error:  # PySCIPOpt raises a plain Exception for SCIP's error codes
            if "LP solver" not in str(error):
                raise
            raise LRCountError("SCIP's LP solver failed on this network (numerical trouble: its pre-activations "
                               "span many orders of magnitude); count with engine split or vertex") from None
        if self.failure is not None:
            raise LRCountError(self.failure)

    def conscheck(self, constraints, solution, checkintegrality, checklprows, printreason, completely):
        # One-tree mode rejects every solution; it records regions during enforcement only,
        # where solinfeasible says whether the other handlers accepted the solution.
        if self.accept_regions and self._verdict(read_signs(self.model, self.encoding.binaries, solution)):
            return {"result": SCIP_RESULT.FEASIBLE}
        return {"result": SCIP_RESULT.INFEASIBLE}

    def consenfolp(self, constraints, nusefulconss, solinfeasible):
        return self._enforce(solinfeasible)

    def consenfops(self, constraints, nusefulconss, solinfeasible, objinfeasible):
        return self._enforce(solinfeasible)

    def conslock(self, constraint, locktype, nlockspos, nlocksneg):
        pass


def certified_model(problem: CountingProblem, on_region, *, accept_regions: bool, priority: int,
                    deadline: Deadline) -> tuple[Encoding, PatternCertifier]:
    """The encoding of ``problem`` with a :class:`PatternCertifier` enforced and checked at
    ``priority``, until ``deadline``. Accepted regions need no clauses, so the
    encoding then has no complement binaries (they slow SCIP's counter: docs/benchmarks.md)."""
    encoding = encode(problem, complements=not accept_regions)
    certifier = PatternCertifier(problem, encoding, on_region, accept_regions=accept_regions)
    encoding.model.includeConshdlr(
        certifier, "patterns", "certifies candidate patterns and cuts off those it does not accept",
        enfopriority=priority, chckpriority=priority, needscons=False,
    )
    if deadline.at is not None:
        encoding.model.setParam("limits/time", deadline.remaining())
    return encoding, certifier


def search_stats(encoding: Encoding, certifier: PatternCertifier) -> dict:
    """What the search did: nodes, LP iterations, binaries and rejected candidates."""
    return {
        "nodes": encoding.model.getNNodes(),
        "lp_iterations": encoding.model.getNLPIterations(),
        "binaries": len(encoding.binaries),
        "rejected_candidates": certifier.rejected,
    }
