"""Built-in, seeded data generators: the same seed gives bit-identical arrays.

Binary classification gives one 0/1 target column (one sigmoid output); k >= 3 classes give k
one-hot columns (softmax cross-entropy over k outputs). Noise is Gaussian, added to inputs for
classification and to targets for regression.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from core.errors import DataError

Arrays = tuple[np.ndarray, np.ndarray]


@dataclass(frozen=True)
class Generator:
    description: str
    task: str  # "classification" or "regression"
    n_inputs: int
    uses_classes: bool
    make: Callable[[int, float, np.random.Generator, int], Arrays]  # (samples, noise, rng, k)


def _logic(table: list[int]) -> Callable[[int, float, np.random.Generator, int], Arrays]:
    def make(n: int, noise: float, rng: np.random.Generator, k: int) -> Arrays:
        corners = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=float)
        idx = np.arange(n) % 4  # every pattern equally often; n = 4 gives the classic table
        x = corners[idx] + noise * rng.standard_normal((n, 2))
        return x, np.array(table, dtype=float)[idx][:, None]
    return make


def _circles(n: int, noise: float, rng: np.random.Generator, k: int) -> Arrays:
    label = np.arange(n) % 2  # 1 = inner circle
    radius = np.where(label == 1, rng.uniform(0.0, 0.5, n), rng.uniform(0.7, 1.0, n))
    angle = rng.uniform(0, 2 * np.pi, n)
    x = np.stack([radius * np.cos(angle), radius * np.sin(angle)], axis=1)
    return x + noise * rng.standard_normal((n, 2)), label[:, None].astype(float)


def _moons(n: int, noise: float, rng: np.random.Generator, k: int) -> Arrays:
    label = np.arange(n) % 2
    t = rng.uniform(0, np.pi, n)
    x = np.where(label[:, None] == 0, np.stack([np.cos(t), np.sin(t)], axis=1),
                 np.stack([1 - np.cos(t), 0.5 - np.sin(t)], axis=1))
    return x + noise * rng.standard_normal((n, 2)), label[:, None].astype(float)


def _spiral(n: int, noise: float, rng: np.random.Generator, k: int) -> Arrays:
    label = np.arange(n) % 2
    r = rng.uniform(0.05, 1.0, n)
    angle = 1.75 * 2 * np.pi * r + np.pi * label  # two arms, half a turn apart
    x = np.stack([r * np.cos(angle), r * np.sin(angle)], axis=1)
    return x + noise * rng.standard_normal((n, 2)), label[:, None].astype(float)


def _blobs(n: int, noise: float, rng: np.random.Generator, k: int) -> Arrays:
    label = np.arange(n) % k
    centres = 2.0 * np.stack([np.cos(2 * np.pi * np.arange(k) / k),
                              np.sin(2 * np.pi * np.arange(k) / k)], axis=1)
    x = centres[label] + noise * rng.standard_normal((n, 2))
    return x, (np.eye(k)[label] if k > 2 else label[:, None].astype(float))


def _line(n: int, noise: float, rng: np.random.Generator, k: int) -> Arrays:
    x = rng.uniform(-1, 1, (n, 1))
    return x, 0.8 * x - 0.2 + noise * rng.standard_normal((n, 1))


def _sine(n: int, noise: float, rng: np.random.Generator, k: int) -> Arrays:
    x = rng.uniform(-np.pi, np.pi, (n, 1))
    return x, np.sin(x) + noise * rng.standard_normal((n, 1))


def _plane(n: int, noise: float, rng: np.random.Generator, k: int) -> Arrays:
    x = rng.uniform(-1, 1, (n, 2))
    return x, (0.5 * x[:, :1] - 0.7 * x[:, 1:] + 0.1) + noise * rng.standard_normal((n, 1))


def _valley(n: int, noise: float, rng: np.random.Generator, k: int) -> Arrays:
    """Linear regression on inputs that make its squared error a long narrow valley: x2
    spreads ten times as far as x1 and follows it (correlation 0.7). The Hessian
    (2/N) X^T X (with the bias column) then has a condition number in the hundreds;
    standardising the inputs brings it to about (1 + 0.7) / (1 - 0.7). Both inputs are
    centred and the intercept is 0, so the bias hardly couples to the weights: the slice of
    the loss over the two weights at any bias has its bottom where the whole loss has."""
    u, v = rng.standard_normal(n), rng.standard_normal(n)
    x = np.stack([0.2 * u, 3.0 * (0.7 * u + np.sqrt(1.0 - 0.7**2) * v)], axis=1)
    return x, (x[:, :1] - 0.5 * x[:, 1:]) + noise * rng.standard_normal((n, 1))


def _onehot8(n: int, noise: float, rng: np.random.Generator, k: int) -> Arrays:
    x = np.eye(8)[np.arange(n) % 8] + noise * rng.standard_normal((n, 8))
    return x, np.eye(8)[np.arange(n) % 8]


def _sklearn(loader: str) -> Callable[[int, float, np.random.Generator, int], Arrays]:
    """A real data set that scikit-learn ships inside its package (no download): all of its
    samples (the sample count does not apply), noise added to the inputs if asked."""
    def make(n: int, noise: float, rng: np.random.Generator, k: int) -> Arrays:


        try:
            from sklearn import datasets
        except ImportError:
            raise DataError("the real data sets need scikit-learn: pip install -e \".[datasets]\"") \
                from None
        bunch = getattr(datasets, loader)()
        x = bunch.data.astype(float)
        if noise:
            x = x + noise * rng.standard_normal(x.shape)
        classes = len(bunch.target_names)
        y = np.eye(classes)[bunch.target] if classes > 2 else bunch.target[:, None].astype(float)
        return x, y
    return make


REAL_DATA = {"iris": ("iris flowers: 4 measurements, 3 species (150 samples)", 4),
             "wine": ("wines: 13 chemical measurements, 3 cultivars (178 samples)", 13),
             "breast_cancer": ("breast tumours: 30 features, benign or malignant (569)", 30),
             "digits": ("8x8 handwritten digits, the postal-code story: 64 pixels, 10 classes "
                        "(1797 samples)", 64)}

GENERATORS: dict[str, Generator] = {
    "xor": Generator("XOR of two binary inputs", "classification", 2, False, _logic([0, 1, 1, 0])),
    "and": Generator("AND of two binary inputs", "classification", 2, False, _logic([0, 0, 0, 1])),
    "or": Generator("OR of two binary inputs", "classification", 2, False, _logic([0, 1, 1, 1])),
    "circles": Generator("a disc inside a ring", "classification", 2, False, _circles),
    "moons": Generator("two interleaving half circles", "classification", 2, False, _moons),
    "spiral": Generator("two interleaved spiral arms", "classification", 2, False, _spiral),
    "blobs": Generator("k Gaussian blobs on a circle", "classification", 2, True, _blobs),
    "line": Generator("y = 0.8 x - 0.2", "regression", 1, False, _line),
    "sine": Generator("y = sin(x) on [-pi, pi]", "regression", 1, False, _sine),
    "plane": Generator("y = 0.5 x1 - 0.7 x2 + 0.1", "regression", 2, False, _plane),
    "valley": Generator("y = x1 - 0.5 x2, x2 ten times x1's size and correlated with "
                        "it: a narrow valley for gradient descent", "regression", 2, False,
                        _valley),
    "onehot8": Generator("the 8 one-hot patterns, target = input (autoencoder)", "regression",
                         8, False, _onehot8),
    **{name: Generator(text, "classification", n_in, False, _sklearn(f"load_{name}"))
       for name, (text, n_in) in REAL_DATA.items()},
}


def generate(name: str, samples: int, noise: float, seed: int, classes: int = 3
             ) -> tuple[np.ndarray, np.ndarray, str, list[str], list[str]]:
    """(x, y, task, input names, target names) from a built-in generator."""


    if name not in GENERATORS:
        raise DataError(f"unknown data generator {name!r}; use one of {', '.join(GENERATORS)}")
    gen = GENERATORS[name]
    if samples < 1:
        raise DataError("the number of samples must be at least 1")
    k = classes if gen.uses_classes else 2
    x, y = gen.make(samples, noise, np.random.default_rng(seed), k)
    inputs = [f"x{i + 1}" for i in range(gen.n_inputs)] if gen.n_inputs > 1 else ["x"]
    if name in REAL_DATA:
        inputs = _feature_names(name) or inputs
    if y.shape[1] > 1 and gen.task == "classification":
        targets = [f"class {i}" for i in range(y.shape[1])]
    else:
        targets = [f"y{i + 1}" for i in range(y.shape[1])] if y.shape[1] > 1 else ["y"]
    return x.astype(float), y.astype(float), gen.task, inputs, targets


def _feature_names(name: str) -> list[str] | None:
    from sklearn import datasets

    names = getattr(datasets, f"load_{name}")().feature_names
    return [str(n) for n in names]
