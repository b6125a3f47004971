"""Second derivatives of the training loss: Hessian-vector products, the whole Hessian, its
top eigenvalues, and the 2x2 curvature on a plane with Newton's direction.

Everything is a function of the flat parameter vector theta (Plan.flatten order: every edge
weight, then every bias). The loss is the one the trainer minimises, on the batch given: the
data loss averaged over samples plus the penalty l1 sum|w| + l2/2 sum w^2 on the weights
(core.regularization). No dropout: curvature of a random function is not what is asked.

On sequence data (x of shape (sequences, steps, inputs), with a mask for padding and the loss
at every step or the last, training.sequence_loss) the gradient is the engine's full
backpropagation through time (core.engine.recurrent, never truncated: a truncated gradient is
not the loss's), the Hessian-vector products its central differences as below, and the whole
Hessian their columns, one product (two gradients) per parameter: the R-operator of
core.engine.hessian_columns does not run through time.

Hessian-vector products are central differences of the engine's exact gradient (the
background note, ../shared/notes/curvature.md): Hv ~ (g(theta + e v) - g(theta - e v)) / 2e,
accurate to O(e^2) and exact on a quadratic. The penalty's part is added in closed form: the
L2 term's Hessian is l2 on the weights, L1's is zero away from w = 0, and its sign(w) jump
would wreck a difference taken across 0.

On a plane (two directions) the gradient and 2x2 Hessian come from one forward pass carried to
second order along the plane (core.engine.plane_taylor), not from Hessian-vector products.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np

from core.engine import loss_and_gradients
from core.engine.hessian_columns import hessian_columns, symmetric_fill
from core.engine.plane_taylor import plane_derivatives
from core.engine.plan import Plan
from core.engine.recurrent import sequence_loss_and_gradients
from core.errors import CurvatureError
from core.number_text import fmt

# Step of the central difference, relative to the size of the parameters it moves. The note
# suggests 1e-4; 1e-5 measured closer to the exact Hessian of a two-layer tanh net (errors
# near 1e-10 relative against a 1e-4 step's 1e-8; rounding takes over below 1e-6).
RELATIVE_STEP = 1e-5
Progress = Callable[[int, int], object]  # (columns done, total): the command line's bar
FULL_LIMIT = 3000  # parameters: above this the whole Hessian (n^2 entries, 2n gradients) is refused


class TrainingLoss:
    """The trainer's loss on the batch (x, y) as a function of theta: value, gradient and
    Hessian-vector products. x holds the plan's inputs (features applied): rows, or sequences
    (sequences x steps x inputs) with their mask and training.sequence_loss."""

    def __init__(self, plan: Plan, x: np.ndarray, y: np.ndarray, loss: str,
                 l1: float = 0.0, l2: float = 0.0, mask: np.ndarray | None = None,
                 sequence_loss: str = "every") -> None:
        self.plan, self.loss, self.l1, self.l2 = plan, loss, float(l1), float(l2)
        self.x = np.ascontiguousarray(x, dtype=np.float64)
        self.y = np.ascontiguousarray(y, dtype=np.float64)
        self.is_sequence = self.x.ndim == 3
        self.mask = None if mask is None else np.asarray(mask, dtype=bool)
        self.sequence_loss = sequence_loss
        self.n_weights = len(plan.edge_ids)
        self.size = plan.n_parameters
        self.gradients = 0  # how many exact gradients were computed (the cost, for benches)

    def value_and_gradient(self, theta: np.ndarray) -> tuple[float, np.ndarray]:
        value, g = self._data_loss_and_gradient(np.asarray(theta, np.float64))
        w = theta[: self.n_weights]
        if self.l1:
            value += self.l1 * float(np.abs(w).sum())
            g[: self.n_weights] += self.l1 * np.sign(w)
        if self.l2:
            value += 0.5 * self.l2 * float(w @ w)
            g[: self.n_weights] += self.l2 * w
        return float(value), g

    def value(self, theta: np.ndarray) -> float:
        return self.value_and_gradient(theta)[0]

    def gradient(self, theta: np.ndarray) -> np.ndarray:
        return self.value_and_gradient(theta)[1]

    def _data_loss_and_gradient(self, theta: np.ndarray) -> tuple[float, np.ndarray]:
        """The data loss and its exact gradient (through time, in full, on sequences)."""
        self.gradients += 1
        plan = self.plan
        params = plan.unflatten(theta)
        if self.is_sequence:
            value, grads = sequence_loss_and_gradients(plan, params, self.x, self.y, self.mask,
                                                       self.loss, self.sequence_loss)
        else:
            value, grads = loss_and_gradients(plan, params, self.x, self.y, self.loss)
        return value, np.concatenate([plan.edge_vector(grads.weights),
                                      grads.biases[plan.bias_rows]])

    def _data_gradient(self, theta: np.ndarray) -> np.ndarray:
        return self._data_loss_and_gradient(theta)[1]

    def _penalty_hvp(self, v: np.ndarray) -> np.ndarray:
        out = np.zeros_like(v)
        if self.l2:
            out[: self.n_weights] = self.l2 * v[: self.n_weights]
        return out

    def plane(self, theta: np.ndarray, d1: np.ndarray, d2: np.ndarray
              ) -> tuple[np.ndarray, np.ndarray]:
        """(gradient, Hessian) of a, b -> L(theta + a d1 + b d2) at 0, in (a, b): on rows the
        network's Taylor coefficients along the plane (core.engine.plane_taylor: on 784-64-10
        about three products of its first layer, where a gradient and two Hessian-vector
        products cost ten), on sequences differences of the gradient; the penalty's part in
        closed form."""
        theta = np.asarray(theta, np.float64)
        if self.is_sequence:
            # No Taylor pass through time: H d_k by central differences of the exact BPTT
            # gradient along each direction (hvp), four gradients beside the one at theta,
            # accurate to O(e^2) (tests/core/test_surface_sequences.py), then symmetrised.
            dirs = np.stack([np.asarray(d1, np.float64), np.asarray(d2, np.float64)])
            g2 = dirs @ self._data_gradient(theta)
            h2 = dirs @ np.stack([self.hvp(theta, d) - self._penalty_hvp(d) for d in dirs]).T
            h2 = 0.5 * (h2 + h2.T)
        else:
            _, g2, h2 = plane_derivatives(self.plan, theta, d1, d2, self.x, self.y, self.loss,
                                          RELATIVE_STEP)
        n = self.n_weights
        w, dw = theta[:n], np.stack([np.asarray(d1, np.float64)[:n],
                                     np.asarray(d2, np.float64)[:n]])
        if self.l1:  # its curvature is zero away from w = 0 (see the module's note)
            g2 = g2 + self.l1 * (dw @ np.sign(w))
        if self.l2:
            g2, h2 = g2 + self.l2 * (dw @ w), h2 + self.l2 * (dw @ dw.T)
        return g2, h2

    def hvp(self, theta: np.ndarray, v: np.ndarray) -> np.ndarray:
        """H v at theta, two exact gradients."""
        theta = np.asarray(theta, np.float64)
        v = np.asarray(v, np.float64)
        top = float(np.max(np.abs(v))) if v.size else 0.0
        if top == 0.0:
            return np.zeros_like(theta)
        # The largest single move is RELATIVE_STEP of the size of the largest parameter it
        # touches (at least 1): small enough for O(e^2), large enough to stay above rounding.
        scale = 1.0 + float(np.max(np.abs(theta[v != 0])))
        e = RELATIVE_STEP * scale / top
        diff = self._data_gradient(theta + e * v) - self._data_gradient(theta - e * v)
        return diff / (2 * e) + self._penalty_hvp(v)

    def hessian(self, theta: np.ndarray, indices: np.ndarray | None = None,
                progress: Progress | None = None) -> np.ndarray:
        """The Hessian in the parameters `indices` (all when None), symmetrised: (H + H^T)/2.
        Columns by the R-operator, many of one level at once (core.engine.hessian_columns);
        a parameter's column is read only at `indices`."""
        theta = np.asarray(theta, np.float64)
        idx = np.arange(theta.size) if indices is None else np.asarray(indices, np.intp)
        if idx.size > FULL_LIMIT:
            raise CurvatureError(
                f"the whole Hessian of {idx.size:,} parameters is too large to compute "
                f"(limit {FULL_LIMIT:,}); ask for the top eigenvalues instead")
        if self.is_sequence:
            h = self._difference_columns(theta, idx, progress)
        else:
            h = np.empty((idx.size, idx.size))
            done = 0
            # Column i by the R-operator, exactly, read at `indices`; the engine computes
            # them many at a time (core.engine.hessian_columns).
            for pos, rows in hessian_columns(self.plan, self.plan.unflatten(theta), self.x,
                                             self.y, self.loss, idx, RELATIVE_STEP):
                h[:, pos] = rows[:, idx].T
                self.gradients += pos.size  # about one gradient's work per column
                done += pos.size
                if progress is not None:
                    progress(done, idx.size)
            h = symmetric_fill(h)
        if self.l2:
            weights = np.flatnonzero(idx < self.n_weights)
            h[weights, weights] += self.l2
        return h

    def _difference_columns(self, theta: np.ndarray, idx: np.ndarray,
                            progress: Progress | None) -> np.ndarray:
        """The Hessian in `idx` on sequences: column i is H e_i by differences (hvp, the
        penalty's part left to the caller), read at idx, then symmetrised: each off-diagonal
        pair is two estimates of one number, and their mean halves the differences' error."""
        h = np.empty((idx.size, idx.size))
        e = np.zeros_like(theta)
        for k, i in enumerate(idx):
            e[i] = 1.0
            h[:, k] = (self.hvp(theta, e) - self._penalty_hvp(e))[idx]
            e[i] = 0.0
            if progress is not None:
                progress(k + 1, idx.size)
        return (h + h.T) / 2


