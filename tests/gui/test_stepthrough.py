"""Step-through mode through the real widgets: every number the formula panel and the canvas
show is the engine's for that sample, computed here independently of the panel."""
import time

import numpy as np
import pytest
import shiboken6
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QToolBar

from core.edits import SetValue
from core.engine import compile_plan, inspect_sample
from core.network import Network
from core.project import Project
from core.stepthrough import MAX_NEURONS, fmt
from core.templates import chain, xor
from gui.commands import apply_and_push
from tests.core.strategies import dag_with_skips, naive_activations
from tests.gui.conftest import wait_until


def open_project(window, project: Project, title: str):
    window.files.new_from(project, title)
    window.undo_stack.clear()
    window.undo_stack.setClean()
    return window


def enter(window):
    window.stepthrough.toggle_action.trigger()  # the menu entry (F8)
    mode = window.stepthrough
    assert mode.active and mode.dock.isVisible()
    return mode


def engine_numbers(network: Network, x, t, loss):
    plan = compile_plan(network)
    return inspect_sample(plan, plan.pack(network), np.asarray(x, float), np.asarray(t, float),
                          loss)


def walk_with_keys_and_check(window, qtbot, x, t):
    """Press Right through every event; at each, the formula panel and the canvas overlay hold
    the engine's numbers for (x, t)."""
    mode = window.stepthrough
    net = window.project.network
    loss_name = window.project.training.loss
    loss, neurons, grads = engine_numbers(net, x, t, loss_name)
    oracle = naive_activations(net, x)
    mode.go(0)
    seen = set()
    for k in range(len(mode.walk.events)):
        event = mode.walk.events[k]
        text = mode.formula.toPlainText()
        assert event.title in text
        if event.phase == "forward":
            nid = event.neurons[0]
            for value in (neurons[nid].net_input, neurons[nid].activation,
                          neurons[nid].derivative):
                assert fmt(value) in text
            assert neurons[nid].activation == pytest.approx(oracle[nid], rel=1e-12, abs=1e-14)
            assert mode.overlay.revealed[nid]["a"] == neurons[nid].activation
        elif event.phase in ("output", "backward"):
            nid = event.neurons[0]
            assert fmt(neurons[nid].delta) in text
            assert mode.overlay.revealed[nid]["δ"] == neurons[nid].delta
        elif event.phase == "gradient":
            eid = event.edges[0]
            assert fmt(grads[eid]) in text
            assert mode.overlay.revealed[eid]["∂L/∂w"] == grads[eid]
        elif event.phase == "loss":
            assert fmt(loss) in text
        assert set(mode.overlay.neurons) == set(event.neurons)
        seen.add(event.phase)
        if k < len(mode.walk.events) - 1:
            qtbot.keyClick(window.view, Qt.Key_Right)
            assert mode.index == k + 1
    assert mode.index == len(mode.walk.events) - 1
    return seen


def test_xor_every_event_shows_the_engines_numbers(xor_window, qtbot):
    w = xor_window
    mode = enter(w)
    assert mode.chooser.source.currentText() == "Training sample"
    x, t = w.dataset.x_train[0], w.dataset.y_train[0]
    seen = walk_with_keys_and_check(w, qtbot, x, t)
    assert seen == {"input", "forward", "loss", "output", "backward", "gradient", "update"}
    qtbot.keyClick(w.view, Qt.Key_Left)
    assert mode.index == len(mode.walk.events) - 2
    qtbot.keyClick(w.view, Qt.Key_Home)
    assert mode.index == 0 and not mode.back_button.isEnabled()


def test_chain_example_with_another_sample(window, qtbot):
    w = open_project(window, chain(), "chain")
    mode = enter(w)
    mode.chooser.index.setValue(3)
    wait_until(lambda: mode.walk is not None and np.allclose(mode.walk.x, w.dataset.x_train[2]))
    walk_with_keys_and_check(w, qtbot, w.dataset.x_train[2], w.dataset.y_train[2])


