"""Activation functions and everything else about each of them, in one registry entry.

Each derivative takes both the net input z and the output a = f(z), so it can use whichever is
cheaper and more stable (sigmoid' = a(1-a), tanh' = 1-a^2).

An entry is all the app knows about an activation: the engine, canvas, file schema, exports,
step-through and training's health check read it from here. Adding one is one entry in
ACTIVATIONS (and its tests); tests/core/test_registry_extension.py shows one added.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np

from core.float32_math import sigmoid32, tanh32
from core.number_text import factor, fmt

LEAKY_SLOPE = 0.01
ELU_ALPHA = 1.0

# The activation a new neuron of each role gets unless one is chosen (palette, file, import).
DEFAULT_ACTIVATION = {"input": "identity", "hidden": "sigmoid", "output": "sigmoid"}

# op(kind, inputs, **attributes) -> the name of the node's output: appends one ONNX node.
OnnxOp = Callable[..., str]


@dataclass(frozen=True)
class Scalar:
    """An activation on one number, in plain Python that Numba can compile: self-contained
    (math and constants only; Numba cannot call another plain function), no arrays. The
    compiled training path (core.engine.compiled) runs these. Same operations in the same
    order as the entry's NumPy form, so the numbers agree to rounding."""

    f: Callable[[float], float]
    df: Callable[[float, float], float]  # (z, a) -> f'(z)
    # f on float32 in float32 arithmetic, where f would call libm (the loss grid's kernel
    # needs tens of millions and libm takes one at a time): within a few ulp, not to rounding.
    # None: the grid runs f and rounds.
    f32: Callable[[float], float] | None = None


@dataclass(frozen=True)
class Activation:
    name: str
    formula: str  # how the GUI writes it
    derivative_formula: str
    f: Callable[[np.ndarray], np.ndarray]
    df: Callable[[np.ndarray, np.ndarray], np.ndarray]  # (z, a) -> f'(z)
    glyph: str = ""  # the short text on the canvas neuron (the name when empty)
    # ONNX form: (op, z) -> output, appending nodes through op; core never imports onnx.
    onnx: Callable[[OnnxOp, str], str] | None = None
    numpy_source: str = ""  # a NumPy expression in z for the standalone Python export
    # Step-through: (net, a, f'(net)) -> ("a = ..." text, "f'(net) = ..." text, the rule).
    explain: Callable[[float, float, float], tuple[str, str, str]] | None = None
    # Training's health check: (z, a) of one neuron over samples -> a warning, or None.
    health: Callable[[np.ndarray, np.ndarray], str | None] | None = None
    # The layered fast path's specialisations; without them it uses f and df.
    inplace: Callable[[np.ndarray], np.ndarray] | None = None  # f, overwriting z
    from_output: Callable[[np.ndarray], np.ndarray] | None = None  # f' from a alone
    # from_output written into `out` (a, out) -> out, its operations in from_output's order:
    # the fast path's reused buffers (no allocation per step).
    from_output_into: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None
    unit_slope: bool = False  # f' = 1 everywhere: the engine skips multiplying by it
    # f''(z) from (z, a), for the curvature passes (core.engine.plane_taylor,
    # hessian_columns); without it, second_derivative takes a central difference of df.
    d2f: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None
    # The compiled path's form; without it a net using this activation trains in NumPy.
    scalar: Scalar | None = None

    def label(self) -> str:
        return self.glyph or self.name

    def second_derivative(self, z: np.ndarray, a: np.ndarray) -> np.ndarray:
        """f''(z): d2f, else a central difference of df (an entry added without d2f, as
        tests/core/test_registry_extension.py adds one)."""
        if self.d2f is not None:
            return self.d2f(z, a)
        h = 1e-5 * (1.0 + np.abs(z))
        up, down = z + h, z - h
        return (self.df(up, self.f(up)) - self.df(down, self.f(down))) / (2.0 * h)

    def onnx_nodes(self, op: OnnxOp, z: str) -> str:
        if self.onnx is None:
            raise ValueError(f"the {self.name} activation has no ONNX form")
        return self.onnx(op, z)

    def explanation(self, net: float, a: float, d: float) -> tuple[str, str, str]:
        """(a = ..., f'(net) = ..., the rule's name) for one neuron, numbers substituted."""
        if self.explain is not None:
            return self.explain(net, a, d)
        # An activation without its own text still shows its numbers.
        return f"{self.name}({fmt(net)}) = {fmt(a)}", fmt(d), f"local derivative of {self.name}"


def onnx_op(kind: str, **attrs) -> Callable[[OnnxOp, str], str]:
    """The ONNX form of an activation that is one ONNX operator."""
    return lambda op, z: op(kind, [z], **attrs)


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


