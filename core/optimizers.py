"""Optimisers, learning-rate schedules and gradient clipping, on lists of NumPy arrays.

Parameters and gradients are parallel lists (one weight matrix per level, then the biases).
Updates happen in place, or, for one flat vector, into a second vector (step_flat's `out`: the
trainer keeps the previous parameters there for a rollback instead of copying them). The
caller zeroes the gradient of frozen and absent weights first;
every rule below then leaves those entries exactly where they are. All state lives in
`Optimizer.state` (slot -> one array per parameter array) so the trainer can carry it across
a change of the graph's structure.
"""
from __future__ import annotations

import math

from typing import Any, Callable, Protocol

import numpy as np

# Optimisers read a core.settings.TrainingSettings, which sits above the registries (it takes
# its lists of names from them), so it is not imported here.
TrainingSettings = Any

MAX_LEARNING_RATE = 1e6  # the largest learning rate settings accept (a schedule never exceeds it)
# The settings a compiled update reads, in the order of its `h` argument (see Optimizer.kernel).
KERNEL_SETTINGS = ("momentum", "beta1", "beta2", "rho", "epsilon")


class Optimizer:
    title = ""  # one line for the settings panel's choice
    # A second-order rule reads the loss itself, not only its gradient: the trainer sets
    # `loss` (a MinibatchLoss) before each step_flat.
    second_order = False
    slots: tuple[str, ...] = ()
    # The compiled path's form of the update: kernel(p, g, lr, st, t, h) on flat vectors of
    # the training dtype (compiled for float64 and for float32), st[k] the state of slots[k],
    # t the step count after this step, h the values of KERNEL_SETTINGS (float64); plain
    # Python loops that Numba compiles, the NumPy update's operations in its order. None:
    # training with this rule stays in NumPy.
    kernel: Callable | None = None

    def __init__(self, settings: TrainingSettings) -> None:
        self.s = settings
        self.state: dict[str, list[np.ndarray]] = {}
        self.t = 0
        # step_flat's state, one flat vector per slot (self.state holds views into them), and
        # "scratch": two vectors for its intermediate results
        self._flat: dict[str, Any] = {}

    def reset(self) -> None:
        self.state, self.t = {}, 0

    def carry_from(self, old: "Optimizer") -> None:
        """Continue where `old` (the same rule under earlier settings) left off."""
        self.state, self.t = old.state, old.t

    @classmethod
    def refusal(cls, settings: TrainingSettings, trainable: int) -> str | None:
        """Why this rule cannot train a net with `trainable` parameters under `settings`."""
        return None

    def step_flat(self, p: np.ndarray, g: np.ndarray, lr: float,
                  views: Callable[[np.ndarray], list[np.ndarray]],
                  out: np.ndarray | None = None) -> None:
        """The same update on one flat vector of every parameter, one NumPy call per operation
        and no new arrays; the new parameters go into `out` (p itself when None).

        Element-wise rules give the same numbers as step() on the arrays. `views(flat)` cuts
        a flat vector into the parameter arrays: `state` stays a list of arrays per slot
        (views into the flat state), so the trainer can still carry it across a structure
        change.
        """
        if not self._flat_current(p):
            self._adopt_flat(p, views)
        self.t += 1
        self._update(p, g, lr, self._flat, p if out is None else out)

    def flat_state(self, p: np.ndarray,
                   views: Callable[[np.ndarray], list[np.ndarray]]) -> list[np.ndarray]:
        """The state as flat vectors shaped like `p`, one per slot (adopted as step_flat does)."""
        if not self._flat_current(p):
            self._adopt_flat(p, views)
        return [self._flat[slot] for slot in self.slots]

    def _flat_current(self, p: np.ndarray) -> bool:
        """Whether the flat state is the state, for vectors like p. Called every step: plain
        lookups. _adopt_flat makes a view list per slot, and only a state replaced from
        outside (the trainer carrying it across a structure change, reset()) holds others."""
        scratch = self._flat.get("scratch")
        if scratch is None or scratch[0].shape != p.shape or scratch[0].dtype != p.dtype:
            return False
        state, views = self.state, self._views
        for slot in self.slots:
            if state.get(slot) is not views[slot]:
                return False
        return len(state) == len(self.slots)

    def _adopt_flat(self, p: np.ndarray, views: Callable[[np.ndarray], list[np.ndarray]]) -> None:
        """Move the state into flat vectors (zeros where it has none of the right shape)."""
        self._flat = {"scratch": (np.empty_like(p), np.empty_like(p))}
        self._views = {}
        for slot in self.slots:
            flat = np.zeros_like(p)
            parts = views(flat)
            old = self.state.get(slot, ())
            if len(old) == len(parts) and all(a.shape == b.shape for a, b in zip(old, parts)):
                for dst, src in zip(parts, old):
                    dst[...] = src
            self._flat[slot], self._views[slot] = flat, parts
            self.state[slot] = parts

    def step(self, params: list[np.ndarray], grads: list[np.ndarray], lr: float) -> None:
        if not self.state or any(len(v) != len(params) or any(a.shape != p.shape for a, p in
                                                                 zip(v, params))
                                 for v in self.state.values()):
            self.state = {slot: [np.zeros_like(p) for p in params] for slot in self.slots}
        self.t += 1
        for i, (p, g) in enumerate(zip(params, grads)):
            self._update(p, g, lr, {slot: arrays[i] for slot, arrays in self.state.items()}, p)

    def _update(self, p: np.ndarray, g: np.ndarray, lr: float, st: dict[str, Any],
                out: np.ndarray) -> None:
        """The rule: the new parameters into `out` (which may be p), the state in st updated.

        Written as in-place operations into st's scratch vectors (fresh arrays when st has
        none): the textbook expression's operations in its order, so every form gives the
        same numbers bit for bit (tests/core/test_training_speed.py holds them to it).
        """
        raise NotImplementedError


