"""The command line: results on stdout, one-line errors with a non-zero exit."""

import json
import subprocess
import sys

import numpy as np
import pytest

from lrcount import ReLUNetwork
from lrcount.cli import main
from lrcount.examples import example_network
from lrcount.io import save_npz


@pytest.fixture
def model(tmp_path):
    path = tmp_path / "net.npz"
    save_npz(example_network(), path)
    return path


def run_cli(*args):
    """Run the real console entry point in a subprocess (true exit codes and streams)."""
    return subprocess.run([sys.executable, "-m", "lrcount", *map(str, args)], capture_output=True, text=True, timeout=300)


def test_count_json_is_parseable_and_complete(model):
    out = run_cli("count", model, "--json")
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["complete"] is True and data["count"] > 1
    assert {"count", "complete", "engine", "seconds", "widths", "epsilon"} <= set(data)


def test_engines_agree_from_the_cli(model, capsys):
    counts = []
    for engine in ("milp", "scip-count", "split"):
        assert main(["count", str(model), "--engine", engine, "--json"]) == 0
        counts.append(json.loads(capsys.readouterr().out)["count"])
    assert len(set(counts)) == 1


def test_regions_file(model, tmp_path, capsys):
    assert main(["count", str(model), "--engine", "milp", "--regions", str(tmp_path / "r.npz"), "--box", "-0.5", "0.5"]) == 0
    saved = np.load(tmp_path / "r.npz")
    assert saved["patterns"].shape == (int(saved["count"]), 16)
    assert np.all(np.abs(saved["points"]) <= 0.5 + 1e-9)


def test_time_limit_reports_a_lower_bound(tmp_path, capsys):
    path = tmp_path / "big.npz"
    save_npz(ReLUNetwork.random([4, 30, 30, 30], seed=0), path)
    assert main(["count", str(path), "--box", "-5", "5", "--engine", "milp", "--time-limit", "1", "--json"]) == 0
    captured = capsys.readouterr()
    data = json.loads(captured.out)
    assert data["complete"] is False and data["status"] == "timelimit"
    assert "lower bound" in captured.err


def test_example_command():
    out = run_cli("example")
    assert out.returncode == 0
    counts = {int(line.split()[1]) for line in out.stdout.splitlines() if line.strip().startswith(("milp", "scip", "split", "planar"))}
    assert len(counts) == 1


def test_wrong_box_dimension_from_a_vnnlib_file(tmp_path, capsys):
    (tmp_path / "p.vnnlib").write_text("(declare-const X_0 Real)\n(assert (<= X_0 1))\n(assert (>= X_0 0))\n")
    save_npz(example_network(), tmp_path / "n.npz")
    assert main(["count", str(tmp_path / "n.npz"), "--box-file", str(tmp_path / "p.vnnlib")]) == 2
    assert "dimension 1 but the network has 2 inputs" in capsys.readouterr().err


def test_unsupported_layer_from_the_cli_has_no_traceback(tmp_path):
    torch = pytest.importorskip("torch")
    torch.save(torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3)).state_dict(), tmp_path / "conv.pt")
    out = run_cli("count", tmp_path / "conv.pt", "--box", 0, 1)
    assert out.returncode == 2
    assert "Traceback" not in out.stderr and "only Linear" in out.stderr
    assert out.stdout == ""


@pytest.mark.parametrize("engine", ["milp", "split"])
def test_ctrl_c_returns_the_regions_found_so_far(engine, tmp_path):
    import signal
    import time

    path = tmp_path / "big.npz"
    save_npz(ReLUNetwork.random([4, 30, 30, 30], seed=0), path)
    proc = subprocess.Popen([sys.executable, "-m", "lrcount", "count", str(path), "--box", "-5", "5",
                             "--engine", engine, "--json"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(4)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    data = json.loads(out)
    assert data["complete"] is False and data["status"] == "userinterrupt" and data["count"] > 0
    assert "lower bound" in err


def test_sigmoid_onnx_and_point_box_from_the_cli(tmp_path, capsys):
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper

    graph = helper.make_graph([helper.make_node("Sigmoid", ["x"], ["y"])], "g",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 2])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 2])])
    onnx.save(helper.make_model(graph), str(tmp_path / "sigmoid.onnx"))
    assert main(["count", str(tmp_path / "sigmoid.onnx"), "--box", "0", "1"]) == 2
    assert "unsupported ONNX operator Sigmoid" in capsys.readouterr().err
    save_npz(example_network(), tmp_path / "n.npz")
    assert main(["count", str(tmp_path / "n.npz"), "--box", "0.5", "0.5"]) == 2
    assert "single point" in capsys.readouterr().err


def test_progress_line_on_long_runs(capsys):
    from lrcount import Box, count_regions

    net = ReLUNetwork.random([3, 24, 24, 24], seed=3)  # more than 4 s of work: the time limit ends it
    result = count_regions(net, Box(-4, 4), engine="split", progress=True, time_limit=4)
    err = capsys.readouterr().err
    assert result.seconds > 1.5  # the line appears only for runs over a second
    assert "regions" in err and "counting (split)" in err
    quiet = count_regions(net, Box(-4, 4), engine="split", progress=False, time_limit=2)
    assert quiet.count > 0 and capsys.readouterr().err == ""
