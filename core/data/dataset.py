"""Datasets: train/test parts, standardisation fitted on the training part, and their source
(a built-in generator or a CSV file) described by DataSettings."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from core.data.csv_file import load_csv
from core.data.generators import generate
from core.errors import DataError

# make_dataset reads a core.settings.DataSettings; settings sits above data (it takes the
# generators' names from here), so it is not imported.
DataSettings = Any


@dataclass
class Dataset:
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    task: str  # "classification" or "regression"
    input_names: list[str]
    target_names: list[str]
    class_names: list[str] | None = None
    mean: np.ndarray | None = None  # standardisation of the inputs, fitted on x_train
    std: np.ndarray | None = None
    # Sequence data only: (sequences x steps) bools, True where a step exists; padded steps
    # (False) hold zeros in x and y. None for feed-forward data.
    mask_train: np.ndarray | None = None
    mask_test: np.ndarray | None = None

    @property
    def is_sequence(self) -> bool:
        return self.x_train.ndim == 3

    @property
    def n_inputs(self) -> int:
        return self.x_train.shape[-1]

    @property
    def n_targets(self) -> int:
        return self.y_train.shape[-1]

    def describe(self) -> str:
        parts = [f"{len(self.x_train)} training and {len(self.x_test)} test samples",
                 f"{self.n_inputs} input(s)", f"{self.n_targets} target(s)", self.task]
        return ", ".join(parts)

    def standardize(self, x: np.ndarray) -> np.ndarray:
        """Apply the training part's standardisation to new inputs (e.g. a plot grid)."""
        return x if self.mean is None else (x - self.mean) / self.std


# The loss surface, its arrows and the training process's check of minibatch steps all measure
# the training loss on at most this many rows, the same rows every time: a 51x51 grid stays
# interactive (../shared/notes/loss-surface.md: 0.6 s -> 0.12 s) and nothing flickers.
MAX_SAMPLES = 256


def subsample(x: np.ndarray, y: np.ndarray, seed: int = 0,
              limit: int = MAX_SAMPLES) -> tuple[np.ndarray, np.ndarray]:
    """A fixed subsample (same rows every call) so the surface does not flicker."""
    if len(x) <= limit:
        return x, y
    idx = np.sort(np.random.default_rng(seed).choice(len(x), limit, replace=False))
    return x[idx], y[idx]


def split(x: np.ndarray, y: np.ndarray, test_fraction: float, seed: int
          ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """A seeded shuffle split; with test_fraction 0 the test part is empty."""
    n = len(x)
    n_test = int(round(n * test_fraction))
    if n_test >= n:
        n_test = n - 1
    order = np.random.default_rng([seed, 2]).permutation(n)
    test, train = order[:n_test], order[n_test:]
    return x[train], y[train], x[test], y[test]


def fit_standardization(x_train: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    mean = x_train.mean(axis=0)
    std = x_train.std(axis=0)
    std = np.where(std > 1e-12, std, 1.0)  # a constant column stays as it is, shifted to 0
    return mean, std


def csv_file(settings: DataSettings, base_dir: str | Path | None = None) -> Path:
    """The CSV file a csv-sourced project reads: csv_path, relative to the project's folder."""
    if not settings.csv_path:
        raise DataError("no CSV file is chosen for this project's data")
    path = Path(settings.csv_path)
    if not path.is_absolute() and base_dir is not None:
        path = Path(base_dir) / path
    return path


def make_dataset(settings: DataSettings, base_dir: str | Path | None = None) -> Dataset:
    """The data a project trains on: generate or load, split, optionally standardise."""
    class_names = None
    if settings.source == "csv":
        path = csv_file(settings, base_dir)
        x, y, inputs, targets, class_names = load_csv(
            path, settings.input_columns, settings.target_columns, settings.task)
        task = settings.task
    else:
        x, y, task, inputs, targets = generate(settings.generator, settings.samples,
                                               settings.noise, settings.seed, settings.classes)
        if task == "classification":
            # Binary data has one 0/1 column: the names of 0 and 1, as a CSV's two labels are.
            class_names = list(targets) if y.shape[1] > 1 else ["0", "1"]
    x_train, y_train, x_test, y_test = split(x, y, settings.test_fraction, settings.seed)
    mean = std = None
    if settings.standardize:
        mean, std = fit_standardization(x_train)
        x_train, x_test = (x_train - mean) / std, (x_test - mean) / std
    return Dataset(x_train, y_train, x_test, y_test, task, inputs, targets, class_names, mean, std)
