"""Parallel, distributed and resumed counts equal serial ones, pattern for pattern.

The slices are shortened (``FIRST_SLICE``, ``SLICE``) so that even the small networks of the
engine-agreement suite are cut into many tasks, handed back and sent to other processes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import warnings

import numpy as np
import pytest
from conftest import random_case, trained_network

import lrcount
from lrcount import Box, ReLUNetwork, count_regions
from lrcount import parallel as parallel_module
from lrcount.checkpoint import problem_identity
from lrcount.engines import engines_for, get_explorer
from lrcount.engines.frontier import Prefix, divide, from_text, pack, to_text, unpack
from lrcount.errors import LRCountError
from lrcount.parallel import DASK_WORKER_ENV, simulated_speedup, slow_allocator
from lrcount.problem import CountingProblem
from lrcount.runtime import Deadline


@pytest.fixture
def short_slices(monkeypatch):
    """Tasks of a few milliseconds: every count is cut into many tasks."""
    monkeypatch.setattr(parallel_module, "FIRST_SLICE", 0.0)
    monkeypatch.setattr(parallel_module, "SLICE", 0.003)


def pattern_set(result) -> set[bytes]:
    patterns = np.asarray(result.patterns, dtype=bool)
    keys = {np.packbits(p).tobytes() for p in patterns}
    assert len(keys) == len(patterns), "a region was listed twice"
    return keys


def assert_same(serial, other) -> None:
    assert other.complete and serial.complete
    assert other.count == serial.count
    assert pattern_set(other) == pattern_set(serial)


#: The engine-agreement networks with the most regions in each input dimension (1-5).
CASES = [98, 198, 4, 96, 42, 141, 64, 138, 143, 118]


@pytest.mark.parametrize("seed", CASES)
def test_two_processes_equal_serial_on_every_engine(seed, short_slices):
    net, box = random_case(seed)
    for engine in engines_for(net.input_dim):
        if get_explorer(engine) is None:
            continue
        serial = count_regions(net, box, engine=engine, jobs=1, return_regions=True)
        parallel = count_regions(net, box, engine=engine, jobs=2, return_regions=True)
        assert_same(serial, parallel)
        assert parallel.stats["jobs"] == 2


def test_the_tasks_really_travel(short_slices):
    """With short slices a count is many tasks, and their points are the regions' points."""
    net = trained_network([3, 10, 10, 10, 1], seed=5)
    box = Box(-1, 1)
    for engine in ("vertex", "split"):
        serial = count_regions(net, box, engine=engine, jobs=1, return_regions=True)
        parallel = count_regions(net, box, engine=engine, jobs=2, return_regions=True)
        assert_same(serial, parallel)
        assert parallel.stats["tasks"] > 3
        assert np.array_equal(net.activation_patterns(parallel.points), parallel.patterns)


def test_planar_tasks_on_a_trained_network(short_slices):
    net = trained_network([2, 40, 40, 40, 1], seed=3)
    serial = count_regions(net, Box(-1, 1), engine="planar", jobs=1, return_regions=True)
    parallel = count_regions(net, Box(-1, 1), engine="planar", jobs=2, return_regions=True)
    assert_same(serial, parallel)
    assert parallel.stats["tasks"] > 3


def run_as_tasks(problem, engine: str, slice_seconds: float) -> tuple[int, set[bytes], list[Prefix]]:
    """Every task of a count run here, one after the other, with ``slice_seconds`` each: the
    count, the pattern set and every node that was handed back."""
    explore = get_explorer(engine)
    pending, handed_back, count, patterns = [[Prefix.root()]], [], 0, []
    while pending:
        run, frontier = explore(problem, pending.pop(), slice_end=Deadline.after(slice_seconds), collect=True)
        count += run.count
        patterns += run.patterns
        handed_back += frontier
        pending += [frontier[i:i + 16] for i in range(0, len(frontier), 16)]
    return count, {np.packbits(p).tobytes() for p in np.asarray(patterns, bool)}, handed_back


@pytest.mark.parametrize("engine, widths, trained", [
    ("planar", [2, 180, 6, 1], False),  # a first layer too large to arrange at once: split neuron by neuron
    ("planar", [1, 30, 30, 1], False), ("vertex", [3, 10, 10, 10, 1], True), ("vertex", [4, 10, 10, 1], False)])
