"""tanh, the sigmoid, e^t and ln(1 + u) without libm, for the compiled forms of tanh, sigmoid
and binary cross-entropy that the loss grid's kernel runs (core.engine.compiled_grid).

Why not math.tanh or math.exp: Numba calls libm for them, one number at a time (about 20 ns
here), and a grid needs tens of millions; these are multiplications, additions, divisions
and bit shifts, which LLVM runs eight at a time (tanh32 takes about 0.5 ns a number here).
Plain Python that Numba compiles (its generated module compiles a function's helpers with
it); tests/core/test_float32_math.py measures their error against float64 over a scan of
float32 inputs (the bounds below are theirs).
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

    t = n ln 2 + r with |r| <= ln 2 / 2; e^r by its Taylor series to r^7 (the rest is below
    6e-9 relative); 2^n written into the exponent bits, in two halves so that results below
    the normal range (n < -126) are rounded once, as the hardware would."""
    t = min(max(t, F(-104.0)), F(89.0))  # keeps n in [-150, 129]: the bits below stay valid
    half = F(0.5) if t >= F(0.0) else F(-0.5)
    k = np.int32(t * LOG2E + half)  # round to nearest
    n = F(k)
    r = (t - n * LN2_HI) - n * LN2_LO
    p = F(1.0 / 5040.0)
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
    """tanh of a float32 z, within 2.5 ulp (tests), in float32 arithmetic.

    h = tanh(z/2) as y + y³ P(y²) / Q(y²), y = z/2 (degrees 2 and 3; the least maximum
    relative error of tanh on [0, 4.52], 2.5e-8, fitted by bench/fit_tanh32.py), then
    tanh z = 2h / (1 + h²): the doubling damps h's rounding where tanh nears 1, the range
    where a single rational in z loses up to 5 ulp in float32. Beyond |z| = 9.02, +-1."""
    y = min(max(z * F(0.5), F(-4.51)), F(4.51))
    t = y * y
    p = F(-0.00016971641782992394)
    p = F(-0.019770097889798326) + t * p
    p = F(-0.3333331575859709) + t * p
    q = F(0.000175219968419822)
    q = F(0.0223290093382488) + t * q
    q = F(0.45930915136354195) + t * q
    q = F(1.0) + t * q
    h = y + y * t * p / q
    return (h + h) / (F(1.0) + h * h)


def sigmoid32(z):
    """1 / (1 + e^-z) for a float32 z, within 2.5 ulp (tests), tiny results included (unlike
    (1 + tanh(z/2)) / 2): e^-|z| never overflows, and below 0 the result is e^z / (1 + e^z)."""
    e = exp32(-abs(z))
    return (F(1.0) if z >= F(0.0) else e) / (F(1.0) + e)
