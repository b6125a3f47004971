"""Columns of the data loss's Hessian, many at once, by Pearlmutter's R-operator
(forward-over-reverse) along single parameters: the whole Hessian (core.curvature). The same
levels, groups, activations and loss as core.engine.backprop's forward and backward, with a
leading axis over the columns of a chunk; held to central differences of loss_and_gradients
by the tests.

Why not central differences of the gradient (the previous core.engine.perturbed: two moved
points per column, each through the activations and the loss; 115-160 ms CPU for a
205-parameter tanh net on 1,000 samples): the derivative of the backward pass along one
parameter is linear in what moves, so one tangent per column replaces two points, and no
activation or loss is evaluated per column. With the forward pass, f'(z), f''(z) and the
backward pass (delta = dL/dz, grad_a = dL/da) at theta computed once, for column c:
  (1) t = dz/d theta_c is zero upstream of c's level; in its level only c's row moves (by
      the source's activation for a weight, 1 for a bias); below, t = W u, u = f'(z) t.
  (2) At the outputs, d delta = D t, D the loss's second derivative in the outputs' net
      inputs (core.engine.output_loss: 2 x outputs loss evaluations for every column).
  (3) Backwards, d grad_a = sum of W^T d delta over the levels that read a row (plus delta_r
      at the source of a moved weight w_rs), and d delta = f'(z) d grad_a + f''(z) t grad_a.
  (4) The column's entry of a weight w_rs is sum over samples of d delta_r a_s + delta_r u_s;
      of a bias, sum of d delta_r.
Exact but for D's difference (only on output arrays): no step along the parameters.
"""
from __future__ import annotations

from typing import Iterator

import numpy as np

from core.activations import ACTIVATIONS
from core.engine.backprop import backward, forward, loss_and_output_grad
from core.engine.output_loss import OutputLoss
from core.engine.plan import Params, Plan

CHUNK_BYTES = 2**24  # the (columns x neurons x samples) buffers of one chunk
MAX_CHUNK = 32  # columns per chunk


class OneParameterMoves:
    """Where each parameter (Plan.flatten order) sits: its level, the row it feeds, and for a
    weight its source row (-1 for a bias)."""

    def __init__(self, plan: Plan) -> None:
        n_e = len(plan.edge_ids)
        self.level = np.empty(plan.n_parameters, np.intp)
        self.row = np.empty(plan.n_parameters, np.intp)
        self.source = np.full(plan.n_parameters, -1, np.intp)
        level_of_row = np.zeros(plan.n_neurons, np.intp)
        for i, lv in enumerate(plan.levels):
            level_of_row[lv.start: lv.stop] = i
            self.level[lv.edge_pos] = i
            self.row[lv.edge_pos] = lv.start + lv.rows
            self.source[lv.edge_pos] = lv.src_lo + lv.cols
        self.row[n_e:] = plan.bias_rows
        self.level[n_e:] = level_of_row[plan.bias_rows]


