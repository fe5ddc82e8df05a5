"""The ``split`` engine: region splitting with cheap bounds first and warm-started LPs.

Each region is a polytope on which every pre-activation is affine (docs/theory.md section 2,
independent methods; cf. nnenum's star sets, Bak 2021). A depth-first search enters a layer on
a region ``P`` with a witness ball (centre ``x``, radius ``rho`` inside ``P``) and, for all the
layer's neurons at once (numpy):

1. neurons constant on ``P`` take their sign (:mod:`lrcount.region`);
2. interval bounds of ``g_i`` over the domain's bounding box decide the neurons that cannot
   change sign on ``P``, and rule out a side that cannot hold a ball of radius epsilon
   (``max g_i < epsilon ||a_i||``);
3. each remaining neuron is split: the side that holds the witness keeps it (radius
   ``min(rho, |g_i(x)| / ||a_i||)``) with no LP when that is still >= epsilon; any other side
   costs one Chebyshev-ball LP (:mod:`lrcount.simplex`), solved where the side is cut (most
   such sides hold no region, and then no search node is made), warm-started from the last
   optimal basis on its path (a child is its parent plus one row), and stopped as soon as its
   bound shows the radius below epsilon.

A pattern is reached iff every partial set along its path holds an epsilon ball, which is
exactly the definition of :mod:`lrcount.region` (the full set's ball lies in every partial
set). The search keeps a stack, not recursion, and its memory is flat in the number of
regions unless they are collected.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ..problem import CountingProblem
from ..region import AffineMap, LayerPieces, is_region, pattern_rows
from ..runtime import NEVER, Deadline
from ..simplex import ChebyshevLP
from ..tolerances import BOX_PAD
from . import EngineRun, RegionLog
from .cells import box_sides, unit_planes
from .frontier import Prefix, whole_search

#: A box is recomputed inside a layer once this many cut rows were added since it was made.
_STALE_ROWS = 3


def _chebyshev_lp(problem: CountingProblem) -> ChebyshevLP:
    """The LP of the domain: its chart's box and rows (unit norm), before any cut."""
    chart = problem.chart
    lp = ChebyshevLP(chart.lower, chart.upper)
    norms = np.linalg.norm(chart.A, axis=1)
    for row, rhs in zip(chart.A / norms[:, None], chart.c / norms):
        lp.push(row, rhs)
    return lp


@dataclass(kw_only=True)
class _Frame:
    """A node of the search: the region of the path so far, once ``row`` is added to the
    LP's first ``n_rows`` rows; ``radius`` < 0 means its witness ball is not known yet."""

    layer: int
    pieces: LayerPieces | None
    todo: np.ndarray  # neurons of this layer still to split
    on: np.ndarray  # signs of this layer's neurons decided so far
    path: tuple  # signs of the earlier layers
    x: np.ndarray
    radius: float
    basis: np.ndarray | None = None  # the LP's optimal basis on the region, if solved (a warm start below)
    n_rows: int
    row: tuple[np.ndarray, float] | None
    mid: np.ndarray  # centre and half-widths of a box around the layer's entry region
    half: np.ndarray
    points: np.ndarray  # points known to lie in the region (rows)
    box_rows: int  # the LP's rows when the box was computed


def _witness(x, radius, distance, points, point_distances) -> tuple[np.ndarray, float]:
    """A ball inside ``P ∩ {side}`` from what is known of ``P``: the ball (x, radius) and the
    ``points`` lie in P, so their convex hull does; on the segment from x to a point v, the
    ball around ``x + t (v - x)`` of radius ``(1 - t) radius`` stays in P and is at distance
    ``distance + t (d_v - distance)`` from the hyperplane. The best t balances the two."""
    best_x, best = x, min(radius, distance)
    if best >= radius or len(points) == 0:
        return best_x, best
    ahead = point_distances > distance
    if ahead.any():
        points, gain = points[ahead], point_distances[ahead] - distance
        t = np.clip((radius - distance) / (radius + gain), 0.0, 1.0)
        value = np.minimum((1 - t) * radius, distance + t * gain)
        j = int(np.argmax(value))
        if value[j] > best:
            best_x, best = x + t[j] * (points[j] - x), float(value[j])
    return best_x, best


