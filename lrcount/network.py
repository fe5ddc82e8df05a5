"""The ReLU network model: a chain of float64 affine layers with ReLU between them."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .errors import LRCountError
from .tolerances import CONSTANT_RTOL


def _real_array(values, what: str) -> np.ndarray:
    """``values`` as float64, refusing what a cast would silently change (complex numbers) or
    cannot read (strings, objects)."""
    array = np.asarray(values)
    if array.dtype.kind == "c":
        raise LRCountError(f"{what} has complex entries; lrcount counts regions of real-valued networks")
    if array.dtype.kind not in "biuf":
        raise LRCountError(f"{what} has entries of type {array.dtype}, not numbers; check how the model was saved")
    return np.array(array, dtype=np.float64)

#: Binary exponent given to zero entries: below every float64's, and safe to add to.
_ZERO_EXPONENT = -(1 << 40)


def _binary_exponents(x: np.ndarray) -> np.ndarray:
    """``e`` with ``x = m 2**e`` and ``1/2 <= |m| < 1`` (``frexp``, exact also for subnormal
    numbers); :data:`_ZERO_EXPONENT` for zeros."""
    mantissa, exponent = np.frexp(x)
    return np.where(mantissa == 0, _ZERO_EXPONENT, exponent.astype(np.int64))


def _balanced_rows(w: np.ndarray, b: np.ndarray, in_exponents: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The affine map ``h -> w h + b`` for inputs given as ``h = h' 2**in_exponents``, as
    ``(w', b', out)`` with ``w h + b = 2**out (w' h' + b')`` and the largest entry of each row
    ``(w'_j, b'_j)`` in [1/2, 1) (zero rows: unchanged, ``out = 0``). Each entry is multiplied
    by one power of two chosen from the exponents, so nothing overflows, and only entries
    below 2**-1074 of their row's largest are lost (to underflow)."""
    entry = _binary_exponents(w) + in_exponents[None, :]
    out = np.maximum(entry.max(axis=1, initial=_ZERO_EXPONENT), _binary_exponents(b))
    out = np.where(out <= _ZERO_EXPONENT // 2, 0, out)
    shift = np.clip(in_exponents[None, :] - out[:, None], -4096, 4096).astype(np.int32)
    return np.ldexp(w, shift), np.ldexp(b, np.clip(-out, -4096, 4096).astype(np.int32)), out


@dataclass(frozen=True)
class ReLUNetwork:
    """A feed-forward ReLU network ``x -> A_{L+1} relu(A_L ... relu(A_1 x))``.

    ``weights[l]`` has the PyTorch orientation (out x in); every layer but the last is followed
    by a ReLU, the last layer is affine and does not split regions. A network with a single layer
    has no hidden neurons and exactly one region.

    Parameters
    ----------
    weights, biases
        One matrix and one vector per affine layer. Converted to float64 and checked.
    """

    weights: tuple[np.ndarray, ...]
    biases: tuple[np.ndarray, ...]
    name: str = field(default="network", compare=False)
    #: Optional default domain, an (n0, 2) array of [lower, upper] per input (from an .npz file).
    default_box: np.ndarray | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        if len(self.weights) == 0:
            raise LRCountError("a network needs at least one affine layer")
        if len(self.weights) != len(self.biases):
            raise LRCountError(
                f"got {len(self.weights)} weight matrices but {len(self.biases)} bias vectors"
            )
        weights, biases = [], []
        for l, (w, b) in enumerate(zip(self.weights, self.biases)):
            w, b = _real_array(w, f"layer {l}: weight"), _real_array(b, f"layer {l}: bias").reshape(-1)
            if w.ndim != 2:
                raise LRCountError(f"layer {l}: weight has shape {w.shape}; a matrix (out x in) is needed")
            if b.shape[0] != w.shape[0]:
                raise LRCountError(
                    f"layer {l}: weight is {w.shape[0]} x {w.shape[1]} but bias has {b.shape[0]} entries"
                )
            if 0 in w.shape:
                raise LRCountError(f"layer {l}: weight has shape {w.shape}; every layer needs at least one input and one output")
            if l > 0 and w.shape[1] != weights[-1].shape[0]:
                raise LRCountError(
                    f"layer {l}: expects {w.shape[1]} inputs but layer {l - 1} has {weights[-1].shape[0]} outputs"
                )
            if not (np.isfinite(w).all() and np.isfinite(b).all()):
                raise LRCountError(f"layer {l}: weights or biases contain NaN or infinity; fix the model")
            w.setflags(write=False)
            b.setflags(write=False)
            weights.append(w)
            biases.append(b)
        if self.default_box is not None:
            box = _real_array(self.default_box, "the stored box")
            if box.shape != (weights[0].shape[1], 2):
                raise LRCountError(
                    f"the stored box has shape {box.shape}; ({weights[0].shape[1]}, 2) is needed"
                )
            object.__setattr__(self, "default_box", box)
        object.__setattr__(self, "weights", tuple(weights))
        object.__setattr__(self, "biases", tuple(biases))

    # -- shape -----------------------------------------------------------------------------
    @property
    def input_dim(self) -> int:
        """n_0, the number of inputs."""
        return self.weights[0].shape[1]

    @property
    def hidden_widths(self) -> list[int]:
        """[n_1, ..., n_L], the widths of the ReLU layers."""
        return [w.shape[0] for w in self.weights[:-1]]

    @property
    def widths(self) -> list[int]:
        """[n_0, n_1, ..., n_L]: the input dimension and the hidden widths (the convention of
        the bounds; the affine output layer never splits and is not listed)."""
        return [self.input_dim, *self.hidden_widths]

    @property
    def n_hidden(self) -> int:
        """N, the number of ReLU neurons."""
        return sum(self.hidden_widths)

    @property
    def hidden_layers(self) -> list[tuple[np.ndarray, np.ndarray]]:
        """(W^l, b^l) of the ReLU layers l = 1..L."""
        return list(zip(self.weights[:-1], self.biases[:-1]))

    def densities(self) -> list[float]:
        """Fraction of non-zero weights in each ReLU layer."""
        return [float(np.count_nonzero(w)) / w.size for w, _ in self.hidden_layers]

    # -- evaluation ------------------------------------------------------------------------
    def preactivations(self, x: np.ndarray) -> list[np.ndarray]:
        """Pre-activations g^l of every ReLU layer at the points ``x`` (shape (m, n0) or (n0,))."""
        h = np.atleast_2d(np.asarray(x, dtype=np.float64))
        out = []
        for w, b in self.hidden_layers:
            g = h @ w.T + b
            out.append(g)
            h = np.maximum(g, 0.0)
        return out

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """The network's output at the points ``x``."""
        h = np.atleast_2d(np.asarray(x, dtype=np.float64))
        for w, b in self.hidden_layers:
            h = np.maximum(h @ w.T + b, 0.0)
        return h @ self.weights[-1].T + self.biases[-1]

    def activation_patterns(self, x: np.ndarray) -> np.ndarray:
        """Boolean activation patterns of all hidden neurons at the points ``x``, shape (m, N),
        layers concatenated in order. A neuron is on iff ``g > CONSTANT_RTOL * |g|``, where
        ``|g|`` is the same sum taken in absolute values: a pre-activation that is 0 up to
        rounding (a neuron constant at 0 on a region, whose computed value is noise) is off,
        as :mod:`lrcount.region` decides; elsewhere this is ``g > 0`` up to a relative 1e-12."""
        h = np.atleast_2d(np.asarray(x, dtype=np.float64))
        size = np.abs(h)
        patterns = [np.zeros((h.shape[0], 0), dtype=bool)]
        for w, b in self.hidden_layers:
            g, g_size = h @ w.T + b, size @ np.abs(w).T + np.abs(b)
            on = g > CONSTANT_RTOL * g_size
            patterns.append(on)
            h, size = np.where(on, g, 0.0), np.where(on, g_size, 0.0)
        return np.concatenate(patterns, axis=1)

    # -- transformations -------------------------------------------------------------------
    def compose_input(self, origin: np.ndarray, basis: np.ndarray) -> ReLUNetwork:
        """The network ``t -> self(origin + basis @ t)``: the restriction to an affine chart."""
        w0 = self.weights[0] @ basis
        b0 = self.biases[0] + self.weights[0] @ origin
        return ReLUNetwork((w0, *self.weights[1:]), (b0, *self.biases[1:]), name=self.name)

    def balanced(self) -> ReLUNetwork:
        """An equivalent network whose hidden rows ``(W^l_i, b^l_i)`` have largest entry in [1/2, 1).

        ReLU is positively homogeneous, so scaling row i of (W^l, b^l) by s > 0 and column i of
        W^{l+1} by 1/s changes neither the function's regions nor any activation pattern
        (docs/theory.md, "Rescaling"). The factors are powers of two, so balancing is exact, and
        they are applied by adding binary exponents, so no product overflows or underflows on the
        way: a network whose layers are scaled by 1e-300 or 1e300 balances to the same network as
        the unscaled one. The output rows are balanced too (their scale splits no region).
        Rows that are zero (pruned neurons) are left as they are.
        """
        return self.balanced_in_chart(None, None)

    def balanced_in_chart(self, origin: np.ndarray | None, basis: np.ndarray | None) -> ReLUNetwork:
        """:meth:`compose_input` followed by :meth:`balanced`, without overflow or underflow: the
        chart ``x = origin + basis @ t`` may be as large (a box of +-1e308) or as small (+-1e-300)
        as float64 states, and the layers likewise; only sums of at most ``width`` balanced terms
        are rounded. ``origin = basis = None`` is the identity chart."""
        weights, biases = [], []
        exponents = np.zeros(self.input_dim, dtype=np.int64)  # inputs h = h' 2**exponents
        for w, b in zip(self.weights, self.biases):
            if weights or basis is None:
                w, b, exponents = _balanced_rows(w, b, exponents)
            else:  # the first layer, composed with the chart's balanced rows x = 2**e x'
                x_basis, x_origin, x_exponents = _balanced_rows(np.asarray(basis, float), np.asarray(origin, float),
                                                                np.zeros(np.shape(basis)[1], dtype=np.int64))
                w, b, exponents = _balanced_rows(self.weights[0], self.biases[0], x_exponents)
                w, b, composed = _balanced_rows(w @ x_basis, w @ x_origin + b, np.zeros(x_basis.shape[1], dtype=np.int64))
                exponents = exponents + composed
            weights.append(w)
            biases.append(b)
        return ReLUNetwork(tuple(weights), tuple(biases), name=self.name)

    # -- constructors ----------------------------------------------------------------------
    @classmethod
    def random(
        cls,
        widths: list[int],
        n_outputs: int = 1,
        *,
        density: float = 1.0,
        seed: int | None = None,
        bias_scale: float = 1.0,
    ) -> ReLUNetwork:
        """A network with standard normal weights and biases (times ``bias_scale``); each hidden
        weight is kept with probability ``density`` (random unstructured pruning)."""
        rng = np.random.default_rng(seed)
        dims = [*widths, n_outputs]
        weights, biases = [], []
        for l in range(len(dims) - 1):
            w = rng.standard_normal((dims[l + 1], dims[l]))
            if l < len(dims) - 2 and density < 1.0:
                w *= rng.random(w.shape) < density
            weights.append(w)
            biases.append(bias_scale * rng.standard_normal(dims[l + 1]))
        return cls(tuple(weights), tuple(biases), name=f"random{widths}")

    def __repr__(self) -> str:
        return f"ReLUNetwork(widths={self.widths}, outputs={self.weights[-1].shape[0]}, name={self.name!r})"
