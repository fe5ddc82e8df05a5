"""``count_regions``: the exact number of linear (activation) regions of a network in a domain."""

from __future__ import annotations

import json
import math
import os
import time
from contextlib import nullcontext
from dataclasses import asdict, dataclass, field

import numpy as np

from .checkpoint import Checkpoint, problem_identity
from .domain import Chart, Domain, stored_box
from .engines import EngineSpec, auto_engine, engine_spec, get_engine, get_explorer, listing_engines
from .errors import LRCountError
from .io.torch import network_from_module
from .network import ReLUNetwork
from .parallel import ParallelSearch, usable_cores
from .problem import CountingProblem, resolve_domain
from .progress import progress_bar
from .runtime import Deadline, SetupTimeout
from .tolerances import EPSILON


@dataclass
class CountResult:
    """The outcome of one count.

    ``count`` is the number of full-dimensional activation regions found; it is the exact
    number only when ``complete`` is True, and a lower bound otherwise (time limit or
    interrupt: ``status`` says which). Regions are activation patterns: two patterns with the
    same affine map count twice, as in all the papers this tool follows.
    """

    count: int
    complete: bool
    status: str
    engine: str
    seconds: float
    epsilon: float
    widths: list[int]
    domain_dim: int
    domain: dict
    layers: list[dict[str, int]]
    stats: dict = field(default_factory=dict)
    patterns: np.ndarray | None = None
    points: np.ndarray | None = None

    def to_dict(self) -> dict:
        """A JSON-ready dict; patterns and points as nested lists when present."""
        out = asdict(self)
        for key in ("patterns", "points"):
            out[key] = None if out[key] is None else np.asarray(out[key]).astype(float if key == "points" else int).tolist()
        return out

    def to_json(self, **kwargs) -> str:
        return json.dumps(self.to_dict(), **kwargs)

    def summary(self) -> str:
        """One human line: the count (or lower bound) and how it was obtained."""
        what = f"{self.count} regions" if self.complete else f">= {self.count} regions (incomplete: {self.status})"
        return (
            f"{what} | engine {self.engine} | {self.seconds:.2f} s | widths {self.widths} | "
            f"domain dimension {self.domain_dim} | epsilon {self.epsilon:g}"
        )


def pick_engine(engine: str, chart: Chart) -> EngineSpec:
    """The engine to run: ``engine`` itself, checked against the domain's dimension, or for
    ``"auto"`` the one :func:`lrcount.engines.auto_engine` picks for the chart (the fastest
    exact engine in docs/benchmarks.md)."""
    fastest = auto_engine(chart.dim, "box" if chart.A.shape[0] == 0 else "polytope")
    if engine == "auto":
        return engine_spec(fastest)
    spec = engine_spec(engine)
    if spec.max_dim is not None and chart.dim > spec.max_dim:
        raise LRCountError(f"engine {spec.name} needs a domain of dimension at most {spec.max_dim}, got {chart.dim}; "
                           f"use {fastest}")
    return spec


def count_regions(
    network: ReLUNetwork,
    domain: Domain | None = None,
    *,
    engine: str = "auto",
    time_limit: float | None = None,
    progress: bool = False,
    return_regions: bool = False,
    epsilon: float = EPSILON,
    jobs: int | None = None,
    client=None,
    checkpoint: str | os.PathLike | None = None,
    resume: bool = False,
    checkpoint_every: float = 60.0,
) -> CountResult:
    """Count the full-dimensional linear (activation) regions of ``network`` in ``domain``.

    Parameters
    ----------
    network
        The ReLU network.
    domain
        A :class:`~lrcount.Box`, :class:`~lrcount.Polytope` or :class:`~lrcount.Subspace`;
        default: the box stored with the network (from an ``.npz`` file).
    engine
        ``"auto"`` or one of :data:`lrcount.engines.ENGINES` (``planar``, ``vertex``, ``split``,
        ``milp``, ``scip-count``); ``auto`` follows :func:`lrcount.engines.auto_rule`.
    time_limit
        Seconds, set-up included (a subspace's chart, LP bounds); when it passes, the regions
        found so far are returned with ``complete=False`` (none if it passed during set-up:
        ``stats["stopped"]`` says so). Ctrl-C does the same.
    progress
        Show progress (regions, rate, elapsed) on stderr for runs over a second: a bar on a
        terminal, a plain line every few seconds elsewhere.
    return_regions
        Also return each region's activation pattern (all hidden neurons, layer by layer) and
        an interior point (in input coordinates): the centre of the region's largest ball
        (milp), or of a ball of radius >= epsilon in it (planar, split, vertex).
    epsilon
        A pattern is a region iff its set holds a ball of this radius, relative to the radius
        of the domain's largest ball (:mod:`lrcount.region`).
    jobs
        Worker processes for this one count (default: the cores this process may use). The
        count runs in this process first, for half a second; only a count that lasts longer
        starts workers (:mod:`lrcount.parallel`). ``1``: one search in this process. The
        ``milp`` and ``scip-count`` engines always run as one search.
    client
        A ``dask.distributed.Client``: run the count's tasks on its cluster instead.
    checkpoint
        A file to save the count's state to, every ``checkpoint_every`` seconds, on a time
        limit or Ctrl-C, and at the end (atomically); with ``resume=True``, the count goes on
        from the state saved there (refused if it was made for another network, domain,
        epsilon or engine). Regions (``return_regions``) are kept beside it (``FILE.regions``).
    """
    network, domain = _checked_inputs(network, domain)
    if engine != "auto":
        engine_spec(engine)
    if time_limit is not None and (not isinstance(time_limit, (int, float)) or isinstance(time_limit, bool)
                                   or not 0 < time_limit < math.inf):
        raise LRCountError(f"the time limit must be a positive number of seconds, got {time_limit!r}; leave it out for no limit")
    workers = _checked_jobs(jobs, client)
    if resume and checkpoint is None:
        raise LRCountError("resume=True needs the checkpoint file to resume from (checkpoint=PATH)")
    domain = resolve_domain(domain, stored_box(network))
    start = time.perf_counter()
    deadline = Deadline.after(time_limit)
    name = engine
    try:  # the time limit and Ctrl-C cover the set-up too
        spec = pick_engine(engine, domain.chart(network.input_dim, deadline=deadline))
        name = spec.name
        if return_regions and not spec.lists_regions:
            raise LRCountError(f"engine {name} counts without listing regions; use {', '.join(listing_engines())} to get them")
        # tasks for a checkpoint, a cluster or several cores; by default only for the engines that
        # have them (an engine without them refuses what was asked for explicitly)
        tasks = client is not None or checkpoint is not None or (
            workers > 1 and (get_explorer(name) is not None or jobs is not None))
        saved = None
        if checkpoint is not None:
            saved = Checkpoint(checkpoint, problem_identity(network, domain, epsilon, name), resume=resume,
                               every=checkpoint_every)
        problem = CountingProblem.build(network, domain, epsilon, tighten=spec.tightened_bounds, deadline=deadline)
    except (KeyboardInterrupt, SetupTimeout) as stop:
        status = "userinterrupt" if isinstance(stop, KeyboardInterrupt) else "timelimit"
        return CountResult(0, False, status, name, time.perf_counter() - start, epsilon, network.widths,
                           0, domain.to_dict(), [], stats={"stopped": "during set-up"})
    with progress_bar(progress, desc=f"counting ({name})", unit=" regions") as bar:
        if tasks:
            run = ParallelSearch(problem, name, jobs=workers, client=client, deadline=deadline, on_region=bar.update,
                                 collect=return_regions, checkpoint=saved, on_status=bar.set_postfix_str).run()
        else:
            run = get_engine(name)(problem, deadline=deadline, on_region=bar.update, collect=return_regions)
    return CountResult(
        count=run.count,
        complete=run.complete,
        status=run.status,
        engine=name,
        seconds=time.perf_counter() - start,
        epsilon=epsilon,
        widths=network.widths,
        domain_dim=problem.chart.dim,
        domain=domain.to_dict(),
        layers=problem.bounds.counts(),
        stats=run.stats,
        patterns=None if run.patterns is None else np.array(run.patterns, dtype=bool).reshape(-1, network.n_hidden),
        points=None if run.points is None else problem.chart.to_input(np.array(run.points).reshape(-1, problem.chart.dim)),
    )


