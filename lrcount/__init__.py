"""lrcount: exact counts and analytical bounds of the linear regions of ReLU networks."""

from .count import CountResult, count_many, count_regions
from .domain import Box, Polytope, Subspace
from .errors import LRCountError
from .network import ReLUNetwork

__all__ = ["Box", "CountResult", "LRCountError", "Polytope", "ReLUNetwork", "Subspace", "count_many", "count_regions", "load"]
__version__ = "0.1.0"


def load(path) -> ReLUNetwork:
    """Load a network from an ``.npz``, ``.pt`` / ``.pth`` (state dict) or ``.onnx`` file."""
    from .io import load as _load

    return _load(path)
