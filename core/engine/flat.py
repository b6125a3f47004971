"""Parameters in one flat vector: every weight matrix of a plan, block by block (the levels,
then a recurrent net's delayed edges), then the biases, with Params whose arrays are views into it.

Element-wise work (the optimiser's update, the rollback backup, finiteness checks, the
gradient norm) then takes one NumPy call per step instead of one per array: on a small net a
training step is a few dozen microseconds, and per-array Python loops were half of it.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from core.engine.plan import Params, Plan


@dataclass
class FlatParams(Params):
    """Params whose weights and biases are views into `flat`."""

    flat: np.ndarray = field(default=None, repr=False)


class FlatLayout:
    """Where each parameter array of `plan` lives in the flat vector."""

    def __init__(self, plan: Plan) -> None:
        self.plan = plan
        self.shapes = [lv.shape for lv in plan.blocks] + [(plan.n_neurons,)]
        sizes = [int(np.prod(s)) for s in self.shapes]
        self.offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.intp)
        self.size = int(self.offsets[-1])
        # theta (Plan.flatten's order: edges, then biases) as positions in the flat vector
        index = np.zeros(plan.n_parameters, dtype=np.intp)
        for lv, off, (_, n_cols) in zip(plan.blocks, self.offsets, self.shapes):
            index[lv.edge_pos] = off + lv.rows * n_cols + lv.cols
        index[len(plan.edge_ids):] = self.offsets[-2] + plan.bias_rows
        self.theta_index = index

    def views(self, flat: np.ndarray) -> list[np.ndarray]:
        """The parameter arrays (weights per level, then biases) as views into `flat`."""
        return [flat[a:b].reshape(s) for a, b, s in zip(self.offsets, self.offsets[1:],
                                                        self.shapes)]

    def wrap(self, flat: np.ndarray) -> FlatParams:
        arrays = self.views(flat)
        return FlatParams(arrays[:-1], arrays[-1], flat)

    def empty(self, dtype: type) -> FlatParams:
        return self.wrap(np.zeros(self.size, dtype))

    def holds(self, params: Params, dtype: type) -> bool:
        """Whether `params` is already a flat vector of this layout and dtype."""
        return (isinstance(params, FlatParams) and params.flat is not None
                and params.flat.size == self.size and params.flat.dtype == dtype
                and all(a.shape == s for a, s in zip(params.arrays(), self.shapes)))

    def pack(self, params: Params, dtype: type) -> FlatParams:
        """A flat copy of `params` (cast to `dtype`)."""
        out = self.empty(dtype)
        for dst, src in zip(out.arrays(), params.arrays()):
            dst[...] = src
        return out

    def theta(self, flat: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """Plan.flatten of the parameters held in `flat`, in one gather."""
        return np.take(flat, self.theta_index, out=out)
