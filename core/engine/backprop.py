"""Forward and backward passes on exactly the graph drawn, vectorised over a minibatch.

The backward pass is micrograd's idea in matrix form: walk the levels in reverse, each
neuron's delta = f'(z) * sum over outgoing edges of w * delta_target, accumulated with +=
so a neuron with several outgoing edges (skip connections) sums every path. Plain layered
nets take core.engine.layered's fast path, held to this one by the tests.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from core.activations import ACTIVATIONS
from core.engine.layered import chain_loss_and_gradients
from core.engine.pass_arrays import LevelRows, PassArrays, pass_arrays, reused_pass_arrays
from core.engine.plan import Level, Params, Plan
from core.losses import LOSSES, LossResult
from core.network import Network


@dataclass
class Forward:
    """What the forward pass leaves for the backward pass and for inspection."""

    z: np.ndarray  # (neurons x samples) net inputs
    a: np.ndarray  # (neurons x samples) activations (after dropout)
    x: np.ndarray  # (samples x inputs): levels that read only inputs read it directly
    arrays: PassArrays  # z, a, and the arrays the backward pass writes, sliced per level
    derivative: dict[int, np.ndarray] = field(default_factory=dict)  # level -> f'(z), dropout only
    dropout_scale: dict[int, np.ndarray] = field(default_factory=dict)  # level -> mask / keep

    def outputs(self, plan: Plan) -> tuple[np.ndarray, np.ndarray]:
        """(z, a) of the output neurons, as (samples x outputs)."""
        rows = plan.output_rows if plan.output_slice is None else plan.output_slice
        return self.z[rows].T, self.a[rows].T


def forward(plan: Plan, params: Params, x: np.ndarray, dropout: float = 0.0,
            rng: np.random.Generator | None = None, reuse: bool = False) -> Forward:
    """Run the batch x (samples x inputs) through the net. dropout > 0 means training mode.

    reuse=True writes into the plan's work buffers (the next reuse call overwrites them), and
    leaves z of the input rows unset; only for callers that consume the result at once.
    """
    x = np.asarray(x, dtype=params.biases.dtype)
    if x.ndim != 2 or x.shape[1] != plan.n_inputs:
        raise ValueError(f"expected inputs of shape (samples, {plan.n_inputs}), got {x.shape}")
    if reuse:
        arrays = reused_pass_arrays(plan, x.shape[0], x.dtype)
        if plan.inputs_in_buffer:
            arrays.a[: plan.n_inputs] = x.T
    else:
        arrays = pass_arrays(plan, x.shape[0], x.dtype)
        arrays.z[: plan.n_inputs] = x.T
        arrays.a[: plan.n_inputs] = x.T
    fwd = Forward(arrays.z, arrays.a, x, arrays)
    run_levels(plan, params, x.T, fwd, dropout, rng)
    return fwd


def run_levels(plan: Plan, params: Params, x_t: np.ndarray, fwd: Forward, dropout: float = 0.0,
               rng: np.random.Generator | None = None, carried: np.ndarray | None = None,
               first: int = 0, stop: int | None = None,
               preset: tuple[bool, ...] | None = None) -> None:
    """The levels first..stop-1 (all by default) in order, into fwd's arrays, from the inputs
    x_t (inputs x samples). For a recurrent net (core.engine.recurrent): carried is the
    delayed edges' contribution to the net inputs of Plan.delayed's rows, added to each
    level's rows of it before its activation; preset[i] says level i's net inputs already
    hold its product and bias (made for every time step at once)."""
    overlaps = carried_rows(plan) if carried is not None else None
    levels, weights, arrays = plan.levels, params.weights, fwd.arrays.levels
    if first or stop is not None:  # (a feed-forward pass takes them whole, uncopied)
        levels, weights, arrays = levels[first:stop], weights[first:stop], arrays[first:stop]
    for i, (lv, w, rows) in enumerate(zip(levels, weights, arrays), first):
        zl = rows.z
        if preset is not None and preset[i]:
            pass
        elif lv.src_hi > lv.src_lo:
            np.matmul(w, x_t[lv.src_lo: lv.src_hi] if rows.src is None else rows.src, out=zl)
            zl += params.biases[lv.start: lv.stop, None]
        else:
            zl[:] = params.biases[lv.start: lv.stop, None]
        if overlaps is not None and overlaps[i] is not None:
            z0, z1, c0, c1 = overlaps[i]
            zl[z0:z1] += carried[c0:c1]
        for g in rows.groups:
            # f(z) by the entry's in-place form on a copy of z where it has one (the same
            # numbers: tests/core/test_engine.py), so no new array
            if g.act.inplace is None:
                g.a[...] = g.act.f(g.z)
            else:
                g.a[...] = g.z
                g.act.inplace(g.a)
        if dropout > 0.0 and lv.hidden_rows.size:
            _apply_dropout(fwd, i, lv, dropout, rng or np.random.default_rng())


def carried_rows(plan: Plan) -> tuple[tuple[int, int, int, int] | None, ...]:
    """Per level, where the delayed block's rows meet it: (its rows z0:z1, relative to the
    level, take the block's rows c0:c1), or None where they do not. Worked out once per plan."""
    def make() -> tuple:
        block, out = plan.delayed, []
        for lv in plan.levels:
            lo, hi = max(lv.start, block.start), min(lv.stop, block.stop)
            out.append((lo - lv.start, hi - lv.start, lo - block.start, hi - block.start)
                       if lo < hi else None)
        return tuple(out)
    return plan.buffer(("carried rows",), make)


