"""One count on many processes or a Dask cluster, and resumable from a checkpoint.

The count is cut into tasks by activation prefix (:mod:`lrcount.engines.frontier`): a task
explores its prefixes for a time slice and hands back the nodes it did not reach, which become
new tasks. The coordinator keeps the tasks pending (newest first, so the pending work stays as
small as a depth-first search's), sends them to workers, adds up what comes back, and saves it
all in a checkpoint now and then. A task holds a few hundred bytes and the problem travels once
to each worker, so the same tasks run in local processes and on a Dask cluster
(docs/parallel.md). The regions found are those of the serial search, one task's or another's:
the tasks' subtrees are disjoint and cover the tree.
"""

from __future__ import annotations

import heapq
import math
import os
import signal
import time
from collections import deque
from dataclasses import dataclass, field

import numpy as np

from .checkpoint import Checkpoint, RegionRecords, State
from .engines import EngineRun, get_explorer
from .engines.frontier import divide, pack, unpack
from .errors import LRCountError
from .problem import CountingProblem
from .runtime import Deadline, search_limits

#: Seconds the first task runs in the calling process: counts done by then start no workers.
FIRST_SLICE = 0.2
#: Seconds a task runs before it hands back what it did not reach, once the queue is full.
SLICE = 0.25
#: The shortest slice, as a fraction of :data:`SLICE` (while few tasks wait).
SHORTEST_SLICE = 1 / 16
#: Times a task is sent again after its worker died, before the count gives up.
MAX_RERUNS = 3
#: The environment that Dask workers need to run the engines at full speed (docs/parallel.md):
#: Dask's nanny sets ``MALLOC_TRIM_THRESHOLD_``, which also fixes glibc's mmap threshold at
#: 128 kB, so that every large array is a fresh mmap; a vertex count ran 2.2x slower.
DASK_WORKER_ENV = {"MALLOC_MMAP_THRESHOLD_": "33554432"}


def dask_client(address: str):
    """A ``dask.distributed.Client`` connected to the scheduler at ``address``, or a clear error."""
    try:
        from distributed import Client
    except ImportError:
        raise LRCountError("running on a Dask cluster needs Dask: pip install 'lrcount[dask]'") from None
    try:
        return Client(address, timeout=5)
    except (OSError, TimeoutError, ValueError) as error:
        raise LRCountError(f"cannot reach a Dask scheduler at {address} ({error}); start one with `dask scheduler` "
                           "and workers with `dask worker ADDRESS`") from None


def usable_cores() -> int:
    """The number of cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


@dataclass
class TaskResult:
    """What a task found: the regions (patterns and points in chart coordinates, one row each,
    when collected), the frontier handed back (:func:`~lrcount.engines.frontier.pack`ed), and
    the worker's seconds."""

    count: int
    patterns: np.ndarray | None
    points: np.ndarray | None
    frontier: dict[str, np.ndarray]
    seconds: float
    status: str = "complete"
    stats: dict = field(default_factory=dict)


def explore_task(problem: CountingProblem, engine: str, task: dict[str, np.ndarray], slice_seconds: float, collect: bool,
                 stop_reason=lambda: None, on_region=lambda n: None) -> TaskResult:
    """Run one task: explore its prefixes (``task``: packed) with ``engine`` for ``slice_seconds``."""
    start = time.perf_counter()
    run, frontier = get_explorer(engine)(problem, unpack(task), stop_reason=stop_reason,
                                         slice_end=Deadline.after(slice_seconds), on_region=on_region, collect=collect)
    patterns = points = None
    if collect:
        patterns = np.array(run.patterns, dtype=bool).reshape(-1, problem.net.n_hidden)
        points = np.array(run.points, dtype=float).reshape(-1, problem.chart.dim)
    return TaskResult(run.count, patterns, points, pack(frontier), time.perf_counter() - start, run.status, run.stats)


_WORKER_PROBLEM: CountingProblem | None = None


def _start_worker(problem: CountingProblem) -> None:
    """A worker process keeps the problem, leaves Ctrl-C to the coordinator, and runs BLAS on
    one thread: the workers already use every core, and each one's BLAS threads would spin
    for cores the others hold (2 workers ran 1.5x slower than 1 process on 2 cores)."""
    global _WORKER_PROBLEM
    from threadpoolctl import threadpool_limits

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    threadpool_limits(1)
    _WORKER_PROBLEM = problem


