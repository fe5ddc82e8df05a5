"""The ``lrcount`` command line: a thin layer over the library.

Errors print one line on stderr and exit non-zero. Solver output never reaches stdout: while a
command runs, file descriptor 1 points to stderr, and only the command's result is printed to
the real stdout, so ``--json`` output stays parseable.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys

import numpy as np

from . import __version__
from .bounds import METHODS as BOUND_METHODS
from .count import CountResult, count_regions
from .domain import Box, Domain, Subspace, stored_box
from .engines import ENGINE_NAMES, ENGINES, auto_rule, engine_spec, listing_engines
from .errors import LRCountError, NotWrittenError
from .runtime import c_stdout_redirected
from .tolerances import EPSILON

EXIT_BAD_INPUT = 2
EXIT_NOT_WRITTEN = 1  # the result was printed, but a file it should have gone to was not written
EXIT_INTERRUPTED = 130


def _domain_from_args(args) -> Domain | None:
    """The domain the options describe (the arguments are read, not changed): --through's
    points within --box or --box-file's box (without one, the points' own range), or the box."""
    box = _box_from_args(args)
    if getattr(args, "through", None):
        if box is not None and not isinstance(box, Box):
            raise LRCountError("--through needs a box; the VNN-LIB file describes a polytope")
        return Subspace(_read_points(args.through), box)
    return box


def _box_from_args(args) -> Domain | None:
    if args.box is not None:
        return Box(args.box[0], args.box[1])
    if args.box_file is not None:
        from .io import read_vnnlib

        return read_vnnlib(args.box_file)
    return None


def _read_points(path) -> np.ndarray:
    """S + 1 data points, one per row, from a ``.npy`` file (never unpickled)."""
    from .io import check_readable_file

    path = check_readable_file(path, "points (.npy)")
    try:
        points = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError):
        raise LRCountError(f"{path} is not a .npy array of numbers; save the points with numpy.save") from None
    if not isinstance(points, np.ndarray):
        raise LRCountError(f"{path} is an .npz archive; --through needs one array in a .npy file (numpy.save)")
    if points.ndim != 2 or points.shape[0] < 2 or points.dtype.kind not in "biuf":
        raise LRCountError(f"{path} holds an array of shape {points.shape} ({points.dtype}); "
                           "--through needs S + 1 >= 2 points as rows of numbers")
    return points.astype(np.float64)


def _report_count(result: CountResult, args) -> str:
    if not result.complete:
        print(
            f"lrcount: stopped ({result.status}) after {result.seconds:.1f} s with {result.count} regions found; "
            "the count is a lower bound",
            file=sys.stderr,
        )
    report = result.to_json() if args.json else "\n".join([result.summary()] + [
        f"  layer {l}: {layer['unstable']} unstable, {layer['active']} stably active, {layer['inactive']} stably inactive"
        for l, layer in enumerate(result.layers, start=1)
    ])
    if args.regions:
        from .io import write_arrays

        try:
            write_arrays(args.regions, {"patterns": result.patterns.astype(np.uint8), "points": result.points,
                                        "complete": np.asarray(result.complete), "count": np.asarray(result.count)})
        except NotWrittenError as exc:
            raise NotWrittenError(f"the regions were not written: {exc}", result=report) from None
        print(f"lrcount: wrote {result.count} regions (patterns, interior points) to {args.regions}", file=sys.stderr)
    return report


def cmd_count(args) -> str:
    from .io import load

    if args.regions and args.engine != "auto" and not engine_spec(args.engine).lists_regions:
        raise LRCountError(f"--regions needs an engine that lists regions: auto, {', '.join(listing_engines())}")
    if args.regions:
        args.regions = _regions_path(args.regions, args.model)
    try:
        network = load(args.model)
        domain = _domain_from_args(args)
    except KeyboardInterrupt:  # an honest answer, as after any Ctrl-C: nothing counted yet
        print("lrcount: interrupted while reading the input; 0 regions counted (a lower bound)", file=sys.stderr)
        return json.dumps({"count": 0, "complete": False, "status": "userinterrupt"}) if args.json else \
            ">= 0 regions (incomplete: userinterrupt)"
    if domain is None and network.default_box is None:
        raise LRCountError(f"{args.model} stores no box: give the domain with --box LO HI or --box-file F")
    result = count_regions(
        network,
        domain,
        engine=args.engine,
        time_limit=args.time_limit,
        progress=_show_progress(args),
        return_regions=bool(args.regions),
        epsilon=args.epsilon,
    )
    return _report_count(result, args)


def cmd_example(args) -> str:
    from .examples import example_network

    network = example_network()
    results = [count_regions(network, engine=name) for name in ENGINE_NAMES]
    if args.json:
        return json.dumps({"network": repr(network), "counts": [r.to_dict() for r in results]})
    lines = [f"{network}, box [-1, 1]^2", "exact region counts, one per engine (they must agree):"]
    lines += [f"  {r.engine:<11} {r.count:>6} regions in {r.seconds:.3f} s" for r in results]
    return "\n".join(lines)


def _regions_path(path: str, model: str) -> str:
    """Where ``--regions`` writes (``.npz`` added if missing), checked before the count so that a
    long count is never lost to a bad path, and never the model file under any name."""
    from .io import check_output_file

    target = path if path.endswith(".npz") else path + ".npz"
    if os.path.isdir(path):
        raise LRCountError(f"--regions {path} is a directory; give a file name such as {os.path.join(path, 'regions.npz')}")
    return str(check_output_file(target, "--regions", inputs=[model]))


def _number_list(text: str, kind: type, what: str) -> list:
    items = [v.strip() for v in text.split(",")]
    if text.strip() and items[-1] == "":
        items = items[:-1]  # a trailing comma
    if not text.strip() or "" in items:
        raise LRCountError(f"expected {what} separated by commas, got {text!r} (an empty item)")
    try:
        return [kind(v) for v in items]
    except ValueError:
        raise LRCountError(f"expected {what} separated by commas, got {text!r}") from None


def _int_list(text: str) -> list[int]:
    return _number_list(text, int, "whole numbers")


def _float_list(text: str) -> list[float]:
    return _number_list(text, float, "numbers")


def _format_value(value: str) -> str:
    if "e+" in value:  # already scientific (integers of thousands of digits)
        mantissa, exponent = value.split("e+")
        return f"{mantissa[:7]}e+{exponent}"
    digits = value.split(".")[0]
    return value if len(digits) <= 24 else f"{digits[0]}.{digits[1:6]}e+{len(digits) - 1}"


def _bound_table(widths, bounds) -> list[str]:
    lines = [f"widths {widths}", f"  {'method':<16}{'kind':<16}{'value':>22}  {'log10':>8}  bounds the"]
    lines += [f"  {b.method:<16}{b.kind:<16}{_format_value(b.decimal()):>22}  {b.log10:>8.3f}  {b.scope}" for b in bounds]
    return lines


def cmd_bound(args) -> dict | str:
    from . import bounds

    network = domain = None
    if args.model:
        from .io import load

        network = load(args.model)
        domain = _domain_from_args(args) or stored_box(network)
        widths = network.widths
        if args.widths:
            raise LRCountError("give either a MODEL or --widths, not both")
    elif args.widths:
        widths = bounds.check_widths(_int_list(args.widths))
    else:
        raise LRCountError("give --widths N0,N1,... or a MODEL")
    if args.seed < 0:
        raise LRCountError(f"--seed must be a whole number >= 0, got {args.seed}")
    densities = _float_list(args.density) if args.density else (
        network.densities() if network is not None and min(network.densities()) < 1 else None)
    if densities is not None:
        bounds.check_densities(widths, densities)
    if args.optimize or args.total_density is not None:
        if args.total_density is None or not args.optimize:
            raise LRCountError("--optimize and --total-density go together")
        plan = bounds.optimize_densities(widths, args.total_density, progress=True)
        result = {
            "widths": widths, "total_density": plan.total_density, "method": plan.method,
            "uniform": {"densities": plan.uniform, **bounds.BoundValue("cai2023", "expected-upper", plan.uniform_bound).to_dict()},
            "optimized": {"densities": plan.optimized, **bounds.BoundValue("cai2023", "expected-upper", plan.optimized_bound).to_dict()},
            "uniform_is_optimal": plan.uniform_is_optimal,
            "plateau": plan.plateau,
        }
        if args.json:
            return json.dumps(result)
        return "\n".join([
            f"widths {widths}, total density {plan.total_density:g} ({plan.method})",
            f"  uniform    densities {', '.join(f'{p:.4g}' for p in plan.uniform)}: bound 10^{result['uniform']['log10']:.4f}",
            f"  optimized  densities {', '.join(f'{p:.4g}' for p in plan.optimized)}: bound 10^{result['optimized']['log10']:.4f}"
            + (" (uniform is already optimal)" if plan.uniform_is_optimal and plan.total_density < 1 else ""),
            *([f"  plateau    every density in {', '.join(f'[{a:.4g}, {b:.4g}]' for a, b in plan.plateau)} "
               "(per layer, on the budget line) gives the best bound; the one nearest uniform is shown"]
              if plan.plateau and any(hi > lo for lo, hi in plan.plateau) else []),
        ])
    values = bounds.compute_bounds(
        widths, method=args.method, densities=densities, ranks=_int_list(args.ranks) if args.ranks else None,
        network=network, domain=domain, rank_probabilities=args.rank_probabilities, seed=args.seed, progress=True,
    )
    if args.json:
        out = {"widths": widths, "bounds": [b.to_dict() for b in values]}
        if densities is not None:
            out["densities"] = densities
        return json.dumps(out)
    return "\n".join(_bound_table(widths, values))


def _given(value, default):
    """An option's value if it was given (0 included), else the default."""
    return default if value is None else value


