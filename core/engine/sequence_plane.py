"""The loss surface's grid on sequence data: the forward pass of a net (recurrent or not) over a
batch of sequences, for many points of a parameter plane at once.

Points are extra batch columns. At time step t the values are one (points x neurons x
sequences) array: a step of K points is one pass, as a minibatch of K*S sequences would be.
Every weight block and bias is affine along the plane, W(a, b) = Wc + a W1 + b W2: each point's
matrices are made once per chunk of points (K small matrices), and a level's net inputs are one
batched product over the points (numpy's matmul, a BLAS call per point); a block no direction
moves is one product broadcast over them. The delayed edges' block adds, as in
core.engine.recurrent, W_delayed(a, b) @ (its sources at step t - 1) to its targets' net
inputs (nothing at the first step). Only the step before is kept, and the output neurons'
values the loss reads.

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
    """One weight block (a level, or the delayed edges') along the plane: its centre's weights
    and biases and the directions', where a direction moves the block."""

    def __init__(self, lv: Level, parts: list, i: int, biased: bool) -> None:
        self.lv = lv
        rows = lv.stop - lv.start
        self.w = [p.weights[i] for p in parts]
        self.b = [(p.biases[lv.start: lv.stop] if biased else np.zeros(rows, p.biases.dtype))
                  for p in parts]
        self.moves = [k for k in (1, 2) if np.any(self.w[k]) or np.any(self.b[k])]
        self.preset: list[np.ndarray] | None = None  # see read_inputs

    def read_inputs(self, x_steps: np.ndarray) -> None:
        """A level that reads only inputs reads the same values at every point: its centre's
        and each moving direction's products with them are made once, for every step
        (x_steps is steps x inputs x sequences), as core.engine.recurrent presets them; a
        point's net input is then their sum weighted by (1, a, b), with no product per point."""
        lv = self.lv
        src = x_steps[:, lv.src_lo: lv.src_hi]
        self.preset = [np.matmul(self.w[k], src) + self.b[k][:, None] for k in (0, *self.moves)]

    def at_points(self, coeff: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(weights, biases) at each point of a chunk, (points, rows, sources) and (points, rows,
        1), or the centre's alone when no direction moves the block; coeff is (2, points)."""
        w, b = self.w[0], self.b[0][:, None]
        for k in self.moves:
            w = w + coeff[k - 1][:, None, None] * self.w[k]
            b = b + coeff[k - 1][:, None, None] * self.b[k][:, None]
        return w, b

    def net_input(self, src: np.ndarray, wb: tuple, coeff: np.ndarray, step: int,
                  out: np.ndarray) -> None:
        """out = W(a, b) @ src + b(a, b) at each point, src and out (points, rows, sequences);
        wb is at_points' for the chunk."""
        if self.preset is not None:
            out[...] = self.preset[0][step]
            for k, part in zip(self.moves, self.preset[1:]):
                out += coeff[k - 1][:, None, None] * part[step]
        elif src.shape[1] == 0:
            out[...] = wb[1]
        else:
            np.matmul(wb[0], src, out=out)
            out += wb[1]


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
        x_steps = self.x.transpose(1, 2, 0)  # steps x inputs x sequences
        for level in self.levels:
            if level.lv.inputs_only and level.lv.src_hi > level.lv.src_lo:
                level.read_inputs(x_steps)

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
        z, a = np.zeros((k, n, s), self.dtype), np.zeros((k, n, s), self.dtype)
        out_z = np.empty((t, k, len(outs), s), self.dtype)
        out_a = np.empty_like(out_z)
        block, carried = self.delayed, None
        overlaps = carried_rows(plan) if block is not None else None
        weights = [level.at_points(coeff) for level in self.levels]
        if block is not None:
            delayed_weights = block.at_points(coeff)
            carried = np.empty((k, block.lv.stop - block.lv.start, s), self.dtype)
        for step in range(t):
            if block is not None and step:  # from the sources' values at the step before
                block.net_input(a[:, block.lv.src_lo: block.lv.src_hi], delayed_weights,
                                coeff, step, carried)
            a[:, :n_in] = x[:, step].T[None]
            for i, (level, wb) in enumerate(zip(self.levels, weights)):
                lv = level.lv
                zl = z[:, lv.start: lv.stop]
                level.net_input(a[:, lv.src_lo: lv.src_hi], wb, coeff, step, zl)
                if step and block is not None and overlaps[i] is not None:
                    z0, z1, c0, c1 = overlaps[i]
                    zl[:, z0:z1] += carried[:, c0:c1]
                for name, g0, g1 in lv.groups:
                    a[:, g0:g1] = ACTIVATIONS[name].f(z[:, g0:g1])
            out_z[step] = z[:, outs]
            out_a[step] = a[:, outs]
        shape = (k, len(outs), t * s)
        return (out_z.transpose(1, 2, 0, 3).reshape(shape),
                out_a.transpose(1, 2, 0, 3).reshape(shape))


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