def _process_task(engine: str, task: dict[str, np.ndarray], slice_seconds: float, collect: bool) -> TaskResult:
    return explore_task(_WORKER_PROBLEM, engine, task, slice_seconds, collect)


class _Processes:
    """Local worker processes: forked when the caller runs one thread (fast, and its script
    is not run again), else started fresh (a fork copies locks that other threads may hold;
    the caller's script then needs the ``if __name__ == "__main__":`` guard)."""

    def __init__(self, problem: CountingProblem, jobs: int):
        self.problem, self.workers = problem, jobs
        self.pool = self._start()

    def _start(self):
        import threading
        from concurrent.futures import ProcessPoolExecutor
        from multiprocessing import get_context

        method = "fork" if threading.active_count() == 1 and os.name == "posix" else "spawn"
        return ProcessPoolExecutor(self.workers, mp_context=get_context(method), initializer=_start_worker,
                                   initargs=(self.problem,))

    def submit(self, engine, prefixes, slice_seconds, collect):
        return self.pool.submit(_process_task, engine, prefixes, slice_seconds, collect)

    @staticmethod
    def lost(error: BaseException) -> bool:
        from concurrent.futures.process import BrokenProcessPool

        return isinstance(error, BrokenProcessPool)

    def restart(self) -> None:
        self.pool.shutdown(wait=False, cancel_futures=True)
        self.pool = self._start()

    def close(self) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)


def _allocator_environment() -> dict[str, str | None]:
    return {name: os.environ.get(name) for name in ("MALLOC_TRIM_THRESHOLD_", *DASK_WORKER_ENV)}


def slow_allocator(environments: dict[str, dict[str, str | None]]) -> list[str]:
    """The workers (address: their malloc settings) whose ``MALLOC_TRIM_THRESHOLD_`` is set
    without ``MALLOC_MMAP_THRESHOLD_``: the engines run about half as fast there."""
    return sorted(address for address, env in environments.items()
                  if env.get("MALLOC_TRIM_THRESHOLD_") is not None and env.get("MALLOC_MMAP_THRESHOLD_") is None)


class _Dask:
    """The workers of a Dask cluster, through ``client``; the problem is sent to each once.
    Workers started with Dask's default allocator settings are named in a warning."""

    def __init__(self, problem: CountingProblem, client):
        self.client = client
        # a key of its own: a count of the same problem just before may still be releasing its copy
        self.problem = client.scatter(problem, broadcast=True, hash=False)
        self.workers = max(1, len(client.scheduler_info().get("workers", {})))
        slow = slow_allocator(client.run(_allocator_environment))
        if slow:
            import warnings

            setting = " ".join(f"{name}={value}" for name, value in DASK_WORKER_ENV.items())
            warnings.warn(f"{len(slow)} of {self.workers} Dask workers run with MALLOC_TRIM_THRESHOLD_ set and no "
                          f"MALLOC_MMAP_THRESHOLD_, where counts run about half as fast; start them with {setting} "
                          "(docs/parallel.md)", RuntimeWarning, stacklevel=2)

    def submit(self, engine, prefixes, slice_seconds, collect):
        return self.client.submit(explore_task, self.problem, engine, prefixes, slice_seconds, collect, pure=False)

    @staticmethod
    def lost(error: BaseException) -> bool:
        from distributed import KilledWorker

        return isinstance(error, KilledWorker)

    def restart(self) -> None:
        pass

    def close(self) -> None:
        pass


@dataclass
class _Running:
    future: object
    task: dict[str, np.ndarray]  # packed prefixes
    task_id: int


@dataclass
class TaskLog:
    """Each task's parent (-1: none) and worker seconds, in the order they were made: enough
    to replay the run's split on any number of workers (:func:`simulated_speedup`)."""

    parents: list[int] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"parents": self.parents, "seconds": [round(s, 6) for s in self.seconds]}


