"""Every neuron's output over the input plane of two-input data, from one forward pass.

The grid spans the data (training and test points, already in the network's input space:
make_dataset standardises them) with a tenth of its extent added on each side, the plane the
data panel draws. One forward pass over all grid points gives every neuron's activation at
once (rows of Forward.a are plan.order), so N neurons cost one pass, not N.

On sequence data (a recurrent net) a neuron's output depends on the inputs before it, so a
point of the plane is a sequence: the input held at that point for the data's length T (its
longest sequence), the state starting from zero as in training, and the map shows each
neuron's output at step T, the last (`held_steps`). Step 1 of it would be the net without its
memory; step T is where a constant input has had the whole sequence to act through the
delayed edges. The plane spans the inputs of every existing step. The points run as batches
of sequences through the engine's unrolled forward pass (one batch unless the grid, the
length and the net are large: CHUNK_ENTRIES).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core.data.dataset import Dataset
from core.engine import Params, Plan, forward
from core.engine.recurrent import sequence_forward
from core.losses import predictions

PAD = 0.1  # of the data's extent, added on each side
# Longest held sequence drawn. The maps are redrawn at every training frame while on, and
# their time grows with T: a 2-8-1 Elman net's 40 x 40 grid took 43 ms at T = 20, 0.15 s at
# T = 100 and 0.5 s at T = 200 on the development machine (shared, load 11; 0.6 ms
# feed-forward). Beyond this the window would stall at every frame.
HELD_STEPS_LIMIT = 200
# Grid points go through the unrolled pass in chunks whose pass arrays (neurons x steps x
# points, six of them) hold at most this many entries each: bounded memory at any T and net.
CHUNK_ENTRIES = 1_000_000


@dataclass(frozen=True)
class PlaneGrid:
    """Grid points over the input plane: row i, column j of a map is the point
    (xs[j], ys[i]); `points` lists them row by row (samples x 2)."""

    lo: np.ndarray  # (2,) the lower left corner
    hi: np.ndarray  # (2,) the upper right corner
    xs: np.ndarray
    ys: np.ndarray
    points: np.ndarray

    @property
    def resolution(self) -> int:
        return len(self.xs)


def plane_grid(data: Dataset, resolution: int) -> PlaneGrid:
    """resolution x resolution points over the data's two inputs, padded by PAD."""
    if data.n_inputs != 2:
        raise ValueError(f"a plane needs two inputs; this data has {data.n_inputs}")
    x = np.vstack([_existing_steps(data.x_train, data.mask_train),
                   _existing_steps(data.x_test, data.mask_test)])
    lo, hi = x.min(axis=0), x.max(axis=0)
    pad = PAD * (hi - lo + 1e-9)
    lo, hi = lo - pad, hi + pad
    xs, ys = np.linspace(lo[0], hi[0], resolution), np.linspace(lo[1], hi[1], resolution)
    xx, yy = np.meshgrid(xs, ys)
    return PlaneGrid(lo, hi, xs, ys, np.stack([xx.ravel(), yy.ravel()], 1))


def _existing_steps(x: np.ndarray, mask: np.ndarray | None) -> np.ndarray:
    """Rows of samples, or every existing step of sequences as rows (padding left out)."""
    if x.ndim != 3:
        return x
    return x.reshape(-1, x.shape[2]) if mask is None else x[mask]


def held_steps(data: Dataset) -> int | None:
    """How many steps a point of the plane is held for (module docstring): the data's
    length; None for data that is not sequences."""
    return data.x_train.shape[1] if data.is_sequence else None


def held_steps_problem(data: Dataset) -> str | None:
    """Why the maps of this sequence data are not drawn (too long), or None."""
    steps = held_steps(data)
    if steps is not None and steps > HELD_STEPS_LIMIT:
        return (f"each point is held for the sequences' {steps:,} steps, and maps are drawn "
                f"for sequences up to {HELD_STEPS_LIMIT:,} steps")
    return None


def _held_last_step(plan: Plan, params: Params, inputs: np.ndarray, steps: int) -> np.ndarray:
    """(neurons x points): each point's inputs held for `steps` steps from state 0, every
    neuron's output at the last step; the points in chunks of CHUNK_ENTRIES."""
    per = max(1, CHUNK_ENTRIES // (plan.n_neurons * steps))
    out = np.empty((plan.n_neurons, len(inputs)), dtype=params.biases.dtype)
    for lo in range(0, len(inputs), per):
        part = inputs[lo: lo + per]
        held = np.broadcast_to(part[:, None, :], (len(part), steps, part.shape[1]))
        out[:, lo: lo + len(part)] = sequence_forward(plan, params, held).a[:, -len(part):]
    return out


@dataclass(frozen=True)
class NeuronMaps:
    order: tuple[str, ...]  # neuron id of each map (plan.order)
    maps: np.ndarray  # (neurons, resolution, resolution) activations; [k, i, j] at (xs[j], ys[i])
    grid: PlaneGrid
    scale: float  # the shared colour scale runs from -scale to +scale
    output_ids: tuple[str, ...]  # output neurons, in the order of `predicted`
    predicted: np.ndarray  # (outputs, resolution, resolution): what the net predicts there
    steps: int | None = None  # sequences: each point held this long, maps at its last step

    def of(self, nid: str) -> np.ndarray:
        return self.maps[self.order.index(nid)]


def neuron_maps(plan: Plan, params: Params, data: Dataset, resolution: int, loss: str,
                grid: PlaneGrid | None = None) -> NeuronMaps:
    """Each neuron's activation over the plane (one forward pass; on sequences, at the last
    of held_steps), the predictions (the loss's view of the outputs, e.g. softmax) and the
    shared scale: the largest |a| of the hidden neurons (inputs and outputs have scales of
    their own: the plane's extent, and the class colours), or of all neurons when there is
    no hidden one."""
    grid = grid if grid is not None else plane_grid(data, resolution)
    r = grid.resolution
    inputs = plan.inputs_from(grid.points)  # the plane is data columns
    steps = held_steps(data)
    if steps is None:
        a = forward(plan, params, inputs).a
    else:
        problem = held_steps_problem(data)
        if problem:
            raise ValueError(problem)
        a = _held_last_step(plan, params, inputs, steps)
    maps = a.reshape(plan.n_neurons, r, r)
    out_rows = np.asarray(plan.output_rows)
    hidden = np.ones(plan.n_neurons, bool)
    hidden[: plan.n_inputs] = False
    hidden[out_rows] = False
    scored = np.abs(a[hidden] if hidden.any() else a)
    finite = scored[np.isfinite(scored)]
    scale = float(finite.max()) if finite.size else 1.0
    predicted = predictions(loss, a[out_rows].T).T.reshape(len(out_rows), r, r)
    return NeuronMaps(plan.order, maps, grid, max(scale, 1e-12),
                      tuple(plan.order[i] for i in out_rows), predicted, steps)
