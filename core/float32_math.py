"""e^t and ln(1 + u) in float32 arithmetic alone, for the compiled forms of tanh, sigmoid and
binary cross-entropy that the loss grid's kernel runs (core.engine.compiled_grid).

Why not math.exp: Numba calls libm for it, one number at a time (about 20 ns here), and the
grid needs tens of millions of them; these are plain multiplications, additions and bit
shifts, which LLVM runs eight at a time. Plain Python that Numba compiles (its generated
module compiles a function's helpers with it); tests/core/test_float32_math.py measures their
error against float64 over a scan of float32 inputs (the bounds below are theirs).
"""
from __future__ import annotations

import numpy as np

F = np.float32
LOG2E = F(1.4426950408889634)
# ln 2 in two parts: n * LN2_HI is exact for |n| < 256 (LN2_HI has 16 significant bits), so
# t - n ln 2 keeps its low bits (Cody and Waite's reduction).
LN2_HI = F(0.693145751953125)
LN2_LO = F(1.428606765330187e-06)


def exp32(t):
    """e^t for a float32 t, within 1 ulp (tests), inf above 88.73, 0 below -103.9.

    t = n ln 2 + r with |r| <= ln 2 / 2; e^r by its Taylor series to r^8 (the rest is below
    6e-9 relative); 2^n written into the exponent bits, in two halves so that results below
    the normal range (n < -126) are rounded once, as the hardware would."""
    t = min(max(t, F(-104.0)), F(89.0))  # keeps n in [-150, 129]: the bits below stay valid
    half = F(0.5) if t >= F(0.0) else F(-0.5)
    k = np.int32(t * LOG2E + half)  # round to nearest
    n = F(k)
    r = (t - n * LN2_HI) - n * LN2_LO
    p = F(1.0 / 40320.0)
    p = F(1.0 / 5040.0) + r * p
    p = F(1.0 / 720.0) + r * p
    p = F(1.0 / 120.0) + r * p
    p = F(1.0 / 24.0) + r * p
    p = F(1.0 / 6.0) + r * p
    p = F(0.5) + r * p
    p = F(1.0) + r * p
    p = F(1.0) + r * p
    lo = k >> 1
    return (p * np.int32((lo + 127) << 23).view(F)) * np.int32((k - lo + 127) << 23).view(F)


def log1p32(u):
    """ln(1 + u) for a float32 u in [0, 1], within 1 ulp (tests): evaluated in float64 and
    rounded once (in float32 the quotient and the sum lose up to 3 ulp).

    ln(1 + u) = 2 atanh(s) with s = u / (2 + u) <= 1/3: 2 s (1 + s²/3 + s⁴/5 + ...), to s^16
    (the rest is below 1e-9 relative). No 1 + u is formed, so a tiny u keeps its digits."""
    s = np.float64(u) / (2.0 + np.float64(u))
    q = s * s
    c = 1.0 / 17.0
    c = 1.0 / 15.0 + q * c
    c = 1.0 / 13.0 + q * c
    c = 1.0 / 11.0 + q * c
    c = 1.0 / 9.0 + q * c
    c = 1.0 / 7.0 + q * c
    c = 1.0 / 5.0 + q * c
    c = 1.0 / 3.0 + q * c
    c = 1.0 + q * c
    return F(2.0 * s * c)


def tanh32(z):
    """tanh of a float32 z, within 1 ulp (tests): z P(z²) / Q(z²), degrees 6 and 3, evaluated
    in float64 (float32 loses up to 5 ulp near 1 in the two polynomials) and rounded once.

    The coefficients give the least maximum relative error on [0, 9.1] (6.6e-9; fitted by
    Lawson's reweighted least squares against mpmath's tanh); beyond 9.02 tanh rounds to 1."""
    x = min(max(np.float64(z), -9.1), 9.1)
    t = x * x
    p = -8.228243252852644e-14
    p = 5.177606185726417e-11 + t * p
    p = -2.001897790703352e-08 + t * p
    p = 1.1103888060909165e-05 + t * p
    p = 0.0030991584262736096 + t * p
    p = 0.1307972088409924 + t * p
    p = 0.9999999925534003 + t * p
    q = 0.0002539145510776375
    q = 0.024476091428958045 + t * q
    q = 0.46413047257225365 + t * q
    q = 1.0 + t * q
    if x >= 9.02:
        return F(1.0)
    if x <= -9.02:
        return F(-1.0)
    return F(x * p / q)


def sigmoid32(z):
    """1 / (1 + e^-z) for a float32 z, within 2 ulp (tests), tiny results included (unlike
    (1 + tanh(z/2)) / 2): e^-|z| never overflows, and below 0 the result is e^z / (1 + e^z)."""
    e = np.float64(exp32(-abs(z)))
    return F((1.0 if z >= F(0.0) else e) / (1.0 + e))  # in float64: one rounding, not three
