"""The ``lrcount`` command line: a thin layer over the library.

Errors print one line on stderr and exit non-zero. Solver output never reaches stdout: while a
command runs, file descriptor 1 points to stderr, and only the command's result is printed to
the real stdout, so ``--json`` output stays parseable.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

import numpy as np

from .count import CountResult, count_regions
from .domain import Box
from .engines import ENGINE_NAMES
from .errors import LRCountError
from .lp import c_stdout_redirected

EXIT_BAD_INPUT = 2
EXIT_INTERRUPTED = 130


def _domain_from_args(args) -> Box | None:
    if args.box is not None:
        return Box(args.box[0], args.box[1])
    if args.box_file is not None:
        from .io import read_vnnlib_box

        return read_vnnlib_box(args.box_file)
    return None


def _report_count(result: CountResult, args) -> str:
    if not result.complete:
        print(
            f"lrcount: stopped ({result.status}) after {result.seconds:.1f} s with {result.count} regions found; "
            "the count is a lower bound",
            file=sys.stderr,
        )
    if args.regions:
        np.savez(
            args.regions,
            patterns=result.patterns.astype(np.uint8),
            points=result.points,
            complete=result.complete,
            count=result.count,
        )
    if args.json:
        return result.to_json()
    lines = [result.summary()]
    for l, layer in enumerate(result.layers, start=1):
        lines.append(
            f"  layer {l}: {layer['unstable']} unstable, {layer['active']} stably active, {layer['inactive']} stably inactive"
        )
    return "\n".join(lines)


def cmd_count(args) -> str:
    from .io import load

    if args.regions and args.engine == "scip-count":
        raise LRCountError("--regions needs an engine that lists regions: milp or lp")
    network = load(args.model)
    domain = _domain_from_args(args)
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


def _show_progress(args) -> bool:
    return not args.quiet and sys.stderr.isatty()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lrcount", description="Count the linear regions of ReLU networks exactly, and bound them."
    )
    sub = parser.add_subparsers(dest="command", required=True)

    count = sub.add_parser("count", help="count the regions of a model in a domain")
    count.add_argument("model", help="a .npz, .pt / .pth (state dict) or .onnx file")
    where = count.add_mutually_exclusive_group()
    where.add_argument("--box", nargs=2, type=float, metavar=("LO", "HI"), help="the box [LO, HI] on every input")
    where.add_argument("--box-file", metavar="F", help="a VNN-LIB file whose input bounds give the box")
    count.add_argument("--engine", default="auto", choices=("auto", *ENGINE_NAMES))
    count.add_argument("--time-limit", type=float, metavar="S", help="stop after S seconds (the count is then a lower bound)")
    count.add_argument("--epsilon", type=float, default=1e-6, help="margin that makes a pattern a region (default 1e-6)")
    count.add_argument("--json", action="store_true", help="print one JSON object")
    count.add_argument("--regions", metavar="OUT.npz", help="save each region's pattern and an interior point")
    count.add_argument("--quiet", action="store_true", help="no progress line")
    count.set_defaults(run=cmd_count)

    example = sub.add_parser("example", help="count the regions of a small built-in network with every engine")
    example.add_argument("--json", action="store_true")
    example.set_defaults(run=cmd_example)

    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        with c_stdout_redirected(2):
            output = args.run(args)
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
    print(output)
    return 0


if __name__ == "__main__":
    sys.exit(main())
