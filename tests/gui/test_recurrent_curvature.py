"""Curvature on a recurrent net through the real window: the Sharpness panel's estimates on an
Elman net trained on sequences, each equal to the top eigenvalue of the loss through time
recomputed here at the parameters of its step; Newton's method chosen in the settings panel
training the same net, each step -(H + lambda I)^-1 g with H and g from differences of the
loss value worked here."""
from __future__ import annotations

import numpy as np
import pytest

from core.curvature import TrainingLoss, top_eigenvalues
from core.engine import compile_plan
from core.engine.recurrent import sequence_loss
from core.project import Project
from core.settings import DataSettings, TrainingSettings
from core.templates import layered
from tests.core.test_recurrent_curvature import value_gradient, value_hessian
from tests.gui.conftest import opened, wait_until
from tests.gui.test_sharpness import estimates, kept, panel, run_until, shown, show, theta_at


def elman_on(training: TrainingSettings, generator: str = "echo") -> Project:
    """1-3-1 Elman net (tanh; every hidden neuron fed by every one a step earlier) on a
    sequence generator's data, 8 steps a sequence: 25 parameters."""
    net = layered([1, 3, 1], hidden="tanh", output="identity")
    hidden = [n.id for n in net.neurons.values() if n.role == "hidden"]
    rng = np.random.default_rng(0)
    net.set_values({e: float(rng.normal(0, 0.7)) for e in net.edges}, {})
    net.connect_many([(a, b) for a in hidden for b in hidden], list(rng.normal(0, 0.5, 9)),
                     delays=[1] * 9)
    return Project(net, DataSettings(generator=generator, samples=30, task="regression",
                                     sequence_length=8), training)


def loss_through_time(w) -> TrainingLoss:
    live = w.training.live
    plan, data, s = live.plan, live.data, live.settings
    return TrainingLoss(plan, data.x_train, data.y_train, s.loss, s.l1, s.l2, data.mask_train,
                        s.sequence_loss)


def test_the_sharpness_panel_on_an_elman_net_draws_the_top_eigenvalue_through_time(window):
    w = opened(window, elman_on(TrainingSettings(
        optimizer="sgd", learning_rate=0.05, batch_size=0, sequence_loss="last")), "elman")
    show(w)
    run_until(w, lambda p: estimates(p) >= 4)
    report = w.controller.latest.sharpness
    steps, values = shown(w)
    np.testing.assert_array_equal(steps, report.steps)
    np.testing.assert_array_equal(values, report.values)
    assert report.problem == "" and report.unit == "sequences"
    checked = kept(w, steps)
    assert checked == [int(s) for s in steps]  # a paced run: the path holds every step
    f = loss_through_time(w)
    for step in checked[:3]:
        theta = theta_at(w, step)
        expected = top_eigenvalues(f, theta, 1, tol=1e-10)[0]
        assert values[list(steps).index(step)] == pytest.approx(expected, rel=1e-4)
    # and once against NumPy's eigenvalues of second differences of the loss value
    live, data = w.training.live, w.training.live.data
    h = value_hessian(live.plan, theta_at(w, checked[0]), data.x_train, data.y_train,
                      data.mask_train, "mse", "last")
    assert values[0] == pytest.approx(np.linalg.eigvalsh(h)[-1], rel=1e-4)
    text = panel(w).summary.text()
    assert f"at step {int(steps[-1]):,}" in text and "training sequences" in text
    assert "not computed" not in text


def test_newton_chosen_in_the_settings_panel_trains_an_elman_net(window):
    w = opened(window, elman_on(TrainingSettings(
        optimizer="sgd", batch_size=0, damping=0.1, adapt_damping=False), "sine_next"), "elman")
    combo = w.training.settings.widgets[("training", "optimizer")]
    combo.activated.emit(combo.findText("newton"))
    w.training.settings.widgets[("training", "learning_rate")].setValue(1.0)
    assert (w.project.training.optimizer, w.project.training.learning_rate) == ("newton", 1.0)
    net, data = w.project.network, w.training.live.data
    plan = compile_plan(net)
    args = (data.x_train, data.y_train, data.mask_train, "mse", "every")
    before = plan.flatten(plan.pack(net))
    w.controller.step(1)
    wait_until(lambda: w.controller.latest is not None and w.controller.latest.step == 1, 20000)
    after = plan.flatten(plan.pack(net))
    h, g = value_hessian(plan, before, *args), value_gradient(plan, before, *args)
    np.testing.assert_allclose(after, before - np.linalg.solve(h + 0.1 * np.eye(len(h)), g),
                               rtol=1e-5, atol=1e-7)
    w.training.settings.widgets[("training", "adapt_damping")].setChecked(True)
    assert w.project.training.adapt_damping
    w.controller.step(14)
    wait_until(lambda: w.controller.latest.step == 15, 20000)
    trained = plan.flatten(plan.pack(net))

    assert sequence_loss(plan, plan.unflatten(trained), *args) < \
        0.25 * sequence_loss(plan, plan.unflatten(before), *args)
    assert "Newton" not in w.statusBar().currentMessage()  # no refusal
