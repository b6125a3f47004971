"""The loss surface on sequence data (issue 17): the grid, "loss here", the arrows (gradient,
2x2 Hessian, Newton's step), the race and the minibatch probe of an Elman net, each against a
computation that does not share its method: the engine's sequence_loss at each point, and
first and second differences of that loss's VALUE for the gradient and Hessian on the plane,
-H^-1 g solved here."""
from __future__ import annotations

import numpy as np
import pytest

from core.batch_loss import loss_on, sample_of
from core.data.dataset import Dataset
from core.engine import compile_plan
from core.engine.recurrent import sequence_loss
from core.settings import TrainingSettings
from core.surface import (arrows_at, exact_plane, grid_losses, loss_at, pca_plane,
                          random_plane)
from core.training.minibatch_probe import MinibatchProbe
from core.training.race import PLANE_NEWTON, SADDLE_FLOOR, race
from core.training.trainer import Trainer
from tests.core.test_sequence_plane import elman


def echo(n=24, t=8, seed=0, padded=True) -> Dataset:
    """Target: the input two steps back; some sequences shorter (padded, masked)."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, t, 1))
    y = np.concatenate([np.zeros((n, 2, 1)), x[:, :-2]], axis=1)
    mask = np.arange(t)[None, :] < rng.integers(2, t + 1, n)[:, None] if padded else None
    k = 3 * n // 4
    return Dataset(x[:k], y[:k], x[k:], y[k:], "regression", ["x"], ["y"],
                   mask_train=None if mask is None else mask[:k],
                   mask_test=None if mask is None else mask[k:])


def value(plan, theta, x, y, mask, kind, loss="mse") -> float:
    return sequence_loss(plan, plan.unflatten(theta), x, y, mask, loss, kind)


def restricted(plan, theta, d1, d2, x, y, mask, kind, h=1e-4):
    """Gradient and Hessian of phi(a, b) = L(theta + a d1 + b d2) at 0 by central first and
    second differences of the loss's value."""
    def phi(a, b):
        return value(plan, theta + a * d1 + b * d2, x, y, mask, kind)

    g = np.array([(phi(h, 0) - phi(-h, 0)) / (2 * h), (phi(0, h) - phi(0, -h)) / (2 * h)])
    f0 = phi(0, 0)
    haa = (phi(h, 0) - 2 * f0 + phi(-h, 0)) / h**2
    hbb = (phi(0, h) - 2 * f0 + phi(0, -h)) / h**2
    hab = (phi(h, h) - phi(h, -h) - phi(-h, h) + phi(-h, -h)) / (4 * h * h)
    return g, np.array([[haa, hab], [hab, hbb]])


def setup(seed=0):
    net = elman(hidden=4, seed=seed)
    plan = compile_plan(net)
    return net, plan, plan.flatten(plan.pack(net))


def planes(plan, theta, rng):
    path = theta + np.cumsum(0.1 * rng.normal(size=(6, theta.size)), axis=0)
    return [exact_plane(plan, theta, 1, len(plan.edge_ids) - 1),  # an input and a delayed weight
            random_plane(plan, theta, rng), pca_plane(path)]


@pytest.mark.parametrize("kind", ["every", "last"])
def test_grid_and_loss_here_equal_the_engines_sequence_loss(kind):
    net, plan, theta = setup()
    data = echo()
    x, y, mask = sample_of(plan, data)
    rng = np.random.default_rng(1)
    alphas, betas = np.linspace(-1, 1, 4), np.linspace(-0.5, 0.5, 3)
    for plane in planes(plan, theta, rng):
        for dtype, rtol in ((np.float64, 1e-12), (np.float32, 1e-4)):
            z = grid_losses(plan, plane, alphas, betas, x, y, "mse", dtype=dtype, mask=mask,
                            sequence_loss=kind)
            want = [[value(plan, plane.point(a, b), x, y, mask, kind) for a in alphas]
                    for b in betas]
            np.testing.assert_allclose(z, want, rtol=rtol)
        here = plane.point(0.3, -0.2)
        assert loss_at(plan, here, x, y, "mse", mask, kind) == pytest.approx(
            value(plan, here, x, y, mask, kind), rel=1e-14)