def test_random_dag_with_skips_typed_values_and_softmax(window, qtbot):
    net = dag_with_skips()
    project = Project(network=net)
    project.training.loss = "softmax_ce"
    w = open_project(window, project, "dag")
    mode = enter(w)
    # The data has one target; this net has two outputs: typed values are the only choice.
    assert mode.chooser.source.currentText() == "Typed values"
    fields = mode.chooser.fields
    assert len(fields) == 4
    assert [f.text() for f in fields] == ["1", "0", "1", "0"]  # a one-hot target to start
    assert "one-hot" in mode.chooser.summary.text()
    for field, value in zip(fields, ["0.7", "-1.3", "0", "1"]):
        field.clear()
        qtbot.keyClicks(field, value)
        qtbot.keyClick(field, Qt.Key_Return)
    wait_until(lambda: mode.walk is not None and list(mode.walk.x) == [0.7, -1.3])
    walk_with_keys_and_check(w, qtbot, [0.7, -1.3], [0.0, 1.0])
    outs = [e for e in mode.walk.events if e.phase == "output"]
    mode.go(mode.walk.events.index(outs[0]))
    assert "p - t" in mode.formula.toPlainText()
    multi = [e for e in mode.walk.events if e.phase == "backward" and len(e.edges) > 1]
    mode.go(mode.walk.events.index(multi[0]))
    text = mode.formula.toPlainText()
    assert text.count("path via") == len(multi[0].edges) and "sum over paths" in text


def test_a_bad_typed_value_is_a_message_then_fixing_it_works(xor_window, qtbot):
    w = xor_window
    mode = enter(w)
    mode.chooser.use_typed([1, 0], [1])
    field = mode.chooser.fields[1]
    field.clear()
    qtbot.keyClicks(field, "zero")
    qtbot.keyClick(field, Qt.Key_Return)
    wait_until(lambda: mode.walk is None)
    assert "'zero' is not a number" in mode.formula.toPlainText()
    assert not mode.next_button.isEnabled()
    qtbot.keyClick(w.view, Qt.Key_Right)  # nothing to step through: nothing happens
    field.clear()
    qtbot.keyClicks(field, "0.5")
    qtbot.keyClick(field, Qt.Key_Return)
    wait_until(lambda: mode.walk is not None)
    assert list(mode.walk.x) == [1.0, 0.5] and mode.next_button.isEnabled()


def test_apply_commits_the_update_as_one_undoable_edit(xor_window, qtbot):
    w = xor_window
    mode = enter(w)
    net = w.project.network
    x, t = w.dataset.x_train[1], w.dataset.y_train[1]
    lr = w.project.training.learning_rate
    loss_before, neurons, grads = engine_numbers(net, x, t, w.project.training.loss)
    before = {e.id: e.weight for e in net.edges.values()}
    bias_before = {n.id: n.bias for n in net.neurons.values()}
    mode.chooser.index.setValue(2)
    wait_until(lambda: np.allclose(mode.walk.x, x))
    assert not mode.apply_button.isEnabled()
    mode.go(len(mode.walk.events) - 1)
    assert mode.apply_button.isEnabled()
    qtbot.mouseClick(mode.apply_button, Qt.LeftButton)
    for eid, w0 in before.items():
        assert net.edges[eid].weight == pytest.approx(w0 - lr * grads[eid], rel=1e-12)
    for nid, nv in neurons.items():
        if net.neurons[nid].role != "input":
            assert net.neurons[nid].bias == pytest.approx(bias_before[nid] - lr * nv.delta,
                                                          rel=1e-12, abs=1e-15)
    assert w.undo_stack.count() == 1
    assert w.undo_stack.undoText() == "Apply step-through update"
    assert "Applied" in mode.status.text() and fmt(loss_before) in mode.status.text()
    assert mode.walk.loss < loss_before  # a small step against the gradient
    w.undo_stack.undo()
    assert {e.id: e.weight for e in net.edges.values()} == before
    wait_until(lambda: mode.walk.loss == pytest.approx(loss_before, rel=1e-12))


