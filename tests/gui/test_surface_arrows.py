"""The loss-surface panel's arrows, figures and minibatch choices, through the window's real
widgets: what is drawn against the gradient and -H^-1 g of the loss restricted to the plane,
worked out here from differences of the loss value (tests/core/test_surface_arrows.py), and
the minibatch surface against the minibatch's loss at the grid's points."""
from __future__ import annotations

import re

import numpy as np
import pytest
from PySide6.QtCore import Qt

from core import surface
from core.engine import loss_and_gradients
from core.templates import chain, classifier_2881, xor
from gui.live.surface_arrows import KEEP, LABEL_ROOM
from tests.core.test_surface_arrows import restricted
from tests.gui.conftest import opened, wait_until


def step(w, n: int) -> None:
    target = (w.controller.latest.step if w.controller.latest else 0) + n
    w.controller.step(n)
    wait_until(lambda: w.controller.latest is not None and w.controller.latest.step >= target,
               20000)


def arrows_for_now(panel, live):
    """Wait until the panel's arrows are those of the current weights on its current plane."""
    def ready():
        a = panel.arrows.arrows
        if a is None or panel.plane is None or panel.arrows._plane is not panel.plane:
            return False
        return np.allclose(a.here, panel.plane.coordinates(live.theta())[0], atol=1e-12)
    wait_until(lambda: panel._future is None and ready(), 15000)
    return panel.arrows.arrows


def independent(panel, live):
    """-g and the 2x2 Hessian of the loss restricted to the panel's plane at the current
    weights, by differences of the loss value on the surface's sample."""
    data, plan = live.data, panel.plan
    x, y = surface.training_sample(plan, data.x_train, data.y_train)
    g, h = restricted(plan, live.theta(), panel.plane.d1, panel.plane.d2, x, y)
    return g, h


def numbers(text: str) -> list[float]:
    return [float(t) for t in re.findall(r"-?\d+(?:\.\d+)?(?:e[+-]?\d+)?", text)]


@pytest.fixture
def chain_window(window):
    return opened(window, chain(), "chain")


def test_a_saddle_is_said_and_its_principal_directions_drawn(chain_window):
    w = chain_window
    panel, live = w.training.surface_panel, w.training.live
    arrows = arrows_for_now(panel, live)  # the chain's start: a saddle (found by hand)
    g, h = independent(panel, live)
    lo, hi = np.linalg.eigvalsh(h)
    assert lo < 0 < hi
    np.testing.assert_allclose(arrows.descent, -g, rtol=1e-5)
    text = panel.arrows.figures.text()
    assert "A saddle" in text and "Red: Newton" not in text
    line = text[text.index("A saddle"):]
    c1, c2, cond = numbers(line[line.index("curvatures"):])[:3]
    assert (c1, c2) == pytest.approx((hi, lo), rel=6e-3)  # 3 digits shown
    assert cond == pytest.approx(max(abs(lo), abs(hi)) / min(abs(lo), abs(hi)), rel=6e-3)
    assert panel.arrows.drawn("newton") is None
    for name in ("up", "down"):  # dashed lines through the point, along H's eigenvectors
        ends = panel.arrows.drawn(name)
        direction = ends[1] - ends[0]
        value = hi if name == "up" else lo
        np.testing.assert_allclose(h @ direction, value * direction, rtol=2e-3,
                                   atol=2e-3 * abs(value) * np.linalg.norm(direction))
        np.testing.assert_allclose(ends.mean(0), arrows.here, atol=1e-9)