class Splitter:
    """The search, recording into ``log``; :func:`run` drives it from the whole domain, and
    :meth:`resume` from any partial pattern (the ``vertex`` engine hands it degenerate cells)."""

    def __init__(self, problem: CountingProblem, log: RegionLog):
        self.problem = problem
        self.eps = problem.epsilon
        self.layers = problem.net.hidden_layers
        self.log = log
        self.lp = _chebyshev_lp(problem)
        self.domain_rows = self.lp.n_rows
        chart = problem.chart
        self.mid, self.half = (chart.lower + chart.upper) / 2, (chart.upper - chart.lower) / 2
        self.box_lps = chart.dim

    def frame_at(self, prefix: Prefix) -> _Frame | None:
        """The search node of ``prefix``, or None when its set holds no region; a prefix at a
        layer boundary is entered as the search enters a layer (bounds first)."""
        chart = self.problem.chart
        rows = pattern_rows(self.problem.net, chart, prefix.bits, layers=prefix.layer)
        if rows.conflict is not None:
            return None
        mine = rows.owners >= 0
        A, c = rows.A[mine], rows.c[mine]
        path = (prefix.bits,) if prefix.layer else ()
        if prefix.todo is None:
            self.lp.truncate(self.domain_rows)
            for row, rhs in zip(A, c):
                self.lp.push(row, rhs)
            radius, x = self.lp.solve(self.eps)
            if not is_region(radius, self.eps):
                return None
            return self._enter(prefix.layer, rows.affine, path, x, radius, self.lp.n_rows, self.mid, self.half)
        pieces = rows.affine.layer(*self.layers[prefix.layer])
        decided = np.setdiff1d(np.flatnonzero(~pieces.constant), prefix.todo)
        A_layer, c_layer = pieces.margin_rows(prefix.on, decided)
        frame = self.resume(layer=prefix.layer, pieces=pieces, on=prefix.on.copy(), todo=prefix.todo, path=path,
                            A=np.vstack([A, A_layer]), c=np.r_[c, c_layer], lower=chart.lower, upper=chart.upper,
                            points=np.zeros((0, chart.dim)))
        frame.box_rows = -_STALE_ROWS  # the domain's box: tighten it before the first split
        return frame

    @staticmethod
    def prefix_of(frame: _Frame) -> Prefix:
        """The node ``frame`` as a :class:`Prefix` that can travel (its LP rows are rebuilt)."""
        bits = np.concatenate(frame.path) if frame.path else np.zeros(0, bool)
        return Prefix(frame.layer, bits, frame.on.copy(), frame.todo.copy())

    def _enter(self, l: int, affine: AffineMap, path: tuple, x, radius, n_rows, mid, half) -> _Frame | None:
        """Enter layer ``l`` on a region where ``h^{l-1} = affine(u)``, inside the box
        ``mid +- half`` (its parent's); decide what bounds can."""
        if l == len(self.layers):
            self._found(path, x)
            return None
        pieces = affine.layer(*self.layers[l])
        on = pieces.on_if_constant.copy()
        frame = _Frame(layer=l, pieces=pieces, todo=np.flatnonzero(~pieces.constant), on=on, path=path, x=x,
                       radius=radius, n_rows=n_rows, row=None, mid=mid, half=half, points=np.zeros((0, self.lp.k)),
                       box_rows=n_rows)
        self._settle_by_box(frame)
        if frame.todo.size > self.box_lps:
            self._tighten_box(frame)
        # Hyperplanes far from the witness rarely cut the region: settle them first, once, before
        # the splits multiply the sub-regions they would be tested in.
        todo = frame.todo
        reach = np.abs(pieces.G[todo] @ x + pieces.gamma[todo]) / (np.abs(pieces.G[todo]) @ frame.half)
        frame.todo = todo[np.argsort(-reach, kind="stable")]
        return frame

    @staticmethod
    def _settle_by_box(frame: _Frame) -> None:
        """Decide the undecided neurons whose sign is constant on the frame's box (no slack:
        the box is already padded by ``BOX_PAD``, far above the LPs' tolerance)."""
        todo = frame.todo
        centre, may_cross = box_sides(unit_planes(frame.pieces, todo), frame.mid, frame.half, 0.0)
        frame.on[todo] = centre > 0
        frame.todo = todo[may_cross]

    def _tighten_box(self, frame: _Frame) -> None:
        """Replace the frame's box by its region's bounding box (2k LPs) and settle by it."""
        lower, upper, frame.points = self.lp.bounding_box()
        frame.mid, frame.half = (lower + upper) / 2, (upper - lower) / 2 + BOX_PAD * (1 + np.abs(frame.mid))
        frame.box_rows = self.lp.n_rows
        self._settle_by_box(frame)

    def expand(self, frame: _Frame) -> list[_Frame]:
        """Make ``frame``'s region current in the LP and return its children."""
        lp = self.lp
        lp.truncate(frame.n_rows)
        if frame.row is not None:
            lp.push(*frame.row)
        if frame.basis is not None:
            lp.remember(frame.basis)
        if not is_region(frame.radius, self.eps):
            frame.radius, frame.x = lp.solve(self.eps)
            if not is_region(frame.radius, self.eps):
                return []
        if frame.todo.size > self.box_lps and lp.n_rows - frame.box_rows >= _STALE_ROWS:
            self._tighten_box(frame)
        if frame.todo.size == 0:
            child = self._enter(frame.layer + 1, frame.pieces.restrict(frame.on), (*frame.path, frame.on),
                                frame.x, frame.radius, lp.n_rows, frame.mid, frame.half)
            return [] if child is None else [child]
        i, rest = frame.todo[0], frame.todo[1:]
        pieces = frame.pieces
        unit, offset, unit_abs = pieces.unit_rows
        row, row_offset = unit[i], float(offset[i])
        distance = float(row @ frame.x) + row_offset
        bound = float(unit_abs[i] @ frame.half)
        centre = float(row @ frame.mid) + row_offset
        at_points = frame.points @ row + row_offset
        children = []
        for side in (distance < 0, distance >= 0):  # far side first: the near one is expanded first
            sign = 1.0 if side else -1.0
            if sign * centre + bound < self.eps:  # no epsilon ball on this side of the bounding box
                continue
            x, radius = _witness(frame.x, frame.radius, sign * distance, frame.points, sign * at_points)
            cut = (-sign * row, sign * row_offset)
            basis = None
            if not is_region(radius, self.eps):  # settled here: most such sides hold no region
                lp.push(*cut)
                radius, x = lp.solve(self.eps)
                basis = lp.optimal_basis()
                lp.truncate(lp.n_rows - 1)
                if not is_region(radius, self.eps):
                    continue
            on = frame.on.copy()
            on[i] = side
            children.append(_Frame(layer=frame.layer, pieces=pieces, todo=rest, on=on, path=frame.path, x=x,
                                   radius=radius, basis=basis, n_rows=lp.n_rows, row=cut, mid=frame.mid, half=frame.half,
                                   points=frame.points[sign * at_points >= 0], box_rows=frame.box_rows))
        return children

    def resume(self, *, layer: int, pieces: LayerPieces, on: np.ndarray, todo: np.ndarray, path: tuple,
               A: np.ndarray, c: np.ndarray, lower: np.ndarray, upper: np.ndarray, points: np.ndarray) -> _Frame:
        """The search node below a partial pattern: ``path`` holds the signs of the layers
        before ``layer``, ``on`` those of its neurons outside ``todo``; the set of that pattern
        is the domain cut by ``A u <= c`` (unit-norm rows), lies in the box [lower, upper] and
        holds ``points``."""
        self.lp.truncate(self.domain_rows)
        for row, rhs in zip(A, c):
            self.lp.push(row, rhs)
        mid = (lower + upper) / 2
        half = (upper - lower) / 2 + BOX_PAD * (1 + np.abs(mid))
        return _Frame(layer=layer, pieces=pieces, todo=todo, on=on, path=path, x=mid, radius=-1.0, n_rows=self.lp.n_rows,
                      row=None, mid=mid, half=half, points=points, box_rows=self.lp.n_rows)

    def drain(self, stack: list[_Frame], stop_reason: Callable[[], str | None]) -> str | None:
        """Search depth first from the nodes on ``stack``; the reason to stop early, if any."""
        steps = 0
        while stack:
            stack.extend(self.expand(stack.pop()))
            steps += 1
            if steps % 64 == 0 and (reason := stop_reason()):
                return reason
        return None

    def _found(self, path: tuple, x: np.ndarray) -> None:
        self.log.add([np.concatenate(path) if path else np.zeros(0, bool)], [x.copy()])


