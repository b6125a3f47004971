"""What a training frame costs the window: panels behind a tab skip their drawing and catch
up when shown; the canvas repaints only what looks different; frames come no faster than the
window's drawing share allows. (Waits use wait_until, which runs a real event loop.)"""
import dataclasses
import time

import pytest

from core.templates import classifier_2881
from gui.live import controller as controller_module
from tests.gui.conftest import wait_until


@pytest.fixture
def trained_window(window):
    window.files.new_from(classifier_2881(), "circles")
    window.undo_stack.clear()
    return window


def run_steps(window, n):
    target = (window.controller.latest.step if window.controller.latest else 0) + n
    window.controller.step(n)
    wait_until(lambda: window.controller.latest is not None
               and window.controller.latest.step >= target, 20000)


def docks(window):
    loss, data, surface, gradients = window.training.docks
    return loss, data, surface, gradients


def test_gradient_panel_behind_a_tab_skips_drawing_and_catches_up_when_shown(trained_window):
    w = trained_window
    loss, data, surface, gradients = docks(w)
    surface.raise_()  # the Gradients dock shares its tabs: now hidden
    wait_until(lambda: w.training.gradient_panel.visibleRegion().isEmpty(), 20000)
    run_steps(w, 30)
    panel = w.training.gradient_panel
    assert panel._n >= 1  # its history is kept...
    assert all(c.getData()[0] is None or len(c.getData()[0]) == 0 for c in panel.curves)  # ...not drawn
    gradients.raise_()
    wait_until(lambda: not panel.visibleRegion().isEmpty(), 20000)
    x, _ = panel.curves[0].getData()
    assert x is not None and x[-1] == w.controller.latest.step


def test_loss_panel_behind_a_tab_skips_drawing_and_catches_up_when_shown(trained_window):
    w = trained_window
    loss, data, surface, gradients = docks(w)
    run_steps(w, 5)
    panel = w.training.loss_panel
    assert panel.batch.getData()[0][-1] == 5
    data.raise_()
    wait_until(lambda: panel.visibleRegion().isEmpty(), 20000)
    run_steps(w, 20)
    assert panel.batch.getData()[0][-1] == 5  # hidden: not redrawn
    loss.raise_()
    wait_until(lambda: not panel.visibleRegion().isEmpty(), 20000)
    assert panel.batch.getData()[0][-1] == 25
    assert "step 25" in panel.summary.text()


def test_a_training_frame_repaints_only_edges_and_neurons_that_look_different(trained_window,
                                                                              monkeypatch):
    w = trained_window
    scene, net = w.scene, w.project.network
    net.set_values({}, {})  # the scene now knows what every item shows
    updated = []
    for table in (scene.edge_items, scene.neuron_items):
        for key, item in table.items():
            monkeypatch.setattr(item, "update", lambda *a, key=key: updated.append(key))
    edges = list(net.edges.values())
    hidden = next(n for n in net.neurons.values() if n.role == "hidden")
    # Unseen changes: a weight by a millionth, a bias below the shown two decimals.
    net.set_values({edges[0].id: edges[0].weight * (1 + 1e-6)},
                   {hidden.id: round(hidden.bias, 2) + 0.001})
    updated.clear()
    net.set_values({edges[0].id: edges[0].weight * (1 + 1e-6)},
                   {hidden.id: round(hidden.bias, 2) + 0.002})
    assert updated == []
    # Seen ones: a weight's sign, a bias's shown text.
    net.set_values({edges[0].id: -edges[0].weight - 0.5}, {hidden.id: hidden.bias + 0.5})
    assert edges[0].id in updated and hidden.id in updated
    assert scene.neuron_items[hidden.id].isVisible()


def test_a_bias_edited_then_trained_back_to_its_old_text_is_repainted(trained_window,
                                                                      monkeypatch):
    """The scene forgets what an edited neuron showed: a training frame that brings the
    old text back repaints it."""
    scene, net = trained_window.scene, trained_window.project.network
    hidden = next(n for n in net.neurons.values() if n.role == "hidden")
    net.set_values({}, {hidden.id: 0.25})
    net.set_bias(hidden.id, 0.75)  # an edit: shown at once
    updated = []
    monkeypatch.setattr(scene.neuron_items[hidden.id], "update", lambda *a: updated.append(1))
    net.set_values({}, {hidden.id: 0.25})
    assert updated


def test_frames_are_asked_for_no_faster_than_the_drawing_share_allows(trained_window):
    w = trained_window
    run_steps(w, 3)
    c = w.controller
    p = dataclasses.replace(c.latest, running=True)  # a frame of a run
    # The last frame took 80 ms of the window's time: the next comes no sooner than
    # 80 / DRAW_SHARE ms after it (less the time already gone).
    c._frame_clock = (time.monotonic() - 0.05, time.process_time() - 0.08)
    c._on_progress(p)
    expected = 0.08 / controller_module.DRAW_SHARE - 0.05
    assert c._next_progress.interval() >= 1000 * expected - 30
    # A cheap frame: the usual pace.
    c._frame_clock = (time.monotonic() - 0.01, time.process_time())
    c._on_progress(p)
    assert c._next_progress.interval() <= 1000 * controller_module.SYNC_SECONDS + 30
    # However costly, a frame at least every SLOWEST_SECONDS: the window must not look hung.
    c._frame_clock = (time.monotonic() - 0.05, time.process_time() - 0.9)
    c._on_progress(p)
    assert c._next_progress.interval() <= 1000 * controller_module.SLOWEST_SECONDS


def test_the_first_frame_of_a_run_is_not_held_back_by_what_the_window_did_before(trained_window):
    """A Step's frame ends a stretch: the window's time since the frame before (opening a
    file, building panels) was not drawing, and must not delay the run that follows (it once
    held the first frame of a Run back by more than 5 s on a loaded machine)."""
    w = trained_window
    run_steps(w, 3)
    c = w.controller
    c._frame_clock = (time.monotonic() - 0.05, time.process_time() - 0.9)
    c._on_progress(c.latest)  # not running
    assert c._next_progress.interval() <= 1000 * controller_module.SYNC_SECONDS
