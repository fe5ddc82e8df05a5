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


def unit_planes(pieces: LayerPieces, rows: np.ndarray | None = None) -> np.ndarray:
    """The layer's hyperplanes ``(G_i, gamma_i) / ||G_i||`` (last axis: normal, then offset),
    for one cell or a batch, of the neurons ``rows`` only if given (constant neurons keep
    their norm of 1)."""
    G, gamma, norms = (pieces.G, pieces.gamma, pieces.norms) if rows is None else \
        (pieces.G[rows], pieces.gamma[rows], pieces.norms[rows])
    return np.concatenate([G, gamma[..., None]], axis=-1) / norms[..., None]


def box_sides(planes: np.ndarray, mid: np.ndarray, half: np.ndarray, slack: float) -> tuple[np.ndarray, np.ndarray]:
    """For boxes ``mid +- half`` (k, or cells x k) and hyperplanes with unit normals
    (``planes``: width x (k + 1), or cells x width x (k + 1)): each plane's value at its box's
    centre, and whether the plane may cross the box grown by ``slack`` (where it may not, the
    value's sign is its side on the whole box)."""
    normals, offsets = planes[..., :-1], planes[..., -1]
    centre = np.matmul(normals, mid[..., None])[..., 0] + offsets
    spread = np.matmul(np.abs(normals), half[..., None])[..., 0]
    return centre, np.abs(centre) <= spread + slack
