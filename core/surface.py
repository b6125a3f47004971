"""The loss over a 2D plane in parameter space, and where the training path lies on it.

Three planes (see ../shared/notes/loss-surface.md and Li et al. 2018, arXiv:1712.09913):
  exact  - two chosen parameters, all others held: the only exact picture;
  pca    - the top two principal directions of the trajectory, through its last point (sec. 7);
  random - two random filter-normalised directions through the current weights (sec. 4).
A point (a, b) of the plane is theta = center + a d1 + b d2 with d1, d2 orthonormal.

At the current weights the panel draws arrows (PlaneArrows): the way down by the gradient and
by Newton's step of the loss restricted to the plane through them (core.curvature), and the
last minibatch's gradient beside the full one.

In float32 the grid is one call of a compiled kernel, fused per point
(core.engine.compiled_grid), where Numba and the registries allow; otherwise, and always in
float64, it is evaluated in chunks of K parameter vectors at once by the engine's forward pass
for points of a plane (core.engine.stacked.PlaneForward), then batched_loss.

On sequence data (x of shape sequences x steps x inputs, a recurrent net or not) the loss is
the one training.sequence_loss names, masks applied: the grid is the unrolled forward pass with
the grid's points as extra batch columns (core.engine.sequence_plane, NumPy), and the arrows'
gradient and 2x2 Hessian are the exact BPTT gradient and its central differences along the
plane (core.curvature.TrainingLoss on sequences).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from core.batch_loss import loss_on
from core.curvature import PlaneCurvature, angle_between, plane_curvature
from core.data.dataset import MAX_SAMPLES, subsample  # noqa: F401 (the surface's sample)
from core.engine import Plan, compiled_grid, forward
from core.engine.recurrent import sequence_loss as engine_sequence_loss
from core.engine.sequence_plane import sequence_grid_losses
from core.engine.stacked import PlaneForward
from core.losses import LOSSES


@dataclass(frozen=True)
class Plane:
    kind: str  # "exact", "pca" or "random"
    center: np.ndarray
    d1: np.ndarray
    d2: np.ndarray
    labels: tuple[str, str]
    explained: tuple[float, float] | None = None  # pca: share of variance along d1, d2

    def coordinates(self, thetas: np.ndarray) -> np.ndarray:
        """(a, b) of each parameter vector's projection onto the plane: shape (T, 2)."""
        diff = np.atleast_2d(thetas) - self.center
        return np.stack([diff @ self.d1, diff @ self.d2], axis=1)

    def point(self, a: float, b: float) -> np.ndarray:
        return self.center + a * self.d1 + b * self.d2

    def off_plane_fraction(self, theta: np.ndarray) -> float:
        """|r| / |theta - center|, r the part of theta - center off the plane (0 = on it)."""
        diff = theta - self.center
        norm = np.linalg.norm(diff)
        if norm == 0.0:
            return 0.0
        a, b = diff @ self.d1, diff @ self.d2
        return float(np.linalg.norm(diff - a * self.d1 - b * self.d2) / norm)


def exact_plane(plan: Plan, theta: np.ndarray, i: int, j: int) -> Plane:
    """Parameters i and j of plan.flatten() order; every other one held at theta."""
    if i == j:
        raise ValueError("pick two different parameters")
    d1, d2 = np.zeros_like(theta), np.zeros_like(theta)
    d1[i], d2[j] = 1.0, 1.0
    names = plan.parameter_names()
    # Axes are offsets from the values at slicing time: say so, with those values.
    return Plane("exact", theta.copy(), d1, d2, (_offset_label(names[i], theta[i]),
                                                  _offset_label(names[j], theta[j])))


def _offset_label(name: str, value: float) -> str:
    """'weight e1 − 0.1', or 'weight e2 + 0.6447' for a negative value (never '− -0.6')."""
    sign = "−" if value >= 0 else "+"
    return f"{_pretty(name)} {sign} {abs(value):.4g}"


def _pretty(name: str) -> str:
    return f"bias of {name[5:]}" if name.startswith("bias:") else f"weight {name}"


def pca_plane(thetas: np.ndarray) -> Plane:
    """Top two right singular vectors of the uncentred matrix theta_i - theta_final."""
    thetas = np.asarray(thetas, dtype=float)
    if len(thetas) < 3:
        raise ValueError("the PCA plane needs a trajectory of at least 3 points: train first")
    center = thetas[-1]
    diff = thetas - center
    _, s, vt = np.linalg.svd(diff, full_matrices=False)
    total = float(np.sum(s**2))
    if total == 0.0 or len(s) < 2 or s[1] == 0.0:
        raise ValueError("the trajectory does not move in two directions yet: train longer")
    shares = (float(s[0] ** 2 / total), float(s[1] ** 2 / total))
    return Plane("pca", center.copy(), vt[0].copy(), vt[1].copy(),
                 (f"PC1 ({100 * shares[0]:.1f}% of variance)",
                  f"PC2 ({100 * shares[1]:.1f}% of variance)"), shares)


