"""core.curvature against computations that do not share its method: hand-worked second
derivatives, second differences of the loss VALUE (never the gradient), NumPy's eigenvalues
of a matrix built here, and -H^-1 g solved here."""
from __future__ import annotations

import math

import numpy as np
import pytest

from core.curvature import (FULL_LIMIT, TrainingLoss, curvature_of, plane_curvature, spectrum,
                            top_eigenvalues)
from core.engine import compile_plan, forward, loss_and_output_grad
from core.errors import CurvatureError
from core.network import Network
from tests.core.strategies import build_dag

SMOOTH = ("identity", "sigmoid", "tanh", "softplus")  # no kink in the first two derivatives


def smooth_dag(seed: int, n_in: int = 2, n_hidden: int = 4, n_out: int = 1,
               output: str | None = None) -> Network:
    """build_dag's random DAG (skip edges included) with only twice-smooth activations."""
    net = build_dag(seed, n_in, n_hidden, n_out, density=0.7, output_activation=output)
    rng = np.random.default_rng(seed)
    for n in net.neurons.values():
        if n.role == "hidden" or (n.role == "output" and output is None):
            net.set_activation(n.id, SMOOTH[rng.integers(len(SMOOTH))])
    return net


def value_hessian(plan, theta, x, y, loss, l2=0.0, h=1e-4) -> np.ndarray:
    """Second differences of the loss value: an independent (and slower, less exact)
    Hessian. L2's penalty is added as a value too."""
    def value(t):
        v = loss_and_output_grad(plan, forward(plan, plan.unflatten(t), x), y, loss).value
        w = t[: len(plan.edge_ids)]
        return v + 0.5 * l2 * float(w @ w)

    n = theta.size
    out = np.empty((n, n))
    for i in range(n):
        for j in range(i, n):
            t = theta.copy()
            pp, pm, mp, mm = (t.copy() for _ in range(4))
            pp[i] += h; pp[j] += h
            pm[i] += h; pm[j] -= h
            mp[i] -= h; mp[j] += h
            mm[i] -= h; mm[j] -= h
            out[i, j] = out[j, i] = (value(pp) - value(pm) - value(mp) + value(mm)) / (4 * h * h)
    return out


def problem(seed: int, loss: str = "mse", samples: int = 12):
    rng = np.random.default_rng(100 + seed)
    if loss == "softmax_ce":
        net = smooth_dag(seed, n_out=3, output="identity")
        y = np.eye(3)[rng.integers(0, 3, samples)]
    elif loss == "bce":
        net = smooth_dag(seed, output="sigmoid")
        y = rng.integers(0, 2, (samples, 1)).astype(float)
    else:
        net = smooth_dag(seed)
        y = rng.normal(size=(samples, 1))
    plan = compile_plan(net)
    x = rng.normal(size=(samples, plan.n_inputs))
    return plan, plan.flatten(plan.pack(net)), x, y


def test_one_weight_quadratic_by_hand():
    """y = w x + b with squared error: L = mean((w x + b - t)^2), so d2L/dw2 = 2 mean(x^2),
    d2L/dwdb = 2 mean(x), d2L/db2 = 2, at any w and b."""
    net = Network()
    i = net.add_neuron("input").id
    o = net.add_neuron("output", "identity", bias=0.3).id
    net.connect(i, o, -1.7)
    plan = compile_plan(net)
    x = np.array([[1.0], [2.0], [-0.5], [3.0]])
    y = np.array([[0.2], [1.0], [-2.0], [0.7]])
    f = TrainingLoss(plan, x, y, "mse")
    h = f.hessian(plan.flatten(plan.pack(net)))
    by_hand = 2 * np.array([[np.mean(x ** 2), np.mean(x)], [np.mean(x), 1.0]])
    np.testing.assert_allclose(h, by_hand, rtol=1e-9)


