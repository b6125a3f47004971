"""Gradient check: backpropagation against central finite differences, in float64.

Finite differences are wrong across a kink (ReLU, leaky ReLU and ELU at z = 0): a parameter
whose perturbation moves some neuron's net input across 0 can show a large error that is not
a bug. Callers who need a clean verdict keep net inputs away from 0.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core.engine import Params, Plan, loss_and_gradients
from core.network import Network

# Relative error |a - n| / max(|a| + |n|, FLOOR). The numeric estimate carries rounding noise
# of about 1e-16 * loss / h ~ 1e-12; without a floor a gradient that is exactly 0 (a neuron
# that feeds nothing) against 5e-13 of noise would count as a 100% error. With this floor,
# gradients below 1e-5 are compared absolutely: they must agree to 1e-11 to pass 1e-6.
FLOOR = 1e-5


@dataclass(frozen=True)
class GradCheckResult:
    max_relative_error: float
    worst_parameter: str  # a name from Plan.parameter_names()
    analytic: np.ndarray
    numeric: np.ndarray
    names: tuple[str, ...]


def gradient_check(plan: Plan, params: Params, x: np.ndarray, y: np.ndarray, loss: str,
                   eps: float = 1e-4) -> GradCheckResult:
    """Five-point central differences, (f(-2h) - 8 f(-h) + 8 f(h) - f(2h)) / 12h: truncation
    error O(h^4), so h can be large enough that rounding error (~1e-16 / h) stays tiny."""
    params = plan.unflatten(plan.flatten(params).astype(np.float64))
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    _, grads = loss_and_gradients(plan, params, x, y, loss)
    analytic = np.concatenate([plan.edge_vector(grads.weights), grads.biases[plan.bias_rows]])
    theta = plan.flatten(params)
    numeric = np.empty_like(theta)

    def loss_at(k: int, offset: float) -> float:
        saved = theta[k]
        theta[k] = saved + offset
        value = loss_and_gradients(plan, plan.unflatten(theta), x, y, loss)[0]
        theta[k] = saved
        return value

    for k in range(theta.size):
        numeric[k] = (loss_at(k, -2 * eps) - 8 * loss_at(k, -eps) + 8 * loss_at(k, eps)
                      - loss_at(k, 2 * eps)) / (12 * eps)
    rel = np.abs(analytic - numeric) / np.maximum(np.abs(analytic) + np.abs(numeric), FLOOR)
    names = tuple(plan.parameter_names())
    worst = int(np.argmax(rel)) if rel.size else 0
    return GradCheckResult(float(rel.max()) if rel.size else 0.0,
                           names[worst] if names else "", analytic, numeric, names)


def check_network(net: Network, x: np.ndarray, y: np.ndarray, loss: str) -> GradCheckResult:
    from core.engine import compile_plan

    plan = compile_plan(net)
    return gradient_check(plan, plan.pack(net), x, y, loss)
