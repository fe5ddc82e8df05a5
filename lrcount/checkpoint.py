"""Checkpoints of a count: the regions counted, the tasks still to run, and the problem.

A checkpoint is one JSON file, replaced atomically (:func:`lrcount.io.files.write_atomically`),
never a pickle; the pending tasks are :func:`~lrcount.engines.frontier.pack`ed arrays in
base64. Regions, when they are listed, go to a file beside it (``FILE.regions``) as
fixed-size records (packed pattern bits, then the interior point in chart coordinates as
float64), appended as tasks finish and flushed to disk before each checkpoint, which records
how many records it covers. A resumed count cuts that file back to them, so every region is
in it exactly once: those of the tasks finished after the checkpoint are found again.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field

import numpy as np

from .domain import Domain
from .engines.frontier import Prefix, from_text, pack, to_text
from .errors import LRCountError
from .io.files import check_output_file, write_atomically
from .network import ReLUNetwork

FORMAT = "lrcount-checkpoint/1"


def problem_identity(network: ReLUNetwork, domain: Domain, epsilon: float, engine: str) -> dict:
    """What a checkpoint must match to be resumed: digests of the network's weights and of
    the domain, epsilon and the engine."""
    weights = hashlib.sha256()
    for array in (*network.weights, *network.biases):
        array = np.ascontiguousarray(array, dtype=np.float64)
        weights.update(repr(array.shape).encode())
        weights.update(array.tobytes())
    domain_digest = hashlib.sha256(json.dumps(domain.to_dict(), sort_keys=True).encode()).hexdigest()
    return {"network": weights.hexdigest(), "domain": domain_digest, "epsilon": repr(float(epsilon)), "engine": engine}


@dataclass
class State:
    """A count's progress: regions counted, tasks pending (each a :func:`~lrcount.engines.frontier.pack`ed
    list of prefixes), and the
    number of region records in the regions file (None when regions are not listed)."""

    count: int = 0
    pending: list[dict[str, np.ndarray]] = field(default_factory=lambda: [pack([Prefix.root()])])
    seconds: float = 0.0
    tasks: int = 0
    reruns: int = 0
    records: int | None = None


class Checkpoint:
    """The checkpoint file of one count, for ``identity`` (:func:`problem_identity`)."""

    def __init__(self, path: str | os.PathLike, identity: dict, *, resume: bool, every: float = 60.0):
        if not (isinstance(every, (int, float)) and 0 < every < float("inf")):
            raise LRCountError(f"the checkpoint interval must be a positive number of seconds, got {every!r}")
        self.path = os.fspath(path)
        self.identity = identity
        self.resume = resume
        self.every = float(every)
        if resume and not os.path.isfile(self.path):
            raise LRCountError(f"no checkpoint at {self.path}; start the count with --checkpoint {self.path}")
        if not resume and os.path.lexists(self.path):
            raise LRCountError(f"{self.path} exists; pass --resume {self.path} to continue that count, or remove it")
        check_output_file(self.path, "checkpoint")
        self.regions_path = self.path + ".regions"

    def load(self) -> State:
        """The saved state (a fresh one when not resuming); a checkpoint of another problem is
        refused."""
        if not self.resume:
            return State()
        try:
            with open(self.path, encoding="utf-8") as file:
                data = json.load(file)
            if data.get("format") != FORMAT:
                raise ValueError
        except (OSError, ValueError, UnicodeDecodeError, AttributeError):
            raise LRCountError(f"{self.path} is not an lrcount checkpoint; give the file written by --checkpoint") from None
        for key, what in (("network", "network"), ("domain", "domain"), ("epsilon", "epsilon"), ("engine", "engine")):
            if data["problem"].get(key) != self.identity[key]:
                saved = data["problem"].get(key) if key in ("epsilon", "engine") else "another"
                raise LRCountError(f"{self.path} was made for {'a different' if saved == 'another' else saved!s} {what}"
                                   f"{'' if saved == 'another' else ' (this count: ' + self.identity[key] + ')'}; "
                                   "resume with the same network, domain, epsilon and engine, or start a new checkpoint")
        pending = [from_text(task) for task in data["pending"]]
        return State(int(data["count"]), pending, float(data["seconds"]), int(data["tasks"]), int(data["reruns"]),
                     data["records"])

    def save(self, state: State) -> None:
        """Replace the checkpoint by ``state``, atomically (the regions file first flushed)."""
        data = {"format": FORMAT, "problem": self.identity, "count": state.count, "seconds": state.seconds,
                "tasks": state.tasks, "reruns": state.reruns, "records": state.records,
                "pending": [to_text(task) for task in state.pending]}
        write_atomically(self.path, lambda file: file.write(json.dumps(data).encode()))


class RegionRecords:
    """The regions file beside a checkpoint: one record per region, appended."""

    def __init__(self, path: str, n_hidden: int, dim: int, records: int | None):
        self.path, self.n_hidden, self.dim = path, n_hidden, dim
        self.pattern_bytes = (n_hidden + 7) // 8
        self.size = self.pattern_bytes + 8 * dim
        mode = "r+b" if records is not None and os.path.exists(path) else "w+b"
        if records and mode == "w+b":
            raise LRCountError(f"{path}, the regions of the checkpoint, is missing; resume needs it, or start a new count")
        self.file = open(path, mode)
        self.file.truncate(self.size * (records or 0))
        self.file.seek(0, os.SEEK_END)
        self.records = records or 0

    def append(self, patterns, points) -> None:
        if len(patterns) == 0:
            return
        packed = np.packbits(np.asarray(patterns, dtype=bool).reshape(len(patterns), self.n_hidden), axis=1)
        coords = np.asarray(points, dtype="<f8").reshape(len(patterns), self.dim)
        self.file.write(np.concatenate([packed, coords.view(np.uint8)], axis=1).tobytes())
        self.records += len(patterns)

    def sync(self) -> None:
        self.file.flush()
        os.fsync(self.file.fileno())

    def read(self) -> tuple[np.ndarray, np.ndarray]:
        """All records: patterns (bool) and points (chart coordinates)."""
        self.sync()
        raw = np.fromfile(self.path, dtype=np.uint8, count=self.records * self.size).reshape(self.records, self.size)
        patterns = np.unpackbits(raw[:, : self.pattern_bytes], axis=1, count=self.n_hidden).astype(bool)
        points = raw[:, self.pattern_bytes:].copy().view("<f8").reshape(self.records, self.dim)
        return patterns, points

    def close(self) -> None:
        self.file.close()