def test_two_weight_chain_by_hand():
    """x -> tanh(w1 x) -> w2 h (identity output, no biases moved), one sample, L = (w2 h - t)^2.
    dL/dw2 = 2 r h; d2L/dw2^2 = 2 h^2; d2L/dw1 dw2 = 2 (h r' + r h') with r = w2 h - t,
    h' = dh/dw1 = (1 - h^2) x; d2L/dw1^2 = 2 (w2 h')^2 + 2 r w2 h'' with
    h'' = -2 h (1 - h^2) x^2."""
    net = Network()
    i = net.add_neuron("input").id
    hid = net.add_neuron("hidden", "tanh").id
    o = net.add_neuron("output", "identity").id
    w1, w2, xv, t = 0.8, -1.3, 0.9, 0.4
    e1 = net.connect(i, hid, w1).id
    e2 = net.connect(hid, o, w2).id
    plan = compile_plan(net)
    theta = plan.flatten(plan.pack(net))
    names = plan.parameter_names()
    idx = [names.index(e1), names.index(e2)]
    f = TrainingLoss(plan, np.array([[xv]]), np.array([[t]]), "mse")
    h = np.tanh(w1 * xv)
    r = w2 * h - t
    dh = (1 - h * h) * xv
    ddh = -2 * h * (1 - h * h) * xv * xv
    by_hand = np.array([[2 * (w2 * dh) ** 2 + 2 * r * w2 * ddh, 2 * (h * w2 * dh + r * dh)],
                        [2 * (h * w2 * dh + r * dh), 2 * h * h]])
    np.testing.assert_allclose(f.hessian(theta, np.array(idx)), by_hand, rtol=1e-8, atol=1e-11)


@pytest.mark.parametrize("loss", ["mse", "bce", "softmax_ce"])
@pytest.mark.parametrize("seed", range(4))
def test_hessian_against_second_differences_of_the_value(loss, seed):
    plan, theta, x, y = problem(seed, loss)
    f = TrainingLoss(plan, x, y, loss, l2=0.05)
    h = f.hessian(theta)
    ref = value_hessian(plan, theta, x, y, loss, l2=0.05)
    scale = max(1.0, float(np.abs(ref).max()))
    assert np.abs(h - ref).max() <= 2e-6 * scale
    assert np.array_equal(h, h.T)


def test_hvp_is_the_hessian_times_v():
    plan, theta, x, y = problem(7, "mse", samples=30)
    f = TrainingLoss(plan, x, y, "mse", l2=0.1)
    h = value_hessian(plan, theta, x, y, "mse", l2=0.1)
    v = np.random.default_rng(1).normal(size=theta.size)
    np.testing.assert_allclose(f.hvp(theta, v), h @ v, atol=2e-6 * np.abs(h @ v).max())
    assert not f.hvp(theta, np.zeros_like(theta)).any()


def test_l1_adds_no_curvature_even_at_a_zero_weight():
    """sign(w) jumps at 0: a difference taken across it would put 1/e on the diagonal."""
    plan, theta, x, y = problem(2)
    theta = theta.copy()
    theta[0] = 0.0
    plain = TrainingLoss(plan, x, y, "mse").hessian(theta)
    with_l1 = TrainingLoss(plan, x, y, "mse", l1=0.5).hessian(theta)
    np.testing.assert_array_equal(plain, with_l1)


def test_quadratic_hessian_is_exact_for_linear_regression():
    """H = (2/N) [X 1]^T [X 1] for y = W x + b under squared error (the narrow valley)."""
    rng = np.random.default_rng(3)
    net = Network()
    ins = [net.add_neuron("input").id for _ in range(3)]
    out = net.add_neuron("output", "identity").id
    for k, i in enumerate(ins):
        net.connect(i, out, float(k) - 1.0)
    plan = compile_plan(net)
    x = rng.normal(size=(50, 3)) * [1.0, 10.0, 0.1]
    y = rng.normal(size=(50, 1))
    f = TrainingLoss(plan, x, y, "mse")
    xb = np.hstack([x, np.ones((50, 1))])
    exact = 2.0 / 50 * xb.T @ xb
    np.testing.assert_allclose(f.hessian(plan.flatten(plan.pack(net))), exact,
                               atol=1e-10 * np.abs(exact).max())


def test_spectrum_all_eigenvalues_largest_first():
    plan, theta, x, y = problem(5, "bce", samples=20)
    f = TrainingLoss(plan, x, y, "bce")
    ref = np.sort(np.linalg.eigvalsh(value_hessian(plan, theta, x, y, "bce")))[::-1]
    s = spectrum(f, theta)
    np.testing.assert_allclose(s.eigenvalues, ref, atol=2e-6 * max(1, np.abs(ref).max()))
    mags = np.abs(ref)
    if mags.min() < 1e-8 * mags.max():  # a parameter with no path to an output: singular
        assert s.condition_number > 1e6
    else:
        assert s.condition_number == pytest.approx(mags.max() / mags.min(), rel=1e-3)
    top = spectrum(f, theta, top=2)
    np.testing.assert_allclose(top.eigenvalues, s.eigenvalues[:2], rtol=1e-9)
    # The condition number needs every eigenvalue, not only the ones printed.
    assert top.condition_number == pytest.approx(s.condition_number, rel=1e-9)