def test_the_curvature_labels_show_where_the_plot_has_room_for_them(chain_window):
    """In a short plot (the bottom panels of a 1024x700 window) the "up"/"down" labels covered
    the surface and each other; there the lines stay and the figures under the plot say it."""
    w = chain_window
    panel, live = w.training.surface_panel, w.training.live
    arrows_for_now(panel, live)  # a saddle: up and down are drawn
    labels = panel.arrows._labels
    box = panel.plot.getViewBox()

    def plot_height(h):
        panel.plot.setMinimumHeight(h)
        panel.plot.setMaximumHeight(h)
        wait_until(lambda: abs(box.height() - (h - 40)) < 40)

    w.resize(1600, 1000)
    plot_height(260)
    wait_until(lambda: box.height() >= LABEL_ROOM and all(
        labels[n].isVisible() for n in ("up", "down")))
    assert labels["up"].toPlainText().startswith("up ")
    plot_height(90)
    wait_until(lambda: box.height() < LABEL_ROOM)
    wait_until(lambda: not any(label.isVisible() for label in labels.values()))
    assert panel.arrows.drawn("up") is not None and panel.arrows.drawn("down") is not None
    assert "A saddle" in panel.arrows.figures.text()


def test_in_a_bowl_the_red_arrow_is_minus_h_inverse_g_and_the_green_minus_g(chain_window):
    w = chain_window
    panel, live = w.training.surface_panel, w.training.live
    step(w, 150)  # full-batch steps down into the chain's valley: a bowl there
    panel.refit_button.click()
    arrows = arrows_for_now(panel, live)
    g, h = independent(panel, live)
    assert np.linalg.eigvalsh(h).min() > 0
    newton = -np.linalg.solve(h, g)
    np.testing.assert_allclose(arrows.curvature.newton, newton, rtol=1e-3)
    np.testing.assert_allclose(arrows.descent, -g, rtol=1e-5)
    red, green = panel.arrows.drawn("newton"), panel.arrows.drawn("descent")
    here = panel.plane.coordinates(live.theta())[0]
    np.testing.assert_allclose(red[0], here, atol=1e-12)
    a0, a1, b0, b1 = panel.extent
    # Newton's step itself, or a fifth of the view's shorter side when a twentieth is more
    seen = 0.2 * min(a1 - a0, b1 - b0)
    stretch = seen / np.linalg.norm(newton) if np.linalg.norm(newton) < seen / 4 else 1.0
    tip = here + stretch * newton
    if a0 <= tip[0] <= a1 and b0 <= tip[1] <= b1:  # the red arrow ends at the quadratic
        np.testing.assert_allclose(red[1], tip, rtol=1e-3, atol=1e-9)  # model's minimum
    else:  # or where the step leaves the view, on its way there
        along = (red[1] - here) @ newton / (newton @ newton)
        assert 0 < along < stretch
    # green: along -g, as long as the red arrow drawn
    drawn = green[1] - green[0]
    assert np.linalg.norm(drawn) == pytest.approx(np.linalg.norm(red[1] - red[0]), rel=1e-9)
    cos = drawn @ -g / np.linalg.norm(drawn) / np.linalg.norm(g)
    assert cos == pytest.approx(1.0, abs=1e-9)
    text = panel.arrows.figures.text()
    assert "Red: Newton's step, to the bottom of the local bowl" in text
    assert ("times as long to be seen" in text) == (stretch > 1)
    assert "drawn as long as the red arrow" in text
    angle = np.degrees(np.arccos(-g @ newton / np.linalg.norm(g) / np.linalg.norm(newton)))
    assert f"the two arrows are {angle:.0f}° apart" in text
    lo, hi = np.linalg.eigvalsh(h)
    c1, c2, cond = numbers(text[text.index("A bowl: curvatures"):])[:3]
    assert (c1, c2, cond) == pytest.approx((hi, lo, hi / lo), rel=6e-3)