def hessian_columns(plan: Plan, params: Params, x: np.ndarray, y: np.ndarray, loss: str,
                    columns: np.ndarray, relative_step: float
                    ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Column columns[i] of the data loss's Hessian for every i, in Plan.flatten order.
    Yields chunks (positions i, columns as rows), in an order of its own (grouped by level).
    relative_step: the loss's central difference in its outputs, (2)."""
    columns = np.asarray(columns, np.intp)
    tangents = HessianColumns(plan, params, x, y, loss, relative_step)
    levels = tangents.where.level[columns]
    for li in np.unique(levels):
        todo = np.flatnonzero(levels == li)
        for s in range(0, todo.size, tangents.size):
            pos = todo[s: s + tangents.size]
            yield pos, tangents.columns(int(li), columns[pos])


class HessianColumns:
    """Hessian columns for a chunk of parameters of one level at a time; theta's passes
    computed once."""

    def __init__(self, plan: Plan, params: Params, x: np.ndarray, y: np.ndarray, loss: str,
                 relative_step: float) -> None:
        self.plan, self.params = plan, params
        x = np.ascontiguousarray(x, np.float64)
        self.base = forward(plan, params, x)
        back = backward(plan, params, self.base,
                        loss_and_output_grad(plan, self.base, np.asarray(y, np.float64), loss))
        self.delta, self.grad_a = back.delta.copy(), back.grad_a.copy()  # rows from n_inputs
        z, a = self.base.z, self.base.a
        self.slope, self.curve = np.ones_like(z), np.zeros_like(z)
        for lv in plan.levels:
            for name, g0, g1 in lv.groups:
                self.slope[g0:g1] = ACTIVATIONS[name].df(z[g0:g1], a[g0:g1])
                self.curve[g0:g1] = ACTIVATIONS[name].second_derivative(z[g0:g1], a[g0:g1])
        z_out = np.ascontiguousarray(z[plan.output_rows].T)
        # (samples, outputs, outputs), and the outputs' dL/dz from the same loss in z
        self.d_out = OutputLoss(plan, y, loss).second_derivative(z_out, relative_step)
        self.where = OneParameterMoves(plan)
        n, b = plan.n_neurons, x.shape[0]
        self.size = int(np.clip(CHUNK_BYTES // (4 * n * max(b, 1) * 8), 1, MAX_CHUNK))
        self.t, self.u = np.empty((self.size, n, b)), np.empty((self.size, n, b))
        hidden = n - plan.n_inputs
        self.d_grad_a, self.d_delta = (np.empty((self.size, hidden, b)) for _ in range(2))

    def columns(self, li: int, columns: np.ndarray) -> np.ndarray:
        """(columns x parameters): the Hessian's columns for parameters all of level li."""
        self._tangents(li, columns)
        return self._backward(li, columns)

    def _tangents(self, li: int, columns: np.ndarray) -> None:
        """(1): t and u of every row from level li on (rows above it are never read)."""
        plan, k = self.plan, len(columns)
        lv = plan.levels[li]
        t, u = self.t[:k], self.u[:k]
        t[:, lv.start: lv.stop] = 0.0
        points = np.arange(k)
        rows, sources = self.where.row[columns], self.where.source[columns]
        weight = sources >= 0
        t[points, rows] = 1.0
        t[points[weight], rows[weight]] = self.base.a[sources[weight]]
        np.multiply(t[:, lv.start: lv.stop], self.slope[lv.start: lv.stop],
                    out=u[:, lv.start: lv.stop])
        for later, w in zip(plan.levels[li + 1:], self.params.weights[li + 1:]):
            tz = t[:, later.start: later.stop]
            lo = max(later.src_lo, lv.start)  # sources above level li do not move
            if later.src_hi > lo:
                np.matmul(w[:, lo - later.src_lo:], u[:, lo: later.src_hi], out=tz)
            else:
                tz[...] = 0.0
            np.multiply(tz, self.slope[later.start: later.stop],
                        out=u[:, later.start: later.stop])

    def _backward(self, li: int, columns: np.ndarray) -> np.ndarray:
        """(2)-(4), level by level from the last, in Plan.flatten order."""
        plan, n_in, k = self.plan, self.plan.n_inputs, len(columns)
        start = plan.levels[li].start
        d_ga, d_dl = self.d_grad_a[:k], self.d_delta[:k]
        written = np.zeros(plan.n_neurons - n_in, bool)  # rows of d_ga holding a value
        out = plan.output_rows
        # (2): d delta of the outputs, D t per sample (t is zero above level li)
        t_out = self.t[:k, out]
        t_out[:, out < start] = 0.0
        d_out = np.einsum("skj,pjs->pks", self.d_out, t_out)
        result = np.empty((k, plan.n_parameters))
        biases = np.zeros((k, plan.n_neurons))
        for i in range(len(plan.levels) - 1, -1, -1):
            lv, w = plan.levels[i], self.params.weights[i]
            r0, r1 = lv.start - n_in, lv.stop - n_in
            if not written[r0:r1].all():  # no later level reads these rows
                d_ga[:, r0 + np.flatnonzero(~written[r0:r1])] = 0.0
            dl = d_dl[:, r0:r1]
            np.multiply(d_ga[:, r0:r1], self.slope[lv.start: lv.stop], out=dl)
            if i >= li:  # (3)'s second term, where t is not zero
                dl += self.t[:k, lv.start: lv.stop] * (self.curve[lv.start: lv.stop]
                                                       * self.grad_a[r0:r1])
            if lv.has_outputs:  # an output's delta is the loss's dL/dz: its change is D t
                mine = (out >= lv.start) & (out < lv.stop)
                dl[:, out[mine] - lv.start] = d_out[:, mine]
            biases[:, lv.start: lv.stop] = np.add.reduce(dl, axis=2)
            if lv.src_hi <= lv.src_lo:
                result[:, lv.edge_pos] = 0.0
                continue
            result[:, lv.edge_pos] = self._weight_entries(i, li, dl)[:, lv.rows, lv.cols]
            lo = max(lv.src_lo, n_in)
            if lv.src_hi > lo:
                self._pass_back(w[:, lo - lv.src_lo:].T, dl, d_ga, written, lo - n_in,
                                lv.src_hi - n_in)
            if i == li:
                self._moved_weights_back(columns, d_ga)
        result[:, len(plan.edge_ids):] = biases[:, plan.bias_rows]
        return result

    def _weight_entries(self, i: int, li: int, dl: np.ndarray) -> np.ndarray:
        """(4) for level i's weight matrix: d delta a^T, plus delta u^T where sources move."""
        plan = self.plan
        lv = plan.levels[i]
        gw = np.matmul(dl, self.base.a[lv.src_lo: lv.src_hi].T)
        lo = max(lv.src_lo, plan.levels[li].start)
        if i > li and lv.src_hi > lo:
            delta = self.delta[lv.start - plan.n_inputs: lv.stop - plan.n_inputs]
            gw[:, :, lo - lv.src_lo:] += np.matmul(
                delta, np.swapaxes(self.u[: len(dl), lo: lv.src_hi], -1, -2))
        return gw

    def _pass_back(self, w_t: np.ndarray, dl: np.ndarray, d_ga: np.ndarray,
                   written: np.ndarray, lo: int, hi: int) -> None:
        """d_ga[:, lo:hi] += w_t dl, written straight in where those rows hold nothing."""
        # A level of one neuron passes back an outer product: a broadcast multiply, where
        # matmul with an inner dimension of 1 took 7x as long (2-12-12-1).
        product = np.multiply if w_t.shape[1] == 1 else np.matmul
        if not written[lo:hi].any():
            product(w_t, dl, out=d_ga[:, lo:hi])
        else:
            d_ga[:, lo + np.flatnonzero(~written[lo:hi])] = 0.0
            d_ga[:, lo:hi] += product(w_t, dl)
        written[lo:hi] = True

    def _moved_weights_back(self, columns: np.ndarray, d_ga: np.ndarray) -> None:
        """A moved weight w_rs passes delta_r more back to its source s (when s is not an
        input): d(w_rs delta_r)/d w_rs."""
        n_in = self.plan.n_inputs
        sources = self.where.source[columns]
        points = np.flatnonzero(sources >= n_in)
        if points.size:
            rows = self.where.row[columns[points]]
            d_ga[points, sources[points] - n_in] += self.delta[rows - n_in]
