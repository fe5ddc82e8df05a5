"""Networks as ``.npz`` archives: arrays ``W0, b0, W1, b1, ...`` and an optional ``box``."""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

import numpy as np

from ..errors import LRCountError
from ..network import ReLUNetwork
from .files import write_atomically

#: The largest network archive lrcount unpacks, in bytes of the arrays it reads.
MAX_NETWORK_BYTES = 4 * 2**30
#: The members of a network archive; any others are never read.
NETWORK_MEMBER = re.compile(r"W\d+|b\d+|box")


def load_npz(path) -> ReLUNetwork:
    """Read ``W0, b0, W1, b1, ...`` (PyTorch orientation, out x in) and an optional ``box`` of
    shape (n0, 2), the default domain. Pickled objects are refused. Only those members are
    read, and only after their sizes, as the archive and each array's header declare them, are
    checked against :data:`MAX_NETWORK_BYTES` (an archive can unpack to far more than it holds)."""
    if not zipfile.is_zipfile(path):
        raise LRCountError(f"{path} is not an .npz archive (a zip of .npy arrays W0, b0, ...); "
                           "write one with lrcount.io.save_npz or numpy.savez")
    try:
        with zipfile.ZipFile(path) as archive:
            members = {info.filename[:-4]: info for info in archive.infolist()
                       if info.filename.endswith(".npy") and NETWORK_MEMBER.fullmatch(info.filename[:-4])}
            _check_sizes(path, archive, members)
            arrays = {name: _read_member(archive, info) for name, info in members.items()}
    except LRCountError:
        raise
    except (OSError, ValueError, zipfile.BadZipFile, EOFError):
        # never suggest allow_pickle: an untrusted pickle can run code
        raise LRCountError(f"{path} holds something other than plain numeric arrays (objects or a damaged archive); "
                           "save the weights as plain arrays with numpy.savez") from None
    layers = sorted(int(m.group(1)) for k in arrays if (m := re.fullmatch(r"W(\d+)", k)))
    if not layers:
        raise LRCountError(f"{path} holds no arrays W0, b0, W1, b1, ...; found {sorted(arrays) or 'none'}")
    if layers != list(range(len(layers))):
        raise LRCountError(f"{path}: weight arrays must be W0..W{len(layers) - 1} without gaps, found {layers}")
    missing = [f"b{l}" for l in layers if f"b{l}" not in arrays]
    if missing:
        raise LRCountError(f"{path}: missing bias arrays {missing}")
    return ReLUNetwork(
        tuple(arrays[f"W{l}"] for l in layers),
        tuple(arrays[f"b{l}"] for l in layers),
        name=Path(path).stem,
        default_box=arrays.get("box"),
    )


def _check_sizes(path, archive: zipfile.ZipFile, members: dict[str, zipfile.ZipInfo]) -> None:
    """Refuse an archive whose network members declare more than :data:`MAX_NETWORK_BYTES`,
    in the zip directory or in their array headers (read before any data)."""
    total = 0
    for name, info in members.items():
        with archive.open(info) as stream:
            major, _ = np.lib.format.read_magic(stream)
            read_header = np.lib.format.read_array_header_1_0 if major == 1 else np.lib.format.read_array_header_2_0
            shape, _, dtype = read_header(stream)
        declared = max(info.file_size, int(np.prod(shape, dtype=object)) * dtype.itemsize)
        total += declared
        if total > MAX_NETWORK_BYTES:
            raise LRCountError(f"{path}: the array {name} unpacks to {declared / 2**30:.1f} GiB; lrcount reads networks "
                               f"of at most {MAX_NETWORK_BYTES / 2**30:.0f} GiB (check that this is the network you meant)")


def _read_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> np.ndarray:
    with archive.open(info) as stream:
        return np.lib.format.read_array(stream, allow_pickle=False)


def save_npz(network: ReLUNetwork, path, box: np.ndarray | None = None) -> Path:
    """Write ``network`` (and a default box of shape (n0, 2)) in the format of :func:`load_npz`,
    atomically (:func:`~lrcount.io.files.write_atomically`); ``.npz`` is added to a path without
    it, as numpy does. Returns the path written."""
    arrays = {f"W{l}": w for l, w in enumerate(network.weights)}
    arrays.update({f"b{l}": b for l, b in enumerate(network.biases)})
    box = network.default_box if box is None else box
    if box is not None:
        arrays["box"] = np.asarray(box, dtype=np.float64)
    return write_arrays(path, arrays)


def write_arrays(path, arrays: dict[str, np.ndarray]) -> Path:
    """``arrays`` as an uncompressed ``.npz`` archive at ``path`` (``.npz`` added if missing),
    written atomically."""
    path = Path(path)
    if path.suffix != ".npz":
        path = path.with_name(path.name + ".npz")
    return write_atomically(path, lambda stream: np.savez(stream, **arrays))
