"""The data loss along a plane through theta to second order: its value, gradient and 2x2
Hessian in the plane's coordinates, phi(a, b) = L(theta + a d1 + b d2) at a = b = 0 (the loss
surface's arrows and the plane's Newton step, core.curvature.plane_curvature).

Every neuron's net input and activation along the plane is carried as its Taylor polynomial
to second order, v + a v_a + b v_b + a^2/2 v_aa + a b v_ab + b^2/2 v_bb (forward-over-forward
differentiation), its value v at theta computed with them as the engine's forward pass
computes it. A level's net input
z = W s + c, with W = W0 + a W1 + b W2 (W1, W2 the directions' weights; c likewise), has
  (1) z_a  = W0 s_a + W1 s + c1            z_b  = W0 s_b + W2 s + c2
  (2) z_aa = W0 s_aa + 2 W1 s_a            z_bb = W0 s_bb + 2 W2 s_b
  (3) z_ab = W0 s_ab + W1 s_b + W2 s_a
and an activation a = f(z)
  (4) a_a = f' z_a,  a_aa = f'' z_a^2 + f' z_aa,  a_ab = f'' z_a z_b + f' z_ab  (b alike).
Inputs do not move, so a level that reads only inputs costs W1 x and W2 x beyond its forward
product: on 784-64-10 three products of the first layer's size, where the five exact
gradients this replaced cost about ten. Only the source rows that move are read in (1)-(3):
upstream of an exact plane's two parameters nothing moves and nothing is computed.

The loss is differentiated in the output neurons' net inputs Z (their activations are f(Z)):
  (5) phi_i = <G, Z_i>,   phi_ij = <G, Z_ij> + <DG[Z_j], Z_i>,   G = dL/dZ,
G from the loss's registry entry and its derivative DG[V] along V a central difference of G
(core.engine.output_loss: an entry carries no second derivative; the difference is over
(samples x outputs) arrays only).
"""
from __future__ import annotations

import numpy as np

from core.activations import ACTIVATIONS, Activation
from core.engine.output_loss import OutputLoss
from core.engine.plan import Params, Plan

# What is kept per neuron and sample: its value at theta, then the five Taylor coefficients.
V, A, B, AA, AB, BB = range(6)


def plane_derivatives(plan: Plan, theta: np.ndarray, d1: np.ndarray, d2: np.ndarray,
                      x: np.ndarray, y: np.ndarray, loss: str, relative_step: float
                      ) -> tuple[float, np.ndarray, np.ndarray]:
    """(value, gradient (2,), symmetric Hessian (2, 2)) of a, b -> L(theta + a d1 + b d2) at
    0, L the data loss (mean over the batch x, y; no penalty). Vectors in Plan.flatten order;
    x holds the plan's inputs. relative_step: the loss's central difference, see (5)."""
    x_t = np.asarray(x, np.float64).T
    if x_t.ndim != 2 or x_t.shape[0] != plan.n_inputs:
        raise ValueError(f"expected inputs of shape (samples, {plan.n_inputs}), "
                         f"got {np.shape(x)}")
    params, p1, p2 = (plan.unflatten(np.asarray(v, np.float64)) for v in (theta, d1, d2))
    nets = output_coefficients(plan, params, p1, p2, x_t)
    return _loss_on_plane(plan, nets, y, loss, relative_step)


def output_coefficients(plan: Plan, params: Params, p1: Params, p2: Params,
                        x_t: np.ndarray) -> np.ndarray:
    """The output neurons' net inputs and their coefficients, (outputs, 6, samples), by
    (1)-(4) level by level; x_t holds the inputs as (inputs x samples). The values are the
    engine's forward pass's (core.engine.backprop.forward; held to it by the tests), computed
    here with the coefficients rather than kept in (neurons x samples) arrays of the inputs'
    size: on 784-64-10 fresh arrays of that size cost more in page faults than the sums."""
    n_in, samples = plan.n_inputs, x_t.shape[1]
    acts = np.empty((plan.n_neurons - n_in, 6, samples))
    moves = np.zeros(plan.n_neurons - n_in, bool)  # rows whose coefficients may be nonzero
    out_pos = {int(r): k for k, r in enumerate(plan.output_rows)}
    nets = np.empty((len(plan.output_rows), 6, samples))
    for i, lv in enumerate(plan.levels):
        zc, moved = _level_nets(plan, i, params, p1, p2, x_t, acts, moves)
        moves[lv.start - n_in: lv.stop - n_in] = moved
        for row in range(lv.start, lv.stop):
            if row in out_pos:
                nets[out_pos[row]] = zc[row - lv.start]
        for name, g0, g1 in lv.groups:
            _activate(ACTIVATIONS[name], zc[g0 - lv.start: g1 - lv.start],
                      acts[g0 - n_in: g1 - n_in], moved[g0 - lv.start: g1 - lv.start])
    return nets


