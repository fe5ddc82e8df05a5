"""The input box of a VNN-LIB property: its ``(assert (<= X_i c))`` / ``(>= X_i c)`` lines."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from ..domain import Box
from ..errors import LRCountError

_BOUND = re.compile(r"\(\s*assert\s*\(\s*(<=|>=)\s+(X_(\d+))\s+([-+0-9.eE]+)\s*\)\s*\)")
_REVERSED = re.compile(r"\(\s*assert\s*\(\s*(<=|>=)\s+([-+0-9.eE]+)\s+(X_(\d+))\s*\)\s*\)")
_DECLARE = re.compile(r"\(\s*declare-const\s+X_(\d+)\s+Real\s*\)")


def read_vnnlib_box(path) -> Box:
    """The box given by the bounds on the inputs X_0..X_{n-1}; every input needs both bounds.
    Output constraints (on Y_j) are ignored."""
    try:
        text = Path(path).read_text()
    except (OSError, UnicodeDecodeError) as exc:
        raise LRCountError(f"cannot read the VNN-LIB file {path} ({exc})") from None
    text = re.sub(r";[^\n]*", "", text)
    n = len(_DECLARE.findall(text))
    if n == 0:
        raise LRCountError(f"{path} declares no inputs X_0, X_1, ...; is it a VNN-LIB file?")
    lower, upper = np.full(n, -np.inf), np.full(n, np.inf)
    bounds = [(op, int(i), float(c)) for op, _, i, c in _BOUND.findall(text)]
    bounds += [("<=" if op == ">=" else ">=", int(i), float(c)) for op, c, _, i in _REVERSED.findall(text)]
    for op, i, c in bounds:
        if i >= n:
            raise LRCountError(f"{path} bounds X_{i} but declares only {n} inputs")
        if op == "<=":
            upper[i] = min(upper[i], c)
        else:
            lower[i] = max(lower[i], c)
    unbounded = [i for i in range(n) if not (np.isfinite(lower[i]) and np.isfinite(upper[i]))]
    if unbounded:
        raise LRCountError(f"{path} gives no lower and upper bound for inputs {unbounded}")
    return Box(lower, upper)
