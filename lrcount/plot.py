"""Figures of a pruning study (matplotlib, written as PNG files)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from .compare import Study
from .domain import Domain
from .network import ReLUNetwork

METHOD_STYLE = {"dense": ("black", "o"), "uniform": ("tab:blue", "s"), "bound-guided": ("tab:orange", "^")}


def figure_formats() -> set[str]:
    """The file suffixes (without the dot) that a figure can be written as."""
    from matplotlib.figure import Figure

    return set(Figure().canvas.get_supported_filetypes())


def _figure(**kwargs):
    """A matplotlib Figure with its own Agg canvas, and its axes (``Figure.subplots``): no
    pyplot, so no global backend is chosen and no figure outlives the call."""
    from matplotlib.figure import Figure

    fig = Figure(**{key: kwargs.pop(key) for key in ("figsize",) if key in kwargs})
    return fig, fig.subplots(**kwargs)


def _series(study: Study, method: str, value) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Densities, means and standard deviations of ``value(report)`` for one method (the dense
    network is the density-1 point of every method)."""
    xs, means, spreads = [], [], []
    for density in study.densities:
        wanted = "dense" if density == 1.0 else method
        values = [v for r in study.networks if r.method == wanted and r.density == density for v in value(r)]
        if values:
            xs.append(density)
            means.append(np.mean(values))
            spreads.append(np.std(values))
    return np.array(xs), np.array(means), np.array(spreads)


def plot_study(study: Study, out: Path) -> list[Path]:
    """Write three figures into ``out``: counts and accuracy against density, bounds against
    density, and uniform against bound-guided pruning. Returns their paths."""
    paths = []
    methods = ["uniform", "bound-guided"]

    fig, (ax_count, ax_acc) = _figure(nrows=1, ncols=2, figsize=(11, 4))
    for domain in study.domains:
        for method in methods:
            color, marker = METHOD_STYLE[method]
            x, m, s = _series(study, method, lambda r, d=domain: [math.log2(max(c.count, 1)) for c in r.counts if c.domain == d])
            ax_count.errorbar(x, m, yerr=s, marker=marker, color=color, capsize=3,
                              linestyle="-" if domain == study.domains[0] else "--", label=f"{method}, {domain}")
    for method in methods:
        color, marker = METHOD_STYLE[method]
        x, m, s = _series(study, method, lambda r: [r.accuracy])
        ax_acc.errorbar(x, m, yerr=s, marker=marker, color=color, capsize=3, label=method)
    for ax, label in ((ax_count, "log2 exact region count"), (ax_acc, "test accuracy")):
        ax.set_xscale("log")
        ax.set_xlabel("density (fraction of weights kept)")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle(f"{study.data} {study.widths}: regions and accuracy after pruning (mean and spread over seeds)")
    paths.append(_save(fig, out / "counts_accuracy.png"))

    dimensions = sorted({c.dimension for r in study.networks for c in r.counts if c.dimension < study.widths[0]})
    fig, axes = _figure(nrows=1, ncols=2 if dimensions else 1, figsize=(12 if dimensions else 6, 4), squeeze=False)
    ax = axes[0, 0]
    x, m, _ = _series(study, "uniform", lambda r: [r.bound_dense_log10])
    ax.plot(x, m, color="gray", linestyle=":", label="Serra et al. 2018 (dense)")
    for method in methods:
        color, marker = METHOD_STYLE[method]
        x, m, _ = _series(study, method, lambda r: [r.bound_sparse_log10])
        ax.plot(x, m, marker=marker, color=color, label=f"Cai et al. 2023, {method}")
        x, m, _ = _series(study, method, lambda r: [c.network_bound for c in r.counts])
        ax.plot(x, m, marker=marker, color=color, linestyle="--", alpha=0.6, label=f"this network's bound, {method}")
    ax.set_ylabel("log10 bound")
    if dimensions:
        _plot_bounds_by_dimension(study, axes[0, 1], dimensions, methods)
    for ax in axes[0]:
        ax.set_xscale("log")
        ax.set_xlabel("density")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    paths.append(_save(fig, out / "bounds.png"))

    fig, ax = _figure(figsize=(6, 4))
    pruned = [p for p in study.densities if p < 1.0]
    gains = [np.mean([r.accuracy for r in study.networks if r.method == "bound-guided" and r.density == p])
             - np.mean([r.accuracy for r in study.networks if r.method == "uniform" and r.density == p]) for p in pruned]
    ax.bar(range(len(pruned)), 100 * np.array(gains), color="tab:orange")
    ax.axhline(0, color="black", linewidth=0.8)
    ax.set_xticks(range(len(pruned)), [f"{p:g}" for p in pruned])
    ax.set_xlabel("total density")
    ax.set_ylabel("accuracy gain (points)")
    ax.set_title(f"{study.data} {study.widths}: bound-guided minus uniform pruning", fontsize=10)
    ax.grid(alpha=0.3, axis="y")
    paths.append(_save(fig, out / "uniform_vs_guided.png"))
    if study.estimated:
        paths.append(_plot_estimates(study, out / "estimates.png"))
    return paths


