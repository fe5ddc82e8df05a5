"""One count on several cores, on a Dask cluster, and with checkpoints, against the serial
path measured in the same run.

For each benchmark network (10^4 regions and more; the engine is the one ``auto`` picks) it
prints the count and the seconds of ``jobs=1`` (the serial search, no tasks), ``jobs=2`` (two
worker processes) and a two-worker Dask ``LocalCluster``, the speed-ups, and from the
``jobs=2`` run's task log (each task's parent and seconds) the speed-up the same split would
give on 8, 64 and 512 workers (a greedy schedule of the logged tasks:
:func:`lrcount.parallel.simulated_speedup`), as efficiency (speed-up / workers). The counts
of every run must agree, or the script stops.

``--plan`` shows how a count would run on many workers: the coordinator makes the split it
would make for P workers, two processes run it, and its task log is replayed on P workers.

``--large`` also counts a network of more than 10^6 regions with ``lrcount count --jobs 2
--checkpoint`` in a subprocess and reports its regions, seconds, peak resident memory (of the
largest process: coordinator or worker) and predicted efficiencies, and the cost of
checkpoints: a count of about a minute in one process with and without ``--checkpoint``, at
the default interval and every 5 s. Usage:

    python benchmarks/bench_parallel.py [--networks 2-320-320-320-1,...] [--no-dask] [--large]
        [--plan 3-128-128-128-1,... [--plan-workers 8,64,512]]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_engines import case  # noqa: E402  (the benchmark networks, one definition)

#: Networks of 10^4 regions and more, for each engine auto picks: planar (2-D), vertex (3-7-D),
#: split (8-D and up), and an ACAS Xu box.
NETWORKS = ["2-320-320-320-1", "3-48-48-48-1", "4-20-20-20-1", "5-16-16-16-1", "acas-0.15",
            "8-12-12-1", "12-10-10-1"]
#: More than 10^6 regions (vertex), for the run with checkpoints.
LARGE = "3-128-128-128-1"
#: A count of about 1.5 minutes in one process, for the cost of checkpoints.
CHECKPOINT_COST = "2-500-500-500-1"


def timed_count(name: str, **kwargs):
    import lrcount

    network, domain = case(name)
    start = time.perf_counter()
    result = lrcount.count_regions(network, domain, **kwargs)
    return result, time.perf_counter() - start


def _serial_seconds(name: str) -> float:
    """Seconds of one serial count with one BLAS thread (as a worker runs), in this process."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1):
        return timed_count(name, jobs=1)[1]


def ceiling(name: str) -> float:
    """What two cores give this count at most: two copies of the serial count run at once in
    two processes, against one alone (2 x alone / the slower copy). Work that shares the
    memory bus and caches (numpy over large arrays) falls short of 2 here however it is split."""
    from concurrent.futures import ProcessPoolExecutor
    from multiprocessing import get_context

    with ProcessPoolExecutor(2, mp_context=get_context("fork")) as pool:
        alone = pool.submit(_serial_seconds, name).result()
        together = [pool.submit(_serial_seconds, name) for _ in range(2)]
        return 2 * alone / max(future.result() for future in together)


