"""Loss functions over a minibatch (rows are samples, columns the output neurons).

Each returns the mean loss and its gradient. Stable variants work from the output neurons'
net input z rather than their activation: binary cross-entropy on sigmoid outputs and
softmax cross-entropy (log-sum-exp), so huge logits give finite losses and exact gradients.

Definitions (B samples, K outputs, a = output activations, y = targets):
  mse:   L = 1/(B K) sum (a - y)^2                         dL/da = 2 (a - y) / (B K)
  huber: L = 1/(B K) sum h(a - y), h(r) = r^2/2 if |r| <= 1 else |r| - 1/2
  bce:   L = 1/(B K) sum -[y ln s(z) + (1-y) ln(1-s(z))]    dL/dz = (s(z) - y) / (B K)
  softmax_ce: p = softmax(a); L = 1/B sum -y ln p            dL/da = (p - y) / B
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from core.activations import sigmoid

HUBER_DELTA = 1.0


@dataclass(frozen=True)
class LossResult:
    value: float
    grad: np.ndarray  # dL/da, or dL/dz when wrt_net is True
    wrt_net: bool  # True: grad is with respect to the output neurons' net input


@dataclass(frozen=True)
class Loss:
    name: str
    title: str
    compute: Callable[[np.ndarray, np.ndarray, np.ndarray], LossResult]  # (z, a, y)
    needs_activation: str | None = None  # bce demands sigmoid outputs


def _mse(z: np.ndarray, a: np.ndarray, y: np.ndarray) -> LossResult:
    r = a - y
    n = r.size
    return LossResult(float(np.dot(r.ravel(), r.ravel()) / n), (2.0 / n) * r, False)


def _huber(z: np.ndarray, a: np.ndarray, y: np.ndarray) -> LossResult:
    r = a - y
    small = np.abs(r) <= HUBER_DELTA
    per = np.where(small, 0.5 * r * r, HUBER_DELTA * (np.abs(r) - 0.5 * HUBER_DELTA))
    grad = np.where(small, r, HUBER_DELTA * np.sign(r))
    return LossResult(float(per.mean()), grad / r.size, False)


def _bce(z: np.ndarray, a: np.ndarray, y: np.ndarray) -> LossResult:
    # -[y ln s(z) + (1-y) ln(1-s(z))] = max(z,0) - z y + ln(1 + e^-|z|)
    per = np.maximum(z, 0.0) - z * y + np.log1p(np.exp(-np.abs(z)))
    return LossResult(float(per.mean()), (sigmoid(z) - y) / z.size, True)


def softmax(a: np.ndarray) -> np.ndarray:
    shifted = a - a.max(axis=1, keepdims=True)
    e = np.exp(shifted)
    return e / e.sum(axis=1, keepdims=True)


def _softmax_ce(z: np.ndarray, a: np.ndarray, y: np.ndarray) -> LossResult:
    shifted = a - a.max(axis=1, keepdims=True)
    log_p = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    b = a.shape[0]
    value = float(-(y * log_p).sum() / b)
    return LossResult(value, (np.exp(log_p) - y) / b, False)


LOSSES: dict[str, Loss] = {
    l.name: l
    for l in (
        Loss("mse", "mean squared error", _mse),
        Loss("bce", "binary cross-entropy (sigmoid outputs)", _bce, needs_activation="sigmoid"),
        Loss("softmax_ce", "categorical cross-entropy (softmax over outputs)", _softmax_ce),
        Loss("huber", "Huber (delta 1)", _huber),
    )
}


def predictions(loss: str, a: np.ndarray) -> np.ndarray:
    """What the net predicts: the outputs' activations, or softmax of them for softmax_ce."""
    return softmax(a) if loss == "softmax_ce" else a
