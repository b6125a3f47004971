"""Sequences of different lengths as one (sequences x steps x columns) array and its mask.

Padding goes at the END of each sequence and is zero; the mask is True where a step exists.
The engine starts each sequence's state at zero and reads steps forward, so padding at the end
never reaches a step that exists, and a masked step adds nothing to the loss.
"""
from __future__ import annotations

import numpy as np

from core.errors import DataError

# Sequences x steps, padding included. The data and its gradients are several arrays of this
# many rows for every neuron, so 10 million steps of a 16-neuron net is already gigabytes.
MAX_STEPS = 10_000_000


def check_steps(sequences: int, length: int, what: str) -> None:
    """Refuse, before anything is allocated, data of more than MAX_STEPS padded steps."""
    if sequences * length > MAX_STEPS:
        raise DataError(f"{what}: {sequences:,} sequences x {length:,} steps is "
                        f"{sequences * length:,} time steps; at most {MAX_STEPS:,} are allowed")


def pad(parts: list[np.ndarray], what: str) -> tuple[np.ndarray, np.ndarray]:
    """(padded array (n, T, columns), mask (n, T)) from n arrays of shape (length_i, columns)."""
    lengths = np.array([len(p) for p in parts], dtype=np.int64)
    longest = int(lengths.max()) if len(parts) else 0
    check_steps(len(parts), longest, what)
    columns = parts[0].shape[1] if parts else 0
    out = np.zeros((len(parts), longest, columns))
    mask = np.arange(longest)[None, :] < lengths[:, None]
    if parts:
        out[mask] = np.concatenate(parts)  # row-major order of the mask is each part in turn
    return out, mask
