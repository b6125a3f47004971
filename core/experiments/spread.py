"""How repeated runs (one setup, several seeds) spread: their curves as a median with a
min-max band, and their final losses grouped into the minima they reached.

The question the source texts raise, "many different local minima exist; some generalise
well, some won't", is answered by these two: the band shows how far apart the runs went,
and the groups say which seeds ended in which minimum.
"""
from __future__ import annotations

from dataclasses import dataclass
from string import ascii_uppercase

import numpy as np

from core.experiments.curve import Curve

BAND_POINTS = 400  # steps of the common grid the curves are read at


@dataclass(frozen=True)
class Band:
    """At each step: the median, lowest and highest of the curves that reach that step, and
    how many do (a run that stopped early, say diverged, drops out after its last step)."""

    steps: np.ndarray
    median: np.ndarray
    low: np.ndarray
    high: np.ndarray
    count: np.ndarray


def band(curves: list[Curve], points: int = BAND_POINTS) -> Band | None:
    """The band of `curves` (None without a curve of at least one point). Each curve is read
    at the grid's steps by linear interpolation between its own points, and only within its
    own first and last step: nothing is made up beyond where a run went."""
    curves = [c for c in curves if len(c)]
    if not curves:
        return None
    first = min(c.steps[0] for c in curves)
    last = max(c.steps[-1] for c in curves)
    steps = np.unique(np.linspace(first, last, points).round().astype(np.int64)) \
        if last > first else np.array([first], dtype=np.int64)
    table = np.full((len(curves), len(steps)), np.nan)
    for i, c in enumerate(curves):
        s, v = np.asarray(c.steps, dtype=float), np.asarray(c.values, dtype=float)
        inside = (steps >= s[0]) & (steps <= s[-1])
        table[i, inside] = np.interp(steps[inside], s, v)
    count = np.sum(np.isfinite(table), axis=0)
    keep = count > 0
    table, steps, count = table[:, keep], steps[keep], count[keep]
    with np.errstate(all="ignore"):
        return Band(steps, np.nanmedian(table, axis=0), np.nanmin(table, axis=0),
                    np.nanmax(table, axis=0), count)


# Two final losses are one minimum when they differ by less than this share of the larger,
# plus an absolute slack for losses near zero (where every trained run ends, whatever its
# weights): 0.0011 and 0.0012 are one minimum; 0.0 and 0.125 (XOR with one corner wrong)
# are two.
SAME_SHARE, SAME_SLACK = 0.05, 1e-3


def minima(finals: dict[str, float]) -> dict[str, str]:
    """Group runs (by key) into the minima their final losses reached: "A" is the lowest,
    then "B", ... A key whose loss is not finite gets "-" (the run diverged)."""
    finite = sorted((v, k) for k, v in finals.items() if np.isfinite(v))
    labels = {k: "-" for k, v in finals.items() if not np.isfinite(v)}
    group, anchor = -1, None
    for value, key in finite:
        if anchor is None or value - anchor > SAME_SHARE * max(abs(value), abs(anchor)) \
                + SAME_SLACK:
            group, anchor = group + 1, value
        labels[key] = _label(group)
    return labels


def _label(i: int) -> str:
    """A, B, ..., Z, AA, AB, ..."""
    out = ""
    i += 1
    while i:
        i, r = divmod(i - 1, 26)
        out = ascii_uppercase[r] + out
    return out
