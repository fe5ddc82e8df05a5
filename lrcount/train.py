"""Training small ReLU MLPs in PyTorch on the CPU, pruning them once and fine-tuning with the
masks held (the setup of Cai et al. 2023: SGD, batch 128, learning rate 0.01, 15 epochs, one-shot
pruning, 15 more epochs). Seeds are fixed; results are :class:`~lrcount.ReLUNetwork` objects."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .data import Dataset
from .errors import LRCountError
from .io.torch import network_from_module
from .network import ReLUNetwork
from .prune import Masks


@dataclass(frozen=True)
class TrainingSetup:
    """The optimiser settings (defaults: Cai et al. 2023)."""

    epochs: int = 15
    finetune_epochs: int = 15
    batch_size: int = 128
    learning_rate: float = 0.01
    momentum: float = 0.0
    threads: int = 1  # torch's threads: wide layers train faster on more (docs/benchmarks.md), small ones do not

    def __post_init__(self) -> None:
        """Refuse settings that would train nothing or diverge, before any training."""
        checks = [
            (self.epochs >= 1, f"training needs at least 1 epoch, got {self.epochs}"),
            (self.finetune_epochs >= 0, f"fine-tuning epochs must be 0 or more, got {self.finetune_epochs}"),
            (self.batch_size >= 1, f"the batch size must be at least 1, got {self.batch_size}"),
            (math.isfinite(self.learning_rate) and self.learning_rate > 0,
             f"the learning rate must be a positive number, got {self.learning_rate}"),
            (math.isfinite(self.momentum) and 0 <= self.momentum < 1, f"the momentum must lie in [0, 1), got {self.momentum}"),
            (self.threads >= 1, f"training needs at least 1 thread, got {self.threads}"),
        ]
        for ok, message in checks:
            if not ok:
                raise LRCountError(message)


def _torch():
    try:
        import torch
    except ImportError:
        raise LRCountError("training needs PyTorch: pip install torch (CPU build: pip install torch==2.13.0)") from None
    return torch


def mlp(widths: list[int], n_outputs: int, *, seed: int = 0):
    """``nn.Sequential`` of Linear and ReLU layers: ``widths = [n_0, n_1, ..., n_L]`` then an
    affine output layer of ``n_outputs``, in float64, initialised with a fixed seed."""
    torch = _torch()
    torch.manual_seed(seed)
    dims = [*widths, n_outputs]
    layers = []
    for n_in, n_out in zip(dims[:-1], dims[1:]):
        layers += [torch.nn.Linear(n_in, n_out), torch.nn.ReLU()]
    return torch.nn.Sequential(*layers[:-1]).double()


def fit(model, data: Dataset, epochs: int, setup: TrainingSetup | None = None, *, seed: int = 0):
    """Train ``model`` on ``data.x_train`` with cross-entropy and SGD (in place), on
    ``setup.threads`` threads; torch's process-wide thread count is restored afterwards."""
    torch = _torch()
    setup = setup or TrainingSetup()
    previous = torch.get_num_threads()
    torch.set_num_threads(setup.threads)
    try:
        return _sgd(torch, model, data, epochs, setup, seed)
    finally:
        torch.set_num_threads(previous)


def _sgd(torch, model, data: Dataset, epochs: int, setup: TrainingSetup, seed: int):
    generator = torch.Generator().manual_seed(seed)
    x, y = torch.from_numpy(np.ascontiguousarray(data.x_train, dtype=np.float64)), torch.from_numpy(data.y_train)
    optimiser = torch.optim.SGD(model.parameters(), lr=setup.learning_rate, momentum=setup.momentum)
    for _ in range(epochs):
        for batch in torch.randperm(len(x), generator=generator).split(setup.batch_size):
            optimiser.zero_grad()
            torch.nn.functional.cross_entropy(model(x[batch]), y[batch]).backward()
            optimiser.step()
    return model


def hold_masks(model, masks: Masks) -> None:
    """Register ``masks`` on the Linear layers with ``torch.nn.utils.prune``: pruned weights stay
    zero through fine-tuning, and the state dict (``weight_orig``, ``weight_mask``) loads back."""
    torch = _torch()
    from torch.nn.utils import prune

    linears = [m for m in model if isinstance(m, torch.nn.Linear)]
    if len(linears) != len(masks):
        raise LRCountError(f"{len(masks)} masks for {len(linears)} Linear layers")
    for layer, mask in zip(linears, masks):
        if not mask.all():
            prune.custom_from_mask(layer, "weight", torch.from_numpy(mask.astype(np.float64)))


def accuracy(net: ReLUNetwork, x: np.ndarray, y: np.ndarray) -> float:
    """The fraction of samples whose largest output is their label."""
    return float(np.mean(np.argmax(net(x), axis=1) == y))


def train(widths: list[int], data: Dataset, setup: TrainingSetup = TrainingSetup(), *, seed: int = 0):
    """A dense network trained on ``data``: (the torch model, its ReLUNetwork)."""
    model = fit(mlp(widths, data.n_classes, seed=seed), data, setup.epochs, setup, seed=seed)
    return model, network_from_module(model)


def module_from_network(net: ReLUNetwork):
    """The torch model (as :func:`mlp` builds it) with the weights of ``net``: a trained network
    read back from its file, ready to be pruned and fine-tuned as if it had just been trained."""
    torch = _torch()
    model = mlp(net.widths, net.weights[-1].shape[0])
    linears = [m for m in model if isinstance(m, torch.nn.Linear)]
    with torch.no_grad():
        for layer, w, b in zip(linears, net.weights, net.biases):
            layer.weight.copy_(torch.tensor(w, dtype=torch.float64))
            layer.bias.copy_(torch.tensor(b, dtype=torch.float64))
    return model


def prune_and_finetune(model, masks: Masks, data: Dataset, setup: TrainingSetup = TrainingSetup(), *, seed: int = 0):
    """Prune a trained model once with ``masks`` and fine-tune it with the masks held: (a copy
    of the model, its ReLUNetwork)."""
    import copy

    model = copy.deepcopy(model)
    hold_masks(model, masks)
    fit(model, data, setup.finetune_epochs, setup, seed=seed + 1)
    return model, network_from_module(model)
