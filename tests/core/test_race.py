"""Optimiser race: same start, same batches, each racer's path equal to its update rule worked
here with the engine's gradients (not the optimiser classes)."""
import numpy as np
import pytest

from core.data.dataset import make_dataset
from core.engine import compile_plan, loss_and_gradients
from core.curvature import curvature_of
from core.training.race import PLANE_NEWTON, SADDLE_FLOOR, RaceError, plane_step, race
from core.settings import DataSettings, TrainingSettings
from core.templates import chain, xor


def full_batch_gradient(net, plan, theta, data, loss):
    """The engine's gradient, zero where the document freezes the parameter."""
    _, g = loss_and_gradients(plan, plan.unflatten(theta), data.x_train, data.y_train, loss)
    frozen = [net.neurons[name[5:]].frozen if name.startswith("bias:") else
              net.edges[name].frozen for name in plan.parameter_names()]
    return np.where(frozen, 0.0, np.concatenate([plan.edge_vector(g.weights),
                                                 g.biases[plan.bias_rows]]))


def test_paths_start_together_and_follow_their_rules():
    project = chain()
    data = make_dataset(project.data)
    settings = project.training
    settings.batch_size = 0  # full batch: every racer sees the same data every step
    settings.learning_rate = 0.05
    racers = race(project.network, data, settings, 25, ("sgd", "momentum", "adam"))
    plan = compile_plan(project.network)
    start = plan.flatten(plan.pack(project.network))
    by_name = {r.optimizer: r for r in racers}
    for r in racers:
        assert r.thetas.shape == (26, len(start)) and r.diverged is None
        np.testing.assert_array_equal(r.thetas[0], start)
        assert r.parameter_names == tuple(plan.parameter_names())
    # SGD: theta <- theta - lr g
    theta = start.copy()
    for k in range(25):
        theta = theta - 0.05 * full_batch_gradient(project.network, plan, theta, data, settings.loss)
        np.testing.assert_allclose(by_name["sgd"].thetas[k + 1], theta, rtol=1e-12, atol=1e-14)
    # Adam, Kingma and Ba's Algorithm 1
    theta, m, v = start.copy(), np.zeros_like(start), np.zeros_like(start)
    b1, b2, eps = settings.beta1, settings.beta2, settings.epsilon
    for t in range(1, 26):
        g = full_batch_gradient(project.network, plan, theta, data, settings.loss)
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        theta = theta - 0.05 * (m / (1 - b1**t)) / (np.sqrt(v / (1 - b2**t)) + eps)
    np.testing.assert_allclose(by_name["adam"].thetas[-1], theta, rtol=1e-10, atol=1e-12)
    # The paths differ, and the document was not touched
    assert not np.allclose(by_name["sgd"].thetas[-1], by_name["momentum"].thetas[-1])
    np.testing.assert_array_equal(plan.flatten(plan.pack(project.network)), start)


def test_minibatches_are_the_same_for_every_racer():
    project = xor()
    project.data = DataSettings(generator="xor", samples=64, noise=0.1) \
        if project.data.generator != "xor" else project.data
    data = make_dataset(project.data)
    project.training.batch_size = 4
    a, b = race(project.network, data, project.training, 10, ("sgd", "sgd"))
    np.testing.assert_array_equal(a.thetas, b.thetas)
    np.testing.assert_array_equal(a.losses, b.losses)


def test_a_diverging_racer_stops_with_its_reason_and_keeps_its_path():
    project = chain()
    data = make_dataset(project.data)
    project.training.learning_rate = 1e6
    project.training.batch_size = 0
    (racer,) = race(project.network, data, project.training, 50, ("sgd",))
    assert racer.diverged and "step" in racer.diverged
    assert 1 <= len(racer.thetas) < 51 and np.isfinite(racer.thetas).all()


def test_refusals():
    project = chain()
    data = make_dataset(project.data)
    with pytest.raises(RaceError, match="between 1 and"):
        race(project.network, data, project.training, 0)
    with pytest.raises(RaceError, match="unknown optimiser"):
        race(project.network, data, project.training, 5, ("sgd", "lbfgs"))
    wrong = xor().network  # two inputs against the chain's one-input data
    with pytest.raises(RaceError):
        race(wrong, data, project.training, 5)


def test_newton_on_the_plane_lands_on_the_planes_minimum_in_one_step():
    """Linear regression with squared error is exactly quadratic: on the plane of the two
    weights (bias held) the minimum solves 2x2 normal equations, worked here."""
    from tests.core.test_newton import regression

    net, data = regression(n=30)
    plan = compile_plan(net)
    start = plan.flatten(plan.pack(net))
    d1, d2 = np.eye(len(start))[0], np.eye(len(start))[1]  # the exact plane of w1, w2
    settings = TrainingSettings(batch_size=0, learning_rate=0.01)
    sgd, newton = race(net, data, settings, 3, ("sgd",), plane=(d1, d2))
    assert newton.optimizer == PLANE_NEWTON and newton.diverged is None
    x, y = data.x_train, data.y_train - start[2]  # the bias held at its start
    best = np.linalg.solve(x.T @ x, x.T @ y).ravel()
    np.testing.assert_allclose(newton.thetas[1], [*best, start[2]], rtol=1e-6)
    np.testing.assert_allclose(newton.thetas[2:], newton.thetas[1:2].repeat(2, 0), rtol=1e-9)
    assert newton.losses[1] < sgd.losses[-1]  # where SGD is still crossing the valley


def test_newton_on_a_saddle_goes_downhill_where_plain_newton_would_climb():
    """H = diag(2, -1), g = (1, 1): Newton's -H^-1 g = (-0.5, +1) climbs the second
    direction towards the saddle point; the damped step -|H|^-1 g = (-0.5, -1) descends it."""
    pc = curvature_of(np.array([1.0, 1.0]), np.array([[2.0, 0.0], [0.0, -1.0]]))
    np.testing.assert_allclose(plane_step(pc), [-0.5, -1.0])
    flat_one_way = curvature_of(np.array([1.0, 1.0]), np.array([[4.0, 0.0], [0.0, 0.0]]))
    np.testing.assert_allclose(plane_step(flat_one_way), [-0.25, -1.0 / (SADDLE_FLOOR * 4.0)])
    bowl = curvature_of(np.array([1.0, 1.0]), np.array([[2.0, 0.0], [0.0, 4.0]]))
    np.testing.assert_allclose(plane_step(bowl), [-0.5, -0.25])


def test_a_frozen_parameter_on_the_plane_stays_and_a_stale_plane_is_refused():
    project = chain()
    data = make_dataset(project.data)
    net = project.network
    first = sorted(net.edges)[0]
    net.set_edge_frozen(first, True)
    plan = compile_plan(net)
    start = plan.flatten(plan.pack(net))
    i = plan.parameter_names().index(first)
    d1, d2 = np.eye(len(start))[i], np.eye(len(start))[1 - i]
    racer = race(net, data, project.training, 5, ("sgd",), plane=(d1, d2))[1]
    assert np.all(racer.thetas[:, i] == start[i]) and racer.thetas[-1, 1 - i] != start[1 - i]
    with pytest.raises(RaceError, match="Re-slice"):
        race(net, data, project.training, 5, ("sgd",), plane=(d1[:-1], d2[:-1]))
