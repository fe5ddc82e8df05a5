"""Nothing lost: every file lrcount writes replaces its target in one step, a failed write
leaves the earlier file and still shows the result, inputs are never overwritten under another
name, and a study never mixes two runs' files."""

import errno
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from lrcount.cli import main
from lrcount.examples import example_network
from lrcount.io import save_npz


@pytest.fixture
def model(tmp_path):
    return save_npz(example_network(), tmp_path / "net.npz")


def leftovers(folder) -> list[str]:
    return [p.name for p in folder.iterdir() if p.name.endswith((".part", ".old"))]


def test_a_kill_while_the_regions_are_written_leaves_the_earlier_file(model, tmp_path):
    """The archive is written and the process SIGKILLed half-way: the file of the earlier run
    is still there, whole (writing straight onto it left 0 bytes)."""
    regions = tmp_path / "r.npz"
    assert main(["count", str(model), "--regions", str(regions), "--quiet"]) == 0
    before = regions.read_bytes()
    script = textwrap.dedent(f"""
        import os, signal, sys, numpy as np
        def savez(stream, **arrays):
            stream.write(b"PK" + b"x" * 100)
            stream.flush()
            os.kill(os.getpid(), signal.SIGKILL)
        np.savez = savez
        from lrcount.cli import main
        sys.exit(main(["count", {str(model)!r}, "--regions", {str(regions)!r}, "--engine", "split", "--quiet"]))
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=120)
    assert done.returncode == -9
    assert regions.read_bytes() == before
    assert np.load(regions)["count"] > 1


def test_a_full_disk_keeps_the_earlier_file_and_still_prints_the_count(model, tmp_path, monkeypatch, capsys):
    regions = tmp_path / "r.npz"
    assert main(["count", str(model), "--regions", str(regions), "--quiet"]) == 0
    before = regions.read_bytes()
    capsys.readouterr()

    def full(stream, **arrays):
        stream.write(b"PK" + b"x" * 10)
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr("lrcount.io.npz.np.savez", full)
    assert main(["count", str(model), "--regions", str(regions), "--quiet"]) == 1
    out, err = capsys.readouterr()
    assert "regions | engine" in out
    assert err.strip().count("\n") == 0 and "regions were not written" in err and "No space left" in err
    assert regions.read_bytes() == before and not leftovers(tmp_path)


@pytest.mark.parametrize("link", ["hard", "symbolic"])
def test_the_regions_file_is_never_the_model_under_another_name(model, tmp_path, link, capsys):
    other = tmp_path / "other.npz"
    (os.link if link == "hard" else os.symlink)(model, other)
    before = model.read_bytes()
    assert main(["count", str(model), "--regions", str(other), "--quiet"]) == 2
    assert "would overwrite the input" in capsys.readouterr().err
    assert model.read_bytes() == before


def test_a_pipe_as_the_regions_file_is_refused_before_counting(model, tmp_path, capsys):
    fifo = tmp_path / "fifo.npz"
    os.mkfifo(fifo)
    assert main(["count", str(model), "--regions", str(fifo), "--quiet"]) == 2
    assert "not a regular file" in capsys.readouterr().err


def test_an_interrupted_compare_leaves_the_earlier_run_whole(tmp_path, monkeypatch, capsys):
    out = tmp_path / "study"
    common = ["compare", "--out", str(out), "--quiet", "--densities", "1,0.5", "--epochs", "1"]
    assert main([*common, "--seeds", "0"]) == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}

    def interrupted(study, folder):
        raise KeyboardInterrupt

    monkeypatch.setattr("lrcount.plot.plot_study", interrupted)
    assert main([*common, "--seeds", "1"]) == 130
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert not leftovers(tmp_path)


def test_a_second_compare_replaces_the_first_run_whole(tmp_path, capsys):
    out = tmp_path / "study"
    common = ["compare", "--out", str(out), "--quiet", "--densities", "1", "--epochs", "1"]
    assert main([*common, "--seeds", "0"]) == 0
    assert main([*common, "--seeds", "1"]) == 0
    assert not any(p.name.startswith("seed0") for p in out.iterdir())
    assert any(p.name.startswith("seed1") for p in out.iterdir()) and not leftovers(tmp_path)


def test_compare_refuses_a_folder_of_other_files_before_training(tmp_path, capsys):
    (tmp_path / "mine.txt").write_text("keep me")
    assert main(["compare", "--out", str(tmp_path), "--quiet"]) == 2
    assert "no study.json" in capsys.readouterr().err and (tmp_path / "mine.txt").read_text() == "keep me"


def test_a_saved_study_network_counts_from_the_command_line(tmp_path, capsys):
    """Each network is saved with the box it was counted on, and the study JSON holds every
    domain whole, so a count can be repeated from the files alone."""
    import json

    out = tmp_path / "study"
    assert main(["compare", "--out", str(out), "--quiet", "--densities", "1", "--epochs", "1", "--json"]) == 0
    study = json.loads(capsys.readouterr().out)
    report = study["networks"][0]
    assert main(["count", str(out / report["file"]), "--json"]) == 0
    again = json.loads(capsys.readouterr().out)
    assert again["count"] == report["counts"][0]["count"]
    assert study["domain_specs"]["0"]["box"]["type"] == "box"


@pytest.mark.parametrize("name,fragment", [("x.xyz", "cannot write figures as .xyz"),
                                           ("missing/x.png", "does not exist"), (".", "is a directory")])
def test_plot_checks_its_output_before_drawing(model, tmp_path, name, fragment, capsys, monkeypatch):
    def never(*args, **kwargs):
        raise AssertionError("drew before checking the output")

    monkeypatch.setattr("lrcount.plot.plot_regions", never)
    assert main(["plot", str(model), "--out", str(tmp_path / name)]) == 2
    err = capsys.readouterr().err
    assert fragment in err and err.count("\n") == 1


def test_plot_writes_the_format_its_suffix_names(model, tmp_path, capsys):
    assert main(["plot", str(model), "--out", str(tmp_path / "r.svg")]) == 0
    assert (tmp_path / "r.svg").read_text().lstrip().startswith("<?xml")