def _apply_dropout(fwd: Forward, i: int, lv: Level, p: float, rng: np.random.Generator) -> None:
    """Inverted dropout on the level's hidden neurons; f'(z) is kept from before the mask."""
    fwd.derivative[i] = _derivative(lv, fwd.z, fwd.a)
    scale = np.ones((lv.stop - lv.start, fwd.a.shape[1]), fwd.a.dtype)
    scale[lv.hidden_rows] = (rng.random((lv.hidden_rows.size, fwd.a.shape[1])) >= p) / (1.0 - p)
    fwd.dropout_scale[i] = scale
    fwd.a[lv.start: lv.stop] *= scale


def _derivative(lv: Level, z: np.ndarray, a: np.ndarray) -> np.ndarray:
    if len(lv.groups) == 1:
        return ACTIVATIONS[lv.groups[0][0]].df(z[lv.start: lv.stop], a[lv.start: lv.stop])
    out = np.empty_like(z[lv.start: lv.stop])
    for name, g0, g1 in lv.groups:
        out[g0 - lv.start: g1 - lv.start] = ACTIVATIONS[name].df(z[g0:g1], a[g0:g1])
    return out


def slope(rows: LevelRows) -> np.ndarray:
    """f'(z) of the level's rows into its slope rows, by the entries' from_output_into forms
    where they have one (the same numbers as df: tests/core/test_engine.py)."""
    for g in rows.groups:
        if g.act.from_output_into is not None:
            g.act.from_output_into(g.a, g.slope)
        else:
            g.slope[...] = g.act.df(g.z, g.a)
    return rows.slope


@dataclass
class Backward:
    grads: Params  # dL/dW per level and dL/db per row, same layout as Params
    delta: np.ndarray  # (non-input neurons x samples): dL/dz, rows offset by n_inputs
    grad_a: np.ndarray  # (non-input neurons x samples): dL/da


def loss_and_output_grad(plan: Plan, fwd: Forward, y: np.ndarray, loss: str,
                         reuse: bool = False) -> LossResult:
    """The loss and its gradient at the outputs; reuse=True: the loss's in-place form into
    the plan's work arrays (its gradient valid until the next reuse call)."""
    z_out, a_out = fwd.outputs(plan)
    y = np.asarray(y, dtype=a_out.dtype)
    if y.shape != a_out.shape:
        raise ValueError(f"expected targets of shape {a_out.shape}, got {y.shape}")
    if reuse:
        return LOSSES[loss].compute_reusing(z_out, a_out, y, plan.buffer)
    return LOSSES[loss].compute(z_out, a_out, y)


