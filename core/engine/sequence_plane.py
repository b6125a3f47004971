"""The loss surface's grid on sequence data: the forward pass of a net (recurrent or not) over a
batch of sequences, for many points of a parameter plane at once.

Points are extra batch columns. At time step t, column k*S + s holds sequence s at grid point
k, so one step of K points is one (neurons x K*S) pass, as a minibatch of K*S sequences would
be. Every weight block and bias is affine along the plane, W(a, b) = Wc + a W1 + b W2, so a
level's net input at point k is Wc @ src + a_k (W1 @ src) + b_k (W2 @ src) + the biases': the
Wc product is one call over every point's columns, and the two direction products are made only
for the rows a direction moves (on the exact plane: one row each, the two chosen parameters').
The delayed edges' block adds, as in core.engine.recurrent, W_delayed(a, b) @ (its sources at
step t - 1) to its targets' net inputs (nothing at the first step). Only the step before is
kept, and the output neurons' values the loss reads.

The loss is then core.engine.recurrent's: the columns core.engine.recurrent.loss_columns picks
(every step, or each sequence's last; masked steps left out), and each point's mean by the
loss's batched form. tests/core/test_sequence_plane.py holds it to the engine's
sequence_loss at every point.
"""
from __future__ import annotations

import numpy as np

from core.activations import ACTIVATIONS
from core.engine.backprop import carried_rows
from core.engine.plan import Level, Plan
from core.engine.recurrent import loss_columns
from core.losses import LOSSES

CHUNK_BYTES = 2**23  # per chunk of points: a step's values and the outputs' (measured flat above)


class _Block:
    """One weight block (a level, or the delayed edges') along the plane: its centre and the
    rows each direction moves, with their weights and biases there."""

    def __init__(self, lv: Level, parts: list, i: int, biased: bool) -> None:
        self.lv = lv
        self.w = parts[0].weights[i]
        zeros = np.zeros(lv.stop - lv.start, self.w.dtype)
        self.b = parts[0].biases[lv.start: lv.stop] if biased else zeros
        self.moves = []  # (direction 0 or 1, rows, their weights, their biases)
        for k, p in enumerate(parts[1:]):
            w, b = p.weights[i], (p.biases[lv.start: lv.stop] if biased else zeros)
            rows = np.flatnonzero(np.any(w != 0, axis=1) | (b != 0))
            if rows.size:
                self.moves.append((k, rows, w[rows], b[rows]))

    def net_input(self, src: np.ndarray, coeff: np.ndarray, out: np.ndarray,
                  points: int) -> None:
        """out = W(a, b) @ src + b(a, b) for each point's columns; coeff is (2, points)."""
        if src.shape[0]:
            np.matmul(self.w, src, out=out)
            out += self.b[:, None]
        else:
            out[:] = self.b[:, None]
        for k, rows, w, b in self.moves:
            part = (w @ src if src.shape[0] else np.zeros((len(rows), src.shape[1]), w.dtype))
            part += b[:, None]
            part = part.reshape(len(rows), points, -1)
            part *= coeff[k][None, :, None]
            out[rows] += part.reshape(len(rows), -1)


