"""Shared helpers: seeded random networks and the shared data folder."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from lrcount import Box, ReLUNetwork

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
