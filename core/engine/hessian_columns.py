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
  (3) Backwards, d grad_a = sum of W^T d delta over the levels that read a row, and
      d delta = f'(z) d grad_a + f''(z) t grad_a; down to c's level only: the entries of
      earlier parameters are the symmetric ones of their own columns.
  (4) The column's entry of a weight w_rs is sum over samples of d delta_r a_s + delta_r u_s;
      of a bias, sum of d delta_r.
Exact but for D's difference (only on output arrays): no step along the parameters.
"""
from __future__ import annotations

from typing import Iterator, NamedTuple

import numpy as np

from core.activations import ACTIVATIONS
from core.engine.backprop import backward, forward, loss_and_output_grad
from core.engine.output_loss import OutputLoss
from core.engine.plan import Params, Plan

CHUNK_BYTES = 2**23  # the (columns x neurons x samples) buffers of one chunk
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
    """Column columns[i] of the data loss's Hessian for every i, in Plan.flatten order, at
    the parameters of its own level and those after it; NaN at parameters of earlier levels,
    whose entries are the Hessian's symmetric ones (row c of an earlier parameter's column):
    so the backward pass of a column stops at its own level (symmetric_fill puts them in).
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


class _Moved(NamedTuple):
    """The chunk's columns in their own level: the row each moves, and its t and u there
    (columns x samples); every other row of that level has t = u = 0."""

    rows: np.ndarray
    t: np.ndarray
    u: np.ndarray

    def read_by(self, lv) -> tuple[np.ndarray, np.ndarray] | None:
        """(columns, weight-matrix columns) of the moved rows the level reads, or None."""
        inside = (self.rows >= lv.src_lo) & (self.rows < lv.src_hi)
        if not inside.any():
            return None
        points = np.flatnonzero(inside)
        return points, self.rows[points] - lv.src_lo


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
        hidden, b = plan.n_neurons - plan.n_inputs, x.shape[0]
        self.size = int(np.clip(CHUNK_BYTES // (4 * max(hidden * b, 1) * 8), 1, MAX_CHUNK))
        # Flat buffers, viewed per chunk as (rows, columns, samples): rows first, so each
        # level's product over every column of the chunk is one matrix product (a stack of
        # small per-column products cost more in calls than in arithmetic).
        self._memory = [np.empty(hidden * self.size * b) for _ in range(4)]

    def _views(self, k: int) -> list[np.ndarray]:
        """t, u, d grad_a, d delta: (non-input neurons, k, samples); inputs never move."""
        b = self.base.a.shape[1]
        return [m[: m.size // self.size * k].reshape(-1, k, b) for m in self._memory]

    def columns(self, li: int, columns: np.ndarray) -> np.ndarray:
        """(columns x parameters): the Hessian's columns for parameters all of level li."""
        t, u, d_ga, d_dl = self._views(len(columns))
        self._tangents(li, columns, t, u)
        return self._backward(li, columns, t, u, d_ga, d_dl)

    def _tangents(self, li: int, columns: np.ndarray, t: np.ndarray, u: np.ndarray) -> None:
        """(1): t and u of every row after level li (rows above it are never read); in level
        li itself only each column's moved row, kept as self._moved (the rest is zero)."""
        plan, k, b, n_in = self.plan, len(columns), t.shape[2], self.plan.n_inputs
        lv = plan.levels[li]
        rows, sources = self.where.row[columns], self.where.source[columns]
        moved_t = np.ones((k, b))
        weight = sources >= 0
        moved_t[weight] = self.base.a[sources[weight]]
        self._moved = _Moved(rows, moved_t, moved_t * self.slope[rows])
        for later, w in zip(plan.levels[li + 1:], self.params.weights[li + 1:]):
            tz = t[later.start - n_in: later.stop - n_in]
            lo = max(later.src_lo, lv.stop)  # sources above level li do not move
            if later.src_hi > lo:
                np.matmul(w[:, lo - later.src_lo:],
                          u[lo - n_in: later.src_hi - n_in].reshape(-1, k * b),
                          out=tz.reshape(-1, k * b))
            else:
                tz[...] = 0.0
            reads = self._moved.read_by(later)
            if reads is not None:  # column p's moved row r: W[:, r] u_r, an outer product
                points, cols = reads
                tz[:, points] += w[:, cols][:, :, None] * self._moved.u[points]
            np.multiply(tz, self.slope[later.start: later.stop, None],
                        out=u[later.start - n_in: later.stop - n_in])

    def _backward(self, li: int, columns: np.ndarray, t: np.ndarray, u: np.ndarray,
                  d_ga: np.ndarray, d_dl: np.ndarray) -> np.ndarray:
        """(2)-(4), level by level from the last; the columns as rows, Plan.flatten order."""
        plan, n_in, k = self.plan, self.plan.n_inputs, len(columns)
        lv = plan.levels[li]
        written = np.zeros(plan.n_neurons - n_in, bool)  # rows of d_ga holding a value
        d_out = self._output_change(lv, t)
        # Entries of parameters above level li are the Hessian's symmetric ones, computed with
        # their own columns: the backward pass stops at level li (see hessian_columns).
        result = np.full((plan.n_parameters, k), np.nan)
        biases = np.full((plan.n_neurons, k), np.nan)
        for i in range(len(plan.levels) - 1, li - 1, -1):
            lv, w = plan.levels[i], self.params.weights[i]
            r0, r1 = lv.start - n_in, lv.stop - n_in
            if not written[r0:r1].all():  # no later level reads these rows
                d_ga[r0 + np.flatnonzero(~written[r0:r1])] = 0.0
            dl = d_dl[r0:r1]
            np.multiply(d_ga[r0:r1], self.slope[lv.start: lv.stop, None], out=dl)
            self._curve_term(i, li, dl, t)
            out = plan.output_rows
            if lv.has_outputs:  # an output's delta is the loss's dL/dz: its change is D t
                mine = (out >= lv.start) & (out < lv.stop)
                dl[out[mine] - lv.start] = d_out[mine]
            np.add.reduce(dl, axis=2, out=biases[lv.start: lv.stop])
            if lv.src_hi <= lv.src_lo:
                result[lv.edge_pos] = 0.0
                continue
            result[lv.edge_pos] = self._weight_entries(i, li, dl, u)[lv.rows, :, lv.cols]
            lo = max(lv.src_lo, plan.levels[li].start)  # rows from level li on: all read below
            if lv.src_hi > lo:
                self._pass_back(w[:, lo - lv.src_lo:].T, dl, d_ga, written, lo - n_in,
                                lv.src_hi - n_in)
        result[len(plan.edge_ids):] = biases[plan.bias_rows]
        return result.T

    def _output_change(self, lv, t: np.ndarray) -> np.ndarray:
        """(2): d delta of the outputs, D t per sample; t of an output is zero above level li
        (lv) and in it but where a column moved it."""
        out, moved = self.plan.output_rows, self._moved
        t_out = t[out - self.plan.n_inputs]
        t_out[out < lv.stop] = 0.0
        for p in np.flatnonzero((moved.rows >= lv.start) & (moved.rows < lv.stop)):
            k_out = np.flatnonzero(out == moved.rows[p])
            if k_out.size:
                t_out[k_out[0], p] = moved.t[p]
        return np.einsum("sji,ips->jps", self.d_out, t_out)

    def _curve_term(self, i: int, li: int, dl: np.ndarray, t: np.ndarray) -> None:
        """(3)'s f''(z) t grad_a, where t is not zero: after level li, and in it the moved
        rows."""
        lv, n_in = self.plan.levels[i], self.plan.n_inputs
        if i > li:
            r0, r1 = lv.start - n_in, lv.stop - n_in
            dl += t[r0:r1] * (self.curve[lv.start: lv.stop] * self.grad_a[r0:r1])[:, None]
        elif i == li:
            rows = self._moved.rows
            points = np.arange(rows.size)
            dl[rows - lv.start, points] += self._moved.t * (self.curve[rows]
                                                            * self.grad_a[rows - n_in])

    def _weight_entries(self, i: int, li: int, dl: np.ndarray, u: np.ndarray) -> np.ndarray:
        """(4) for level i's weight matrix, (rows, k, sources): d delta a^T, plus delta u^T
        where sources move."""
        plan = self.plan
        lv = plan.levels[i]
        n, k, b = dl.shape
        gw = (dl.reshape(n * k, b) @ self.base.a[lv.src_lo: lv.src_hi].T).reshape(n, k, -1)
        if i <= li:
            return gw
        delta = self.delta[lv.start - plan.n_inputs: lv.stop - plan.n_inputs]
        lo = max(lv.src_lo, plan.levels[li].stop)
        if lv.src_hi > lo:
            moving = (delta @ u[lo - plan.n_inputs: lv.src_hi - plan.n_inputs].reshape(-1, b).T
                      ).reshape(n, -1, k)
            gw[:, :, lo - lv.src_lo:] += np.swapaxes(moving, 1, 2)
        reads = self._moved.read_by(lv)
        if reads is not None:  # column p's moved row r: delta u_r^T in source column r
            points, cols = reads
            gw[:, points, cols] += delta @ self._moved.u[points].T
        return gw

    def _pass_back(self, w_t: np.ndarray, dl: np.ndarray, d_ga: np.ndarray,
                   written: np.ndarray, lo: int, hi: int) -> None:
        """d_ga[lo:hi] += w_t dl, written straight in where those rows hold nothing."""
        n, k, b = dl.shape
        flat, target = dl.reshape(n, k * b), d_ga[lo:hi].reshape(hi - lo, k * b)
        # A level of one neuron passes back an outer product: a broadcast multiply, where
        # matmul with an inner dimension of 1 took 7x as long (2-12-12-1).
        product = np.multiply if n == 1 else np.matmul
        if not written[lo:hi].any():
            product(w_t, flat, out=target)
        else:
            d_ga[lo + np.flatnonzero(~written[lo:hi])] = 0.0
            target += product(w_t, flat)
        written[lo:hi] = True


def symmetric_fill(h: np.ndarray) -> np.ndarray:
    """A square block of columns from hessian_columns with its NaN entries taken from the
    symmetric ones, symmetrised: (H + H^T)/2."""
    h = np.where(np.isnan(h), h.T, h)
    return 0.5 * (h + h.T)
