"""What the trainer hands a second-order optimiser (core.optimizers.Newton) before each step:
the minibatch's loss over the trainer's flat parameter vector, its value and its Hessian in
the trainable entries, from core.curvature (always in float64: a Hessian by differences of
float32 gradients would be mostly rounding)."""
from __future__ import annotations

import numpy as np

from core.curvature import TrainingLoss
from core.engine.flat import FlatLayout
from core.engine.plan import Plan


class FlatMinibatchLoss:
    """The loss the trainer minimises on the batch (x, y): data loss plus the L1/L2 penalty,
    no dropout (Newton refuses it), as a function of the flat vector of `layout`. On a batch
    of sequences, with its mask and training.sequence_loss: its Hessian is that of the loss
    through time in full, whatever bptt_steps truncates the gradient to."""

    def __init__(self, plan: Plan, layout: FlatLayout, x: np.ndarray, y: np.ndarray,
                 loss: str, l1: float, l2: float, mask: np.ndarray | None = None,
                 sequence_loss: str = "every") -> None:
        self._loss = TrainingLoss(plan, x, y, loss, l1, l2, mask, sequence_loss)
        self._layout = layout
        self._trainable = np.flatnonzero(plan.trainable_vector())  # in Plan.flatten order
        self.free = layout.theta_index[self._trainable]

    def _theta(self, p: np.ndarray) -> np.ndarray:
        return self._layout.theta(p).astype(np.float64)

    def value(self, p: np.ndarray) -> float:
        return self._loss.value(self._theta(p))

    def hessian(self, p: np.ndarray) -> np.ndarray:
        return self._loss.hessian(self._theta(p), self._trainable)