class ParallelSearch:
    """One count's coordinator (see the module docstring); :meth:`run` returns an
    :class:`~lrcount.engines.EngineRun` like any engine's.

    The split follows the number of workers: a task's frontier is cut into up to two tasks
    per worker, two tasks per worker are in flight, and slices are shorter while fewer tasks
    wait than that. ``plan_workers`` makes the split for that many workers whatever the
    workers there are: run on two, its task log shows how the count would run on many
    (:func:`simulated_speedup`)."""

    def __init__(self, problem: CountingProblem, engine: str, *, jobs: int, client=None, deadline: Deadline,
                 on_region, collect: bool, checkpoint: Checkpoint | None = None, on_status=lambda text: None,
                 plan_workers: int | None = None):
        if get_explorer(engine) is None:
            raise LRCountError(f"engine {engine} runs as one search: it cannot use several processes or a checkpoint; "
                               "use split, vertex or planar, or jobs=1 without a checkpoint")
        self.problem, self.engine, self.jobs, self.client = problem, engine, jobs, client
        self.deadline, self.on_region, self.collect = deadline, on_region, collect
        self.checkpoint, self.on_status, self.plan_workers = checkpoint, on_status, plan_workers
        self.state = checkpoint.load() if checkpoint else State()
        self.pending: deque[tuple[dict[str, np.ndarray], int]] = deque((task, -1) for task in self.state.pending)
        self.running: list[_Running] = []
        self.patterns: list = []
        self.points: list = []
        self.records = None
        if checkpoint and collect:
            self.records = RegionRecords(checkpoint.regions_path, problem.net.n_hidden, problem.chart.dim,
                                         self.state.records)
        self.log = TaskLog()
        self.engine_stats: dict = {}  # the engine's own, added up over tasks
        self.attempts: dict[int, int] = {}  # by task (its list of prefixes)
        self.executor = None
        self.start = time.perf_counter() - self.state.seconds
        self.saved = time.monotonic()

    def run(self) -> EngineRun:
        status = "complete"
        if self.state.count:  # resumed
            self.on_region(self.state.count)
        try:
            with search_limits(self.deadline) as stop_reason:
                status = self._loop(stop_reason) or "complete"
        finally:
            for running in self.running:  # stopped: their tasks stay pending
                self.pending.append((running.task, self.log.parents[running.task_id]))
                cancel = getattr(running.future, "cancel", None)
                cancel and cancel()
            self.running = []
            if self.executor is not None:
                self.executor.close()
            self._save()
        workers = self.executor.workers if self.executor is not None else self.jobs if self.client is None else 1
        stats = {**self.engine_stats, "jobs": workers,
                 "tasks": self.state.tasks, "reruns": self.state.reruns, "pending": len(self.pending),
                 "task_log": self.log.to_dict()}
        if self.checkpoint is not None:
            stats["checkpoint"] = self.checkpoint.path
        patterns = np.concatenate(self.patterns) if self.patterns else np.zeros((0, self.problem.net.n_hidden), bool)
        points = np.concatenate(self.points) if self.points else np.zeros((0, self.problem.chart.dim))
        if self.records is not None:
            patterns, points = self.records.read()
            self.records.close()
        return EngineRun(self.state.count, status == "complete" and not self.pending, status,
                         list(patterns) if self.collect else None, list(points) if self.collect else None, stats)

    def _loop(self, stop_reason) -> str | None:
        parallel = self.jobs > 1 or self.client is not None
        while self.pending and (not parallel or time.perf_counter() - self.start < FIRST_SLICE):
            # in this process: the first slice, or every task of a count on one core
            if reason := stop_reason():
                return reason
            task, parent = self.pending.pop()
            slice_seconds = FIRST_SLICE if parallel else self._until_save()
            result = explore_task(self.problem, self.engine, task, self._sliced(slice_seconds), self.collect,
                                  stop_reason, on_region=self.on_region)  # progress as regions are found
            if result.status != "complete":  # interrupted: the task stays pending, its regions are found again
                self.pending.append((task, parent))
                return result.status
            self._absorb(result, self._new_task_id(parent), reported=True)
            self._maybe_save()
        if not self.pending:
            return None
        self.executor = _Dask(self.problem, self.client) if self.client is not None else _Processes(self.problem, self.jobs)
        while self.pending or self.running:
            reason = stop_reason()
            if reason == "userinterrupt":
                return reason
            while reason is None and self.pending and len(self.running) < 2 * self._workers():
                slice_seconds = self._sliced(self._slice())
                task, parent = self.pending.pop()
                task_id = self._new_task_id(parent)
                future = self.executor.submit(self.engine, task, slice_seconds, self.collect)
                self.running.append(_Running(future, task, task_id))
            done = [r for r in self.running if r.future.done()]
            if not done:
                time.sleep(0.005)
                continue
            for r in done:
                if r in self.running:  # not already sent again after a lost worker
                    self.running.remove(r)
                    self._finish(r)
            self._maybe_save()
            self.on_status(f"{len(self.pending) + len(self.running)} tasks pending, {self.executor.workers} workers")
            if reason is not None and not self.running:
                return reason
        return None

    def _finish(self, running: _Running) -> None:
        error = running.future.exception()
        if error is None:
            self._absorb(running.future.result(), running.task_id)
            return
        if not self.executor.lost(error):
            raise error
        lost = [running] + (self.running if isinstance(self.executor, _Processes) else [])  # a broken pool loses all
        for task in lost:
            self.attempts[id(task.task)] = self.attempts.get(id(task.task), 0) + 1
            if self.attempts[id(task.task)] > MAX_RERUNS:
                raise LRCountError(f"workers died {MAX_RERUNS + 1} times on the same task; the count stops "
                                   "(check the workers' memory limits; a script that starts workers needs the "
                                   "if __name__ == '__main__': guard)") from error
            self.state.reruns += 1
            self.pending.append((task.task, self.log.parents[task.task_id]))
        if isinstance(self.executor, _Processes):
            self.running = []
            self.executor.restart()

    def _absorb(self, result: TaskResult, task_id: int, reported: bool = False) -> None:
        """Add a finished task's regions (``reported``: already shown as progress) and make
        tasks of its frontier."""
        self.state.count += result.count
        self.state.tasks += 1
        for key, value in result.stats.items():
            added = isinstance(value, int) and not isinstance(value, bool)  # counts add up; the rest is per problem
            self.engine_stats[key] = self.engine_stats.get(key, 0) + value if added else value
        self.log.seconds[task_id] = result.seconds
        if self.collect:
            if self.records is not None:
                self.records.append(result.patterns, result.points)
            else:
                self.patterns.append(result.patterns)
                self.points.append(result.points)
        if result.count and not reported:
            self.on_region(result.count)
        for task in divide(result.frontier, 2 * self._workers()):
            self.pending.append((task, task_id))

    def _workers(self) -> int:
        """The number of workers the split is made for."""
        return self.plan_workers or (self.jobs if self.executor is None else self.executor.workers)

    def _slice(self) -> float:
        """:data:`SLICE`, shortened in proportion while fewer tasks wait than two per worker
        (down to :data:`SHORTEST_SLICE` of it): idle workers then get work sooner, while the
        tree is still narrow (at the start, and at the end of a count)."""
        waiting = len(self.pending) / (2 * self._workers())
        return SLICE * min(1.0, max(waiting, SHORTEST_SLICE))

    def _new_task_id(self, parent: int) -> int:
        self.log.parents.append(parent)
        self.log.seconds.append(0.0)
        return len(self.log.parents) - 1

    def _sliced(self, seconds: float) -> float:
        remaining = self.deadline.remaining()
        return seconds if remaining is None else max(min(seconds, remaining), 0.0)

    def _until_save(self) -> float:
        if self.checkpoint is None:
            return math.inf
        return max(self.checkpoint.every - (time.monotonic() - self.saved), 0.01)

    def _maybe_save(self) -> None:
        if self.checkpoint is not None and time.monotonic() - self.saved >= self.checkpoint.every:
            self._save()

    def _save(self) -> None:
        if self.checkpoint is None:
            return
        if self.records is not None:
            self.records.sync()
            self.state.records = self.records.records
        self.state.pending = [task for task, _ in self.pending] + [r.task for r in self.running]
        self.state.seconds = time.perf_counter() - self.start
        self.checkpoint.save(self.state)
        self.saved = time.monotonic()


def simulated_speedup(parents: list[int], seconds: list[float], workers: int) -> float:
    """The speed-up the tasks of a run (each task available once its parent has finished)
    would give on ``workers`` workers that always take the oldest available task: the total
    work over the makespan of that greedy schedule, at most ``workers`` and at most the total
    work over the critical path (Brent 1974; Graham 1969)."""
    children: dict[int, list[int]] = {}
    for task, parent in enumerate(parents):
        children.setdefault(parent, []).append(task)
    ready = [(0.0, task) for task in children.get(-1, [])]
    heapq.heapify(ready)
    free = [0.0] * workers
    makespan = 0.0
    while ready:
        available, task = heapq.heappop(ready)
        start = max(available, heapq.heappop(free))
        end = start + seconds[task]
        heapq.heappush(free, end)
        makespan = max(makespan, end)
        for child in children.get(task, []):
            heapq.heappush(ready, (end, child))
    total = float(np.sum(seconds))
    return total / makespan if makespan > 0 else 1.0