def test_the_random_plane_normalises_the_delayed_edges_too():
    """Each direction's block of a neuron's incoming weights, delayed ones included, has the
    norm of that neuron's weights (Li et al.'s filter normalisation, before QR)."""
    net, plan, theta = setup()
    plane = random_plane(plan, theta, np.random.default_rng(0))
    delayed = plan.delayed.edge_pos
    assert np.all(np.isfinite(plane.d1)) and np.any(plane.d1[delayed] != 0)
    assert np.all(plane.d1[len(plan.edge_ids):] == 0)  # biases are left still


@pytest.mark.parametrize("kind", ["every", "last"])
@pytest.mark.parametrize("seed", range(3))
def test_arrows_equal_differences_of_the_sequence_loss_and_newton_is_minus_h_inverse_g(seed, kind):
    net, plan, theta = setup(seed)
    data = echo(seed=seed)
    x, y, mask = sample_of(plan, data)
    for plane in planes(plan, theta, np.random.default_rng(seed)):
        arrows = arrows_at(plan, plane, theta, (x, y, mask), "mse", sequence_loss=kind)
        g, h = restricted(plan, theta, plane.d1, plane.d2, x, y, mask, kind)
        c = arrows.curvature
        np.testing.assert_allclose(c.gradient, g, rtol=1e-6, atol=1e-9)
        np.testing.assert_allclose(c.hessian, h, rtol=1e-4, atol=1e-6)
        np.testing.assert_allclose(arrows.here, plane.coordinates(theta)[0], atol=1e-12)
        if c.shape == "bowl":
            np.testing.assert_allclose(c.newton, -np.linalg.solve(h, g), rtol=1e-3, atol=1e-7)


def test_the_hessian_on_the_plane_is_exact_on_a_quadratic():
    """Two output weights under squared error: the loss is quadratic in them, so central
    differences of the exact gradient give its Hessian to rounding, 2/N sum of the hidden
    outputs' products (worked out here from the engine's forward pass)."""
    from core.engine.recurrent import sequence_forward

    net, plan, theta = setup()
    data = echo(padded=False)
    x, y, _ = sample_of(plan, data)
    out = plan.row[net.outputs[0].id]
    into = [i for i, e in enumerate(plan.edge_ids) if plan.row[net.edges[e].target] == out]
    plane = exact_plane(plan, theta, into[0], into[1])
    c = arrows_at(plan, plane, theta, (x, y, None), "mse").curvature
    a = sequence_forward(plan, plan.unflatten(theta), x).a
    h1, h2 = (a[plan.row[net.edges[plan.edge_ids[i]].source]] for i in into[:2])
    n = h1.size
    want = 2.0 / n * np.array([[h1 @ h1, h1 @ h2], [h2 @ h1, h2 @ h2]])
    np.testing.assert_allclose(c.hessian, want, rtol=1e-8)


def test_the_minibatch_arrow_is_the_minibatch_sequences_gradient():
    net, plan, theta = setup()
    data = echo()
    sample = sample_of(plan, data)
    rows = np.array([0, 3, 5])
    batch = sample_of(plan, data, rows)
    plane = exact_plane(plan, theta, 0, 2)
    arrows = arrows_at(plan, plane, theta, sample, "mse", batch)
    g_batch, _ = restricted(plan, theta, plane.d1, plane.d2, *batch, "every")
    np.testing.assert_allclose(arrows.minibatch, g_batch, rtol=1e-6, atol=1e-9)
    assert arrows.batch_size == 3
    full = loss_on(plan, sample[0], sample[1], "mse", sample[2]).gradient(theta)
    part = loss_on(plan, batch[0], batch[1], "mse", batch[2]).gradient(theta)
    cos = full @ part / np.linalg.norm(full) / np.linalg.norm(part)
    assert arrows.minibatch_angle == pytest.approx(np.degrees(np.arccos(cos)), abs=1e-9)


