"""Central differences of the gradient along single parameters,
g(theta + s e_c) - g(theta - s e_c), many columns c at once: the whole Hessian's columns
(core.curvature). The same levels, groups, activations and loss as core.engine.backprop's
forward and backward, with a leading axis over the moved points; held to loss_and_gradients
by the tests.

Why not two plain gradients per column (the first version: 0.36-0.58 s for a 205-parameter
tanh net on 1,000 samples, tanh most of it):
- Moving one parameter changes nothing upstream of it, and in its own level only the net
  input of the neuron it feeds (z_r + s a_src for a weight, z_r + s for a bias). The forward
  pass and every f'(z) are computed once at theta; a moved point recomputes that one neuron
  and the levels after it.
- Below the moved level the backward pass is linear in dL/dz of that level (theta's
  weights and slopes, a moved weight's own term aside), so from there on it carries the
  difference of the two signs, not both.
- Buffers are reused from chunk to chunk: fresh multi-megabyte temporaries cost more in page
  faults than the arithmetic.
"""
from __future__ import annotations

from typing import Iterator

import numpy as np

from core.activations import ACTIVATIONS
from core.engine.backprop import forward
from core.engine.plan import Level, Params, Plan
from core.losses import LOSSES

CHUNK_BYTES = 2**24  # the (points x neurons x samples) buffers of one chunk
MAX_CHUNK = 32  # columns per chunk (twice as many points)


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