def random_plane(plan: Plan, theta: np.ndarray, rng: np.random.Generator) -> Plane:
    """Two Gaussian directions, filter-normalised per neuron, then orthonormalised (QR).

    Filter normalisation (Li et al. sec. 4): each neuron's block of incoming weights in a
    direction is scaled to the norm of that neuron's weights; biases are left at zero.
    """
    n_e = len(plan.edge_ids)
    target_of = np.empty(n_e, dtype=np.intp)
    for lv in plan.blocks:  # a recurrent net's delayed edges too
        target_of[lv.edge_pos] = lv.rows + lv.start
    dirs = []
    for _ in range(2):
        d = np.zeros_like(theta)
        g = rng.standard_normal(n_e)
        for t in np.unique(target_of):
            idx = np.flatnonzero(target_of == t)
            gn, wn = np.linalg.norm(g[idx]), np.linalg.norm(theta[idx])
            d[idx] = g[idx] * (wn / gn if gn > 0 else 0.0)
        dirs.append(d)
    q, r = np.linalg.qr(np.stack(dirs, axis=1))
    if abs(r[1, 1]) < 1e-12 * max(abs(r[0, 0]), 1.0):
        raise ValueError("the network has too few weights for two independent directions")
    return Plane("random", theta.copy(), q[:, 0].copy(), q[:, 1].copy(),
                 ("random direction 1", "random direction 2"))


def training_sample(plan: Plan, x_columns: np.ndarray, y: np.ndarray
                    ) -> tuple[np.ndarray, np.ndarray]:
    """The fixed subsample a surface is computed on, as the plan's inputs: the data's columns
    go through the input features (core.features) first, as in training."""
    x, y = subsample(x_columns, y)
    return plan.inputs_from(x), y


def grid_losses(plan: Plan, plane: Plane, alphas: np.ndarray, betas: np.ndarray,
                x: np.ndarray, y: np.ndarray, loss: str, chunk: int | None = None,
                dtype: type = np.float64,
                run_compiled: Callable | None = compiled_grid.run_here,
                mask: np.ndarray | None = None, sequence_loss: str = "every") -> np.ndarray:
    """Loss at every grid point, as Z[j, i] for (alphas[i], betas[j]) (row-major, y first).

    float32 (the window's) goes to the compiled kernel when compiled_grid can take the grid:
    run_compiled(prepared, y, loss, alphas, betas) runs it, by default in this process
    (compiled at the first call if need be); the window passes its worker process's, or None
    for NumPy. NumPy's forward passes are the engine's (core.engine.stacked), chunk by chunk;
    float64 reproduces the engine to the last bit. Sequences (x of 3 dimensions) with their
    mask go to core.engine.sequence_plane, in NumPy (module docstring).
    """
    if loss not in LOSSES:
        raise ValueError(f"unknown loss {loss!r}")
    aa, bb = np.meshgrid(np.asarray(alphas, float), np.asarray(betas, float))
    if np.ndim(x) == 3:
        return sequence_grid_losses(plan, plane.center, plane.d1, plane.d2, aa, bb, x, y, mask,
                                    loss, sequence_loss, dtype, chunk).reshape(aa.shape)
    if (dtype == np.float32 and run_compiled is not None
            and compiled_grid.unavailable(plan, loss, dtype) is None):
        prepared = compiled_grid.prepare(plan, plane.center, plane.d1, plane.d2, x)
        values = run_compiled(prepared, y, loss, aa, bb)
        if values is not None:
            return values.reshape(aa.shape)
    aa_flat, bb_flat = aa.ravel(), bb.ravel()
    forward_on = PlaneForward(plan, plane.center, plane.d1, plane.d2, x, dtype)
    chunk = chunk or forward_on.chunk()
    y_t = np.asarray(y, dtype).T[None]
    out = np.empty(aa.size)
    for s in range(0, aa.size, chunk):
        z, a = forward_on.outputs(aa_flat[s: s + chunk], bb_flat[s: s + chunk])
        out[s: s + chunk] = batched_loss(loss, z, a, y_t)
    return out.reshape(aa.shape)


