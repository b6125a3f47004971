"""The loss-surface panel on a recurrent project (issue 17), through the window's real widgets:
an Elman net on the echo sequences. The grid against the engine's sequence loss at its points,
the path, the arrows against differences of the sequence loss's value
(tests/core/test_surface_sequences.py), the minibatch of sequences, the race, and a journey
from the recurrent project to a feed-forward one and back through Undo."""
from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import Qt

from core.batch_loss import sample_of
from core.engine.recurrent import sequence_loss
from core.project import Project
from core.settings import DataSettings, TrainingSettings
from core.templates import layered, xor
from core.training.race import PLANE_NEWTON
from tests.core.test_surface_sequences import restricted
from tests.gui.conftest import opened, wait_until
from tests.gui.test_surface_arrows import arrows_for_now, step


def elman_project(kind="every", batch=8) -> Project:
    """layered([1, 4, 1]) with delayed hidden -> hidden edges, on echo (12 steps)."""
    net = layered([1, 4, 1], hidden="tanh", output="identity")
    hidden = [n.id for n in net.neurons.values() if n.role == "hidden"]
    for a in hidden:
        for b in hidden:
            net.connect(a, b, delay=1)
    rng = np.random.default_rng(0)
    net.set_values({e: float(rng.normal(scale=0.5)) for e in net.edges}, {})
    return Project(net, DataSettings(generator="echo", samples=40, task="regression",
                                     sequence_length=12),
                   TrainingSettings(loss="mse", learning_rate=0.05, batch_size=batch,
                                    sequence_loss=kind))


def grid_ready(panel):
    wait_until(lambda: panel.plane is not None and panel.z is not None and
               panel._future is None, 20000)


@pytest.mark.parametrize("kind", ["every", "last"])
def test_an_elman_net_gets_its_grid_path_arrows_and_loss_here(window, kind):
    w = opened(window, elman_project(kind), "elman")
    panel, live = w.training.surface_panel, w.training.live
    grid_ready(panel)
    assert live.data.is_sequence and live.plan.recurrent
    x, y, mask = sample_of(panel.plan, live.data)
    a0, a1, b0, b1 = panel.extent
    alphas = np.linspace(a0, a1, panel.z.shape[1])
    betas = np.linspace(b0, b1, panel.z.shape[0])
    for j, i in [(0, 0), (7, 19), (panel.z.shape[0] - 1, panel.z.shape[1] - 1)]:
        theta = panel.plane.point(alphas[i], betas[j])
        expected = sequence_loss(panel.plan, panel.plan.unflatten(theta), x, y, mask, "mse",
                                 kind)
        assert panel.z[j, i] == pytest.approx(expected, rel=1e-4)
    step(w, 20)
    wait_until(lambda: panel.path.getData()[0] is not None
               and len(panel.path.getData()[0]) > 2, 10000)
    arrows = arrows_for_now(panel, live)
    g, h = restricted(panel.plan, live.theta(), panel.plane.d1, panel.plane.d2, x, y, mask,
                      kind)
    np.testing.assert_allclose(arrows.descent, -g, rtol=1e-5, atol=1e-9)
    np.testing.assert_allclose(arrows.curvature.hessian, h, rtol=1e-3, atol=1e-6)
    assert panel.arrows.drawn("descent") is not None
    assert "steepest descent" in panel.arrows.figures.text()
    here = sequence_loss(panel.plan, panel.plan.unflatten(live.theta()), x, y, mask, "mse", kind)
    wait_until(lambda: f"loss here {here:.4g} " in panel.info.text(), 20000)
    assert "No surface" not in panel.info.text()
    assert {"every": "The loss at every step of each sequence.",
            "last": "The loss at each sequence's last step."}[kind] in panel.info.text()
    for mode in ("pca", "random"):  # the other planes, through the panel's own choice
        panel.mode.setCurrentIndex(panel.mode.findData(mode))
        wait_until(lambda: panel.plane is not None and panel.plane.kind == mode and
                   panel._future is None and panel.z is not None, 20000)
        a0, a1, b0, b1 = panel.extent
        theta = panel.plane.point(a1, b0)
        assert panel.z[0, -1] == pytest.approx(sequence_loss(
            panel.plan, panel.plan.unflatten(theta), x, y, mask, "mse", kind), rel=1e-4)
        arrows = arrows_for_now(panel, live)
        assert np.all(np.isfinite(arrows.curvature.hessian))


def test_the_minibatch_of_sequences_and_its_surface(window, qtbot):
    w = opened(window, elman_project(batch=5), "elman")
    panel, live = w.training.surface_panel, w.training.live
    qtbot.mouseClick(panel.arrows.show_minibatch, Qt.LeftButton)
    for _ in range(3):
        step(w, 1)
    report = live.minibatch()
    assert list(report.checked) == [1, 2, 3] and len(report.rows) == 5
    arrows_for_now(panel, live)
    wait_until(lambda: panel.arrows.arrows.minibatch is not None, 10000)
    batch = sample_of(panel.plan, live.data, report.rows)
    g_batch, _ = restricted(panel.plan, live.theta(), panel.plane.d1, panel.plane.d2, *batch,
                            "every")
    np.testing.assert_allclose(panel.arrows.arrows.minibatch, g_batch, rtol=1e-5, atol=1e-9)
    assert "5 sequences, step 3" in panel.arrows.figures.text()
    assert "checked steps" in panel.arrows.figures.text()
    panel.arrows.surface_of.setCurrentIndex(panel.arrows.surface_of.findData("minibatch"))
    wait_until(lambda: panel._grid_batch == 3 and panel._future is None, 20000)
    a0, a1, b0, b1 = panel.extent
    theta = panel.plane.point(a1, b1)
    assert panel.z[-1, -1] == pytest.approx(
        sequence_loss(panel.plan, panel.plan.unflatten(theta), *batch, "mse"), rel=1e-4)
    assert "Surface of the last minibatch (step 3, 5 sequences)" in panel.info.text()


