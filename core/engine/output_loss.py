"""The loss as a function of the output neurons' net inputs Z alone (samples x outputs), each
output's activation applied to its own column: its value, dL/dZ, and dL/dZ's derivative, for
the passes that need the loss's second derivative (core.engine.plane_taylor,
core.engine.hessian_columns).

A registry entry gives dL/da or dL/dz (LossResult.wrt_net); in Z the two are one,
dL/dZ = dL/da f'(Z). No entry carries a second derivative, so it is a central difference of
dL/dZ here, over (samples x outputs) arrays only, accurate to O(e^2) with e a relative step
(core.curvature.RELATIVE_STEP). Every loss is a mean over samples (core.losses), so a
sample's dL/dZ depends on its own row alone: moving column j of every sample at once gives
column j of every sample's (outputs x outputs) block.
"""
from __future__ import annotations

import numpy as np

from core.activations import ACTIVATIONS
from core.engine.plan import Plan
from core.losses import LOSSES


class OutputLoss:
    """The loss on targets y (samples x outputs) as a function of the outputs' net inputs."""

    def __init__(self, plan: Plan, y: np.ndarray, loss: str) -> None:
        self.entry, self.y = LOSSES[loss], np.asarray(y, np.float64)
        column = {int(r): k for k, r in enumerate(plan.output_rows)}
        self.groups = []  # (activation, output columns)
        for lv in plan.levels:
            for name, g0, g1 in lv.groups:
                cols = [column[r] for r in range(g0, g1) if r in column]
                if cols:
                    self.groups.append((ACTIVATIONS[name], np.array(cols)))
        if len(self.groups) == 1:  # every output one activation: no copies by index
            self.groups = [(self.groups[0][0], slice(None))]

    def value_and_gradient(self, z: np.ndarray) -> tuple[float, np.ndarray]:
        """The loss and dL/dZ at net inputs z."""
        a = np.empty_like(z)
        for act, cols in self.groups:
            a[:, cols] = act.f(z[:, cols])
        result = self.entry.compute(z, a, self.y)
        if result.wrt_net:
            return result.value, result.grad
        slope = np.empty_like(z)
        for act, cols in self.groups:
            slope[:, cols] = act.df(z[:, cols], a[:, cols])
        return result.value, result.grad * slope

    def derivative_along(self, z: np.ndarray, v: np.ndarray, relative_step: float
                         ) -> np.ndarray:
        """The derivative of dL/dZ at z along v (same shape), by a central difference whose
        largest move of any net input is relative_step of their size; zero for v = 0."""
        top = float(np.max(np.abs(v))) if v.size else 0.0
        if top == 0.0:
            return np.zeros_like(z)
        e = relative_step * (1.0 + float(np.max(np.abs(z)))) / top
        return (self.value_and_gradient(z + e * v)[1]
                - self.value_and_gradient(z - e * v)[1]) / (2.0 * e)

    def second_derivative(self, z: np.ndarray, relative_step: float) -> np.ndarray:
        """(samples, outputs, outputs): each sample's d(dL/dZ_k)/dZ_j, symmetrised."""
        blocks = np.empty(z.shape + (z.shape[1],))
        for j in range(z.shape[1]):
            v = np.zeros_like(z)
            v[:, j] = 1.0
            blocks[:, :, j] = self.derivative_along(z, v, relative_step)
        return 0.5 * (blocks + np.swapaxes(blocks, 1, 2))