def backward(plan: Plan, params: Params, fwd: Forward, result: LossResult,
             into: Params | None = None) -> Backward:
    """dL/dW and dL/db for every parameter, from the loss gradient at the outputs (written
    into `into`, arrays of the parameters' shapes, when given). dL/da and dL/dz go into the
    forward pass's arrays (the plan's, when the forward pass reused them)."""
    n_in = plan.n_inputs
    grad_a, delta = fwd.arrays.grad_a, fwd.arrays.delta
    grad_a.fill(0.0)
    delta.fill(0.0)
    out = output_delta_rows(plan)
    if result.wrt_net:
        delta[out] = result.grad.T
    else:
        grad_a[out] = result.grad.T
    grads = Params([np.empty(lv.shape, params.biases.dtype) for lv in plan.levels],
                   np.empty_like(params.biases)) if into is None else into
    grads.biases[:n_in] = 0.0  # inputs have none; every level writes its own rows below
    back_levels(plan, params, fwd, result.wrt_net, grads)
    return Backward(grads, delta, grad_a)


def output_delta_rows(plan: Plan) -> slice | np.ndarray:
    """The output neurons' rows in the (non-input neurons x samples) arrays dL/da and dL/dz."""
    n_in = plan.n_inputs
    return plan.output_rows - n_in if plan.output_slice is None else \
        slice(plan.output_slice.start - n_in, plan.output_slice.stop - n_in)


def back_levels(plan: Plan, params: Params, fwd: Forward, wrt_net: bool,
                grads: Params | None, first: int = 0, stop: int | None = None,
                slopes_ready: bool = False) -> None:
    """The levels stop-1 down to first (all by default), from dL/da in fwd's arrays (and,
    when wrt_net, the loss's dL/dz of the outputs in its delta rows): each level's dL/dz,
    passed back along the edges into the dL/da of the rows it reads; and into grads, each
    level's weight and bias gradients (None: a recurrent net's, whose gradients are summed
    over all time steps at once afterwards). slopes_ready: f'(z) is in the slope rows
    already (a recurrent net's, made for every step at once)."""
    grads_b = None if grads is None else grads.biases
    for i in range((len(plan.levels) if stop is None else stop) - 1, first - 1, -1):
        lv, w, rows = plan.levels[i], params.weights[i], fwd.arrays.levels[i]
        ga, dl = rows.grad_a, rows.delta
        if i in fwd.dropout_scale:
            ga *= fwd.dropout_scale[i]
            d_local = fwd.derivative[i]
        elif rows.unit_slope and not wrt_net:
            d_local = None  # f' = 1: delta is dL/da itself
            dl[...] = ga
        else:
            d_local = rows.slope if slopes_ready else slope(rows)
        if d_local is None:
            pass
        elif lv.has_outputs and wrt_net:
            # Output rows already hold dL/dz from the loss; what reaches their outputs (only
            # a recurrent net's delayed edges read an output) adds to it.
            dl += np.multiply(ga, d_local, out=rows.product)
        else:
            np.multiply(ga, d_local, out=dl)
        if grads_b is not None:
            np.add.reduce(dl, axis=1, out=grads_b[lv.start: lv.stop])  # dl.sum(axis=1)
        if lv.src_hi > lv.src_lo:
            if grads_b is not None:
                np.matmul(dl, fwd.x[:, lv.src_lo: lv.src_hi] if rows.src is None else
                          rows.src.T, out=grads.weights[i])
            back = rows.back  # dL/da of the non-input rows it reads
            if back is not None:
                back += np.matmul(w[:, rows.back_from:].T, dl, out=rows.back_product)
        elif grads_b is not None:
            grads.weights[i].fill(0.0)


