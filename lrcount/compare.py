"""Pruned versus unpruned: train, prune uniformly and with bound-guided layer-wise densities,
fine-tune, then count exactly, bound and compare (Cai et al. 2023).

For every seed a dense network is trained; for every density below 1 it is pruned once by
layer-wise magnitude, with the same density in every layer (``uniform``) and with the
densities that maximise the sparsity-aware bound at the same number of kept weights
(``bound-guided``, :func:`lrcount.bounds.optimize_densities`), and fine-tuned with the masks
held. Every network is counted on the same domains: the data's box when the input has at most
:data:`BOX_MAX_DIM` dimensions, otherwise the subspaces through S + 1 random data points
(drawn once per seed, for every network alike). Counts run in parallel processes
(:func:`lrcount.count_many`).
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from . import bounds, prune
from .count import count_many, run_many
from .data import Dataset
from .domain import Box, Domain, Subspace
from .errors import LRCountError
from .io import load_npz, save_npz, write_atomically
from .network import ReLUNetwork
from .train import TrainingSetup, accuracy, module_from_network, prune_and_finetune, train

#: Inputs of at most this many dimensions are counted on the data's whole box.
BOX_MAX_DIM = 2
#: The counting box of Cai et al. 2023's MNIST experiments (their code), in normalised pixel units.
MNIST_BOX = (-0.5, 2.9)
#: Without a time limit, a count whose per-network bound exceeds this is refused up front.
MAX_EXACT_BOUND = 10**6
#: Seeds lie below this (torch and numpy both take them).
MAX_SEED = 2**32
#: With estimates, the subspaces through S + 1 data points that get them, beside the input box.
ESTIMATED_SUBSPACES = (8, 16, 32)
#: Random points per estimate (distinct patterns: a certain lower bound).
ESTIMATE_SAMPLES = 10_000
#: The file beside a study's networks that says how they were trained (:func:`training_identity`).
TRAINING_FILE = "training.json"


@dataclass
class CountEntry:
    """One exact count: the domain, its dimension, the count and whether it finished."""

    domain: str
    dimension: int
    count: int
    complete: bool
    seconds: float
    network_bound: float  # log10 of the bound of this network on this domain


@dataclass
class EstimateEntry:
    """What :func:`lrcount.estimate.estimate_regions` proved on one domain too large to count:
    log2 of the lower bound (at ``lower_confidence``), of the parities' own bound and of the
    analytical upper bound, the distinct patterns at random points, and the exact count when
    enumeration finished after all."""

    domain: str
    dimension: int
    lower_log2: float
    lower_confidence: float
    parities_log2: float | None
    sampled_patterns: int | None
    upper_log2: float
    exact: int | None
    complete: bool
    seconds: float


@dataclass
class NetworkReport:
    """One network of the study."""

    seed: int
    method: str  # "dense", "uniform" or "bound-guided"
    density: float  # the total density asked for
    layer_densities: list[float]
    accuracy: float
    file: str
    bound_dense_log10: float  # Serra et al. 2018, the architecture's maximum
    bound_sparse_log10: float  # Cai et al. 2023 at the layer densities
    counts: list[CountEntry] = field(default_factory=list)
    estimates: list[EstimateEntry] = field(default_factory=list)


@dataclass
class Correlation:
    """Spearman's rank correlation, across the densities of one method, between the mean log2
    count on one domain and the mean test accuracy (the paper's first finding says it is high),
    with a percentile bootstrap interval from resampling each density's models."""

    method: str  # "uniform", "bound-guided" (each with the dense network at density 1) or "both"
    domain: str
    rho: float | None  # None when the counts or the accuracies do not vary
    low: float | None
    high: float | None
    confidence: float
    densities: int  # the points the rank correlation is taken over
    complete: bool  # every count it uses finished


@dataclass
class Study:
    data: str
    split: str  # "standard" (the data set's own train / test parts) or "random"
    widths: list[int]
    densities: list[float]
    seeds: list[int]
    domains: list[str]
    setup: dict
    networks: list[NetworkReport]
    #: per seed (as a string, a JSON key), each domain's full description (``Domain.to_dict``:
    #: the box, or the subspace's points and box), so that every count can be repeated
    domain_specs: dict[str, dict[str, dict]] = field(default_factory=dict)
    #: domains with estimates instead of exact counts (``NetworkReport.estimates``)
    estimated: list[str] = field(default_factory=list)
    #: networks read back from an earlier run of the same training (``--resume``), not trained here
    reused_networks: int = 0
    #: do counts fall in step with accuracy? (:func:`rank_correlations`)
    correlations: list[Correlation] = field(default_factory=list)
    train_size: int = 0  # the training samples the networks saw
    points_from: str = "test"  # the part of the data the subspaces' points were drawn from

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=1)


