"""A run's curve (loss or accuracy against steps) kept in a bounded number of points.

A run of a million steps is kept in at most CURVE_POINTS points per curve, so a project file
holding hundreds of runs stays small. Decimation keeps the first and the last point and, in
each of equal buckets of the points between, the lowest and the highest value in step order:
a spike or a sudden drop survives it (what pyqtgraph's "peak" downsampling keeps on screen),
where taking every k-th point would step over it.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

CURVE_POINTS = 500


def decimate(steps: np.ndarray, values: np.ndarray, limit: int = CURVE_POINTS
             ) -> tuple[np.ndarray, np.ndarray]:
    """At most `limit` (>= 4) of the points, in step order; first, last, minima and maxima kept."""
    n = len(values)
    if n <= limit:
        return steps, values
    buckets = (limit - 2) // 2
    inner = np.arange(1, n - 1)
    bucket = (inner - 1) * buckets // (n - 2)  # 0 .. buckets-1, sizes differing by at most 1
    # Within each bucket, sorted by value: the first of a bucket is its minimum, the last its
    # maximum (lexsort: the last key is the primary one).
    order = inner[np.lexsort((values[inner], bucket))]
    sorted_bucket = bucket[order - 1]
    first = np.flatnonzero(np.r_[True, sorted_bucket[1:] != sorted_bucket[:-1]])
    last = np.r_[first[1:] - 1, len(order) - 1]
    keep = np.unique(np.r_[0, order[first], order[last], n - 1])
    return steps[keep], values[keep]


@dataclass(frozen=True)
class Curve:
    """(step, value) pairs in step order, steps counted from the start of the run."""

    steps: tuple[int, ...]
    values: tuple[float, ...]

    @classmethod
    def of(cls, steps, values, limit: int = CURVE_POINTS) -> "Curve":
        """A curve from arrays, decimated; points whose value is not finite are left out
        (a file holds finite numbers only), and of points at one step only the last is kept
        (the train command evaluates twice at the end of each epoch)."""
        s = np.asarray(steps, dtype=np.int64).ravel()
        v = np.asarray(values, dtype=np.float64).ravel()
        finite = np.isfinite(v)
        s, v = s[finite], v[finite]
        last = np.r_[s[1:] != s[:-1], True] if len(s) else np.zeros(0, bool)
        s, v = decimate(s[last], v[last], limit)
        return cls(tuple(s.tolist()), tuple(v.tolist()))

    def __len__(self) -> int:
        return len(self.steps)

    def last(self) -> float | None:
        return self.values[-1] if self.values else None

    def to_dict(self) -> dict:
        return {"steps": list(self.steps), "values": list(self.values)}

    @classmethod
    def from_dict(cls, data: object, where: str) -> "Curve":
        """Read from a file: both lists of equal length, steps whole numbers >= 0 that never
        go down, values finite numbers. A curve longer than CURVE_POINTS is decimated."""
        from core.errors import RunError

        if not isinstance(data, dict) or set(data) != {"steps", "values"}:
            raise RunError(f"{where} must be an object with \"steps\" and \"values\"")
        steps, values = data["steps"], data["values"]
        if not isinstance(steps, list) or not isinstance(values, list) or \
                len(steps) != len(values):
            raise RunError(f"{where}.steps and {where}.values must be lists of equal length")
        if not all(type(s) is int and 0 <= s < 2**63 for s in steps):
            raise RunError(f"{where}.steps must be whole numbers from 0")
        if any(b < a for a, b in zip(steps, steps[1:])):
            raise RunError(f"{where}.steps must not go down")
        if not all(type(v) in (int, float) and math.isfinite(v) for v in values):
            raise RunError(f"{where}.values must be finite numbers")
        return cls.of(steps, values)
