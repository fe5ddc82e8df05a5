"""Loaders: npz, PyTorch (module and state dict), ONNX, VNN-LIB."""

import numpy as np
import pytest
from conftest import ACAS_ONNX, DATA, require

import lrcount
from lrcount import Box, LRCountError, ReLUNetwork, from_torch
from lrcount.io import read_vnnlib_box, save_npz

torch = pytest.importorskip("torch")
onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402


def sequential(*layers):
    torch.manual_seed(0)
    return torch.nn.Sequential(*layers).double()


def test_npz_round_trip_keeps_weights_and_box(tmp_path):
    net = ReLUNetwork.random([3, 4, 2], seed=0)
    save_npz(net, tmp_path / "n.npz", box=np.array([[-1, 1], [0, 2], [1, 3]]))
    back = lrcount.load(tmp_path / "n.npz")
    assert all(np.array_equal(a, b) for a, b in zip(net.weights, back.weights))
    assert np.array_equal(back.default_box, [[-1, 1], [0, 2], [1, 3]])


def test_torch_module_matches_its_forward():
    model = sequential(torch.nn.Flatten(), torch.nn.Linear(3, 5), torch.nn.ReLU(), torch.nn.Dropout(0.1),
                       torch.nn.Linear(5, 4), torch.nn.ReLU(), torch.nn.Identity(), torch.nn.Linear(4, 2))
    model.eval()
    net = from_torch(model)
    assert net.widths == [3, 5, 4]
    x = np.random.default_rng(0).standard_normal((7, 3))
    assert np.allclose(net(x), model(torch.from_numpy(x)).detach().numpy())


@pytest.mark.parametrize("layer", [torch.nn.Sigmoid(), torch.nn.Conv2d(1, 1, 3), torch.nn.Tanh()])
def test_torch_module_with_unsupported_layer(layer):
    with pytest.raises(LRCountError, match="unsupported layer"):
        from_torch(sequential(torch.nn.Linear(2, 2), layer, torch.nn.Linear(2, 1)))


def test_state_dict_file(tmp_path):
    model = sequential(torch.nn.Linear(3, 5), torch.nn.ReLU(), torch.nn.Linear(5, 2))
    torch.save(model.state_dict(), tmp_path / "m.pt")
    net = lrcount.load(tmp_path / "m.pt")
    x = np.random.default_rng(1).standard_normal((4, 3))
    assert np.allclose(net(x), model(torch.from_numpy(x)).detach().numpy())


def test_pickled_module_is_refused(tmp_path):
    torch.save(sequential(torch.nn.Linear(2, 2)), tmp_path / "whole.pt")
    with pytest.raises(LRCountError, match="state_dict"):
        lrcount.load(tmp_path / "whole.pt")


def test_conv_state_dict_is_refused(tmp_path):
    torch.save(sequential(torch.nn.Conv2d(1, 2, 3)).state_dict(), tmp_path / "conv.pt")
    with pytest.raises(LRCountError, match="only Linear"):
        lrcount.load(tmp_path / "conv.pt")


def onnx_chain(tmp_path, nodes, initializers, n_in=3, n_out=2):
    graph = helper.make_graph(
        nodes, "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, n_in])],
        [helper.make_tensor_value_info(nodes[-1].output[0], TensorProto.FLOAT, [1, n_out])],
        [numpy_helper.from_array(v.astype(np.float32), k) for k, v in initializers.items()],
    )
    path = tmp_path / "m.onnx"
    onnx.save(helper.make_model(graph), str(path))
    return path


def test_onnx_gemm_matmul_and_normalisation(tmp_path):
    rng = np.random.default_rng(2)
    init = {"mean": rng.standard_normal(3), "std": rng.uniform(0.5, 2, 3), "W1": rng.standard_normal((4, 3)),
            "b1": rng.standard_normal(4), "W2": rng.standard_normal((4, 2)), "b2": rng.standard_normal(2)}
    nodes = [helper.make_node("Sub", ["x", "mean"], ["s"]), helper.make_node("Div", ["s", "std"], ["n"]),
             helper.make_node("Gemm", ["n", "W1", "b1"], ["g"], transB=1), helper.make_node("Relu", ["g"], ["r"]),
             helper.make_node("MatMul", ["r", "W2"], ["m"]), helper.make_node("Add", ["m", "b2"], ["y"])]
    net = lrcount.load(onnx_chain(tmp_path, nodes, init))
    x = rng.standard_normal((5, 3))
    f32 = {k: v.astype(np.float32).astype(float) for k, v in init.items()}
    h = np.maximum(((x - f32["mean"]) / f32["std"]) @ f32["W1"].T + f32["b1"], 0)
    assert np.allclose(net(x), h @ f32["W2"] + f32["b2"])


