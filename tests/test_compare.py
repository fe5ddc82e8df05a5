"""The pruning study: its JSON is complete, its counts are count_regions on the saved networks,
no count exceeds a bound, the plots are written, and bad input is refused up front."""

import json
import math

import numpy as np
import pytest
from conftest import DATA, require

from lrcount import Box, LRCountError, count_regions, data, load, save
from lrcount.cli import main
from lrcount.compare import run_study
from lrcount.compare import table as compare_table
from lrcount.train import TrainingSetup

pytest.importorskip("torch")
SHORT = TrainingSetup(epochs=20, finetune_epochs=5, learning_rate=0.1, momentum=0.9)


@pytest.fixture(scope="module")
def study_folder(tmp_path_factory):
    out = tmp_path_factory.mktemp("study")
    assert main(["compare", "--widths", "2,8,8", "--densities", "1,0.3", "--seeds", "0,1", "--epochs", "20",
                 "--finetune-epochs", "5", "--lr", "0.1", "--out", str(out), "--jobs", "2", "--quiet"]) == 0
    return out


def test_the_study_json_is_complete_and_counts_are_count_regions(study_folder):
    study = json.loads((study_folder / "study.json").read_text())
    assert study["data"] == "moons" and study["widths"] == [2, 8, 8] and study["domains"] == ["box"]
    methods = {(n["method"], n["density"], n["seed"]) for n in study["networks"]}
    assert methods == {(m, p, s) for s in (0, 1) for m, p in (("dense", 1.0), ("uniform", 0.3), ("bound-guided", 0.3))}
    moons = data.moons(seed=0)
    box = Box(*moons.input_box())
    for report in study["networks"]:
        net = load(study_folder / report["file"])
        assert np.allclose(net.densities(), report["layer_densities"], atol=1e-6)
        (entry,) = report["counts"]
        assert entry["complete"] and entry["count"] == count_regions(net, box).count
        assert 0.0 <= report["accuracy"] <= 1.0


def test_no_count_exceeds_a_reported_upper_bound(study_folder):
    study = json.loads((study_folder / "study.json").read_text())
    for report in study["networks"]:
        for entry in report["counts"]:
            log2_count = math.log10(max(entry["count"], 1))
            assert log2_count <= entry["network_bound"] + 1e-9
            assert log2_count <= report["bound_dense_log10"] + 1e-9
            assert log2_count <= report["bound_sparse_log10"] + 1e-9 or report["method"] != "dense"


def test_bound_guided_and_uniform_keep_the_same_number_of_weights(study_folder):
    study = json.loads((study_folder / "study.json").read_text())
    kept = {}
    for report in study["networks"]:
        net = load(study_folder / report["file"])
        kept.setdefault((report["seed"], report["density"]), {})[report["method"]] = \
            sum(np.count_nonzero(w) for w in net.weights[:-1])
    for (_, density), by_method in kept.items():
        if density < 1:
            assert by_method["uniform"] == by_method["bound-guided"]


def test_the_plots_are_written(study_folder):
    for name in ("counts_accuracy.png", "bounds.png", "uniform_vs_guided.png"):
        png = (study_folder / name).read_bytes()
        assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10_000


def test_mnist_subspaces_and_a_domain_too_large_to_count():
    mnist = data.mnist(require(DATA / "mnist"), seed=0)
    study = run_study(mnist, [784, 10, 10], [1.0], seeds=[0], subspaces=[1, 2], setup=SHORT, jobs=1)
    (report,) = study.networks
    assert [c.domain for c in report.counts] == ["S=1", "S=2"] and [c.dimension for c in report.counts] == [1, 2]
    assert all(c.complete and c.count >= 1 for c in report.counts)
    assert report.accuracy > 0.7
    with pytest.raises(LRCountError, match="too many to count exactly"):
        run_study(mnist, [784, 20, 20], [1.0], seeds=[0], subspaces=[6], setup=TrainingSetup(epochs=1), jobs=1)


@pytest.mark.parametrize("args,fragment", [
    (["--densities", "1,1.5"], "(0, 1]"),
    (["--densities", "0,0.5"], "(0, 1]"),
    (["--data", "mnist"], "needs --mnist"),
    (["--data", "mnist", "--mnist", "/no/such/folder"], "does not exist"),
    (["--widths", "3,8,8"], "takes 3 inputs"),
    (["--train-size", "0"], "ask for 1 to"),
    (["--box", "1", "-1"], "swap the bounds"),
])
def test_bad_compare_input(args, fragment, tmp_path, capsys):
    assert main(["compare", "--out", str(tmp_path / "o"), "--epochs", "1", "--quiet", *args]) == 2
    err = capsys.readouterr().err
    assert fragment in err and len(err.strip().splitlines()) == 1