class SequencePlaneForward:
    """Forward passes on the plane through `center` spanned by d1 and d2 (flat parameter
    vectors in Plan.flatten order), for the sequences x (sequences x steps x inputs)."""

    def __init__(self, plan: Plan, center: np.ndarray, d1: np.ndarray, d2: np.ndarray,
                 x: np.ndarray, dtype: type = np.float64) -> None:
        self.plan, self.dtype = plan, dtype
        self.x = np.asarray(x, dtype)
        if self.x.ndim != 3 or self.x.shape[2] != plan.n_inputs or self.x.shape[1] == 0:
            raise ValueError(f"expected sequences of shape (sequences, steps, {plan.n_inputs}) "
                             f"with at least one step, got {np.shape(x)}")
        parts = [plan.unflatten(np.asarray(v, np.float64).astype(dtype))
                 for v in (center, d1, d2)]
        self.levels = [_Block(lv, parts, i, True) for i, lv in enumerate(plan.levels)]
        self.delayed = None if plan.delayed is None else \
            _Block(plan.delayed, parts, len(plan.levels), False)

    def chunk(self) -> int:
        """Points per pass: a step's arrays and every step's outputs within CHUNK_BYTES."""
        s, t = self.x.shape[:2]
        per_point = s * self.x.itemsize * (2 * self.plan.n_neurons
                                           + 2 * len(self.plan.output_rows) * t)
        return int(max(1, CHUNK_BYTES // max(per_point, 1)))

    def outputs(self, alphas: np.ndarray, betas: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(z, a) of the output neurons at theta(alphas[k], betas[k]) for every k, each as
        (points, outputs, steps * sequences), column t*S + s (core.engine.recurrent's order).
        Memory grows with the points: callers chunk."""
        plan, x = self.plan, self.x
        coeff = np.stack([np.asarray(alphas, float).ravel(),
                          np.asarray(betas, float).ravel()]).astype(self.dtype)
        k = coeff.shape[1]
        s, t, n_in = x.shape
        n, outs = plan.n_neurons, plan.output_rows
        z, a = np.zeros((n, k * s), self.dtype), np.zeros((n, k * s), self.dtype)
        out_z = np.empty((len(outs), t, k, s), self.dtype)
        out_a = np.empty_like(out_z)
        block, before, carried = self.delayed, None, None
        overlaps = carried_rows(plan) if block is not None else None
        for step in range(t):
            a[:n_in].reshape(n_in, k, s)[...] = x[:, step].T[:, None, :]
            if block is not None and before is not None:
                lv = block.lv
                carried = np.empty((lv.stop - lv.start, k * s), self.dtype)
                block.net_input(before, coeff, carried, k)
            for i, level in enumerate(self.levels):
                lv = level.lv
                zl = z[lv.start: lv.stop]
                level.net_input(a[lv.src_lo: lv.src_hi], coeff, zl, k)
                if carried is not None and overlaps[i] is not None:
                    z0, z1, c0, c1 = overlaps[i]
                    zl[z0:z1] += carried[c0:c1]
                for name, g0, g1 in lv.groups:
                    a[g0:g1] = ACTIVATIONS[name].f(z[g0:g1])
            if block is not None:  # what the delayed edges read at the next step
                before = a[block.lv.src_lo: block.lv.src_hi].copy()
            out_z[:, step] = z[outs].reshape(len(outs), k, s)
            out_a[:, step] = a[outs].reshape(len(outs), k, s)
        shape = (k, len(outs), t * s)
        return (out_z.transpose(2, 0, 1, 3).reshape(shape),
                out_a.transpose(2, 0, 1, 3).reshape(shape))


def sequence_grid_losses(plan: Plan, center: np.ndarray, d1: np.ndarray, d2: np.ndarray,
                         alphas: np.ndarray, betas: np.ndarray, x: np.ndarray, y: np.ndarray,
                         mask: np.ndarray | None, loss: str, sequence_loss: str = "every",
                         dtype: type = np.float64, chunk: int | None = None) -> np.ndarray:
    """The loss (training.sequence_loss's steps, masks applied) at each point
    center + alphas[k] d1 + betas[k] d2, as a flat array over k."""
    forward_on = SequencePlaneForward(plan, center, d1, d2, x, dtype)
    s, t = forward_on.x.shape[:2]
    cols = loss_columns(mask, s, t, sequence_loss)
    if cols is not None and cols.size == 0:
        raise ValueError("no sequence has a time step to learn from (every step is masked)")
    y = np.asarray(y, dtype)
    if y.shape != (s, t, len(plan.output_rows)):
        raise ValueError(f"expected targets of shape {(s, t, len(plan.output_rows))}, "
                         f"got {y.shape}")
    y_cols = y.transpose(2, 1, 0).reshape(len(plan.output_rows), -1)
    if cols is not None:
        y_cols = y_cols[:, cols]
    alphas, betas = np.asarray(alphas, float).ravel(), np.asarray(betas, float).ravel()
    chunk = chunk or forward_on.chunk()
    out = np.empty(alphas.size)
    for start in range(0, alphas.size, chunk):
        z, a = forward_on.outputs(alphas[start: start + chunk], betas[start: start + chunk])
        if cols is not None:
            z, a = z[:, :, cols], a[:, :, cols]
        out[start: start + chunk] = LOSSES[loss].batched(z, a, y_cols[None])
    return out