def test_the_arrows_checkbox_hides_them_and_their_figures(chain_window, qtbot):
    w = chain_window
    panel, live = w.training.surface_panel, w.training.live
    arrows_for_now(panel, live)
    qtbot.mouseClick(panel.arrows.show_arrows, Qt.LeftButton)
    assert not panel.arrows.show_arrows.isChecked()
    for name in ("descent", "newton", "up", "down", "minibatch"):
        assert panel.arrows.drawn(name) is None
    assert panel.arrows.figures.text() == ""
    step(w, 3)  # nothing comes back while they are off
    assert panel.arrows.arrows is None and panel.arrows.drawn("descent") is None
    qtbot.mouseClick(panel.arrows.show_arrows, Qt.LeftButton)  # back at once, for now
    arrows_for_now(panel, live)
    assert panel.arrows.drawn("descent") is not None
    assert "steepest descent" in panel.arrows.figures.text()


def test_the_minibatch_gradient_and_how_often_steps_went_downhill(window, qtbot):
    w = opened(window, classifier_2881(), "circles")  # minibatches of 32
    panel, live = w.training.surface_panel, w.training.live
    qtbot.mouseClick(panel.arrows.show_minibatch, Qt.LeftButton)
    assert w.controller._minibatch_probe == KEEP
    for _ in range(4):
        step(w, 1)  # each step checked
    report = live.minibatch()
    assert list(report.checked) == [1, 2, 3, 4] and len(report.rows) == 32
    arrows = arrows_for_now(panel, live)
    wait_until(lambda: panel.arrows.arrows.minibatch is not None)
    arrows = panel.arrows.arrows
    data, plan = live.data, panel.plan
    _, grads = loss_and_gradients(plan, plan.unflatten(live.theta()),
                                  plan.inputs_from(data.x_train[report.rows]),
                                  data.y_train[report.rows], "bce")
    g_batch = np.concatenate([plan.edge_vector(grads.weights), grads.biases[plan.bias_rows]])
    np.testing.assert_allclose(arrows.minibatch, [g_batch @ panel.plane.d1,
                                                  g_batch @ panel.plane.d2], rtol=1e-9)
    orange, green = panel.arrows.drawn("minibatch"), panel.arrows.drawn("descent")
    # at the green arrow's scale: drawn lengths in the gradients' ratio (unless cut short)
    ratio = np.linalg.norm(arrows.minibatch) / np.linalg.norm(arrows.descent)
    if not panel.arrows.layout.get("minibatch").clipped:
        assert np.linalg.norm(orange[1] - orange[0]) == pytest.approx(
            ratio * np.linalg.norm(green[1] - green[0]), rel=1e-9)
    text = panel.arrows.figures.text()
    assert f"{report.lowered} of the last 4 checked steps" in text
    assert "32 samples, step 4" in text
    plane_angle = np.degrees(np.arccos(
        arrows.minibatch @ arrows.curvature.gradient /
        np.linalg.norm(arrows.minibatch) / np.linalg.norm(arrows.curvature.gradient)))
    assert f", {plane_angle:.0f}° from the full one here" in text
    assert "Full-batch" not in text
    # off again: the process stops reporting
    qtbot.mouseClick(panel.arrows.show_minibatch, Qt.LeftButton)
    assert w.controller._minibatch_probe == 0
    step(w, 1)
    assert w.controller.latest.minibatch is None and panel.arrows.drawn("minibatch") is None


def test_the_minibatch_surface_is_that_minibatchs_loss(window):
    w = opened(window, classifier_2881(), "circles")
    panel, live = w.training.surface_panel, w.training.live
    panel.arrows.surface_of.setCurrentIndex(panel.arrows.surface_of.findData("minibatch"))
    assert w.controller._minibatch_probe == KEEP  # the surface needs the rows too
    for k in (1, 2):
        step(w, 1)
        wait_until(lambda: panel._grid_batch == k and panel._future is None, 15000)
        rows = live.minibatch().rows
        data, plan = live.data, panel.plan
        x, y = plan.inputs_from(data.x_train[rows]), data.y_train[rows]
        a0, a1, b0, b1 = panel.extent
        alphas = np.linspace(a0, a1, panel.z.shape[1])
        betas = np.linspace(b0, b1, panel.z.shape[0])
        for j, i in [(0, 0), (5, 17), (panel.z.shape[0] - 1, panel.z.shape[1] - 1)]:
            theta = panel.plane.point(alphas[i], betas[j])
            expected = loss_and_gradients(plan, plan.unflatten(theta), x, y, "bce")[0]
            assert panel.z[j, i] == pytest.approx(expected, rel=1e-4)
        assert f"Surface of the last minibatch (step {k}, 32 samples)" in panel.info.text()
        if k == 1:
            first = panel.z.copy()
    assert not np.allclose(first, panel.z)  # another minibatch, another landscape
    panel.arrows.surface_of.setCurrentIndex(panel.arrows.surface_of.findData("training"))
    wait_until(lambda: panel._grid_batch is None and panel._future is None and
               panel.z is not None, 15000)
    assert "Surface of the last minibatch" not in panel.info.text()