def test_cells_go_back_inside_a_layer(engine, widths, trained):
    """A slice can end between two neurons of a layer, the first layer's above all, and the
    cells handed back there (with the signs decided so far) give the serial regions."""
    net = trained_network(widths, seed=5) if trained else ReLUNetwork.random(widths[:-1], seed=4)
    box = Box(-1, 1)
    serial = count_regions(net, box, engine=engine, jobs=1, return_regions=True)
    problem = CountingProblem.build(net, box)
    count, patterns, handed_back = run_as_tasks(problem, engine, 0.002)
    inside = [node for node in handed_back if node.todo is not None]
    assert any(node.layer == 0 for node in inside)
    assert all(np.array_equal(node.todo, np.arange(node.todo[0], widths[node.layer + 1])) for node in inside)
    assert count == serial.count == len(patterns)
    assert patterns == pattern_set(serial)


def _degenerate_3d() -> ReLUNetwork:
    """Hyperplanes through the origin, repeated and opposite: cells that are not simple."""
    rng = np.random.default_rng(3)
    w1 = np.vstack([np.eye(3), -np.eye(3)[:2], rng.normal(size=(4, 3))])
    b1 = np.r_[np.zeros(5), 0.3 * rng.normal(size=4)]
    w2 = rng.normal(size=(6, 9))
    return ReLUNetwork((w1, w2, rng.normal(size=(1, 6))), (b1, 0.5 * rng.normal(size=6), np.zeros(1)))


@pytest.mark.parametrize("engine", ["planar", "vertex"])
def test_cells_handed_to_split_are_shared_out_too(engine):
    """The cells a layer-by-layer engine hands to split (a trained network's whole domain, at
    times) go back as split nodes when the slice ends, and the count stays the serial one."""
    net = trained_network([2, 130, 8, 1], seed=4) if engine == "planar" else _degenerate_3d()
    box = Box(-1, 1)
    serial = count_regions(net, box, engine=engine, jobs=1, return_regions=True)
    assert serial.stats["degenerate"]
    count, patterns, handed_back = run_as_tasks(CountingProblem.build(net, box), engine, 0.0)
    assert any(node.is_split_node for node in handed_back)
    assert count == serial.count == len(patterns)
    assert patterns == pattern_set(serial)


def test_tasks_in_this_process_equal_serial(short_slices, tmp_path):
    """jobs=1 with a checkpoint runs the same tasks here, one after the other."""
    for seed in CASES[:4]:
        net, box = random_case(seed)
        serial = count_regions(net, box, engine="split", jobs=1, return_regions=True)
        sliced = count_regions(net, box, engine="split", jobs=1, return_regions=True,
                               checkpoint=tmp_path / f"{seed}.json", checkpoint_every=0.001)
        assert_same(serial, sliced)


def test_prefixes_travel_as_a_few_arrays_and_as_json():
    rows = np.arange(24.0).reshape(8, 3)
    cell = {"V": np.random.default_rng(0).normal(size=(4, 3)), "T": np.array([[0, 5], [5, 7], [0, 7], [5, 7]]), "R": rows}
    other = {"V": np.ones((3, 3)), "T": np.array([[1, 2], [2, 3], [1, 3]]), "R": rows}
    nodes = [Prefix.root(), Prefix(1, np.array([1, 0, 1, 1, 0], bool), np.array([1, 0, 0], bool), np.array([2, 0])),
             Prefix(2, np.ones(9, bool), cell=cell), Prefix(2, np.zeros(9, bool), cell=other)]
    packed = pack(nodes)
    assert len(packed["cell.R"]) == len(rows)  # shared rows travel once
    for arrays in (packed, from_text(json.loads(json.dumps(to_text(packed))))):
        back = unpack(arrays)
        assert [b.layer for b in back] == [n.layer for n in nodes]
        for node, b in zip(nodes, back):
            assert np.array_equal(b.bits, node.bits) and b.bits.dtype == bool
            assert (b.todo is None) == (node.todo is None) and (b.cell is None) == (node.cell is None)
            if node.todo is not None:
                assert np.array_equal(b.on, node.on) and np.array_equal(b.todo, node.todo)
            if node.cell is not None:
                assert all(np.array_equal(b.cell[key], node.cell[key]) for key in node.cell)  # bit for bit
        assert back[2].cell["R"] is back[3].cell["R"]
    assert unpack(pack([])) == []


