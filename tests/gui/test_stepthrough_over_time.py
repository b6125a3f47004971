"""Step-through over time through the real widgets: an Elman net on the echo sequences is
unrolled into a copy per time step with the delayed edges between copies, and every number
the unrolled view and the formula panel show is the engine's backpropagation through time for
that sequence, computed here independently of the mode."""
from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtGui import QAction
from PySide6.QtCore import Qt

from core.edits import SetValue
from core.engine import compile_plan
from core.engine.recurrent import sequence_backward, sequence_forward, sequence_loss_result
from core.project import Project
from core.settings import DataSettings
from core.stepthrough import Walkthrough, fmt
from core.stepthrough.over_time import TimeWalkthrough
from core.templates import layered, xor
from gui.commands import apply_and_push
from tests.gui.conftest import wait_until
from tests.gui.test_stepthrough import enter, open_project
from tests.gui.test_training import run_steps


def elman_project(seed: int = 0, length: int = 20) -> Project:
    """layered 1-4-1 (tanh hidden, identity output), a delayed edge from every hidden neuron
    to every hidden neuron, random weights; the echo sequences."""
    net = layered([1, 4, 1], hidden="tanh", output="identity")
    hidden = [n.id for n in net.neurons.values() if n.role == "hidden"]
    for a in hidden:
        for b in hidden:
            net.connect(a, b, delay=1)
    rng = np.random.default_rng(seed)
    for e in net.edges.values():
        net.set_weight(e.id, float(rng.normal(0, 0.7)))
    for n in net.neurons.values():
        if n.role != "input":
            net.set_bias(n.id, float(rng.normal(0, 0.2)))
    return Project(net, DataSettings(generator="echo", samples=20, task="regression",
                                     sequence_length=length))


def enter_over_time(window, project: Project):
    open_project(window, project, "elman")
    mode = enter(window)
    wait_until(lambda: isinstance(mode.walk, TimeWalkthrough))
    return mode


def bptt_by_the_engine(window, first: int, steps: int):
    """(a, delta) per (neuron, t) for the chosen training sequence's shown steps, by the
    engine's own unrolled forward and backward passes."""
    net, data, training = window.project.network, window.stepthrough.live.data, \
        window.project.training
    index = window.stepthrough.sequence_chooser.index.value() - 1
    x = data.x_train[index, first: first + steps].astype(float)
    y = data.y_train[index, first: first + steps].astype(float)
    plan = compile_plan(net)
    params = plan.pack(net)
    sfwd = sequence_forward(plan, params, x[None])
    result, cols = sequence_loss_result(plan, sfwd, y[None], None, training.loss,
                                        training.sequence_loss)
    sequence_backward(plan, params, sfwd, result, cols, training.bptt_steps)
    a, delta = {}, {}
    for row, nid in enumerate(plan.order):
        for k in range(len(x)):
            a[(nid, k + 1)] = sfwd.a[row, k]
            if row >= plan.n_inputs:
                delta[(nid, k + 1)] = sfwd.arrays.delta[row - plan.n_inputs, k]
    return a, delta, result.value


