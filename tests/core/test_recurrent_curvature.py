"""Curvature on sequence data (a recurrent net's loss through time), held to computations that
do not share its method: a one-neuron self-loop worked by hand, second differences of the loss
VALUE (core.engine.recurrent.sequence_loss, never the gradient), NumPy's eigenvalues of that
matrix, and Newton's step -(H + lambda I)^-1 g solved here from those differences; then the
command line, the Trainer's Newton and the sharpness watch on an Elman net."""
from __future__ import annotations

import io
from dataclasses import replace

import numpy as np
import pytest

from core import cli
from core.curvature import TrainingLoss, spectrum, top_eigenvalues
from core.engine import compile_plan
from core.engine.recurrent import sequence_loss, sequence_loss_and_gradients
from core.network import Network
from core.project import Project, save_project
from core.settings import TrainingSettings
from core.training.sharpness import SEQUENCE_STEP_LIMIT, SharpnessWatch
from core.training.trainer import Trainer
from tests.core.test_recurrent_training import echo_data, elman


def value_hessian(plan, theta, x, y, mask, loss, kind, h=1e-4) -> np.ndarray:
    """Second differences of the loss value through time: an independent Hessian."""
    def value(t):
        return sequence_loss(plan, plan.unflatten(t), x, y, mask, loss, kind)

    n = theta.size
    out = np.empty((n, n))
    for i in range(n):
        for j in range(i, n):
            pp, pm, mp, mm = (theta.copy() for _ in range(4))
            pp[i] += h; pp[j] += h
            pm[i] += h; pm[j] -= h
            mp[i] -= h; mp[j] += h
            mm[i] -= h; mm[j] -= h
            out[i, j] = out[j, i] = (value(pp) - value(pm) - value(mp) + value(mm)) / (4 * h * h)
    return out


def value_gradient(plan, theta, x, y, mask, loss, kind, h=1e-6) -> np.ndarray:
    def value(t):
        return sequence_loss(plan, plan.unflatten(t), x, y, mask, loss, kind)
    e = np.eye(theta.size) * h
    return np.array([(value(theta + d) - value(theta - d)) / (2 * h) for d in e])


def self_loop(u: float, w: float, b: float) -> tuple[Network, str, str]:
    """input -u-> output (identity, bias b), and the output's self-loop w, delay 1."""
    net = Network()
    i = net.add_neuron("input").id
    o = net.add_neuron("output", "identity", bias=b).id
    eu = net.connect(i, o, u).id
    ew = net.connect(o, o, w, delay=1).id
    return net, eu, ew


@pytest.mark.parametrize("kind", ["every", "last"])
def test_a_self_looping_neuron_over_two_steps_by_hand(kind):
    """a1 = u x1 + b, a2 = u x2 + w a1 + b. Gradients J1 = (x1, 0, 1) and
    J2 = (x2 + w x1, a1, 1 + w) in (u, w, b); a2's only second derivatives are
    d2a2/du dw = x1 and d2a2/db dw = 1 (a1 is linear). With r_t = a_t - t_t:
    every step: L = (r1^2 + r2^2)/2, H = J1 J1^T + J2 J2^T + r2 S;
    last step:  L = r2^2,            H = 2 (J2 J2^T + r2 S)."""
    u, w, b = 0.7, -1.3, 0.4
    x1, x2, t1, t2 = 1.5, -0.8, 0.3, 2.0
    net, eu, ew = self_loop(u, w, b)
    plan = compile_plan(net)
    names = plan.parameter_names()
    order = [names.index(eu), names.index(ew), names.index(f"bias:{net.outputs[0].id}")]
    f = TrainingLoss(plan, np.array([[[x1], [x2]]]), np.array([[[t1], [t2]]]), "mse",
                     sequence_loss=kind)
    h = f.hessian(plan.flatten(plan.pack(net)))[np.ix_(order, order)]
    a1 = u * x1 + b
    a2 = u * x2 + w * a1 + b
    j1, j2 = np.array([x1, 0.0, 1.0]), np.array([x2 + w * x1, a1, 1.0 + w])
    s = np.array([[0.0, x1, 0.0], [x1, 0.0, 1.0], [0.0, 1.0, 0.0]])
    by_hand = (np.outer(j1, j1) + np.outer(j2, j2) + (a2 - t2) * s if kind == "every" else
               2 * (np.outer(j2, j2) + (a2 - t2) * s))
    np.testing.assert_allclose(h, by_hand, rtol=1e-8, atol=1e-9)


