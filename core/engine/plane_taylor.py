"""The data loss along a plane through theta to second order: its value, gradient and 2x2
Hessian in the plane's coordinates, phi(a, b) = L(theta + a d1 + b d2) at a = b = 0 (the loss
surface's arrows and the plane's Newton step, core.curvature.plane_curvature).

Every neuron's net input and activation along the plane is carried as its Taylor polynomial
to second order, v + a v_a + b v_b + a^2/2 v_aa + a b v_ab + b^2/2 v_bb (forward-over-forward
differentiation), on top of the engine's forward pass at theta. A level's net input
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
G from the loss's registry entry and its derivative DG[V] along V a central difference of G:
an entry carries no second derivative, and this difference is over (samples x outputs)
arrays only, accurate to O(e^2) as core.curvature's Hessian-vector products.
"""
from __future__ import annotations

import numpy as np

from core.activations import ACTIVATIONS, Activation
from core.engine.backprop import forward
from core.engine.plan import Params, Plan
from core.losses import LOSSES

# The five Taylor coefficients kept per neuron and sample, in this order.
A, B, AA, AB, BB = range(5)


def plane_derivatives(plan: Plan, theta: np.ndarray, d1: np.ndarray, d2: np.ndarray,
                      x: np.ndarray, y: np.ndarray, loss: str, relative_step: float
                      ) -> tuple[float, np.ndarray, np.ndarray]:
    """(value, gradient (2,), symmetric Hessian (2, 2)) of a, b -> L(theta + a d1 + b d2) at
    0, L the data loss (mean over the batch x, y; no penalty). Vectors in Plan.flatten order;
    x holds the plan's inputs. relative_step: the loss's central difference, see (5)."""
    params = plan.unflatten(np.asarray(theta, np.float64))
    fwd = forward(plan, params, np.ascontiguousarray(x, np.float64))
    nets = _output_coefficients(plan, params, plan.unflatten(np.asarray(d1, np.float64)),
                                plan.unflatten(np.asarray(d2, np.float64)), fwd.z, fwd.a)
    return _loss_on_plane(plan, fwd.z[plan.output_rows].T, nets, y, loss, relative_step)


def _output_coefficients(plan: Plan, params: Params, p1: Params, p2: Params, z: np.ndarray,
                         a: np.ndarray) -> np.ndarray:
    """The output neurons' net-input coefficients, (outputs, 5, samples), by (1)-(4) level by
    level; z and a are the forward pass's at theta (neurons x samples)."""
    n_in, samples = plan.n_inputs, z.shape[1]
    acts = np.zeros((plan.n_neurons - n_in, 5, samples))  # rows that never move stay zero
    moves = np.zeros(plan.n_neurons - n_in, bool)
    out_pos = {int(r): k for k, r in enumerate(plan.output_rows)}
    nets = np.zeros((len(plan.output_rows), 5, samples))
    for i, lv in enumerate(plan.levels):
        zt = _level_nets(plan, i, params, p1, p2, a, acts, moves)
        if zt is None:
            continue
        r0, r1 = lv.start - n_in, lv.stop - n_in
        moves[r0:r1] = True
        for row in range(lv.start, lv.stop):
            if row in out_pos:
                nets[out_pos[row]] = zt[row - lv.start]
        for name, g0, g1 in lv.groups:
            _activate(ACTIVATIONS[name], z[g0:g1], a[g0:g1], zt[g0 - lv.start: g1 - lv.start],
                      acts[g0 - n_in: g1 - n_in])
    return nets


