"""Count, seconds, regions per second and peak memory of every engine on the benchmark
networks of docs/benchmarks.md, with regioncam (exact 2-D partitions, float32) measured in the same run as the
baseline for 2-D domains, and nnenum (exact star sets; Bak 2021) as the baseline in every
dimension: measured in the same run when ``--nnenum`` gives the folder that holds its
``nnenum`` package (a checkout's ``src``; it needs ``swiglpk``, ``scipy``, ``termcolor`` and
``threadpoolctl`` from the package index), else its seconds as recorded in docs/benchmarks.md.

Each measurement runs in a fresh process, so its peak resident memory is its own (it includes
about 100 MB of Python, numpy, SCIP and HiGHS); runs under a second are repeated in it (up to 5
in all) and the fastest is reported, for every tool alike. Usage:

    python benchmarks/bench_engines.py [--quick] [--time-limit 120] [--engines planar,vertex,...]
                                       [--dimensions] [--nnenum PATH/TO/nnenum/src]
"""

from __future__ import annotations

import argparse
import multiprocessing
import resource
import time
from pathlib import Path

import numpy as np

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
ACAS = DATA / "acasxu"

#: The benchmark networks (numpy default_rng(0), W = N(0,1)/sqrt(in), b = 0.5 N(0,1), box [-1, 1])
#: and nnenum's seconds there (None: not reported).
BENCHMARK_NETWORKS = {
    "2-16-16-1": 0.08, "4-8-8-8-1": 0.24, "3-16-16-16-1": 0.69, "5-10-10-10-1": 2.4,
    "2-32-32-32-1": 0.40, "2-64-64-64-1": 1.4, "3-32-32-32-1": None,
    "2-100-100-100-1": 3.48, "2-128-128-128-128-1": 9.21, "4-20-20-20-1": 9.66, "6-12-12-12-1": 4.27,
}
ACAS_NNENUM = {0.1: 0.47, 0.15: None}
#: Networks with about 10^5 regions, for the "10^5 regions in under a minute" target.
LARGE_NETWORKS = ["2-320-320-320-1", "3-48-48-48-1"]
#: Inputs 7-10: where ``vertex`` stops being faster than ``split`` on boxes (auto's rule) ...
DIMENSION_SWEEP = ["7-10-10-1", "8-10-10-1", "9-10-10-1", "10-12-12-1"]
#: ... and on subspaces through S + 1 MNIST test images in the MNIST box (a random 784-20-20-10).
SUBSPACE_SWEEP = ["mnist-s3", "mnist-s4", "mnist-s5", "mnist-s6"]
#: Boxes of 8-16 inputs with 2 and 3 hidden layers (10^4-10^5 regions), seeded as issue 17's
#: (``@7``: numpy default_rng(7)), and subspaces through S + 1 MNIST test images for a trained
#: 784-20-20-10 (``mnist-trained-s<S>``: the dense network of seed 0 of docs/repro/mnist-2x20).
HIGH_DIMENSIONS = ["8-16-16-1@7", "8-12-12-12-1@7", "10-12-12-1@7", "10-10-10-10-1@7", "12-10-10-1@7",
                   "12-10-10-10-1@7", "16-10-10-1@7", "16-8-8-8-1@7",
                   "mnist-trained-s6", "mnist-trained-s8", "mnist-trained-s10"]
TRAINED_MNIST = Path(__file__).resolve().parents[1] / "docs" / "repro" / "mnist-2x20" / "seed0-dense-1.npz"
QUICK = ["2-16-16-1", "4-8-8-8-1", "3-16-16-16-1", "2-32-32-32-1", "2-64-64-64-1"]


def benchmark_network(spec: str):
    """The seeded benchmark network with widths given as 'n0-n1-...-out', seed 0 unless the
    spec ends in '@SEED'."""
    from lrcount import ReLUNetwork

    spec, _, seed = spec.partition("@")
    widths = [int(v) for v in spec.split("-")]
    rng = np.random.default_rng(int(seed or 0))
    weights, biases = [], []
    for n_in, n_out in zip(widths[:-1], widths[1:]):
        weights.append(rng.standard_normal((n_out, n_in)) / np.sqrt(n_in))
        biases.append(0.5 * rng.standard_normal(n_out))
    return ReLUNetwork(tuple(weights), tuple(biases), name=spec)


