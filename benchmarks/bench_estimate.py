"""Soundness, tightness and speed of ``estimate_regions`` (docs/estimating.md).

* ``--sweep``: networks with known exact counts (random, trained, pruned; ACAS Xu sub-boxes
  when ``../shared/data`` is there): the exact count, the lower bound from parities alone (no
  sampled points, no enumeration first, so that the bound is the parities' own), its
  ratio to the exact count, and, on the smaller ones, the two-sided estimate.
* ``--speed``: networks whose exact count takes a minute or more (``split``, one core): the
  bracket that ``estimate_regions`` proves in a tenth of that time, measured in the same run.
* ``--mnist``: a trained and a pruned 784-100-100-10 MNIST network on the full input box
  [-0.5, 2.9]^784 (normalised units), ten minutes each: lower bound at 99% confidence,
  sampled patterns and analytical upper bound.

Usage::

    python benchmarks/bench_estimate.py [--sweep] [--speed] [--mnist] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import numpy as np

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def random_net(spec: str, seed: int):
    """A seeded random network (W = N(0, 1) / sqrt(in), b = 0.5 N(0, 1)) with widths 'n0-n1-...'."""
    from lrcount import ReLUNetwork

    return ReLUNetwork.random([int(v) for v in spec.split("-")], seed=seed)


def trained_nets():
    """Small networks trained on the synthetic 2-D sets, and the same pruned to 30% of their
    weights (layer-wise magnitude, fine-tuned): (name, network, box)."""
    from lrcount import Box
    from lrcount.data import circles, moons, spirals
    from lrcount.prune import layerwise_magnitude
    from lrcount.train import TrainingSetup, prune_and_finetune, train

    setup = TrainingSetup(epochs=30, finetune_epochs=15, learning_rate=0.1, momentum=0.9)
    out = []
    for name, data in (("moons", moons(seed=0)), ("circles", circles(seed=0)), ("spirals", spirals(seed=0))):
        for widths in ([2, 16, 16], [2, 24, 24]):
            model, net = train(widths, data, setup, seed=0)
            box = Box(-3.0, 3.0)
            out.append((f"{name} {'x'.join(map(str, widths[1:]))} trained", net, box))
            _, pruned = prune_and_finetune(model, layerwise_magnitude(net, 0.3), data, setup, seed=0)
            out.append((f"{name} {'x'.join(map(str, widths[1:]))} pruned 30%", pruned, box))
    return out


def acas_boxes():
    """ACAS Xu 1_1 on parts of the prop_1 box around its centre (5-D)."""
    from lrcount import Box, load
    from lrcount.io import read_vnnlib_box

    acas = DATA / "acasxu"
    if not acas.exists():
        return []
    net = load(acas / "ACASXU_run2a_1_1_batch_2000.onnx")
    box = read_vnnlib_box(acas / "prop_1.vnnlib")
    mid, half = (box.lower + box.upper) / 2, (box.upper - box.lower) / 2
    return [(f"ACAS Xu 1_1, prop_1 box x{scale}", net, Box(mid - scale * half, mid + scale * half))
            for scale in (0.05, 0.1, 0.15)]


def sweep_cases():
    from lrcount import Box

    cases = []
    for spec in ("2-8-8-1", "2-12-12-1", "2-16-16-1", "3-8-8-1", "3-12-12-1", "3-16-16-1", "4-12-12-1",
                 "4-16-16-1", "2-8-8-8-1", "3-8-8-8-1", "2-24-24-1", "5-10-10-1", "4-20-20-1", "3-24-24-1"):
        for seed in (0, 1):
            cases.append((f"random {spec} seed {seed}", random_net(spec, seed), Box(-1.0, 1.0)))
    return cases + trained_nets() + acas_boxes()


def sweep(approx_max: int, time_limit: float) -> list[dict]:
    """The soundness and tightness sweep: one row per network."""
    from lrcount import count_regions
    from lrcount.estimate import estimate_regions

    rows = []
    print("| network | exact | exact s | lower bound (from) | exact / lower | parities alone (99%) | exact / parities | "
          "lower s | estimate | within 1+eps | estimate s |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for name, net, box in sweep_cases():
        exact = count_regions(net, box, jobs=1)
        lower = estimate_regions(net, box, samples=0, exact_time=0, time_limit=time_limit, seed=0)
        row = {"network": name, "exact": exact.count, "exact_seconds": exact.seconds, "lower_log2": lower.lower_log2,
               "lower_confidence": lower.lower_confidence, "lower_from": lower.lower_from,
               "lower_seconds": lower.seconds, "complete": lower.complete, "trials": lower.trials,
               "parities_log2": lower.parities_log2}
        row["ratio"] = exact.count / 2 ** lower.lower_log2
        parities = lower.parities_log2
        row["parities_ratio"] = None if parities is None else exact.count / 2 ** parities
        shown = [f"{exact.count}", f"{exact.seconds:.2f}", f"2^{lower.lower_log2:.2f} ({lower.lower_from})",
                 f"{row['ratio']:.2f}", "none" if parities is None else f"2^{parities:.2f}",
                 "" if parities is None else f"{row['parities_ratio']:.2f}", f"{lower.seconds:.1f}"]
        if exact.count <= approx_max:
            approx = estimate_regions(net, box, samples=0, exact_time=0, epsilon_approx=0.8, delta_approx=0.2,
                                      time_limit=time_limit, seed=0)
            row.update(estimate_log2=approx.estimate_log2, estimate_seconds=approx.seconds)
            if approx.estimate_log2 is not None:
                factor = 2 ** abs(approx.estimate_log2 - math.log2(exact.count))
                row["within"] = factor <= 1.8
                shown += [f"2^{approx.estimate_log2:.2f}", "yes" if row["within"] else "**no**", f"{approx.seconds:.1f}"]
            else:
                shown += ["(time limit)", "", f"{approx.seconds:.1f}"]
        else:
            shown += ["", "", ""]
        for column, ratio in ((3, row["ratio"]), (5, row["parities_ratio"])):
            if ratio is not None and ratio < 1 - 1e-9:
                shown[column] = f"**{shown[column]} (above the exact count)**"
        print(f"| {name} | " + " | ".join(shown) + " |", flush=True)
        rows.append(row)
    lower_ok = sum(row["ratio"] >= 1 - 1e-9 for row in rows)
    tight = sum(row["ratio"] <= 8 for row in rows)
    alone = [row["parities_ratio"] for row in rows if row["parities_ratio"] is not None]
    estimates = [row["within"] for row in rows if "within" in row]
    print(f"\n{len(rows)} networks: lower bound <= exact on {lower_ok}, within a factor 8 on {tight}; parities alone: "
          f"<= exact on {sum(r >= 1 - 1e-9 for r in alone)} of {len(alone)}, within 8 on {sum(r <= 8 for r in alone)}; "
          f"estimates within 1.8x on {sum(estimates)} of {len(estimates)} (1 - delta = 0.8)")
    return rows


SPEED_NETWORKS = [("8-16-16-1", 7), ("8-12-12-12-1", 7), ("10-12-12-1", 7)]
#: Networks of ``ReLUNetwork.random`` (seed 0) whose exact counts take a minute or more too.
SPEED_RANDOM = ["8-24-1"]


def speed_nets(only_random: bool = False):
    """(name, network) for the speed comparison: issue 16's seeded networks (numpy
    default_rng(7), weights drawn before biases) and :data:`SPEED_RANDOM`."""

    nets = [] if only_random else [(spec, _issue_net(spec, seed)) for spec, seed in SPEED_NETWORKS]
    return nets + [(f"{spec} (random, seed 0)", random_net(spec, 0)) for spec in SPEED_RANDOM]


def _issue_net(spec: str, seed: int):
    from lrcount import ReLUNetwork

    widths = [int(v) for v in spec.split("-")]
    rng = np.random.default_rng(seed)
    weights = [rng.standard_normal((b, a)) / np.sqrt(a) for a, b in zip(widths[:-1], widths[1:])]
    biases = [0.5 * rng.standard_normal(b) for b in widths[1:]]
    return ReLUNetwork(tuple(weights), tuple(biases))


def speed(only_random: bool = False) -> list[dict]:
    """Exact count (``split``, one core) against the bracket proven in a tenth of its time,
    same networks, same run (:func:`speed_nets`)."""
    from lrcount import Box, count_regions
    from lrcount.estimate import estimate_regions

    rows = []
    print("| network | exact | exact s | lower bound in a tenth of that (from) | exact / lower | parities alone | "
          "exact / parities | sampled patterns |")
    print("|---|---|---|---|---|---|---|---|")
    for spec, net in speed_nets(only_random):
        exact = count_regions(net, Box(-1.0, 1.0), jobs=1, engine="split")
        lower = estimate_regions(net, Box(-1.0, 1.0), exact_time=0, time_limit=exact.seconds / 10, seed=0)
        parities = lower.parities_log2
        row = {"network": spec, "exact": exact.count, "exact_seconds": exact.seconds, **lower.to_dict()}
        rows.append(row)
        print(f"| {spec} | {exact.count} | {exact.seconds:.1f} | 2^{lower.lower_log2:.2f} in {lower.seconds:.1f} s "
              f"({lower.lower_from}) | {exact.count / 2 ** lower.lower_log2:.2f} | "
              + ("none" if parities is None else f"2^{parities:.2f} over {lower.parities_over} of {lower.unstable}")
              + f" | {'' if parities is None else f'{exact.count / 2 ** parities:.2f}'} | {lower.sampled_patterns} |",
              flush=True)
    return rows


def mnist_nets():
    """A 784-100-100-10 network trained on MNIST's 60,000 training images (15 epochs, the
    paper's SGD), and the same pruned to 10% of its weights (layer-wise magnitude,
    fine-tuned 15 epochs): (name, network, test accuracy)."""
    from lrcount.data import mnist
    from lrcount.prune import layerwise_magnitude
    from lrcount.train import TrainingSetup, accuracy, prune_and_finetune, train

    data = mnist(DATA / "mnist")
    setup = TrainingSetup()
    model, net = train([784, 100, 100], data, setup, seed=0)
    _, pruned = prune_and_finetune(model, layerwise_magnitude(net, 0.1), data, setup, seed=0)
    return [(name, n, accuracy(n, data.x_test, data.y_test)) for name, n in (("trained", net), ("pruned to 10%", pruned))]


def mnist_bounds(time_limit: float) -> list[dict]:
    from lrcount import Box
    from lrcount.compare import MNIST_BOX
    from lrcount.estimate import estimate_regions

    rows = []
    for name, net, acc in mnist_nets():
        started = time.perf_counter()
        result = estimate_regions(net, Box(*MNIST_BOX), time_limit=time_limit, seed=0, progress=True)
        row = {"network": f"784-100-100-10 {name}", "test_accuracy": acc, **result.to_dict(),
               "wall_seconds": time.perf_counter() - started}
        rows.append(row)
        print(f"{row['network']} (test accuracy {acc:.3f}):\n{result.summary()}", flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sweep", action="store_true")
    parser.add_argument("--speed", action="store_true")
    parser.add_argument("--speed-random", action="store_true", help="only the random networks of --speed")
    parser.add_argument("--mnist", action="store_true")
    parser.add_argument("--approx-max", type=int, default=2000, help="two-sided estimates up to this many regions")
    parser.add_argument("--time-limit", type=float, default=600.0, help="seconds per estimate (default 600)")
    parser.add_argument("--json", metavar="OUT", help="write the rows as JSON")
    args = parser.parse_args()
    out = {}
    if args.sweep:
        out["sweep"] = sweep(args.approx_max, args.time_limit)
    if args.speed or args.speed_random:
        out["speed"] = speed(only_random=not args.speed)
    if args.mnist:
        out["mnist"] = mnist_bounds(args.time_limit)
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=1, default=float))


if __name__ == "__main__":
    main()
