"""Seconds for every bound and for the bound-guided density search at the widths of Cai et al.
2023 (LeNet's dense part 400-120-84, AlexNet's 1024-4096-4096) and at 784-10000-10000, at
densities down to 1e-5 (the target: each under 10 s on 2 cores). Usage:

    python benchmarks/bench_bounds.py
"""

from __future__ import annotations

import time

from lrcount import bounds

WIDTHS = {"LeNet 400-120-84": [400, 120, 84], "AlexNet 1024-4096-4096": [1024, 4096, 4096],
          "784-10000-10000": [784, 10000, 10000], "784-1000000-1000000": [784, 1_000_000, 1_000_000]}
DENSITIES = (0.1, 1e-3, 1e-5)


def timed(call):
    start = time.perf_counter()
    value = call()
    return value, time.perf_counter() - start


def main() -> None:
    print("| widths | what | log10 | seconds |")
    print("|---|---|---|---|")
    for name, widths in WIDTHS.items():
        dense, seconds = timed(lambda w=widths: bounds.compute_bounds(w))
        print(f"| {name} | all dense bounds ({', '.join(b.method for b in dense)}) | "
              f"{max(b.log10 for b in dense):.3f} (largest) | {seconds:.2f} |", flush=True)
        for density in DENSITIES:
            value, seconds = timed(lambda w=widths, p=density: bounds.cai2023(w, p))
            print(f"| {name} | cai2023, density {density:g} | {bounds.log10(value):.3f} | {seconds:.2f} |", flush=True)
            sizes = sum(a * b for a, b in zip(widths[:-1], widths[1:]))
            if density * sizes >= len(widths) - 1:
                plan, seconds = timed(lambda w=widths, p=density: bounds.optimize_densities(w, p))
                print(f"| {name} | density search, total {density:g} ({plan.method}): "
                      f"{', '.join(f'{p:.3g}' for p in plan.optimized)} | {bounds.log10(plan.optimized_bound):.3f} "
                      f"(uniform {bounds.log10(plan.uniform_bound):.3f}) | {seconds:.2f} |", flush=True)


if __name__ == "__main__":
    main()
