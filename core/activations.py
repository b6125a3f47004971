"""Activation functions and their local derivatives, vectorised over arrays.

Each derivative takes both the net input z and the output a = f(z), so it can use whichever is
cheaper and more stable (sigmoid' = a(1-a), tanh' = 1-a^2).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

LEAKY_SLOPE = 0.01
ELU_ALPHA = 1.0


@dataclass(frozen=True)
class Activation:
    name: str
    formula: str  # how the GUI writes it
    derivative_formula: str
    f: Callable[[np.ndarray], np.ndarray]
    df: Callable[[np.ndarray, np.ndarray], np.ndarray]  # (z, a) -> f'(z)


def sigmoid(z: np.ndarray) -> np.ndarray:
    """1 / (1 + e^-z) computed as (1 + tanh(z/2)) / 2: one pass, never overflows, in place.

    Absolute error stays at rounding level (~1e-16), so tiny outputs such as s(-20) = 2.06e-9
    keep about 8 significant digits; losses that need more work from z (core.losses).
    """
    z = np.asarray(z, dtype=np.result_type(z, np.float32))
    out = np.multiply(z, 0.5)
    np.tanh(out, out=out)
    out += 1.0
    out *= 0.5
    return out


def _softplus(z: np.ndarray) -> np.ndarray:
    return np.logaddexp(0.0, z)


def _elu(z: np.ndarray) -> np.ndarray:
    return np.where(z > 0, z, ELU_ALPHA * np.expm1(np.minimum(z, 0.0)))


ACTIVATIONS: dict[str, Activation] = {
    a.name: a
    for a in (
        Activation("identity", "z", "1", lambda z: z.copy(), lambda z, a: np.ones_like(z)),
        Activation("sigmoid", "1/(1+e^-z)", "a(1-a)", sigmoid, lambda z, a: a * (1.0 - a)),
        Activation("tanh", "tanh(z)", "1-a^2", np.tanh, lambda z, a: 1.0 - a * a),
        Activation("relu", "max(0, z)", "1 if z>0 else 0", lambda z: np.maximum(z, 0.0),
                   lambda z, a: (z > 0).astype(z.dtype)),
        Activation("leaky_relu", f"z if z>0 else {LEAKY_SLOPE}z", f"1 if z>0 else {LEAKY_SLOPE}",
                   lambda z: np.where(z > 0, z, LEAKY_SLOPE * z),
                   lambda z, a: np.where(z > 0, 1.0, LEAKY_SLOPE).astype(z.dtype)),
        Activation("elu", "z if z>0 else e^z-1", "1 if z>0 else a+1", _elu,
                   lambda z, a: np.where(z > 0, 1.0, a + ELU_ALPHA).astype(z.dtype)),
        Activation("softplus", "ln(1+e^z)", "1/(1+e^-z)", _softplus, lambda z, a: sigmoid(z)),
    )
}
