"""Data sets, pruning and training: exact densities, masks held through fine-tuning, pruned
PyTorch models load back, and MNIST from the shared IDX files."""

import gzip

import numpy as np
import pytest
from conftest import DATA, require

from lrcount import Box, LRCountError, ReLUNetwork, bounds, count_regions, data, load, prune
from lrcount.train import TrainingSetup, accuracy, prune_and_finetune, train

FAST = TrainingSetup(epochs=30, finetune_epochs=10, learning_rate=0.1, momentum=0.9)


@pytest.mark.parametrize("method", ["layerwise", "random"])
@pytest.mark.parametrize("density", [0.5, 0.1, 0.013])
def test_pruning_keeps_exactly_the_requested_weights(method, density):
    net = ReLUNetwork.random([6, 40, 30], n_outputs=3, seed=1)
    masks = prune.layerwise_magnitude(net, density) if method == "layerwise" else prune.random_masks(net, density, seed=2)
    sizes = [w.size for w in net.weights[:-1]]
    assert [int(m.sum()) for m in masks[:-1]] == prune.kept_counts(sizes, [density] * 2)
    assert all(abs(m.sum() - density * m.size) <= 1 for m in masks[:-1])
    assert masks[-1].all()  # the output layer stays dense unless asked
    pruned = prune.apply(net, masks)
    assert np.count_nonzero(pruned.weights[0]) == masks[0].sum()


def test_magnitude_pruning_keeps_the_largest_weights():
    net = ReLUNetwork.random([5, 20, 20], seed=3)
    layerwise = prune.layerwise_magnitude(net, 0.3)
    assert all(np.abs(w[m]).min() >= np.abs(w[~m]).max() for w, m in zip(net.weights[:-1], layerwise[:-1]))
    glob = prune.global_magnitude(net, 0.3)
    kept = np.concatenate([np.abs(w[m]) for w, m in zip(net.weights[:-1], glob[:-1])])
    dropped = np.concatenate([np.abs(w[~m]) for w, m in zip(net.weights[:-1], glob[:-1])])
    assert kept.min() >= dropped.max()


def test_bound_guided_densities_keep_as_many_weights_as_uniform():
    widths = [784, 20, 20]
    net = ReLUNetwork.random(widths, n_outputs=10, seed=0)
    plan = bounds.optimize_densities(widths, 0.05)
    uniform = prune.layerwise_magnitude(net, plan.uniform)
    guided = prune.layerwise_magnitude(net, plan.optimized)
    assert sum(m.sum() for m in uniform[:-1]) == sum(m.sum() for m in guided[:-1])
    assert plan.optimized != plan.uniform


def test_bad_densities_are_refused():
    net = ReLUNetwork.random([3, 4, 4], seed=0)
    for bad in (0.0, 1.5, [0.5, 0.5, 0.5], -0.1):
        with pytest.raises(LRCountError):
            prune.layerwise_magnitude(net, bad)


def test_synthetic_data_sets_are_seeded_and_split():
    for make in data.SYNTHETIC.values():
        a, b = make(400, seed=3), make(400, seed=3)
        assert np.array_equal(a.x_train, b.x_train) and a.input_dim == 2 and a.n_classes == 2
        assert len(a.x_train) + len(a.x_test) == 400 and len(a.x_test) == 100
        assert not np.array_equal(a.x_train, make(400, seed=4).x_train)


def test_training_pruning_and_finetuning_keep_the_masks(tmp_path):
    torch = pytest.importorskip("torch")
    moons = data.moons(600, seed=0)
    model, dense = train([2, 16, 16], moons, FAST, seed=0)
    assert accuracy(dense, moons.x_test, moons.y_test) > 0.8
    masks = prune.layerwise_magnitude(dense, 0.25)
    tuned_model, tuned = prune_and_finetune(model, masks, moons, FAST, seed=0)
    assert np.array_equal([w != 0 for w in tuned.weights[:-1]][0], masks[0])  # fine-tuning kept the zeros
    assert all(np.all(w[~m] == 0) for w, m in zip(tuned.weights, masks))
    assert not np.allclose(tuned.weights[0][masks[0]], dense.weights[0][masks[0]])  # but it trained
    assert accuracy(tuned, moons.x_test, moons.y_test) > 0.7
    # a model pruned with torch.nn.utils.prune loads from its state dict and from the module
    torch.save(tuned_model.state_dict(), tmp_path / "pruned.pt")
    loaded = load(tmp_path / "pruned.pt")
    assert all(np.allclose(a, b) for a, b in zip(loaded.weights, tuned.weights))
    assert count_regions(loaded, Box(-2, 2)).count == count_regions(tuned, Box(-2, 2)).count


def test_training_is_reproducible():
    pytest.importorskip("torch")
    moons = data.moons(300, seed=1)
    a = train([2, 8], moons, FAST, seed=5)[1]
    b = train([2, 8], moons, FAST, seed=5)[1]
    assert all(np.array_equal(x, y) for x, y in zip(a.weights, b.weights))


def test_mnist_from_the_shared_idx_files_uses_the_standard_split():
    folder = require(DATA / "mnist")
    mnist = data.mnist(folder, test_fraction=0.2, seed=0)
    assert mnist.input_dim == 784 and mnist.n_classes == 10 and mnist.split == "standard"
    assert len(mnist.x_train) == 60_000 and len(mnist.x_test) == 10_000
    training = {row.tobytes() for row in mnist.x_train}
    assert not any(row.tobytes() in training for row in mnist.x_test)
    lo, hi = mnist.input_box()
    assert np.isclose(lo.min(), -data.MNIST_MEAN / data.MNIST_STD) and np.isclose(hi.max(), (1 - data.MNIST_MEAN) / data.MNIST_STD)


def test_mnist_with_one_part_is_split_at_random(tmp_path):
    folder = require(DATA / "mnist")
    for name in ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"):
        (tmp_path / name).symlink_to(folder / name)
    mnist = data.mnist(tmp_path, test_fraction=0.2, seed=0)
    assert mnist.split == "random" and len(mnist.x_train) == 8000 and len(mnist.x_test) == 2000


def test_bad_idx_files_are_refused(tmp_path):
    (tmp_path / "t10k-images-idx3-ubyte.gz").write_bytes(gzip.compress(b"not idx"))
    (tmp_path / "t10k-labels-idx1-ubyte").write_bytes(b"\x00\x00\x08\x01\x00\x00\x00\x05abc")
    with pytest.raises(LRCountError, match="not an IDX file"):
        data.mnist(tmp_path)
    with pytest.raises(LRCountError, match="header gives shape"):
        data.read_idx(tmp_path / "t10k-labels-idx1-ubyte")
    with pytest.raises(LRCountError, match="does not exist"):
        data.mnist(tmp_path / "missing")
    with pytest.raises(LRCountError, match="no MNIST IDX files"):
        data.mnist(tmp_path / ".." / tmp_path.name / ".." )
