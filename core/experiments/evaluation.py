"""What a trained network gets right and wrong, part by part: for classification the
confusion matrix of the train and the test part and each class's accuracy; for regression
every prediction against its target and the residuals.

Classes are decided as core.training.trainer.accuracy decides them (one output: above 0.5;
several: the largest, after the loss's own prediction such as softmax), so the matrix's
diagonal share is the accuracy the loss panel shows. On sequence data a sample is a time step
the loss reads (training.sequence_loss: every valid step, or each sequence's last), as the
Trainer's evaluation counts them.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core.data.dataset import Dataset
from core.engine import Params, Plan, predict
from core.engine.recurrent import loss_columns, loss_rows, sequence_forward
from core.losses import predictions
from core.training.trainer import inputs_of

ROWS = 4096  # samples per forward pass: a large data set never needs all its rows at once


@dataclass(frozen=True)
class Confusion:
    """counts[i, j]: samples of true class i predicted as class j."""

    counts: np.ndarray
    class_names: tuple[str, ...]

    @property
    def samples(self) -> int:
        return int(self.counts.sum())

    @property
    def accuracy(self) -> float:
        """Share on the diagonal (nan without samples)."""
        n = self.samples
        return float(np.trace(self.counts) / n) if n else float("nan")

    def per_class(self) -> np.ndarray:
        """Each class's accuracy (its recall: right among the samples truly of it); nan for a
        class with no samples in this part."""
        totals = self.counts.sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(totals > 0, np.diag(self.counts) / totals, np.nan)


@dataclass(frozen=True)
class Fit:
    """Regression: predictions and targets, samples x targets."""

    predicted: np.ndarray
    target: np.ndarray
    target_names: tuple[str, ...]

    @property
    def residuals(self) -> np.ndarray:
        return self.target - self.predicted

    def rmse(self) -> np.ndarray:
        """Root mean squared residual per target (nan without samples)."""
        if len(self.target) == 0:
            return np.full(self.target.shape[1], np.nan)
        return np.sqrt(np.mean(self.residuals ** 2, axis=0))


@dataclass(frozen=True)
class Report:
    """One network on one data set: train and test parts (test is None with no test part)."""

    task: str  # "classification" or "regression"
    train: Confusion | Fit
    test: Confusion | Fit | None


def outputs(plan: Plan, params: Params, loss: str, x: np.ndarray) -> np.ndarray:
    """What the net predicts for the data columns `x` (samples x outputs), in chunks."""
    x = plan.inputs_from(x)
    parts = [predictions(loss, predict(plan, params, x[i: i + ROWS]))
             for i in range(0, len(x), ROWS)]
    return np.concatenate(parts) if parts else np.empty((0, len(plan.out_rows)))


def sequence_outputs(plan: Plan, params: Params, loss: str, x: np.ndarray, y: np.ndarray,
                     mask: np.ndarray | None, sequence_loss: str = "every"
                     ) -> tuple[np.ndarray, np.ndarray]:
    """(predictions, targets), one row per time step the loss reads, for the sequences x
    (sequences x steps x data columns), a few sequences at a time."""
    x = inputs_of(plan, x)
    chunk = max(1, ROWS // max(x.shape[1], 1))
    guesses, targets = [], []
    for i in range(0, len(x), chunk):
        part = slice(i, i + chunk)
        mc = None if mask is None else mask[part]
        sfwd = sequence_forward(plan, params, x[part])
        cols = loss_columns(mc, len(x[part]), x.shape[1], sequence_loss)
        _, a_out, y_out = loss_rows(plan, sfwd, y[part], cols)
        guesses.append(predictions(loss, a_out))
        targets.append(y_out)
    if not guesses:
        return np.empty((0, len(plan.out_rows))), np.empty((0, y.shape[-1]))
    return np.concatenate(guesses), np.concatenate(targets)


def classes_of(values: np.ndarray) -> np.ndarray:
    """Class index per sample: one column above 0.5 is class 1; several, the largest."""
    if values.shape[1] == 1:
        return (values[:, 0] > 0.5).astype(np.int64)
    return np.argmax(values, axis=1)


def confusion(predicted: np.ndarray, y: np.ndarray, class_names: tuple[str, ...]) -> Confusion:
    k = len(class_names)
    truth, guess = classes_of(y), classes_of(predicted)
    counts = np.bincount(truth * k + guess, minlength=k * k).reshape(k, k)
    return Confusion(counts, class_names)


def evaluate(plan: Plan, params: Params, loss: str, data: Dataset,
             sequence_loss: str = "every") -> Report:
    """The report of the net (`plan` with `params`) on both parts of `data`."""
    parts = [(data.x_train, data.y_train, data.mask_train)]
    if len(data.x_test):
        parts.append((data.x_test, data.y_test, data.mask_test))
    if data.is_sequence:
        pairs = [sequence_outputs(plan, params, loss, x, y, m, sequence_loss)
                 for x, y, m in parts]
    else:
        pairs = [(outputs(plan, params, loss, x), y) for x, y, _ in parts]
    if data.task == "classification":
        names = _class_names(data)
        done = [confusion(guess, y, names) for guess, y in pairs]
    else:
        names = tuple(data.target_names)
        done = [Fit(guess, y, names) for guess, y in pairs]
    return Report(data.task, done[0], done[1] if len(done) > 1 else None)


def _class_names(data: Dataset) -> tuple[str, ...]:
    k = 2 if data.n_targets == 1 else data.n_targets
    names = list(data.class_names or [])
    if len(names) != k:
        names = [str(i) for i in range(k)]
    return tuple(names)