def _checked_jobs(jobs, client) -> int:
    """The number of worker processes: ``jobs``, checked, or the usable cores."""
    if jobs is None:
        return usable_cores()
    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
        raise LRCountError(f"jobs must be a whole number of processes >= 1, got {jobs!r}")
    if client is not None and jobs != 1:
        raise LRCountError("give either jobs (local processes) or a Dask client, not both")
    return jobs


def _checked_inputs(network, domain) -> tuple[ReLUNetwork, Domain | None]:
    """The network (a PyTorch module is converted, as :func:`lrcount.from_torch` does) and
    the domain, or a clear error for anything else."""
    if not isinstance(network, ReLUNetwork):
        if type(network).__module__.startswith("torch"):
            network = network_from_module(network)
        else:
            raise LRCountError(f"the network must be a ReLUNetwork (or a torch.nn.Sequential), got {type(network).__name__}; "
                               "load a file with lrcount.load")
    if domain is not None and not isinstance(domain, Domain):
        raise LRCountError(f"the domain must be a Box, Polytope or Subspace, got {type(domain).__name__}; "
                           "e.g. lrcount.Box(-1, 1)")
    return network, domain


def _count_one(task) -> CountResult:
    network, domain, kwargs = task
    return count_regions(network, domain, **kwargs)


def count_many(
    pairs: list[tuple[ReLUNetwork, Domain | None]],
    *,
    jobs: int = 1,
    client=None,
    progress=False,
    **kwargs,
) -> list[CountResult]:
    """Count many (network, domain) pairs, each on one core, ``jobs`` at a time in local
    processes or all on the Dask cluster of ``client``, with one progress bar over all of them
    (``progress=True``; or a function called with 1 as each count ends, to drive a bar of your
    own); ``kwargs`` go to :func:`count_regions` (engine, time_limit, epsilon, ...). Results
    come back in the order of ``pairs``."""
    tasks = [(network, domain, {"jobs": 1, **kwargs}) for network, domain in pairs]
    return run_many(_count_one, tasks, jobs=jobs, client=client, progress=progress, desc="counting", unit=" counts")


def run_many(function, tasks: list, *, jobs: int = 1, client=None, progress=False, desc: str, unit: str) -> list:
    """``[function(task) for task in tasks]``, ``jobs`` at a time in local processes or on the
    Dask cluster of ``client``; ``progress``: True for a bar, or a function called with 1 as
    each task ends. ``function`` must be importable by name (it travels to the workers)."""
    from concurrent.futures import ProcessPoolExecutor

    with progress_bar(progress is True, total=len(tasks), desc=desc, unit=unit) as bar:
        advance = progress if callable(progress) else bar.update
        if client is not None:
            from distributed import as_completed

            futures = client.map(function, tasks, pure=False)
            for _ in as_completed(futures):
                advance(1)
            return [future.result() for future in futures]
        results = []
        with ProcessPoolExecutor(max_workers=jobs) if jobs > 1 else nullcontext() as pool:
            for result in pool.map(function, tasks) if pool else map(function, tasks):
                results.append(result)
                advance(1)
    return results
