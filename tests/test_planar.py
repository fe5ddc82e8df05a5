"""The ``planar`` engine's two ways of cutting polygons by a layer: all lines at once
(``arrange``, faces as distinct sign rows of their vertices) and neuron by neuron (``cut_by_line``,
for segments, cells too large for a batch, and drawing). They share the vertices' geometry but
not the bookkeeping, so they check each other pattern by pattern. Degenerate cells go to the
``split`` engine when counting."""

import numpy as np
import pytest
from conftest import trained_network

from lrcount import Box, ReLUNetwork, Subspace, count_regions
from lrcount.engines.planar import arrangement, search
from lrcount.tolerances import EPSILON


def patterns(net, domain) -> set[bytes]:
    result = count_regions(net, domain, engine="planar", return_regions=True)
    assert result.complete and len(result.patterns) == result.count
    return {np.packbits(p).tobytes() for p in result.patterns}


@pytest.mark.parametrize("case", ["random0", "random1", "deep", "trained", "pruned", "plane"])
def test_arrangement_and_neuron_by_neuron_find_the_same_patterns(case, monkeypatch):
    domain = Box(-1.5, 2.0)
    if case.startswith("random"):
        net = ReLUNetwork.random([2, 20, 14], seed=int(case[-1]))
    elif case == "deep":
        net = ReLUNetwork.random([2, 12, 12, 12, 12], seed=3)
    elif case == "trained":
        net = trained_network([2, 16, 16], seed=4)
    elif case == "pruned":
        net = trained_network([2, 16, 16], seed=5, density=0.3)
    else:
        net = ReLUNetwork.random([6, 16, 12], seed=6)
        domain = Subspace(np.random.default_rng(6).uniform(-1, 1, (3, 6)), Box(-1, 1))
    at_once = patterns(net, domain)
    monkeypatch.setattr(search, "BATCH_BITS", -1)  # every cell too large: neuron by neuron
    assert patterns(net, domain) == at_once
    assert len(at_once) > 20


def box_cell(lo=-1.0, hi=1.0):
    verts = np.array([[lo, lo], [hi, lo], [hi, hi], [lo, hi]])
    return verts, np.zeros(4, int)


def arrange(lines: np.ndarray):
    """``arrange`` on the square [-1, 1]^2 with lines ``a . x + c = 0`` (rows of (a, c))."""
    lines = np.asarray(lines, float)
    planes = (lines / np.linalg.norm(lines[:, :2], axis=1, keepdims=True))[None]
    verts, owner = box_cell()
    may_cross = np.ones((1, len(lines)), bool)
    return arrangement.arrange(verts, owner, 1, planes, may_cross, np.zeros((1, len(lines)), bool), EPSILON)


def cross(u, v):
    return u[:, 0] * v[:, 1] - u[:, 1] * v[:, 0]


def test_faces_tile_the_cell_in_counterclockwise_order():
    rng = np.random.default_rng(0)
    faces, degenerate = arrange(np.c_[rng.standard_normal((9, 2)), 0.5 * rng.standard_normal(9)])
    verts, owner, n, entry, on = faces.verts, faces.owner, faces.n, faces.entry, faces.on
    assert not degenerate.any() and (entry == 0).all()
    starts = np.searchsorted(owner, np.arange(n + 1))
    areas = []
    for face in range(n):
        p = verts[starts[face]:starts[face + 1]]
        q = np.roll(p, -1, axis=0)
        turn = cross(q - p, np.roll(q, -1, axis=0) - q)
        assert (turn > 0).all()  # convex, counterclockwise
        areas.append(cross(p, q).sum() / 2)
    assert np.isclose(sum(areas), 4.0)
    assert len({row.tobytes() for row in on}) == n  # one sign vector per face


def test_lines_through_one_point_are_left_to_the_neuron_by_neuron_split():
    angles = np.pi * np.arange(5) / 5
    normals = np.c_[np.cos(angles), np.sin(angles)]
    _, degenerate = arrange(np.c_[normals, -normals @ [0.2, 0.1]])
    assert degenerate.all()
    w = np.c_[np.cos(angles), np.sin(angles)]
    net = ReLUNetwork((w, np.ones((1, 5))), (np.zeros(5), np.zeros(1)))
    assert count_regions(net, Box(-1, 1), engine="planar").count == 10  # 2n sectors


def test_a_line_through_a_corner_is_degenerate_and_counted_right():
    _, degenerate = arrange([[1.0, 1.0, 0.0], [1.0, -1.0, 0.3]])  # the first passes through (1, -1)
    assert degenerate.all()
    net = ReLUNetwork((np.array([[1.0, 1.0], [1.0, -1.0]]), np.ones((1, 2))), (np.array([0.0, 0.3]), np.zeros(1)))
    assert count_regions(net, Box(-1, 1), engine="planar").count == 4


@pytest.mark.parametrize("group_scale", [1, 2 ** 40])
def test_vertices_are_ordered_by_angle_within_each_face(group_scale):
    """The one-key sort of a face's vertices agrees with a sort on (face, angle), also where
    the key's rounding swaps two vertices of a face (numbers of 2^40 faces leave pseudo-angles
    1e-4 apart unresolved), which the check must catch."""
    rng = np.random.default_rng(3)
    group = np.repeat(np.arange(40) * group_scale, 6)
    angle = rng.uniform(0, 2 * np.pi, len(group))
    radius = 10.0 ** rng.uniform(-6, 3, len(group))
    offset = np.c_[radius * np.cos(angle), radius * np.sin(angle)]
    order = arrangement._angular_order(group, offset)
    assert np.array_equal(order, np.lexsort((angle, group)))