def _work(st: dict[str, Any], like: np.ndarray, k: int = 0) -> np.ndarray:
    """Scratch vector k of step_flat (no allocation per step), else a new array like `like`."""
    scratch = st.get("scratch")
    return np.empty_like(like) if scratch is None else scratch[k]


def _scaled(g: np.ndarray, lr: float, st: dict[str, Any]) -> np.ndarray:
    """lr * g, into scratch vector 0 (_work inlined: every step of every rule calls this)."""
    scratch = st.get("scratch")
    return np.multiply(g, lr, out=np.empty_like(g) if scratch is None else scratch[0])


def _divided_by_root(num: np.ndarray, acc: np.ndarray, eps: float, st: dict[str, Any]
                     ) -> np.ndarray:
    """num / (sqrt(acc) + eps) into num (scratch vector 0), sqrt into scratch vector 1."""
    den = np.sqrt(acc, out=_work(st, acc, 1))
    den += eps
    num /= den
    return num


def _sgd_kernel(p, g, lr, st, t, h):
    for i in range(p.size):
        p[i] -= g[i] * lr


def _momentum_kernel(p, g, lr, st, t, h):
    v, mu = st[0], h[0]
    for i in range(p.size):
        v[i] = v[i] * mu - g[i] * lr
        p[i] += v[i]


def _nesterov_kernel(p, g, lr, st, t, h):
    v, mu = st[0], h[0]
    for i in range(p.size):
        p[i] -= mu * v[i]
        v[i] = v[i] * mu - g[i] * lr
        p[i] += (1.0 + mu) * v[i]


def _adagrad_kernel(p, g, lr, st, t, h):
    acc, eps = st[0], h[4]
    for i in range(p.size):
        acc[i] += g[i] * g[i]
        p[i] -= lr * g[i] / (math.sqrt(acc[i]) + eps)


def _rmsprop_kernel(p, g, lr, st, t, h):
    e, rho, eps = st[0], h[3], h[4]
    for i in range(p.size):
        e[i] = e[i] * rho + (1.0 - rho) * g[i] * g[i]
        p[i] -= lr * g[i] / (math.sqrt(e[i]) + eps)


def _adam_kernel(p, g, lr, st, t, h):
    m, v, b1, b2, eps = st[0], st[1], h[1], h[2], h[4]
    c1, c2 = 1.0 - b1 ** float(t), 1.0 - b2 ** float(t)  # float powers: C pow, as in Python
    for i in range(p.size):
        m[i] = m[i] * b1 + (1.0 - b1) * g[i]
        v[i] = v[i] * b2 + (1.0 - b2) * g[i] * g[i]
        p[i] -= lr * (m[i] / c1) / (math.sqrt(v[i] / c2) + eps)


class SGD(Optimizer):
    """(1) p <- p - lr g"""
    title = "Plain gradient descent: a step of the learning rate down the gradient"

    kernel = staticmethod(_sgd_kernel)

    def _update(self, p, g, lr, st, out):
        np.subtract(p, _scaled(g, lr, st), out=out)


