"""The command line's options, made from the library's tables (engines, bounds)."""

from __future__ import annotations

import argparse
import os
import re

from .. import __version__
from ..bounds import METHODS as BOUND_METHODS
from ..engines import ENGINE_NAMES, ENGINES, auto_rule
from ..tolerances import EPSILON
from .commands import cmd_bound, cmd_compare, cmd_count, cmd_estimate, cmd_example, cmd_plot


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lrcount", description="Count the linear regions of ReLU networks exactly, and bound them."
    )
    parser.add_argument("--version", action="version", version=f"lrcount {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    count = sub.add_parser("count", help="count the regions of a model in a domain")
    _add_model_and_domain(count)
    count.add_argument("--engine", default="auto", choices=("auto", *ENGINE_NAMES),
                       help=", ".join(f"{spec.name} ({spec.domains})" for spec in ENGINES)
                       + f"; auto (default): {auto_rule()}")
    count.add_argument("--time-limit", type=float, metavar="S", help="stop after S seconds (the count is then a lower bound)")
    count.add_argument("--epsilon", type=float, default=EPSILON,
                       help=f"a region must hold a ball of this radius, relative to the domain's largest ball (default {EPSILON:g})")
    count.add_argument("--json", action="store_true", help="print one JSON object")
    count.add_argument("--regions", metavar="OUT.npz", help="save each region's pattern and an interior point")
    count.add_argument("--jobs", type=int, metavar="N",
                       help="worker processes for this count (default: all usable cores; counts that end within "
                            "0.2 s start none; 1: one search in this process)")
    count.add_argument("--scheduler", metavar="ADDRESS",
                       help="run the count on a Dask cluster, e.g. tcp://host:8786 (pip install 'lrcount[dask]')")
    saving = count.add_mutually_exclusive_group()
    saving.add_argument("--checkpoint", metavar="FILE",
                        help="save the count's state to FILE (a new file) now and then, on Ctrl-C and at the end")
    saving.add_argument("--resume", metavar="FILE", help="go on with the count saved in FILE, and keep saving it")
    count.add_argument("--checkpoint-every", type=float, default=60.0, metavar="S",
                       help="seconds between two checkpoints (default 60)")
    count.add_argument("--quiet", action="store_true", help="no progress line")
    count.set_defaults(run=cmd_count)

    estimate = sub.add_parser("estimate", help="bound and estimate the regions where an exact count cannot finish")
    _add_model_and_domain(estimate)
    estimate.add_argument("--confidence", type=float, default=0.99,
                          help="confidence of the lower bound from random parities (default 0.99)")
    estimate.add_argument("--approx", metavar="EPS,DELTA",
                          help="also a two-sided estimate within a factor 1+EPS with probability 1-DELTA (ApproxMC2; "
                               "slow: it enumerates many hashed cells), e.g. 0.8,0.2")
    estimate.add_argument("--time-limit", type=float, metavar="S",
                          help="stop after S seconds with the bounds proven so far")
    estimate.add_argument("--seed", type=int, default=0, help="seed of every random draw (default 0)")
    estimate.add_argument("--samples", type=int, default=100_000,
                          help="random points whose distinct patterns are counted (default 100000; 0: none)")
    estimate.add_argument("--exact-time", type=float, default=5.0, metavar="S",
                          help="seconds for an exact count first; if it finishes, that is the answer (default 5)")
    estimate.add_argument("--cell-size", type=int, default=8,
                          help="regions each trial must find (default 8; larger: tighter bound, longer trials)")
    estimate.add_argument("--scope", default="auto", choices=("auto", "all", "first-layer"),
                          help="binaries the parities range over: all (tightest), first-layer (fast), auto (default: "
                               "the first layer's, then all; beyond 64 binaries only the first layer's without --time-limit)")
    estimate.add_argument("--epsilon", type=float, default=EPSILON,
                          help=f"a region must hold a ball of this radius, relative to the domain's largest ball (default {EPSILON:g})")
    estimate.add_argument("--json", action="store_true", help="print one JSON object")
    estimate.add_argument("--quiet", action="store_true", help="no progress line")
    estimate.set_defaults(run=cmd_estimate)

    example = sub.add_parser("example", help="count the regions of a small built-in network with every engine")
    example.add_argument("--json", action="store_true", help="print one JSON object")
    example.set_defaults(run=cmd_example)

    bound = sub.add_parser("bound", help="analytical bounds for an architecture or a model")
    bound.add_argument("model", nargs="?", help="a model file: adds the bound of this network on its domain")
    bound.add_argument("--widths", help="input dimension and hidden widths, e.g. 784,100,100")
    bound.add_argument("--density", help="per-layer densities for the sparsity-aware bound, e.g. 0.01,0.01")
    bound.add_argument("--ranks", help="per-layer ranks for serra2018-rank")
    bound.add_argument("--method", default="all",
                       help=f"all (default) or one of: {', '.join(BOUND_METHODS)}")
    bound.add_argument("--rank-probabilities", default="binomial", choices=("binomial", "mc"),
                       help="P(rank) for cai2023: binomial approximation or Monte Carlo")
    bound.add_argument("--seed", type=int, default=0, help="seed of the Monte Carlo rank distribution")
    bound.add_argument("--total-density", type=float, help="with --optimize: the overall density to spread")
    bound.add_argument("--optimize", action="store_true", help="compare uniform and bound-optimised densities")
    where = bound.add_mutually_exclusive_group()
    where.add_argument("--box", nargs=2, type=float, metavar=("LO", "HI"),
                       help="with MODEL: the box [LO, HI] on every input for the bound of this network")
    where.add_argument("--box-file", metavar="F", help="with MODEL: a VNN-LIB file whose input bounds give the box")
    bound.add_argument("--json", action="store_true", help="print one JSON object")
    bound.set_defaults(run=cmd_bound)
    plot = sub.add_parser("plot", help="draw the regions of 2-D models (or on a plane through 3 points) side by side")
    plot.add_argument("models", nargs="+", help="model files (.npz, .pt, .onnx), e.g. unpruned and pruned")
    where = plot.add_mutually_exclusive_group()
    where.add_argument("--box", nargs=2, type=float, metavar=("LO", "HI"), help="the box [LO, HI] on every input")
    where.add_argument("--box-file", metavar="F", help="a VNN-LIB file whose input bounds give the box")
    plot.add_argument("--through", metavar="POINTS.npy", help="draw on the plane through these 3 points (rows)")
    plot.add_argument("--out", default="regions.png", help="the figure to write, in the format its suffix names (default regions.png)")
    plot.set_defaults(run=cmd_plot)

    cmp = sub.add_parser("compare", help="train, prune (uniform and bound-guided), count, bound and compare")
    cmp.add_argument("--data", default="moons", choices=("moons", "circles", "spirals", "mnist"),
                     help="a synthetic 2-D set made in code (default moons) or MNIST from --mnist")
    cmp.add_argument("--mnist", metavar="FOLDER", help="folder with the MNIST IDX files (with --data mnist)")
    cmp.add_argument("--widths", help="input dimension and hidden widths (default: n0,16,16; MNIST 784,20,20)")
    cmp.add_argument("--densities", default="1,0.5,0.25,0.1", help="total densities to compare (default 1,0.5,0.25,0.1)")
    cmp.add_argument("--seeds", default="0,1", help="training seeds (default 0,1)")
    cmp.add_argument("--subspaces", default="1,2",
                     help="for inputs of more than 2 dimensions: count on subspaces through S+1 data points (default 1,2)")
    cmp.add_argument("--train-size", type=int, metavar="N",
                     help="train on N samples drawn at random (seed 0) from the training part (default: all of it)")
    cmp.add_argument("--points-from", choices=("test", "train"), default="test",
                     help="the part of the data the subspaces' points are drawn from (default test)")
    cmp.add_argument("--box", nargs=2, type=float, metavar=("LO", "HI"),
                     help="the counting box on every input (default: MNIST [-0.5, 2.9] as the paper; synthetic: the data's range)")
    cmp.add_argument("--epochs", type=int, help="training epochs (default 15 for MNIST, as the paper; 60 for synthetic)")
    cmp.add_argument("--finetune-epochs", type=int, help="fine-tuning epochs after pruning (default 15; 30 synthetic)")
    cmp.add_argument("--lr", type=float, help="SGD learning rate (default 0.01 for MNIST; 0.1 with momentum 0.9 synthetic)")
    cmp.add_argument("--out", default="lrcount-compare", help="output folder (default ./lrcount-compare); each network "
                     "is also kept in OUT.networks/ as soon as it is trained, until the study is written")
    cmp.add_argument("--resume", action="store_true",
                     help="reuse the networks of an interrupted study (OUT.networks/) and of the study in OUT, "
                          "trained with the same data, widths and settings: train only what is missing")
    cmp.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="parallel counting processes (default: all cores)")
    cmp.add_argument("--scheduler", metavar="ADDRESS",
                     help="run the counts on a Dask cluster, e.g. tcp://host:8786 (pip install 'lrcount[dask]')")
    cmp.add_argument("--time-limit", type=float, metavar="S", help="per count; incomplete counts are marked >=")
    cmp.add_argument("--estimate", type=float, metavar="S",
                     help="also bound the regions on domains too large to count (the input box, subspaces through 9, 17 "
                          "and 33 points): S seconds per network and domain (lrcount estimate)")
    cmp.add_argument("--json", action="store_true", help="print the study as JSON")
    cmp.add_argument("--quiet", action="store_true", help="no progress bar")
    cmp.set_defaults(run=cmd_compare)
    _accept_negative_numbers(parser)
    return parser