def central_differences(plan: Plan, params: Params, x: np.ndarray, y: np.ndarray, loss: str,
                        columns: np.ndarray, steps: np.ndarray
                        ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """g(theta + s_i e_c_i) - g(theta - s_i e_c_i) for every i, c_i = columns[i] and
    s_i = steps[i], g the gradient of the data loss in Plan.flatten order. Yields chunks
    (positions i, differences as rows), in an order of its own (grouped by level)."""
    columns, steps = np.asarray(columns, np.intp), np.asarray(steps, np.float64)
    differences = CentralDifferences(plan, params, x, y, loss)
    levels = differences.where.level[columns]
    for li in np.unique(levels):
        todo = np.flatnonzero(levels == li)
        for s in range(0, todo.size, differences.size):
            pos = todo[s: s + differences.size]
            yield pos, differences.columns(int(li), columns[pos], steps[pos])


class CentralDifferences:
    """g(theta + s e_c) - g(theta - s e_c) for a chunk of columns c of one level at a time;
    theta's forward pass and slopes computed once."""

    def __init__(self, plan: Plan, params: Params, x: np.ndarray, y: np.ndarray,
                 loss: str) -> None:
        self.plan, self.params, self.loss = plan, params, loss
        self.y = np.ascontiguousarray(y, np.float64)
        self.base = forward(plan, params, np.ascontiguousarray(x, np.float64))
        self.base_slope = [_derivative(lv, self.base.z, self.base.a) for lv in plan.levels]
        self.where = OneParameterMoves(plan)
        n, b = plan.n_neurons, self.base.a.shape[1]
        self.size = int(np.clip(CHUNK_BYTES // (10 * n * max(b, 1) * 8), 1, MAX_CHUNK))
        points, hidden = 2 * self.size, n - plan.n_inputs
        self.nets, self.acts = np.empty((points, n, b)), np.empty((points, n, b))
        self.grad_a, self.delta = (np.empty((points, hidden, b)) for _ in range(2))
        self.scratch = np.empty((points, max(n, 1), b))

    def columns(self, li: int, columns: np.ndarray, steps: np.ndarray) -> np.ndarray:
        """(columns x parameters): the differences for columns all of level li."""
        k = len(columns)
        # Both signs in one pass: the first half of the points moves up, the second down.
        columns, offsets = np.concatenate([columns, columns]), np.concatenate([steps, -steps])
        nets, acts = self._forward(li, columns, offsets)
        b = self.base.a.shape[1]
        rows = self.plan.output_rows if self.plan.output_slice is None else \
            self.plan.output_slice
        z_out = nets[:, rows].transpose(0, 2, 1).reshape(2 * k * b, -1)
        a_out = acts[:, rows].transpose(0, 2, 1).reshape(2 * k * b, -1)
        result = LOSSES[self.loss].compute(z_out, a_out, np.tile(self.y, (2 * k, 1)))
        # Every loss is a mean over samples (core.losses): over 2k stacked copies of the
        # batch each copy's share of the gradient is 1/2k of its own.
        out_grad = (2 * k * result.grad).reshape(2 * k, b, -1).transpose(0, 2, 1)
        return self._backward(nets, acts, out_grad, result.wrt_net, li, columns, offsets)

    def _first_row(self, li: int) -> int:
        """The lowest row the levels from li on (and the loss) read: rows below it are
        never read on the moved points, so theta's values are not copied there."""
        plan, lv = self.plan, self.plan.levels[li]
        lo = min([lv.start] + [later.src_lo for later in plan.levels[li + 1:]
                               if later.src_hi > later.src_lo])
        return min(lo, int(plan.output_rows.min()))

    def _forward(self, li: int, columns: np.ndarray, offsets: np.ndarray
                 ) -> tuple[np.ndarray, np.ndarray]:
        """(nets, acts), each (points x neurons x samples): theta's values where the levels
        from li on read them, the moved neuron of level li, every level after it
        recomputed."""
        plan, base, k = self.plan, self.base, len(columns)
        lv = plan.levels[li]
        nets, acts = self.nets[:k], self.acts[:k]
        lo = self._first_row(li)
        nets[:, lo: lv.stop] = base.z[lo: lv.stop]
        acts[:, lo: lv.stop] = base.a[lo: lv.stop]
        points = np.arange(k)
        rows, sources = self.where.row[columns], self.where.source[columns]
        weight = sources >= 0
        moved = np.broadcast_to(offsets[:, None], (k, nets.shape[2])).copy()
        moved[weight] *= base.a[sources[weight]]  # a weight moves z_r by s times its source
        nets[points, rows] += moved
        for name, g0, g1 in lv.groups:
            mine = (rows >= g0) & (rows < g1)
            if mine.any():
                acts[points[mine], rows[mine]] = ACTIVATIONS[name].f(
                    nets[points[mine], rows[mine]])
        for later, w in zip(plan.levels[li + 1:], self.params.weights[li + 1:]):
            z = nets[:, later.start: later.stop]
            if later.src_hi > later.src_lo:
                np.matmul(w, acts[:, later.src_lo: later.src_hi], out=z)
                z += self.params.biases[later.start: later.stop, None]
            else:
                z[:] = self.params.biases[later.start: later.stop, None]
            for name, g0, g1 in later.groups:
                _activate(ACTIVATIONS[name], nets[:, g0:g1], acts[:, g0:g1])
        return nets, acts

    def _backward(self, nets: np.ndarray, acts: np.ndarray, out_grad: np.ndarray,
                  wrt_net: bool, li: int, columns: np.ndarray, offsets: np.ndarray
                  ) -> np.ndarray:
        """backprop.backward with a leading axis over the 2k points down to level li, then
        over the k differences (the first half of the buffers), in Plan.flatten order."""
        plan, n_in = self.plan, self.plan.n_inputs
        m = len(columns)  # points carried: 2k, then k differences from level li down
        k = m // 2
        grad_a, delta = self.grad_a[:m], self.delta[:m]
        # Rows of grad_a that hold a value: the first contribution to a row is written, not
        # added to zeros (filling these buffers was a pass of its own over them).
        written = np.zeros(plan.n_neurons - n_in, bool)
        out = plan.output_rows - n_in
        if not wrt_net:
            grad_a[:, out] = out_grad
            written[out] = True
        result = np.empty((k, plan.n_parameters))
        biases = np.zeros((k, plan.n_neurons))
        for i in range(len(plan.levels) - 1, -1, -1):
            lv, w = plan.levels[i], self.params.weights[i]
            r0, r1 = lv.start - n_in, lv.stop - n_in
            if not written[r0:r1].all():  # no path to the loss from these rows: dL/da = 0
                grad_a[:, r0 + np.flatnonzero(~written[r0:r1])] = 0.0
            ga, dl = grad_a[:, r0:r1], delta[:, r0:r1]
            if i < li:  # linear from here: theta's slopes, on the differences
                np.multiply(ga, self.base_slope[i], out=dl)
            elif len(lv.groups) == 1 and ACTIVATIONS[lv.groups[0][0]].unit_slope \
                    and not wrt_net:
                np.copyto(dl, ga)
            else:
                self._delta(i, li, ga, dl, nets, acts, columns)
            if lv.has_outputs and wrt_net:
                # The loss gave dL/dz of the outputs, and nothing flows into them from later;
                # an output below li still feels the move through the loss (softmax).
                mine = (out >= r0) & (out < r1)
                given = out_grad[:, mine] if m > k else out_grad[:k, mine] - out_grad[k:, mine]
                dl[:, out[mine] - r0] = given
            if i == li:  # from here on, the differences of the two halves
                moved_back = self._moved_weight_back(dl, lv, columns, offsets, k)
                dl[:k] -= dl[k:]
                below = np.flatnonzero(written[:r0])
                grad_a[:k, below] -= grad_a[k:, below]
                m = k
                grad_a, delta, dl = grad_a[:k], delta[:k], dl[:k]
            sums = np.add.reduce(dl, axis=2)
            biases[:, lv.start: lv.stop] = sums if m == k else sums[:k] - sums[k:]
            if lv.src_hi <= lv.src_lo:
                result[:, lv.edge_pos] = 0.0
                continue
            # Sources of levels up to li hold theta's values.
            src = acts[:, lv.src_lo: lv.src_hi] if i > li else \
                self.base.a[lv.src_lo: lv.src_hi]
            gw = np.matmul(dl, np.swapaxes(src, -1, -2))[:, lv.rows, lv.cols]
            result[:, lv.edge_pos] = gw if m == k else gw[:k] - gw[k:]
            lo = max(lv.src_lo, n_in)
            if lv.src_hi > lo:
                self._pass_back(w[:, lo - lv.src_lo:].T, dl, grad_a, written, lo - n_in,
                                lv.src_hi - n_in)
            if i == li and moved_back is not None:
                points, sources, values = moved_back
                grad_a[points, sources - n_in] += values
        result[:, len(plan.edge_ids):] = biases[:, plan.bias_rows]
        return result

    def _delta(self, i: int, li: int, ga: np.ndarray, dl: np.ndarray, nets: np.ndarray,
               acts: np.ndarray, columns: np.ndarray) -> None:
        """dl = dL/da f'(z) for level i >= li: at li theta's f'(z) except in each point's
        moved row; recomputed above it."""
        lv = self.plan.levels[i]
        if i > li:
            slope = self.scratch[: len(columns), : lv.stop - lv.start]
            for name, g0, g1 in lv.groups:
                _slope_into(ACTIVATIONS[name], nets[:, g0:g1], acts[:, g0:g1],
                            slope[:, g0 - lv.start: g1 - lv.start])
            np.multiply(ga, slope, out=dl)
            return
        np.multiply(ga, self.base_slope[i], out=dl)
        points, moved = np.arange(len(columns)), self.where.row[columns]
        for name, g0, g1 in lv.groups:
            mine = (moved >= g0) & (moved < g1)
            if mine.any():
                p, r = points[mine], moved[mine]
                dl[p, r - lv.start] = ga[p, r - lv.start] * ACTIVATIONS[name].df(nets[p, r],
                                                                                 acts[p, r])

    def _pass_back(self, w_t: np.ndarray, dl: np.ndarray, grad_a: np.ndarray,
                   written: np.ndarray, lo: int, hi: int) -> None:
        """grad_a[:, lo:hi] += w_t dl, written straight in where those rows hold nothing."""
        # A level of one neuron passes back an outer product: a broadcast multiply, where
        # matmul with an inner dimension of 1 took 7x as long (2-12-12-1).
        product = np.multiply if w_t.shape[1] == 1 else np.matmul
        if not written[lo:hi].any():
            product(w_t, dl, out=grad_a[:, lo:hi])
        else:
            grad_a[:, lo + np.flatnonzero(~written[lo:hi])] = 0.0
            back = self.scratch[: len(dl), : hi - lo]
            product(w_t, dl, out=back)
            grad_a[:, lo:hi] += back
        written[lo:hi] = True

    def _moved_weight_back(self, dl: np.ndarray, lv: Level, columns: np.ndarray,
                           offsets: np.ndarray, k: int) -> tuple | None:
        """A moved weight w_rc + s passes s delta_r more back to its source c: in the
        difference of the two signs, s delta_r(+) - (-s) delta_r(-). Returns (points, source
        rows, values) for those with a source that is not an input, or None."""
        sources = self.where.source[columns[:k]]
        points = np.flatnonzero(sources >= self.plan.n_inputs)
        if not points.size:
            return None
        r = self.where.row[columns[points]] - lv.start
        return points, sources[points], offsets[points, None] * (dl[points, r] +
                                                                  dl[points + k, r])


def _derivative(lv: Level, z: np.ndarray, a: np.ndarray) -> np.ndarray:
    """f'(z) of the level's rows at one point (rows x samples)."""
    out = np.empty_like(z[lv.start: lv.stop])
    for name, g0, g1 in lv.groups:
        out[g0 - lv.start: g1 - lv.start] = ACTIVATIONS[name].df(z[g0:g1], a[g0:g1])
    return out


def _activate(act, z: np.ndarray, out: np.ndarray) -> None:
    """out = f(z), without a temporary where the registry has f in place."""
    if act.inplace is None:
        out[...] = act.f(z)
        return
    np.copyto(out, z)
    result = act.inplace(out)
    if result is not out:  # an in-place form that hands back its result elsewhere
        out[...] = result


def _slope_into(act, z: np.ndarray, a: np.ndarray, out: np.ndarray) -> None:
    """out = f'(z), without a temporary where the registry has f' from a into a buffer."""
    if act.from_output_into is None:
        out[...] = act.df(z, a)
    else:
        act.from_output_into(a, out)