def study_domains(data: Dataset, subspaces: list[int], seed: int, box: Box | None = None,
                  points_from: str = "test") -> dict[str, Domain]:
    """``box`` (default: the data's range) for low-dimensional inputs, else the subspaces
    through S + 1 random points of the test (or training) part within it (the same for every
    network of a seed)."""
    box = box if box is not None else Box(*data.input_box())
    if data.input_dim <= BOX_MAX_DIM:
        return {"box": box}
    points = _points(data, points_from)
    rng = np.random.default_rng(seed)
    return {f"S={s}": Subspace(points[rng.choice(len(points), s + 1, replace=False)], box) for s in subspaces}


def _points(data: Dataset, points_from: str) -> np.ndarray:
    if points_from not in ("test", "train"):
        raise LRCountError(f"subspace points come from the test or the train part, not {points_from!r}")
    return data.x_test if points_from == "test" else data.x_train


def estimated_domains(data: Dataset, seed: int, box: Box | None = None) -> dict[str, Domain]:
    """The domains too large to count exactly that get estimates: the subspaces through
    S + 1 random test points for S in :data:`ESTIMATED_SUBSPACES` (drawn apart from the
    counted ones), and the whole box."""
    box = box if box is not None else Box(*data.input_box())
    rng = np.random.default_rng([seed, 1])
    return {**{f"S={s}": Subspace(data.x_test[rng.choice(len(data.x_test), s + 1, replace=False)], box)
               for s in ESTIMATED_SUBSPACES if s < data.input_dim}, "box": box}


def _estimate_one(task) -> EstimateEntry:
    from .estimate import estimate_regions

    network, name, domain, seconds = task
    result = estimate_regions(network, domain, time_limit=seconds, samples=ESTIMATE_SAMPLES, seed=0)
    return EstimateEntry(name, domain.dim if isinstance(domain, Subspace) else network.input_dim, result.lower_log2,
                         result.lower_confidence, result.parities_log2, result.sampled_patterns, result.upper_log2,
                         result.exact, result.complete, result.seconds)


def check_countable(network: ReLUNetwork, domain: Domain, name: str, time_limit: float | None) -> None:
    """Refuse, before hours of counting, a domain on which even the network's bound is huge."""
    if time_limit is None:
        bound = bounds.network_bound(network, domain)
        if bound > MAX_EXACT_BOUND:
            raise LRCountError(
                f"the {name} domain may hold up to 10^{bounds.log10(bound):.1f} regions of this network: too many to "
                "count exactly; " + ("use lower-dimensional subspaces (--subspaces 1,2)" if isinstance(domain, Subspace)
                                     else "use narrower layers") + " or give --time-limit"
            )


def training_identity(data: Dataset, widths: list[int], setup: TrainingSetup) -> dict:
    """What makes two trainings give the same networks from the same seed: the data (its name,
    split and a hash of its training part), the widths and the optimiser settings (torch's
    thread count only changes the speed)."""
    settings = {key: value for key, value in asdict(setup).items() if key != "threads"}
    return {"data": data.name, "split": data.split, "training_sha256": data.training_fingerprint(),
            "widths": list(widths), "setup": settings}