def test_top_eigenvalues_by_lanczos_match_the_whole_hessian():
    from core.templates import layered

    rng = np.random.default_rng(4)
    net = layered([3, 12, 6, 2], "tanh", "identity")
    plan = compile_plan(net)
    theta = rng.normal(0, 0.7, plan.n_parameters)
    x, y = rng.normal(size=(40, 3)), rng.normal(size=(40, 2))
    f = TrainingLoss(plan, x, y, "mse", l2=0.01)
    every = np.linalg.eigvalsh(f.hessian(theta))[::-1]
    np.testing.assert_allclose(top_eigenvalues(f, theta, 3), every[:3], rtol=1e-5)
    # Restricted to some parameters: the eigenvalues of that block.
    idx = np.arange(0, plan.n_parameters, 2)
    block = np.linalg.eigvalsh(f.hessian(theta)[np.ix_(idx, idx)])[::-1]
    np.testing.assert_allclose(top_eigenvalues(f, theta, 2, idx), block[:2], rtol=1e-5)


def test_whole_hessian_of_a_large_net_is_refused_in_words():
    from core.templates import layered

    plan = compile_plan(layered([60, 50, 1]))
    f = TrainingLoss(plan, np.zeros((2, 60)), np.zeros((2, 1)), "mse")
    assert plan.n_parameters > FULL_LIMIT
    with pytest.raises(CurvatureError, match="top"):
        spectrum(f, np.zeros(plan.n_parameters))


def test_plane_newton_step_is_minus_h_inverse_g_solved_independently():
    plan, theta, x, y = problem(1, "mse", samples=25)
    f = TrainingLoss(plan, x, y, "mse")
    rng = np.random.default_rng(9)
    q, _ = np.linalg.qr(rng.normal(size=(theta.size, 2)))
    d1, d2 = q[:, 0], q[:, 1]
    pc = plane_curvature(f, theta, d1, d2)
    h = value_hessian(plan, theta, x, y, "mse")
    h2 = np.array([[d1 @ h @ d1, d1 @ h @ d2], [d2 @ h @ d1, d2 @ h @ d2]])
    eps = 1e-6
    g2 = np.array([(f.value(theta + eps * d) - f.value(theta - eps * d)) / (2 * eps)
                   for d in (d1, d2)])
    np.testing.assert_allclose(pc.hessian, h2, atol=2e-6 * np.abs(h2).max())
    np.testing.assert_allclose(pc.gradient, g2, atol=1e-7)
    if np.all(np.linalg.eigvalsh(h2) > 0):
        assert pc.shape == "bowl"
        np.testing.assert_allclose(pc.newton, -np.linalg.solve(h2, g2), rtol=1e-4)


def test_shapes_and_figures_of_a_2x2_hessian():
    bowl = curvature_of(np.array([1.0, 1.0]), np.array([[100.0, 0.0], [0.0, 1.0]]))
    assert bowl.shape == "bowl"
    np.testing.assert_allclose(bowl.newton, [-0.01, -1.0])
    np.testing.assert_allclose(bowl.curvatures, [100.0, 1.0])
    assert bowl.condition_number == pytest.approx(100.0)
    # -g = (-1, -1) and Newton (-0.01, -1): the angle between them by hand.
    cos = (0.01 + 1.0) / (math.sqrt(2) * math.sqrt(1.0001))
    assert bowl.angle_degrees == pytest.approx(math.degrees(math.acos(cos)))
    assert "100" in bowl.explain() and "Newton" in bowl.explain()
    saddle = curvature_of(np.array([1.0, 0.0]), np.array([[2.0, 0.0], [0.0, -3.0]]))
    assert saddle.shape == "saddle" and saddle.newton is None
    assert "saddle" in saddle.explain()
    np.testing.assert_allclose(np.abs(saddle.directions[:, 0]), [1.0, 0.0])
    ridge = curvature_of(np.array([0.0, 1.0]), np.array([[-1.0, 0.2], [0.2, -2.0]]))
    assert ridge.shape == "ridge" and ridge.newton is None
    trough = curvature_of(np.array([0.0, 1.0]), np.array([[1.0, 0.0], [0.0, 0.0]]))
    assert trough.shape == "trough" and trough.newton is None
    flat = curvature_of(np.zeros(2), np.zeros((2, 2)))
    assert flat.shape == "flat"
