"""Recurrent nets: the plan's levels run once per time step, and backpropagation through time.

A net with delayed edges (core.network) compiles like any other: its levels hold the
instantaneous edges, ordered by depth within one time step, and Plan.delayed holds the delayed
edges as one more weight block. Unrolled over T steps, step t is the feed-forward pass of
core.engine.backprop (run_levels: the same per-level code), with, added to the net input of
each delayed edge's target, weight * the source's output at step t - 1 (0 at the first step).
The unrolled net is a DAG of T copies, and backpropagation through time is ordinary
backpropagation on it (back_levels per step, last step first): each step's dL/da also
receives, through the delayed edges, W^T dL/dz of the step after it. A shared weight's gradient
is the sum over its copies, made at the end as one matrix product over every step's columns
(micrograd's +=, in one call).

Layout. Every array is (neurons x T*B), column t*B + b holding step t of sequence b: a step is
B adjacent columns, its pass arrays are views of them (core.engine.pass_arrays), and the
outputs of all steps are one (outputs x T*B) block that the loss reads in one call.

What must go step by step (_Schedule). Only the levels up to the last one holding a delayed
edge's source, or something that source depends on within a step, feed the next step; the
levels after them (in an Elman net, the output level) run once over all T*B columns after the
steps, and first, once, going back. A level of those early ones that reads only inputs (the
Elman net's hidden level) gets its product with the inputs for all steps at once; each step
then only adds what the delayed edges bring. So a step costs about what a hand-written RNN's
step costs, and a feed-forward net on sequences is one feed-forward pass over all columns.

The loss (training.sequence_loss): "every" is the mean over every valid (step, sequence) pair,
"last" over each sequence's last valid step. A mask (sequences x T, True where a step exists)
leaves padded steps out of the loss; padding sits at a sequence's end, after its valid steps,
so it never reaches them going forward, and having no loss it sends them no gradient.

Truncation (training.bptt_steps = k > 0): the steps are cut into windows of k from the first
(0..k-1, k..2k-1, ...). The state flows forward across a window's start; the gradient does not
flow back across it: each window's incoming state is taken as a constant, as frameworks train
with the state detached between chunks. The gradient is then exactly that of the loss with
the state entering each window held fixed (tests/core/test_recurrent.py computes it so).
k = 0 is full backpropagation through time, the loss's exact gradient.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from core.engine.backprop import Forward, back_levels, output_delta_rows, run_levels, slope
from core.engine.pass_arrays import PassArrays, sliced_pass_arrays
from core.engine.plan import Params, Plan
from core.losses import LOSSES, SEQUENCE_LOSSES, LossResult


@dataclass
class SequenceForward:
    """What the unrolled forward pass leaves for the backward pass and for inspection."""

    arrays: PassArrays  # (neurons x T*B): column t*B + b is step t of sequence b
    whole: Forward  # the same, for the levels run over all steps at once
    steps: list[Forward]  # per step: views of its B columns, for the levels run step by step
    batch: int  # B sequences
    length: int  # T steps
    work: "_Work"  # the arrays and views above, and the backward pass's

    @property
    def z(self) -> np.ndarray:
        return self.arrays.z

    @property
    def a(self) -> np.ndarray:
        return self.arrays.a

    def outputs(self, plan: Plan) -> tuple[np.ndarray, np.ndarray]:
        """(z, a) of the output neurons, as (sequences x steps x outputs)."""
        rows = plan.output_rows if plan.output_slice is None else plan.output_slice
        shape = (-1, self.length, self.batch)
        return (self.z[rows].reshape(shape).transpose(2, 1, 0),
                self.a[rows].reshape(shape).transpose(2, 1, 0))


def sequence_forward(plan: Plan, params: Params, x: np.ndarray, dropout: float = 0.0,
                     rng: np.random.Generator | None = None, reuse: bool = False
                     ) -> SequenceForward:
    """Run a batch of sequences x (sequences x steps x inputs) through the net, step by step.
    dropout > 0 means training mode (a fresh mask at every step). reuse=True writes into the
    plan's work arrays (the next reuse call of that shape overwrites them)."""
    x = np.asarray(x, dtype=params.biases.dtype)
    if x.ndim != 3 or x.shape[2] != plan.n_inputs or x.shape[1] == 0:
        raise ValueError(f"expected sequences of shape (sequences, steps, {plan.n_inputs}) "
                         f"with at least one step, got {x.shape}")
    b, t, n_in = x.shape
    key = ("sequence", b, t, x.dtype)
    work = plan.buffer(key, lambda: _Work.make(plan, b, t, x.dtype)) if reuse else \
        _Work.make(plan, b, t, x.dtype)
    whole = work.whole
    whole.a[:n_in].reshape(n_in, t, b)[...] = x.transpose(2, 1, 0)  # every step's inputs
    if not reuse:
        whole.z[:n_in] = whole.a[:n_in]
    if dropout > 0.0 and rng is None:
        rng = np.random.default_rng()
    loop, preset = schedule(plan)
    inputs = whole.a[:n_in]
    for i in np.flatnonzero(preset):  # products with the inputs, every step at once
        lv, z = plan.levels[i], whole.levels[i].z
        if lv.src_hi > lv.src_lo:
            np.matmul(params.weights[i], inputs[lv.src_lo: lv.src_hi], out=z)
            z += params.biases[lv.start: lv.stop, None]
        else:
            z[:] = params.biases[lv.start: lv.stop, None]
    block = plan.delayed
    if loop:
        w_block, carried = params.weights[-1], work.carried
        for step in work.steps:
            if step.fwd.dropout_scale:  # what dropout left from the last call
                step.fwd.derivative.clear()
                step.fwd.dropout_scale.clear()
            # the delayed edges read the step before (nothing before the first)
            into = None if step.before is None else np.matmul(w_block, step.before, out=carried)
            run_levels(plan, params, step.inputs, step.fwd, dropout, rng, into, 0, loop, preset)
    work.at_once.derivative.clear()
    work.at_once.dropout_scale.clear()
    if loop < len(plan.levels):  # the levels no later step reads, over every step at once
        into = None
        if block is not None and block.src_hi > block.src_lo and t > 1:
            into = np.zeros((block.stop - block.start, t * b), x.dtype)
            np.matmul(params.weights[-1], whole.a[block.src_lo: block.src_hi, : -b],
                      out=into[:, b:])
        run_levels(plan, params, inputs, work.at_once, dropout, rng, into, loop)
    return SequenceForward(whole, work.at_once, [step.fwd for step in work.steps], b, t, work)


