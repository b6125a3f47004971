"""The arrows at the current point of the loss surface (core.surface.arrows_at) against
computations that do not share its method: the gradient and 2x2 Hessian of the loss restricted
to the plane by differences of the loss VALUE, -H^-1 g solved here; the minibatch's gradient
by differences of the minibatch's loss value; clipping against a scan of the segment."""
from __future__ import annotations

import numpy as np
import pytest

from core.engine import compile_plan, forward, loss_and_output_grad
from core.network import Network
from core.surface import arrows_at, clip_segment, exact_plane, pca_plane, random_plane
from tests.core.test_curvature import smooth_dag


def value(plan, theta, x, y, loss="mse") -> float:
    return loss_and_output_grad(plan, forward(plan, plan.unflatten(theta), x), y, loss).value


def restricted(plan, theta, d1, d2, x, y, h=1e-4):
    """Gradient and Hessian of phi(a, b) = L(theta + a d1 + b d2) at 0 by central first and
    second differences of phi's value."""
    def phi(a, b):
        return value(plan, theta + a * d1 + b * d2, x, y)

    g = np.array([(phi(h, 0) - phi(-h, 0)) / (2 * h), (phi(0, h) - phi(0, -h)) / (2 * h)])
    f0 = phi(0, 0)
    haa = (phi(h, 0) - 2 * f0 + phi(-h, 0)) / h**2
    hbb = (phi(0, h) - 2 * f0 + phi(0, -h)) / h**2
    hab = (phi(h, h) - phi(h, -h) - phi(-h, h) + phi(-h, -h)) / (4 * h * h)
    return g, np.array([[haa, hab], [hab, hbb]])


def linear_net(seed: int) -> Network:
    """y = w1 x1 + w2 x2 + b with squared error: a quadratic loss, a bowl on every plane."""
    rng = np.random.default_rng(seed)
    net = Network()
    a, b = net.add_neuron("input").id, net.add_neuron("input").id
    out = net.add_neuron("output", "identity", bias=float(rng.normal())).id
    net.connect(a, out, float(rng.normal()))
    net.connect(b, out, float(rng.normal()))
    return net


def problem(net: Network, samples: int = 40, seed: int = 0):
    rng = np.random.default_rng(seed)
    plan = compile_plan(net)
    # Correlated inputs on different scales: a narrow valley.
    x = rng.normal(size=(samples, plan.n_inputs))
    x[:, 1] = 0.9 * x[:, 0] + 0.3 * x[:, 1]
    x[:, 0] *= 3.0
    y = np.sin(x[:, :1]) + 0.1 * rng.normal(size=(samples, 1))
    return plan, plan.flatten(plan.pack(net)), x, y


def planes(plan, theta, rng):
    path = theta + np.cumsum(0.1 * rng.normal(size=(6, theta.size)), axis=0)
    return [exact_plane(plan, theta, 0, theta.size - 1), random_plane(plan, theta, rng),
            pca_plane(path)]


@pytest.mark.parametrize("seed", range(4))
def test_newton_and_gradient_arrows_equal_an_independent_restricted_quadratic(seed):
    rng = np.random.default_rng(seed)
    for net in (linear_net(seed), smooth_dag(seed)):
        plan, theta, x, y = problem(net, seed=seed)
        for plane in planes(plan, theta, rng):
            # the current point off the plane's centre, as it is while training
            here = theta + 0.05 * rng.normal(size=theta.size)
            arrows = arrows_at(plan, plane, here, (x, y), "mse")
            g, h = restricted(plan, here, plane.d1, plane.d2, x, y)
            np.testing.assert_allclose(arrows.descent, -g, rtol=1e-6, atol=1e-8)
            np.testing.assert_allclose(arrows.curvature.hessian, h, rtol=1e-4, atol=1e-6)
            np.testing.assert_allclose(arrows.here, plane.coordinates(here)[0])
            if np.linalg.eigvalsh(h).min() > 1e-3 * np.abs(h).max():
                assert arrows.curvature.shape == "bowl"
                np.testing.assert_allclose(arrows.curvature.newton, -np.linalg.solve(h, g),
                                           rtol=1e-3, atol=1e-6)
            elif np.linalg.eigvalsh(h).max() < 0 or np.linalg.det(h) < 0:
                assert arrows.curvature.newton is None