def test_packed_prefixes_are_divided_without_unpacking():
    """Runs of a packed list, cut as packed arrays, unpack to the same prefixes in order."""
    rng = np.random.default_rng(1)
    shared = rng.normal(size=(6, 4))
    nodes = [Prefix.root()]
    for i in range(11):
        if i % 3 == 0:
            nodes.append(Prefix(1, rng.random(5) > 0.5, rng.random(4) > 0.5, np.arange(i % 4, 4)))
        else:
            n = 3 + i % 4
            nodes.append(Prefix(2, rng.random(9) > 0.5, rng.random(7) > 0.5 if i % 2 else None,
                                np.arange(2, 7) if i % 2 else None,
                                {"V": rng.normal(size=(n, 4)), "T": rng.integers(0, 6, size=(n, 3)), "R": shared}))
    for parts in (1, 2, 3, 5, 12, 40):
        runs = divide(pack(nodes), parts)
        assert 1 <= len(runs) <= parts
        back = [prefix for run in runs for prefix in unpack(run)]
        assert len(back) == len(nodes)
        for node, b in zip(nodes, back):
            assert b.layer == node.layer and np.array_equal(b.bits, node.bits)
            assert (b.todo is None) == (node.todo is None) and (b.cell is None) == (node.cell is None)
            if node.todo is not None:
                assert np.array_equal(b.on, node.on) and np.array_equal(b.todo, node.todo)
            if node.cell is not None:
                assert all(np.array_equal(b.cell[key], node.cell[key]) for key in node.cell)
    assert divide(pack([]), 4) == []


def test_simulated_speedup_on_known_task_trees():
    assert simulated_speedup([-1, 0, 1, 2], [1.0, 1.0, 1.0, 1.0], 8) == pytest.approx(1.0)  # a chain
    assert simulated_speedup([-1] + [0] * 64, [0.0] + [1.0] * 64, 64) == pytest.approx(64.0)
    assert simulated_speedup([-1] + [0] * 64, [0.0] + [1.0] * 64, 8) == pytest.approx(8.0)
    # Brent: W / max(W / P, critical path) >= speed-up >= W / (W / P + critical path)
    rng = np.random.default_rng(0)
    parents = [-1] + [int(rng.integers(0, i)) for i in range(1, 300)]
    seconds = list(rng.uniform(0.1, 1.0, 300))
    depth = np.zeros(300)
    for task, parent in enumerate(parents):
        depth[task] = seconds[task] + (depth[parent] if parent >= 0 else 0.0)
    work, path = sum(seconds), depth.max()
    for workers in (2, 8, 64):
        speedup = simulated_speedup(parents, seconds, workers)
        assert work / (work / workers + path) - 1e-9 <= speedup <= min(workers, work / path) + 1e-9


def test_bad_parallel_options(tmp_path):
    net, box = random_case(3)
    for jobs in (0, -1, 1.5, True):
        with pytest.raises(LRCountError, match="jobs"):
            count_regions(net, box, jobs=jobs)
    with pytest.raises(LRCountError, match="one search"):
        count_regions(net, box, engine="milp", jobs=2)
    with pytest.raises(LRCountError, match="resume"):
        count_regions(net, box, resume=True)
    with pytest.raises(LRCountError, match="no checkpoint"):
        count_regions(net, box, checkpoint=tmp_path / "missing.json", resume=True)
    existing = tmp_path / "there.json"
    existing.write_text("{}")
    with pytest.raises(LRCountError, match="exists"):
        count_regions(net, box, checkpoint=existing)
    assert existing.read_text() == "{}"
    with pytest.raises(LRCountError, match="not an lrcount checkpoint"):
        count_regions(net, box, checkpoint=existing, resume=True)
    with pytest.raises(LRCountError, match="checkpoint interval"):
        count_regions(net, box, checkpoint=tmp_path / "new.json", checkpoint_every=0)


