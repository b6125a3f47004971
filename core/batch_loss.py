"""The training loss on a batch, of rows or of sequences, as a function of the flat parameter
vector theta (core.curvature.TrainingLoss: value, gradient, Hessian-vector products and the
2x2 Hessian on a plane; on sequences the engine's loss through time, training.sequence_loss's
steps, masked steps left out, its gradient full backpropagation through time whatever
training.bptt_steps truncates in training: the arrows are of the loss the surface draws), and
the fixed sample of the training set the loss surface is drawn on."""
from __future__ import annotations

import numpy as np

from core.curvature import TrainingLoss
from core.data.dataset import Dataset, subsample_rows
from core.engine.plan import Plan


def loss_on(plan: Plan, x: np.ndarray, y: np.ndarray, loss: str,
            mask: np.ndarray | None = None, sequence_loss: str = "every",
            l1: float = 0.0, l2: float = 0.0) -> TrainingLoss:
    """The training loss on a batch: of rows (x is samples x inputs) or of sequences (x is
    sequences x steps x inputs, with their mask and training.sequence_loss)."""
    return TrainingLoss(plan, x, y, loss, l1, l2, mask, sequence_loss)


def sample_of(plan: Plan, data: Dataset, rows: np.ndarray | None = None
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """(x, y, mask) of the training set's `rows` (sequences, for sequence data), x as the
    plan's inputs (features applied, as in training); by default the fixed subsample the loss
    surface is drawn on (core.data.dataset.subsample_rows: the same rows every call)."""
    if rows is None:
        rows = subsample_rows(len(data.x_train))
    mask = None if data.mask_train is None else data.mask_train[rows]
    return plan.inputs_from(data.x_train[rows]), data.y_train[rows], mask
