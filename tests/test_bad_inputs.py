"""Bad and hostile inputs across ``count``, ``bound``, the loaders and the API: each gives exit
code 2 and one line naming the problem, no traceback, and leaves every file the user had as it
was. Then the inputs that must simply work."""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import subprocess
import sys

import numpy as np
import pytest

from lrcount import Box, LRCountError, Polytope, ReLUNetwork, Subspace, bounds, count_regions, from_torch, save
from lrcount.cli import main
from lrcount.compare import check_countable
from lrcount.examples import example_network
from lrcount.io import save_npz

OK = {"W0": np.ones((2, 2)), "b0": np.array([0.1, -0.2]), "W1": np.ones((1, 2)), "b1": np.zeros(1)}


def npz(path, **arrays):
    np.savez(path, **arrays)
    return path


def npy(path, array):
    np.save(path, array)
    return path


def vnnlib(path, body: str):
    path.write_text(body)
    return path


def box_file(tmp_path, name, body):
    return vnnlib(tmp_path / name, "(declare-const X_0 Real)\n(declare-const X_1 Real)\n" + body)


def _empty_file(path):
    path.write_bytes(b"")
    return path


def _fifo(path):
    os.mkfifo(path)
    return path


def _ill_typed_onnx(path):
    """An ONNX graph whose input is declared [1, 3] while its first weight is 2 x 8 (out x in
    in Gemm's transB form: 8 x 2, so it takes 2 features)."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    w0 = numpy_helper.from_array(np.ones((8, 2)), "w0")
    b0 = numpy_helper.from_array(np.zeros(8), "b0")
    w1 = numpy_helper.from_array(np.ones((1, 8)), "w1")
    b1 = numpy_helper.from_array(np.zeros(1), "b1")
    nodes = [helper.make_node("Gemm", ["x", "w0", "b0"], ["h"], transB=1), helper.make_node("Relu", ["h"], ["r"]),
             helper.make_node("Gemm", ["r", "w1", "b1"], ["y"], transB=1)]
    graph = helper.make_graph(nodes, "typed", [helper.make_tensor_value_info("x", TensorProto.DOUBLE, [1, 3])],
                              [helper.make_tensor_value_info("y", TensorProto.DOUBLE, [1, 1])], [w0, b0, w1, b1])
    onnx.save(helper.make_model(graph), path)
    return path


def bad_cli_inputs(tmp_path):
    """(arguments, fragment of the one-line error), written into ``tmp_path``."""
    t = tmp_path
    model = npz(t / "ok.npz", **OK)
    save_npz(example_network(), t / "boxed.npz")
    (t / "dir.npz").mkdir()
    (t / "loop.npz").symlink_to(t / "loop.npz")
    (t / "broken.npz").symlink_to(t / "nothing-here.npz")
    (t / "text.npz").write_text("W0 = [[1, 2], [3, 4]]\n")
    (t / "bad.onnx").write_bytes(b"not an onnx file")
    (t / "model.txt").write_text("weights")
    np.save(t / "objects.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with open(t / "pickled.npz", "wb") as f:
        pickle.dump({"W0": 1}, f)
    two = "(assert (>= X_0 0))\n(assert (<= X_0 1))\n(assert (>= X_1 0))\n(assert (<= X_1 1))\n"
    box = box_file(t, "ok.vnnlib", two)
    cases = [
        # the model file
        (["count", t / "missing.npz", "--box", 0, 1], "no such file"),
        (["count", t / "dir.npz", "--box", 0, 1], "is a directory"),
        (["count", "/dev/null", "--box", 0, 1], "not a regular file"),
        (["count", t / "loop.npz", "--box", 0, 1], "cannot open"),
        (["count", t / "broken.npz", "--box", 0, 1], "broken symbolic link"),
        (["count", t / "model.txt", "--box", 0, 1], "unknown model format"),
        (["count", t / "text.npz", "--box", 0, 1], "not an .npz archive"),
        (["count", t / "pickled.npz", "--box", 0, 1], "not an .npz archive"),
        (["count", npz(t / "empty.npz"), "--box", 0, 1], "holds no arrays"),
        (["count", npz(t / "obj.npz", **dict(OK, W0=np.array([[{}, 1], [1, 1]], dtype=object))), "--box", 0, 1],
         "plain numeric arrays"),
        (["count", npz(t / "str.npz", **dict(OK, W0=np.array([["a", "b"], ["c", "d"]]))), "--box", 0, 1], "not numbers"),
        (["count", npz(t / "complex.npz", **dict(OK, W0=np.ones((2, 2)) * 1j)), "--box", 0, 1], "complex"),
        (["count", npz(t / "nan.npz", **dict(OK, W0=np.array([[np.nan, 1], [1, 1]]))), "--box", 0, 1], "NaN or infinity"),
        (["count", npz(t / "inf.npz", **dict(OK, b0=np.array([np.inf, 0]))), "--box", 0, 1], "NaN or infinity"),
        (["count", npz(t / "shape.npz", **dict(OK, W1=np.ones((1, 3)))), "--box", 0, 1], "expects 3 inputs"),
        (["count", npz(t / "bias.npz", **dict(OK, b0=np.zeros(3))), "--box", 0, 1], "bias has 3 entries"),
        (["count", npz(t / "gap.npz", W0=OK["W0"], b0=OK["b0"], W2=OK["W1"], b2=OK["b1"]), "--box", 0, 1], "without gaps"),
        (["count", npz(t / "nobias.npz", W0=OK["W0"], W1=OK["W1"], b1=OK["b1"]), "--box", 0, 1], "missing bias"),
        (["count", npz(t / "zero.npz", **dict(OK, W0=np.ones((0, 2)), b0=np.zeros(0))), "--box", 0, 1], "at least one"),
        (["count", npz(t / "cube.npz", **dict(OK, W0=np.ones((2, 2, 1)))), "--box", 0, 1], "a matrix"),
        (["count", npz(t / "badbox.npz", **OK, box=np.ones((3, 2)))], "stored box has shape"),
        (["count", t / "bad.onnx", "--box", 0, 1], "cannot read"),
        # the domain
        (["count", model, "--box", 1, 0], "empty box"),
        (["count", model], "stores no box"),
        (["count", model, "--box", 0.5, 0.5], "single point"),
        (["count", model, "--box", "nan", 1], "finite"),
        (["count", model, "--box", "-inf", 1], "finite"),
        (["count", model, "--box-file", t / "missing.vnnlib"], "no such file"),
        (["count", model, "--box-file", t / "dir.npz"], "is a directory"),
        (["count", model, "--box-file", vnnlib(t / "none.vnnlib", "nothing here")], "declares no inputs"),
        (["count", model, "--box-file", box_file(t, "half.vnnlib", "(assert (<= X_0 1))\n")], "lacks a lower or an upper"),
        (["count", model, "--box-file", box_file(t, "or.vnnlib", two + "(assert (or (and (<= X_0 0.5)) (and (>= X_0 0.6))))\n")],
         "disjunction"),
        (["count", model, "--box-file", box_file(t, "lin.vnnlib", two + "(assert (<= (* X_0 X_1) 0.5))\n")],
         "not linear in the inputs"),
        (["count", model, "--box-file", box_file(t, "xy.vnnlib", two + "(assert (<= X_0 Y_0))\n")],
         "ties inputs to outputs"),
        (["count", model, "--box-file", box_file(t, "eq.vnnlib", two + "(assert (= X_0 X_1))\n")],
         "lower-dimensional"),
        (["count", model, "--box-file", box_file(t, "never.vnnlib", two + "(assert (<= (+ X_0 X_1) 5))\n(assert (>= (+ X_0 X_1) 6))\n")],
         "empty"),
        (["count", model, "--box-file", box_file(t, "paren.vnnlib", two + "(assert (<= X_0 1)\n")], "unbalanced"),
        (["count", model, "--box-file", vnnlib(t / "one.vnnlib", "(declare-const X_0 Real)\n(assert (<= X_0 1))\n(assert (>= X_0 0))\n")],
         "dimension 1 but the network has 2 inputs"),
        (["count", model, "--box-file", t / "objects.npy"], "cannot read"),
        # options
        (["count", model, "--box", 0, 1, "--time-limit", "-1"], "positive number of seconds"),
        (["count", model, "--box", 0, 1, "--time-limit", "inf"], "positive number of seconds"),
        (["count", model, "--box", 0, 1, "--time-limit", "nan"], "positive number of seconds"),
        (["count", model, "--box", 0, 1, "--time-limit", "0"], "positive number of seconds"),
        (["count", model, "--box", 0, 1, "--epsilon", "0"], "epsilon"),
        (["count", model, "--box", 0, 1, "--epsilon", "2"], "epsilon"),
        (["count", model, "--box", 0, 1, "--epsilon", "nan"], "epsilon"),
        (["count", model, "--box", 0, 1, "--regions", t / "no-such-dir" / "r.npz"], "does not exist"),
        (["count", model, "--box", 0, 1, "--regions", t / "dir.npz"], "is a directory"),
        (["count", model, "--box", 0, 1, "--regions", model], "would overwrite the input"),
        (["count", model, "--box", 0, 1, "--regions", t / "r.npz", "--engine", "scip-count"], "lists regions"),
        (["count", npz(t / "five.npz", W0=np.ones((2, 5)), b0=np.zeros(2), W1=np.ones((1, 2)), b1=np.zeros(1)),
          "--box", 0, 1, "--engine", "planar"], "dimension at most 2"),
        (["count", model, "--box-file", box], None),  # a valid call among the bad ones: must pass
        (["count", model, "--through", t / "text.npz"], "not a .npy array"),
        (["count", model, "--through", npy(t / "one.npy", np.zeros((1, 2)))], "S + 1 >= 2"),
        (["count", model, "--through", npy(t / "same.npy", np.zeros((2, 2)))], "affinely dependent"),
        (["count", model, "--through", npy(t / "three.npy", np.eye(3))], "dimension 3 but the network has 2"),
        # issue 20: internal errors and unclear messages
        (["count", npz(t / "strbox.npz", **OK, box=np.array([["a", "b"], ["c", "d"]]))], "stored box has entries of type"),
        (["count", model, "--through", npz(t / "points.npz", p=np.eye(2))], "--through needs one array in a .npy"),
        (["count", model, "--box-file", box_file(t, "nested.vnnlib", "(assert " + "(and " * 5000
                                                  + "(>= X_0 0) (<= X_0 1) (>= X_1 0) (<= X_1 1)" + ")" * 5001 + "\n")], None),
        (["count", model, "--box-file", box_file(t, "contra.vnnlib", two + "(assert (>= X_0 2))\n")],
         "the constraints on X_0 contradict each other"),
        (["count", model, "--box-file", box_file(t, "nanbound.vnnlib", two + "(assert (>= X_0 nan))\n")],
         "'nan' is not a finite number"),
        (["count", model, "--box-file", vnnlib(t / "twice.vnnlib", "(declare-const X_0 Real)\n(declare-const X_0 Real)\n" + two)],
         "declares X_0 twice"),
        (["count", model, "--box-file", vnnlib(t / "gaps.vnnlib", "(declare-const X_0 Real)\n(declare-const X_5 Real)\n" + two)],
         "but not X_1"),
        (["count", model, "--through", npy(t / "close.npy", np.array([[0.1, 0.2], [0.1 + 1e-15, 0.2], [0.5, 0.9]]))],
         "nearly) affinely dependent"),
        (["count", _empty_file(t / "empty.onnx"), "--box", 0, 1], "holds no ONNX graph"),
        (["count", _ill_typed_onnx(t / "typed.onnx"), "--box", 0, 1], "declared with 3 features but the first layer takes 2"),
        (["count", model, "--regions", _fifo(t / "fifo.npz"), "--box", 0, 1], "not a regular file"),
        (["compare", "--out", t / "c1", "--quiet", "--seeds", "99999999999999999999999"], "seeds must be whole numbers in"),
        (["compare", "--out", t / "c2", "--quiet", "--seeds", "0,0"], "seed 0 is given twice"),
        (["compare", "--out", t / "c3", "--quiet", "--epochs", "0"], "at least 1 epoch"),
        (["compare", "--out", t / "c4", "--quiet", "--epochs", "-5"], "at least 1 epoch"),
        (["compare", "--out", t / "c5", "--quiet", "--lr", "nan"], "learning rate must be a positive number"),
        (["compare", "--out", t / "c6", "--quiet", "--finetune-epochs", "-1"], "fine-tuning epochs"),
        (["compare", "--out", model, "--quiet"], "is a file; give a folder"),
        (["compare", "--out", t / "c7", "--quiet", "--data", "mnist", "--mnist", model], "is a file; give the folder"),
        (["plot", model, "--box", 0, 1, "--out", t / "x.xyz"], "cannot write figures as .xyz"),
        (["plot", model, "--box", 0, 1, "--out", t / "nowhere" / "x.png"], "does not exist"),
        (["plot", model, "--box", 0, 1, "--out", t / "dir.npz"], "is a directory"),
        (["bound", "--widths", "2,3,3", "--ranks", "-1,5"], "rank lies in [0, 2], got -1"),
        # bound
        (["bound", "--widths", "784,,100"], "empty item"),
        (["bound", "--widths", "784,abc"], "whole numbers"),
        (["bound", "--widths", "784"], "at least one hidden layer"),
        (["bound", "--widths", "784,0,10"], "must be positive"),
        (["bound", "--widths", "784,-3,10"], "must be positive"),
        (["bound", "--widths", "784,100,100", "--density", "0,0.5"], "(0, 1]"),
        (["bound", "--widths", "784,100,100", "--density", "1.5"], "(0, 1]"),
        (["bound", "--widths", "784,100,100", "--density", "0.1,0.1,0.1"], "one density per hidden layer"),
        (["bound", "--widths", "784,100,100", "--ranks", "200,5"], "rank lies in [0, 100]"),
        (["bound", "--widths", "784,100,100", "--ranks", "5"], "one rank per hidden layer"),
        (["bound", "--widths", "784,100,100", "--method", "foo"], "unknown bound method"),
        (["bound", "--widths", "2,3,3", "--total-density", "0.01", "--optimize"], "every layer needs at least one"),
        (["bound", "--widths", "2,3,3", "--total-density", "2", "--optimize"], "(0, 1]"),
        (["bound", "--widths", "2,3,3", "--optimize"], "go together"),
        (["bound", "--widths", "784,100,100", "--density", "0.1", "--rank-probabilities", "mc", "--seed", "-3"], "--seed"),
        (["bound", model, "--widths", "2,3"], "not both"),
        (["bound"], "give --widths"),
        (["bound", t / "missing.npz"], "no such file"),
    ]
    return cases


def snapshot(folder) -> dict[str, str]:
    """The content hash of every regular file under ``folder`` (links are not followed)."""
    out = {}
    for root, _, files in os.walk(folder):
        for name in files:
            path = os.path.join(root, name)
            if os.path.isfile(path) and not os.path.islink(path):
                with open(path, "rb") as f:
                    out[path] = hashlib.sha256(f.read()).hexdigest()
    return out


def test_the_table_is_large_enough(tmp_path):
    assert len([c for c in bad_cli_inputs(tmp_path) if c[1]]) + len(API_CASES) >= 60


def test_every_bad_cli_input_gets_one_line_exit_2_and_loses_no_file(tmp_path, capsys):
    for args, fragment in bad_cli_inputs(tmp_path):
        before = snapshot(tmp_path)
        code = main([str(a) for a in args])
        out, err = capsys.readouterr()
        after = snapshot(tmp_path)
        assert all(after.get(path) == digest for path, digest in before.items()), (args, "a file changed or vanished")
        if fragment is None:
            assert code == 0 and err == "", (args, err)
            continue
        assert code == 2, (args, err)
        assert len(err.strip().splitlines()) == 1 and fragment in err, (args, err)
        assert "Traceback" not in err and "allow_pickle" not in err and out == "", (args, err)


API_CASES = [
    (lambda: ReLUNetwork((np.ones((2, 2)) * 1j, np.ones((1, 2))), (np.zeros(2), np.zeros(1))), "complex"),
    (lambda: ReLUNetwork((np.ones((2, 2)),), (np.zeros(3),)), "bias has 3 entries"),
    (lambda: ReLUNetwork((), ()), "at least one affine layer"),
    (lambda: Box([0, 0], [1, 1, 1]), "one length"),
    (lambda: Box(1, 0), "empty box"),
    (lambda: Subspace(np.zeros((1, 3)), Box(-1, 1)), "at least two points"),
    (lambda: Subspace(np.zeros((3, 3)), Box(-1, 1)), "affinely dependent"),
    (lambda: count_regions(example_network(), Polytope([[1.0, 0.0]], [1.0])), "unbounded"),
    (lambda: count_regions(example_network(), Polytope([[1.0, 0.0], [-1.0, 0.0], [0, 1], [0, -1]], [-1.0, 0.0, 1, 1])), "empty"),
    (lambda: count_regions(example_network(), engine="foo"), "unknown engine"),
    (lambda: count_regions(example_network(), time_limit=float("inf")), "positive number of seconds"),
    (lambda: count_regions(example_network(), Box(-1, 1, ), epsilon=1.0), "epsilon"),
    (lambda: count_regions(ReLUNetwork.random([5, 3]), Box(-1, 1), engine="planar"), "dimension at most 2"),
    (lambda: bounds.serra2018([784, 100, 100], ranks=[200, 5]), "rank lies in"),
    (lambda: bounds.cai2023([784, 100, 100], [0.1, 2.0]), "(0, 1]"),
    (lambda: bounds.optimize_densities([2, 3, 3], 0.01), "every layer needs at least one"),
    (lambda: check_countable(ReLUNetwork.random([2, 400, 400]), Box(-1, 1), "box", None),
     "use narrower layers or give --time-limit"),
    (lambda: count_regions(example_network(), "box"), "must be a Box, Polytope or Subspace, got str"),
    (lambda: count_regions(example_network(), Box(-1, 1), time_limit="5"), "got '5'"),
    (lambda: count_regions("net.npz", Box(-1, 1)), "must be a ReLUNetwork"),
    (lambda: Subspace([[0.0, 1.0], [2.0]], Box(-1, 1)), "all of one length"),
    (lambda: Subspace([[0.1, 0.2], [0.1 + 1e-15, 0.2], [0.5, 0.9]]), "nearly) affinely dependent"),
]


@pytest.mark.parametrize("call,fragment", API_CASES)
def test_bad_api_input_raises_a_clear_error(call, fragment):
    with pytest.raises(LRCountError, match=None) as caught:
        call()
    assert fragment in str(caught.value)
    assert "\n" not in str(caught.value)


# -- what must simply work ---------------------------------------------------------------------------
def test_negative_numbers_in_e_notation_are_numbers(tmp_path, capsys):
    model = npz(tmp_path / "ok.npz", **OK)
    assert main(["count", str(model), "--box", "-1e-3", "1e-3"]) == 0
    assert "regions" in capsys.readouterr().out


def test_counting_through_points(tmp_path, capsys):
    net = ReLUNetwork.random([5, 10, 10], seed=2)
    save(net, tmp_path / "n.npz")
    points = np.random.default_rng(2).uniform(-1, 1, (3, 5))
    np.save(tmp_path / "p.npy", points)
    assert main(["count", str(tmp_path / "n.npz"), "--through", str(tmp_path / "p.npy"), "--box", "-2", "2", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["domain_dim"] == 2 and out["count"] == count_regions(net, Subspace(points, Box(-2, 2))).count
    assert main(["count", str(tmp_path / "n.npz"), "--through", str(tmp_path / "p.npy"), "--json"]) == 0
    default = json.loads(capsys.readouterr().out)  # the box defaults to the points' range
    assert default["count"] == count_regions(net, Subspace(points, Box(points.min(0), points.max(0)))).count


def test_regions_file_gets_npz_and_says_where(tmp_path, capsys):
    model = npz(tmp_path / "ok.npz", **OK)
    assert main(["count", str(model), "--box", "-1", "1", "--regions", str(tmp_path / "out")]) == 0
    err = capsys.readouterr().err
    assert (tmp_path / "out.npz").exists() and str(tmp_path / "out.npz") in err


def test_version_and_help_for_every_option():
    out = subprocess.run([sys.executable, "-m", "lrcount", "--version"], capture_output=True, text=True)
    assert out.returncode == 0 and out.stdout.startswith("lrcount ")
    from lrcount.cli import build_parser

    parser = build_parser()
    subparsers = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
    for name, sub in subparsers.choices.items():
        for action in sub._actions:
            assert action.help, f"{name} {action.option_strings or action.dest} has no help text"


def test_a_closed_pipe_is_not_an_error(tmp_path):
    model = npz(tmp_path / "ok.npz", **OK)
    out = subprocess.run(f"{sys.executable} -m lrcount bound --widths 784,100,100 | head -1",
                         shell=True, capture_output=True, text=True)
    assert out.stdout.startswith("widths") and "Traceback" not in out.stderr and "BrokenPipe" not in out.stderr
    out = subprocess.run(f"{sys.executable} -m lrcount count {model} --box -1 1 | head -c 3",
                         shell=True, capture_output=True, text=True)
    assert "Traceback" not in out.stderr


def test_bounds_at_widths_of_a_million_print_in_scientific_form(capsys):
    assert main(["bound", "--widths", "784,1000000,1000000", "--method", "serra2018"]) == 0
    out = capsys.readouterr().out
    assert "e+5546" in out and "5546.728" in out


def test_a_single_density_applies_to_every_layer():
    assert bounds.cai2023([784, 20, 20], 0.05) == bounds.cai2023([784, 20, 20], [0.05, 0.05])


def test_a_torch_module_counts_like_its_conversion():
    import torch

    torch.manual_seed(0)
    module = torch.nn.Sequential(torch.nn.Linear(2, 6), torch.nn.ReLU(), torch.nn.Linear(6, 5), torch.nn.ReLU(),
                                 torch.nn.Linear(5, 1))
    assert count_regions(module, Box(-1, 1)).count == count_regions(from_torch(module), Box(-1, 1)).count
