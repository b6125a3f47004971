"""The gradient through time: how much of the error at a sequence's last step reaches each
earlier step, for the Through time panel (the vanishing / exploding gradient, seen).

For each sequence b of a batch, with last valid step T_b, L_b is the loss of its outputs at
T_b alone (training.loss on that one step, not divided by the batch). Backpropagation through
time (core.engine.recurrent, full, no dropout) gives dL_b/da(t) for every neuron's output a at
every step t; the curve is, for k = 0, 1, ..., the Euclidean norm of dL_b/da(T_b - k) over the
net's non-input neurons, averaged over the sequences that are at least k + 1 steps long (the
mean of each sequence's own norm, not the norm of the batch's summed gradient: the sequences'
gradients can have opposite signs, and a sum would hide how much each one gets back).

Why it vanishes or explodes (Bengio, Simard and Frasconi 1994; Pascanu, Mikolov and Bengio
2013): between steps the gradient is multiplied by the recurrence's Jacobian, W^T diag(f'(z)).
For one neuron with a delayed self-loop of weight w,
    dL/da(T - k) = dL/da(T) * prod_{j=0}^{k-1} w f'(z(T - j)),
so with tanh (f' <= 1) and |w| < 1 it shrinks geometrically, and with |w f'| > 1 it grows.

An output neuron under a loss computed from its net input (sigmoid or softmax cross-entropy)
receives the error at its net input z: its output a at step T carries none of it (the loss
does not read a there), exactly as finite differences of L_b in a(T) find.

The training process's loop holds one ThroughTimeWatch: off unless the panel is on screen
(then an attribute test per frame). On, it computes a curve for a published frame, on the
first MAX_SEQUENCES sequences of the last minibatch at the current weights (one forward and
one backward pass of about a training step's size), while the time spent on curves stays
within TIME_SHARE of the time the panel has been on screen; a frame over budget carries the
last curve made, with its step. A step the user asked for (Step, or the panel shown while
paused) always gets its own.
"""
from __future__ import annotations

import time
import weakref
from dataclasses import dataclass
from typing import Callable

import numpy as np

from core.engine.plan import Params, Plan
from core.engine.recurrent import loss_columns, loss_rows, sequence_backward, sequence_forward
from core.losses import LOSSES, LossResult
from core.training.trainer import Trainer, inputs_of

MAX_SEQUENCES = 32  # of the last minibatch: the cost of a curve stays that of a small step
# While running, curves take at most this share of the time since the panel was shown (plus
# a small credit, so a run's first frames get theirs): an Elman 1-16-1 net's curve over 50
# steps costs about 1.5 of its training steps, so one per frame took half of its frames.
TIME_SHARE = 0.1
CREDIT_SECONDS = 0.05

NEEDS = ("This panel shows how much of the error at a sequence's last step reaches each earlier "
         "step. It needs a recurrent net (at least one delayed edge, z⁻¹) trained on sequence "
         "data.")


@dataclass(frozen=True)
class ThroughTime:
    """One curve: norms[k] is the mean over `counts[k]` sequences of |dL_T/da(T - k)|."""
    norms: np.ndarray  # (K,) for k = 0 .. K-1 steps back from each sequence's last step
    counts: np.ndarray  # (K,) sequences at least k + 1 steps long

    def reach(self) -> tuple[int, float] | None:
        """(k, norms[k] / norms[k0]) for the furthest step back k, relative to the first
        non-zero norm k0 (the last step's, unless the error enters there only at a net
        input); None when no norm is positive."""
        positive = np.flatnonzero(self.norms > 0)
        if positive.size == 0:
            return None
        k = len(self.norms) - 1
        with np.errstate(invalid="ignore", over="ignore"):  # an overflow: inf or nan, said so
            return k, float(self.norms[k] / self.norms[positive[0]])