def test_onnx_unsupported_operator(tmp_path):
    nodes = [helper.make_node("Sigmoid", ["x"], ["y"])]
    with pytest.raises(LRCountError, match="unsupported ONNX operator Sigmoid"):
        lrcount.load(onnx_chain(tmp_path, nodes, {}, n_out=3))


def test_unreadable_onnx(tmp_path):
    (tmp_path / "bad.onnx").write_bytes(b"\x00 this is not protobuf \xff" * 10)
    with pytest.raises(LRCountError, match="cannot read"):
        lrcount.load(tmp_path / "bad.onnx")


def test_acas_onnx_matches_the_reference_evaluator():
    from onnx.reference import ReferenceEvaluator

    path = require(ACAS_ONNX)
    net = lrcount.load(path)
    assert net.widths == [5, 50, 50, 50, 50, 50, 50]
    x = np.random.default_rng(0).uniform(-0.5, 0.5, (1, 1, 1, 5)).astype(np.float32)
    want = ReferenceEvaluator(str(path)).run(None, {"input": x})[0].ravel()
    assert np.allclose(net(x.reshape(1, 5).astype(float)).ravel(), want, atol=1e-5)


def test_vnnlib_boxes():
    box = read_vnnlib_box(require(DATA / "acasxu" / "prop_1.vnnlib"))
    assert np.allclose(box.lower, [0.6, -0.5, -0.5, 0.45, -0.5])
    assert np.allclose(box.upper, [0.679857769, 0.5, 0.5, 0.5, -0.45])


def test_vnnlib_written_here(tmp_path):
    text = "(declare-const X_0 Real)\n(declare-const X_1 Real)\n(assert (<= X_0 1.5))\n(assert (>= X_0 -1))\n" \
           "(assert (<= X_1 2e-1)) ; comment\n(assert (>= X_1 0))\n(assert (<= Y_0 3))\n"
    (tmp_path / "p.vnnlib").write_text(text)
    box = read_vnnlib_box(tmp_path / "p.vnnlib")
    assert np.allclose(box.lower, [-1, 0]) and np.allclose(box.upper, [1.5, 0.2])


def test_vnnlib_missing_bound(tmp_path):
    (tmp_path / "p.vnnlib").write_text("(declare-const X_0 Real)\n(assert (<= X_0 1.5))\n")
    with pytest.raises(LRCountError, match="lacks a lower or an upper bound"):
        read_vnnlib_box(tmp_path / "p.vnnlib")


def test_vnnlib_linear_input_constraints_make_a_polytope(tmp_path):
    from lrcount import Polytope, ReLUNetwork, count_regions
    from lrcount.io import read_vnnlib

    text = ("(declare-const X_0 Real)\n(declare-const X_1 Real)\n(declare-const Y_0 Real)\n"
            "(assert (>= X_0 -1))\n(assert (<= X_0 1))\n(assert (>= X_1 -1))\n(assert (<= X_1 1))\n"
            "(assert (and (<= (+ X_0 (* 2 X_1)) 0.5) (>= (- X_0 X_1) -1.5)))\n(assert (<= Y_0 3))\n")
    (tmp_path / "p.vnnlib").write_text(text)
    domain = read_vnnlib(tmp_path / "p.vnnlib")
    assert isinstance(domain, Polytope)
    square = np.vstack([np.eye(2), -np.eye(2)])
    direct = Polytope(np.vstack([[[1, 2], [-1, 1]], square]), np.r_[0.5, 1.5, np.ones(4)])
    net = ReLUNetwork.random([2, 8, 8], seed=4)
    assert count_regions(net, domain).count == count_regions(net, direct).count
    assert count_regions(net, domain).count < count_regions(net, Box(-1, 1)).count
    with pytest.raises(LRCountError, match="beyond a box"):
        read_vnnlib_box(tmp_path / "p.vnnlib")