def cmd_compare(args) -> str:
    from . import compare, data
    from .io import check_output_folder, staged_folder, write_atomically
    from .plot import plot_study
    from .progress import progress_bar
    from .train import TrainingSetup

    if args.data == "mnist":
        if not args.mnist:
            raise LRCountError("--data mnist needs --mnist FOLDER with the IDX files (t10k-images-idx3-ubyte.gz, ...)")
        dataset = data.mnist(args.mnist, seed=0)
    elif args.mnist:
        raise LRCountError("--mnist goes with --data mnist")
    else:
        dataset = data.SYNTHETIC[args.data](seed=0)
    widths = _int_list(args.widths) if args.widths else [dataset.input_dim, 16, 16] if dataset.input_dim <= 2 \
        else [dataset.input_dim, 20, 20]
    densities = _float_list(args.densities)
    seeds = _int_list(args.seeds)
    subspaces = _int_list(args.subspaces)
    synthetic = args.data != "mnist"  # small sets need more, faster steps than the paper's MNIST defaults
    setup = TrainingSetup(
        epochs=_given(args.epochs, 60 if synthetic else 15),
        finetune_epochs=_given(args.finetune_epochs, 30 if synthetic else 15),
        learning_rate=_given(args.lr, 0.1 if synthetic else 0.01), momentum=0.9 if synthetic else 0.0,
    )
    out = check_output_folder(args.out, "--out", marker="study.json")
    n_domains = 1 if dataset.input_dim <= compare.BOX_MAX_DIM else len(subspaces)
    with staged_folder(out) as staging:
        with progress_bar(_show_progress(args), total=compare.steps(len(seeds), densities, n_domains),
                          desc="compare", unit=" steps") as bar:
            study = compare.run_study(dataset, widths, densities, seeds=seeds, subspaces=subspaces, setup=setup,
                                      out=staging, time_limit=args.time_limit, jobs=args.jobs, progress=bar.update,
                                      box=Box(*compare.MNIST_BOX) if args.data == "mnist" else None)
        written = [write_atomically(staging / "study.json", lambda stream: stream.write(study.to_json().encode())),
                   *plot_study(study, staging)]
    if args.json:
        return study.to_json()
    files = ", ".join(str(out / p.name) for p in written)
    return compare.table(study) + f"\nwrote {files} and the {len(study.networks)} networks (.npz) to {out}"


