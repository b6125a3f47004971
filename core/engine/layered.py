"""The fast path for plain layered nets (each level reads exactly the level before, one
activation per level, no dropout): the engine's numbers with the per-call bookkeeping of a
hand-written MLP, so that tiny nets, where a step takes microseconds, are not slowed by the
generic skip-connection machinery. core.engine.loss_and_gradients chooses it; the tests hold
it to the general path."""
from __future__ import annotations

import numpy as np

from core.activations import ACTIVATIONS, Activation
from core.engine.plan import Params, Plan
from core.losses import LOSSES


def chain_loss_and_gradients(plan: Plan, params: Params, x: np.ndarray, y: np.ndarray,
                              loss: str, out: Params | None = None) -> tuple[float, Params]:
    """Forward and backward for a plain layered net with one activation per level: the same
    numbers as the general path, with the per-call bookkeeping of a hand-written MLP.

    Hidden levels with an in-place activation keep only their outputs (their derivatives are
    written in terms of the output); the output level keeps z for the stable losses. `out`:
    arrays of the parameters' shapes to write the gradients into (the trainer's buffers).
    """
    x = np.asarray(x, dtype=params.biases.dtype)
    b = params.biases
    last = len(plan.levels) - 1
    work = _level_buffers(plan, x.shape[0], x.dtype)
    levels = _chain_levels(plan)
    acts, nets = [x.T], []
    for i, (w, (start, stop, act, output_only)) in enumerate(zip(params.weights, levels)):
        z = np.matmul(w, acts[-1], out=work[i][0])
        z += b[start: stop, None]
        if i == last and act.unit_slope and act.inplace is not None:
            nets.append(z)  # identity outputs: a is z itself (losses only read them)
            acts.append(act.inplace(z))
        elif i == last and act.inplace is not None:
            nets.append(z)  # kept for the stable losses; a in a buffer of its own
            np.copyto(work[i][1], z)
            acts.append(act.inplace(work[i][1]))
        elif output_only:
            nets.append(None)
            acts.append(act.inplace(z))
        else:
            nets.append(z)
            acts.append(act.f(z))
    result = LOSSES[loss].compute_reusing(nets[-1].T, acts[-1].T, np.asarray(y, dtype=x.dtype),
                                          plan.buffer)
    grads = Params([np.empty(lv.shape, b.dtype) for lv in plan.levels], np.empty_like(b)) \
        if out is None else out
    grads.biases[: plan.n_inputs] = 0.0
    grad = result.grad.T
    for i in range(last, -1, -1):
        start, stop, act, output_only = levels[i]
        if act.unit_slope or (i == last and result.wrt_net):
            delta = grad  # dL/dz already
        elif act.from_output_into is not None and (output_only or i == last):
            # f' grad, the same product as grad f', in a C-ordered array as that product is
            # (grad at the outputs is the loss gradient transposed): the same sums after
            delta = act.from_output_into(acts[i + 1], work[i][2 if i == last else 1])
            delta *= grad
        elif output_only:
            delta = grad * act.from_output(acts[i + 1])
        else:
            delta = grad * act.df(nets[i], acts[i + 1])
        # np.sum's own reduction, without its Python wrapper (a microsecond a level)
        np.add.reduce(delta, axis=1, out=grads.biases[start: stop])
        np.matmul(delta, x if i == 0 else acts[i].T, out=grads.weights[i])
        if i:
            grad = np.matmul(params.weights[i].T, delta, out=work[i - 1][2])
    return result.value, grads


def _chain_levels(plan: Plan) -> tuple[tuple[int, int, Activation, bool], ...]:
    """Per level: its rows, its activation and whether it keeps only its output: the same at
    every step, so worked out once per plan."""
    return plan.buffer(("chain levels",), lambda: tuple(
        (lv.start, lv.stop, ACTIVATIONS[lv.groups[0][0]],
         k < len(plan.levels) - 1 and _keeps_output_only(ACTIVATIONS[lv.groups[0][0]]))
        for k, lv in enumerate(plan.levels)))


def _level_buffers(plan: Plan, b: int, dtype: np.dtype) -> tuple[tuple[np.ndarray, ...], ...]:
    """Per level (z then a in place, f' (the output level: a), dL/da (the output level: f'))
    for a batch of b: reused from step to step like Plan.work_buffers, since allocating them
    afresh was a third of a small net's step."""
    return plan.buffer(("chain", b, np.dtype(dtype).str), lambda: tuple(
        tuple(np.empty((lv.stop - lv.start, b), dtype) for _ in range(3)) for lv in plan.levels))


def _keeps_output_only(act: Activation) -> bool:
    """A hidden level may drop z when f works in place and f' needs only the output (or is
    1 everywhere, and skipped, as in the general path)."""
    return act.inplace is not None and (act.from_output is not None or act.unit_slope)
