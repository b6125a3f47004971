"""An activation and a loss that the app does not have, each written as one registry entry,
for the tests that prove one entry is all a new one needs (test_registry_extension.py)."""
from __future__ import annotations

import contextlib
from typing import Iterator

import numpy as np

from core.activations import ACTIVATIONS, Activation, sigmoid
from core.losses import LOSSES, Explanation, Loss, LossResult
from core.number_text import factor, fmt

SWISH = Activation(
    "swish", "z/(1+e^-z)", "s + a(1-s), s = 1/(1+e^-z)",
    lambda z: z * sigmoid(z),
    lambda z, a: sigmoid(z) + a * (1.0 - sigmoid(z)),
    glyph="swish",
    onnx=lambda op, z: op("Mul", [z, op("Sigmoid", [z])]),
    numpy_source="z * (0.5 * (1.0 + np.tanh(0.5 * z)))",
    explain=lambda net, a, d: (f"net·σ(net) = {factor(net)}·σ({fmt(net)}) = {fmt(a)}",
                               f"σ + a(1 - σ) = {fmt(d)}", "swish: the sigmoid times net"))


def _log_cosh_each(r: np.ndarray) -> np.ndarray:
    return np.logaddexp(r, -r) - np.log(2.0)  # ln cosh r without overflow


def _log_cosh(z: np.ndarray, a: np.ndarray, y: np.ndarray) -> LossResult:
    r = a - y
    return LossResult(float(_log_cosh_each(r).mean()), np.tanh(r) / r.size, False)


def _log_cosh_value(a, y, value, ids) -> Explanation:
    return Explanation("Log-cosh: squared for small errors, linear for large ones.",
                       ("L = ln cosh(a - t)", f"  = {fmt(value)}"))


def _log_cosh_slope(a, y, i, name, delta) -> Explanation:
    grad = float(np.tanh(a[i] - y[i])) / len(a)
    return Explanation("The slope of ln cosh r is tanh r.",
                       (f"∂L/∂a({name}) = tanh(a - t) = {fmt(grad)}",), slope=grad)


LOG_COSH = Loss("log_cosh", "log-cosh", _log_cosh,
                lambda z, a, y: np.mean(_log_cosh_each(a - y), axis=(1, 2)),
                _log_cosh_value, _log_cosh_slope, targets="any number per output (log-cosh)")


@contextlib.contextmanager
def added_entries() -> Iterator[None]:
    """SWISH in ACTIVATIONS and LOG_COSH in LOSSES for the duration."""
    ACTIVATIONS[SWISH.name] = SWISH
    LOSSES[LOG_COSH.name] = LOG_COSH
    try:
        yield
    finally:
        del ACTIVATIONS[SWISH.name]
        del LOSSES[LOG_COSH.name]