class _Step(NamedTuple):
    """One time step's views, cut once per batch shape (slicing them at every step of every
    training step was a tenth of an Elman net's step)."""

    fwd: Forward  # its columns of every pass array
    inputs: np.ndarray  # its inputs' rows
    before: np.ndarray | None  # the delayed edges' sources at the step before (None: first)
    into_sources: np.ndarray | None  # dL/da of the delayed edges' non-input sources
    from_targets: np.ndarray | None  # dL/dz of the delayed edges' targets


@dataclass
class _Work:
    """The arrays of a batch of sequences: all T*B columns, and each step's views of them."""

    whole: PassArrays
    at_once: Forward  # every column, for the levels run over all steps at once
    steps: list[_Step]
    carried: np.ndarray | None  # (delayed targets x B): what the delayed edges bring a step
    scratch: np.ndarray | None  # (delayed non-input sources x B), for the backward pass

    @classmethod
    def make(cls, plan: Plan, b: int, t: int, dtype: np.dtype) -> "_Work":
        n, n_in = plan.n_neurons, plan.n_inputs
        full = [np.empty((n, t * b), dtype), np.empty((n, t * b), dtype),
                *(np.empty((n - n_in, t * b), dtype) for _ in range(4))]
        whole = sliced_pass_arrays(plan, *full)
        z, a, grad_a, delta = full[:4]
        block = plan.delayed
        lo = n_in if block is None else max(block.src_lo, n_in)  # first non-input source
        back = block is not None and block.src_hi > lo
        steps = []
        for k in range(t):
            cols = slice(k * b, (k + 1) * b)
            arrays = sliced_pass_arrays(plan, *(arr[:, cols] for arr in full))
            steps.append(_Step(
                Forward(arrays.z, arrays.a, arrays.a[:n_in].T, arrays), arrays.a[:n_in],
                a[block.src_lo: block.src_hi, (k - 1) * b: k * b]
                if block is not None and k and block.src_hi > block.src_lo else None,
                grad_a[lo - n_in: block.src_hi - n_in, cols] if back else None,
                delta[block.start - n_in: block.stop - n_in, cols] if back else None))
        return cls(whole, Forward(whole.z, whole.a, whole.a[:n_in].T, whole), steps,
                   None if block is None else np.empty((block.stop - block.start, b), dtype),
                   np.empty((block.src_hi - lo, b), dtype) if back else None)


