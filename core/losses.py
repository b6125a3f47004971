"""Loss functions over a minibatch (rows are samples, columns the output neurons), and all
else about each of them, in one registry entry.

Each returns the mean loss and its gradient. Stable variants work from the output neurons'
net input z rather than their activation: binary cross-entropy on sigmoid outputs and
softmax cross-entropy (log-sum-exp), so huge logits give finite losses and exact gradients.

Definitions (B samples, K outputs, a = output activations, y = targets):
  mse:   L = 1/(B K) sum (a - y)^2                         dL/da = 2 (a - y) / (B K)
  huber: L = 1/(B K) sum h(a - y), h(r) = r^2/2 if |r| <= 1 else |r| - 1/2  (delta 1)
  bce:   L = 1/(B K) sum -[y ln s(z) + (1-y) ln(1-s(z))]    dL/dz = (s(z) - y) / (B K)
  softmax_ce: p = softmax(a); L = 1/B sum -y ln p            dL/da = (p - y) / B

An entry is all the app knows about a loss: the engine, surface, settings, exports, accuracy
and step-through read it from here. An entry may carry an in-place form of `compute` (`into`),
which training steps use to write into reused arrays instead of making new ones. Adding one is one entry in LOSSES (and its tests);
tests/core/test_registry_extension.py shows one added.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable, NamedTuple

import numpy as np

from core.activations import OnnxOp, sigmoid
from core.float32_math import exp32, log1p32
from core.number_text import factor, fmt

HUBER_DELTA = 1.0
ANY_NUMBER = "any number per output"  # what a target means, unless a loss says otherwise


class LossResult(NamedTuple):
    """A loss on a batch (a NamedTuple: every training step makes one)."""

    value: float
    grad: np.ndarray  # dL/da, or dL/dz when wrt_net is True
    wrt_net: bool  # True: grad is with respect to the output neurons' net input


@dataclass(frozen=True)
class Explanation:
    """One step-through event's text for a loss, numbers substituted."""

    rule: str
    lines: tuple[str, ...]
    values: dict[str, float] = field(default_factory=dict)  # every extra number shown
    slope: float | None = None  # an output's dL/da; None when the lines give dL/dnet itself


# (a, y, value, ids) of one sample -> the loss event; a, y are the outputs' and targets'
# vectors, ids the output neurons' (for per-output values, keyed "name:id").
ExplainValue = Callable[[np.ndarray, np.ndarray, float, tuple[str, ...]], Explanation]
# (a, y, i, name, delta) -> output i's event: dL/da (or dL/dnet when the loss gives that).
ExplainSlope = Callable[[np.ndarray, np.ndarray, int, str, float], Explanation]


@dataclass(frozen=True)
class LossWork:
    """Arrays an in-place loss form writes into, made once per batch shape and reused.

    NumPy lays out a result (C or Fortran order) from its operands' layouts, and a sum over a
    result adds in its memory order: for the same numbers as `compute` bit for bit, each array
    here is laid out as the `compute` temporary it stands for (the engine passes outputs that
    are transposes of its (neurons x samples) rows, and C-ordered targets).
    """

    grad: np.ndarray  # laid out as a - y: the gradient, and the per-element losses before it
    product: np.ndarray  # laid out as y * a
    work: np.ndarray  # two arrays laid out as a
    work2: np.ndarray
    rows: np.ndarray  # (samples, 1)

    @classmethod
    def like(cls, a: np.ndarray, y: np.ndarray) -> "LossWork":
        """Work arrays for outputs laid out as `a` (z too) and targets as `y`; NumPy itself
        says the layouts of a - y and y * a, by doing each once."""
        return cls(np.subtract(a, y), np.multiply(y, a), np.empty_like(a), np.empty_like(a),
                   np.empty((a.shape[0], 1), a.dtype))