class Fallback:
    """The ``split`` engine for the cells another engine cannot decide by its own means (not
    simple, degenerate): it records into that engine's log, and is built on first need (its
    LP is not needed by most counts). Once ``slice_end`` passes, the nodes of its search not
    yet expanded go to ``frontier`` (the engine's), as ``split`` nodes, so that a degenerate
    cell (a trained network's whole domain, at times) is shared out like any other work."""

    def __init__(self, problem: CountingProblem, log: RegionLog, *, slice_end: Deadline = NEVER,
                 frontier: list[Prefix] | None = None):
        self.problem, self.log = problem, log
        self.slice_end = slice_end
        self.frontier = [] if frontier is None else frontier
        self.splitter: Splitter | None = None
        self.cells = 0

    def _splitter(self) -> Splitter:
        if self.splitter is None:
            self.splitter = Splitter(self.problem, self.log)
        return self.splitter

    def _drain(self, frame: _Frame | None, stop_reason: Callable[[], str | None]) -> str | None:
        """Search below ``frame``; nodes left when the slice ends go to the frontier."""
        if frame is None:
            return None
        stack = [frame]
        why = self._splitter().drain(stack, lambda: stop_reason() or ("slice" if self.slice_end.passed() else None))
        if why == "slice":
            self.frontier.extend(Splitter.prefix_of(node) for node in stack)
            return None
        return why

    def count_below(self, stop_reason: Callable[[], str | None], **where) -> str | None:
        """Count the regions below one partial pattern (``where``: the keyword arguments of
        :meth:`Splitter.resume`); the reason to stop early, if any."""
        self.cells += 1
        return self._drain(self._splitter().resume(**where), stop_reason)

    def count_prefix(self, prefix: Prefix, stop_reason: Callable[[], str | None]) -> str | None:
        """Count the regions below ``prefix``, its set rebuilt from its pattern's rows; the
        reason to stop early, if any."""
        self.cells += 1
        return self._drain(self._splitter().frame_at(prefix), stop_reason)

    def explore(self, prefixes: list[Prefix], stop_reason: Callable[[], str | None]) -> str | None:
        """Go on below ``split`` nodes that an earlier task handed back; those not started
        when the slice ends (after the first) go back as they came."""
        for j, prefix in enumerate(prefixes):
            if j and self.slice_end.passed():
                self.frontier.extend(prefixes[j:])
                return None
            if why := self._drain(self._splitter().frame_at(prefix), stop_reason):
                return why
        return None

    @property
    def lps(self) -> int:
        return 0 if self.splitter is None else self.splitter.lp.solves


