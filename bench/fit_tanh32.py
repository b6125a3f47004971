"""Not a benchmark: fits the coefficients of core.float32_math.tanh32 and prints them with
their error, so that they can be checked or refitted.

tanh y = y + y³ g(y²) on [0, 4.52] (tanh32 halves its argument up to 9.02), with g = P/Q,
P of degree 2 and Q of degree 3 (Q(0) = 1), chosen for the least maximum relative error of
tanh y. Lawson's method: weighted least squares on the linearised residual P - g Q, the
weights multiplied by the square root of each point's error until they settle; the reference
is mpmath's tanh at 30 digits.

    python bench/fit_tanh32.py      # prints P's and Q's coefficients and the maximum error
"""
from __future__ import annotations

import mpmath
import numpy as np

TOP = 4.52
P_TERMS, Q_TERMS = 3, 4  # coefficients, lowest power of y² first


def fit() -> tuple[np.ndarray, np.ndarray, float]:
    mpmath.mp.dps = 30
    y = np.unique(np.concatenate([np.linspace(1e-3, 1, 2000), np.linspace(1, TOP, 4000)]))
    tanh = np.array([float(mpmath.tanh(mpmath.mpf(v))) for v in y])
    g = np.array([float((mpmath.tanh(mpmath.mpf(v)) - mpmath.mpf(v)) / mpmath.mpf(v) ** 3)
                  for v in y])
    to_tanh = y**3 / tanh  # an error in g, as a relative error of tanh y
    t = (y / TOP) ** 2  # scaled to [0, 1] for the least squares; unscaled below
    weights, q_prev = np.ones_like(y), np.ones_like(y)
    for step in range(300):
        a = np.hstack([t[:, None] ** np.arange(P_TERMS),
                       -g[:, None] * t[:, None] ** np.arange(1, Q_TERMS)])
        w = np.sqrt(weights) * to_tanh / np.abs(q_prev)
        c, *_ = np.linalg.lstsq(a * w[:, None], g * w, rcond=None)
        p = t[:, None] ** np.arange(P_TERMS) @ c[:P_TERMS]
        q_prev = 1 + t[:, None] ** np.arange(1, Q_TERMS) @ c[P_TERMS:]
        error = np.abs(p / q_prev - g) * to_tanh
        if step > 5:
            weights = weights * np.sqrt(error)
        weights /= weights.sum()
    scale = TOP**-2.0
    p_coeff = c[:P_TERMS] * scale ** np.arange(P_TERMS)
    q_coeff = np.concatenate([[1.0], c[P_TERMS:] * scale ** np.arange(1, Q_TERMS)])
    return p_coeff, q_coeff, float(error.max())


if __name__ == "__main__":
    p_coeff, q_coeff, worst = fit()
    print("P:", [repr(float(v)) for v in p_coeff])
    print("Q:", [repr(float(v)) for v in q_coeff])
    print(f"largest relative error of tanh on [0, {TOP}]: {worst:.3g}")