def gradient_through_time(plan: Plan, params: Params, x: np.ndarray, y: np.ndarray,
                          mask: np.ndarray | None, loss: str) -> ThroughTime:
    """The curve (module docstring) for sequences x (sequences x steps x inputs, the plan's
    inputs), targets y and mask (sequences x steps, True where a step exists; None: all)."""
    b, t = x.shape[:2]
    sfwd = sequence_forward(plan, params, x)
    cols = loss_columns(mask, b, t, "last")  # each present sequence's last step, t*B + b
    present = cols % b
    z, a, yy = loss_rows(plan, sfwd, y, cols)
    result = LOSSES[loss].compute(z, a, yy)
    # compute() gives the gradient of the mean over the rows: times their number, each row's
    # own L_b, one sequence's error, not a share of the batch's
    seeded = LossResult(result.value, result.grad * len(cols), result.wrt_net)
    sequence_backward(plan, params, sfwd, seeded, cols)
    # (non-input neurons x T*B): dL_b/da in sequence b's columns; float64, where an exploding
    # gradient's squares still fit
    grad_a = np.asarray(sfwd.arrays.grad_a, np.float64).reshape(-1, t, b)
    per_step = np.sqrt(np.einsum("ntb,ntb->tb", grad_a, grad_a))
    last = cols // b
    norms, counts = np.zeros(t), np.zeros(t, dtype=np.int64)
    for seq, end in zip(present, last):  # at most MAX_SEQUENCES of them in the window
        norms[: end + 1] += per_step[end::-1, seq]
        counts[: end + 1] += 1
    k = int(np.max(last)) + 1 if len(last) else 0
    return ThroughTime(norms[:k] / np.maximum(counts[:k], 1), counts[:k])


@dataclass(frozen=True)
class ThroughTimeReport:
    """What Progress.through_time carries: the curve at one training step (plain arrays)."""
    step: int  # the training step whose weights it was taken at
    curve: ThroughTime | None  # None with a `problem`
    rows: np.ndarray | None  # rows of data.x_train it was taken over
    problem: str = ""  # why there is no curve ("" when there is)


def problem_for(plan: Plan, is_sequence: bool) -> str:
    """Why this net and data get no curve ('' when they get one)."""
    return "" if plan.recurrent and is_sequence else NEEDS


class ThroughTimeWatch:
    """The loop's: a curve for the run's latest step while on, within a share of the time
    (see the module's text)."""

    def __init__(self, share: float = TIME_SHARE, credit: float = CREDIT_SECONDS,
                 clock: Callable[[], float] = time.perf_counter) -> None:
        self.share, self.credit, self._clock = share, credit, clock
        self._enabled = False
        self._trainer = lambda: None  # a weak reference to the run of the last report
        self._report: ThroughTimeReport | None = None
        self._since = self._spent = 0.0

    @property
    def enabled(self) -> bool:
        return self._enabled

    @enabled.setter
    def enabled(self, on: bool) -> None:
        if on and not self._enabled:  # the time budget counts from now
            self._since, self._spent = self._clock(), 0.0
        self._enabled = bool(on)

    def report(self, trainer: Trainer, force: bool = False) -> ThroughTimeReport | None:
        """The curve at the trainer's current step, made now unless made already or, not
        `force`d (a frame while running), the time spent on curves is over its share: then
        the last one made for this run (its step says which). None when off, before the
        run's first step, or when this run has none yet."""
        if not self._enabled or trainer.step_count == 0:
            return None
        held = self._report if self._trainer() is trainer else None
        if held is not None and held.step == trainer.step_count:
            return held
        began = self._clock()
        if not force and held is not None and \
                self._spent > self.share * (began - self._since) + self.credit:
            return held
        self._trainer = weakref.ref(trainer)
        self._report = measure(trainer)
        self._spent += self._clock() - began
        return self._report


def measure(trainer: Trainer) -> ThroughTimeReport:
    """The curve on the first MAX_SEQUENCES sequences of the trainer's last minibatch, at its
    current weights."""
    step, plan, data = trainer.step_count, trainer.plan, trainer.data
    problem = problem_for(plan, data.is_sequence)
    rows = trainer.last_batch_rows()
    if problem or rows is None:
        return ThroughTimeReport(step, None, None, problem or "No minibatch since new data.")
    rows = rows[:MAX_SEQUENCES]
    mask = None if data.mask_train is None else data.mask_train[rows]
    dtype = trainer.dtype
    x = np.asarray(inputs_of(plan, data.x_train[rows]), dtype)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        curve = gradient_through_time(plan, trainer.params, x,
                                      np.asarray(data.y_train[rows], dtype), mask,
                                      trainer.settings.loss)
    if not np.all(np.isfinite(curve.norms)):
        return ThroughTimeReport(step, curve, rows, "Some norms are not finite numbers: the "
                                 "gradient overflowed going back (it explodes).")
    return ThroughTimeReport(step, curve, rows)