@pytest.mark.parametrize("kind", ["every", "last"])
@pytest.mark.parametrize("padded", [False, True])
def test_the_hessian_through_time_is_the_second_differences_of_the_loss(kind, padded):
    """An Elman net (tanh, every hidden neuron fed by every one a step earlier) on echo
    sequences, with and without padding (masks); symmetric, as a Hessian is."""
    lengths = [10, 7, 3, 10, 1, 9, 10, 2] * 2 if padded else None
    data = echo_data(n=16, t=10, lengths=lengths)
    plan = compile_plan(elman(hidden=3))
    theta = plan.flatten(plan.pack(elman(hidden=3)))
    f = TrainingLoss(plan, data.x_train, data.y_train, "mse", mask=data.mask_train,
                     sequence_loss=kind)
    h = f.hessian(theta)
    independent = value_hessian(plan, theta, data.x_train, data.y_train, data.mask_train,
                                "mse", kind)
    scale = np.abs(independent).max()
    np.testing.assert_allclose(h, independent, atol=1e-6 * scale)
    np.testing.assert_array_equal(h, h.T)
    # each column's two estimates of an entry (H e_i at j, H e_j at i) agree before the mean
    i, j = 2, 17
    e = np.eye(theta.size)
    assert f.hvp(theta, e[i])[j] == pytest.approx(f.hvp(theta, e[j])[i], rel=1e-6, abs=1e-9)


def test_penalties_and_top_eigenvalues_on_sequences():
    """L2 adds l2 to the weights' diagonal; Lanczos's top eigenvalues are the whole
    matrix's; an unknown sequence loss is refused by the engine in words."""
    data = echo_data(n=16, t=8)
    net = elman(hidden=4)
    plan = compile_plan(net)
    theta = plan.flatten(plan.pack(net))
    plain = TrainingLoss(plan, data.x_train, data.y_train, "mse").hessian(theta)
    f = TrainingLoss(plan, data.x_train, data.y_train, "mse", l2=0.3)
    h = f.hessian(theta)
    n_w = len(plan.edge_ids)
    np.testing.assert_allclose(h - plain, np.diag([0.3] * n_w + [0.0] * (theta.size - n_w)),
                               atol=1e-7)
    every = np.linalg.eigvalsh(h)[::-1]
    np.testing.assert_allclose(top_eigenvalues(f, theta, 3, tol=1e-10), every[:3], rtol=1e-6)
    result = spectrum(f, theta)
    np.testing.assert_allclose(result.eigenvalues, every, atol=1e-9)
    with pytest.raises(ValueError, match="unknown sequence loss"):
        TrainingLoss(plan, data.x_train, data.y_train, "mse", sequence_loss="first").value(theta)


# ----- the command line -----------------------------------------------------------------------
def recurrent_file(tmp_path, **training) -> str:
    from core.settings import DataSettings
    from core.templates import layered
    net = layered([1, 4, 1], hidden="tanh", output="identity")
    hidden = [n.id for n in net.neurons.values() if n.role == "hidden"]
    net.connect_many([(a, b) for a in hidden for b in hidden],
                     list(np.random.default_rng(0).normal(0, 0.4, 16)), delays=[1] * 16)
    project = Project(net, DataSettings(generator="echo", samples=20, task="regression",
                                        sequence_length=6),
                      TrainingSettings(**training))
    path = tmp_path / "elman.json"
    save_project(project, path)
    return str(path)


@pytest.mark.parametrize("kind", ["every", "last"])
def test_the_curvature_command_on_a_recurrent_project(tmp_path, kind):
    path = recurrent_file(tmp_path, sequence_loss=kind, l2=0.01)
    out, err = io.StringIO(), io.StringIO()
    assert cli.main(["curvature", path], out, err) == 0, err.getvalue()
    lines = out.getvalue().splitlines()
    values = np.array([float(v) for v in lines[:-1]])
    # against the file's own loss, built here from the project and its data
    from core.cli_common import load
    project, data = load(path)
    plan = compile_plan(project.network)
    theta = plan.flatten(plan.pack(project.network))
    h = value_hessian(plan, theta, data.x_train, data.y_train, data.mask_train, "mse", kind)
    h += np.diag([0.01] * len(plan.edge_ids) + [0.0] * len(plan.bias_ids))
    expected = np.linalg.eigvalsh(h)[::-1]
    assert np.all(np.diff(values) <= 0)  # largest first
    np.testing.assert_allclose(values, expected, atol=1e-5 * np.abs(expected).max())
    cond = float(lines[-1].removeprefix("condition number: "))
    assert cond == pytest.approx(np.abs(expected).max() / np.abs(expected).min(), rel=1e-3)
    assert cli.main(["curvature", path, "--top", "2"], out := io.StringIO(), err) == 0
    np.testing.assert_allclose([float(v) for v in out.getvalue().splitlines()[:2]],
                               expected[:2], rtol=1e-4)


