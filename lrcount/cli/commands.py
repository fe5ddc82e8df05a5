"""The commands: each reads its options, calls the library and returns the text to print."""

from __future__ import annotations

import json
import os
import shutil
import sys

import numpy as np

from ..count import CountResult, count_regions
from ..domain import Box, Domain, Subspace, stored_box
from ..engines import ENGINE_NAMES, engine_spec, listing_engines
from ..errors import LRCountError, NotWrittenError


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
        from ..io import read_vnnlib

        return read_vnnlib(args.box_file)
    return None


def _read_points(path) -> np.ndarray:
    """S + 1 data points, one per row, from a ``.npy`` file (never unpickled)."""
    from ..io import check_readable_file

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
        from ..io import write_arrays

        try:
            write_arrays(args.regions, {"patterns": result.patterns.astype(np.uint8), "points": result.points,
                                        "complete": np.asarray(result.complete), "count": np.asarray(result.count)})
        except NotWrittenError as exc:
            raise NotWrittenError(f"the regions were not written: {exc}", result=report) from None
        print(f"lrcount: wrote {result.count} regions (patterns, interior points) to {args.regions}", file=sys.stderr)
    return report


def cmd_count(args) -> str:
    from ..io import load

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
        jobs=args.jobs,
        client=_client(args.scheduler),
        checkpoint=args.checkpoint or args.resume,
        resume=args.resume is not None,
        checkpoint_every=args.checkpoint_every,
    )
    return _report_count(result, args)


def cmd_estimate(args) -> str:
    from ..estimate import estimate_regions
    from ..io import load

    epsilon_approx, delta_approx = None, 0.2
    if args.approx is not None:
        parts = _float_list(args.approx)
        if len(parts) != 2:
            raise LRCountError(f"--approx takes EPS,DELTA, e.g. 0.8,0.2; got {args.approx!r}")
        epsilon_approx, delta_approx = parts
    network = load(args.model)
    domain = _domain_from_args(args)
    if domain is None and network.default_box is None:
        raise LRCountError(f"{args.model} stores no box: give the domain with --box LO HI, --box-file F or --through POINTS.npy")
    result = estimate_regions(network, domain, confidence=args.confidence, epsilon_approx=epsilon_approx,
                              delta_approx=delta_approx, time_limit=args.time_limit, seed=args.seed, samples=args.samples,
                              exact_time=args.exact_time, cell_size=args.cell_size, scope=args.scope, epsilon=args.epsilon,
                              progress=_show_progress(args))
    if not result.complete:
        print(f"lrcount: stopped ({result.status}) after {result.seconds:.1f} s; the bounds are those proven so far",
              file=sys.stderr)
    return result.to_json() if args.json else result.summary()


def _client(address: str | None):
    """A Dask client of the scheduler at ``address``, or None."""
    if address is None:
        return None
    from ..parallel import dask_client

    return dask_client(address)


def cmd_example(args) -> str:
    from ..examples import example_network

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
    from ..io import check_output_file

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
    from .. import bounds

    network = domain = None
    if args.model:
        from ..io import load

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
    from .. import compare, data
    from ..io import check_output_folder, staged_folder, write_atomically
    from ..plot import plot_study
    from ..progress import progress_bar
    from ..train import TrainingSetup

    if args.data == "mnist":
        if not args.mnist:
            raise LRCountError("--data mnist needs --mnist FOLDER with the IDX files (t10k-images-idx3-ubyte.gz, ...)")
        dataset = data.mnist(args.mnist, seed=0)
    elif args.mnist:
        raise LRCountError("--mnist goes with --data mnist")
    else:
        dataset = data.SYNTHETIC[args.data](seed=0)
    if args.train_size is not None:
        dataset = dataset.with_training_subset(args.train_size, seed=0)
    box = Box(*args.box) if args.box is not None else Box(*compare.MNIST_BOX) if args.data == "mnist" else None
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
        threads=1 if synthetic else max(1, min(args.jobs, os.cpu_count() or 1)),  # training runs before the counts
    )
    out = check_output_folder(args.out, "--out", marker="study.json")
    keep, reuse = _study_networks(out, args.resume)
    n_domains = 1 if dataset.input_dim <= compare.BOX_MAX_DIM else len(subspaces)
    n_estimated = 0 if args.estimate is None else len(compare.estimated_domains(dataset, 0))
    try:
        with staged_folder(out) as staging:
            with progress_bar(_show_progress(args), total=compare.steps(len(seeds), densities, n_domains, n_estimated),
                              desc="compare", unit=" steps") as bar:
                study = compare.run_study(dataset, widths, densities, seeds=seeds, subspaces=subspaces, setup=setup,
                                          out=staging, time_limit=args.time_limit, jobs=args.jobs,
                                          client=_client(args.scheduler), progress=bar.update, estimate_time=args.estimate,
                                          box=box, keep=keep, reuse=reuse, points_from=args.points_from)
            written = [write_atomically(staging / "study.json", lambda stream: stream.write(study.to_json().encode())),
                       *plot_study(study, staging)]
    except BaseException:
        kept = len(list(keep.glob("*.npz"))) if keep.is_dir() else 0
        if kept:
            print(f"lrcount: the {kept} networks trained so far are kept in {keep}; run the same command with --resume "
                  "to train only what is missing", file=sys.stderr)
        raise
    shutil.rmtree(keep, ignore_errors=True)
    if args.json:
        return study.to_json()
    files = ", ".join(str(out / p.name) for p in written)
    return compare.table(study) + f"\nwrote {files} and the {len(study.networks)} networks (.npz) to {out}"


def _study_networks(out, resume: bool):
    """The folder that keeps a study's networks as they are trained (``OUT.networks``, beside
    ``out``), and the folders whose networks ``--resume`` reuses. An interrupted study's folder
    is never overwritten without ``--resume``, and ``--resume`` with nothing to resume is an error."""
    keep = out.with_name(out.name + ".networks")
    if keep.exists() and not keep.is_dir():
        raise LRCountError(f"{keep} is a file, but a study keeps its networks there as they are trained; move the file")
    reuse = [out] if out.is_dir() and any(out.iterdir()) else []
    if resume and not keep.is_dir() and not reuse:
        raise LRCountError(f"--resume: neither {keep} nor {out} holds networks of an earlier study; run without --resume")
    if keep.is_dir() and not resume:
        raise LRCountError(f"{keep} holds the networks of an interrupted study: add --resume to train only what is "
                           "missing, or remove that folder to start again")
    return keep, reuse if resume else []


def cmd_plot(args) -> str:
    from pathlib import Path

    from ..io import check_output_file, load
    from ..plot import figure_formats, plot_regions

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