@dataclass(frozen=True)
class PerSample:
    """A loss on one sample, in plain Python over small arrays that Numba can compile: the
    compiled training path (core.engine.compiled) runs it. fn(z, a, y, g, b) writes into g
    the gradient of the batch mean with respect to this sample's outputs (a, or z when
    wrt_net) for a batch of b samples, and returns this sample's share of the mean."""

    fn: Callable[[np.ndarray, np.ndarray, np.ndarray, np.ndarray, int], float]
    wrt_net: bool = False
    # For a loss that is the mean of one term per output and sample: term32(z, a, y) of one
    # output, on float32 numbers, no gradient. The loss grid's kernel sums it; without it the
    # grid calls fn sample by sample.
    term32: Callable[[float, float, float], float] | None = None


@dataclass(frozen=True)
class Loss:
    name: str
    title: str
    compute: Callable[[np.ndarray, np.ndarray, np.ndarray], LossResult]  # (z, a, y)
    # The same mean loss for K nets at once, arrays (K, outputs, samples) -> (K,): the surface.
    batched: Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]
    explain_value: ExplainValue
    explain_slope: ExplainSlope
    needs_activation: str | None = None  # bce demands sigmoid outputs
    min_outputs: int = 1
    too_few_outputs: str = ""  # why, when a net has fewer than min_outputs outputs
    targets: str = ANY_NUMBER  # what a target value means
    # What the net predicts from its outputs' activations (samples x outputs), in NumPy, in
    # ONNX nodes (op, outputs) -> name, and as the body of the Python export's _output(out).
    predict: Callable[[np.ndarray], np.ndarray] = lambda a: a
    onnx_predict: Callable[[OnnxOp, str], str] | None = None
    numpy_predict: str = "return out"
    # The compiled path's form; without it training with this loss runs in NumPy.
    per_sample: PerSample | None = None
    # compute without new arrays: (z, a, y, LossWork) -> the LossResult, its gradient in the
    # LossWork's grad array (valid until the next call); compute's operations in its order, so
    # the same numbers bit for bit. Without it training steps call compute.
    into: Callable[[np.ndarray, np.ndarray, np.ndarray, LossWork], LossResult] | None = None

    def compute_reusing(self, z: np.ndarray, a: np.ndarray, y: np.ndarray,
                        store: Callable[[tuple, Callable[[], LossWork]], LossWork]
                        ) -> LossResult:
        """compute(z, a, y), by `into` when the entry has it and z is laid out as a, its
        LossWork kept by store(key, make) (Plan.buffer) from one batch to the next."""
        if self.into is None or z.strides != a.strides:
            return self.compute(z, a, y)
        key = ("loss", a.shape, a.strides, y.strides, a.dtype)
        return self.into(z, a, y, store(key, lambda: LossWork.like(a, y)))


def _per(k: int) -> str:
    return f" / {k}" if k > 1 else ""


def _averaged(k: int) -> str:
    return f", averaged over {k} outputs" if k > 1 else ""


def _mse(z: np.ndarray, a: np.ndarray, y: np.ndarray) -> LossResult:
    r = a - y
    n = r.size
    return LossResult(float(np.dot(r.ravel(), r.ravel()) / n), (2.0 / n) * r, False)


def _mse_into(z: np.ndarray, a: np.ndarray, y: np.ndarray, w: LossWork) -> LossResult:
    r = np.subtract(a, y, out=w.grad)
    flat = r.ravel()  # C order, as _mse's ravel (a view unless the arrays are Fortran-ordered)
    n = r.size
    value = float(np.dot(flat, flat) / n)
    r *= 2.0 / n
    return LossResult(value, r, False)


def _mse_sample(z, a, y, g, b):
    n = b * a.size
    total = 0.0
    for i in range(a.size):
        r = a[i] - y[i]
        total += r * r
        g[i] = (2.0 / n) * r
    return total / n


def _mse_term32(z, a, y):
    r = a - y
    return r * r


def _mse_value(a: np.ndarray, y: np.ndarray, value: float, ids: tuple[str, ...]) -> Explanation:
    k = len(a)
    return Explanation(
        "Mean squared error between the outputs and the target.",
        ("L = (a - t)²" + _averaged(k),
         "  = " + " + ".join(f"({factor(ai)} - {factor(yi)})²" for ai, yi in zip(a, y)) + _per(k),
         f"  = {fmt(value)}"))