class _Schedule(NamedTuple):
    loop: int  # levels [0, loop) run step by step; the others over every step at once
    preset: tuple[bool, ...]  # per level: its product with the inputs is made for all steps


def schedule(plan: Plan) -> _Schedule:
    """Which levels a later time step reads (module docstring), worked out once per plan: the
    rows delayed edges read and, within a step, the rows those depend on."""
    def make() -> _Schedule:
        block, n_in = plan.delayed, plan.n_inputs
        needed = set() if block is None else \
            {int(r) for r in block.cols + block.src_lo if r >= n_in}
        loop = 0
        for i in range(len(plan.levels) - 1, -1, -1):
            lv = plan.levels[i]
            hit = [r for r in needed if lv.start <= r < lv.stop]
            if hit:
                loop = max(loop, i + 1)
                reads = np.isin(lv.rows + lv.start, hit)
                needed.update(int(r) for r in lv.cols[reads] + lv.src_lo if r >= n_in)
        return _Schedule(loop, tuple(i < loop and lv.inputs_only
                                     for i, lv in enumerate(plan.levels)))
    return plan.buffer(("recurrent schedule",), make)


def loss_columns(mask: np.ndarray | None, b: int, t: int, sequence_loss: str
                 ) -> np.ndarray | None:
    """The columns (t*B + b) whose outputs the loss reads; None: every one."""
    if sequence_loss not in SEQUENCE_LOSSES:
        raise ValueError(f"unknown sequence loss {sequence_loss!r}; use one of "
                         f"{', '.join(SEQUENCE_LOSSES)}")
    if mask is not None:
        mask = np.asarray(mask, dtype=bool)
        if mask.shape != (b, t):
            raise ValueError(f"expected a mask of shape {(b, t)}, got {mask.shape}")
        if mask.all():
            mask = None
    if sequence_loss == "every":
        return None if mask is None else np.flatnonzero(mask.T.ravel())
    if mask is None:
        return np.arange((t - 1) * b, t * b)
    present = np.flatnonzero(mask.any(axis=1))  # a sequence without steps has no last one
    last = t - 1 - np.argmax(mask[present, ::-1], axis=1)
    return last * b + present


def sequence_loss_result(plan: Plan, sfwd: SequenceForward, y: np.ndarray,
                         mask: np.ndarray | None, loss: str, sequence_loss: str = "every"
                         ) -> tuple[LossResult, np.ndarray | None]:
    """The loss (LOSSES[loss] over the columns loss_columns picks) and those columns."""
    b, t, n_out = sfwd.batch, sfwd.length, len(plan.output_rows)
    y = np.asarray(y, dtype=sfwd.a.dtype)
    if y.shape != (b, t, n_out):
        raise ValueError(f"expected targets of shape {(b, t, n_out)}, got {y.shape}")
    cols = loss_columns(mask, b, t, sequence_loss)
    if cols is not None and cols.size == 0:
        raise ValueError("no sequence has a time step to learn from (every step is masked)")
    return LOSSES[loss].compute(*loss_rows(plan, sfwd, y, cols)), cols