def test_count_many_keeps_the_order_and_equals_count_regions(tmp_path):
    from lrcount import ReLUNetwork, count_many

    nets = [ReLUNetwork.random([2, 5 + s, 5], seed=s) for s in range(5)]
    ticks = []
    batch = count_many([(n, Box(-1, 1)) for n in nets], jobs=2, progress=ticks.append)
    assert [r.count for r in batch] == [count_regions(n, Box(-1, 1)).count for n in nets]
    assert ticks == [1] * 5
    net = nets[0]
    save(net, tmp_path / "n.npz")
    back = load(tmp_path / "n.npz")
    assert all(np.array_equal(a, b) for a, b in zip(back.weights + back.biases, net.weights + net.biases))


def test_plot_draws_one_polygon_per_region(tmp_path, study_folder):
    from lrcount.engines.planar import polygons
    from lrcount.problem import CountingProblem

    dense = load(study_folder / "seed0-dense-1.npz")
    patterns, cells = polygons(CountingProblem.build(dense, Box(-1.5, 2.5)))
    assert len(cells) == len(patterns) == count_regions(dense, Box(-1.5, 2.5)).count
    area = sum(0.5 * abs(np.dot(c[:, 0], np.roll(c[:, 1], -1)) - np.dot(c[:, 1], np.roll(c[:, 0], -1))) for c in cells)
    scale = CountingProblem.build(dense, Box(-1.5, 2.5)).chart.basis[0, 0]
    assert np.isclose(area * scale**2, 16.0)  # the polygons tile the box
    files = [str(study_folder / f) for f in ("seed0-dense-1.npz", "seed0-uniform-0.3.npz")]
    assert main(["plot", *files, "--box", "-1.5", "2.5", "--out", str(tmp_path / "r.png")]) == 0
    assert (tmp_path / "r.png").read_bytes()[:4] == b"\x89PNG" and (tmp_path / "r.png").stat().st_size > 10_000


def test_estimates_on_domains_too_large_to_count(tmp_path):
    """With estimate_time, a 10-D data set's networks get a bracket on its box and on the
    subspace through 9 points (17 and 33 exceed the input's dimension): a lower bound no
    larger than the upper bound, written to the study and drawn."""
    from lrcount.plot import plot_study

    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, (300, 10))
    ten = data.Dataset("ten", x[:200], (x[:200, 0] > 0).astype(int), x[200:], (x[200:, 0] > 0).astype(int))
    study = run_study(ten, [10, 5, 5], [1.0, 0.5], seeds=[0], subspaces=[1], setup=SHORT, jobs=1, estimate_time=3)
    assert study.estimated == ["S=8", "box"]
    for report in study.networks:
        assert [e.domain for e in report.estimates] == ["S=8", "box"]
        for entry in report.estimates:
            assert -np.inf < entry.lower_log2 <= entry.upper_log2
            if entry.exact is not None:
                assert entry.lower_log2 == np.log2(entry.exact)
    assert "box (est)" in compare_table(study)
    assert (tmp_path / "estimates.png") in plot_study(study, tmp_path)
    with pytest.raises(LRCountError, match="estimates are for inputs of more than 2"):
        run_study(data.moons(seed=0), [2, 4, 4], [1.0], setup=SHORT, estimate_time=1)


STUDY_ARGS = ["compare", "--widths", "2,8,8", "--densities", "1,0.3", "--epochs", "20", "--finetune-epochs", "5",
              "--lr", "0.1", "--jobs", "2", "--quiet"]


def _networks_equal(folder_a, folder_b, files) -> bool:
    return all(np.array_equal(a, b) for f in files for a, b in zip(load(folder_a / f).weights + load(folder_a / f).biases,
                                                                   load(folder_b / f).weights + load(folder_b / f).biases))


def test_an_interrupted_study_resumes_with_the_networks_it_would_have_trained(tmp_path, study_folder, monkeypatch, capsys):
    import lrcount.compare as compare

    finetune, trained = compare.prune_and_finetune, []

    def interrupted_after_one(*args, **kwargs):
        if len(trained) == 1:
            raise KeyboardInterrupt
        trained.append(1)
        return finetune(*args, **kwargs)

    out = tmp_path / "study"
    monkeypatch.setattr(compare, "prune_and_finetune", interrupted_after_one)
    assert main([*STUDY_ARGS, "--seeds", "0,1", "--out", str(out)]) == 130
    kept = tmp_path / "study.networks"
    assert "--resume" in capsys.readouterr().err and not out.exists()
    assert sorted(p.name for p in kept.glob("*.npz")) == ["seed0-dense-1.npz", "seed0-uniform-0.3.npz"]

    assert main([*STUDY_ARGS, "--seeds", "0,1", "--out", str(out)]) == 2  # never overwritten without --resume
    assert "add --resume" in capsys.readouterr().err and kept.is_dir()

    calls = []
    monkeypatch.setattr(compare, "prune_and_finetune", lambda *a, **k: calls.append(1) or finetune(*a, **k))
    assert main([*STUDY_ARGS, "--seeds", "0,1", "--out", str(out), "--resume"]) == 0
    study = json.loads((out / "study.json").read_text())
    assert len(calls) == 3 and study["reused_networks"] == 2 and not kept.exists()  # seed 0's bound-guided, seed 1's two
    files = [n["file"] for n in study["networks"]]
    assert _networks_equal(out, study_folder, files)  # equal, bit for bit, to the uninterrupted study's
    fresh = json.loads((study_folder / "study.json").read_text())
    assert [(n["accuracy"], [c["count"] for c in n["counts"]]) for n in study["networks"]] == \
        [(n["accuracy"], [c["count"] for c in n["counts"]]) for n in fresh["networks"]]