def test_the_unrolled_view_has_a_copy_per_step_and_the_delayed_edges_between_them(window,
                                                                                   qtbot):
    w = window
    mode = enter_over_time(w, elman_project())
    view = mode.stage.view
    assert mode.stage.showing and view.isVisible() and not w.view.isVisible()
    assert mode.sequence_chooser.isVisible() and not mode.chooser.isVisible()
    layout = view.picture.layout
    net = w.project.network
    delayed = [e for e in net.edges.values() if e.delay]
    assert len(delayed) == 16 and mode.walk.steps == 6  # the first 6 of 20 steps
    for steps in (4, 6):
        mode.sequence_chooser.steps.setValue(steps)
        wait_until(lambda: mode.walk.steps == steps and len(view.picture.layout.copies) == steps)
        layout = view.picture.layout
        assert set(layout.positions) == {(nid, t) for nid in net.neurons
                                          for t in range(1, steps + 1)}
        assert set(layout.delayed) == {(e.id, t) for e in delayed for t in range(2, steps + 1)}
        for key in layout.delayed:  # from the source in copy t-1 to the target in copy t
            (x1, _), (x2, _) = layout.ends(net, key)
            left, right = layout.copies[key[1] - 2], layout.copies[key[1] - 1]
            assert left[0] < x1 < left[0] + left[2] and right[0] < x2 < right[0] + right[2]
        for key in layout.instant:  # within one copy
            (x1, _), (x2, _) = layout.ends(net, key)
            copy = layout.copies[key[1] - 1]
            assert copy[0] < min(x1, x2) and max(x1, x2) < copy[0] + copy[2]
    # A window further on: its own copies, and the panel says which steps and what BPTT.
    mode.sequence_chooser.first.setValue(9)
    wait_until(lambda: mode.walk.first == 8)
    assert "steps 9–14 of this sequence's 20" in mode.status.text()
    assert "full BPTT" in mode.status.text()
    w.project.training.bptt_steps = 2
    mode.rebuild()
    assert "truncated BPTT (2 steps" in mode.status.text()
    view.viewport().repaint()  # paints without a warning (Qt warnings fail the tests)


def test_view_fit_shows_every_copy_of_the_unrolled_net(window, qtbot):
    """View > Fit (Ctrl+0) fits the unrolled net while it stands in for the canvas; after
    leaving step-through it fits the canvas again."""
    w = window
    mode = enter_over_time(w, elman_project())
    view = mode.stage.view
    fit = next(a for a in w.findChildren(QAction) if a.text() == "&Fit to view")
    fit.trigger()
    shown = view.mapToScene(view.viewport().rect()).boundingRect()
    assert shown.contains(view.picture.boundingRect())  # all six copies on screen
    mode.set_active(False)
    assert not mode.stage.showing
    fit.trigger()
    items = w.scene.itemsBoundingRect()
    assert w.view.mapToScene(w.view.viewport().rect()).boundingRect().contains(items)


def test_every_number_shown_is_the_engines_bptt(window, qtbot):
    """Right arrow through every event: the formula panel holds the event's lines, the
    unrolled view the engine's a and δ of each copy once revealed, and each lit edge copy the
    term it adds (w·a going forward, w·δ going back)."""
    w = window
    mode = enter_over_time(w, elman_project(seed=2))
    a, delta, loss = bptt_by_the_engine(w, 0, 6)
    assert fmt(loss) in mode.status.text()
    net, picture = w.project.network, mode.stage.view.picture
    mode.go(0)
    checked = set()
    for k, event in enumerate(mode.walk.events):
        assert mode.index == k
        text = mode.formula.toPlainText()
        assert event.title in text and all(line.strip() in text for line in event.lines[:2])
        for key in event.neurons if event.phase != "loss" else ():
            lines = picture.neuron_lines(key)
            if event.phase in ("input", "forward"):
                assert f"a {fmt(a[key])}" in lines
            elif event.phase in ("output", "backward"):
                assert f"δ {fmt(delta[key])}" in lines
                checked.add(key)
        for (eid, t), shown in picture.term_labels().items():
            e = net.edges[eid]
            if event.phase == "forward":
                value = e.weight * a.get((e.source, t - e.delay), 0.0)
            elif event.phase == "gradient":
                value = delta[(e.target, t)] * a[(e.source, t - e.delay)]
            else:
                value = e.weight * delta[(e.target, t)]
            assert shown == fmt(value)
        qtbot.keyClick(mode.stage.view, Qt.Key_Right)
    assert checked == set(delta)  # every neuron copy's delta was shown and checked
    assert mode.index == len(mode.walk.events) - 1
    # An undoable edit of a recurrent weight: the numbers follow it, and its undo.
    eid = next(e.id for e in net.edges.values() if e.delay)
    old = net.edges[eid].weight
    assert apply_and_push(w.undo_stack, net, SetValue("weight", eid, old, 1.7)) is None
    wait_until(lambda: mode.walk.loss != loss)
    assert mode.walk.loss == pytest.approx(bptt_by_the_engine(w, 0, 6)[2], rel=1e-12)
    w.undo_stack.undo()
    wait_until(lambda: mode.walk.loss == loss)