def test_on_a_quadratic_newtons_arrow_ends_at_the_planes_minimum():
    """The linear net's loss is quadratic: along the exact plane of its two weights, the red
    arrow's tip is where the loss is least, found here by a fine grid search."""
    plan, theta, x, y = problem(linear_net(3))
    plane = exact_plane(plan, theta, 0, 1)
    arrows = arrows_at(plan, plane, theta, (x, y), "mse")
    tip = arrows.here + arrows.curvature.newton
    span = np.linspace(-0.002, 0.002, 21)
    best = min(((value(plan, plane.point(tip[0] + a, tip[1] + b), x, y), a, b)
                for a in span for b in span))
    assert best[1:] == (0.0, 0.0)
    assert arrows.curvature.condition_number > 5  # correlated, unscaled inputs: a valley
    assert arrows.curvature.angle_degrees > 5  # so steepest descent points elsewhere


def test_minibatch_gradient_and_angle_equal_differences_of_the_minibatch_loss():
    plan, theta, x, y = problem(smooth_dag(1), samples=30, seed=1)
    rows = np.array([3, 7, 8, 20, 21])
    rng = np.random.default_rng(5)
    plane = random_plane(plan, theta, rng)
    arrows = arrows_at(plan, plane, theta, (x, y), "mse", (x[rows], y[rows]))
    g_batch, _ = restricted(plan, theta, plane.d1, plane.d2, x[rows], y[rows])
    np.testing.assert_allclose(arrows.minibatch, g_batch, rtol=1e-6, atol=1e-8)
    # the angle over every parameter, from per-parameter differences of both losses' values
    h = 1e-6
    full, batch = np.empty(theta.size), np.empty(theta.size)
    for k in range(theta.size):
        e = np.zeros(theta.size)
        e[k] = h
        full[k] = (value(plan, theta + e, x, y) - value(plan, theta - e, x, y)) / (2 * h)
        batch[k] = (value(plan, theta + e, x[rows], y[rows])
                    - value(plan, theta - e, x[rows], y[rows])) / (2 * h)
    cos = full @ batch / np.linalg.norm(full) / np.linalg.norm(batch)
    assert arrows.minibatch_angle == pytest.approx(np.degrees(np.arccos(cos)), abs=1e-4)
    assert arrows.batch_size == 5
    plane_cos = g_batch @ arrows.curvature.gradient / np.linalg.norm(g_batch) / \
        np.linalg.norm(arrows.curvature.gradient)
    assert arrows.plane_angle == pytest.approx(np.degrees(np.arccos(plane_cos)), abs=1e-4)


def test_a_frozen_parameter_does_not_count_in_the_minibatch_angle():
    net = smooth_dag(2)
    plan, theta, x, y = problem(net, seed=2)
    frozen_id = plan.edge_ids[0]
    net.set_edge_frozen(frozen_id, True)
    plan = compile_plan(net)
    rows = np.arange(0, 40, 3)
    arrows = arrows_at(plan, exact_plane(plan, theta, 1, 2), theta, (x, y), "mse",
                       (x[rows], y[rows]))
    trained = np.arange(1, theta.size)  # edge 0 is parameter 0 of plan.flatten
    h, full, batch = 1e-6, [], []
    for k in trained:
        e = np.zeros(theta.size)
        e[k] = h
        full.append(value(plan, theta + e, x, y) - value(plan, theta - e, x, y))
        batch.append(value(plan, theta + e, x[rows], y[rows])
                     - value(plan, theta - e, x[rows], y[rows]))
    full, batch = np.array(full), np.array(batch)
    cos = full @ batch / np.linalg.norm(full) / np.linalg.norm(batch)
    assert arrows.minibatch_angle == pytest.approx(np.degrees(np.arccos(cos)), abs=1e-3)


@pytest.mark.parametrize("seed", range(40))
def test_clipping_keeps_exactly_the_part_of_the_segment_inside_the_view(seed):
    rng = np.random.default_rng(seed)
    view = (-1.0, 2.0, -0.5, 1.5)
    start = rng.uniform(-3, 4, 2)
    vector = rng.normal(size=2) * rng.choice([0.1, 1.0, 10.0])
    if seed % 7 == 0:
        vector[seed % 2] = 0.0  # along an axis
    t = np.linspace(0, 1, 20001)
    pts = start + t[:, None] * vector
    inside = (pts[:, 0] >= view[0]) & (pts[:, 0] <= view[1]) & \
        (pts[:, 1] >= view[2]) & (pts[:, 1] <= view[3])
    got = clip_segment(start, vector, view)
    if not inside.any():
        assert got is None or np.allclose(got[0], got[1], atol=1e-3 * np.linalg.norm(vector))
        return
    first, last = pts[inside][0], pts[inside][-1]
    step = np.linalg.norm(vector) / 20000
    assert got is not None
    np.testing.assert_allclose(got[0], first, atol=2 * step + 1e-12)
    np.testing.assert_allclose(got[1], last, atol=2 * step + 1e-12)