@dataclass(frozen=True)
class Spectrum:
    eigenvalues: np.ndarray  # largest first: every one, or the top ones asked for
    condition_number: float | None  # None when only the top eigenvalues are known

    @property
    def negative(self) -> int:
        return int(np.count_nonzero(self.eigenvalues < 0))


def condition_number(eigenvalues: np.ndarray) -> float:
    """|lambda| largest over |lambda| smallest: the 2-norm condition number of a symmetric
    matrix (inf when it is singular)."""
    mags = np.abs(eigenvalues)
    small = float(mags.min())
    return math.inf if small == 0.0 else float(mags.max()) / small


def spectrum(f: TrainingLoss, theta: np.ndarray, indices: np.ndarray | None = None,
             top: int | None = None, progress: Progress | None = None) -> Spectrum:
    """Eigenvalues of the Hessian at theta, largest first: all of them from the whole
    Hessian where it is affordable, else the `top` largest by Lanczos on Hessian-vector
    products."""
    n = theta.size if indices is None else len(indices)
    if top is not None and top < 1:
        raise CurvatureError("the number of top eigenvalues must be at least 1")
    if n <= FULL_LIMIT:
        values = np.linalg.eigvalsh(f.hessian(theta, indices, progress))[::-1]
        return Spectrum(values if top is None else values[:top], condition_number(values))
    if top is None:
        raise CurvatureError(
            f"{n:,} parameters are too many for every eigenvalue (limit {FULL_LIMIT:,}); "
            f"ask for the top ones (--top K)")
    return Spectrum(top_eigenvalues(f, theta, top, indices), None)