def test_journey_recurrent_step_through_leave_train_then_a_feed_forward_one(window, qtbot):
    """Open a recurrent project, step through it forward and back with the keys, leave (the
    canvas comes back), train a few steps, open a feed-forward project and step through it on
    the canvas as before."""
    w = window
    open_project(w, elman_project(seed=5), "elman")
    qtbot.keyClick(w.view, Qt.Key_F8)
    mode = w.stepthrough
    wait_until(lambda: isinstance(mode.walk, TimeWalkthrough) and mode.stage.showing)
    view = mode.stage.view
    for _ in range(40):  # past t = 6's forward events and the loss, into the backward pass
        qtbot.keyClick(view, Qt.Key_Right)
    assert mode.index == 40 and mode.walk.events[40].phase in ("output", "backward")
    for _ in range(3):
        qtbot.keyClick(view, Qt.Key_Left)
    assert mode.index == 37 and mode.walk.events[37].title in mode.formula.toPlainText()
    qtbot.keyClick(view, Qt.Key_F8)  # leave
    assert not mode.active and not mode.dock.isVisible()
    wait_until(lambda: w.view.isVisible() and not view.isVisible())
    before = {e.id: e.weight for e in w.project.network.edges.values()}
    run_steps(w, qtbot, 5)
    wait_until(lambda: any(e.weight != before[e.id] for e in w.project.network.edges.values()))
    open_project(w, xor(), "xor")
    qtbot.keyClick(w.view, Qt.Key_F8)
    wait_until(lambda: isinstance(mode.walk, Walkthrough))
    assert w.view.isVisible() and not mode.stage.showing
    assert mode.chooser.isVisible() and not mode.sequence_chooser.isVisible()
    qtbot.keyClick(w.view, Qt.Key_Right)
    assert mode.index == 1 and mode.overlay is not None and mode.overlay.phase == "forward"
    assert mode.apply_button.isVisible()


def test_opening_a_feed_forward_project_while_stepping_over_time_brings_the_canvas_back(
        window, qtbot):
    w = window
    mode = enter_over_time(w, elman_project())
    open_project(w, xor(), "xor")
    wait_until(lambda: isinstance(mode.walk, Walkthrough))
    assert not mode.stage.showing and w.view.isVisible()
    open_project(w, elman_project(seed=1), "elman")  # and back: the first sequence, unrolled
    wait_until(lambda: isinstance(mode.walk, TimeWalkthrough) and mode.stage.showing)
    assert mode.stage.view.picture.layout.steps == mode.walk.steps


def test_the_sequence_chooser_leaves_out_padding_and_keeps_the_window_inside(qtbot):
    """CSV sequences differ in length: a shorter one's padded steps are not steps, and the
    first shown step can only be one of its own."""
    from core.data.dataset import Dataset
    from gui.stepthrough.sequence_chooser import SequenceChooser

    x = np.arange(2 * 5, dtype=float).reshape(2, 5, 1)
    mask = np.array([[True] * 5, [True, True, True, False, False]])
    data = Dataset(x, -x, x[:1], -x[:1], "regression", ["x"], ["y"],
                   mask_train=mask, mask_test=mask[:1])
    chooser = SequenceChooser()
    qtbot.addWidget(chooser)
    chooser.set_data(data)
    assert chooser.index.maximum() == 2 and chooser.first.maximum() == 5
    chooser.index.setValue(2)
    xs, ys = chooser.current()
    np.testing.assert_array_equal(xs, x[1, :3])
    np.testing.assert_array_equal(ys, -x[1, :3])
    assert chooser.first.maximum() == 3 and chooser.first.suffix() == " of 3"
    chooser.source.setCurrentIndex(1)  # the test sequences: one
    assert chooser.index.maximum() == 1 and len(chooser.current()[0]) == 5