def test_an_update_that_overflows_changes_nothing(window, qtbot):
    net = Network()
    x = net.add_neuron("input").id
    out = net.add_neuron("output", "identity").id
    net.connect(x, out, 1.0)
    w = open_project(window, Project(network=net), "linear")
    mode = enter(w)
    mode.chooser.use_typed([1e200], [0])  # loss (1e200)^2: the gradient overflows
    wait_until(lambda: mode.walk.x[0] == 1e200)
    mode.go(len(mode.walk.events) - 1)
    mode.apply_update()
    assert "Nothing was changed" in mode.status.text()
    assert net.edges[next(iter(net.edges))].weight == 1.0
    assert w.undo_stack.count() == 0


def test_edits_while_stepping_rebuild_with_the_new_numbers(xor_window, qtbot):
    w = xor_window
    mode = enter(w)
    net = w.project.network
    mode.go(3)
    eid = next(iter(net.edges))
    assert apply_and_push(w.undo_stack, net, SetValue("weight", eid, net.edges[eid].weight, 2.5)) is None
    x, t = w.dataset.x_train[0], w.dataset.y_train[0]
    loss, _, grads = engine_numbers(net, x, t, w.project.training.loss)
    wait_until(lambda: mode.walk.loss == loss)
    assert mode.index == 3  # the position is kept
    mode.go(len(mode.walk.events) - 1)
    assert f"new {fmt(2.5 - w.project.training.learning_rate * grads[eid])}" in \
        mode.formula.toPlainText()


def test_play_runs_to_the_end_and_stops(xor_window, qtbot):
    w = xor_window
    mode = enter(w)
    mode._play_timer.setInterval(5)
    qtbot.mouseClick(mode.play_button, Qt.LeftButton)
    assert mode.play_button.text() == "Pause"
    wait_until(lambda: mode.index == len(mode.walk.events) - 1, 10000)
    wait_until(lambda: mode.play_button.text() == "Play")
    steps = mode.index
    time.sleep(0.05)
    assert mode.index == steps


def test_a_network_above_the_limit_is_refused_with_a_message(window, qtbot):
    net = Network()
    x = net.add_neuron("input").id
    out = net.add_neuron("output").id
    for _ in range(MAX_NEURONS):
        h = net.add_neuron("hidden").id
        net.connect(x, h, 0.1)
        net.connect(h, out, 0.1)
    w = open_project(window, Project(network=net), "big")
    mode = enter(w)
    assert mode.walk is None
    text = mode.formula.toPlainText()
    assert f"up to {MAX_NEURONS} neurons" in text and f"has {MAX_NEURONS + 2}" in text
    assert not mode.next_button.isEnabled() and not mode.apply_button.isEnabled()


def test_leaving_removes_the_overlay_and_gives_the_arrows_back(xor_window, qtbot):
    w = xor_window
    toolbar = w.findChild(QToolBar, "training_toolbar")
    button = toolbar.widgetForAction(w.stepthrough.toggle_action)
    assert button.text() == "Step through"
    qtbot.mouseClick(button, Qt.LeftButton)
    mode = w.stepthrough
    assert mode.active and mode.walk is not None
    overlay = mode.overlay
    assert overlay.scene() is w.scene
    mode.toggle_action.trigger()
    assert not mode.active and overlay.scene() is None and not mode.dock.isVisible()
    assert not mode.next_action.isEnabled()
    # New document while in the mode: the overlay comes back on the rebuilt canvas
    enter(w)
    open_project(w, xor(), "again")
    wait_until(lambda: shiboken6.isValid(mode.overlay) and mode.overlay.scene() is w.scene)
    w.grab()  # paints the overlay with the new document's items


def test_clicking_an_event_in_the_list_and_dragging_the_slider_jump_there(xor_window, qtbot):
    mode = enter(xor_window)
    row = len(mode.walk.events) - 3
    item = mode.events_list.item(row)
    mode.events_list.scrollToItem(item)
    rect = mode.events_list.visualItemRect(item)
    qtbot.mouseClick(mode.events_list.viewport(), Qt.LeftButton, pos=rect.center())
    assert mode.index == row and mode.walk.events[row].title in mode.formula.toPlainText()
    mode.slider.setValue(2)
    assert mode.index == 2 and mode.events_list.currentRow() == 2