class Momentum(Optimizer):
    """(2) v <- mu v - lr g;  p <- p + v   (classical momentum, Polyak 1964)"""
    title = "Gradient descent that keeps a share of its last step (a heavy ball)"

    slots = ("velocity",)
    kernel = staticmethod(_momentum_kernel)

    def _update(self, p, g, lr, st, out):
        v = st["velocity"]
        v *= self.s.momentum
        v -= _scaled(g, lr, st)
        np.add(p, v, out=out)


class Nesterov(Optimizer):
    """(3) v' = mu v - lr g(p);  p <- p - mu v + (1 + mu) v'

    Nesterov's look-ahead gradient g(p + mu v), rewritten for the current point (Sutskever et
    al. 2013; Bengio et al. 2012) so that the gradient is taken where the parameters are.
    """

    title = "Momentum with the gradient taken where the momentum is heading"
    slots = ("velocity",)
    kernel = staticmethod(_nesterov_kernel)

    def _update(self, p, g, lr, st, out):
        v = st["velocity"]
        mu = self.s.momentum
        np.subtract(p, np.multiply(v, mu, out=_work(st, v, 1)), out=out)  # p - mu v
        v *= mu
        v -= _scaled(g, lr, st)
        out += np.multiply(v, 1.0 + mu, out=_work(st, v, 1))  # + (1 + mu) v


class Adagrad(Optimizer):
    """(4) G <- G + g^2;  p <- p - lr g / (sqrt(G) + eps)   (Duchi et al. 2011)"""
    title = "Each parameter's step shrinks with the sum of its squared gradients"

    slots = ("sum_sq",)
    kernel = staticmethod(_adagrad_kernel)

    def _update(self, p, g, lr, st, out):
        acc = st["sum_sq"]
        acc += np.multiply(g, g, out=_work(st, g))
        np.subtract(p, _divided_by_root(_scaled(g, lr, st), acc, self.s.epsilon, st), out=out)


class RMSprop(Optimizer):
    """(5) E <- rho E + (1 - rho) g^2;  p <- p - lr g / (sqrt(E) + eps)   (Hinton 2012)"""
    title = "Each parameter's step divided by its recent gradient size"

    slots = ("mean_sq",)
    kernel = staticmethod(_rmsprop_kernel)

    def _update(self, p, g, lr, st, out):
        e = st["mean_sq"]
        rho = self.s.rho
        e *= rho
        sq = np.multiply(g, 1.0 - rho, out=_work(st, g))  # (1 - rho) g g, in that order
        sq *= g
        e += sq
        np.subtract(p, _divided_by_root(_scaled(g, lr, st), e, self.s.epsilon, st), out=out)


class Adam(Optimizer):
    """(6) m <- b1 m + (1-b1) g;  v <- b2 v + (1-b2) g^2;
    p <- p - lr m_hat / (sqrt(v_hat) + eps),  m_hat = m / (1 - b1^t),  v_hat = v / (1 - b2^t)
    (Kingma and Ba 2015, Algorithm 1)"""

    title = "Momentum and a per-parameter step size from running gradient averages"
    slots = ("m", "v")
    kernel = staticmethod(_adam_kernel)

    def _update(self, p, g, lr, st, out):
        b1, b2 = self.s.beta1, self.s.beta2
        m, v = st["m"], st["v"]
        m *= b1
        m += np.multiply(g, 1.0 - b1, out=_work(st, g))
        v *= b2
        sq = np.multiply(g, 1.0 - b2, out=_work(st, g))  # (1 - b2) g g, in that order
        sq *= g
        v += sq
        step = np.divide(m, 1.0 - b1**self.t, out=_work(st, m))  # m_hat
        step *= lr  # lr m_hat
        v_hat = np.divide(v, 1.0 - b2**self.t, out=_work(st, v, 1))
        np.sqrt(v_hat, out=v_hat)
        v_hat += self.s.epsilon
        step /= v_hat
        np.subtract(p, step, out=out)


class MinibatchLoss(Protocol):
    """What the trainer hands a second-order rule before each step: this minibatch's loss
    (penalty included, no dropout) over the flat parameter vector the rule updates."""

    free: np.ndarray  # positions in the flat vector of the parameters that may move

    def value(self, p: np.ndarray) -> float: ...

    def hessian(self, p: np.ndarray) -> np.ndarray: ...  # in the `free` entries, float64


