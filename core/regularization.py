"""Weight penalties and max-norm, on the weight matrices only (biases are not penalised)."""
from __future__ import annotations

import numpy as np


def penalty(weights: list[np.ndarray], l1: float, l2: float) -> float:
    """l1 * sum |w| + l2 / 2 * sum w^2."""
    total = 0.0
    if l1:
        total += l1 * sum(float(np.abs(w).sum()) for w in weights)
    if l2:
        total += 0.5 * l2 * sum(float(np.vdot(w, w)) for w in weights)
    return total


def add_penalty_gradient(weights: list[np.ndarray], grads: list[np.ndarray], l1: float,
                         l2: float) -> None:
    """grads += l1 sign(w) + l2 w, in place (absent edges have w = 0 and gain nothing)."""
    for w, g in zip(weights, grads):
        if l1:
            g += l1 * np.sign(w)
        if l2:
            g += l2 * w


def apply_max_norm(weights: list[np.ndarray], c: float,
                   trainable: list[np.ndarray | None], rows: list[int] | None = None) -> None:
    """Rescale each neuron's incoming weights (a matrix row) whose L2 norm exceeds c.

    rows: each matrix's first neuron, when some neuron's incoming weights lie in several
    matrices (a recurrent net: its ordinary edges in its level's, its delayed ones in the
    delayed block): the norm is then over all of them together. Only trainable entries
    change: frozen weights stay as they are, so a row with frozen weights may end a little
    above c.
    """
    if rows is not None:
        squares = np.zeros(max((r + w.shape[0] for r, w in zip(rows, weights)), default=0))
        for r, w in zip(rows, weights):
            squares[r: r + w.shape[0]] += np.sum(w * w, axis=1)
        norms = np.sqrt(squares)
        scales = np.where(norms > c, c / np.maximum(norms, 1e-300), 1.0)[:, None]
    for i, (w, mask) in enumerate(zip(weights, trainable)):
        if w.size == 0:
            continue
        if rows is None:
            norms = np.sqrt(np.sum(w * w, axis=1, keepdims=True))
            scale = np.where(norms > c, c / np.maximum(norms, 1e-300), 1.0)
        else:
            scale = scales[rows[i]: rows[i] + w.shape[0]]
        if mask is None:
            w *= scale
        else:
            w *= np.where(mask > 0, scale, 1.0)
