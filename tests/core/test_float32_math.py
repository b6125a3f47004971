"""The float32 forms the loss grid's kernel runs (core.float32_math, the registries' f32 and
term32 forms) against float64 libm over a scan of float32 inputs: every 997th float32 from 0
up to the largest that matters, both signs, plus the edges of each method. Measured here
(the bounds asserted in brackets): exp32 0.87 ulp (1), log1p32 0.50 (1), tanh32 2.16 (2.5),
sigmoid32 2.11 (2.5), the bce term 1.49 (2); NumPy's own float32 tanh is 1.35 ulp from
float64 on the same scan. (A denser scan, every 7th float32 in [-50, 50], found tanh32 at
2.45 and sigmoid32 at 2.40.)

Errors are in units in the last place of the correctly rounded float32 result. The scan runs
the forms compiled as the kernel compiles them (fused multiply-adds); a few hundred points
also run as plain Python, which must agree with float64 to the same bounds."""
import math

import numpy as np
import pytest

from core import float32_math
from core.activations import ACTIVATIONS
from core.engine import compiled
from core.losses import LOSSES

F = np.float32
STEP = 997  # float32 bit patterns apart: about 1.1 million points per sign over [0, 120]


def _ulps(got, ref: np.ndarray) -> np.ndarray:
    """|got - ref| in ulps of ref rounded to float32 (subnormal ulps below 1.2e-38)."""
    spacing = np.spacing(np.abs(ref).astype(F)).astype(float)
    return np.abs(np.asarray(got, float) - ref) / spacing


def _inputs(top: float) -> np.ndarray:
    """Every STEP-th float32 in [0, top], both signs, and the points where a method switches
    (threshold +- a few ulp): they are where an error would hide."""
    positive = np.arange(0, np.float32(top).view(np.int32), STEP, dtype=np.int32).view(F)
    edges = np.array([4.51, 9.02, 9.1, 88.72284, 87.33655, 103.9, 1.0, 0.5, 2.0 ** -20,
                      1e-30, 1e-40], F)
    near = (edges[:, None].view(np.int32) + np.arange(-3, 4, dtype=np.int32)).view(F).ravel()
    values = np.concatenate([positive, near[(near >= 0) & (near <= top)]])
    return np.concatenate([values, -values])


CASES = {  # name: (the float32 function of z, its float64 reference, inputs' range, ulps)
    "exp32": (float32_math.exp32, np.exp, 103.0, 1.0),
    "log1p32": (float32_math.log1p32, np.log1p, 1.0, 1.0),
    "tanh32": (float32_math.tanh32, np.tanh, 20.0, 2.5),
    "sigmoid32": (float32_math.sigmoid32, lambda z: 1.0 / (1.0 + np.exp(-z)), 110.0, 2.5),
}


def _compiled(fn):
    if compiled.numba_module() is None:
        pytest.skip("Numba not installed")
    return compiled.jit_form(fn, **compiled.GRID_OPTIONS)


def _over(fn, z: np.ndarray) -> np.ndarray:
    numba = compiled.numba_module()

    @numba.njit(**compiled.GRID_OPTIONS)
    def each(z, out):
        for i in range(z.size):
            out[i] = fn(z[i])

    out = np.empty_like(z)
    each(z, out)
    return out


@pytest.mark.parametrize("name", sorted(CASES))
def test_compiled_within_its_bound_of_float64(name):
    fn, ref, top, bound = CASES[name]
    z = _inputs(top)
    if name == "log1p32":
        z = np.abs(z)  # its domain: u in [0, 1]
    if name == "exp32":
        z = z[z < 88.72]  # above, e^z is beyond float32 (tested below)
    got = _over(_compiled(fn), z)
    with np.errstate(over="ignore"):
        err = _ulps(got, ref(z.astype(float)))
    assert err.max() <= bound, f"{name}: {err.max():.2f} ulp at z = {z[np.argmax(err)]!r}"
    assert np.mean(err <= 0.5) > 0.85  # mostly correctly rounded, not just within the bound


@pytest.mark.parametrize("name", sorted(CASES))
def test_plain_python_gives_the_same_numbers(name):
    """The same source without Numba: within the bound too, a few hundred points."""
    fn, ref, top, bound = CASES[name]
    z = np.random.default_rng(0).uniform(0 if name == "log1p32" else -top, top, 300).astype(F)
    z = z[z < 88.72] if name == "exp32" else z
    got = np.array([fn(v) for v in z], float)
    assert _ulps(got, ref(z.astype(float))).max() <= bound


def test_the_ends_of_each_range():
    nan, inf = F(np.nan), F(np.inf)
    tanh, sigmoid, exp = map(_compiled, (float32_math.tanh32, float32_math.sigmoid32,
                                         float32_math.exp32))
    assert math.isnan(tanh(nan)) and math.isnan(sigmoid(nan)) and math.isnan(exp(nan))
    assert (tanh(inf), tanh(-inf), tanh(F(9.5)), tanh(F(-30))) == (1, -1, 1, -1)
    assert (sigmoid(inf), sigmoid(-inf), sigmoid(F(0))) == (1, 0, 0.5)
    assert (exp(inf), exp(F(89)), exp(-inf), exp(F(-110))) == (inf, inf, 0, 0)
    assert exp(F(-100)) == F(np.exp(-100.0))  # a subnormal result, rounded once
    assert sigmoid(F(-95)) == F(1 / (1 + np.exp(95.0)))  # tiny, yet right
    assert tanh(F(1e-30)) == F(1e-30)


def test_the_registry_forms_are_these():
    """tanh and sigmoid carry them as their f32 forms; bce, mse and huber their terms."""
    assert ACTIVATIONS["tanh"].scalar.f32 is float32_math.tanh32
    assert ACTIVATIONS["sigmoid"].scalar.f32 is float32_math.sigmoid32
    assert {n for n, l in LOSSES.items() if l.per_sample.term32} == {"mse", "bce", "huber"}


@pytest.mark.parametrize("y", [0.0, 1.0, 0.25])
def test_the_bce_term_within_2_ulp(y):
    term = _compiled(LOSSES["bce"].per_sample.term32)
    numba = compiled.numba_module()

    @numba.njit(**compiled.GRID_OPTIONS)
    def each(z, y, out):
        for i in range(z.size):
            out[i] = term(z[i], z[i], y)

    z = _inputs(110.0)
    got = np.empty_like(z)
    each(z, F(y), got)
    z64 = z.astype(float)
    ref = np.maximum(z64, 0) - z64 * float(F(y)) + np.log1p(np.exp(-np.abs(z64)))
    err = _ulps(got, ref)
    assert err.max() <= 2.0, f"{err.max():.2f} ulp at z = {z[np.argmax(err)]!r}"


@pytest.mark.parametrize("loss", ["mse", "huber"])
def test_the_other_terms_are_the_numpy_forms_per_element(loss):
    rng = np.random.default_rng(1)
    a, y = rng.normal(size=(2, 1, 1, 500)).astype(F) * 3
    term = LOSSES[loss].per_sample.term32
    got = np.mean([term(F(0), ai, yi) for ai, yi in zip(a.ravel(), y.ravel())])
    assert got == pytest.approx(LOSSES[loss].batched(a, a, y)[0], rel=1e-6)
