"""Time limits that cover the set-up, archives that cannot exhaust memory, deep networks that
cannot exhaust the stack, and long runs that say what they are doing."""

import subprocess
import sys
import textwrap
import zipfile

import numpy as np
import pytest

from lrcount import Box, LRCountError, ReLUNetwork, Subspace, count_regions
from lrcount.examples import example_network
from lrcount.io import load, save_npz


def test_the_time_limit_covers_a_large_subspace_s_set_up():
    """A 100-D subspace of a 784-input network needs 200 LPs before counting starts (15 s
    here); a 1 s limit used to return after all of them."""
    rng = np.random.default_rng(0)
    net = ReLUNetwork.random([784, 20, 20], seed=0)
    result = count_regions(net, Subspace(rng.uniform(-0.5, 2.9, (101, 784)), Box(-0.5, 2.9)), time_limit=1)
    assert not result.complete and result.status == "timelimit" and result.count == 0
    assert result.stats == {"stopped": "during set-up"}


def test_a_domain_s_chart_is_computed_once():
    domain = Subspace(np.random.default_rng(1).uniform(-1, 1, (4, 30)), Box(-1, 1))
    assert domain.chart(30) is domain.chart(30)


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
