"""The input domain of a VNN-LIB property (VNN-COMP's format, an SMT-LIB subset).

Assertions on the inputs ``X_i`` give the domain: bounds on one input make a box; linear
constraints such as ``(<= (+ X_0 (* 2 X_1)) 0.5)`` (also inside ``and``) cut it to a polytope.
Assertions on the outputs ``Y_j`` are ignored. Disjunctions over the inputs (``or``) are a
union of domains and are refused, as are equalities between inputs (a lower-dimensional set)."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from ..domain import Box, Polytope
from ..errors import LRCountError
from .files import check_readable_file

_DECLARE = re.compile(r"\(\s*declare-const\s+X_(\d+)\s+Real\s*\)")
_VARIABLE = re.compile(r"([XY])_(\d+)")


class _Refused(Exception):
    """An input constraint lrcount does not read (the message says which and why)."""


def _parse(text: str) -> list:
    """The S-expressions of ``text`` as nested lists of tokens."""
    stack: list[list] = [[]]
    for token in re.findall(r"\(|\)|[^\s()]+", text):
        if token == "(":
            stack.append([])
        elif token == ")":
            if len(stack) == 1:
                raise _Refused("unbalanced parentheses")
            done = stack.pop()
            stack[-1].append(done)
        else:
            stack[-1].append(token)
    if len(stack) != 1:
        raise _Refused("unbalanced parentheses")
    return stack[0]


def _mentions(expr, kind: str) -> bool:
    """Whether a variable ``X_i`` (``kind`` "X") or ``Y_j`` occurs in ``expr`` (walked with a
    stack: assertions may nest thousands deep)."""
    pending = [expr]
    while pending:
        item = pending.pop()
        if isinstance(item, list):
            pending.extend(item)
        elif (match := _VARIABLE.fullmatch(item)) and match.group(1) == kind:
            return True
    return False


def _conjuncts(expr) -> list:
    """The parts of nested ``(and ...)`` forms, in order, without recursion."""
    parts, pending = [], [expr]
    while pending:
        item = pending.pop()
        if isinstance(item, list) and item[:1] == ["and"]:
            pending.extend(reversed(item[1:]))
        else:
            parts.append(item)
    return parts


def _linear(expr, n: int) -> tuple[np.ndarray, float]:
    """``expr`` as ``a . x + k``: (a, k)."""
    if not isinstance(expr, list):
        match = _VARIABLE.fullmatch(expr)
        if match:
            i = int(match.group(2))
            if i >= n:
                raise _Refused(f"X_{i} is used but only {n} inputs are declared")
            a = np.zeros(n)
            a[i] = 1.0
            return a, 0.0
        try:
            value = float(expr)
        except ValueError:
            raise _Refused(f"cannot read {expr!r} as a number or an input") from None
        if not np.isfinite(value):
            raise _Refused(f"{expr!r} is not a finite number; give every bound as a number")
        return np.zeros(n), value
    head, args = expr[0], [_linear(e, n) for e in expr[1:]]
    if head == "+":
        return sum(a for a, _ in args), sum(k for _, k in args)
    if head == "-":
        if len(args) == 1:
            return -args[0][0], -args[0][1]
        return args[0][0] - sum(a for a, _ in args[1:]), args[0][1] - sum(k for _, k in args[1:])
    if head == "*" and len(args) == 2 and not (args[0][0].any() and args[1][0].any()):
        (a1, k1), (a2, k2) = args
        return a1 * k2 + a2 * k1, k1 * k2
    raise _Refused(f"({' '.join(map(str, expr))[:40]}...) is not linear in the inputs")


def _constraints(expr, n: int):
    """The rows ``(a, c)`` meaning ``a . x <= c`` that an assertion on the inputs makes."""
    for part in _conjuncts(expr):
        yield from _comparison(part, n)


def _comparison(expr, n: int):
    """The rows of one comparison (not a conjunction)."""
    head = expr[0] if isinstance(expr, list) and expr else None
    if not _mentions(expr, "X"):
        return  # an output constraint
    if head == "or":
        raise _Refused("a disjunction (or ...) over the inputs is a union of domains; lrcount counts in one: "
                       "write one file per disjunct")
    if _mentions(expr, "Y"):
        raise _Refused("a constraint that ties inputs to outputs does not describe an input domain")
    if head not in ("<=", ">=", "<", ">", "=") or len(expr) != 3:
        raise _Refused(f"cannot read the input constraint ({head} ...)")
    try:
        (a1, k1), (a2, k2) = _linear(expr[1], n), _linear(expr[2], n)
    except RecursionError:
        raise _Refused("an arithmetic expression is nested too deeply to read") from None
    a, c = a1 - a2, k2 - k1  # lhs - rhs: a . x + (k1 - k2) op 0
    if head in ("<=", "<"):
        yield a, c
    elif head in (">=", ">"):
        yield -a, -c
    elif np.count_nonzero(a) == 1:  # an input fixed to a value: a slice, as VNN-LIB property 4
        yield a, c
        yield -a, -c
    else:
        raise _Refused("an equality between inputs describes a lower-dimensional set; count on a Subspace")


def read_vnnlib(path) -> Box | Polytope:
    """The input domain of a VNN-LIB file: a :class:`Box` when its input constraints are
    bounds on single inputs, else the :class:`Polytope` they cut from it."""
    path = check_readable_file(path, "VNN-LIB")
    try:
        text = Path(path).read_text()
    except (OSError, UnicodeDecodeError) as exc:
        raise LRCountError(f"cannot read the VNN-LIB file {path} ({exc})") from None
    text = re.sub(r";[^\n]*", "", text)
    n = _declared_inputs(path, [int(i) for i in _DECLARE.findall(text)])
    try:
        rows = [row for form in _parse(text) if isinstance(form, list) and form[:1] == ["assert"]
                for part in form[1:] for row in _constraints(part, n)]
    except _Refused as refused:
        raise LRCountError(f"{path}: {refused}") from None
    lower, upper, general = np.full(n, -np.inf), np.full(n, np.inf), []
    for a, c in rows:
        nonzero = np.flatnonzero(a)
        if len(nonzero) == 1:
            i, coef = int(nonzero[0]), a[nonzero[0]]
            if coef > 0:
                upper[i] = min(upper[i], c / coef)
            else:
                lower[i] = max(lower[i], c / coef)
        elif len(nonzero) > 1:
            general.append((a, c))
        elif c < 0:
            raise LRCountError(f"{path}: a constraint on the inputs can never hold; the domain is empty")
    crossed = np.flatnonzero(lower > upper)
    if crossed.size:
        i = int(crossed[0])
        raise LRCountError(f"{path}: the constraints on X_{i} contradict each other (X_{i} >= {lower[i]:g} and "
                           f"X_{i} <= {upper[i]:g}); the input domain is empty")
    if not general:
        unbounded = [i for i in range(n) if not (np.isfinite(lower[i]) and np.isfinite(upper[i]))]
        if unbounded:
            raise LRCountError(f"{path} lacks a lower or an upper bound for inputs {unbounded}; the box must be bounded")
        return Box(lower, upper)
    eye = np.eye(n)
    A = [a for a, _ in general] + [eye[i] for i in range(n) if np.isfinite(upper[i])] + \
        [-eye[i] for i in range(n) if np.isfinite(lower[i])]
    c = [c for _, c in general] + [upper[i] for i in range(n) if np.isfinite(upper[i])] + \
        [-lower[i] for i in range(n) if np.isfinite(lower[i])]
    return Polytope(np.array(A), np.array(c))


def _declared_inputs(path, indices: list[int]) -> int:
    """The number of inputs, from the ``declare-const X_i Real`` lines: X_0 ... X_{n-1}, each
    declared once."""
    if not indices:
        raise LRCountError(f"{path} declares no inputs X_0, X_1, ...; is it a VNN-LIB file?")
    twice = sorted({i for i in indices if indices.count(i) > 1})
    if twice:
        raise LRCountError(f"{path} declares X_{twice[0]} twice; declare each input once")
    if sorted(indices) != list(range(len(indices))):
        missing = sorted(set(range(max(indices) + 1)) - set(indices))
        raise LRCountError(f"{path} declares inputs up to X_{max(indices)} but not X_{missing[0]}; "
                           "the inputs must be X_0, X_1, ... without gaps")
    return len(indices)


def read_vnnlib_box(path) -> Box:
    """The input box of a VNN-LIB file; a file whose input constraints are not all bounds is
    refused (use :func:`read_vnnlib` for polytopes)."""
    domain = read_vnnlib(path)
    if not isinstance(domain, Box):
        raise LRCountError(f"{path} constrains the inputs beyond a box; read it with lrcount.io.read_vnnlib")
    return domain
