"""Bounded, decimating histories: a million steps in a fixed amount of memory.

When a buffer fills, every other point is dropped and from then on only every second (then
fourth, ...) value is kept, so the stored points always span the whole run evenly.
"""
from __future__ import annotations

import numpy as np

TRAJECTORY_BYTES = 64 * 2**20
# Values a training step writes into the trajectory, on average: one 4 KB page of float64.
# A snapshot row lands in memory not touched before until the buffer first fills, and a page
# touched the first time costs a fault (12 us per 4 KB on the 2-core development VM, where
# 2,778 parameters a step cost 86 us a step against 4 us into touched memory, more than the
# step itself). Nets up to this size keep a snapshot of every step at first.
SNAPSHOT_PARAMETERS = 512


class Series:
    """(step, value) pairs, at most `capacity` of them."""

    def __init__(self, capacity: int = 4096) -> None:
        self.capacity = max(4, capacity - capacity % 2)
        self._x = np.empty(self.capacity)
        self._y = np.empty(self.capacity)
        self._n = 0
        self.stride = 1
        self._seen = 0

    def append(self, x: float, y: float) -> None:
        keep = self._seen % self.stride == 0
        self._seen += 1
        if not keep:
            return
        if self._n == self.capacity:
            self._decimate()
        self._x[self._n] = x
        self._y[self._n] = y
        self._n += 1

    def extend(self, x: np.ndarray, y: np.ndarray) -> None:
        """append() for each pair in turn, in a few array copies (a compiled block's steps)."""
        i, m = 0, len(x)
        while i < m:
            skip = -self._seen % self.stride  # values until the next one kept
            if i + skip >= m:
                self._seen += m - i
                return
            i += skip
            self._seen += skip
            if self._n == self.capacity:
                self._decimate()
            take = min(self.capacity - self._n, -(-(m - i) // self.stride))
            stop = i + (take - 1) * self.stride + 1
            self._x[self._n: self._n + take] = x[i: stop: self.stride]
            self._y[self._n: self._n + take] = y[i: stop: self.stride]
            self._n += take
            self._seen += stop - i
            i = stop

    def _decimate(self) -> None:
        self._n = _halve((self._x, self._y), self._n)
        self.stride *= 2

    @property
    def x(self) -> np.ndarray:
        return self._x[: self._n]

    @property
    def y(self) -> np.ndarray:
        return self._y[: self._n]

    def __len__(self) -> int:
        return self._n

    def clear(self) -> None:
        self._n, self.stride, self._seen = 0, 1, 0


class Trajectory:
    """Snapshots of the flat parameter vector theta, decimated like Series."""

    def __init__(self, n_parameters: int, max_bytes: int = TRAJECTORY_BYTES) -> None:
        self.capacity = int(min(4096, max(16, max_bytes // (8 * max(n_parameters, 1)))))
        self.capacity -= self.capacity % 2
        self._theta = np.empty((self.capacity, n_parameters))
        self._steps = np.empty(self.capacity, dtype=np.int64)
        self._n = 0
        # Above SNAPSHOT_PARAMETERS, keep every 2^k-th step from the start, so that snapshots
        # write at most SNAPSHOT_PARAMETERS values a step on average.
        self.stride = 1
        while n_parameters > SNAPSHOT_PARAMETERS * self.stride:
            self.stride *= 2

    def wants(self, step: int) -> bool:
        """Whether the snapshot of this step would be kept (so callers skip flattening)."""
        return step % self.stride == 0

    def append(self, step: int, theta: np.ndarray) -> None:
        row = self._row_for(step)
        if row is not None:
            self._theta[row] = theta

    def append_taken(self, step: int, flat: np.ndarray, index: np.ndarray) -> None:
        """append(step, flat[index]), gathered straight into the kept row (no new array)."""
        if step % self.stride:  # wants(step), without a call: every training step asks
            return
        row = self._row_for(step)
        if row is None:
            return
        if flat.dtype == self._theta.dtype:
            flat.take(index, out=self._theta[row], mode="clip")  # index is in range
        else:
            self._theta[row] = flat[index]

    def _row_for(self, step: int) -> int | None:
        """The row that keeps this step's snapshot (its step recorded), or None."""
        if not self.wants(step):
            return None
        if self._n == self.capacity:
            self._n = _halve((self._theta, self._steps), self._n)
            self.stride *= 2
            if not self.wants(step):
                return None
        self._steps[self._n] = step
        self._n += 1
        return self._n - 1

    def extend(self, steps: np.ndarray, thetas: np.ndarray) -> None:
        """append() for each (step, theta) in turn, steps increasing, in a few array copies."""
        while len(steps):
            keep = steps % self.stride == 0
            steps, thetas = steps[keep], thetas[keep]
            take = min(self.capacity - self._n, len(steps))
            self._theta[self._n: self._n + take] = thetas[:take]
            self._steps[self._n: self._n + take] = steps[:take]
            self._n += take
            steps, thetas = steps[take:], thetas[take:]
            if len(steps):
                self._n = _halve((self._theta, self._steps), self._n)
                self.stride *= 2

    @property
    def thetas(self) -> np.ndarray:
        return self._theta[: self._n]

    @property
    def steps(self) -> np.ndarray:
        return self._steps[: self._n]

    def __len__(self) -> int:
        return self._n


def _halve(buffers: tuple[np.ndarray, ...], n: int) -> int:
    """Keep every other one of the first n rows of each buffer; return the new count.

    In blocks that do not overlap their sources (rows [k, 2k) from rows [2k, 4k) step 2, k =
    1, 2, 4, ...; row 0 stays): b[:n // 2] = b[:n:2] in one go overlaps, so NumPy copied the
    source into a temporary first, a whole buffer of fresh memory (125 ms for a 33 MB path).
    """
    half = n // 2
    for b in buffers:
        k = 1
        while k < half:
            stop = min(2 * k, half)
            b[k:stop] = b[2 * k: 2 * stop: 2]
            k *= 2
    return half