def test_resume_adds_seeds_to_a_finished_study_and_refuses_another_setup(tmp_path, study_folder, monkeypatch, capsys):
    import shutil

    import lrcount.compare as compare

    out = tmp_path / "study"
    shutil.copytree(study_folder, out)
    other_setup = [*STUDY_ARGS, "--lr", "0.2"]  # the last --lr counts
    assert main([*other_setup, "--seeds", "0,1,2", "--out", str(out), "--resume"]) == 2
    assert "another setup" in capsys.readouterr().err
    train, trained = compare.train, []
    monkeypatch.setattr(compare, "train", lambda *a, **k: trained.append(k["seed"]) or train(*a, **k))
    assert main([*STUDY_ARGS, "--seeds", "0,1,2", "--out", str(out), "--resume"]) == 0
    study = json.loads((out / "study.json").read_text())
    assert trained == [2] and study["reused_networks"] == 6 and len(study["networks"]) == 9
    assert _networks_equal(out, study_folder, [f"seed{s}-{m}" for s in (0, 1) for m in
                                               ("dense-1.npz", "uniform-0.3.npz", "bound-guided-0.3.npz")])
    assert main([*STUDY_ARGS, "--seeds", "0", "--out", str(tmp_path / "none"), "--resume"]) == 2
    assert "neither" in capsys.readouterr().err


def _report(method, density, seed, count, accuracy):
    from lrcount.compare import CountEntry, NetworkReport

    return NetworkReport(seed, method, density, [density] * 2, accuracy, "", 0.0, 0.0,
                         counts=[CountEntry("S=1", 1, count, True, 0.0, 9.0)])


def test_rank_correlations_follow_counts_and_accuracy():
    from lrcount.compare import _average_ranks, rank_correlations

    assert list(_average_ranks(np.array([3.0, 1.0, 3.0, 2.0]))) == [2.5, 0.0, 2.5, 1.0]
    densities = [1.0, 0.5, 0.1, 0.05, 0.01]
    in_step = [_report("dense" if p == 1 else m, p, s, int(100 * p) + 4 + s, 0.5 + 0.4 * p + 0.01 * s)
               for p in densities for m in (("dense",) if p == 1 else ("uniform", "bound-guided")) for s in (0, 1, 2)]
    correlations = {c.method: c for c in rank_correlations(in_step, ["S=1"], resamples=200)}
    assert set(correlations) == {"uniform", "bound-guided", "both"}
    for c in correlations.values():
        assert c.complete and c.rho == pytest.approx(1.0) and c.low <= c.rho <= c.high
    assert correlations["uniform"].densities == 5 and correlations["both"].densities == 9
    # counts that rise as accuracy falls, with seeds far apart: a negative rho, an interval around it
    against = [_report(r.method, r.density, r.seed, 1000 - r.counts[0].count, r.accuracy) for r in in_step]
    (c,) = [c for c in rank_correlations(against, ["S=1"], resamples=200) if c.method == "uniform"]
    assert c.rho == pytest.approx(-1.0) and c.high < 0
    flat = [_report(r.method, r.density, r.seed, 7, r.accuracy) for r in in_step]
    assert all(c.rho is None for c in rank_correlations(flat, ["S=1"], resamples=50))


def test_setup_variations_draw_the_training_subset_and_the_points_they_say():
    mnist = data.mnist(require(DATA / "mnist"), seed=0)
    small = mnist.with_training_subset(500, seed=0)
    assert small.x_train.shape == (500, 784) and len(small.x_test) == len(mnist.x_test) == 10_000
    rows = {row.tobytes() for row in mnist.x_train}
    assert all(row.tobytes() in rows for row in small.x_train)
    assert np.array_equal(small.x_train, mnist.with_training_subset(500, seed=0).x_train)
    assert small.training_fingerprint() != mnist.training_fingerprint()
    study = run_study(small, [784, 6, 6], [1.0], seeds=[0], subspaces=[1], setup=SHORT, jobs=1, points_from="train",
                      box=Box(-0.5, 2.9))
    assert study.train_size == 500 and study.points_from == "train"
    through = np.array(study.domain_specs["0"]["S=1"]["points"])
    train_rows = {row.tobytes() for row in small.x_train}
    assert all(np.asarray(p, dtype=np.float64).tobytes() in train_rows for p in through)


def test_a_count_above_its_bound_is_never_written(monkeypatch):
    import lrcount.compare as compare

    monkeypatch.setattr(compare.bounds, "network_bound", lambda net, domain=None, **kw: 1)
    with pytest.raises(RuntimeError, match="exceed the network's bound"):
        run_study(data.moons(seed=0), [2, 6, 6], [1.0], seeds=[0], setup=SHORT, jobs=1)
