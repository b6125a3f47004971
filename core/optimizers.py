"""Optimisers, learning-rate schedules and gradient clipping, on lists of NumPy arrays.

Parameters and gradients are parallel lists (one weight matrix per level, then the biases).
Updates happen in place. The caller zeroes the gradient of frozen and absent weights first;
every rule below then leaves those entries exactly where they are. All state lives in
`Optimizer.state` (slot -> one array per parameter array) so the trainer can carry it across
a change of the graph's structure.
"""
from __future__ import annotations

import math

from typing import Any

import numpy as np

# Optimisers read a core.settings.TrainingSettings, which sits above the registries (it takes
# its lists of names from them), so it is not imported here.
TrainingSettings = Any

MAX_LEARNING_RATE = 1e6  # the largest learning rate settings accept (a schedule never exceeds it)


class Optimizer:
    slots: tuple[str, ...] = ()

    def __init__(self, settings: TrainingSettings) -> None:
        self.s = settings
        self.state: dict[str, list[np.ndarray]] = {}
        self.t = 0

    def reset(self) -> None:
        self.state, self.t = {}, 0

    def step(self, params: list[np.ndarray], grads: list[np.ndarray], lr: float) -> None:
        if not self.state or any(len(v) != len(params) or any(a.shape != p.shape for a, p in
                                                                 zip(v, params))
                                 for v in self.state.values()):
            self.state = {slot: [np.zeros_like(p) for p in params] for slot in self.slots}
        self.t += 1
        for i, (p, g) in enumerate(zip(params, grads)):
            self._update(p, g, lr, {slot: arrays[i] for slot, arrays in self.state.items()})

    def _update(self, p: np.ndarray, g: np.ndarray, lr: float, st: dict[str, np.ndarray]) -> None:
        raise NotImplementedError


class SGD(Optimizer):
    """(1) p <- p - lr g"""

    def _update(self, p, g, lr, st):
        p -= lr * g


class Momentum(Optimizer):
    """(2) v <- mu v - lr g;  p <- p + v   (classical momentum, Polyak 1964)"""

    slots = ("velocity",)

    def _update(self, p, g, lr, st):
        v = st["velocity"]
        v *= self.s.momentum
        v -= lr * g
        p += v


class Nesterov(Optimizer):
    """(3) v' = mu v - lr g(p);  p <- p - mu v + (1 + mu) v'

    Nesterov's look-ahead gradient g(p + mu v), rewritten for the current point (Sutskever et
    al. 2013; Bengio et al. 2012) so that the gradient is taken where the parameters are.
    """

    slots = ("velocity",)

    def _update(self, p, g, lr, st):
        v = st["velocity"]
        mu = self.s.momentum
        p -= mu * v
        v *= mu
        v -= lr * g
        p += (1.0 + mu) * v


class Adagrad(Optimizer):
    """(4) G <- G + g^2;  p <- p - lr g / (sqrt(G) + eps)   (Duchi et al. 2011)"""

    slots = ("sum_sq",)

    def _update(self, p, g, lr, st):
        acc = st["sum_sq"]
        acc += g * g
        p -= lr * g / (np.sqrt(acc) + self.s.epsilon)


class RMSprop(Optimizer):
    """(5) E <- rho E + (1 - rho) g^2;  p <- p - lr g / (sqrt(E) + eps)   (Hinton 2012)"""

    slots = ("mean_sq",)

    def _update(self, p, g, lr, st):
        e = st["mean_sq"]
        rho = self.s.rho
        e *= rho
        e += (1.0 - rho) * g * g
        p -= lr * g / (np.sqrt(e) + self.s.epsilon)


class Adam(Optimizer):
    """(6) m <- b1 m + (1-b1) g;  v <- b2 v + (1-b2) g^2;
    p <- p - lr m_hat / (sqrt(v_hat) + eps),  m_hat = m / (1 - b1^t),  v_hat = v / (1 - b2^t)
    (Kingma and Ba 2015, Algorithm 1)"""

    slots = ("m", "v")

    def _update(self, p, g, lr, st):
        b1, b2 = self.s.beta1, self.s.beta2
        m, v = st["m"], st["v"]
        m *= b1
        m += (1.0 - b1) * g
        v *= b2
        v += (1.0 - b2) * g * g
        m_hat = m / (1.0 - b1**self.t)
        v_hat = v / (1.0 - b2**self.t)
        p -= lr * m_hat / (np.sqrt(v_hat) + self.s.epsilon)


OPTIMIZER_CLASSES: dict[str, type[Optimizer]] = {
    "sgd": SGD, "momentum": Momentum, "nesterov": Nesterov, "adagrad": Adagrad,
    "rmsprop": RMSprop, "adam": Adam,
}


def make_optimizer(settings: TrainingSettings) -> Optimizer:
    try:
        return OPTIMIZER_CLASSES[settings.optimizer](settings)
    except KeyError:
        raise ValueError(f"unknown optimizer {settings.optimizer!r}; use one of "
                         f"{', '.join(OPTIMIZER_CLASSES)}") from None


def learning_rate(settings: TrainingSettings, step: int, epoch: int) -> float:
    """The rate for step `step` (0-based): none, step, exponential or inverse-time decay."""
    lr, rate, every = settings.learning_rate, settings.decay_rate, settings.decay_steps
    if settings.decay in ("step", "exponential"):
        power = math.floor(step / every) if settings.decay == "step" else step / every
        try:
            value = lr * rate ** power
        except OverflowError:  # a "decay" rate above 1 grows without bound
            value = math.inf
        # Capped at the largest rate a setting may hold: beyond it training diverges anyway,
        # and the trainer then reports that with the rate it used.
        return min(value, MAX_LEARNING_RATE)
    if settings.decay == "inverse_time":
        return lr / (1.0 + rate * step / every)
    return lr


def clip_gradients(grads: list[np.ndarray], clip_norm: float, clip_value: float) -> float:
    """Clip by value (if > 0), then by global norm (if > 0), in place.

    Returns the global norm before any clipping (inf or nan if a gradient is not finite).
    """
    norm = math.sqrt(sum(float(np.vdot(g, g)) for g in grads))
    if clip_value > 0:
        for g in grads:
            np.clip(g, -clip_value, clip_value, out=g)
    if clip_norm > 0:
        after = math.sqrt(sum(float(np.vdot(g, g)) for g in grads)) if clip_value > 0 else norm
        if after > clip_norm and math.isfinite(after):
            for g in grads:
                g *= clip_norm / after
    return norm