def write_identity(folder: Path, identity: dict) -> None:
    """Write :data:`TRAINING_FILE` into ``folder``."""
    write_atomically(folder / TRAINING_FILE, lambda stream: stream.write(json.dumps(identity, indent=1).encode()))


def check_reusable(folder: Path, identity: dict) -> None:
    """Refuse to reuse the networks in ``folder`` unless its :data:`TRAINING_FILE` states
    ``identity``: networks trained otherwise would silently change the study."""
    try:
        stored = json.loads((Path(folder) / TRAINING_FILE).read_text())
    except FileNotFoundError:
        raise LRCountError(f"{folder} does not say how its networks were trained (no {TRAINING_FILE}); "
                           "they cannot be reused: give a new --out, or run without --resume") from None
    except (OSError, ValueError) as exc:
        raise LRCountError(f"cannot read {Path(folder) / TRAINING_FILE}: {exc}; remove the folder or run without --resume") from None
    differing = [key for key in identity if stored.get(key) != identity[key]] if isinstance(stored, dict) else ["all"]
    if differing:
        raise LRCountError(f"the networks in {folder} were trained with another {differing[0].replace('_', ' ')} "
                           f"than this study's; run without --resume or give another --out")


class NetworkStore:
    """Where a study writes each trained network as soon as it exists, and where it finds the
    networks of earlier runs: ``folders`` are read first to last, ``keep`` is written (with
    its :data:`TRAINING_FILE`). Every folder must hold networks of this study's
    :func:`training_identity`, so that a study that is run again trains only what is missing
    and gets the networks it would have trained."""

    def __init__(self, identity: dict, keep: Path | None = None, folders=()):
        self.keep = Path(keep) if keep is not None else None
        self.folders = [Path(f) for f in dict.fromkeys([*([keep] if keep else []), *folders])
                        if f is not None and Path(f).is_dir()]
        for folder in self.folders:
            check_reusable(folder, identity)
        if keep is not None:
            Path(keep).mkdir(exist_ok=True)
            write_identity(Path(keep), identity)
        self.reused = 0

    def get(self, file: str, make) -> ReLUNetwork:
        """The network stored as ``file`` in one of the folders, else ``make()``'s (then kept)."""
        for folder in self.folders:
            if (folder / file).is_file():
                self.reused += 1
                return load_npz(folder / file)
        net = make()
        if self.keep is not None:
            save_npz(net, self.keep / file)
        return net


class _SeedNetworks:
    """One seed's dense network and its pruned, fine-tuned versions, each taken from the store
    or else trained (and the dense torch model rebuilt from its file only when needed)."""

    def __init__(self, store: NetworkStore, widths: list[int], data: Dataset, setup: TrainingSetup, seed: int):
        self.store, self.widths, self.data, self.setup, self.seed = store, widths, data, setup, seed
        self.model = None
        self.dense = store.get(f"seed{seed}-dense-1.npz", self._train)

    def _train(self) -> ReLUNetwork:
        self.model, net = train(self.widths, self.data, self.setup, seed=self.seed)
        return net

    def pruned(self, file: str, layer_densities: list[float]) -> ReLUNetwork:
        """The dense network pruned to ``layer_densities`` and fine-tuned (stored as ``file``)."""
        return self.store.get(file, lambda: self._finetune(layer_densities))

    def _finetune(self, layer_densities: list[float]) -> ReLUNetwork:
        if self.model is None:
            self.model = module_from_network(self.dense)
        masks = prune.layerwise_magnitude(self.dense, layer_densities)
        return prune_and_finetune(self.model, masks, self.data, self.setup, seed=self.seed)[1]


