"""lrcount: exact counts and analytical bounds of the linear regions of ReLU networks."""

from .count import CountResult, count_many, count_regions
from .domain import Box, Polytope, Subspace
from .errors import LRCountError
from .io import load
from .io import save_npz as save
from .io.torch import network_from_module as from_torch
from .network import ReLUNetwork

__all__ = ["Box", "CountResult", "LRCountError", "Polytope", "ReLUNetwork", "Subspace", "count_many", "count_regions",
           "from_torch", "load", "save"]
__version__ = "0.1.0"
