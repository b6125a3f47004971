"""core.engine.perturbed against the engine's own gradient computed at each moved point: the
differences g(theta + s e_c) - g(theta - s e_c), on random DAGs (skip edges, mixed
activations, outputs at several depths), every loss, moves of every level."""
from __future__ import annotations

import numpy as np
import pytest

from core.engine import compile_plan, loss_and_gradients
from core.engine.perturbed import central_differences
from core.losses import LOSSES
from core.network import Network
from tests.core.strategies import build_dag


def engine_differences(plan, theta, x, y, loss, columns, steps) -> np.ndarray:
    """Two plain engine gradients per column."""
    def gradient(t):
        _, g = loss_and_gradients(plan, plan.unflatten(t), x, y, loss)
        return plan.flatten(g)

    rows = []
    for c, s in zip(columns, steps):
        up, down = theta.copy(), theta.copy()
        up[c] += s
        down[c] -= s
        rows.append(gradient(up) - gradient(down))
    return np.array(rows)


def gathered(plan, theta, x, y, loss, columns, steps) -> np.ndarray:
    out = np.full((len(columns), plan.n_parameters), np.nan)
    seen = []
    for pos, diff in central_differences(plan, plan.unflatten(theta), x, y, loss, columns,
                                         steps):
        out[pos] = diff
        seen.extend(pos.tolist())
    assert sorted(seen) == list(range(len(columns)))  # every column once
    return out


def problem(seed: int, loss: str, samples: int = 9):
    rng = np.random.default_rng(seed)
    if loss == "softmax_ce":
        net = build_dag(seed, 2, 5, 3, density=0.6, output_activation="identity")
        y = np.eye(3)[rng.integers(0, 3, samples)]
    elif loss == "bce":
        net = build_dag(seed, 3, 5, 1, density=0.6, output_activation="sigmoid")
        y = rng.integers(0, 2, (samples, 1)).astype(float)
    else:
        net = build_dag(seed, 2, 6, 2, density=0.6)
        y = rng.normal(size=(samples, 2))
    plan = compile_plan(net)
    return plan, plan.flatten(plan.pack(net)), rng.normal(size=(samples, plan.n_inputs)), y


@pytest.mark.parametrize("loss", list(LOSSES))
@pytest.mark.parametrize("seed", range(6))
def test_every_column_matches_two_engine_gradients(loss, seed):
    plan, theta, x, y = problem(seed, loss)
    rng = np.random.default_rng(seed)
    columns = np.arange(plan.n_parameters)
    steps = rng.uniform(0.05, 0.5, columns.size)  # large moves: nothing is linear here
    want = engine_differences(plan, theta, x, y, loss, columns, steps)
    got = gathered(plan, theta, x, y, loss, columns, steps)
    np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-12 * np.abs(want).max())


@pytest.mark.parametrize("loss", ["softmax_ce", "bce", "mse"])
def test_outputs_at_different_depths(loss):
    """One output straight from an input, one behind two hidden levels. Moving a deep weight
    changes the shallow output's dL/da through the softmax; with BCE (dL/dz given by the
    loss) the shallow output's dL/dz stays put, and its difference must be zero."""
    activation = "sigmoid" if loss == "bce" else "identity"
    net = Network()
    a, b = net.add_neuron("input").id, net.add_neuron("input").id
    h1 = net.add_neuron("hidden", "tanh", bias=0.2).id
    h2 = net.add_neuron("hidden", "sigmoid", bias=-0.1).id
    shallow = net.add_neuron("output", activation, bias=0.3).id
    deep = net.add_neuron("output", activation, bias=-0.4).id
    for s, t, w in ((a, h1, 0.7), (b, h1, -1.1), (h1, h2, 1.3), (h2, deep, 0.9),
                    (a, shallow, -0.6), (b, deep, 0.5)):
        net.connect(s, t, w)
    plan = compile_plan(net)
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(7, 2)), np.eye(2)[rng.integers(0, 2, 7)]
    theta = plan.flatten(plan.pack(net))
    columns = np.arange(plan.n_parameters)
    steps = np.full(columns.size, 0.3)
    want = engine_differences(plan, theta, x, y, loss, columns, steps)
    got = gathered(plan, theta, x, y, loss, columns, steps)
    np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-13)
    names = plan.parameter_names()
    deep_bias, shallow_bias = names.index(f"bias:{deep}"), names.index(f"bias:{shallow}")
    assert plan.row[shallow] < plan.levels[-1].start  # the two outputs sit at two depths
    if loss == "softmax_ce":  # the case this test is about: felt through the loss
        assert abs(want[deep_bias, shallow_bias]) > 1e-3


def test_a_subset_of_columns_in_any_order_and_large_batches_in_chunks():
    """Columns asked for out of order, repeated, with more samples than one chunk holds."""
    plan, theta, _, _ = problem(3, "mse")
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(3000, plan.n_inputs)), rng.normal(size=(3000, 2))
    columns = np.array([5, 0, plan.n_parameters - 1, 5, 2])
    steps = np.array([0.1, 0.2, 0.3, 0.4, 0.5])
    want = engine_differences(plan, theta, x, y, "mse", columns, steps)
    got = gathered(plan, theta, x, y, "mse", columns, steps)
    np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-12 * np.abs(want).max())


@pytest.mark.parametrize("seed", range(3))
def test_the_exact_planes_2x2_is_the_hessians_block_by_second_differences_of_the_value(seed):
    """plane_curvature on two single parameters reads the engine's columns: held to second
    differences of the loss value (tests/core/test_curvature.py), and to the same plane
    given as directions scaled by -2 and 0.5 (H2 scales by their products)."""
    from core.curvature import TrainingLoss, plane_curvature
    from tests.core.test_curvature import problem as smooth_problem, value_hessian

    plan, theta, x, y = smooth_problem(seed, "mse", samples=20)
    f = TrainingLoss(plan, x, y, "mse", l2=0.03)
    h = value_hessian(plan, theta, x, y, "mse", l2=0.03)
    i, j = 1, plan.n_parameters - 1  # a weight and the last bias
    d1, d2 = np.zeros_like(theta), np.zeros_like(theta)
    d1[i], d2[j] = 1.0, 1.0
    pc = plane_curvature(f, theta, d1, d2)
    block = h[np.ix_([i, j], [i, j])]
    np.testing.assert_allclose(pc.hessian, block, atol=2e-6 * np.abs(block).max())
    scaled = plane_curvature(f, theta, -2.0 * d1, 0.5 * d2)
    np.testing.assert_allclose(scaled.hessian, pc.hessian * np.outer([-2, 0.5], [-2, 0.5]),
                               rtol=1e-12)