def _mse_slope(a: np.ndarray, y: np.ndarray, i: int, name: str, delta: float) -> Explanation:
    k, per = len(a), f"/{len(a)}" if len(a) > 1 else ""
    grad = 2.0 * (a[i] - y[i]) / k
    return Explanation(
        "Derivative of the squared error: 2(a - t).",
        (f"∂L/∂a({name}) = 2(a - t){per} = 2·({fmt(a[i])} - {fmt(y[i])}){per} = {fmt(grad)}",),
        slope=grad)


def _huber_each(r: np.ndarray) -> np.ndarray:
    """h(r) elementwise: r²/2 if |r| <= delta, else delta (|r| - delta/2)."""
    r = np.abs(r)
    return np.where(r <= HUBER_DELTA, 0.5 * r * r, HUBER_DELTA * (r - 0.5 * HUBER_DELTA))


def _huber(z: np.ndarray, a: np.ndarray, y: np.ndarray) -> LossResult:
    r = a - y
    grad = np.where(np.abs(r) <= HUBER_DELTA, r, HUBER_DELTA * np.sign(r))
    return LossResult(float(_huber_each(r).mean()), grad / r.size, False)


def _huber_sample(z, a, y, g, b):
    n = b * a.size
    total = 0.0
    for i in range(a.size):
        r = a[i] - y[i]
        if abs(r) <= HUBER_DELTA:
            total += 0.5 * r * r
            g[i] = r / n
        else:
            total += HUBER_DELTA * (abs(r) - 0.5 * HUBER_DELTA)
            g[i] = HUBER_DELTA * (1.0 if r > 0.0 else -1.0 if r < 0.0 else r) / n
    return total / n


def _huber_term32(z, a, y):
    r = abs(a - y)
    if r <= HUBER_DELTA:
        return np.float32(0.5) * r * r
    return np.float32(HUBER_DELTA) * (r - np.float32(0.5 * HUBER_DELTA))


_H = (f"h(r) = r²/2 if |r| <= {fmt(HUBER_DELTA)} else "
      + ("|r| - 1/2" if HUBER_DELTA == 1 else f"{fmt(HUBER_DELTA)}(|r| - {fmt(HUBER_DELTA)}/2)"))


def _huber_value(a: np.ndarray, y: np.ndarray, value: float, ids: tuple[str, ...]) -> Explanation:
    k = len(a)
    return Explanation(
        "Huber loss: squared for small errors, linear for large ones.",
        (f"L = h(a - t), {_H}" + _averaged(k),
         "  = " + " + ".join(f"h({factor(ai)} - {factor(yi)})" for ai, yi in zip(a, y)) + _per(k),
         "  = " + " + ".join(fmt(float(_huber_each(ri))) for ri in a - y) + _per(k),
         f"  = {fmt(value)}"))


def _huber_slope(a: np.ndarray, y: np.ndarray, i: int, name: str, delta: float) -> Explanation:
    k, per = len(a), f"/{len(a)}" if len(a) > 1 else ""
    r = a[i] - y[i]
    small = abs(r) <= HUBER_DELTA
    grad = (r if small else HUBER_DELTA * float(np.sign(r))) / k
    form = "(a - t)" if small else ("sign(a - t)" if HUBER_DELTA == 1
                                    else f"{fmt(HUBER_DELTA)}·sign(a - t)")
    numbers = form.replace("a - t", f"{fmt(a[i])} - {fmt(y[i])}")
    return Explanation(
        f"Huber loss: its slope is the error, capped at ±{fmt(HUBER_DELTA)}.",
        (f"∂L/∂a({name}) = {form}{per} = {numbers}{per} = {fmt(grad)}",), slope=grad)


def _bce(z: np.ndarray, a: np.ndarray, y: np.ndarray) -> LossResult:
    return LossResult(float(_bce_each(z, y).mean()), (sigmoid(z) - y) / z.size, True)


def _bce_each(z: np.ndarray, y: np.ndarray) -> np.ndarray:
    # -[y ln s(z) + (1-y) ln(1-s(z))] = max(z,0) - z y + ln(1 + e^-|z|)
    return np.maximum(z, 0.0) - z * y + np.log1p(np.exp(-np.abs(z)))