# ----- Newton's method ------------------------------------------------------------------------
NEWTON = TrainingSettings(optimizer="newton", learning_rate=1.0, damping=0.5,
                          adapt_damping=False, batch_size=0, shuffle=False)


@pytest.mark.parametrize("kind", ["every", "last"])
def test_a_newton_step_on_sequences_is_minus_h_plus_damping_inverse_g(kind):
    """H and g from differences of the loss value through time, solved here."""
    data = echo_data(n=16, t=6, lengths=[6, 4, 6, 2] * 4)
    net = elman(hidden=3)
    trainer = Trainer(net, data, replace(NEWTON, sequence_loss=kind))
    plan = trainer.plan
    before = plan.flatten(trainer.params).copy()
    trainer.step()
    args = (plan, before, data.x_train, data.y_train, data.mask_train, "mse", kind)
    h, g = value_hessian(*args), value_gradient(*args)
    expected = before - np.linalg.solve(h + 0.5 * np.eye(len(h)), g)
    np.testing.assert_allclose(plan.flatten(trainer.params), expected, rtol=1e-5, atol=1e-7)


def test_with_truncated_bptt_newton_solves_the_full_hessian_against_the_truncated_gradient():
    """H is always the loss's (full BPTT); g is the gradient every optimiser gets, truncated
    to windows of bptt_steps, which differs from the loss's."""
    data = echo_data(n=16, t=6)
    trainer = Trainer(elman(hidden=3), data, replace(NEWTON, bptt_steps=2))
    plan = trainer.plan
    before = plan.flatten(trainer.params).copy()
    trainer.step()
    args = (plan, before, data.x_train, data.y_train, None, "mse", "every")
    _, grads = sequence_loss_and_gradients(plan, plan.unflatten(before), data.x_train,
                                           data.y_train, None, "mse", "every", bptt_steps=2)
    g = np.concatenate([plan.edge_vector(grads.weights), grads.biases[plan.bias_rows]])
    assert not np.allclose(g, value_gradient(*args), rtol=1e-3)  # truncation changes it
    expected = before - np.linalg.solve(value_hessian(*args) + 0.5 * np.eye(before.size), g)
    np.testing.assert_allclose(plan.flatten(trainer.params), expected, rtol=1e-5, atol=1e-7)


def test_newton_with_adaptive_damping_trains_an_elman_net_to_echo():
    data = echo_data(n=32, t=8)
    trainer = Trainer(elman(hidden=3), data, replace(NEWTON, adapt_damping=True, damping=0.0))
    start = trainer.evaluate().train_loss
    losses = [trainer.step().loss for _ in range(15)]
    assert all(b <= a * (1 + 1e-12) for a, b in zip(losses, losses[1:]))  # never uphill
    assert trainer.evaluate().train_loss < 0.05 * start


# ----- sharpness ------------------------------------------------------------------------------
def test_sharpness_estimates_on_sequences_are_the_top_eigenvalue_of_their_step(monkeypatch):
    monkeypatch.setenv("BACKPROP_ENGINE", "numpy")
    data = echo_data(n=24, t=8, lengths=[8, 5, 8, 3] * 6)
    trainer = Trainer(elman(hidden=3), data, TrainingSettings(
        optimizer="sgd", learning_rate=0.05, batch_size=0, sequence_loss="last"))
    watch = SharpnessWatch(every=1, share=float("inf"))
    watch.enabled = True
    seen = {}
    for block in (1, 5, 12):
        trainer.advance(block, compiled=False)
        assert watch.after_training(trainer, 0.01)
        seen[trainer.step_count] = trainer.plan.flatten(trainer.params).copy()
    report = watch.report(trainer)
    assert list(report.steps) == list(seen) and report.problem == ""
    assert (report.samples, report.total_samples, report.unit) == (18, 18, "sequences")
    for step, value in zip(report.steps, report.values):
        h = value_hessian(trainer.plan, seen[step], data.x_train, data.y_train,
                          data.mask_train, "mse", "last")
        assert value == pytest.approx(np.linalg.eigvalsh(h)[-1], rel=1e-4)


def test_long_sequences_are_represented_by_a_fixed_subsample_of_whole_ones(monkeypatch):
    monkeypatch.setenv("BACKPROP_ENGINE", "numpy")
    steps = SEQUENCE_STEP_LIMIT // 20  # so 20 sequences fit
    data = echo_data(n=40, t=steps)
    trainer = Trainer(elman(hidden=2), data, TrainingSettings(optimizer="sgd", batch_size=0))
    watch = SharpnessWatch(every=1, share=float("inf"))
    watch.enabled = True
    trainer.advance(1, compiled=False)
    watch.after_training(trainer, 0.1)
    report = watch.report(trainer)
    assert (report.samples, report.total_samples) == (20, 30)
    assert np.isfinite(report.values[-1]) and report.problem == ""
