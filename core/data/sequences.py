"""Built-in, seeded generators of sequences, for nets with delayed (recurrent) edges.

Each gives x (sequences, steps, inputs), y (sequences, steps, targets) and a mask (sequences,
steps), True where a step exists. `samples` counts sequences and `data.sequence_length` sets
the steps (except reber, whose strings have the grammar's lengths). The same seed gives
bit-identical arrays. A sibling of core.data.generators' GENERATORS rather than entries in it:
everything that reads GENERATORS (the settings panel, the feed-forward tests) expects one
row per sample.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from core.data.padding import check_steps
from core.data.reber import SYMBOLS, embedded_reber
from core.errors import DataError

Arrays = tuple[np.ndarray, np.ndarray, np.ndarray]  # x, y, mask

# echo repeats the input from this many steps ago: far enough that one step of memory (a
# single delayed edge into the output) cannot do it, near enough for a small Elman net.
ECHO_DELAY = 3
SINE_STEPS_PER_PERIOD = 20


@dataclass(frozen=True)
class SequenceGenerator:
    description: str
    task: str  # "classification" or "regression"
    inputs: tuple[str, ...]
    targets: tuple[str, ...]
    min_length: int  # the shortest data.sequence_length that makes sense
    make: Callable[[int, int, float, np.random.Generator], Arrays]  # (sequences, T, noise, rng)
    uses_length: bool = True  # False: the data decides the steps (reber's strings)

    @property
    def n_inputs(self) -> int:
        return len(self.inputs)


def _full(x: np.ndarray, y: np.ndarray) -> Arrays:
    return x, y, np.ones(x.shape[:2], dtype=bool)


def _sine_next(n: int, steps: int, noise: float, rng: np.random.Generator) -> Arrays:
    """Next value of a noisy sine. Each sequence observes s_t = sin(phase + w t) + noise
    (w = 2 pi / 20, a random phase per sequence); step t's input is s_t, its target s_(t+1),
    the same noisy series one step on. Tests: the net must know where in the period it is,
    which one value does not say (sin is the same going up and coming down): the direction
    comes from the previous step, through a delayed edge."""
    t = np.arange(steps + 1)
    phase = rng.uniform(0.0, 2 * np.pi, (n, 1))
    series = np.sin(phase + 2 * np.pi / SINE_STEPS_PER_PERIOD * t)
    series = series + noise * rng.standard_normal(series.shape)
    return _full(series[:, :-1, None], series[:, 1:, None])


def _echo(n: int, steps: int, noise: float, rng: np.random.Generator) -> Arrays:
    """Echo: step t's input is a value drawn from U(-1, 1), its target the input from k = 3
    steps before (ECHO_DELAY; 0 for the first k steps, as if the sequence were preceded by
    zeros, which is where the state starts). Tests: memory of exactly k steps; a feed-forward
    net, or a recurrent one with less than k steps of memory, can do no better than 0. Noise
    does not apply."""
    x = rng.uniform(-1.0, 1.0, (n, steps, 1))
    y = np.zeros_like(x)
    y[:, ECHO_DELAY:] = x[:, :-ECHO_DELAY]
    return _full(x, y)


def _parity(n: int, steps: int, noise: float, rng: np.random.Generator) -> Arrays:
    """Running parity: step t's input is a random bit, its target 1 when the bits so far
    (this one included) hold an odd number of 1s, else 0. Tests: a state carried from step to
    step (XOR of the new bit with the last parity); the parity of a long stream is a
    hard function of its bits, a two-state machine easy. Noise does not apply."""
    bits = rng.integers(0, 2, (n, steps, 1))
    return _full(bits.astype(float), (np.cumsum(bits, axis=1) % 2).astype(float))


def _adding(n: int, steps: int, noise: float, rng: np.random.Generator) -> Arrays:
    """The adding problem (Hochreiter & Schmidhuber 1997, in the form of Le et al. 2015):
    each step's inputs are a value from U(0, 1) and a marker, 1 at exactly two steps (one in
    the first half, one in the second), else 0. The target at the last step is the sum of
    the two marked values; at every other step it is the sum of the marked values seen so
    far, so that the target at the end is what matters and the steps before never contradict
    it. Train with training.sequence_loss "last" for the classic task: only the last step's
    error counts, and the net must carry the first marked value across up to T steps
    (always-guessing 1 scores a mean squared error of about 1/6). With "every" it is the
    easier running sum. Tests: long-range memory, harder as T grows. Noise does not apply."""
    values = rng.uniform(0.0, 1.0, (n, steps))
    half = steps // 2
    first = rng.integers(0, half, n)
    second = rng.integers(half, steps, n)
    markers = np.zeros((n, steps))
    rows = np.arange(n)
    markers[rows, first] = markers[rows, second] = 1.0
    running = np.cumsum(values * markers, axis=1)
    return _full(np.stack([values, markers], axis=2), running[:, :, None])


def _reber(n: int, steps: int, noise: float, rng: np.random.Generator) -> Arrays:
    """The embedded Reber grammar (core.data.reber): step t's input is the t-th symbol of a
    string one-hot (B T P S X V E), its target the set of symbols that may come next, 0/1
    per symbol (several 1s where the grammar offers a choice; SNNS's targets). Strings have
    9 symbols or more (half at most 11, one in a thousand over 32), padded at the end and
    masked; data.sequence_length does not apply, nor does noise. The targets are sets, not
    one class, so the task is "regression": train sigmoid outputs with bce or mse. Tests:
    the second-to-last symbol repeats the second, so predicting it needs memory across the
    whole inner string; everything else needs only the last symbol or two."""
    return embedded_reber(n, rng)


SEQUENCE_GENERATORS: dict[str, SequenceGenerator] = {
    "sine_next": SequenceGenerator("the next value of a noisy sine (one period is 20 steps)",
                                   "regression", ("x",), ("x next",), 2, _sine_next),
    "echo": SequenceGenerator(f"echo: the input from {ECHO_DELAY} steps ago", "regression",
                              ("x",), (f"x {ECHO_DELAY} steps ago",), ECHO_DELAY + 1, _echo),
    "parity": SequenceGenerator("running parity of a stream of bits", "classification",
                                ("bit",), ("parity",), 2, _parity),
    "adding": SequenceGenerator("the adding problem: the sum of two marked values in a long "
                                "sequence", "regression", ("value", "marker"), ("sum",), 2,
                                _adding),
    "reber": SequenceGenerator("the embedded Reber grammar: predict the possible next symbols",
                               "regression", tuple(SYMBOLS),
                               tuple(f"next {s}" for s in SYMBOLS), 2, _reber,
                               uses_length=False),
}


def generate_sequences(name: str, samples: int, length: int, noise: float, seed: int
                       ) -> tuple[np.ndarray, np.ndarray, np.ndarray, str, list[str], list[str]]:
    """(x, y, mask, task, input names, target names) from a built-in sequence generator."""
    if name not in SEQUENCE_GENERATORS:
        raise DataError(f"unknown sequence generator {name!r}; use one of "
                        f"{', '.join(SEQUENCE_GENERATORS)}")
    gen = SEQUENCE_GENERATORS[name]
    if samples < 1:
        raise DataError("the number of sequences (samples) must be at least 1")
    if gen.uses_length:
        if length < gen.min_length:
            raise DataError(f"{name} needs data.sequence_length of at least {gen.min_length}, "
                            f"not {length}")
        check_steps(samples, length, name)
    x, y, mask = gen.make(samples, length, noise, np.random.default_rng(seed))
    return x, y, mask, gen.task, list(gen.inputs), list(gen.targets)
