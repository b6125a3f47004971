"""The forward pass for many parameter vectors at once that differ only along two directions,
theta(a, b) = center + a d1 + b d2: the loss surface's grid. The same levels, groups and
activations as core.engine.backprop.forward, held to it by the tests at every point.

Every weight matrix and bias is affine in (a, b): W(a, b) = Wc + a W1 + b W2. A neuron whose
incoming weights and bias do not move (zero in d1 and d2) and whose sources do not move is the
same at every point: it is computed once, here, and never per point (on the exact plane only
the two chosen parameters move, so everything upstream of them is computed once). A level that
reads only such fixed sources gets its whole net input precomputed,
z(a, b) = [1 a b] @ [Wc S + bc; W1 S + b1; W2 S + b2], three products no matter how many
points; deeper levels combine their stacked weights per chunk with one matrix product and run
a batched product over the points.
"""
from __future__ import annotations

import numpy as np

from core.activations import ACTIVATIONS
from core.engine.plan import Plan

CACHE_BYTES = 2**21  # per chunk, the moving rows' values (16 to 64 points measured alike)


class PlaneForward:
    """Forward passes on the plane through `center` spanned by d1 and d2 (flat parameter
    vectors in Plan.flatten order), for the batch x (samples x inputs)."""

    def __init__(self, plan: Plan, center: np.ndarray, d1: np.ndarray, d2: np.ndarray,
                 x: np.ndarray, dtype: type = np.float64) -> None:
        self.plan, self.dtype = plan, dtype
        self.x_t = np.asarray(x, dtype).T
        if self.x_t.ndim != 2 or self.x_t.shape[0] != plan.n_inputs:
            raise ValueError(f"expected inputs of shape (samples, {plan.n_inputs}), "
                             f"got {np.shape(x)}")
        b = self.x_t.shape[1]
        # The values of every neuron that does not move: one point's worth, filled per level.
        self._base_nets = np.zeros((plan.n_neurons, b), dtype)
        self._base_acts = np.zeros((plan.n_neurons, b), dtype)
        self._base_acts[: plan.n_inputs] = self.x_t
        self.moves = np.zeros(plan.n_neurons, bool)
        self._steps = self._affine_steps([plan.unflatten(np.asarray(v).astype(dtype))
                                          for v in (center, d1, d2)])
        self._buffers: tuple[np.ndarray, np.ndarray] | None = None

    def _affine_steps(self, parts: list) -> list[tuple]:
        """Per moving level, what its net input is an affine function of, as a (3, ...) stack;
        the fixed neurons' values go into the base arrays."""
        steps = []
        for i, lv in enumerate(self.plan.levels):
            w = np.stack([p.weights[i] for p in parts])  # (3, n, sources)
            biases = np.stack([p.biases[lv.start: lv.stop] for p in parts])  # (3, n)
            src_moves = self.moves[lv.src_lo: lv.src_hi]
            rows = np.any(w[1:] != 0, axis=(0, 2)) | np.any(biases[1:] != 0, axis=0)
            if src_moves.any():  # computed per point, every row (as the engine would)
                self.moves[lv.start: lv.stop] = True
                steps.append((lv, "weights", w.reshape(3, -1), biases.reshape(3, -1)))
                continue
            self.moves[lv.start: lv.stop] = rows
            src = self._base_acts[lv.src_lo: lv.src_hi]
            z = np.stack([w[k] @ src for k in range(3)]) + biases[:, :, None]
            self._base_nets[lv.start: lv.stop] = z[0]
            for name, g0, g1 in lv.groups:
                self._base_acts[g0:g1] = ACTIVATIONS[name].f(self._base_nets[g0:g1])
            if rows.any():  # only the moving rows are computed per point
                moving = np.flatnonzero(rows)
                steps.append((lv, "fixed", _moving_groups(lv, moving),
                              z[:, moving].reshape(3, -1)))
        return steps

    def chunk(self) -> int:
        """Points per call that keep the moving rows of a chunk in cache."""
        per_point = 2 * max(int(self.moves.sum()), 1) * self.x_t.shape[1] * self.x_t.itemsize
        return int(np.clip(CACHE_BYTES // per_point, 16, 256))  # fewer: Python overhead

    def _arrays(self, k: int) -> tuple[np.ndarray, np.ndarray]:
        """(nets, acts) for k points, the fixed neurons already in (reused across calls)."""
        if self._buffers is None or len(self._buffers[0]) < k:
            nets = np.empty((k,) + self._base_nets.shape, self.dtype)
            acts = np.empty_like(nets)
            nets[:], acts[:] = self._base_nets, self._base_acts
            self._buffers = nets, acts
        nets, acts = self._buffers
        return nets[:k], acts[:k]

    def outputs(self, alphas: np.ndarray, betas: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(z, a) of the output neurons at theta(alphas[k], betas[k]) for every k, each as
        (points, outputs, samples). Memory grows with the points: callers chunk."""
        alphas, betas = np.asarray(alphas, float).ravel(), np.asarray(betas, float).ravel()
        coeff = np.stack([np.ones(alphas.size), alphas, betas], axis=1).astype(self.dtype)
        k, b = len(coeff), self.x_t.shape[1]
        nets, acts = self._arrays(k)
        for lv, kind, first, second in self._steps:
            if kind == "fixed":
                zm = (coeff @ second).reshape(k, -1, b)
                for name, rows, lo, hi in first:  # the moving rows, by activation
                    _activate(name, zm[:, lo:hi], acts, rows, nets if lv.has_outputs else None)
                continue
            n = lv.stop - lv.start
            # Only output levels keep their net inputs (the loss reads them); others are
            # activated where they are computed.
            z = (nets if lv.has_outputs else acts)[:, lv.start: lv.stop]
            w = (coeff @ first).reshape(k, n, lv.src_hi - lv.src_lo)
            np.matmul(w, acts[:, lv.src_lo: lv.src_hi], out=z)
            z += (coeff @ second).reshape(k, n, 1)
            for name, g0, g1 in lv.groups:
                rows = slice(g0, g1)
                _activate(name, z[:, g0 - lv.start: g1 - lv.start], acts, rows,
                          nets if lv.has_outputs else None)
        rows = self.plan.output_rows
        return nets[:, rows], acts[:, rows]


def _activate(name: str, z: np.ndarray, acts: np.ndarray, rows, nets: np.ndarray | None
              ) -> None:
    """acts[:, rows] = f(z), and nets[:, rows] = z when nets is given; z may be overwritten
    (activated in place, no temporary, where the registry has the in-place form)."""
    activation = ACTIVATIONS[name]
    if nets is not None:
        if not np.may_share_memory(nets, z):
            nets[:, rows] = z
        acts[:, rows] = activation.f(z)
    elif activation.inplace is None:
        acts[:, rows] = activation.f(z)
    else:
        activation.inplace(z)
        if not np.may_share_memory(acts, z):
            acts[:, rows] = z


def _moving_groups(lv, moving: np.ndarray) -> list[tuple]:
    """(activation, absolute rows, lo, hi) for the moving rows of each of the level's groups;
    [lo, hi) is their place among the moving rows (which are in row order)."""
    groups = []
    lo = 0
    for name, g0, g1 in lv.groups:
        m = lv.start + moving[(moving >= g0 - lv.start) & (moving < g1 - lv.start)]
        if m.size:
            groups.append((name, _as_slice(m), lo, lo + m.size))
            lo += m.size
    return groups


def _as_slice(rows: np.ndarray):
    """Consecutive rows as a slice (a view, no copy), else the index array."""
    return slice(int(rows[0]), int(rows[-1]) + 1) if rows[-1] - rows[0] + 1 == rows.size else rows