def top_eigenvalues(f: TrainingLoss, theta: np.ndarray, k: int = 1,
                    indices: np.ndarray | None = None, tol: float = 1e-6,
                    seed: int = 0) -> np.ndarray:
    """The k largest (algebraic) eigenvalues of the Hessian, largest first, by Lanczos
    (scipy's eigsh) on Hessian-vector products: tens of products, never the matrix."""
    from scipy.sparse.linalg import ArpackNoConvergence, eigsh

    theta = np.asarray(theta, np.float64)
    idx = None if indices is None else np.asarray(indices, np.intp)
    n = theta.size if idx is None else idx.size
    if k >= n:  # eigsh needs k < n; so small a matrix is cheap whole
        return np.linalg.eigvalsh(f.hessian(theta, idx))[::-1][:k]
    op = _hessian_operator(f, theta, idx)
    v0 = np.random.default_rng(seed).standard_normal(n)  # the same answer every call
    try:
        values = eigsh(op, k=k, which="LA", tol=tol, v0=v0, return_eigenvectors=False,
                       maxiter=max(300, 10 * k))
    except ArpackNoConvergence as exc:
        if exc.eigenvalues is None or len(exc.eigenvalues) == 0:
            raise CurvatureError("the top eigenvalues did not converge") from None
        values = exc.eigenvalues
    return np.sort(np.real(values))[::-1]


