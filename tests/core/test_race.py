"""Optimiser race: same start, same batches, each racer's path equal to its update rule worked
here with the engine's gradients (not the optimiser classes)."""
import numpy as np
import pytest

from core.data.dataset import make_dataset
from core.engine import compile_plan, loss_and_gradients
from core.training.race import RaceError, race
from core.settings import DataSettings
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
