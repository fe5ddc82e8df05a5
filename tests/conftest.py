"""Shared helpers: seeded random networks and the shared data folder."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from lrcount import Box, ReLUNetwork, from_torch

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
ACAS_ONNX = DATA / "acasxu" / "ACASXU_run2a_1_1_batch_2000.onnx"


def random_case(seed: int, max_regions_hint: int = 4000) -> tuple[ReLUNetwork, Box]:
    """A seeded random network (inputs 1-5, 1-3 hidden layers, widths up to 16, dense or 50%
    pruned) and a box that is not centred at 0. Wider layers go with fewer inputs so that the
    exact counts stay small enough for a fast suite."""
    rng = np.random.default_rng(seed)
    n0 = int(rng.integers(1, 6))
    depth = int(rng.integers(1, 4))
    max_width = {1: 16, 2: 16, 3: 10, 4: 8, 5: 7}[n0]
    if depth == 3 and n0 >= 3:
        max_width = max(3, max_width - 2)
    widths = [n0] + [int(rng.integers(3, max_width + 1)) for _ in range(depth)]
    density = 0.5 if seed % 2 else 1.0
    net = ReLUNetwork.random(widths, n_outputs=2, density=density, seed=seed)
    lower = rng.uniform(-4.0, 0.0, n0)
    upper = lower + rng.uniform(4.0, 10.0, n0)
    return net, Box(lower, upper)


def require(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"shared data not found at {path} (CI has ../shared/data beside the checkout)")
    return path


def trained_network(widths: list[int], seed: int, density: float = 1.0, steps: int = 300) -> ReLUNetwork:
    """A small MLP trained with fixed seeds on a synthetic task (points labelled by the sign
    of a random smooth function), magnitude-pruned to ``density`` per hidden layer and
    fine-tuned with the masks held. Real trained weights have scales, clusters and near-ties
    that random Gaussian weights do not."""
    import torch

    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    n0 = widths[0]
    x = rng.uniform(-1, 1, (1024, n0))
    freq = rng.normal(size=(n0, 3)) * 2
    y = (np.sin(x @ freq).sum(axis=1) > 0).astype(np.int64)
    dims = [*widths, 2]
    layers = []
    for a, b in zip(dims[:-1], dims[1:]):
        layers += [torch.nn.Linear(a, b), torch.nn.ReLU()]
    model = torch.nn.Sequential(*layers[:-1]).double()
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    optimiser = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    linears = [m for m in model if isinstance(m, torch.nn.Linear)]
    masks = [torch.ones_like(m.weight) for m in linears]

    def fit(n_steps):
        for _ in range(n_steps):
            optimiser.zero_grad()
            torch.nn.functional.cross_entropy(model(xt), yt).backward()
            optimiser.step()
            with torch.no_grad():
                for m, mask in zip(linears, masks):
                    m.weight.mul_(mask)

    fit(steps)
    if density < 1.0:
        for m, mask in zip(linears[:-1], masks):
            keep = max(1, int(round(density * m.weight.numel())))
            threshold = m.weight.abs().flatten().kthvalue(m.weight.numel() - keep + 1).values
            mask.copy_((m.weight.abs() >= threshold).double())
        fit(steps // 2)
    return from_torch(model)
