"""The training loss on a batch, of rows or of sequences, as a function of the flat parameter
vector theta, and the fixed sample of the training set the loss surface is drawn on. For
sequences (SequenceLoss): value, gradient by backpropagation through time, and its gradient
and 2x2 Hessian on a plane: what the loss surface's arrows, the race's Newton on the plane and
the minibatch probe need of core.curvature.TrainingLoss (rows' loss), for sequence data.

The loss is the engine's (core.engine.recurrent): the steps training.sequence_loss reads
("every" step, or each sequence's "last"), masked steps left out, plus the penalty
l1 sum|w| + l2/2 sum w^2 on the weights. Its gradient is full backpropagation through time,
the loss's exact gradient, whatever training.bptt_steps truncates in training: the arrows are
of the loss the surface draws.

On a plane theta + a d1 + b d2 the 2x2 Hessian is central differences of that exact gradient
along d1 and d2: H d_k ~ (g(theta + e d_k) - g(theta - e d_k)) / 2e, then d_j . H d_k,
symmetrised. Four gradients beside the one at theta; accurate to O(e^2) (exact on a quadratic),
with e as core.curvature's Hessian-vector products take it: tests/core/test_sequence_loss.py
measures it against second differences of the loss.
"""
from __future__ import annotations

import numpy as np

from core.curvature import RELATIVE_STEP, TrainingLoss
from core.data.dataset import Dataset, subsample_rows
from core.engine.plan import Plan
from core.engine.recurrent import sequence_loss_and_gradients


class SequenceLoss:
    """The trainer's loss on the sequences (x, y) (sequences x steps x inputs / outputs, the
    plan's inputs: features applied) with their mask, as a function of theta."""

    def __init__(self, plan: Plan, x: np.ndarray, y: np.ndarray, mask: np.ndarray | None,
                 loss: str, sequence_loss: str = "every", l1: float = 0.0,
                 l2: float = 0.0) -> None:
        self.plan, self.loss, self.sequence_loss = plan, loss, sequence_loss
        self.l1, self.l2 = float(l1), float(l2)
        self.x = np.ascontiguousarray(x, dtype=np.float64)
        self.y = np.ascontiguousarray(y, dtype=np.float64)
        self.mask = None if mask is None else np.asarray(mask, bool)
        self.n_weights = len(plan.edge_ids)
        self.size = plan.n_parameters
        self.gradients = 0  # exact gradients computed (the cost)

    def _data(self, theta: np.ndarray) -> tuple[float, np.ndarray]:
        self.gradients += 1
        plan = self.plan
        value, grads = sequence_loss_and_gradients(
            plan, plan.unflatten(np.asarray(theta, np.float64)), self.x, self.y, self.mask,
            self.loss, self.sequence_loss)
        return value, np.concatenate([plan.edge_vector(grads.weights),
                                      grads.biases[plan.bias_rows]])

    def value_and_gradient(self, theta: np.ndarray) -> tuple[float, np.ndarray]:
        value, g = self._data(theta)
        w = np.asarray(theta, np.float64)[: self.n_weights]
        if self.l1:
            value += self.l1 * float(np.abs(w).sum())
            g[: self.n_weights] += self.l1 * np.sign(w)
        if self.l2:
            value += 0.5 * self.l2 * float(w @ w)
            g[: self.n_weights] += self.l2 * w
        return float(value), g

    def value(self, theta: np.ndarray) -> float:
        return self.value_and_gradient(theta)[0]

    def gradient(self, theta: np.ndarray) -> np.ndarray:
        return self.value_and_gradient(theta)[1]

    def plane(self, theta: np.ndarray, d1: np.ndarray, d2: np.ndarray
              ) -> tuple[np.ndarray, np.ndarray]:
        """(gradient, Hessian) of a, b -> L(theta + a d1 + b d2) at 0, in (a, b): five exact
        gradients (module docstring)."""
        theta = np.asarray(theta, np.float64)
        dirs = np.stack([np.asarray(d1, np.float64), np.asarray(d2, np.float64)])
        g = self._data(theta)[1]
        h_d = np.stack([self._along(theta, d) for d in dirs])  # (2, parameters): H d_k
        g2 = dirs @ g
        h2 = dirs @ h_d.T
        h2 = 0.5 * (h2 + h2.T)
        n = self.n_weights
        w, dw = theta[:n], dirs[:, :n]
        if self.l1:  # its curvature is zero away from w = 0 (core.curvature's note)
            g2 = g2 + self.l1 * (dw @ np.sign(w))
        if self.l2:
            g2, h2 = g2 + self.l2 * (dw @ w), h2 + self.l2 * (dw @ dw.T)
        return g2, h2

    def _along(self, theta: np.ndarray, d: np.ndarray) -> np.ndarray:
        """H d by central differences of the data gradient (zero for d = 0)."""
        top = float(np.max(np.abs(d))) if d.size else 0.0
        if top == 0.0:
            return np.zeros_like(theta)
        # As core.curvature.TrainingLoss.hvp: the largest move is RELATIVE_STEP of the size of
        # the largest parameter it touches (at least 1).
        e = RELATIVE_STEP * (1.0 + float(np.max(np.abs(theta[d != 0])))) / top
        return (self._data(theta + e * d)[1] - self._data(theta - e * d)[1]) / (2 * e)


def loss_on(plan: Plan, x: np.ndarray, y: np.ndarray, loss: str,
               mask: np.ndarray | None = None, sequence_loss: str = "every",
               l1: float = 0.0, l2: float = 0.0) -> TrainingLoss | SequenceLoss:
    """The training loss on a batch: of rows (x is samples x inputs: core.curvature's) or of
    sequences (x is sequences x steps x inputs)."""
    if np.ndim(x) == 3:
        return SequenceLoss(plan, x, y, mask, loss, sequence_loss, l1, l2)
    return TrainingLoss(plan, x, y, loss, l1, l2)


def sample_of(plan: Plan, data: Dataset, rows: np.ndarray | None = None
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """(x, y, mask) of the training set's `rows` (sequences, for sequence data), x as the
    plan's inputs (features applied, as in training); by default the fixed subsample the loss
    surface is drawn on (core.data.dataset.subsample_rows: the same rows every call)."""
    if rows is None:
        rows = subsample_rows(len(data.x_train))
    mask = None if data.mask_train is None else data.mask_train[rows]
    return plan.inputs_from(data.x_train[rows]), data.y_train[rows], mask
