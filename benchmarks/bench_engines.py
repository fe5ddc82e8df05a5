"""Regions per second of each engine on a fixed suite of seeded networks and on ACAS Xu.

Baseline, measured in the same run: the naive MILP enumeration that re-solves the model from
scratch with one more no-good per region (theory.md section 2). Usage:

    python benchmarks/bench_engines.py [--quick] [--no-acas] [--baseline-limit 30]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path


from lrcount import Box, ReLUNetwork, count_regions, load
from lrcount.io import read_vnnlib_box
from lrcount.milp import encode, no_good, read_signs
from lrcount.problem import CountingProblem

ACAS = Path(__file__).resolve().parents[2] / "shared" / "data" / "acasxu"
ENGINES = ("milp", "scip-count", "lp")


def suite(quick: bool) -> list[tuple[str, ReLUNetwork, Box]]:
    """Seeded networks from 1 to 5 inputs, dense and 50% pruned."""
    specs = [([1, 16, 16, 16], 1.0), ([2, 12, 12], 1.0), ([2, 16, 16], 0.5), ([3, 10, 10], 1.0),
             ([4, 8, 8, 8], 0.5), ([5, 10, 10], 1.0), ([3, 12, 12, 12], 0.5), ([2, 20, 20, 20], 1.0)]
    if quick:
        specs = specs[:4]
    return [(f"{w} d={d}", ReLUNetwork.random(w, density=d, seed=i), Box(-2.0, 3.0)) for i, (w, d) in enumerate(specs)]


def acas_cases() -> list[tuple[str, ReLUNetwork, Box]]:
    net = load(ACAS / "ACASXU_run2a_1_1_batch_2000.onnx")
    cases = []
    for prop, corner in (("prop_1", 0.0), ("prop_2", 1.0)):  # both files give the same input box
        box = read_vnnlib_box(ACAS / f"{prop}.vnnlib")
        width = box.upper - box.lower
        for frac in (0.05, 0.1, 0.15):
            start = box.lower + (corner * (1 - frac) + (1 - corner) * (0.5 - frac / 2)) * width
            where = "corner" if corner else "centre"
            cases.append((f"ACAS Xu {prop} {where}, {frac:g} of each side", net, Box(start, start + frac * width)))
    return cases


def naive_restart(net: ReLUNetwork, box: Box, time_limit: float) -> tuple[int, float, bool]:
    """Solve, record the pattern, add its no-good, solve again from scratch."""
    problem = CountingProblem.build(net, box)
    encoding = encode(problem)
    model = encoding.model
    start, count = time.perf_counter(), 0
    while time.perf_counter() - start < time_limit:
        model.setParam("limits/time", max(1e-3, time_limit - (time.perf_counter() - start)))
        model.optimize()
        if model.getStatus() == "infeasible":
            return count, time.perf_counter() - start, True
        if model.getNSols() == 0:
            break
        signs = read_signs(model, encoding.binaries, model.getBestSol())
        count += 1
        model.freeTransform()
        model.addCons(no_good(encoding.binaries, signs))
    return count, time.perf_counter() - start, False


def row(name, engine, result_count, complete, seconds) -> str:
    rate = result_count / seconds if seconds > 0 else float("inf")
    flag = "" if complete else " (incomplete)"
    return f"| {name} | {engine} | {result_count}{flag} | {seconds:.2f} | {rate:,.0f} |"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="the first four networks only")
    parser.add_argument("--no-acas", action="store_true")
    parser.add_argument("--time-limit", type=float, default=120.0)
    parser.add_argument("--baseline-limit", type=float, default=30.0, help="seconds for the naive baseline")
    args = parser.parse_args()
    cases = suite(args.quick) + ([] if args.no_acas or not ACAS.exists() else acas_cases())
    print("| network | engine | regions | seconds | regions/s |")
    print("|---|---|---|---|---|")
    for name, net, box in cases:
        rates = {}
        for engine in ENGINES:
            result = count_regions(net, box, engine=engine, time_limit=args.time_limit)
            rates[engine] = result.count / result.seconds
            print(row(name, engine, result.count, result.complete, result.seconds), flush=True)
        count, seconds, complete = naive_restart(net, box, args.baseline_limit)
        rates["naive"] = count / seconds
        print(row(name, "naive restart (baseline)", count, complete, seconds), flush=True)
        best = max(ENGINES, key=rates.get)
        print(f"|  | speed-up of {best} over the baseline | | | {rates[best] / rates['naive']:.1f}x |", flush=True)


if __name__ == "__main__":
    main()
