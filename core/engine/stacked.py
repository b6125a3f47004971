"""The forward pass for many parameter vectors at once that differ only along two directions,
theta(a, b) = center + a d1 + b d2: the loss surface's grid. The same levels, groups and
activations as core.engine.backprop.forward, held to it by the tests at every point.

Every weight matrix and bias is affine in (a, b): W(a, b) = Wc + a W1 + b W2. So a level that
reads only the fixed inputs gets its whole net input precomputed,
z(a, b) = [1 a b] @ [Wc X + bc; W1 X + b1; W2 X + b2], three products no matter how many
points; deeper levels combine their stacked weights per chunk with one matrix product and run
a batched product over the points.
"""
from __future__ import annotations

import numpy as np

from core.activations import ACTIVATIONS
from core.engine.plan import Plan


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
        self._stacks = self._affine_stacks([plan.unflatten(np.asarray(v).astype(dtype))
                                            for v in (center, d1, d2)])

    def _affine_stacks(self, parts: list) -> list[tuple]:
        """Per level, what its net input is an affine function of, as a (3, ...) stack."""
        plan, x_t = self.plan, self.x_t
        stacks = []
        for i, lv in enumerate(plan.levels):
            biases = np.stack([p.biases[lv.start: lv.stop] for p in parts])[:, :, None]
            if lv.src_hi <= plan.n_inputs:
                src = x_t[lv.src_lo: lv.src_hi]
                z = np.stack([p.weights[i] @ src if lv.src_hi > lv.src_lo else
                              np.zeros((lv.stop - lv.start, x_t.shape[1]), self.dtype)
                              for p in parts])
                stacks.append(("fixed", None, (z + biases).reshape(3, -1)))
            else:
                w = np.stack([p.weights[i] for p in parts]).reshape(3, -1)
                stacks.append(("weights", w, biases.reshape(3, -1)))
        return stacks

    def outputs(self, alphas: np.ndarray, betas: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(z, a) of the output neurons at theta(alphas[k], betas[k]) for every k, each as
        (points, outputs, samples). Memory grows with the points: callers chunk."""
        plan, x_t = self.plan, self.x_t
        alphas, betas = np.asarray(alphas, float).ravel(), np.asarray(betas, float).ravel()
        coeff = np.stack([np.ones(alphas.size), alphas, betas], axis=1).astype(self.dtype)
        k, b = len(coeff), x_t.shape[1]
        acts = np.empty((k, plan.n_neurons, b), self.dtype)
        nets = np.empty_like(acts)
        acts[:, : plan.n_inputs] = x_t
        for lv, (kind, first, second) in zip(plan.levels, self._stacks):
            n = lv.stop - lv.start
            z = nets[:, lv.start: lv.stop]
            if kind == "fixed":
                z[:] = (coeff @ second).reshape(k, n, b)
            else:
                w = (coeff @ first).reshape(k, n, lv.src_hi - lv.src_lo)
                np.matmul(w, acts[:, lv.src_lo: lv.src_hi], out=z)
                z += (coeff @ second).reshape(k, n, 1)
            for name, g0, g1 in lv.groups:
                acts[:, g0:g1] = ACTIVATIONS[name].f(nets[:, g0:g1])
        rows = plan.output_rows
        return nets[:, rows], acts[:, rows]