def test_another_sequence_loss_is_drawn_at_once_and_undone(window):
    """training.sequence_loss changed (an undoable settings edit): the grid, "loss here" and
    the arrows are of the new loss; Undo brings the old one back."""
    from dataclasses import replace

    w = opened(window, elman_project("every"), "elman")
    panel, live = w.training.surface_panel, w.training.live
    grid_ready(panel)
    x, y, mask = sample_of(panel.plan, live.data)

    def drawn_is(kind):
        if panel._future is not None or panel.sequences[1] != kind:
            return False
        a0, _, b0, _ = panel.extent
        theta = panel.plane.point(a0, b0)
        want = sequence_loss(panel.plan, panel.plan.unflatten(theta), x, y, mask, "mse", kind)
        return abs(panel.z[0, 0] - want) <= 1e-4 * want

    assert drawn_is("every")
    w.training._on_settings_edited("training", replace(w.project.training, sequence_loss="last"))
    wait_until(lambda: drawn_is("last"), 20000)
    here = sequence_loss(panel.plan, panel.plan.unflatten(live.theta()), x, y, mask, "mse", "last")
    wait_until(lambda: f"loss here {here:.4g} " in panel.info.text(), 20000)
    arrows = arrows_for_now(panel, live)
    g, _ = restricted(panel.plan, live.theta(), panel.plane.d1, panel.plane.d2, x, y, mask,
                      "last")
    wait_until(lambda: np.allclose(panel.arrows.arrows.descent, -g, rtol=1e-5, atol=1e-9),
               10000)
    w.undo_action.trigger()
    assert w.project.training.sequence_loss == "every"
    wait_until(lambda: drawn_is("every"), 20000)


def race_done(panel):
    wait_until(lambda: panel._race_future is None and panel.race_layer.racers, 60000)


def test_journey_recurrent_race_then_a_feed_forward_project_and_undo(window, qtbot):
    w = opened(window, elman_project(), "elman")
    panel, live = w.training.surface_panel, w.training.live
    grid_ready(panel)
    step(w, 10)
    panel.race_steps.setValue(15)
    qtbot.mouseClick(panel.race_button, Qt.LeftButton)
    race_done(panel)
    racers = panel.race_layer.racers
    assert [r.optimizer for r in racers][-1] == PLANE_NEWTON
    assert all(r.thetas.shape == (16, len(live.theta())) and r.diverged is None
               for r in racers)
    np.testing.assert_allclose(racers[0].thetas[0], live.theta())  # from the current weights
    wait_until(lambda: len(panel.race_layer.items) == 2 * len(racers), 20000)
    assert "No race" not in panel.info.text()
    legend = panel.race_layer.legend  # every racer named, none cut off at the plot's edge
    assert [label.text.split(":")[0] for _, label in legend.items] == \
        [r.optimizer for r in racers]
    room = panel.plot.getPlotItem().vb.width()
    assert legend.boundingRect().width() <= room or legend.columnCount == 1
    # a feed-forward project: nothing of the recurrent one stays
    opened(w, xor(), "XOR")
    assert panel.race_layer.racers == [] and panel.race_layer.items == []
    grid_ready(panel)
    assert len(panel.plane.center) == 9 and panel.xy[0].ndim == 2
    arrows_for_now(panel, live)
    step(w, 5)
    # back to the recurrent one, trained from the window, then undone
    opened(w, elman_project(), "elman again")
    grid_ready(panel)
    start = live.theta().copy()
    step(w, 5)
    w.controller.pause() if w.controller.running else None
    wait_until(lambda: w.undo_stack.count() == 1, 10000)
    assert not np.allclose(live.theta(), start)
    w.undo_action.trigger()
    wait_until(lambda: np.allclose(live.theta(), start), 20000)
    arrows = arrows_for_now(panel, live)
    assert len(arrows.curvature.gradient) == 2 and np.all(np.isfinite(arrows.curvature.hessian))


def test_a_loss_that_overflows_on_part_of_the_plane_is_drawn_as_the_highest(window):
    """A linear neuron feeding itself over 200 steps: round its self-loop of 1.5 the loss
    overflows (the state grows like w^200) at part of the grid. The panel draws those points
    as the highest finite loss, with finite colour levels (pyqtgraph's colour bar raised on
    an infinite level, an exception in the window's event loop)."""
    from core.network import Network

    net = Network()
    x = net.add_neuron("input").id
    h = net.add_neuron("hidden", "identity").id
    y = net.add_neuron("output", "identity").id
    net.connect(h, h, 1.5, delay=1)  # the self-loop first: the exact plane's first parameter
    net.connect(x, h, 0.01)
    net.connect(h, y, 1.0)
    project = Project(net, DataSettings(generator="echo", samples=20, task="regression",
                                        sequence_length=200),
                      TrainingSettings(loss="mse", learning_rate=0.01, batch_size=4))
    w = opened(window, project, "overflow")
    panel = w.training.surface_panel
    grid_ready(panel)
    assert not np.isfinite(panel.z).all() and np.isfinite(panel.z).any()
    levels = panel.image.getLevels()
    assert np.all(np.isfinite(levels))
    finite = panel.z[np.isfinite(panel.z)]
    assert levels[1] == pytest.approx(np.log10(finite.max()), rel=1e-5)