def run_study(
    data: Dataset,
    widths: list[int],
    densities: list[float],
    *,
    seeds: list[int] = (0,),
    subspaces: list[int] = (1, 2),
    setup: TrainingSetup | None = None,
    out: Path | None = None,
    time_limit: float | None = None,
    jobs: int = 2,
    client=None,
    box: Box | None = None,
    estimate_time: float | None = None,
    keep: Path | None = None,
    reuse=(),
    points_from: str = "test",
    progress=None,
) -> Study:
    """Train, prune, fine-tune, count and bound; write networks to ``out`` (if given). Each
    network is also written to ``keep`` as soon as it is trained, and networks found in
    ``keep`` or the ``reuse`` folders are not trained again (:class:`NetworkStore`). The
    counts run ``jobs`` at a time, or on the Dask cluster of ``client``. With
    ``estimate_time`` (seconds per network and domain), inputs of more than
    :data:`BOX_MAX_DIM` dimensions also get estimates (:func:`estimated_domains`). Subspaces
    pass through points of the ``points_from`` part ("test" or "train").
    ``progress(n)`` is called as steps finish (training runs, counts and estimates)."""
    densities = sorted({float(p) for p in densities}, reverse=True)
    bad = [p for p in densities if not 0.0 < p <= 1.0]
    if bad:
        raise LRCountError(f"densities must lie in (0, 1], got {bad[0]}")
    if widths[0] != data.input_dim:
        raise LRCountError(f"the network takes {widths[0]} inputs but the {data.name} data have {data.input_dim}")
    _check_seeds(seeds)
    if estimate_time is not None and data.input_dim <= BOX_MAX_DIM:
        raise LRCountError(f"estimates are for inputs of more than {BOX_MAX_DIM} dimensions; the box of "
                           f"{data.input_dim}-D inputs is counted exactly")
    if estimate_time is not None and not (isinstance(estimate_time, (int, float)) and 0 < estimate_time < math.inf):
        raise LRCountError(f"the estimate time must be a positive number of seconds, got {estimate_time!r}")
    progress = progress or (lambda n=1: None)
    setup = setup or TrainingSetup()
    n_layers = len(widths) - 1
    plans = {density: [("dense", [1.0] * n_layers)] if density == 1.0 else [
        ("uniform", [density] * n_layers),
        ("bound-guided", bounds.optimize_densities(widths, density).optimized),
    ] for density in densities}
    dense_bound = bounds.log10(bounds.serra2018(widths))
    reports, tasks, estimates, domain_specs = [], [], [], {}
    identity = training_identity(data, widths, setup)
    store = NetworkStore(identity, keep, reuse)
    if out is not None:
        write_identity(out, identity)
    for seed in seeds:
        networks = _SeedNetworks(store, widths, data, setup, seed)
        dense = networks.dense
        progress(1)
        domains = study_domains(data, subspaces, seed, box, points_from)
        for name, domain in domains.items():
            domain.chart(data.input_dim)  # once per domain, not per network and count (it travels with it)
            check_countable(dense, domain, name, time_limit)
        wide = estimated_domains(data, seed, box) if estimate_time is not None else {}
        domain_specs[str(seed)] = {name: domain.to_dict() for name, domain in {**domains, **wide}.items()}
        stored_box = _stored_box(domains, data.input_dim)
        if out is not None:
            _save_points(domains, out, seed)
        for density in densities:
            for method, layer_densities in plans[density]:
                file = f"seed{seed}-{method}-{density:g}.npz"
                net = dense
                if method != "dense":
                    net = networks.pruned(file, layer_densities)
                    progress(1)
                if out is not None:
                    save_npz(net, out / file, box=stored_box)
                report = NetworkReport(
                    seed, method, density, [round(p, 6) for p in net.densities()],
                    accuracy(net, data.x_test, data.y_test), file, dense_bound,
                    bounds.log10(bounds.cai2023(widths, [max(p, 1e-12) for p in net.densities()])),
                )
                reports.append(report)
                tasks += [(report, net, name, domain) for name, domain in domains.items()]
                estimates += [(report, (net, name, domain, estimate_time)) for name, domain in wide.items()]
    results = count_many([(net, domain) for _, net, _, domain in tasks], jobs=max(1, jobs), client=client, progress=progress,
                         time_limit=time_limit)
    for (report, net, name, domain), result in zip(tasks, results):
        bound = bounds.network_bound(net, domain)
        if result.count > bound:  # a count above a proven bound: one of the two is wrong; never write it
            raise RuntimeError(f"{report.file} on {name}: {result.count} regions exceed the network's bound {bound}")
        report.counts.append(CountEntry(name, result.domain_dim, result.count, result.complete, result.seconds,
                                        bounds.log10(bound)))
    entries = run_many(_estimate_one, [task for _, task in estimates], jobs=max(1, jobs), client=client,
                       progress=progress, desc="estimating", unit=" estimates")
    for (report, _), entry in zip(estimates, entries):
        report.estimates.append(entry)
    return Study(data.name, data.split, list(widths), densities, list(seeds), list(domains),
                 asdict(setup), reports, domain_specs, list(wide) if estimate_time is not None else [], store.reused,
                 rank_correlations(reports, list(domains)), len(data.x_train), points_from)


