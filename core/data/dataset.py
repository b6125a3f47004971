"""Datasets: train/test parts, standardisation fitted on the training part, and their source
(a built-in generator or a CSV file) described by DataSettings.

Rows are samples (x: samples x inputs) or, for sequence data, sequences (x: sequences x steps x
inputs, with a mask of the steps that exist: CSV sequences differ in length). Sequences are
split whole and the standardisation is fitted over the training sequences' existing steps.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from core.data.csv_file import load_csv, load_csv_sequences
from core.data.generators import generate
from core.data.sequences import SEQUENCE_GENERATORS, generate_sequences
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
        unit = "sequences" if self.is_sequence else "samples"
        parts = [f"{len(self.x_train)} training and {len(self.x_test)} test {unit}"]
        if self.is_sequence:
            parts[0] += f" of {_steps_text(self.mask_train, self.mask_test)} steps"
        parts += [f"{self.n_inputs} input(s)", f"{self.n_targets} target(s)", self.task]
        return ", ".join(parts)

    def standardize(self, x: np.ndarray) -> np.ndarray:
        """Apply the training part's standardisation to new inputs (e.g. a plot grid)."""
        return x if self.mean is None else (x - self.mean) / self.std


def _steps_text(*masks: np.ndarray | None) -> str:
    """"20" or "9 to 31": the lengths of the sequences of all parts."""
    lengths = np.concatenate([m.sum(axis=1) for m in masks if m is not None and len(m)])
    if not len(lengths):
        return "0"
    low, high = int(lengths.min()), int(lengths.max())
    return f"{low}" if low == high else f"{low} to {high}"


# The loss surface, its arrows and the training process's check of minibatch steps all measure
# the training loss on at most this many rows, the same rows every time: a 51x51 grid stays
# interactive (../shared/notes/loss-surface.md: 0.6 s -> 0.12 s) and nothing flickers.
MAX_SAMPLES = 256


def subsample(x: np.ndarray, y: np.ndarray, seed: int = 0,
              limit: int = MAX_SAMPLES) -> tuple[np.ndarray, np.ndarray]:
    """A fixed subsample (same rows every call) so the surface does not flicker."""
    if len(x) <= limit:
        return x, y
    idx = subsample_rows(len(x), seed, limit)
    return x[idx], y[idx]


def subsample_rows(n: int, seed: int = 0, limit: int = MAX_SAMPLES) -> np.ndarray | slice:
    """The rows subsample() keeps of n (every one when n <= limit), for what goes with them
    (a sequence's mask)."""
    if n <= limit:
        return slice(None)
    return np.sort(np.random.default_rng(seed).choice(n, limit, replace=False))


def split_rows(n: int, test_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(training rows, test rows) of a seeded shuffle; with test_fraction 0 no test rows.
    A row is a sample, or a whole sequence: sequences are never cut."""
    n_test = int(round(n * test_fraction))
    if n_test >= n:
        n_test = n - 1
    order = np.random.default_rng([seed, 2]).permutation(n)
    return order[n_test:], order[:n_test]


def split(x: np.ndarray, y: np.ndarray, test_fraction: float, seed: int
          ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """A seeded shuffle split; with test_fraction 0 the test part is empty."""
    train, test = split_rows(len(x), test_fraction, seed)
    return x[train], y[train], x[test], y[test]


def fit_standardization(x_train: np.ndarray, mask: np.ndarray | None = None,
                        names: list[str] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Each input's mean and deviation over the training rows, or over the steps that exist
    (mask) of training sequences: padding is not data. A column whose spread overflows
    (values near 1e308) is refused, naming it: its deviation was inf and the column became
    all zeros without a word."""
    if mask is not None:
        x_train = x_train[mask]  # (existing steps, inputs)
    with np.errstate(over="ignore", invalid="ignore"):
        mean = x_train.mean(axis=0)
        std = x_train.std(axis=0)
    bad = np.flatnonzero(~(np.isfinite(mean) & np.isfinite(std)))
    if len(bad):
        column = names[bad[0]] if names is not None and bad[0] < len(names) else \
            f"input column {bad[0] + 1}"
        raise DataError(f"{column}: its values are too large to standardise (their spread "
                        "overflows); scale them down or turn Standardise off")
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
    if settings.source == "csv" and settings.sequence_column:
        return _sequence_dataset(settings, base_dir)
    if settings.source != "csv" and settings.generator in SEQUENCE_GENERATORS:
        return _sequence_dataset(settings, base_dir)
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
        mean, std = fit_standardization(x_train, names=list(inputs))
        x_train, x_test = (x_train - mean) / std, (x_test - mean) / std
    return Dataset(x_train, y_train, x_test, y_test, task, inputs, targets, class_names, mean, std)


def _sequence_dataset(settings: DataSettings, base_dir: str | Path | None) -> Dataset:
    """make_dataset for sequences: split by whole sequence; standardisation fitted over the
    training sequences' existing steps, and padded steps kept at zero."""
    if settings.source == "csv":
        x, y, mask, inputs, targets, class_names = load_csv_sequences(
            csv_file(settings, base_dir), settings.input_columns, settings.target_columns,
            settings.task, settings.sequence_column)
        task = settings.task
    else:
        x, y, mask, task, inputs, targets = generate_sequences(
            settings.generator, settings.samples, settings.sequence_length, settings.noise,
            settings.seed)
        class_names = None
        if task == "classification":
            class_names = list(targets) if y.shape[-1] > 1 else ["0", "1"]
    train, test = split_rows(len(x), settings.test_fraction, settings.seed)
    x_train, x_test = x[train], x[test]
    mean = std = None
    if settings.standardize:
        mean, std = fit_standardization(x_train, mask[train], list(inputs))
        x_train = np.where(mask[train][..., None], (x_train - mean) / std, 0.0)
        x_test = np.where(mask[test][..., None], (x_test - mean) / std, 0.0)
    return Dataset(x_train, y[train], x_test, y[test], task, inputs, targets, class_names,
                   mean, std, mask[train], mask[test])