def mask_frozen(plan: Plan, grads: Params) -> None:
    """Zero the gradient of frozen weights, frozen biases and absent edges, in place."""
    if plan.nothing_masked:
        return
    for lv, g in zip(plan.blocks, grads.weights):
        if lv.trainable is not None:
            g *= lv.trainable
    if not plan.biases_all_trainable:
        grads.biases *= plan.bias_trainable


def loss_and_gradients(plan: Plan, params: Params, x: np.ndarray, y: np.ndarray, loss: str,
                       dropout: float = 0.0, rng: np.random.Generator | None = None,
                       out: Params | None = None) -> tuple[float, Params]:
    """The loss on a batch and its exact gradient for every parameter (written into `out`,
    arrays of the parameters' shapes, when given: the trainer reuses its buffers).

    Entries of the weight matrices where the graph has no edge hold meaningless values: read
    per-edge gradients with Plan.edge_vector, or call mask_frozen before an update.
    """
    if plan.chain and dropout == 0.0:
        return chain_loss_and_gradients(plan, params, x, y, loss, out)
    if plan.delayed is not None:
        raise ValueError("a recurrent net learns from sequences: "
                         "core.engine.recurrent.sequence_loss_and_gradients")
    fwd = forward(plan, params, x, dropout, rng, reuse=True)
    result = loss_and_output_grad(plan, fwd, y, loss, reuse=True)
    return result.value, backward(plan, params, fwd, result, into=out).grads


def predict(plan: Plan, params: Params, x: np.ndarray) -> np.ndarray:
    """The output neurons' activations (samples x outputs), no dropout."""
    return forward(plan, params, x).outputs(plan)[1]


def check_loss(plan: Plan, net: Network, loss: str) -> str | None:
    """Why this loss cannot be used with this network's outputs, or None."""
    if loss not in LOSSES:
        return f"unknown loss {loss!r}; use one of {', '.join(LOSSES)}"
    need = LOSSES[loss].needs_activation
    if need:
        wrong = [n for n in net.outputs if n.activation != need]
        if wrong:
            names = ", ".join(f"{n.name} ({n.activation})" for n in wrong)
            return f"{LOSSES[loss].title} needs {need} outputs; these are not: {names}"
    if len(net.outputs) < LOSSES[loss].min_outputs:
        return LOSSES[loss].too_few_outputs
    return None


@dataclass(frozen=True)
class NeuronValues:
    """One neuron for one sample: what the step-through view and hover texts show."""

    net_input: float  # z = sum of w * x + b (for an input: its value)
    activation: float  # a = f(z)
    derivative: float  # f'(z)
    delta: float  # dL/dz (0 for inputs)


def inspect_sample(plan: Plan, params: Params, x: np.ndarray, y: np.ndarray, loss: str
                   ) -> tuple[float, dict[str, NeuronValues], dict[str, float]]:
    """Loss, every neuron's values and every edge's dL/dw for one sample x (and target y)."""
    x = np.asarray(x, dtype=params.biases.dtype).reshape(1, -1)
    fwd = forward(plan, params, x)
    result = loss_and_output_grad(plan, fwd, np.asarray(y, dtype=x.dtype).reshape(1, -1), loss)
    back = backward(plan, params, fwd, result)
    derivative = np.ones(plan.n_neurons)
    for lv in plan.levels:
        derivative[lv.start: lv.stop] = _derivative(lv, fwd.z, fwd.a)[:, 0]
    neurons = {}
    for row, nid in enumerate(plan.order):
        delta = 0.0 if row < plan.n_inputs else float(back.delta[row - plan.n_inputs, 0])
        neurons[nid] = NeuronValues(float(fwd.z[row, 0]), float(fwd.a[row, 0]),
                                    float(derivative[row]), delta)
    edge_grads = dict(zip(plan.edge_ids, plan.edge_vector(back.grads.weights).tolist()))
    return result.value, neurons, edge_grads