def linear_neuron_project(learning_rate: float) -> Project:
    """One identity neuron with squared error: the sample's loss is an exact parabola along
    any step, so what the update says about overshooting can be checked on the loss itself."""
    from core.settings import TrainingSettings

    net = Network()
    a, b = net.add_neuron("input").id, net.add_neuron("input").id
    out = net.add_neuron("output", "identity", bias=0.2).id
    net.connect(a, out, 0.7)
    net.connect(b, out, -0.4)
    return Project(network=net, training=TrainingSettings(loss="mse", optimizer="sgd",
                                                          learning_rate=learning_rate))


def curvature_along_step(net: Network, walk, x, t) -> float:
    """Second difference of the sample's loss value along the update's direction."""
    (old_w, old_b), (new_w, new_b) = walk.update.old, walk.update.new
    step = {**{k: new_w[k] - old_w[k] for k in old_w}, **{k: new_b[k] - old_b[k] for k in old_b}}
    size = float(np.sqrt(sum(v * v for v in step.values())))

    def loss_at(s: float) -> float:
        copy = net.copy()
        copy.set_values({k: old_w[k] + s * step[k] / size for k in old_w},
                        {k: old_b[k] + s * step[k] / size for k in old_b})
        return engine_numbers(copy, x, t, "mse")[0]
    h = 0.1
    return (loss_at(h) - 2 * loss_at(0.0) + loss_at(-h)) / (h * h)


@pytest.mark.parametrize("eta_c", [0.5, 2.5])
def test_the_update_says_why_a_step_over_two_over_curvature_makes_things_worse(window, qtbot,
                                                                               eta_c):
    x, t = [1.5, -0.5], [2.0]
    open_project(window, linear_neuron_project(1.0), "linear")
    mode = enter(window)
    mode.chooser.use_typed(x, t)
    wait_until(lambda: mode.walk is not None and list(mode.walk.x) == x)
    c = curvature_along_step(window.project.network, mode.walk, x, t)
    # The rate that makes eta*c what this case asks, typed into the Settings panel.
    window.training.settings.widgets[("training", "learning_rate")].setValue(eta_c / c)
    wait_until(lambda: mode.walk.update.learning_rate == pytest.approx(eta_c / c, rel=1e-3))
    mode.go(len(mode.walk.events) - 1)
    text = mode.formula.toPlainText()
    eta = mode.walk.update.learning_rate
    assert f"c = {fmt(c)}" in text and f"1 − η·c = {fmt(1 - eta * c)}" in text
    assert "(1 − η·c)" in text  # the reason, in words
    assert ("farther away on the other side than where it started" in text) == (eta_c > 2)
    before = mode.walk.loss
    qtbot.mouseClick(mode.apply_button, Qt.LeftButton)
    status = mode.status.text()
    assert (mode.walk.loss > before) == (eta_c > 2)
    assert ("It went up" in status) == (eta_c > 2)
    if eta_c > 2:
        assert f"η·c = {fmt(eta * c)} > 2" in status


def test_a_recurrent_net_on_rows_of_data_is_refused_in_words(window, qtbot):
    """A net with a delayed edge on rows (not sequences) of data gets one line naming the
    delayed edges and what to choose instead, not an exception from the engine (which a
    recurrent net raised when step-through opened). On sequence data it is stepped through
    over time (tests/gui/test_stepthrough_over_time.py)."""
    from core.settings import DataSettings
    from core.templates import layered

    net = layered([1, 3, 1], hidden="tanh", output="identity")
    hidden = [n.id for n in net.neurons.values() if n.role == "hidden"]
    net.connect(hidden[0], hidden[0], delay=1)
    w = open_project(window, Project(net, DataSettings(generator="line", samples=20,
                                                       task="regression")), "elman")
    mode = enter(w)
    wait_until(lambda: "delayed edges" in mode.formula.toPlainText())
    assert "sequence generator" in mode.formula.toPlainText()
    assert mode.walk is None and not mode.next_button.isEnabled()