class Newton(Optimizer):
    """(7) d = -(H + lambda I)^-1 g;  p <- p + lr d   (Newton's method with the damping of
    Levenberg 1944 and Marquardt 1963). H: the Hessian of the minibatch's loss in the
    trainable parameters (core.curvature), so lr 1 and lambda 0 jump to the minimum of the
    local quadratic. With adapt_damping a step that would raise the minibatch's loss, or an
    H + lambda I that is not positive definite, is rejected and lambda x10 (from 0 it starts
    at DAMPING_FLOOR of H's largest diagonal entry), up to MAX_TRIES per step, after which the
    weights stay; a step that does not raise it is taken and lambda x0.1. Fixed: every step
    is taken with the lambda set."""

    title = "Newton's method with Levenberg-Marquardt damping: the whole Hessian every step"
    second_order = True
    loss: MinibatchLoss | None = None  # set by the trainer before each step_flat
    MAX_PARAMETERS = 500  # the Hessian every step: 0.37 s CPU at 457 parameters, 1,000 samples
    MAX_TRIES = 10
    DAMPING_FLOOR = 1e-6
    MAX_DAMPING = 1e12

    def __init__(self, settings: TrainingSettings) -> None:
        super().__init__(settings)
        self.damping = settings.damping  # lambda now: the setting, then adapted
        self.rejected = 0  # tries rejected at the last step

    def reset(self) -> None:
        super().reset()
        self.damping = self.s.damping

    def carry_from(self, old: Optimizer) -> None:
        super().carry_from(old)
        if isinstance(old, Newton) and old.s.damping == self.s.damping:
            self.damping = old.damping  # a new damping setting starts over from it

    @classmethod
    def refusal(cls, settings: TrainingSettings, trainable: int) -> str | None:
        if trainable > cls.MAX_PARAMETERS:
            return (f"Newton's method computes the whole Hessian at every step, and this "
                    f"network has {trainable:,} trainable parameters (its limit is "
                    f"{cls.MAX_PARAMETERS}); choose another optimiser or freeze parameters")
        if settings.dropout > 0:
            return ("Newton's method compares the loss before and after each step, and "
                    "dropout makes it random; set dropout to 0 or choose another optimiser")
        return None

    def step_flat(self, p: np.ndarray, g: np.ndarray, lr: float,
                  views: Callable[[np.ndarray], list[np.ndarray]],
                  out: np.ndarray | None = None) -> None:
        if out is not None and out is not p:  # the trainer's second buffer: start from p there
            np.copyto(out, p)
            p = out
        self.t += 1
        loss, self.rejected = self.loss, 0
        if loss is None or not loss.free.size:
            return
        h, gf = loss.hessian(p), np.asarray(g[loss.free], np.float64)
        if not self.s.adapt_damping:  # taken as it comes, uphill or not
            a = h + self.damping * np.eye(len(h))
            try:
                d = np.linalg.solve(a, -gf)
            except np.linalg.LinAlgError:  # singular: the least-squares (pseudo-inverse) step
                d = np.linalg.lstsq(a, -gf)[0]
            p[loss.free] += lr * d
            return
        before, lam = loss.value(p), self.damping
        for _ in range(self.MAX_TRIES):
            d = _newton_step(h, gf, lam)
            if d is not None:
                trial = p.copy()
                trial[loss.free] += lr * d
                if loss.value(trial) <= before:
                    p[...] = trial
                    self.damping = lam * 0.1
                    return
            self.rejected += 1
            floor = self.DAMPING_FLOOR * max(float(np.max(np.abs(np.diag(h)))), 1e-300)
            lam = min(max(10.0 * lam, floor), self.MAX_DAMPING)
        self.damping = lam  # no step lowered the loss: the weights stay where they were


def _newton_step(h: np.ndarray, g: np.ndarray, damping: float) -> np.ndarray | None:
    """-(H + damping I)^-1 g by Cholesky, or None when H + damping I is not positive
    definite (then the quadratic model has no minimum to jump to)."""
    a = h + damping * np.eye(len(h))
    try:
        c = np.linalg.cholesky(a)
    except np.linalg.LinAlgError:
        return None
    return -np.linalg.solve(c.T, np.linalg.solve(c, g))


OPTIMIZER_CLASSES: dict[str, type[Optimizer]] = {
    "sgd": SGD, "momentum": Momentum, "nesterov": Nesterov, "adagrad": Adagrad,
    "rmsprop": RMSprop, "adam": Adam, "newton": Newton,
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
    if len(grads) == 1 and clip_value <= 0 and clip_norm <= 0:  # a training step, every step
        return math.sqrt(float(np.vdot(grads[0], grads[0])))  # the sum below of one term
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