def test_the_penalty_is_in_the_plane_in_closed_form():
    net, plan, theta = setup()
    x, y, mask = sample_of(plan, echo())
    plane = exact_plane(plan, theta, 0, 1)
    plain = loss_on(plan, x, y, "mse", mask).plane(theta, plane.d1, plane.d2)
    g, h = loss_on(plan, x, y, "mse", mask, l1=0.1, l2=0.3).plane(theta, plane.d1, plane.d2)
    w = theta[:2]
    np.testing.assert_allclose(g, plain[0] + 0.1 * np.sign(w) + 0.3 * w, rtol=1e-12)
    np.testing.assert_allclose(h, plain[1] + 0.3 * np.eye(2), rtol=1e-12)


def race_settings(**changes) -> TrainingSettings:
    s = TrainingSettings(loss="mse", learning_rate=0.05, batch_size=0, sequence_loss="every")
    for k, v in changes.items():
        setattr(s, k, v)
    return s


def test_the_race_on_an_elman_net_follows_each_rule_on_the_sequence_loss():
    """Full batch: SGD's path is theta - lr * the BPTT gradient of the masked loss, step by
    step; Newton on the plane moves along the plane only, by -H^-1 g of the differences here."""
    net, plan, theta = setup()
    data = echo()
    x, y, mask = plan.inputs_from(data.x_train), data.y_train, data.mask_train
    plane = exact_plane(plan, theta, 0, len(plan.edge_ids) + 1)  # a weight and a bias
    racers = race(net, data, race_settings(), 5, ("sgd", "adam"), (plane.d1, plane.d2))
    by_name = {r.optimizer: r for r in racers}
    assert [r.diverged for r in racers] == [None, None, None]
    f = loss_on(plan, x, y, "mse", mask)
    point = theta.copy()
    for k in range(5):
        point = point - 0.05 * f.gradient(point)
        np.testing.assert_allclose(by_name["sgd"].thetas[k + 1], point, rtol=1e-10, atol=1e-12)
    newton = by_name[PLANE_NEWTON].thetas
    g, h = restricted(plan, theta, plane.d1, plane.d2, x, y, mask, "every")
    # -H^-1 g where H is a bowl, else every curvature taken by its size (race's module note)
    values, vectors = np.linalg.eigh(h)
    sizes = np.maximum(np.abs(values), SADDLE_FLOOR * np.abs(values).max())
    step = -np.linalg.solve(h, g) if values.min() > 0 else -vectors @ ((vectors.T @ g) / sizes)
    np.testing.assert_allclose(newton[1] - theta, step[0] * plane.d1 + step[1] * plane.d2,
                               rtol=1e-4, atol=1e-8)
    assert by_name[PLANE_NEWTON].losses[0] == pytest.approx(value(plan, theta, x, y, mask,
                                                                  "every"))


def test_racers_share_their_minibatches_of_sequences():
    net, plan, theta = setup()
    data = echo()
    a, b = race(net, data, race_settings(batch_size=4, sequence_loss="last"), 8, ("sgd", "sgd"))
    np.testing.assert_array_equal(a.thetas, b.thetas)
    assert not np.allclose(a.thetas[1], a.thetas[-1])


def test_the_minibatch_probe_on_sequences_judges_steps_by_the_sequence_loss():
    net, plan, theta = setup()
    data = echo(n=40)
    settings = race_settings(batch_size=3, learning_rate=0.2, sequence_loss="last")
    trainer = Trainer(net.copy(), data, settings)
    probe = MinibatchProbe(keep=30)
    x, y, mask = sample_of(plan, data)
    verdicts = []
    for _ in range(30):
        trainer.prepare()
        before = trainer.plan.flatten(trainer.params).astype(float)
        probe.step(trainer)
        after = trainer.plan.flatten(trainer.params).astype(float)
        verdicts.append(value(plan, after, x, y, mask, "last") <
                        value(plan, before, x, y, mask, "last"))
    report = probe.report(trainer)
    assert list(report.downhill) == verdicts
    assert 0 < report.share < 1  # so a wrong verdict would show
    assert report.sample_rows == len(data.x_train)
    assert len(report.rows) == 3 and report.rows.max() < len(data.x_train)  # sequences
    trainer.close()