def batched_loss(loss: str, z: np.ndarray, a: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Mean loss for each of K nets at once; arrays are (K, outputs, samples).

    The loss's own batched form (core.losses; the tests compare it with its compute).
    """
    if loss not in LOSSES:
        raise ValueError(f"unknown loss {loss!r}")
    return LOSSES[loss].batched(z, a, y)


def loss_at(plan: Plan, theta: np.ndarray, x: np.ndarray, y: np.ndarray, loss: str,
            mask: np.ndarray | None = None, sequence_loss: str = "every") -> float:
    """The true loss at one parameter vector (for the gap between surface and path); on
    sequences the engine's sequence loss."""
    if np.ndim(x) == 3:
        return float(engine_sequence_loss(plan, plan.unflatten(np.asarray(theta, float)), x, y,
                                          mask, loss, sequence_loss))
    fwd = forward(plan, plan.unflatten(theta), x)
    z, a = fwd.outputs(plan)
    return float(batched_loss(loss, z.T[None], a.T[None], np.asarray(y, float).T[None])[0])


def extent(plane: Plane, path: np.ndarray | None, margin: float = 0.5,
           minimum: float = 1.0) -> tuple[float, float, float, float]:
    """(a0, a1, b0, b1): the path's bounding box grown by `margin` of its size, centred on 0."""
    if path is None or len(path) == 0:
        return (-minimum, minimum, -minimum, minimum)
    lo, hi = np.minimum(path.min(axis=0), 0.0), np.maximum(path.max(axis=0), 0.0)
    span = np.maximum(hi - lo, minimum)
    pad = margin * span
    return (float(lo[0] - pad[0]), float(hi[0] + pad[0]), float(lo[1] - pad[1]),
            float(hi[1] + pad[1]))


@dataclass(frozen=True)
class PlaneArrows:
    """The training loss restricted to the plane through the current weights theta
    (theta + a d1 + b d2, on the surface's sample), at a = b = 0, in the plane's coordinates:
    what the arrows at the current point are drawn from."""
    here: np.ndarray  # theta's (a, b) on the plane
    curvature: PlaneCurvature  # its gradient, 2x2 Hessian, Newton step and shape
    minibatch: np.ndarray | None = None  # the last minibatch's loss's gradient in (a, b)
    # Degrees between the minibatch's and the full gradient over every trainable parameter
    # (the plane shows only their shadows on it).
    minibatch_angle: float | None = None
    batch_size: int = 0

    @property
    def descent(self) -> np.ndarray:
        """Steepest descent on the plane: minus the gradient."""
        return -self.curvature.gradient

    @property
    def plane_angle(self) -> float | None:
        """Degrees between the minibatch's and the full gradient as drawn on the plane."""
        if self.minibatch is None:
            return None
        return angle_between(self.curvature.gradient, self.minibatch)


def arrows_at(plan: Plan, plane: Plane, theta: np.ndarray, sample: tuple, loss: str,
              batch: tuple | None = None, sequence_loss: str = "every") -> PlaneArrows:
    """The arrows at theta: the loss (no penalty: the loss the surface draws) on `sample`,
    and on the minibatch `batch` when given, each (x, y), or (x, y, mask) for sequences.
    Inputs are the plan's (features applied). Costs one forward pass carried to second order
    along the plane (core.curvature's TrainingLoss.plane: on 784-64-10 about two exact
    gradients' worth; on sequences five BPTT gradients), and with a batch two exact
    gradients more (the minibatch's, and the sample's for the angle over every parameter)."""
    theta = np.asarray(theta, np.float64)
    f = loss_on(plan, *sample[:2], loss, *sample[2:3], sequence_loss)
    curvature = plane_curvature(f, theta, plane.d1, plane.d2)
    here = plane.coordinates(theta)[0]
    if batch is None:
        return PlaneArrows(here, curvature)
    g_batch = loss_on(plan, *batch[:2], loss, *batch[2:3], sequence_loss).gradient(theta)
    g_full = f.gradient(theta)
    trained = plan.trainable_vector()  # a frozen parameter's gradient moves nothing
    return PlaneArrows(here, curvature, np.array([g_batch @ plane.d1, g_batch @ plane.d2]),
                       angle_between(g_full[trained], g_batch[trained]), len(batch[0]))


def clip_segment(start: np.ndarray, vector: np.ndarray,
                 view: tuple[float, float, float, float]
                 ) -> tuple[np.ndarray, np.ndarray] | None:
    """The part of start + t vector, 0 <= t <= 1, inside the view (a0, a1, b0, b1), as (from,
    to); None when none of it is (Liang and Barsky's clipping: each border bounds t)."""
    start, vector = np.asarray(start, float), np.asarray(vector, float)
    lo, hi = 0.0, 1.0
    bounds = ((view[0], view[1]), (view[2], view[3]))
    for k, (low, high) in enumerate(bounds):
        if vector[k] == 0.0:
            if not low <= start[k] <= high:
                return None
            continue
        t0, t1 = sorted(((low - start[k]) / vector[k], (high - start[k]) / vector[k]))
        lo, hi = max(lo, t0), min(hi, t1)
        if lo > hi:
            return None
    return start + lo * vector, start + hi * vector