def _bce_into(z: np.ndarray, a: np.ndarray, y: np.ndarray, w: LossWork) -> LossResult:
    each = np.maximum(z, 0.0, out=w.grad)  # _bce_each, its terms in its order
    each -= np.multiply(z, y, out=w.product)
    soft = np.abs(z, out=w.work)
    np.negative(soft, out=soft)
    np.exp(soft, out=soft)
    np.log1p(soft, out=soft)
    each += soft
    value = float(each.mean())
    s = np.multiply(z, 0.5, out=w.work)  # sigmoid(z), its steps in its order
    np.tanh(s, out=s)
    s += 1.0
    s *= 0.5
    grad = np.subtract(s, y, out=w.grad)
    grad /= z.size
    return LossResult(value, grad, True)


def _bce_sample(z, a, y, g, b):
    n = b * z.size
    total = 0.0
    for i in range(z.size):
        total += max(z[i], 0.0) - z[i] * y[i] + math.log1p(math.exp(-abs(z[i])))
        g[i] = ((math.tanh(z[i] * 0.5) + 1.0) * 0.5 - y[i]) / n  # sigmoid() in its order
    return total / n


def _bce_term32(z, a, y):
    """_bce_each on float32 numbers without libm (core.float32_math), within 2 ulp (tests)."""
    return max(z, np.float32(0.0)) - z * y + log1p32(exp32(-abs(z)))


def _bce_value(a: np.ndarray, y: np.ndarray, value: float, ids: tuple[str, ...]) -> Explanation:
    k = len(a)
    terms = " + ".join(f"-[{factor(yi)}·ln {factor(ai)} + (1 - {factor(yi)})·ln(1 - {factor(ai)})]"
                       for yi, ai in zip(y, a))
    return Explanation(
        "Binary cross-entropy: -ln of the probability the sigmoid gave the target.",
        ("L = -[t·ln a + (1 - t)·ln(1 - a)]" + _averaged(k),
         f"  = {terms}" + _per(k), f"  = {fmt(value)}"))


def _bce_slope(a: np.ndarray, y: np.ndarray, i: int, name: str, delta: float) -> Explanation:
    # The loss hands back dL/dnet directly (the stable form).
    per = f"/{len(a)}" if len(a) > 1 else ""
    return Explanation(
        "Sigmoid and cross-entropy combined: the sigmoid's a(1 - a) cancels the loss's "
        "1/(a(1 - a)), leaving a - t.",
        (f"δ({name}) = ∂L/∂net = (a - t){per} = ({fmt(a[i])} - {fmt(y[i])}){per}"
         f" = {fmt(delta)}",))


def softmax(a: np.ndarray) -> np.ndarray:
    shifted = a - a.max(axis=1, keepdims=True)
    e = np.exp(shifted)
    return e / e.sum(axis=1, keepdims=True)


def _log_softmax(a: np.ndarray, axis: int) -> np.ndarray:
    shifted = a - a.max(axis=axis, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))


def _softmax_ce(z: np.ndarray, a: np.ndarray, y: np.ndarray) -> LossResult:
    log_p = _log_softmax(a, 1)
    b = a.shape[0]
    value = float(-(y * log_p).sum() / b)
    return LossResult(value, (np.exp(log_p) - y) / b, False)


def _softmax_ce_into(z: np.ndarray, a: np.ndarray, y: np.ndarray, w: LossWork) -> LossResult:
    b = a.shape[0]
    top = np.max(a, axis=1, keepdims=True, out=w.rows)  # _log_softmax, in its order
    log_p = np.subtract(a, top, out=w.work)
    e = np.exp(log_p, out=w.work2)
    total = np.add.reduce(e, axis=1, keepdims=True, out=w.rows)  # ndarray.sum's reduction
    np.log(total, out=total)
    log_p -= total
    product = np.multiply(y, log_p, out=w.product)
    value = float(-np.add.reduce(product, axis=None) / b)
    grad = np.subtract(np.exp(log_p, out=w.work2), y, out=w.grad)
    grad /= b
    return LossResult(value, grad, False)


