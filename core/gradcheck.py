"""Gradient check: backpropagation against central finite differences, in float64.

Every parameter (each edge weight, each non-input bias) is nudged in turn and the loss
re-evaluated by the forward pass alone, so the numeric side never runs the backward code it
is checking.

Kinks. Finite differences assume a smooth loss. They are wrong when a nudge moves a net input
across a kink: ReLU and leaky ReLU at z = 0 (the slope jumps), and, less visibly, ELU at z = 0
and Huber at |a - y| = 1 (the curvature jumps). A large error there is not a bug in
backpropagation. The nudges reach +-2 eps, so callers who need a clean verdict keep every such
net input further than about 2 eps * |dz/dparameter| from its kink (the tests check that no
nudge crosses one).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from core.engine import (Params, Plan, check_loss, compile_plan, forward, loss_and_gradients,
                         loss_and_output_grad)
from core.engine.recurrent import (SEQUENCE_LOSSES, sequence_loss, sequence_loss_and_gradients)
from core.errors import GradCheckCancelled, GradCheckError, UserError
from core.losses import LOSSES
from core.network import Network

# The step. With the five-point formula truncation error is ~eps^4 (1e-16 here) and rounding
# error ~1e-16 * loss / eps (1e-12). Measured on 150 random networks: worst relative error
# 1.5e-7, against 9e-6 for two-point differences with eps = 1e-6, which cannot pass a 1e-6 bar.
DEFAULT_EPS = 1e-4

# Relative error is |a - n| / max(|a| + |n|, FLOOR * max(1, |loss|)). The numeric estimate
# carries rounding noise of up to ~5e-11 * |loss| (measured), so without a floor a gradient that
# is truly 1e-12 (a saturated sigmoid upstream) would meet 1e-12 + noise and be called a large
# error. Below the floor gradients are compared absolutely: they must agree to 1e-11 (times the
# loss, if above 1) to pass 1e-6, which still catches any error that could matter to training.
FLOOR = 1e-5


Progress = Callable[[int, int], "bool | None"]  # (parameters done, total) -> False to cancel


@dataclass(frozen=True)
class GradCheckResult:
    max_relative_error: float
    worst_parameter: str  # a name from Plan.parameter_names()
    analytic: np.ndarray  # per parameter, in Plan.flatten order: backpropagation
    numeric: np.ndarray  # the same, from finite differences
    names: tuple[str, ...]  # Plan.parameter_names()
    relative_error: np.ndarray  # per parameter


def gradient_check(plan: Plan, params: Params, x: np.ndarray, y: np.ndarray, loss: str,
                   eps: float = DEFAULT_EPS, progress: Progress | None = None,
                   mask: np.ndarray | None = None, sequence_loss_kind: str | None = None
                   ) -> GradCheckResult:
    """Compare backprop with five-point central differences on every parameter.

    dL/dp ~ (L(p - 2h) - 8 L(p - h) + 8 L(p + h) - L(p + 2h)) / 12h with h = eps: four
    forward passes per parameter. See the module docstring about kinks.

    Sequences (x of shape (sequences, steps, inputs), which a recurrent net needs): the loss
    of training.sequence_loss (`sequence_loss_kind`, "every" by default) over the steps the
    mask keeps, and its gradient by full backpropagation through time (truncation computes
    another quantity, not this loss's gradient).

    progress(done, total) is called after each parameter (a 20,000-neuron net takes minutes);
    returning False cancels the check with GradCheckCancelled.
    """
    eps = _checked_step(eps)
    theta = _checked_theta(plan, params)
    if plan.recurrent or np.ndim(x) == 3:
        x, y, mask, kind = _checked_sequences(plan, x, y, loss, mask, sequence_loss_kind)
        value, grads = sequence_loss_and_gradients(plan, plan.unflatten(theta), x, y, mask,
                                                   loss, kind)

        def loss_of(p: Params) -> float:
            return sequence_loss(plan, p, x, y, mask, loss, kind)
    else:
        x, y = _checked_batch(plan, x, y, loss)
        value, grads = loss_and_gradients(plan, plan.unflatten(theta), x, y, loss)

        def loss_of(p: Params) -> float:
            return loss_and_output_grad(plan, forward(plan, p, x), y, loss).value
    analytic = np.concatenate([plan.edge_vector(grads.weights), grads.biases[plan.bias_rows]])
    numeric = np.empty_like(theta)

    def loss_at(k: int, offset: float) -> float:
        nudged = theta.copy()
        nudged[k] += offset
        return loss_of(plan.unflatten(nudged))

    for k in range(theta.size):
        numeric[k] = (loss_at(k, -2 * eps) - 8 * loss_at(k, -eps) + 8 * loss_at(k, eps)
                      - loss_at(k, 2 * eps)) / (12 * eps)
        if progress is not None and progress(k + 1, theta.size) is False:
            raise GradCheckCancelled(f"the gradient check was cancelled after {k + 1:,} of "
                                     f"{theta.size:,} parameters")
    floor = FLOOR * max(1.0, abs(value))
    rel = np.abs(analytic - numeric) / np.maximum(np.abs(analytic) + np.abs(numeric), floor)
    names = tuple(plan.parameter_names())  # never empty: every output neuron has a bias
    worst = int(np.argmax(rel))
    return GradCheckResult(float(rel[worst]), names[worst], analytic, numeric, names, rel)


def check_network(net: Network, x: np.ndarray, y: np.ndarray, loss: str,
                  eps: float = DEFAULT_EPS, progress: Progress | None = None,
                  mask: np.ndarray | None = None, sequence_loss_kind: str | None = None
                  ) -> GradCheckResult:
    """gradient_check on the document's current weights (compiles the network first)."""
    plan = compile_plan(net)  # NetworkError, with its own message, if it cannot run
    problem = check_loss(plan, net, loss)
    if problem:
        raise GradCheckError(problem)
    return gradient_check(plan, plan.pack(net), x, y, loss, eps, progress, mask,
                          sequence_loss_kind)


def _checked_step(eps: float) -> float:
    try:
        step = float(eps)
    except (TypeError, ValueError):
        step = float("nan")
    if isinstance(eps, bool) or not 0.0 < step < 1.0:  # NaN fails the comparison too
        raise GradCheckError(f"the finite-difference step must be between 0 and 1, not {eps!r}")
    return step


def _checked_batch(plan: Plan, x: np.ndarray, y: np.ndarray,
                   loss: str) -> tuple[np.ndarray, np.ndarray]:
    if loss not in LOSSES:
        raise GradCheckError(f"unknown loss {loss!r}; use one of {', '.join(LOSSES)}")
    try:
        x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    except (TypeError, ValueError):
        raise GradCheckError("inputs and targets must be arrays of numbers") from None
    n_out = len(plan.output_rows)
    if x.ndim != 2 or x.shape[1] != plan.n_inputs or x.shape[0] == 0:
        raise GradCheckError(f"inputs must have shape (samples, {plan.n_inputs}) with at least "
                             f"one sample, not {x.shape}")
    if y.shape != (x.shape[0], n_out):
        raise GradCheckError(f"targets must have shape ({x.shape[0]}, {n_out}): one row per "
                             f"sample, one column per output neuron; got {y.shape}")
    if not (np.isfinite(x).all() and np.isfinite(y).all()):
        raise GradCheckError("inputs and targets must be finite numbers (no NaN or infinity)")
    return x, y


def _checked_sequences(plan: Plan, x: np.ndarray, y: np.ndarray, loss: str,
                       mask: np.ndarray | None, kind: str | None
                       ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, str]:
    kind = "every" if kind is None else kind
    if kind not in SEQUENCE_LOSSES:
        raise GradCheckError(f"the sequence loss must be one of {', '.join(SEQUENCE_LOSSES)}, "
                             f"not {kind!r}")
    if loss not in LOSSES:
        raise GradCheckError(f"unknown loss {loss!r}; use one of {', '.join(LOSSES)}")
    try:
        x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
        mask = None if mask is None else np.asarray(mask, bool)
    except (TypeError, ValueError):
        raise GradCheckError("inputs, targets and mask must be arrays of numbers") from None
    n_out = len(plan.output_rows)
    if x.ndim != 3 or x.shape[2] != plan.n_inputs or 0 in x.shape[:2]:
        what = "this recurrent network needs sequences: " if plan.recurrent else ""
        raise GradCheckError(f"{what}inputs must have shape (sequences, steps, "
                             f"{plan.n_inputs}) with at least one step, not {x.shape}")
    if y.shape != (*x.shape[:2], n_out):
        raise GradCheckError(f"targets must have shape {(*x.shape[:2], n_out)}: one row per "
                             f"step, one column per output neuron; got {y.shape}")
    if mask is not None and (mask.shape != x.shape[:2] or not mask.any()):
        raise GradCheckError(f"the mask must have shape {x.shape[:2]} and keep at least one step")
    if not (np.isfinite(x).all() and np.isfinite(y).all()):
        raise GradCheckError("inputs and targets must be finite numbers (no NaN or infinity)")
    return x, y, mask, kind


def _checked_theta(plan: Plan, params: Params) -> np.ndarray:
    shapes = [lv.shape for lv in plan.blocks]
    if [np.shape(w) for w in params.weights] != shapes or \
            np.shape(params.biases) != (plan.n_neurons,):
        raise GradCheckError("these parameters were not packed for this network's plan; "
                             "compile the plan again and pack the network's parameters")
    theta = plan.flatten(params).astype(np.float64)
    if not np.isfinite(theta).all():
        raise GradCheckError("some weight or bias is not a finite number")
    return theta