# Lanczos vectors kept by top_eigenpair. ARPACK builds this many Hessian-vector products
# before it first checks for convergence: from a start near the answer (the last estimate's
# vector, 10 training steps ago) 4 converge at once, where eigsh's default of 20 spends 20 or
# more (bench/sharpness_speed.py, 2,017 parameters: 10 gradients warm, 18 from a random start,
# 42 for top_eigenvalues; the three values equal to 2e-8).
PAIR_VECTORS = 4


def top_eigenpair(f: TrainingLoss, theta: np.ndarray, start: np.ndarray | None = None,
                  indices: np.ndarray | None = None, tol: float = 1e-4,
                  seed: int = 0) -> tuple[float, np.ndarray]:
    """The largest eigenvalue of the Hessian and its unit eigenvector (in the parameters
    `indices`), by Lanczos started from `start`: give it the vector of the last call to
    follow the top eigenvalue through training cheaply (a warm start)."""
    from scipy.sparse.linalg import ArpackNoConvergence, eigsh

    theta = np.asarray(theta, np.float64)
    idx = None if indices is None else np.asarray(indices, np.intp)
    n = theta.size if idx is None else idx.size
    if n <= 2 * PAIR_VECTORS:  # eigsh needs more rows than vectors; the whole is cheap
        values, vectors = np.linalg.eigh(f.hessian(theta, idx))
        return float(values[-1]), vectors[:, -1]
    usable = start is not None and start.shape == (n,) and np.all(np.isfinite(start)) \
        and np.any(start)
    v0 = start if usable else np.random.default_rng(seed).standard_normal(n)
    try:
        values, vectors = eigsh(_hessian_operator(f, theta, idx), k=1, which="LA", tol=tol,
                                v0=v0, ncv=PAIR_VECTORS, maxiter=300)
    except ArpackNoConvergence as exc:
        if exc.eigenvalues is None or len(exc.eigenvalues) == 0:
            raise CurvatureError("the top eigenvalue did not converge") from None
        values, vectors = exc.eigenvalues, exc.eigenvectors
    return float(np.real(values[0])), np.real(vectors[:, 0])


def _hessian_operator(f: TrainingLoss, theta: np.ndarray, idx: np.ndarray | None):
    """The Hessian at theta in the parameters idx (all when None) as a scipy
    LinearOperator whose product is f.hvp."""
    from scipy.sparse.linalg import LinearOperator

    n = theta.size if idx is None else idx.size

    def matvec(v: np.ndarray) -> np.ndarray:
        v = np.ravel(v)
        if idx is None:
            return f.hvp(theta, v)
        full = np.zeros_like(theta)
        full[idx] = v
        return f.hvp(theta, full)[idx]

    return LinearOperator((n, n), matvec=matvec, dtype=np.float64)


@dataclass(frozen=True)
class PlaneCurvature:
    """The loss restricted to a plane theta(a, b) = p + a d1 + b d2, at (a, b) = (0, 0):
    its gradient and 2x2 Hessian in (a, b), and what they say about the way down."""
    gradient: np.ndarray  # (2,): dL/da, dL/db
    hessian: np.ndarray  # (2, 2), symmetric
    curvatures: np.ndarray  # (2,): eigenvalues of the 2x2 Hessian, largest first
    directions: np.ndarray  # (2, 2): column k is the unit direction of curvatures[k]
    newton: np.ndarray | None  # -H^-1 g in (a, b) when H is positive definite, else None
    shape: str  # "bowl" (positive definite), "saddle", "ridge" (curving down), "trough"
    # (curving up one way, flat the other) or "flat"

    @property
    def condition_number(self) -> float:
        return condition_number(self.curvatures)

    @property
    def angle_degrees(self) -> float | None:
        """Angle between the steepest-descent direction -g and Newton's step (None without
        a Newton step or with a zero gradient)."""
        return None if self.newton is None else angle_between(-self.gradient, self.newton)

    def explain(self) -> str:
        """One or two sentences under the plot."""
        c1, c2 = self.curvatures
        if self.shape == "bowl":
            return (f"Curvatures {c1:.4g} and {c2:.4g} (condition number "
                    f"{self.condition_number:.3g}): Newton's step points at the bottom of the "
                    f"local bowl, {self.angle_degrees or 0.0:.0f} degrees from steepest descent.")
        if self.shape == "saddle":
            return (f"Curvatures {c1:.4g} and {c2:.4g}: a saddle, curving up along one "
                    f"direction and down along the other, so the quadratic model has no "
                    f"minimum and Newton's step would head for the saddle point. The arrows "
                    f"show the two principal directions instead.")
        if self.shape == "ridge":
            return (f"Curvatures {c1:.4g} and {c2:.4g}: the loss curves down in every "
                    f"direction here (a hilltop), so Newton's step would climb. The arrows "
                    f"show the principal directions instead.")
        if self.shape == "trough":
            return (f"Curvatures {c1:.4g} and {c2:.4g}: a trough, curving along one direction "
                    f"and flat along the other, so there is no single bottom for Newton's step "
                    f"to aim at. The arrows show the principal directions instead.")
        return "The loss is flat to second order here: no curvature to take into account."