def test_journey_two_documents_nothing_of_the_first_leaks(window, qtbot):
    w = opened(window, classifier_2881(), "circles")
    panel, live, t = w.training.surface_panel, w.training.live, w.training
    qtbot.mouseClick(panel.arrows.show_minibatch, Qt.LeftButton)
    t.run_action.trigger()
    wait_until(lambda: w.controller.latest is not None and w.controller.latest.running
               and w.controller.latest.step > 200, 20000)
    t.run_action.trigger()
    wait_until(lambda: not w.controller.running)
    for kind in ("pca", "random", "exact"):
        panel.mode.setCurrentIndex(panel.mode.findData(kind))
        wait_until(lambda: panel.plane is not None and panel.plane.kind == kind, 15000)
        arrows_for_now(panel, live)
        assert panel.arrows.arrows.minibatch is not None
        assert "checked steps" in panel.arrows.figures.text()
    panel.arrows.surface_of.setCurrentIndex(panel.arrows.surface_of.findData("minibatch"))
    step(w, 1)
    wait_until(lambda: panel._grid_batch is not None and panel._future is None, 15000)
    old_plane = panel.plane
    # another document: the XOR net, 4 samples, full batch
    opened(w, xor(), "XOR")
    assert live.minibatch() is None and panel._grid_batch is None
    assert panel.plane is not old_plane
    arrows = arrows_for_now(panel, live)
    assert len(panel.plane.center) == 9  # XOR 2-2-1: its own parameters
    g, h = independent(panel, live)
    np.testing.assert_allclose(arrows.descent, -g, rtol=1e-5)
    text = panel.arrows.figures.text()
    assert "Orange: the last minibatch's gradient, after the next training step." in text
    assert "step 2" not in text and "checked steps" not in text
    assert "Surface of the last minibatch" not in panel.info.text()
    step(w, 2)  # the new run's own minibatch: every row of XOR, full batch
    wait_until(lambda: live.minibatch() is not None and panel._grid_batch == 2, 15000)
    assert list(live.minibatch().rows) == [0, 1, 2, 3]
    assert list(live.minibatch().checked) == [1]  # its own record, from its step 1
    arrows = arrows_for_now(panel, live)
    wait_until(lambda: panel.arrows.arrows.minibatch is not None)
    text = panel.arrows.figures.text()
    assert "4 samples, step 2" in text and "of the last 1 checked step " in text
    assert "Full-batch training" in text  # XOR trains on its four samples at once


def test_a_restarted_training_process_is_asked_for_the_minibatch_again(window, qtbot):
    import os
    import signal

    w = opened(window, classifier_2881(), "circles")
    panel = w.training.surface_panel
    qtbot.mouseClick(panel.arrows.show_minibatch, Qt.LeftButton)
    step(w, 1)
    assert w.controller.latest.minibatch is not None
    killed = w.controller.process_id
    os.kill(killed, signal.SIGKILL)
    wait_until(lambda: w.controller.process_id not in (None, killed), 10000)
    step(w, 2)  # the new process counts from step 0
    report = w.controller.latest.minibatch
    assert report is not None and list(report.checked) == [1]