def test_a_checkpoint_of_another_problem_is_refused(tmp_path):
    net, box = random_case(42)
    path = tmp_path / "count.json"
    done = count_regions(net, box, engine="split", jobs=1, checkpoint=path)
    assert done.complete
    again = count_regions(net, box, engine="split", jobs=1, checkpoint=path, resume=True)
    assert again.count == done.count and again.complete
    other_net = ReLUNetwork(net.weights, (net.biases[0] + 1e-9, *net.biases[1:]))
    for kwargs, what in ((dict(network=other_net), "network"), (dict(domain=Box(box.lower, box.upper + 1)), "domain"),
                         (dict(epsilon=1e-6), "epsilon"), (dict(engine="vertex"), "engine")):
        args = {"network": net, "domain": box, "engine": "split", **kwargs}
        with pytest.raises(LRCountError, match=what):
            count_regions(args.pop("network"), args.pop("domain"), jobs=1, checkpoint=path, resume=True, **args)
    identity = problem_identity(net, box, 1e-8, "split")
    assert identity == problem_identity(ReLUNetwork(net.weights, net.biases), Box(box.lower, box.upper), 1e-8, "split")


def test_a_time_limit_on_a_parallel_count_returns_a_lower_bound(tmp_path):
    net = ReLUNetwork.random([4, 16, 16, 16, 1], seed=7)
    full = count_regions(net, Box(-1, 1), engine="vertex", jobs=1)
    stopped = count_regions(net, Box(-1, 1), engine="vertex", jobs=2, time_limit=0.5, checkpoint=tmp_path / "c.json")
    assert not stopped.complete and stopped.status == "timelimit"
    assert 0 < stopped.count < full.count
    resumed = count_regions(net, Box(-1, 1), engine="vertex", jobs=2, checkpoint=tmp_path / "c.json", resume=True)
    assert resumed.complete and resumed.count == full.count


def test_a_killed_worker_has_its_task_run_again(slow_model):
    import psutil

    model, serial = slow_model
    net = lrcount.load(model)
    killed = []

    def kill_a_worker():
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not killed:
            children = [child for child in psutil.Process().children()
                        if "resource_tracker" not in " ".join(child.cmdline())]  # the pool's workers
            if len(children) >= 2:
                time.sleep(0.3)
                children[0].kill()
                killed.append(children[0].pid)
            time.sleep(0.02)

    killer = threading.Thread(target=kill_a_worker)
    killer.start()
    parallel = count_regions(net, Box(-1, 1), engine="vertex", jobs=2, return_regions=True)
    killer.join()
    assert killed, "no worker was started"
    assert_same(serial, parallel)
    assert parallel.stats["reruns"] >= 1


