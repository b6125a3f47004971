"""core.engine.hessian_columns (the whole Hessian's columns by the R-operator) against central
differences of the engine's own gradient, (g(theta + s e_c) - g(theta - s e_c)) / 2s, on
random DAGs (skip edges, every activation, outputs at several depths), every loss, columns of
every level; and on a quadratic, where the differences are exact too."""
from __future__ import annotations

import numpy as np
import pytest

from core.engine import compile_plan, loss_and_gradients
from core.engine.hessian_columns import OneParameterMoves, hessian_columns, symmetric_fill
from core.losses import LOSSES
from core.network import Network
from tests.core.strategies import build_dag


STEP = 1e-5  # relative, as core.curvature.RELATIVE_STEP
# |columns - differences| over the largest entry (the differences' O(s^2) and rounding, the
# columns' difference over the outputs only): measured at most 1.3e-9 on these nets.
TOLERANCE = 1e-6


def engine_columns(plan, theta, x, y, loss, columns) -> np.ndarray:
    """Two plain engine gradients per column, as a central difference."""
    def gradient(t):
        _, g = loss_and_gradients(plan, plan.unflatten(t), x, y, loss)
        return plan.flatten(g)

    rows = []
    for c in columns:
        s = STEP * (1.0 + abs(theta[c]))
        up, down = theta.copy(), theta.copy()
        up[c] += s
        down[c] -= s
        rows.append((gradient(up) - gradient(down)) / (2 * s))
    return np.array(rows)


def gathered(plan, theta, x, y, loss, columns) -> np.ndarray:
    out = np.full((len(columns), plan.n_parameters), np.nan)
    seen = []
    for pos, rows in hessian_columns(plan, plan.unflatten(theta), x, y, loss, columns, STEP):
        out[pos] = rows
        seen.extend(pos.tolist())
    assert sorted(seen) == list(range(len(columns)))  # every column once
    return out


def assert_close(got, want, plan=None, columns=None):
    """got's entries against want's; where got has NaN (a parameter of a level before its
    column's: the symmetric entry, see hessian_columns), exactly there."""
    if plan is not None:
        level = OneParameterMoves(plan).level
        earlier = level[None, :] < level[np.asarray(columns)][:, None]
        np.testing.assert_array_equal(np.isnan(got), earlier)
        got = np.where(earlier, want, got)
    np.testing.assert_allclose(got, want, rtol=0, atol=TOLERANCE * np.abs(want).max())


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
def test_every_column_matches_differences_of_two_engine_gradients(loss, seed):
    plan, theta, x, y = problem(seed, loss)
    columns = np.arange(plan.n_parameters)
    got = gathered(plan, theta, x, y, loss, columns)
    want = engine_columns(plan, theta, x, y, loss, columns)
    assert_close(got, want, plan, columns)
    # every column whole: the missing entries from the symmetric ones
    assert_close(symmetric_fill(got), 0.5 * (want + want.T))


def test_on_a_quadratic_the_columns_are_the_hand_worked_hessian():
    """y = W x + b with squared error: H = 2/(B K) [x 1]^T [x 1] per output, exactly."""
    from core.templates import layered

    net = layered([3, 2], output="identity")
    plan = compile_plan(net)
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(20, 3)), rng.normal(size=(20, 2))
    theta = rng.normal(size=plan.n_parameters)
    got = symmetric_fill(gathered(plan, theta, x, y, "mse", np.arange(plan.n_parameters)))
    want = np.zeros_like(got)
    names = plan.parameter_names()
    design = np.hstack([x, np.ones((20, 1))])
    for out in range(2):  # each output's weights and bias against the same output's
        oid = plan.order[plan.output_rows[out]]
        own = [names.index(e) for e in plan.edge_ids if net.edges[e].target == oid]
        own = [i for _, i in sorted((plan.row[net.edges[names[i]].source], i) for i in own)]
        own.append(names.index(f"bias:{oid}"))
        want[np.ix_(own, own)] = 2.0 / (20 * 2) * design.T @ design
    np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("loss", ["softmax_ce", "bce", "mse"])
def test_outputs_at_different_depths(loss):
    """One output straight from an input, one behind two hidden levels. Moving a deep weight
    changes the shallow output's dL/da through the softmax; with BCE (dL/dz given by the
    loss) the shallow output's dL/dz stays put, and its entry must be zero."""
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
    want = engine_columns(plan, theta, x, y, loss, columns)
    assert_close(gathered(plan, theta, x, y, loss, columns), want, plan, columns)
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
    assert_close(gathered(plan, theta, x, y, "mse", columns),
                 engine_columns(plan, theta, x, y, "mse", columns), plan, columns)


@pytest.mark.parametrize("seed", range(3))
def test_the_exact_planes_2x2_is_the_hessians_block_by_second_differences_of_the_value(seed):
    """plane_curvature on two single parameters: held to second differences of the loss
    value (tests/core/test_curvature.py), and to the same plane given as directions scaled
    by -2 and 0.5 (H2 scales by their products)."""
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


@pytest.mark.parametrize("loss", ["mse", "softmax_ce"])
def test_the_hessian_of_some_parameters_in_any_order_is_that_block_of_the_whole(loss):
    """TrainingLoss.hessian on a subset across levels, out of order: each pair's entry comes
    from whichever of the two columns reaches it (the later parameter's column does not)."""
    from core.curvature import TrainingLoss

    plan, theta, x, y = problem(4, loss)
    f = TrainingLoss(plan, x, y, loss, l2=0.1)
    whole = f.hessian(theta)
    rng = np.random.default_rng(1)
    idx = rng.permutation(plan.n_parameters)[: plan.n_parameters // 2]
    np.testing.assert_allclose(f.hessian(theta, idx), whole[np.ix_(idx, idx)], rtol=1e-12,
                               atol=1e-14)
    want = engine_columns(plan, theta, x, y, loss, np.arange(plan.n_parameters))
    want = 0.5 * (want + want.T)
    want[np.arange(len(plan.edge_ids)), np.arange(len(plan.edge_ids))] += 0.1
    assert_close(whole, want)