def explore(problem: CountingProblem, prefixes: list[Prefix], *, stop_reason: Callable[[], str | None] = lambda: None,
            slice_end: Deadline = NEVER, on_region: Callable[[int], None] = lambda n: None,
            collect: bool = False) -> tuple[EngineRun, list[Prefix]]:
    """Enumerate the regions below ``prefixes`` (:mod:`lrcount.engines.frontier`) until
    ``stop_reason`` says to stop, or ``slice_end`` passes: then the unexplored nodes come back
    as the frontier, and the regions found plus those below the frontier are exactly the
    regions below ``prefixes``."""
    splitter = Splitter(problem, RegionLog(on_region, collect))

    def reason() -> str | None:
        return stop_reason() or ("slice" if slice_end.passed() else None)

    status, frontier = "complete", []
    for j, prefix in enumerate(prefixes):
        stack: list[_Frame] = []
        if (why := reason()) is None:
            frame = splitter.frame_at(prefix)
            stack = [] if frame is None else [frame]
            why = splitter.drain(stack, reason)
            j += 1  # this prefix is done, or its rest is on the stack
        if why == "slice":
            frontier = [splitter.prefix_of(frame) for frame in stack] + list(prefixes[j:])
            break
        if why is not None:
            status = why
            break
    return splitter.log.result(status, {"lps": splitter.lp.solves, "lp_fallbacks": splitter.lp.fallbacks}), frontier


def run(problem: CountingProblem, *, deadline: Deadline = NEVER, on_region: Callable[[int], None] = lambda n: None,
        collect: bool = False) -> EngineRun:
    """Enumerate every region of ``problem`` by splitting polytopes."""
    return whole_search(explore, problem, deadline=deadline, on_region=on_region, collect=collect)