def run_cli(*args, timeout=300):
    return subprocess.run([sys.executable, "-m", "lrcount", *args], capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def slow_model(tmp_path_factory):
    """A network whose vertex count takes a few seconds, saved with its box, and its serial
    regions."""
    folder = tmp_path_factory.mktemp("model")
    net = ReLUNetwork.random([5, 12, 12, 12, 1], seed=7)
    path = folder / "net.npz"
    lrcount.save(net, path, box=np.array([[-1.0, 1.0]] * 5))
    serial = count_regions(net, Box(-1, 1), engine="vertex", jobs=1, return_regions=True)
    return path, serial


def regions_file_set(path) -> set[bytes]:
    with np.load(path, allow_pickle=False) as data:
        patterns = data["patterns"].astype(bool)
        assert bool(data["complete"])
        assert int(data["count"]) == len(patterns)
    keys = {np.packbits(p).tobytes() for p in patterns}
    assert len(keys) == len(patterns), "a region is in the regions file twice"
    return keys


def test_a_count_killed_again_and_again_resumes_to_the_serial_regions(slow_model, tmp_path):
    model, serial = slow_model
    checkpoint, regions = tmp_path / "count.json", tmp_path / "regions.npz"
    common = ["--engine", "vertex", "--regions", str(regions), "--checkpoint-every", "0.2", "--quiet", "--jobs", "2"]
    first = ["--checkpoint", str(checkpoint)]
    for wait in (1.0, 1.5, 0.7, 2.0):
        process = subprocess.Popen([sys.executable, "-m", "lrcount", "count", str(model), *common,
                                    *(first if not checkpoint.exists() else ["--resume", str(checkpoint)])],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        time.sleep(wait)
        os.killpg(process.pid, signal.SIGKILL)  # the coordinator and its workers, without warning
        process.wait()
    assert checkpoint.exists()
    saved = json.loads(checkpoint.read_text())
    assert 0 < saved["count"] <= serial.count
    done = run_cli("count", str(model), *common, "--resume", str(checkpoint), "--json")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["complete"] and result["count"] == serial.count
    assert regions_file_set(regions) == pattern_set(serial)


def test_ctrl_c_on_a_parallel_count_leaves_a_usable_checkpoint(slow_model, tmp_path):
    model, serial = slow_model
    checkpoint = tmp_path / "count.json"
    process = subprocess.Popen([sys.executable, "-m", "lrcount", "count", str(model), "--engine", "vertex", "--jobs", "2",
                                "--checkpoint", str(checkpoint), "--json", "--quiet"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(2.0)
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 0, err
    stopped = json.loads(out)
    assert not stopped["complete"] and stopped["status"] == "userinterrupt"
    assert "Traceback" not in err
    saved = json.loads(checkpoint.read_text())
    assert saved["count"] == stopped["count"] and saved["pending"]
    done = run_cli("count", str(model), "--engine", "vertex", "--resume", str(checkpoint), "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["count"] == serial.count


def test_cli_refuses_a_mismatched_checkpoint_in_one_line(slow_model, tmp_path):
    model, _ = slow_model
    checkpoint = tmp_path / "count.json"
    assert run_cli("count", str(model), "--engine", "split", "--checkpoint", str(checkpoint), "--time-limit", "0.5",
                   "--quiet").returncode == 0
    refused = run_cli("count", str(model), "--engine", "vertex", "--resume", str(checkpoint))
    assert refused.returncode == 2
    assert len(refused.stderr.strip().splitlines()) == 1 and "engine" in refused.stderr
    exists = run_cli("count", str(model), "--checkpoint", str(checkpoint))
    assert exists.returncode == 2 and "--resume" in exists.stderr


def test_cli_says_when_no_scheduler_answers(tmp_path):
    model = tmp_path / "small.npz"
    lrcount.save(ReLUNetwork.random([2, 4, 1], seed=0), model)
    done = run_cli("count", str(model), "--box", "-1", "1", "--scheduler", "tcp://127.0.0.1:9")
    assert done.returncode == 2
    assert len(done.stderr.strip().splitlines()) == 1 and "dask scheduler" in done.stderr


@pytest.fixture(scope="module")
def dask_client():
    distributed = pytest.importorskip("distributed", reason="the dask extra is not installed")
    import dask

    environ = {f"distributed.nanny.pre-spawn-environ.{name}": value for name, value in DASK_WORKER_ENV.items()}
    with dask.config.set(environ):
        cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None)
    client = distributed.Client(cluster)
    yield client
    client.close()
    cluster.close()


@pytest.mark.parametrize("seed", CASES[:5])
def test_a_dask_cluster_counts_what_the_serial_search_counts(seed, dask_client, short_slices):
    net, box = random_case(seed)
    for engine in engines_for(net.input_dim):
        if get_explorer(engine) is None:
            continue
        serial = count_regions(net, box, engine=engine, jobs=1, return_regions=True)
        on_dask = count_regions(net, box, engine=engine, client=dask_client, return_regions=True)
        assert_same(serial, on_dask)
        assert on_dask.stats["jobs"] == 2


def test_workers_with_the_slow_allocator_are_named():
    fast = {"MALLOC_TRIM_THRESHOLD_": "65536", **DASK_WORKER_ENV}
    slow = {"MALLOC_TRIM_THRESHOLD_": "65536", "MALLOC_MMAP_THRESHOLD_": None}
    plain = {"MALLOC_TRIM_THRESHOLD_": None, "MALLOC_MMAP_THRESHOLD_": None}
    assert slow_allocator({"tcp://b:1": slow, "tcp://a:1": fast, "tcp://c:1": plain, "tcp://d:1": slow}) == \
        ["tcp://b:1", "tcp://d:1"]


def test_the_test_cluster_runs_with_the_fast_allocator(dask_client):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the count would warn about workers that run slowly
        net, box = random_case(CASES[0])
        assert count_regions(net, box, engine="vertex", client=dask_client).complete


def test_count_many_on_dask(dask_client):
    pairs = [random_case(seed) for seed in CASES[:4]]
    here = lrcount.count_many(pairs, jobs=1)
    there = lrcount.count_many(pairs, client=dask_client)
    assert [r.count for r in there] == [r.count for r in here]
