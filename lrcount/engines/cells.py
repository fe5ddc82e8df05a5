"""Machinery the splitting engines share: ragged arrays of cells, a layer's hyperplanes with
unit normals, and the test that tells which hyperplanes may cross which cells' bounding boxes.

Every engine that splits cells (``planar``, ``vertex``, ``split``) asks, for each cell and each
neuron of the next layer, whether the neuron's hyperplane may cross the cell; those that cannot
take the sign they have at the cell's centre, with no LP. The question is answered here, once:
a hyperplane with unit normal ``a`` and offset ``c`` stays on one side of the box
``[lower, upper]`` when ``|a . mid + c| > |a| . half + slack`` (``mid`` and ``half``: the box's
centre and half-widths). Each caller states its ``slack`` and why.
"""

from __future__ import annotations

import numpy as np

from ..region import LayerPieces


def ragged_starts(owner: np.ndarray, n: int) -> np.ndarray:
    """Where each of the ``n`` groups of the sorted ``owner`` array starts, and its end
    (``n + 1`` entries; an empty group starts where the next one does)."""
    return np.searchsorted(owner, np.arange(n + 1))


def unit_planes(pieces: LayerPieces) -> np.ndarray:
    """The layer's hyperplanes ``(G_i, gamma_i) / ||G_i||`` (last axis: normal, then offset),
    for one cell or a batch (constant neurons keep their norm of 1)."""
    return np.concatenate([pieces.G, pieces.gamma[..., None]], axis=-1) / pieces.norms[..., None]


def box_sides(planes: np.ndarray, lower: np.ndarray, upper: np.ndarray, slack: float) -> tuple[np.ndarray, np.ndarray]:
    """For cells with bounding boxes ``[lower, upper]`` (cells x k) and hyperplanes with unit
    normals (``planes``: cells x width x (k + 1)): each plane's value at its cell's box centre,
    and whether the plane may cross the box grown by ``slack`` (where it may not, the value's
    sign is its side on the whole cell)."""
    normals, offsets = planes[..., :-1], planes[..., -1]
    centre = np.einsum("enk,ek->en", normals, (lower + upper) / 2) + offsets
    spread = np.einsum("enk,ek->en", np.abs(normals), (upper - lower) / 2)
    return centre, np.abs(centre) <= spread + slack