def loss_rows(plan: Plan, sfwd: SequenceForward, y: np.ndarray, cols: np.ndarray | None
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(z, a, y) of the outputs at the columns the loss reads, one row per (step, sequence)."""
    rows = plan.output_rows if plan.output_slice is None else plan.output_slice
    z_out, a_out = sfwd.z[rows], sfwd.a[rows]
    y_cols = np.asarray(y, dtype=sfwd.a.dtype).transpose(2, 1, 0).reshape(len(z_out), -1)
    if cols is not None:
        z_out, a_out, y_cols = z_out[:, cols], a_out[:, cols], y_cols[:, cols]
    return z_out.T, a_out.T, y_cols.T


def sequence_backward(plan: Plan, params: Params, sfwd: SequenceForward, result: LossResult,
                      cols: np.ndarray | None, bptt_steps: int = 0,
                      into: Params | None = None) -> Params:
    """dL/dW (every block) and dL/db, through time: full, or truncated to windows of
    bptt_steps (module docstring). Written into `into` when given."""
    b, t, n_in = sfwd.batch, sfwd.length, plan.n_inputs
    whole = sfwd.arrays
    whole.grad_a.fill(0.0)
    whole.delta.fill(0.0)
    seed = whole.delta if result.wrt_net else whole.grad_a
    out = output_delta_rows(plan)
    if cols is None:
        seed[out] = result.grad.T
    else:
        rows = np.arange(out.start, out.stop) if isinstance(out, slice) else out
        seed[np.ix_(rows, cols)] = result.grad.T
    loop = schedule(plan).loop
    # The levels no later step reads first, every step at once: what reaches them comes
    # from the loss and from each other only.
    back_levels(plan, params, sfwd.whole, result.wrt_net, None, loop)
    block = plan.delayed
    passes = block is not None and block.src_hi > max(block.src_lo, n_in) and t > 1
    if passes:
        lo = max(block.src_lo, n_in)  # the delayed edges' first non-input source
        w_back = params.weights[-1][:, lo - block.src_lo:].T  # (non-input sources x targets)
    steps, scratch = sfwd.work.steps, sfwd.work.scratch
    for i in range(loop):  # f'(z) of the stepped levels, every step at once, not each step's
        if not sfwd.work.whole.levels[i].unit_slope or result.wrt_net:
            slope(sfwd.work.whole.levels[i])  # (a level with dropout keeps its own: unused)
    for k in range(t - 1, -1, -1) if loop else ():
        step = steps[k]
        if passes and k + 1 < t and not (bptt_steps and (k + 1) % bptt_steps == 0):
            # dL/da at step k through the delayed edges into step k + 1
            into_sources = step.into_sources
            into_sources += np.matmul(w_back, steps[k + 1].from_targets, out=scratch)
        back_levels(plan, params, step.fwd, result.wrt_net, None, 0, loop, True)
    return _gradients(plan, params, whole, b, t, into)


def _gradients(plan: Plan, params: Params, whole: PassArrays, b: int, t: int,
               into: Params | None) -> Params:
    """Every weight's and bias's gradient summed over the steps: one product per block over
    all T*B columns (the delayed block pairs step t's dL/dz with step t - 1's outputs)."""
    n_in = plan.n_inputs
    grads = into if into is not None else Params(
        [np.empty(lv.shape, params.biases.dtype) for lv in plan.blocks],
        np.empty_like(params.biases))
    grads.biases[:n_in] = 0.0
    delta, a = whole.delta, whole.a
    for i, lv in enumerate(plan.levels):
        dl = delta[lv.start - n_in: lv.stop - n_in]
        np.add.reduce(dl, axis=1, out=grads.biases[lv.start: lv.stop])
        if lv.src_hi > lv.src_lo:
            np.matmul(dl, a[lv.src_lo: lv.src_hi].T, out=grads.weights[i])
        else:
            grads.weights[i].fill(0.0)
    block = plan.delayed
    if block is not None:
        if t > 1:
            np.matmul(delta[block.start - n_in: block.stop - n_in, b:],
                      a[block.src_lo: block.src_hi, : -b].T, out=grads.weights[-1])
        else:
            grads.weights[-1].fill(0.0)
    return grads


def sequence_loss_and_gradients(plan: Plan, params: Params, x: np.ndarray, y: np.ndarray,
                                mask: np.ndarray | None, loss: str, sequence_loss: str = "every",
                                bptt_steps: int = 0, dropout: float = 0.0,
                                rng: np.random.Generator | None = None,
                                out: Params | None = None) -> tuple[float, Params]:
    """The loss on a batch of sequences and its gradient for every parameter (into `out` when
    given); read per-edge values with Plan.edge_vector, as for core.engine.loss_and_gradients."""
    sfwd = sequence_forward(plan, params, x, dropout, rng, reuse=True)
    result, cols = sequence_loss_result(plan, sfwd, y, mask, loss, sequence_loss)
    return result.value, sequence_backward(plan, params, sfwd, result, cols, bptt_steps, out)


def sequence_loss(plan: Plan, params: Params, x: np.ndarray, y: np.ndarray,
                  mask: np.ndarray | None, loss: str, sequence_loss: str = "every") -> float:
    """The loss alone, by the forward pass alone (finite differences, evaluation)."""
    sfwd = sequence_forward(plan, params, x)
    return sequence_loss_result(plan, sfwd, y, mask, loss, sequence_loss)[0].value


def sequence_predict(plan: Plan, params: Params, x: np.ndarray) -> np.ndarray:
    """The output neurons' activations, (sequences x steps x outputs), no dropout."""
    return sequence_forward(plan, params, x).outputs(plan)[1]