def _sigmoid_inplace(z: np.ndarray) -> np.ndarray:
    z *= 0.5
    np.tanh(z, out=z)
    z += 1.0
    z *= 0.5
    return z


def _sigmoid_slope_into(a: np.ndarray, out: np.ndarray) -> np.ndarray:
    np.subtract(1.0, a, out=out)
    out *= a  # (1 - a) a: the same product as a (1 - a)
    return out


def _tanh_slope_into(a: np.ndarray, out: np.ndarray) -> np.ndarray:
    np.multiply(a, a, out=out)
    return np.subtract(1.0, out, out=out)


def _softplus_d2f(z: np.ndarray, a: np.ndarray) -> np.ndarray:
    s = sigmoid(z)  # softplus' is the sigmoid, so softplus'' is its slope
    return s * (1.0 - s)


def _softplus(z: np.ndarray) -> np.ndarray:
    return np.logaddexp(0.0, z)


def _elu(z: np.ndarray) -> np.ndarray:
    return np.where(z > 0, z, ELU_ALPHA * np.expm1(np.minimum(z, 0.0)))


def _sigmoid_scalar(z: float) -> float:
    return (math.tanh(z * 0.5) + 1.0) * 0.5  # sigmoid()'s steps, in its order


def _relu_scalar(z: float) -> float:
    return z if z > 0.0 or z != z else 0.0  # NaN stays NaN, as in np.maximum


def _elu_scalar(z: float) -> float:
    return z if z > 0.0 else ELU_ALPHA * math.expm1(min(z, 0.0))


def _softplus_scalar(z: float) -> float:
    # np.logaddexp(0, z): the larger of the two plus log1p(e^-|difference|)
    if z == 0.0:
        return math.log(2.0)
    return z + math.log1p(math.exp(-z)) if z > 0.0 else math.log1p(math.exp(z))


def _side(net: float) -> str:
    return "net > 0" if net > 0 else "net <= 0"


def _explain_sigmoid(net: float, a: float, d: float) -> tuple[str, str, str]:
    return (f"σ(net) = 1/(1 + e^-{factor(net)}) = {fmt(a)}",
            f"a(1 - a) = {fmt(a)}·(1 - {fmt(a)}) = {fmt(d)}",
            "local derivative of the sigmoid: σ(1 - σ)")


def _explain_elu(net: float, a: float, d: float) -> tuple[str, str, str]:
    if net > 0:
        return f"net = {fmt(a)}", f"1 = {fmt(d)}   (net > 0)", "ELU is the identity above 0"
    return (f"e^{factor(net)} - 1 = {fmt(a)}",
            f"a + {fmt(ELU_ALPHA)} = {fmt(a)} + {fmt(ELU_ALPHA)} = {fmt(d)}   (net <= 0)",
            "below 0 the ELU's slope is e^net = a + 1")


def _dead_relu(z: np.ndarray, a: np.ndarray) -> str | None:
    return "dead ReLU: its net input is negative for every sample" if np.all(z <= 0) else None


def _saturated_sigmoid(z: np.ndarray, a: np.ndarray) -> str | None:
    if np.mean((a < 0.01) | (a > 0.99)) >= 0.9:
        return "saturated sigmoid: output near 0 or 1 for most samples"
    return None


def _saturated_tanh(z: np.ndarray, a: np.ndarray) -> str | None:
    if np.mean(np.abs(a) > 0.99) >= 0.9:
        return "saturated tanh: output near -1 or 1 for most samples"
    return None