def case(name: str):
    """(network, domain) for a benchmark network, 'acas-<scale>' (the prop_1 box's centre part) or
    'mnist-s<S>' (the subspace through S + 1 MNIST test images)."""
    from lrcount import Box, load
    from lrcount.io import read_vnnlib_box

    if name.startswith("mnist-"):
        from lrcount import ReLUNetwork, Subspace
        from lrcount.compare import MNIST_BOX
        from lrcount.data import mnist

        s = int(name.split("-s")[1])
        images = mnist(DATA / "mnist").x_test
        points = images[np.random.default_rng(s).choice(len(images), s + 1, replace=False)]
        net = load(TRAINED_MNIST) if name.startswith("mnist-trained") else ReLUNetwork.random([784, 20, 20, 10], seed=0)
        return net, Subspace(points, Box(*MNIST_BOX))
    if name.startswith("acas-"):
        scale = float(name.split("-")[1])
        box = read_vnnlib_box(ACAS / "prop_1.vnnlib")
        mid, half = (box.lower + box.upper) / 2, (box.upper - box.lower) / 2 * scale
        return load(ACAS / "ACASXU_run2a_1_1_batch_2000.onnx"), Box(mid - half, mid + half)
    return benchmark_network(name), Box(-1.0, 1.0)


def nnenum_count(net, domain, path: str, time_limit: float) -> tuple[int, bool, float]:
    """nnenum's exact enumeration (its ``set_exact_settings``, one process, single-threaded
    BLAS as it requires): (stars, complete, seconds). Each star is one activation region. A
    box is nnenum's input box; a subspace is its initial star: the chart's map to the inputs,
    its box and its rows (``x = origin + basis t``, ``A t <= c``)."""
    import sys

    from threadpoolctl import threadpool_limits

    from lrcount import Subspace

    sys.path.insert(0, path)
    from nnenum.enumerate import enumerate_network
    from nnenum.lp_star import LpStar
    from nnenum.network import FullyConnectedLayer, NeuralNetwork, ReluLayer
    from nnenum.settings import Settings

    # nnenum.nnenum.set_exact_settings(), whose module also needs onnxruntime
    Settings.TRY_QUICK_OVERAPPROX = False
    Settings.CONTRACT_ZONOTOPE_LP = Settings.CONTRACT_LP_OPTIMIZED = Settings.CONTRACT_LP_TRACK_WITNESSES = True
    Settings.OVERAPPROX_BOTH_BOUNDS = False
    Settings.BRANCH_MODE = Settings.BRANCH_EXACT
    Settings.NUM_PROCESSES, Settings.PRINT_OUTPUT, Settings.TIMING_STATS = 1, False, False
    Settings.TIMEOUT = time_limit
    layers, shape = [], (net.input_dim,)
    for l, (w, b) in enumerate(zip(net.weights, net.biases)):
        layers.append(FullyConnectedLayer(len(layers), w, b, prev_layer_output_shape=shape))
        shape = (len(b),)
        if l < len(net.weights) - 1:
            layers.append(ReluLayer(len(layers), shape))
    if isinstance(domain, Subspace):
        chart = domain.chart(net.input_dim)
        init = LpStar(np.array(chart.basis, dtype=float), np.array(chart.origin, dtype=float),
                      box_bounds=list(zip(chart.lower, chart.upper)))
        for row, rhs in zip(chart.A, chart.c):
            init.lpi.add_dense_row(np.array(row, dtype=float), float(rhs))
    else:
        init = np.c_[np.broadcast_to(domain.lower, net.input_dim), np.broadcast_to(domain.upper, net.input_dim)].astype(float)
    with threadpool_limits(1):
        start = time.perf_counter()
        result = enumerate_network(init, NeuralNetwork(layers))
        seconds = time.perf_counter() - start
    return result.total_stars, result.result_str != "timeout", seconds


#: Runs shorter than this (seconds, all runs of one measurement together) are repeated, up to
#: :data:`REPEATS` times, and the fastest is reported: the first run of a process also pays for
#: importing and compiling code, which dominates counts of a few milliseconds.
REPEAT_BUDGET = 1.0
REPEATS = 5


def count_once(net, box, engine: str, time_limit: float, nnenum: str | None = None) -> tuple[int, bool, float]:
    """One count by ``engine`` (an lrcount engine, ``regioncam`` or ``nnenum``): (count, complete, seconds)."""
    if engine == "nnenum":
        return nnenum_count(net, box, nnenum, time_limit)
    if engine == "regioncam":
        import regioncam

        start = time.perf_counter()
        rc = regioncam.Regioncam(1.0)
        for w, b in net.hidden_layers:
            rc.linear(w.T.astype(np.float32), b.astype(np.float32))
            rc.relu()
        return rc.num_faces, True, time.perf_counter() - start
    from lrcount import count_regions

    result = count_regions(net, box, engine=engine, time_limit=time_limit, jobs=1)  # one core, as nnenum here
    return result.count, result.complete, result.seconds