def _softmax_ce_sample(z, a, y, g, b):
    top = a.max()
    total = 0.0
    for i in range(a.size):
        total += math.exp(a[i] - top)
    log_total = math.log(total)
    value = 0.0
    for i in range(a.size):
        log_p = (a[i] - top) - log_total
        value -= y[i] * log_p
        g[i] = (math.exp(log_p) - y[i]) / b
    return value / b


def _softmax_ce_value(a: np.ndarray, y: np.ndarray, value: float, ids: tuple[str, ...]) -> Explanation:
    p = softmax(a.reshape(1, -1))[0]
    return Explanation(
        "Softmax turns the outputs into probabilities; cross-entropy is -ln of the "
        "probability given to the right class.",
        (f"p = softmax(a) = ({', '.join(fmt(pi) for pi in p)})",
         "      p(i) = e^a(i) / Σ e^a(j)",
         "L = -Σ t·ln p = " + " + ".join(f"-{factor(yi)}·ln {factor(pi)}" for yi, pi in zip(y, p)),
         f"  = {fmt(value)}"),
        values={f"p:{o}": float(pi) for o, pi in zip(ids, p)})


def _softmax_ce_slope(a: np.ndarray, y: np.ndarray, i: int, name: str,
                      delta: float) -> Explanation:
    p = softmax(a.reshape(1, -1))[0][i]
    grad = float(p - y[i])
    return Explanation(
        "Softmax with cross-entropy: the derivative at each output is p - t.",
        (f"∂L/∂a({name}) = p - t = {fmt(p)} - {fmt(y[i])} = {fmt(grad)}",),
        values={"p": float(p)}, slope=grad)


# Which time steps of a sequence the loss reads (training.sequence_loss; core.engine.recurrent):
# name -> what it means, said in the settings' tips.
SEQUENCE_LOSSES: dict[str, str] = {
    "every": "the loss at every time step, averaged over the steps and sequences",
    "last": "the loss at each sequence's last step only, averaged over the sequences",
}


LOSSES: dict[str, Loss] = {
    l.name: l
    for l in (
        Loss("mse", "mean squared error", _mse,
             lambda z, a, y: np.mean((a - y) ** 2, axis=(1, 2)), _mse_value, _mse_slope,
             per_sample=PerSample(_mse_sample, term32=_mse_term32), into=_mse_into),
        Loss("bce", "binary cross-entropy (sigmoid outputs)", _bce,
             lambda z, a, y: np.mean(_bce_each(z, y), axis=(1, 2)), _bce_value, _bce_slope,
             needs_activation="sigmoid", targets="0 or 1 per output",
             per_sample=PerSample(_bce_sample, wrt_net=True, term32=_bce_term32), into=_bce_into),
        Loss("softmax_ce", "categorical cross-entropy (softmax over outputs)", _softmax_ce,
             lambda z, a, y: -np.sum(y * _log_softmax(a, 1), axis=(1, 2)) / a.shape[2],
             _softmax_ce_value, _softmax_ce_slope, min_outputs=2,
             too_few_outputs="softmax cross-entropy needs at least two output neurons "
                             "(one per class)",
             targets="one-hot class (1 for the right class, 0 elsewhere)", predict=softmax,
             onnx_predict=lambda op, out: op("Softmax", [out], axis=1),
             numpy_predict="e = np.exp(out - out.max(axis=1, keepdims=True))\n"
                           "return e / e.sum(axis=1, keepdims=True)",
             per_sample=PerSample(_softmax_ce_sample), into=_softmax_ce_into),
        Loss("huber", f"Huber (delta {fmt(HUBER_DELTA)})", _huber,
             lambda z, a, y: np.mean(_huber_each(a - y), axis=(1, 2)), _huber_value,
             _huber_slope, per_sample=PerSample(_huber_sample, term32=_huber_term32)),
    )
}


# The loss the app switches to for targets of several classes (one-hot), e.g. on CSV import.
CLASSES_LOSS = "softmax_ce"


def predictions(loss: str, a: np.ndarray) -> np.ndarray:
    """What the net predicts: the outputs' activations, or softmax of them for softmax_ce."""
    return LOSSES[loss].predict(a)