def _plot_bounds_by_dimension(study: Study, ax, dimensions: list[int], methods: list[str]) -> None:
    """Cai et al. 2023's bound with the input dimension set to each subspace's dimension d, at
    the networks' layer densities (the paper's Figure 2), beside the mean exact counts there."""
    from .bounds import cai2023_log10

    for d, linestyle in zip(dimensions, ("-", "--", ":", "-.") * len(dimensions)):
        for method in methods:
            color, marker = METHOD_STYLE[method]
            x, m, _ = _series(study, method, lambda r, d=d: [
                cai2023_log10([d, *study.widths[1:]], [max(p, 1e-12) for p in r.layer_densities]) / math.log10(2)])
            ax.plot(x, m, color=color, linestyle=linestyle, label=f"bound, d={d}, {method}")
            x, m, _ = _series(study, method, lambda r, d=d: [math.log2(max(c.count, 1)) for c in r.counts if c.dimension == d])
            ax.plot(x, m, color=color, marker=marker, linestyle="none", alpha=0.7)
    ax.set_ylabel("log2 regions (markers: mean exact count)")
    ax.set_title("sparsity-aware bound with input dimension d", fontsize=10)


def _plot_estimates(study: Study, path: Path) -> Path:
    """Exact counts on the small subspaces beside the bracket on each estimated domain: the
    lower bound (marker, mean over seeds) up to the analytical upper bound (bar), log2."""
    methods = ["uniform", "bound-guided"]
    fig, axes = _figure(nrows=1, ncols=1 + len(study.estimated), figsize=(4 * (1 + len(study.estimated)), 4),
                        squeeze=False)
    for domain in study.domains:
        for method in methods:
            color, marker = METHOD_STYLE[method]
            x, m, s = _series(study, method, lambda r, d=domain: [math.log2(max(c.count, 1)) for c in r.counts if c.domain == d])
            axes[0, 0].errorbar(x, m, yerr=s, marker=marker, color=color, capsize=3, label=f"{method}, {domain}",
                                linestyle="-" if domain == study.domains[0] else "--")
    axes[0, 0].set_title("exact counts", fontsize=10)
    for ax, domain in zip(axes[0, 1:], study.estimated):
        for offset, method in zip((0.97, 1.03), methods):
            color, marker = METHOD_STYLE[method]
            x, low, _ = _series(study, method, lambda r, d=domain: [e.lower_log2 for e in r.estimates if e.domain == d])
            _, high, _ = _series(study, method, lambda r, d=domain: [e.upper_log2 for e in r.estimates if e.domain == d])
            ax.errorbar(x * offset, low, yerr=[np.zeros_like(low), high - low], marker=marker, color=color, capsize=3,
                        linestyle="none", label=f"{method}: lower bound, bar to upper bound")
        ax.set_title(f"estimated: {domain}", fontsize=10)
    for ax in axes[0]:
        ax.set_xscale("log")
        ax.set_xlabel("density")
        ax.set_ylabel("log2 regions")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.suptitle(f"{study.data} {study.widths}: exact counts and estimated brackets (mean over seeds)")
    return _save(fig, path)


def _save(fig, path: Path) -> Path:
    """Write the figure atomically in the format its suffix names (.png unless said)."""
    from .io import write_atomically

    fig.tight_layout()
    return write_atomically(path, lambda stream: fig.savefig(stream, dpi=110, format=path.suffix[1:] or "png"))


def plot_regions(networks: list[tuple[str, ReLUNetwork]], domain: Domain, path: Path) -> Path:
    """Draw the regions of each network on a 2-D ``domain`` (a box of a 2-input network, or
    the plane through three points), each region filled in its own colour, side by side; the
    axes are the domain's own coordinates (the inputs, or the plane's ``a`` in
    ``x = p_0 + a_1 (p_1 - p_0) + a_2 (p_2 - p_0)``)."""
    from matplotlib.collections import PolyCollection

    from .engines.planar import polygons
    from .problem import CountingProblem

    fig, axes = _figure(nrows=1, ncols=len(networks), figsize=(4.2 * len(networks), 4.2), squeeze=False)
    rng = np.random.default_rng(0)
    for ax, (name, network) in zip(axes[0], networks):
        problem = CountingProblem.build(network, domain)
        _, cells = polygons(problem)
        raw = domain.chart(network.input_dim)
        shapes = [np.linalg.lstsq(raw.basis, (problem.chart.to_input(c) - raw.origin).T, rcond=None)[0].T for c in cells]
        ax.add_collection(PolyCollection(shapes, facecolors=rng.random((len(shapes), 3)) * 0.6 + 0.35,
                                         edgecolors="black", linewidths=0.3))
        ax.autoscale_view()
        ax.set_aspect("equal")
        ax.set_title(f"{name}: {len(shapes)} regions", fontsize=10)
    fig.tight_layout()
    return _save(fig, path)
