"""Time limits that cover the set-up, archives that cannot exhaust memory, deep networks that
cannot exhaust the stack, and long runs that say what they are doing."""

import functools
import subprocess
import sys
import textwrap
import zipfile

import numpy as np
import pytest

from lrcount import Box, LRCountError, Polytope, ReLUNetwork, Subspace, count_regions
from lrcount.examples import example_network
from lrcount.io import load, save_npz


def test_the_time_limit_covers_a_large_subspace_s_set_up(monkeypatch):
    """A 100-D subspace of a 784-input network bounded by 200 LPs before counting starts (15 s
    here; since then such subspaces get their box without LPs): a 1 s limit used to return
    after all of them."""
    from lrcount import domain

    monkeypatch.setattr(domain, "LP_BOX_MAX_DIM", 1000)
    rng = np.random.default_rng(0)
    net = ReLUNetwork.random([784, 20, 20], seed=0)
    result = count_regions(net, Subspace(rng.uniform(-0.5, 2.9, (101, 784)), Box(-0.5, 2.9)), time_limit=1)
    assert not result.complete and result.status == "timelimit" and result.count == 0
    assert result.stats == {"stopped": "during set-up"}


def test_a_many_dimensional_subspace_s_box_without_lps_holds_the_bounding_box_and_counts_alike(monkeypatch):
    from lrcount import domain

    rng = np.random.default_rng(3)
    points, box = rng.uniform(-0.5, 2.9, (18, 784)), Box(-0.5, 2.9)
    net = ReLUNetwork.random([784, 3, 3], seed=1)
    cheap = Subspace(points, box)
    assert cheap.chart(784).A.shape[1] == 17 > domain.LP_BOX_MAX_DIM
    monkeypatch.setattr(domain, "LP_BOX_MAX_DIM", 1000)
    tight = Subspace(points, box)
    assert np.all(cheap.chart(784).lower <= tight.chart(784).lower + 1e-9)
    assert np.all(cheap.chart(784).upper >= tight.chart(784).upper - 1e-9)
    assert count_regions(net, cheap, engine="split").count == count_regions(net, tight, engine="split").count > 1


def test_a_domain_s_chart_is_computed_once_and_cannot_go_stale():
    domain = Subspace(np.random.default_rng(1).uniform(-1, 1, (4, 30)), Box(-1, 1))
    assert domain.chart(30) is domain.chart(30)
    for array in (domain.points, domain.box.lower, Polytope(np.eye(2), np.ones(2)).A):
        with pytest.raises(ValueError, match="read-only"):
            array[0] = 5.0


def bomb(path, unpacked_bytes: int) -> None:
    """A network archive with one more member, of zeros, that unpacks to ``unpacked_bytes``."""
    save_npz(example_network(), path)
    with zipfile.ZipFile(path, "a", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        with archive.open("extra.npy", "w", force_zip64=True) as stream:
            np.lib.format.write_array_header_1_0(stream, {"descr": "<f8", "fortran_order": False,
                                                          "shape": (unpacked_bytes // 8,)})
            for _ in range(unpacked_bytes // 2**24):
                stream.write(bytes(2**24))


def test_an_archive_bomb_loads_under_a_memory_limit(tmp_path):
    """A 2 MB archive whose extra member unpacks to 2 GiB: only W*, b* and box are read, so a
    process limited to 1 GiB of address space loads the network (it used to unpack all)."""
    path = tmp_path / "bomb.npz"
    bomb(path, 2 * 2**30)
    script = textwrap.dedent(f"""
        import resource
        resource.setrlimit(resource.RLIMIT_AS, (2**30, 2**30))
        from lrcount.io import load
        print(load({str(path)!r}).widths)
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[2, 8, 8]"


def test_a_weight_declaring_more_than_the_limit_is_refused_before_reading(tmp_path):
    path = tmp_path / "huge.npz"
    with zipfile.ZipFile(path, "w") as archive:
        for name, shape in (("W0", (10**6, 10**4)), ("b0", (10**6,))):
            with archive.open(f"{name}.npy", "w") as stream:
                np.lib.format.write_array_header_1_0(stream, {"descr": "<f8", "fortran_order": False, "shape": shape})
                stream.write(bytes(64))
    with pytest.raises(LRCountError, match=r"W0 unpacks to 74\.5 GiB"):
        load(path)


def reference_bound(n0, layers):
    """R(1, n0) of lrcount.bounds.recursion, written as the plain recursion of its docstring."""
    import math

    @functools.cache
    def regions(l, d):
        if l == len(layers):
            return 1
        layer = layers[l]
        return sum(p * sum(math.comb(layer.splitting, j) * regions(l + 1, min(layer.always_active + layer.splitting - j, min(d, k)))
                           for j in range(min(layer.splitting, min(d, k)) + 1)) for p, k in layer.ranks)

    return regions(0, n0)


def test_the_layered_bound_equals_the_plain_recursion():
    from lrcount.bounds import Layer
    from lrcount.bounds.recursion import layered_bound

    rng = np.random.default_rng(0)
    for _ in range(40):
        n0 = int(rng.integers(1, 7))
        layers = [Layer(int(rng.integers(0, 6)), int(rng.integers(0, 3)),
                        tuple((1, int(k)) for k in rng.integers(0, 7, int(rng.integers(1, 3)))))
                  for _ in range(int(rng.integers(1, 5)))]
        assert layered_bound(n0, layers) == reference_bound(n0, layers)


@pytest.mark.parametrize("widths", [[10] * 43, [3] * 1001])
def test_a_thousand_layers_need_no_deep_stack(widths, capsys):
    """42 layers of width 10, and 1,000 of width 3, ended in RecursionError."""
    from lrcount.cli import main

    assert main(["bound", "--widths", ",".join(map(str, widths)), "--json"]) == 0
    import json

    values = {b["method"]: b for b in json.loads(capsys.readouterr().out)["bounds"]}
    assert values["serra2018"]["log10"] > 0


def test_long_bound_computations_report_progress_as_plain_lines(monkeypatch, capsys):
    """stderr is not a terminal here: progress comes as plain lines, not as a bar."""
    from lrcount import progress
    from lrcount.bounds import rank_distribution_mc

    monkeypatch.setattr(progress, "DELAY", 0.0)
    monkeypatch.setattr(progress, "LINE_INTERVAL", 0.0)
    rank_distribution_mc(20, 30, 0.01, max_samples=200, per_rank=10_000, progress=True)
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) >= 4 and all(line.startswith("lrcount: ranks of 20 x 30") for line in lines)
    assert lines[-1].split(": ")[-1].startswith("200/200 matrices")


def test_vertex_memory_does_not_grow_with_the_regions_counted():
    """The same network on a box and on one 4 times as wide: 3.6 times the regions, but the
    peak of traced allocations stays within 2 times (it is set by the vertices of a layer's
    chunk, not by the regions found; 300 s of a 7-32-32-1 count kept RSS within 530-725 MB).
    One process, as tracemalloc sees only its own."""
    import tracemalloc

    net = ReLUNetwork.random([4, 24, 24], seed=5)
    peaks, counts = [], []
    for half in (1, 4):
        tracemalloc.start()
        try:
            counts.append(count_regions(net, Box(-half, half), engine="vertex", jobs=1).count)
            peaks.append(tracemalloc.get_traced_memory()[1])
        finally:
            tracemalloc.stop()
    assert counts[1] > 3 * counts[0]
    assert peaks[1] < 2 * peaks[0]