def angle_between(a: np.ndarray, b: np.ndarray) -> float | None:
    """The angle between two vectors in degrees (None when either is zero)."""
    na, nb = float(np.linalg.norm(a)), float(np.linalg.norm(b))
    if na == 0.0 or nb == 0.0 or not math.isfinite(na * nb):
        return None
    return math.degrees(math.acos(max(-1.0, min(1.0, float(a @ b) / (na * nb)))))


def plane_curvature(f: TrainingLoss, point: np.ndarray, d1: np.ndarray,
                    d2: np.ndarray) -> PlaneCurvature:
    """Gradient and Hessian of a -> L(point + a d1 + b d2) at 0, and what they say."""
    return curvature_of(*f.plane(point, d1, d2))


def curvature_of(g2: np.ndarray, h2: np.ndarray) -> PlaneCurvature:
    """What a 2-parameter gradient and symmetric Hessian say: eigen-decomposition, shape,
    and Newton's step where the Hessian is positive definite."""
    values, vectors = np.linalg.eigh(h2)
    values, vectors = values[::-1], vectors[:, ::-1]
    scale = max(float(np.max(np.abs(values))), 1e-300)
    tiny = 1e-10 * scale  # relative: a curvature this far below the other is zero
    if float(np.max(np.abs(values))) <= 1e-300:
        shape = "flat"
    elif values[1] > tiny:
        shape = "bowl"
    elif values[0] > tiny and values[1] < -tiny:
        shape = "saddle"
    elif values[0] < -tiny:
        shape = "ridge"
    else:
        shape = "trough"  # one direction curves, the other does not: no unique minimum
    newton = -np.linalg.solve(h2, g2) if shape == "bowl" else None
    return PlaneCurvature(np.asarray(g2, float), np.asarray(h2, float), values, vectors,
                          newton, shape)


# Why a step larger than 2/curvature oscillates: said by the step-through's update and by the
# Sharpness panel, in these words.
OVERSHOOT = (
    "Why steps larger than 2/curvature oscillate: on a quadratic with curvature c, one "
    "gradient-descent step of size η multiplies the distance to the minimum by (1 − η·c). "
    "While η·c < 1 the step goes part of the way; between 1 and 2 it overshoots to the other "
    "side but lands closer; above 2, |1 − η·c| > 1, so each step lands farther away on the "
    "other side than the one before: it oscillates with growing swings. Plain gradient "
    "descent is stable only while η < 2/c.")


def overshoot_verdict(learning_rate: float, curvature: float) -> str:
    """What (1 - eta c) says about one step of size `learning_rate` along a direction of
    this curvature, with the numbers."""
    eta, c = learning_rate, curvature
    factor = 1.0 - eta * c
    head = f"Here η = {fmt(eta)} and c = {fmt(c)}: "
    if not math.isfinite(factor):
        return head + "the curvature is not a finite number."
    if c <= 0:
        return (head + "the loss curves down (or not at all) along this direction, so there "
                       "is no minimum along it to overshoot.")
    tail = f"1 − η·c = {fmt(factor)}, and 2/c = {fmt(2 / c)}"
    if factor >= 0:
        return (head + tail + f": the step goes {fmt(100 * eta * c)}% of the way to the "
                              f"minimum of the parabola, without overshooting.")
    if factor >= -1:
        return (head + tail + ": the step overshoots to the other side but lands closer, "
                              f"at {fmt(100 * -factor)}% of the distance.")
    return (head + tail + f" < η: |1 − η·c| = {fmt(-factor)} > 1, so the step lands "
                          f"farther away on the other side than where it started.")