def cmd_plot(args) -> str:
    from pathlib import Path

    from .io import check_output_file, load
    from .plot import figure_formats, plot_regions

    out = check_output_file(args.out, "--out", inputs=args.models)
    formats = figure_formats()
    if out.suffix[1:].lower() not in formats:
        raise LRCountError(f"--out {out}: cannot write figures as {out.suffix or 'files without a suffix'}; "
                           f"end the name in one of {', '.join('.' + f for f in sorted(formats))}")
    networks = [(Path(m).stem, load(m)) for m in args.models]
    domain = _domain_from_args(args) or stored_box(networks[0][1])
    if domain is None:
        raise LRCountError(f"{args.models[0]} stores no box: give --box LO HI, --box-file F or --through POINTS.npy")
    path = plot_regions(networks, domain, out)
    return f"wrote {path}"


def _show_progress(args) -> bool:
    return not args.quiet


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lrcount", description="Count the linear regions of ReLU networks exactly, and bound them."
    )
    parser.add_argument("--version", action="version", version=f"lrcount {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    count = sub.add_parser("count", help="count the regions of a model in a domain")
    count.add_argument("model", help="a .npz, .pt / .pth (state dict) or .onnx file")
    where = count.add_mutually_exclusive_group()
    where.add_argument("--box", nargs=2, type=float, metavar=("LO", "HI"), help="the box [LO, HI] on every input")
    where.add_argument("--box-file", metavar="F",
                       help="a VNN-LIB file: its input bounds give the box, other linear input constraints cut it")
    count.add_argument("--through", metavar="POINTS.npy",
                       help="count on the line / plane / subspace through these S+1 points (rows), inside --box or, "
                            "by default, the points' range")
    count.add_argument("--engine", default="auto", choices=("auto", *ENGINE_NAMES),
                       help=", ".join(f"{spec.name} ({spec.domains})" for spec in ENGINES)
                       + f"; auto (default): {auto_rule()}")
    count.add_argument("--time-limit", type=float, metavar="S", help="stop after S seconds (the count is then a lower bound)")
    count.add_argument("--epsilon", type=float, default=EPSILON,
                       help=f"a region must hold a ball of this radius, relative to the domain's largest ball (default {EPSILON:g})")
    count.add_argument("--json", action="store_true", help="print one JSON object")
    count.add_argument("--regions", metavar="OUT.npz", help="save each region's pattern and an interior point")
    count.add_argument("--quiet", action="store_true", help="no progress line")
    count.set_defaults(run=cmd_count)

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
    cmp.add_argument("--epochs", type=int, help="training epochs (default 15 for MNIST, as the paper; 60 for synthetic)")
    cmp.add_argument("--finetune-epochs", type=int, help="fine-tuning epochs after pruning (default 15; 30 synthetic)")
    cmp.add_argument("--lr", type=float, help="SGD learning rate (default 0.01 for MNIST; 0.1 with momentum 0.9 synthetic)")
    cmp.add_argument("--out", default="lrcount-compare", help="output folder (default ./lrcount-compare)")
    cmp.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="parallel counting processes (default: all cores)")
    cmp.add_argument("--time-limit", type=float, metavar="S", help="per count; incomplete counts are marked >=")
    cmp.add_argument("--json", action="store_true", help="print the study as JSON")
    cmp.add_argument("--quiet", action="store_true", help="no progress bar")
    cmp.set_defaults(run=cmd_compare)
    _accept_negative_numbers(parser)
    return parser


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


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        with c_stdout_redirected(2):
            output = args.run(args)
    except NotWrittenError as exc:  # the work was done: show it, then say what was not written
        if exc.result is not None:
            _print_result(exc.result)
        print(f"lrcount: error: {exc}", file=sys.stderr)
        return EXIT_NOT_WRITTEN
    except LRCountError as exc:
        print(f"lrcount: error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("lrcount: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as exc:  # a bug: say so in one line unless asked for the traceback
        if os.environ.get("LRCOUNT_DEBUG"):
            raise
        print(f"lrcount: internal error: {type(exc).__name__}: {exc} (set LRCOUNT_DEBUG=1 for the traceback)", file=sys.stderr)
        return 1
    _print_result(output)
    return 0


def _print_result(output: str) -> None:
    try:
        print(output)
        sys.stdout.flush()
    except BrokenPipeError:  # the reader closed the pipe (| head): nothing left to say
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


if __name__ == "__main__":
    sys.exit(main())
