"""The bound of one given network on its domain (ranks, stable neurons, domain dimension)."""

from __future__ import annotations

import numpy as np

from ..errors import LRCountError
from .recursion import Layer, layered_bound


# -- one given network -----------------------------------------------------------------------------
def structural_rank(matrix: np.ndarray) -> int:
    """The size of a maximum matching in the bipartite graph of the non-zeros of ``matrix``
    (Hopcroft-Karp, networkx): an upper bound on the rank, equal to it for generic values."""
    import networkx as nx

    rows, cols = np.nonzero(matrix)
    graph = nx.Graph()
    left = [("r", i) for i in range(matrix.shape[0])]
    graph.add_nodes_from(left, bipartite=0)
    graph.add_nodes_from((("c", j) for j in range(matrix.shape[1])), bipartite=1)
    graph.add_edges_from(zip((("r", i) for i in rows), (("c", j) for j in cols)))
    return len(nx.bipartite.hopcroft_karp_matching(graph, top_nodes=left)) // 2


def network_bound(network, domain=None, *, rank: str = "numerical") -> int:
    """An upper bound on the regions of one given network, from its actual weights: the
    recursion of the module docstring with, per layer, the rank of W^l restricted to the
    neurons that can vary (``rank`` = ``"numerical"``, SVD, or ``"structural"``, matching),
    the input dimension replaced by the domain's dimension (a subspace through S + 1 points has
    dimension S), and, when a domain is given, neurons stable on it taken out of the splitting
    ones (they never cut; stably active ones still carry dimension; Serra & Ramalingam 2020).
    Neurons whose rows are zero (after dropping inputs that are constant) never cut nor carry
    dimension. The bound is at least the exact count of :func:`lrcount.count_regions` on the
    same domain.
    """
    from ..preact import UNSTABLE

    if rank not in ("numerical", "structural"):
        raise LRCountError(f"unknown rank {rank!r}; use numerical or structural")
    if domain is not None:
        from ..problem import CountingProblem

        problem = CountingProblem.build(network, domain, tighten=True)
        return layers_bound(problem.net, problem.bounds.states, rank=rank)
    return layers_bound(network, [np.full(n, UNSTABLE) for n in network.hidden_widths], rank=rank)


def layers_bound(net, states: list[np.ndarray], *, rank: str = "numerical") -> int:
    """The bound of :func:`network_bound` for ``net`` with the given neuron ``states`` per
    layer (ACTIVE / INACTIVE / UNSTABLE on the domain; a
    :class:`~lrcount.problem.CountingProblem`'s network and bounds give both)."""
    from ..preact import ACTIVE, INACTIVE, UNSTABLE

    rank_of = np.linalg.matrix_rank if rank == "numerical" else structural_rank
    live = np.ones(net.input_dim, bool)  # inputs of the current layer that vary
    layers = []
    for (w, _), state in zip(net.hidden_layers, states):
        w = w[:, live]
        varies = (state != INACTIVE) & np.any(w != 0, axis=1)
        splitting = int(np.sum(varies & (state == UNSTABLE)))
        active = int(np.sum(varies & (state == ACTIVE)))
        k = int(rank_of(w[varies])) if varies.any() and live.any() else 0
        layers.append(Layer(splitting, active, ((1, k),)))
        live = varies
    return layered_bound(net.input_dim, layers)