def compare_jobs(names: list[str], with_dask: bool) -> list[dict]:
    """Serial, two processes, then (with no cluster running meanwhile: its threads would make
    the local workers start fresh instead of forking) a two-worker Dask ``LocalCluster``."""
    from lrcount.parallel import simulated_speedup

    rows = []
    for name in names:
        serial, t1 = timed_count(name, jobs=1)
        two, t2 = timed_count(name, jobs=2)
        if serial.count != two.count or not serial.complete:
            sys.exit(f"{name}: the counts differ: {serial.count} and {two.count}")
        log = two.stats["task_log"]
        efficiency = {str(p): simulated_speedup(log["parents"], log["seconds"], p) / p for p in (8, 64, 512)}
        rows.append({"network": name, "engine": serial.engine, "regions": serial.count, "jobs1_s": t1, "jobs2_s": t2,
                     "speedup2": t1 / t2, "ceiling2": ceiling(name), "dask_s": None, "speedup_dask": None,
                     "tasks": two.stats["tasks"], "work_s": sum(log["seconds"]), "efficiency": efficiency})
    if with_dask:
        import dask
        from distributed import Client, LocalCluster

        from lrcount.parallel import DASK_WORKER_ENV

        environ = {f"distributed.nanny.pre-spawn-environ.{name}": value for name, value in DASK_WORKER_ENV.items()}
        with dask.config.set(environ), LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, \
                Client(cluster) as client:
            for row in rows:
                on_dask, row["dask_s"] = timed_count(row["network"], client=client)
                if on_dask.count != row["regions"]:
                    sys.exit(f"{row['network']}: the Dask count {on_dask.count} differs from {row['regions']}")
                row["speedup_dask"] = row["jobs1_s"] / row["dask_s"]
    print(f"{'network':<18} {'engine':<7} {'regions':>9} {'jobs=1 s':>9} {'jobs=2 s':>9} {'x':>5} {'ceiling':>7} "
          f"{'dask s':>8} {'x':>5} {'tasks':>6}  predicted efficiency at 8 / 64 / 512 workers")
    for row in rows:
        dask_text = f"{row['dask_s']:8.2f} {row['speedup_dask']:5.2f}" if row["dask_s"] else f"{'-':>8} {'-':>5}"
        e = row["efficiency"]
        print(f"{row['network']:<18} {row['engine']:<7} {row['regions']:>9} {row['jobs1_s']:9.2f} {row['jobs2_s']:9.2f} "
              f"{row['speedup2']:5.2f} {row['ceiling2']:7.2f} {dask_text} {row['tasks']:>6}  {e['8']:.2f} / {e['64']:.2f} / {e['512']:.2f}",
              flush=True)
    return rows


def critical_path(parents: list[int], seconds: list[float]) -> float:
    """The longest chain of tasks, each after its parent: no schedule finishes sooner."""
    finish: dict[int, float] = {}
    for task, parent in enumerate(parents):  # a parent is logged before its children
        finish[task] = finish.get(parent, 0.0) + seconds[task]
    return max(finish.values(), default=0.0)


def planned(name: str, workers: list[int], serial: bool = True) -> dict:
    """For each P in ``workers``: the split that the coordinator makes for P workers
    (``plan_workers``: frontiers cut into 2P tasks, 2P tasks in flight, slices shortened while
    fewer wait), run on two processes, and the speed-up its task log predicts on P workers
    (a greedy schedule of the logged tasks), as efficiency against the logged work and
    against the serial seconds (which also charges the work that cutting into tasks adds;
    only with ``serial``)."""
    from lrcount.count import pick_engine
    from lrcount.parallel import ParallelSearch, simulated_speedup
    from lrcount.problem import CountingProblem
    from lrcount.runtime import NEVER

    network, domain = case(name)
    engine = pick_engine("auto", domain.chart(network.input_dim)).name
    problem = CountingProblem.build(network, domain)
    serial_s = _serial_seconds(name) if serial else None
    row = {"network": name, "engine": engine, "serial_s": serial_s, "plans": {}}
    for p in workers:
        run = ParallelSearch(problem, engine, jobs=2, deadline=NEVER, on_region=lambda n: None, collect=False,
                             plan_workers=p).run()
        log = run.stats["task_log"]
        work, speedup = sum(log["seconds"]), simulated_speedup(log["parents"], log["seconds"], p)
        plan = {"regions": run.count, "tasks": len(log["seconds"]), "work_s": work,
                "critical_path_s": critical_path(log["parents"], log["seconds"]), "efficiency": speedup / p,
                "efficiency_vs_serial": serial_s / (work / speedup) / p if serial else None}
        row["plans"][str(p)] = plan
        against_serial = f", {plan['efficiency_vs_serial']:.2f} of the serial {serial_s:.1f} s" if serial else ""
        print(f"{name} ({engine}, {run.count} regions), split for {p} workers: {plan['tasks']} tasks, {work:.1f} s of "
              f"work, critical path {plan['critical_path_s']:.2f} s; predicted efficiency on {p} workers "
              f"{plan['efficiency']:.2f} of the work{against_serial}", flush=True)
    return row


def cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "lrcount", "count", *args]


def large_run(name: str, folder: Path) -> dict:
    """The >= 10^6-region count: two workers, a checkpoint every 60 s, in a subprocess (its
    peak memory is its own), and the speed-ups its task log predicts."""
    import numpy as np

    import lrcount
    from lrcount.parallel import simulated_speedup

    network, domain = case(name)
    model = folder / "large.npz"
    n0 = network.input_dim
    lrcount.save(network, model, box=np.c_[np.broadcast_to(domain.lower, n0), np.broadcast_to(domain.upper, n0)])
    start = time.perf_counter()
    done = subprocess.run(cli(str(model), "--jobs", "2", "--checkpoint", str(folder / "large.json"), "--json", "--quiet"),
                          capture_output=True, text=True, check=True)
    seconds = time.perf_counter() - start
    result = json.loads(done.stdout)
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    log = result["stats"]["task_log"]
    efficiency = {str(p): simulated_speedup(log["parents"], log["seconds"], p) / p for p in (8, 64, 512)}
    row = {"network": name, "engine": result["engine"], "regions": result["count"], "complete": result["complete"],
           "seconds": seconds, "tasks": result["stats"]["tasks"], "work_s": sum(log["seconds"]),
           "peak_mb_largest_process": peak_mb, "efficiency": efficiency}
    print(f"{name}: {result['count']} regions ({'complete' if result['complete'] else 'INCOMPLETE'}, {result['engine']}) "
          f"in {seconds:.0f} s with 2 workers and a checkpoint every 60 s; {row['tasks']} tasks, "
          f"{row['work_s']:.0f} s of work; peak resident memory of the largest process {peak_mb:.0f} MB; "
          f"predicted efficiency at 8 / 64 / 512 workers "
          f"{efficiency['8']:.2f} / {efficiency['64']:.2f} / {efficiency['512']:.2f}", flush=True)
    return row


def checkpoint_cost(name: str, folder: Path) -> dict:
    """One process, with and without checkpoints (default interval, and every 5 s)."""
    import lrcount

    network, domain = case(name)
    times = {}
    for label, kwargs in (("none", {}), ("every 60 s", {"checkpoint_every": 60.0}), ("every 5 s", {"checkpoint_every": 5.0})):
        if kwargs:
            kwargs["checkpoint"] = folder / f"cost-{label.split()[1]}.json"
        start = time.perf_counter()
        lrcount.count_regions(network, domain, jobs=1, **kwargs)
        times[label] = time.perf_counter() - start
    base = times["none"]
    print(f"checkpoint cost on {name}, one process: no checkpoint {base:.1f} s; "
          + "; ".join(f"{label} {t:.1f} s ({100 * (t / base - 1):+.1f}%)" for label, t in times.items() if label != "none"),
          flush=True)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--networks", default=",".join(NETWORKS))
    parser.add_argument("--no-dask", action="store_true", help="skip the Dask LocalCluster runs")
    parser.add_argument("--large", action="store_true", help=f"also the >10^6-region run ({LARGE}) and checkpoint costs")
    parser.add_argument("--plan", metavar="NETWORKS", default="",
                        help="also, for these networks, the splits made for --plan-workers workers (see planned())")
    parser.add_argument("--plan-workers", default="8,64,512")
    parser.add_argument("--plan-without-serial", action="store_true", help="skip the serial count of --plan networks")
    parser.add_argument("--json", metavar="OUT", help="also write the rows as JSON")
    args = parser.parse_args()
    print(f"machine: {os.cpu_count()} cores; python {sys.version.split()[0]}", flush=True)
    out = {"jobs": compare_jobs(args.networks.split(","), with_dask=not args.no_dask) if args.networks else []}
    workers = [int(p) for p in args.plan_workers.split(",")]
    out["plans"] = [planned(name, workers, serial=not args.plan_without_serial) for name in args.plan.split(",") if name]
    if args.large:
        with tempfile.TemporaryDirectory() as folder:
            out["large"] = large_run(LARGE, Path(folder))
            out["checkpoint_cost"] = checkpoint_cost(CHECKPOINT_COST, Path(folder))
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
