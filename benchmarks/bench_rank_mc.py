"""Run time of the Monte Carlo rank distribution of Cai et al. 2023 (Sec. 3) for the MNIST
networks of their experiments, against the cost the authors report (2x100: 15-20 s; 2x400:
10-20 min, for all the densities of a run). The baseline measured in the same run is the same
sampler drawing one matrix at a time (no batching), on the first density.

    python benchmarks/bench_rank_mc.py [--widths 784,100,100] [--max-samples 20000]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from lrcount.bounds import cai2023, log10, rank_distribution_mc

DENSITIES = (0.5, 0.25, 0.1, 0.05, 0.025, 0.01, 0.005)


def one_at_a_time(rows: int, cols: int, density: float, samples: int, seed: int = 0) -> float:
    rng = np.random.default_rng(seed)
    start = time.perf_counter()
    for _ in range(samples):
        m = rng.standard_normal((rows, cols)) * (rng.random((rows, cols)) < density)
        np.linalg.matrix_rank(m)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--widths", default="784,100,100")
    parser.add_argument("--max-samples", type=int, default=20_000)
    args = parser.parse_args()
    widths = [int(w) for w in args.widths.split(",")]
    print(f"widths {widths}; stopping rule: 50 samples per rank seen, at most {args.max_samples}")
    print("| density | layer | samples | capped | seconds | ranks seen |")
    print("|---|---|---|---|---|---|")
    total = 0.0
    for p in DENSITIES:
        for l in range(len(widths) - 1):
            sample = rank_distribution_mc(widths[l + 1], widths[l], p, seed=l, max_samples=args.max_samples)
            total += sample.seconds
            ranks = [k for _, k in sample.probabilities]
            print(f"| {p} | {l + 1} | {sample.samples} | {sample.capped} | {sample.seconds:.2f} | "
                  f"{min(ranks)}-{max(ranks)} |", flush=True)
    print(f"total Monte Carlo time over {len(DENSITIES)} densities: {total:.1f} s")
    first = rank_distribution_mc(widths[1], widths[0], DENSITIES[0], seed=0, max_samples=args.max_samples)
    serial = one_at_a_time(widths[1], widths[0], DENSITIES[0], first.samples)
    print(f"batched vs one matrix at a time (layer 1, density {DENSITIES[0]}, {first.samples} samples): "
          f"{first.seconds:.2f} s vs {serial:.2f} s, {serial / first.seconds:.1f}x")
    start = time.perf_counter()
    mc = cai2023(widths, [0.01] * (len(widths) - 1), rank_probabilities="mc", max_samples=2000)
    binomial = cai2023(widths, [0.01] * (len(widths) - 1))
    print(f"cai2023 at density 0.01: Monte Carlo (2000 samples) 10^{log10(mc):.4f}, binomial 10^{log10(binomial):.4f} "
          f"({time.perf_counter() - start:.1f} s for both)")


if __name__ == "__main__":
    main()