def _add_model_and_domain(command: argparse.ArgumentParser) -> None:
    """The model file and the domain options of ``count`` and ``estimate``."""
    command.add_argument("model", help="a .npz, .pt / .pth (state dict) or .onnx file")
    where = command.add_mutually_exclusive_group()
    where.add_argument("--box", nargs=2, type=float, metavar=("LO", "HI"), help="the box [LO, HI] on every input")
    where.add_argument("--box-file", metavar="F",
                       help="a VNN-LIB file: its input bounds give the box, other linear input constraints cut it")
    command.add_argument("--through", metavar="POINTS.npy",
                         help="the line / plane / subspace through these S+1 points (rows), inside --box or, "
                              "by default, the points' range")


def _accept_negative_numbers(parser: argparse.ArgumentParser) -> None:
    """Let ``--box -1e-3 1e-3`` and ``--ranks -1,5`` parse: argparse takes ``-1e-3`` for an
    option unless told that negative numbers in e-notation, and lists of numbers that start
    with one, are values too."""
    number = r"((\d+\.?\d*|\.\d+)([eE][-+]?\d+)?|inf|infinity|nan)"
    parser._negative_number_matcher = re.compile(rf"^-{number}(,\s*[-+]?{number})*$", re.IGNORECASE)
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                _accept_negative_numbers(sub)
