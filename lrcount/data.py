"""Data sets that need no download: synthetic 2-D sets generated in code, and MNIST read from
IDX files at a path the user gives (LeCun et al.), normalised as Cai et al. 2023 do."""

from __future__ import annotations

import gzip
import hashlib
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from .errors import LRCountError

#: Mean and standard deviation of MNIST pixels in [0, 1] (the usual torchvision normalisation,
#: used by Cai et al. 2023; their input box [-0.5, 2.9] is in these units).
MNIST_MEAN, MNIST_STD = 0.1307, 0.3081


@dataclass(frozen=True)
class Dataset:
    """Inputs (float64, one row per sample) and integer labels, split into train and test;
    ``split`` says how: ``"standard"`` (the data set's own training and test parts) or
    ``"random"`` (a seeded random split of what was there)."""

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    split: str = "random"

    @property
    def n_classes(self) -> int:
        return int(max(self.y_train.max(), self.y_test.max())) + 1

    @property
    def input_dim(self) -> int:
        return self.x_train.shape[1]

    def input_box(self) -> tuple[np.ndarray, np.ndarray]:
        """The smallest box holding every sample: the default counting domain."""
        x = np.vstack([self.x_train, self.x_test])
        return x.min(axis=0), x.max(axis=0)

    def with_training_subset(self, size: int, *, seed: int = 0) -> Dataset:
        """The same data with ``size`` training samples drawn at random (seeded) from the
        training part; the test part is kept whole."""
        if not 1 <= size <= len(self.x_train):
            raise LRCountError(f"the training part holds {len(self.x_train)} samples; ask for 1 to {len(self.x_train)}, "
                               f"not {size}")
        keep = np.sort(np.random.default_rng(seed).choice(len(self.x_train), size, replace=False))
        return replace(self, x_train=self.x_train[keep], y_train=self.y_train[keep])

    def training_fingerprint(self) -> str:
        """SHA-256 of the training part (inputs and labels, with their shapes): networks
        trained on equal fingerprints saw the same data."""
        digest = hashlib.sha256()
        for array in (self.x_train, self.y_train):
            digest.update(str((array.dtype.str, array.shape)).encode())
            digest.update(np.ascontiguousarray(array).data)
        return digest.hexdigest()


def _split(name: str, x: np.ndarray, y: np.ndarray, test_fraction: float, seed: int) -> Dataset:
    if not 0.0 < test_fraction < 1.0:
        raise LRCountError(f"the test fraction must lie in (0, 1), got {test_fraction}")
    order = np.random.default_rng(seed).permutation(len(x))
    n_test = max(1, int(round(test_fraction * len(x))))
    test, train = order[:n_test], order[n_test:]
    return Dataset(name, x[train], y[train], x[test], y[test])


def moons(n: int = 2000, noise: float = 0.1, *, seed: int = 0, test_fraction: float = 0.25) -> Dataset:
    """Two interleaving half circles in [-1, 2] x [-0.5, 1] with Gaussian noise."""
    rng = np.random.default_rng(seed)
    t = rng.uniform(0, np.pi, n)
    y = rng.integers(0, 2, n)
    x = np.where(y[:, None] == 0, np.c_[np.cos(t), np.sin(t)], np.c_[1 - np.cos(t), 0.5 - np.sin(t)])
    return _split("moons", x + noise * rng.standard_normal((n, 2)), y, test_fraction, seed)


def circles(n: int = 2000, noise: float = 0.05, factor: float = 0.5, *, seed: int = 0, test_fraction: float = 0.25) -> Dataset:
    """Two concentric circles of radii 1 and ``factor`` with Gaussian noise."""
    rng = np.random.default_rng(seed)
    t = rng.uniform(0, 2 * np.pi, n)
    y = rng.integers(0, 2, n)
    radius = np.where(y == 0, 1.0, factor)
    x = radius[:, None] * np.c_[np.cos(t), np.sin(t)]
    return _split("circles", x + noise * rng.standard_normal((n, 2)), y, test_fraction, seed)


