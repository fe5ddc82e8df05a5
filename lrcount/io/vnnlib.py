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


def _top_level_forms(text: str) -> list[str]:
    """The top-level parenthesised forms of an S-expression text."""
    forms, depth, start = [], 0, 0
    for position, char in enumerate(text):
        if char == "(":
            if depth == 0:
                start = position
            depth += 1
        elif char == ")":
            depth -= 1
            if depth == 0:
                forms.append(text[start:position + 1])
            if depth < 0:
                break
    if depth != 0:
        raise LRCountError("unbalanced parentheses")
    return forms


def _input_assertions(text: str, path) -> list[str]:
    """The assertions that constrain inputs X_i; each must be a plain bound on one input."""
    out = []
    for form in _top_level_forms(text):
        if not form.startswith("(assert") or "X_" not in form:
            continue
        if _BOUND.fullmatch(form) or _REVERSED.fullmatch(form):
            out.append(form)
        elif re.search(r"\(\s*or\b", form):
            raise LRCountError(f"{path}: a disjunction (or ...) over the inputs is a union of boxes; "
                               "lrcount counts in one box: write one file per box")
        else:
            short = " ".join(form.split())[:60]
            raise LRCountError(f"{path}: the input constraint {short!r} is not a bound on one input; "
                               "only boxes are read from VNN-LIB (use lrcount.Polytope in Python for general constraints)")
    return out


def read_vnnlib_box(path) -> Box:
    """The box given by the bounds on the inputs X_0..X_{n-1}; every input needs both bounds.
    Output constraints (on Y_j) are ignored; any other constraint on the inputs is refused."""
    from . import check_readable_file

    path = check_readable_file(path, "VNN-LIB")
    try:
        text = Path(path).read_text()
    except (OSError, UnicodeDecodeError) as exc:
        raise LRCountError(f"cannot read the VNN-LIB file {path} ({exc})") from None
    text = re.sub(r";[^\n]*", "", text)
    n = len(_DECLARE.findall(text))
    if n == 0:
        raise LRCountError(f"{path} declares no inputs X_0, X_1, ...; is it a VNN-LIB file?")
    try:
        assertions = "\n".join(_input_assertions(text, path))
    except LRCountError as exc:
        if str(exc) == "unbalanced parentheses":
            raise LRCountError(f"{path} has unbalanced parentheses; is it a VNN-LIB file?") from None
        raise
    lower, upper = np.full(n, -np.inf), np.full(n, np.inf)
    bounds = [(op, int(i), float(c)) for op, _, i, c in _BOUND.findall(assertions)]
    bounds += [("<=" if op == ">=" else ">=", int(i), float(c)) for op, c, _, i in _REVERSED.findall(assertions)]
    for op, i, c in bounds:
        if i >= n:
            raise LRCountError(f"{path} bounds X_{i} but declares only {n} inputs")
        if op == "<=":
            upper[i] = min(upper[i], c)
        else:
            lower[i] = max(lower[i], c)
    unbounded = [i for i in range(n) if not (np.isfinite(lower[i]) and np.isfinite(upper[i]))]
    if unbounded:
        raise LRCountError(f"{path} lacks a lower or an upper bound for inputs {unbounded}; the box must be bounded")
    return Box(lower, upper)
