"""core.engine.plane_taylor (the loss along a plane to second order: the surface's arrows)
against the method it replaced, one exact gradient and two Hessian-vector products by central
differences of the engine's gradient (five gradients), on random DAGs (skip edges, every
activation, outputs at several depths), every loss, every plane kind and single parameters
of every level; the activations' second derivatives against differences of their first."""
from __future__ import annotations

import numpy as np
import pytest

from core.activations import ACTIVATIONS, Activation
from core.curvature import TrainingLoss
from core.engine import compile_plan, forward, loss_and_output_grad
from core.engine.plane_taylor import plane_derivatives
from core.losses import LOSSES
from core.surface import exact_plane, pca_plane, random_plane
from tests.core.strategies import build_dag

# |taylor - old| over the largest entry of the old 2x2 Hessian: both are accurate to about
# 1e-8 of it (central differences with a step of 1e-5; measured at most 7e-8 here).
TOLERANCE = 1e-6


def old_plane(f: TrainingLoss, theta, d1, d2):
    """The previous plane_curvature: the exact gradient, and H d1, H d2 each a central
    difference of two exact gradients."""
    g = f.gradient(theta)
    h_d1, h_d2 = f.hvp(theta, d1), f.hvp(theta, d2)
    h = np.array([[d1 @ h_d1, d1 @ h_d2], [d2 @ h_d1, d2 @ h_d2]])
    return np.array([g @ d1, g @ d2]), 0.5 * (h + h.T)


def problem(seed: int, loss: str, samples: int = 11):
    rng = np.random.default_rng(seed)
    if loss == "softmax_ce":
        net = build_dag(seed, 3, 6, 3, density=0.6, output_activation="identity")
        y = np.eye(3)[rng.integers(0, 3, samples)]
    elif loss == "bce":
        net = build_dag(seed, 3, 6, 1, density=0.6, output_activation="sigmoid")
        y = rng.integers(0, 2, (samples, 1)).astype(float)
    else:
        net = build_dag(seed, 2, 7, 2, density=0.6)
        y = rng.normal(size=(samples, 2))
    plan = compile_plan(net)
    theta = plan.flatten(plan.pack(net))
    return plan, theta, rng.normal(size=(samples, plan.n_inputs)), y


def directions(plan, theta, rng):
    """Every plane kind, two dense random directions (biases moving too), and exact planes
    on parameters of the first level, of the last, a bias and a weight of one neuron."""
    path = theta + np.cumsum(0.1 * rng.normal(size=(6, theta.size)), axis=0)
    q, _ = np.linalg.qr(rng.normal(size=(theta.size, 2)))
    planes = [random_plane(plan, theta, rng), pca_plane(path)]
    out = [(p.d1, p.d2) for p in planes] + [(q[:, 0], q[:, 1])]
    first, last = plan.levels[0].edge_pos, plan.levels[-1].edge_pos
    n_e = len(plan.edge_ids)
    for i, j in ((int(first[0]), int(first[-1])), (int(first[0]), int(last[-1])),
                 (int(last[0]), theta.size - 1), (n_e, int(rng.integers(n_e)))):
        if i != j:
            p = exact_plane(plan, theta, i, j)
            out.append((p.d1, 2.5 * p.d2))  # a scaled direction too
    return out


def assert_close(new, old):
    (g, h), (g_old, h_old) = new, old
    scale = max(float(np.abs(h_old).max()), 1e-12)
    np.testing.assert_allclose(h, h_old, rtol=0, atol=TOLERANCE * scale)
    np.testing.assert_allclose(g, g_old, rtol=1e-10, atol=1e-12 * max(np.abs(g_old).max(), 1))


@pytest.mark.parametrize("loss", list(LOSSES))
@pytest.mark.parametrize("seed", range(5))
def test_the_plane_matches_the_five_gradient_method_on_random_dags(loss, seed):
    plan, theta, x, y = problem(seed, loss)
    f = TrainingLoss(plan, x, y, loss)
    here = theta + 0.05 * np.random.default_rng(seed).normal(size=theta.size)
    for d1, d2 in directions(plan, theta, np.random.default_rng(seed + 50)):
        assert_close(f.plane(here, d1, d2), old_plane(f, here, d1, d2))


@pytest.mark.parametrize("loss", list(LOSSES))
def test_its_values_at_theta_are_the_engines_forward_pass(loss):
    """The pass computes the values itself (no arrays of the inputs' size): its loss at
    theta is the engine's, on DAGs whose levels read inputs and hidden rows in one block."""
    for seed in range(4):
        plan, theta, x, y = problem(seed, loss)
        d1, d2 = np.random.default_rng(seed).normal(size=(2, theta.size))
        value, _, _ = plane_derivatives(plan, theta, d1, d2, x, y, loss, 1e-5)
        engine = loss_and_output_grad(plan, forward(plan, plan.unflatten(theta), x), y, loss)
        assert value == pytest.approx(engine.value, rel=1e-13)


def test_the_penalties_add_what_the_old_method_added():
    plan, theta, x, y = problem(3, "mse")
    f = TrainingLoss(plan, x, y, "mse", l1=0.03, l2=0.2)
    for d1, d2 in directions(plan, theta, np.random.default_rng(1)):
        assert_close(f.plane(theta, d1, d2), old_plane(f, theta, d1, d2))


def test_a_large_batch_and_a_direction_that_moves_nothing_upstream():
    """A 3-level net on 300 samples; d1 moves only the output bias (nothing upstream moves)."""
    from core.templates import layered

    net = layered([4, 9, 6, 2])
    plan = compile_plan(net)
    rng = np.random.default_rng(4)
    theta = rng.normal(size=plan.n_parameters)
    x, y = rng.normal(size=(300, 4)), rng.normal(size=(300, 2))
    f = TrainingLoss(plan, x, y, "mse")
    d1, d2 = np.zeros_like(theta), rng.normal(size=theta.size)
    d1[-1] = 1.0
    assert_close(f.plane(theta, d1, d2), old_plane(f, theta, d1, d2))


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_second_derivatives_are_differences_of_the_first(name):
    act = ACTIVATIONS[name]
    z = np.concatenate([np.linspace(-6, -0.01, 40), np.linspace(0.01, 6, 40)])
    h = 1e-5
    expected = (act.df(z + h, act.f(z + h)) - act.df(z - h, act.f(z - h))) / (2 * h)
    np.testing.assert_allclose(act.d2f(z, act.f(z)), expected, rtol=1e-6, atol=1e-8)
    assert act.d2f is not None


def test_an_entry_without_a_second_derivative_gets_a_difference_of_its_first():
    tanh = ACTIVATIONS["tanh"]
    bare = Activation("tanh2", "", "", tanh.f, tanh.df)
    z = np.linspace(-4, 4, 33).reshape(3, 11)
    a = tanh.f(z)
    np.testing.assert_allclose(bare.second_derivative(z, a), tanh.d2f(z, a), atol=1e-9)


def test_an_added_activation_and_loss_take_the_difference_path():
    from tests.core.test_registry_extension import LOSS, batch, swish_net
    from tests.registry_extras import added_entries

    with added_entries():
        plan = compile_plan(swish_net(2))
        theta = plan.flatten(plan.pack(swish_net(2)))
        x, y = batch(15)
        f = TrainingLoss(plan, plan.inputs_from(x), y, LOSS)
        for d1, d2 in directions(plan, theta, np.random.default_rng(2)):
            assert_close(f.plane(theta, d1, d2), old_plane(f, theta, d1, d2))