def spirals(n: int = 2000, noise: float = 0.05, turns: float = 1.5, *, seed: int = 0, test_fraction: float = 0.25) -> Dataset:
    """Two interleaved spirals (Lang & Witbrock 1988) scaled to the unit disc."""
    rng = np.random.default_rng(seed)
    t = np.sqrt(rng.uniform(0, 1, n)) * turns * 2 * np.pi
    y = rng.integers(0, 2, n)
    angle = t + np.pi * y
    x = (t / (turns * 2 * np.pi))[:, None] * np.c_[np.cos(angle), np.sin(angle)]
    return _split("spirals", x + noise * rng.standard_normal((n, 2)), y, test_fraction, seed)


SYNTHETIC = {"moons": moons, "circles": circles, "spirals": spirals}


def read_idx(path) -> np.ndarray:
    """An IDX file (optionally gzip-compressed) as a uint8 array: a big-endian header, magic
    number 0x0000 08 D (unsigned bytes, D dimensions), D sizes as 32-bit integers, then data."""
    path = Path(path)
    if not path.is_file():
        raise LRCountError(f"no such IDX file: {path}")
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as exc:
            raise LRCountError(f"{path} is a damaged gzip file ({exc})") from None
    if len(raw) < 4 or raw[:2] != b"\x00\x00" or raw[2] != 0x08:
        raise LRCountError(f"{path} is not an IDX file of unsigned bytes (magic number 0x00000801-0x000008ff)")
    dims = raw[3]
    header = 4 + 4 * dims
    shape = tuple(int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(dims))
    if len(raw) != header + int(np.prod(shape)):
        raise LRCountError(f"{path}: the header gives shape {shape} but the file holds {len(raw) - header} bytes of data")
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(shape)


def mnist(folder, *, test_fraction: float = 0.2, seed: int = 0) -> Dataset:
    """MNIST from the IDX files in ``folder`` (``train-images-idx3-ubyte[.gz]``,
    ``train-labels-idx1-ubyte[.gz]``, ``t10k-...``), flattened to 784 inputs in normalised units
    ``(pixel / 255 - 0.1307) / 0.3081``.

    With both parts present, the standard split of LeCun et al. that Cai et al. 2023 train and
    test on: the 60,000 training images to train, the 10,000 test images to test
    (``split="standard"``; ``test_fraction`` and ``seed`` are not used). With one part only,
    a seeded random split of it (``split="random"``)."""
    folder = Path(folder)
    if folder.is_file():
        raise LRCountError(f"{folder} is a file; give the folder that holds the MNIST IDX files")
    if not folder.is_dir():
        raise LRCountError(f"MNIST folder {folder} does not exist; give the folder with the IDX files")
    parts = {prefix: part for prefix in ("train", "t10k") if (part := _mnist_part(folder, prefix)) is not None}
    if not parts:
        raise LRCountError(f"no MNIST IDX files (t10k-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz) in {folder}")
    if len(parts) == 2:
        (x_train, y_train), (x_test, y_test) = parts["train"], parts["t10k"]
        return Dataset("mnist", x_train, y_train, x_test, y_test, split="standard")
    (x, y), = parts.values()
    return _split("mnist", x, y, test_fraction, seed)


def _mnist_part(folder: Path, prefix: str) -> tuple[np.ndarray, np.ndarray] | None:
    """The images (normalised, one row each) and labels of one part of MNIST, or None if
    either file of that part is missing."""
    found = [folder / f"{prefix}-{kind}-idx{d}-ubyte{gz}" for kind, d in (("images", 3), ("labels", 1))
             for gz in (".gz", "")]
    image_file = next((f for f in found[:2] if f.exists()), None)
    label_file = next((f for f in found[2:] if f.exists()), None)
    if image_file is None or label_file is None:
        return None
    x, y = read_idx(image_file), read_idx(label_file)
    if x.ndim != 3 or y.ndim != 1 or len(x) != len(y):
        raise LRCountError(f"{folder}: {prefix} images of shape {x.shape} do not match labels of shape {y.shape}")
    return (x.reshape(len(x), -1) / 255.0 - MNIST_MEAN) / MNIST_STD, y.astype(np.int64)