def rank_correlations(networks: list[NetworkReport], domains: list[str], *, resamples: int = 2000,
                      confidence: float = 0.95, seed: int = 0) -> list[Correlation]:
    """:class:`Correlation` per method ("uniform", "bound-guided" and "both" pooled; the dense
    networks are the density-1 point of each) and per domain, over at least 3 densities.

    The bootstrap draws each (method, density) group's models with replacement, ``resamples``
    times, and takes the ``confidence`` percentile interval of the correlation of the means."""
    groups: dict[tuple[str, float], list[NetworkReport]] = {}
    for report in networks:
        groups.setdefault((report.method, report.density), []).append(report)
    rng = np.random.default_rng(seed)
    result = []
    for method in ("uniform", "bound-guided", "both"):
        keys = [key for key in groups if key[0] == "dense" or method in ("both", key[0])]
        if len({density for _, density in keys}) < 3:
            continue
        for domain in domains:
            entries = [[[c for c in r.counts if c.domain == domain] for r in groups[key]] for key in keys]
            samples = [np.array([(math.log2(max(c.count, 1)), r.accuracy) for r, cs in zip(groups[key], per_model) for c in cs])
                       for key, per_model in zip(keys, entries)]
            if any(len(sample) == 0 for sample in samples):
                continue
            boot = [_spearman(*np.stack([sample[rng.integers(len(sample), size=len(sample))].mean(axis=0)
                                         for sample in samples]).T) for _ in range(resamples)]
            boot = np.array([b for b in boot if b is not None])
            rho = _spearman(*np.stack([sample.mean(axis=0) for sample in samples]).T)
            low, high = (np.quantile(boot, [(1 - confidence) / 2, (1 + confidence) / 2]) if len(boot) else (None, None))
            result.append(Correlation(method, domain, rho, None if low is None else float(low),
                                      None if high is None else float(high), confidence, len(keys),
                                      all(c.complete for per_model in entries for cs in per_model for c in cs)))
    return result


def _spearman(x: np.ndarray, y: np.ndarray) -> float | None:
    """Spearman's rho (Pearson's correlation of the ranks, ties given their average rank), or
    None if either variable is constant."""
    rx, ry = _average_ranks(x), _average_ranks(y)
    if np.ptp(rx) == 0 or np.ptp(ry) == 0:
        return None
    return float(np.corrcoef(rx, ry)[0, 1])


def _average_ranks(values: np.ndarray) -> np.ndarray:
    _, inverse, counts = np.unique(values, return_inverse=True, return_counts=True)
    ends = np.cumsum(counts)
    return ((ends - counts + ends - 1) / 2)[inverse]


