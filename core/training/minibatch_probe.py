"""Minibatch noise, measured in the training process while the loss-surface panel asks for it:
the rows of the last step's minibatch, and whether recent steps lowered the training loss.

A minibatch step follows the gradient of a few samples' loss, a noisy estimate of the whole
training set's; it can go uphill on the whole set. To see how often, one step per frame (the
frame's first) is taken with the training loss measured just before and just after it. One
step per frame, not every step: measuring costs two passes over the loss's rows, more than a
minibatch step, and the trainer's own steps stay exactly as they are (the compiled kernel
included). The loss is the one the surface draws: the data loss, no penalty, on the surface's
fixed sample of the training set (core.batch_loss.sample_of). On sequence data a minibatch is
a set of sequences (`rows` are sequences of data.x_train) and the loss training.sequence_loss's,
masks applied.

While nobody asks (the default), the training loop holds no probe and pays nothing.
"""
from __future__ import annotations

import weakref
from collections import deque
from dataclasses import dataclass

import numpy as np

from core.batch_loss import loss_on, sample_of
from core.curvature import TrainingLoss


@dataclass(frozen=True)
class MinibatchReport:
    """What Progress.minibatch carries (plain arrays: it is pickled to the window)."""
    step: int  # the last step taken; `rows` is its minibatch
    rows: np.ndarray | None  # rows of data.x_train in that minibatch (None before a step)
    checked: np.ndarray  # steps whose effect was measured, oldest first (one per frame)
    downhill: np.ndarray  # bool per checked step: it lowered the training loss
    sample_rows: int  # training rows the loss was measured on

    @property
    def lowered(self) -> int:
        return int(np.count_nonzero(self.downhill))

    @property
    def share(self) -> float | None:
        """Share of the checked steps that went downhill (None before the first)."""
        return self.lowered / len(self.downhill) if len(self.downhill) else None


class MinibatchProbe:
    """Keeps the verdicts of the last `keep` checked steps of one run."""

    def __init__(self, keep: int) -> None:
        self.keep = max(1, int(keep))
        self._steps: deque[int] = deque(maxlen=self.keep)
        self._downhill: deque[bool] = deque(maxlen=self.keep)
        self._run = None  # a weak reference to the trainer these verdicts belong to
        self._loss: tuple = (None, None, None, None)  # plan, data, loss names, the loss
        self._known: tuple = (None, 0.0)  # (theta, loss there): the last value measured

    def step(self, trainer) -> None:
        """One ordinary training step of `trainer`, with the training loss measured on both
        sides of it. Raises what Trainer.step raises (Diverged: nothing is recorded)."""
        trainer.prepare()  # edits in first, so the loss before is that of the step's start
        self._follow(trainer)
        f = self._training_loss(trainer)
        plan = trainer.plan
        before = self._value(f, plan.flatten(trainer.params))
        trainer.advance(1)
        after = self._value(f, plan.flatten(trainer.params))
        self._steps.append(trainer.step_count)
        self._downhill.append(after < before)

    def report(self, trainer) -> MinibatchReport:
        self._follow(trainer)
        sample = self._loss[3]
        return MinibatchReport(
            trainer.step_count, trainer.last_batch_rows(),
            np.fromiter(self._steps, np.int64, len(self._steps)),
            np.fromiter(self._downhill, bool, len(self._downhill)),
            len(sample.x) if sample is not None else 0)

    def _follow(self, trainer) -> None:
        """Verdicts of another run (a new document, data, a restart) are not this one's."""
        if self._run is None or self._run() is not trainer:
            self._run = weakref.ref(trainer)
            self._steps.clear()
            self._downhill.clear()
            self._known = (None, 0.0)

    def _training_loss(self, trainer) -> TrainingLoss:
        plan, data, s = trainer.plan, trainer.data, trainer.settings
        name = (s.loss, s.sequence_loss)
        held_plan, held_data, held_name, f = self._loss
        if held_plan is not plan or held_data is not data or held_name != name:
            x, y, mask = sample_of(plan, data)
            f = loss_on(plan, x, y, s.loss, mask, s.sequence_loss)
            self._loss = (plan, data, name, f)
            self._known = (None, 0.0)
        return f

    def _value(self, f: TrainingLoss, theta: np.ndarray) -> float:
        """The loss at theta; the loss after one checked step is often the loss before the
        next (stepping one at a time), so it is kept."""
        held, value = self._known
        if held is None or held.shape != theta.shape or not np.array_equal(held, theta):
            value = f.value(theta)
            self._known = (theta, value)
        return value