ACTIVATIONS: dict[str, Activation] = {
    a.name: a
    for a in (
        Activation(
            "identity", "z", "1", lambda z: z.copy(), lambda z, a: np.ones_like(z), glyph="lin",
            onnx=onnx_op("Identity"), numpy_source="z",
            explain=lambda net, a, d: (f"net = {fmt(a)}", "1", "identity: a = net, slope 1"),
            inplace=lambda z: z, unit_slope=True, scalar=Scalar(lambda z: z, lambda z, a: 1.0),
            d2f=lambda z, a: np.zeros_like(z)),
        Activation(
            "sigmoid", "1/(1+e^-z)", "a(1-a)", sigmoid, lambda z, a: a * (1.0 - a), glyph="σ",
            onnx=onnx_op("Sigmoid"), numpy_source="0.5 * (1.0 + np.tanh(0.5 * z))",
            explain=_explain_sigmoid, health=_saturated_sigmoid, inplace=_sigmoid_inplace,
            from_output=lambda a: a * (1.0 - a), from_output_into=_sigmoid_slope_into,
            scalar=Scalar(_sigmoid_scalar, lambda z, a: a * (1.0 - a), sigmoid32),
            d2f=lambda z, a: a * (1.0 - a) * (1.0 - 2.0 * a)),
        Activation(
            "tanh", "tanh(z)", "1-a^2", np.tanh, lambda z, a: 1.0 - a * a, glyph="tanh",
            onnx=onnx_op("Tanh"), numpy_source="np.tanh(z)",
            explain=lambda net, a, d: (f"tanh({fmt(net)}) = {fmt(a)}",
                                       f"1 - a² = 1 - {factor(a)}² = {fmt(d)}",
                                       "local derivative of tanh: 1 - tanh²"),
            health=_saturated_tanh, inplace=lambda z: np.tanh(z, out=z),
            from_output=lambda a: 1.0 - a * a, from_output_into=_tanh_slope_into,
            scalar=Scalar(math.tanh, lambda z, a: 1.0 - a * a, tanh32),
            d2f=lambda z, a: -2.0 * a * (1.0 - a * a)),
        Activation(
            "relu", "max(0, z)", "1 if z>0 else 0", lambda z: np.maximum(z, 0.0),
            lambda z, a: (z > 0).astype(z.dtype), glyph="ReLU", onnx=onnx_op("Relu"),
            numpy_source="np.maximum(z, 0.0)",
            explain=lambda net, a, d: (
                f"max(0, {fmt(net)}) = {fmt(a)}", f"1 if net > 0 else 0 = {fmt(d)}   ({_side(net)})",
                "ReLU passes the gradient where net > 0 and blocks it elsewhere"),
            health=_dead_relu, inplace=lambda z: np.maximum(z, 0.0, out=z),
            from_output=lambda a: (a > 0.0).astype(a.dtype),
            from_output_into=lambda a, out: np.greater(a, 0.0, out=out),
            scalar=Scalar(_relu_scalar, lambda z, a: 1.0 if z > 0.0 else 0.0),
            d2f=lambda z, a: np.zeros_like(z)),  # 0 but at the kink, where it has none
        Activation(
            "leaky_relu", f"z if z>0 else {LEAKY_SLOPE}z", f"1 if z>0 else {LEAKY_SLOPE}",
            lambda z: np.where(z > 0, z, LEAKY_SLOPE * z),
            lambda z, a: np.where(z > 0, 1.0, LEAKY_SLOPE).astype(z.dtype), glyph="lReLU",
            onnx=onnx_op("LeakyRelu", alpha=LEAKY_SLOPE),
            numpy_source=f"np.where(z > 0, z, {LEAKY_SLOPE!r} * z)",
            explain=lambda net, a, d: (
                f"net if net > 0 else {LEAKY_SLOPE}·net = {fmt(a)}",
                f"1 if net > 0 else {LEAKY_SLOPE} = {fmt(d)}   ({_side(net)})",
                f"leaky ReLU keeps a slope of {LEAKY_SLOPE} below 0"),
            scalar=Scalar(lambda z: z if z > 0.0 else LEAKY_SLOPE * z,
                          lambda z, a: 1.0 if z > 0.0 else LEAKY_SLOPE),
            d2f=lambda z, a: np.zeros_like(z)),
        Activation(
            "elu", "z if z>0 else e^z-1", "1 if z>0 else a+1", _elu,
            lambda z, a: np.where(z > 0, 1.0, a + ELU_ALPHA).astype(z.dtype), glyph="ELU",
            onnx=onnx_op("Elu", alpha=ELU_ALPHA),
            numpy_source=f"np.where(z > 0, z, {ELU_ALPHA!r} * np.expm1(np.minimum(z, 0.0)))",
            explain=_explain_elu,
            scalar=Scalar(_elu_scalar, lambda z, a: 1.0 if z > 0.0 else a + ELU_ALPHA),
            d2f=lambda z, a: np.where(z > 0, 0.0, a + ELU_ALPHA).astype(z.dtype)),
        Activation(
            "softplus", "ln(1+e^z)", "1/(1+e^-z)", _softplus, lambda z, a: sigmoid(z),
            glyph="soft+", onnx=onnx_op("Softplus"), numpy_source="np.logaddexp(0.0, z)",
            explain=lambda net, a, d: (f"ln(1 + e^{factor(net)}) = {fmt(a)}",
                                       f"σ(net) = σ({fmt(net)}) = {fmt(d)}",
                                       "the softplus's slope is the sigmoid"),
            scalar=Scalar(_softplus_scalar, lambda z, a: (math.tanh(z * 0.5) + 1.0) * 0.5),
            d2f=_softplus_d2f),
    )
}