def _save_points(domains: dict[str, Domain], out: Path, seed: int) -> None:
    """Each subspace's points as ``seed{seed}-{name}-points.npy``, for ``lrcount count FILE
    --through POINTS --box LO HI`` (the box stored with the networks)."""
    for name, domain in domains.items():
        if isinstance(domain, Subspace):
            write_atomically(out / f"seed{seed}-{name}-points.npy", lambda stream, d=domain: np.save(stream, d.points))


def _stored_box(domains: dict[str, Domain], input_dim: int) -> np.ndarray:
    """The box saved with each network of a study: the counting box, or the box that holds the
    subspaces (so that ``lrcount count FILE`` runs, and ``--through`` with the points of
    ``domain_specs`` repeats a subspace count)."""
    domain = next(iter(domains.values()))
    box = domain.box if isinstance(domain, Subspace) else domain
    return np.stack(box.bounds(input_dim), axis=1)


def _check_seeds(seeds) -> None:
    """Distinct whole numbers that every random generator of the study accepts."""
    for seed in seeds:
        if not 0 <= seed < MAX_SEED:
            raise LRCountError(f"seeds must be whole numbers in [0, {MAX_SEED - 1}], got {seed}")
    repeated = sorted({seed for seed in seeds if list(seeds).count(seed) > 1})
    if repeated:
        raise LRCountError(f"seed {repeated[0]} is given twice; each seed trains one set of networks")


def steps(n_seeds: int, densities: list[float], n_domains: int, n_estimated: int = 0) -> int:
    """How many progress steps :func:`run_study` takes."""
    pruned = sum(1 for p in set(densities) if p < 1.0)
    networks = n_seeds * (len(set(densities)) + pruned)
    return n_seeds * (1 + 2 * pruned) + networks * (n_domains + n_estimated)


def table(study: Study) -> str:
    """Per method and density: mean accuracy, mean log2 count per domain, bounds, ratio."""
    lines = [f"{study.data} {study.widths}, seeds {study.seeds}; counts as mean log2 over seeds"
             + ("; (est): mean log2 of the lower bound from estimate_regions" if study.estimated else ""),
             f"{'method':<13}{'density':>9}{'accuracy':>10}" + "".join(f"{d:>12}" for d in study.domains)
             + "".join(f"{d + ' (est)':>12}" for d in study.estimated)
             + f"{'log10 Cai':>11}{'count/bound':>13}"]
    groups: dict[tuple[str, float], list[NetworkReport]] = {}
    for report in study.networks:
        groups.setdefault((report.method, report.density), []).append(report)
    for (method, density), reports in sorted(groups.items(), key=lambda kv: (-kv[0][1], kv[0][0])):
        accuracy_mean = np.mean([r.accuracy for r in reports])
        cells = []
        for d in study.domains:
            entries = [c for r in reports for c in r.counts if c.domain == d]
            mark = "" if all(c.complete for c in entries) else ">="
            cells.append(f"{mark}{np.mean([math.log2(max(c.count, 1)) for c in entries]):.2f}")
        for d in study.estimated:
            entries = [e for r in reports for e in r.estimates if e.domain == d]
            cells.append(f">={np.mean([e.lower_log2 for e in entries]):.1f}")
        ratio = max(c.count / 10**c.network_bound for r in reports for c in r.counts)
        lines.append(f"{method:<13}{density:>9g}{accuracy_mean:>10.3f}" + "".join(f"{c:>12}" for c in cells)
                     + f"{np.mean([r.bound_sparse_log10 for r in reports]):>11.2f}{ratio:>13.3g}")
    if study.correlations:
        lines.append(f"Spearman's rho of mean log2 count and mean accuracy across densities "
                     f"({study.correlations[0].confidence:.0%} bootstrap interval over models):")
        for c in study.correlations:
            rho = "n/a (constant)" if c.rho is None else f"{c.rho:+.2f}" + ("" if c.low is None else f" [{c.low:+.2f}, {c.high:+.2f}]")
            lines.append(f"  {c.method:<13}{c.domain:>8}  {rho}" + ("" if c.complete else "  (some counts incomplete)"))
    return "\n".join(lines)