def _level_nets(plan: Plan, i: int, params: Params, p1: Params, p2: Params, x_t: np.ndarray,
                acts: np.ndarray, moves: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Level i's net inputs and coefficients (rows, 6, samples) by (1)-(3), and which of its
    rows move on the plane."""
    lv, n_in = plan.levels[i], plan.n_inputs
    n = lv.stop - lv.start
    zc = np.zeros((n, 6, x_t.shape[1]))
    source = _Sources(lv, n_in, x_t, acts)
    moving = source.moving(moves)
    w, w1, w2 = params.weights[i], p1.weights[i], p2.weights[i]
    zc[:, V] = source.values(w)
    zc[:, V] += params.biases[lv.start: lv.stop, None]
    if moving.size:  # W0 s_*: every coefficient of the moving sources, one product
        zc[:, A:] = (w[:, moving - lv.src_lo] @ source.coefficients(moving, A)
                     ).reshape(n, 5, -1)
    c1, c2 = p1.biases[lv.start: lv.stop], p2.biases[lv.start: lv.stop]
    moved = np.any(w1 != 0, axis=1) | np.any(w2 != 0, axis=1) | (c1 != 0) | (c2 != 0)
    rows = np.flatnonzero(moved)  # the rows the directions move themselves
    if rows.size:
        own = slice(None) if rows.size == n else rows
        zc[own, A] += source.values(w1[own]) + c1[own, None]  # W1 s + c1
        zc[own, B] += source.values(w2[own]) + c2[own, None]
        if moving.size:  # W1 s_a, W1 s_b, W2 s_a, W2 s_b
            first = source.coefficients(moving, A, AA)
            cols = moving - lv.src_lo
            by_1 = (w1[own][:, cols] @ first).reshape(rows.size, 2, -1)
            by_2 = (w2[own][:, cols] @ first).reshape(rows.size, 2, -1)
            zc[own, AA] += 2.0 * by_1[:, 0]
            zc[own, AB] += by_1[:, 1] + by_2[:, 0]
            zc[own, BB] += 2.0 * by_2[:, 1]
    return zc, np.ones(n, bool) if moving.size else moved


class _Sources:
    """A level's source block: its input rows read from x_t, the rest from acts."""

    def __init__(self, lv, n_in: int, x_t: np.ndarray, acts: np.ndarray) -> None:
        self.lo = max(lv.src_lo, n_in)  # the first source row that is not an input
        self.split = min(self.lo, lv.src_hi) - lv.src_lo  # weights' columns reading inputs
        self.inputs = x_t[lv.src_lo: lv.src_lo + self.split] if self.split > 0 else None
        self.hidden = acts[self.lo - n_in: lv.src_hi - n_in] if lv.src_hi > self.lo else None
        self.n_in, self.acts = n_in, acts

    def moving(self, moves: np.ndarray) -> np.ndarray:
        """The source rows whose coefficients may be nonzero (moves: per non-input row)."""
        if self.hidden is None:
            return np.empty(0, np.intp)
        return self.lo + np.flatnonzero(moves[self.lo - self.n_in: self.lo - self.n_in
                                              + len(self.hidden)])

    def values(self, w: np.ndarray) -> np.ndarray | float:
        """w @ the sources' values at theta (0 for a level without edges)."""
        out = 0.0
        if self.inputs is not None:
            out = w[:, : self.split] @ self.inputs
        if self.hidden is not None:
            out = out + w[:, self.split:] @ self.hidden[:, V]
        return out

    def coefficients(self, rows: np.ndarray, first: int, stop: int = BB + 1) -> np.ndarray:
        """Coefficients [first, stop) of the source rows `rows`, as (rows, (stop - first) x
        samples): a view when the rows are consecutive (the usual case)."""
        lo = int(rows[0]) - self.n_in
        if rows[-1] - rows[0] + 1 == rows.size:
            return self.acts[lo: lo + rows.size, first:stop].reshape(rows.size, -1)
        return self.acts[rows - self.n_in, first:stop].reshape(rows.size, -1)


def _activate(act: Activation, zc: np.ndarray, out: np.ndarray, moved: np.ndarray) -> None:
    """out = the activations and their coefficients from the net inputs' zc, by (4);
    coefficients are computed for the rows in `moved` only (the others are zero)."""
    z, a = zc[:, V], out[:, V]
    a[...] = act.f(z)
    if moved.all():
        rows = slice(None)
        dst = np.multiply(zc[:, A:], act.df(z, a)[:, None], out=out[:, A:])
    else:
        out[:, A:] = 0.0
        rows = np.flatnonzero(moved)
        if not rows.size:
            return
        z, a = z[rows], a[rows]
        dst = zc[rows, A:] * act.df(z, a)[:, None]
    curve = act.second_derivative(z, a)
    if np.any(curve):
        za, zb = zc[rows, A], zc[rows, B]
        bent = curve * za
        dst[:, AA - A] += bent * za
        dst[:, AB - A] += bent * zb
        dst[:, BB - A] += curve * zb * zb
    if not isinstance(rows, slice):
        out[rows, A:] = dst


def _loss_on_plane(plan: Plan, nets: np.ndarray, y: np.ndarray, loss: str,
                   relative_step: float) -> tuple[float, np.ndarray, np.ndarray]:
    """(5): value, gradient and Hessian in (a, b) from the outputs' net inputs and their
    coefficients `nets` (outputs, 6, samples)."""
    y = np.asarray(y, np.float64)
    outputs = OutputLoss(plan, y, loss)
    # each samples x outputs, contiguous for the dot products
    coeff = [np.ascontiguousarray(nets[:, c].T) for c in range(6)]
    z = coeff[V]
    value, g = outputs.value_and_gradient(z)
    gradient = np.array([np.vdot(g, coeff[A]), np.vdot(g, coeff[B])])
    hessian = np.array([[np.vdot(g, coeff[AA]), np.vdot(g, coeff[AB])],
                        [np.vdot(g, coeff[AB]), np.vdot(g, coeff[BB])]])
    for j, along in enumerate((A, B)):
        dg = outputs.derivative_along(z, coeff[along], relative_step)
        hessian[:, j] += [np.vdot(dg, coeff[A]), np.vdot(dg, coeff[B])]
    return value, gradient, 0.5 * (hessian + hessian.T)