def measure(name: str, engine: str, time_limit: float, nnenum: str | None = None) -> tuple[int, bool, float, float]:
    """Run in a child process: (count, complete, seconds of the fastest run, peak RSS in MB)."""
    net, box = case(name)
    runs = [count_once(net, box, engine, time_limit, nnenum)]
    while len(runs) < REPEATS and sum(seconds for *_, seconds in runs) < REPEAT_BUDGET:
        runs.append(count_once(net, box, engine, time_limit, nnenum))
    count, complete, seconds = min(runs, key=lambda run: run[2])
    peak = max(resource.getrusage(who).ru_maxrss for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN))
    return count, complete, seconds, peak / 1024


def _measure_into(connection, arguments) -> None:
    connection.send(measure(*arguments))
    connection.close()


def run_isolated(context, name, engine, time_limit, nnenum=None):
    """``measure`` in a fresh process (not a pool's daemon: nnenum starts a worker process)."""
    receiver, sender = context.Pipe(duplex=False)
    process = context.Process(target=_measure_into, args=(sender, (name, engine, time_limit, nnenum)))
    process.start()
    result = receiver.recv()
    process.join()
    return result


def main() -> None:
    from lrcount.engines import engines_for

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="five small networks, no ACAS Xu, no large networks")
    parser.add_argument("--time-limit", type=float, default=120.0, help="seconds per count (default 120)")
    parser.add_argument("--engines", default="planar,vertex,split,milp,scip-count", help="comma-separated engines")
    parser.add_argument("--dimensions", action="store_true",
                        help="only the dimension sweeps (boxes of 7-10 inputs, MNIST subspaces of 3-6), vertex and split")
    parser.add_argument("--high-dimensions", action="store_true",
                        help="only boxes of 8-16 inputs and trained MNIST subspaces of 6-10 dimensions, split and auto")
    parser.add_argument("--nnenum", metavar="PATH", help="folder holding the nnenum package: measure it in the same run")
    args = parser.parse_args()
    engines = args.engines.split(",")
    names = QUICK if args.quick else list(BENCHMARK_NETWORKS) + LARGE_NETWORKS
    if args.dimensions:
        names, engines = DIMENSION_SWEEP + SUBSPACE_SWEEP, ["vertex", "split"]
    if args.high_dimensions:
        names, engines = HIGH_DIMENSIONS, ["split", "auto"]
    if not (args.quick or args.dimensions or args.high_dimensions) and ACAS.exists():
        names += [f"acas-{scale}" for scale in ACAS_NNENUM]
    context = multiprocessing.get_context("spawn")
    source = "this run" if args.nnenum else "recorded"
    print("| network | engine | regions | seconds | regions/s | peak MB | time / regioncam's | "
          f"nnenum's time / this ({source}) |")
    print("|---|---|---|---|---|---|---|---|")
    for name in names:
        missing = [p for p in ([DATA / "mnist"] if name.startswith("mnist") else [])
                   + ([TRAINED_MNIST] if name.startswith("mnist-trained") else []) if not p.exists()]
        if missing:
            print(f"| {name} | skipped: {missing[0]} not found | | | | | | |", flush=True)
            continue
        dim = 5 if name.startswith("acas") else int(name.split("-s")[1]) if name.startswith("mnist") else int(name.split("-")[0])
        nnenum = ACAS_NNENUM.get(float(name.split("-")[1])) if name.startswith("acas") else BENCHMARK_NETWORKS.get(name)
        baseline = None
        if dim == 2:
            count, _, baseline, peak = run_isolated(context, name, "regioncam", args.time_limit)
            print(f"| {name} | regioncam | {count} | {baseline:.4f} | {count / baseline:,.0f} | {peak:.0f} | 1.0x | |",
                  flush=True)
        if args.nnenum and not name.startswith("mnist-s"):  # the random MNIST rows: vertex against split only
            count, complete, seconds, peak = run_isolated(context, name, "nnenum", args.time_limit, args.nnenum)
            nnenum = seconds if complete else None
            shown = f"{count}" if complete else f">= {count} (time limit)"
            print(f"| {name} | nnenum | {shown} | {seconds:.4f} | {count / seconds:,.0f} | {peak:.0f} | | 1.00 |", flush=True)
        for engine in engines:
            if engine != "auto" and engine not in engines_for(dim):
                continue
            count, complete, seconds, peak = run_isolated(context, name, engine, args.time_limit)
            shown = f"{count}" if complete else f">= {count} (time limit)"
            ratio = f"{seconds / baseline:.1f}x" if baseline and complete else ""
            versus = f"{nnenum / seconds:.2f}" if nnenum and complete else ""
            print(f"| {name} | {engine} | {shown} | {seconds:.4f} | {count / seconds:,.0f} | {peak:.0f} | {ratio} | {versus} |",
                  flush=True)


if __name__ == "__main__":
    main()