def _level_nets(plan: Plan, i: int, params: Params, p1: Params, p2: Params, a: np.ndarray,
                acts: np.ndarray, moves: np.ndarray) -> np.ndarray | None:
    """Level i's net-input coefficients (rows, 5, samples) by (1)-(3); None when none of its
    rows moves on the plane."""
    lv, n_in = plan.levels[i], plan.n_inputs
    lo = max(lv.src_lo, n_in)  # its first source row that is not an input (inputs never move)
    moving = lo + np.flatnonzero(moves[lo - n_in: lv.src_hi - n_in]) if lv.src_hi > lo \
        else np.empty(0, np.intp)
    w1, w2 = p1.weights[i], p2.weights[i]
    c1, c2 = p1.biases[lv.start: lv.stop], p2.biases[lv.start: lv.stop]
    rows = np.flatnonzero(np.any(w1 != 0, axis=1) | np.any(w2 != 0, axis=1)
                          | (c1 != 0) | (c2 != 0))  # rows the directions move themselves
    if not moving.size and not rows.size:
        return None
    samples = a.shape[1]
    zt = np.zeros((lv.stop - lv.start, 5, samples))
    if moving.size:  # W0 s_*: every coefficient of the moving sources, one product
        cols = moving - lv.src_lo
        src = acts[moving - n_in].reshape(moving.size, 5 * samples)
        zt[...] = (params.weights[i][:, cols] @ src).reshape(zt.shape)
    if rows.size:
        k = rows.size
        w12 = np.concatenate([w1[rows], w2[rows]])  # (2k, sources)
        first = w12 @ a[lv.src_lo: lv.src_hi]  # W1 s and W2 s
        zt[rows, A] += first[:k] + c1[rows, None]
        zt[rows, B] += first[k:] + c2[rows, None]
        if moving.size:  # W1 s_a, W1 s_b, W2 s_a, W2 s_b
            tangents = acts[moving - n_in, :2].reshape(moving.size, 2 * samples)
            cross = (w12[:, moving - lv.src_lo] @ tangents).reshape(2 * k, 2, samples)
            zt[rows, AA] += 2.0 * cross[:k, 0]
            zt[rows, AB] += cross[:k, 1] + cross[k:, 0]
            zt[rows, BB] += 2.0 * cross[k:, 1]
    return zt


def _activate(act: Activation, z: np.ndarray, a: np.ndarray, zt: np.ndarray,
              out: np.ndarray) -> None:
    """out = the activations' coefficients from the net inputs' zt, by (4)."""
    slope = act.df(z, a)[:, None]
    np.multiply(zt, slope, out=out)
    curve = second_derivative(act, z, a)[:, None]
    if np.any(curve):
        za, zb = zt[:, A], zt[:, B]
        out[:, AA:] += curve * np.stack([za * za, za * zb, zb * zb], axis=1)


def second_derivative(act: Activation, z: np.ndarray, a: np.ndarray) -> np.ndarray:
    """f''(z): the entry's d2f, else a central difference of its df (an entry added without
    one, as tests/core/test_registry_extension.py does)."""
    if act.d2f is not None:
        return act.d2f(z, a)
    h = 1e-5 * (1.0 + np.abs(z))
    up, down = z + h, z - h
    return (act.df(up, act.f(up)) - act.df(down, act.f(down))) / (2.0 * h)


def _loss_on_plane(plan: Plan, z: np.ndarray, nets: np.ndarray, y: np.ndarray, loss: str,
                   relative_step: float) -> tuple[float, np.ndarray, np.ndarray]:
    """(5): value, gradient and Hessian in (a, b) from the outputs' net inputs z (samples x
    outputs) and their coefficients `nets` (outputs, 5, samples)."""
    y = np.asarray(y, np.float64)
    outputs = _OutputLoss(plan, y, loss)
    coeff = [np.ascontiguousarray(nets[:, c].T) for c in range(5)]  # each samples x outputs
    value, g = outputs.value_and_gradient(z)
    gradient = np.array([np.vdot(g, coeff[A]), np.vdot(g, coeff[B])])
    hessian = np.array([[np.vdot(g, coeff[AA]), np.vdot(g, coeff[AB])],
                        [np.vdot(g, coeff[AB]), np.vdot(g, coeff[BB])]])
    scale = 1.0 + float(np.max(np.abs(z))) if z.size else 1.0
    for j in (A, B):
        top = float(np.max(np.abs(coeff[j]))) if z.size else 0.0
        if top == 0.0:
            continue  # Z does not move along this direction: DG[0] = 0
        # The largest move of any output's net input is relative_step of their size.
        e = relative_step * scale / top
        dg = (outputs.value_and_gradient(z + e * coeff[j])[1]
              - outputs.value_and_gradient(z - e * coeff[j])[1]) / (2.0 * e)
        hessian[A, j] += np.vdot(dg, coeff[A])
        hessian[B, j] += np.vdot(dg, coeff[B])
    return value, gradient, 0.5 * (hessian + hessian.T)


class _OutputLoss:
    """The loss as a function of the output neurons' net inputs alone (samples x outputs):
    their activations are f(Z), each output by its own activation."""

    def __init__(self, plan: Plan, y: np.ndarray, loss: str) -> None:
        self.entry, self.y = LOSSES[loss], y
        column = {int(r): k for k, r in enumerate(plan.output_rows)}
        self.groups = []  # (activation, output columns)
        for lv in plan.levels:
            for name, g0, g1 in lv.groups:
                cols = [column[r] for r in range(g0, g1) if r in column]
                if cols:
                    self.groups.append((ACTIVATIONS[name], np.array(cols)))

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
