"""Training from the window: the training process, the toolbar, panels that hold the right
numbers. (Waits use wait_until, which runs a real event loop.)"""
import math
import os
import signal
import time
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtWidgets import QApplication

from core import surface
from core.engine import compile_plan, loss_and_gradients
from core.templates import chain, classifier_2881
from core.training.trainer import Trainer
from gui.live.loss_panel import EMPTY_SUMMARY
from tests.core.strategies import NAIVE_F, naive_activations
from tests.gui.conftest import opened, wait_until


def pause(ms):
    import time
    end = time.monotonic() + ms / 1000
    try:
        wait_until(lambda: time.monotonic() > end, ms + 1000)
    except TimeoutError:
        pass


@pytest.fixture
def trained_window(window, qtbot):
    window.files.new_from(classifier_2881(), "circles")
    window.undo_stack.clear()
    return window


def run_steps(window, qtbot, n):
    """n more steps, through the controller as the Step button does."""
    target = (window.controller.latest.step if window.controller.latest else 0) + n
    window.controller.step(n)
    wait_until(lambda: window.controller.latest is not None
                    and window.controller.latest.step >= target, 20000)


def test_two_hundred_steps_from_the_gui_lower_the_loss_and_fill_the_panels(trained_window, qtbot):
    w = trained_window
    first_loss = None
    run_steps(w, qtbot, 1)
    first_loss = w.controller.latest.evaluation.train_loss
    run_steps(w, qtbot, 200)
    p = w.controller.latest
    assert p.evaluation.train_loss < first_loss
    x, y = w.training.loss_panel.train.getData()
    assert len(x) >= 2 and y[-1] == pytest.approx(p.evaluation.train_loss)
    bx, _ = w.training.loss_panel.batch.getData()
    assert bx[-1] == 201
    assert "step 201" in w.training.counter.text()
    # The document holds the trained weights, and training is one undo step.
    plan = compile_plan(w.project.network)
    np.testing.assert_allclose(plan.flatten(plan.pack(w.project.network)), p.theta)
    wait_until(lambda: w.undo_stack.count() == 2)  # two stretches: 1 step, 200 steps
    assert w.undo_stack.undoText().startswith("Train")


def test_run_then_pause_stops_stepping(trained_window, qtbot):
    w = trained_window
    w.view.setFocus()
    qtbot.keyClick(w.view, Qt.Key_Space)  # a tap on the canvas: Run
    wait_until(lambda: w.controller.running, 20000)
    wait_until(lambda: w.controller.latest is not None and w.controller.latest.step > 50,
                    10000)
    qtbot.keyClick(w.view, Qt.Key_Space)  # and again: Pause
    wait_until(lambda: not w.controller.running, 20000)
    pause(200)
    stopped_at = w.controller.fresh_progress().step  # the trainer's count, not the last drawn
    pause(300)
    assert w.controller.fresh_progress().step == stopped_at
    assert w.controller.latest.step == stopped_at


def test_step_epoch_takes_one_epoch_of_minibatches(trained_window, qtbot):
    w = trained_window
    w.controller.step_epoch()
    n, size = len(w.dataset.x_train), w.project.training.batch_size
    wait_until(lambda: w.controller.latest is not None and not w.controller.latest.running)
    assert 1 < size < n
    assert w.controller.latest.step == math.ceil(n / size)
    assert w.controller.latest.epoch == 1


def test_gradients_shown_on_edges_equal_the_engine(trained_window, qtbot):
    w = trained_window
    run_steps(w, qtbot, 3)
    p = w.controller.latest
    w.training.view_mode.setCurrentText("gradients")
    net = w.project.network
    shown = {eid: w.scene.edge_value(eid) for eid in net.edges}
    assert shown == dict(zip(p.edge_ids, p.gradients.tolist()))
    # The gradient of the minibatch of step 3 is not recomputable here, so take one full-batch
    # step from the weights after step 3 and compare its gradients with the engine's on the
    # whole training set, computed here independently.
    plan = compile_plan(net)
    assert tuple(plan.parameter_names()) == p.parameter_names
    data = w.dataset
    _, grads = loss_and_gradients(plan, plan.unflatten(p.theta), data.x_train, data.y_train, "bce")
    expected = plan.edge_vector(grads.weights)
    settings = w.project.training
    w.controller.set_settings(type(settings)(**{**settings.to_dict(), "batch_size": 0}))
    run_steps(w, qtbot, 1)
    after = w.controller.latest
    assert tuple(after.edge_ids) == tuple(plan.edge_ids)
    np.testing.assert_allclose(after.gradients, expected, rtol=1e-10, atol=1e-14)
    assert len(expected) == len(shown)


def test_surface_grid_values_equal_core_loss_at_those_parameters(window, qtbot):
    w = window
    w.files.new_from(chain(), "chain")
    run_steps(w, qtbot, 20)
    panel = w.training.surface_panel
    panel.mode.setCurrentIndex(0)
    panel.refit()
    wait_until(lambda: panel.z is not None and panel._future is None, 10000)
    labels = panel.plane.labels  # the chain's two weights
    assert labels[0].startswith(("weight e1 − ", "weight e1 + ")) and \
        labels[1].startswith(("weight e2 − ", "weight e2 + "))
    a0, a1, b0, b1 = panel.extent
    g = panel.z.shape[0]
    alphas, betas = np.linspace(a0, a1, panel.z.shape[1]), np.linspace(b0, b1, g)
    data = w.dataset
    x, y = surface.subsample(data.x_train, data.y_train)
    plan = panel.plan
    for j, i in [(0, 0), (g // 2, 3), (g - 1, panel.z.shape[1] - 1)]:
        theta = panel.plane.point(alphas[i], betas[j])
        expected = loss_and_gradients(plan, plan.unflatten(theta), x, y, "mse")[0]
        assert panel.z[j, i] == pytest.approx(expected, rel=1e-4)
    assert "Off-plane fraction 0.00" in panel.info.text()


def test_pca_plane_path_coordinates_equal_an_independent_projection(trained_window, qtbot):
    w = trained_window
    run_steps(w, qtbot, 300)
    panel = w.training.surface_panel
    panel.mode.setCurrentIndex(1)
    wait_until(lambda: panel._future is None and panel.plane is not None
                    and panel.plane.kind == "pca", 10000)
    thetas, _, _ = w.controller.trajectory()
    thetas = np.vstack([thetas, w.controller.latest.theta[None]])
    d = thetas - thetas[-1]
    _, vecs = np.linalg.eigh(d.T @ d)
    top = vecs[:, ::-1][:, :2]
    path_x, path_y = panel.path.getData()
    shown = np.stack([path_x, path_y], 1)
    expected = (w.controller.trajectory()[0] - panel.plane.center) @ top
    expected = np.vstack([expected, (w.controller.latest.theta - panel.plane.center) @ top])
    for k in range(2):
        sign = np.sign(shown[:, k] @ expected[-len(shown):, k]) or 1.0
        np.testing.assert_allclose(shown[:, k], sign * expected[-len(shown):, k], atol=1e-6)
    assert "% of variance" in panel.plane.labels[0]


def test_the_windows_copy_of_the_path_equals_the_trainers_as_it_thins_out(trained_window, qtbot):
    w = trained_window
    reference = Trainer(w.project.network.copy(), w.dataset, w.project.training)
    for chunk in (5, 3000, 1, 2500, 1500):  # the path holds 4,096 snapshots, then thins out
        run_steps(w, qtbot, chunk)
        for _ in range(chunk):
            reference.step()
        thetas, steps, names = w.controller.trajectory()
        np.testing.assert_array_equal(steps, reference.trajectory.steps)
        np.testing.assert_allclose(thetas, reference.trajectory.thetas, rtol=1e-12)
        assert names == tuple(reference.plan.parameter_names())
    assert reference.trajectory.stride > 1
    w.controller.restart()  # a new run: a new path, not the old one continued
    w.controller.step(4)
    wait_until(lambda: w.controller.latest is not None and w.controller.latest.step == 4)
    assert list(w.controller.trajectory()[1]) == list(range(1, 5))


def test_divergence_pauses_with_a_message_and_keeps_the_canvas_usable(window, qtbot):
    w = window
    w.files.new_from(chain(), "chain")  # w2 * tanh(w1 x): the loss grows without bound in w2
    w.training._on_settings_edited("training", type(w.project.training)(
        **{**w.project.training.to_dict(), "learning_rate": 1e5}))
    w.controller.run()
    wait_until(lambda: "Training stopped at step" in w.statusBar().currentMessage(),
                    10000)
    assert not w.controller.running
    assert "smaller learning rate" in w.statusBar().currentMessage()
    assert all(np.isfinite(e.weight) for e in w.project.network.edges.values())
    w.scene.add_neuron_at("hidden", "tanh", w.view.mapToScene(10, 10))  # still editable
    assert len(w.project.network.neurons) == 4


def test_a_killed_training_process_is_replaced_and_training_goes_on(trained_window, qtbot):
    w = trained_window
    run_steps(w, qtbot, 20)
    w.controller.run()
    wait_until(lambda: w.controller.running, 20000)
    wait_until(lambda: w.controller.latest.running, 20000)  # the document has trained weights
    killed = w.controller.process_id
    os.kill(killed, signal.SIGKILL)
    wait_until(lambda: "stopped unexpectedly" in w.statusBar().currentMessage(), 10000)
    assert "SIGKILL" in w.statusBar().currentMessage()  # what it died of
    assert w.controller.process_id not in (None, killed)
    assert not w.controller.running
    assert w.training.run_action.text() == "▶ Run"
    assert w.undo_stack.count() == 2  # the 20 steps, and the run up to the last weights shown
    # The new process starts from the document as it is: ten steps there are ten steps of a
    # fresh trainer on the same network, data and settings.
    reference = Trainer(w.project.network.copy(), w.dataset, w.project.training)
    for _ in range(10):
        reference.step()
    run_steps(w, qtbot, 10)
    assert w.controller.latest.step == 10
    np.testing.assert_allclose(w.controller.latest.theta,
                               reference.plan.flatten(reference.params), rtol=1e-12)
    w.controller.run()  # and it runs on
    wait_until(lambda: w.controller.latest.step > 100, 10000)
    w.controller.pause()
    wait_until(lambda: not w.controller.running, 20000)


def test_a_training_process_that_keeps_dying_is_not_restarted_for_ever(trained_window, qtbot):
    w = trained_window
    for _ in range(3):
        killed = w.controller.process_id
        os.kill(killed, signal.SIGKILL)
        wait_until(lambda: w.controller.process_id not in (None, killed), 10000)
    os.kill(w.controller.process_id, signal.SIGKILL)
    wait_until(lambda: "keeps stopping" in w.statusBar().currentMessage(), 10000)
    assert w.controller.process_id is None
    w.controller.step(1)  # does nothing, and raises nothing
    assert w.controller.trajectory()[0].shape == (0, 0)
    assert w.controller.fresh_progress() is None


def test_the_training_process_loads_no_qt(window):
    maps = Path(f"/proc/{window.controller.process_id}/maps")
    if not maps.exists():
        pytest.skip("needs /proc")
    wait_until(lambda: "numpy" in maps.read_text(), 20000)  # the check sees loaded libraries
    text = maps.read_text()
    assert not any(name in text for name in ("Qt6", "PySide6", "shiboken6"))


def test_data_panel_background_shows_each_points_class_in_the_points_colour(window, qtbot):
    from core.templates import softmax3
    from gui.live.data_panel import GRID, PALETTE

    w = window
    w.files.new_from(softmax3(), "blobs")
    w.training.docks[1].raise_()  # the Data tab
    run_steps(w, qtbot, 400)
    panel = w.training.data_panel
    panel.refresh(w.controller.latest)
    image = panel.image.image  # (GRID, GRID, 3), row-major: [y, x]
    rect = panel.image.mapRectToParent(panel.image.boundingRect())
    data = w.dataset
    hits = 0
    for (x, y), target in zip(data.x_train, data.y_train):
        col = int((x - rect.left()) / rect.width() * GRID)
        row = int((y - rect.top()) / rect.height() * GRID)
        pixel = image[min(max(row, 0), GRID - 1), min(max(col, 0), GRID - 1)].astype(float)
        # The tint is white mixed with the class colour: the nearest palette colour after
        # removing the white part names the class shown.
        shown = np.argmin([np.linalg.norm((255 - pixel) / np.linalg.norm(255 - pixel + 1e-9)
                                          - (255 - c) / np.linalg.norm(255 - c)) for c in PALETTE[:3]])
        hits += shown == int(np.argmax(target))
    assert hits / len(data.x_train) > 0.9


def test_neurons_show_their_activation_for_the_chosen_sample(trained_window, qtbot):
    w = trained_window
    run_steps(w, qtbot, 5)
    w.training.sample.setValue(3)
    net = w.project.network
    plan = compile_plan(net)
    x = w.dataset.x_train[3]
    value = naive_activations(net, x)  # independent: neuron by neuron, plain sums
    for nid, item in w.scene.neuron_items.items():
        assert item.value_text == f"a={value[nid]:+.3f}"
        assert item.highlight is not None
    w.training.sample.setValue(-1)
    assert all(i.value_text is None for i in w.scene.neuron_items.values())
    assert plan.n_inputs == 2


def test_colour_by_sample_on_sequences_shows_the_last_step_of_the_chosen_sequence(window, qtbot):
    """On sequence data (here an Elman net; a feed-forward net on a sequence generator takes
    the same path, core.engine.one_sample) a sample is a sequence: the neurons show their activation at its last step, worked out here
    step by step from a zero state with plain sums. It raised on every frame before."""
    from core.templates import elman_echo

    w = opened(window, elman_echo(), "Elman")
    run_steps(w, qtbot, 3)
    w.training.sample.setValue(2)
    net, data = w.project.network, w.dataset
    inputs = [m.id for m in net.inputs]
    state = {nid: 0.0 for nid in net.neurons}  # what the delayed edges read at step 1
    length = int(data.mask_train[2].sum()) if data.mask_train is not None else data.x_train.shape[1]
    for x_row in data.x_train[2, :length]:
        value: dict[str, float] = {}
        for nid in net.topological_order():
            n = net.neurons[nid]
            if n.role == "input":
                value[nid] = float(x_row[inputs.index(nid)])
                continue
            z = n.bias + sum(e.weight * (state[e.source] if e.delay else value[e.source])
                             for e in net.incoming(nid))
            value[nid] = NAIVE_F[n.activation](z)
        state = value
    for nid, item in w.scene.neuron_items.items():
        assert item.value_text == f"a={state[nid]:+.3f}", nid
    assert f"training sequence 2 at its last step ({length})" in w.statusBar().currentMessage()
    run_steps(w, qtbot, 2)  # and on every frame after (pytest-qt fails on a raise in a slot)
    w.training.sample.setValue(-1)
    assert all(i.value_text is None for i in w.scene.neuron_items.values())


def test_hovering_a_neuron_shows_its_own_output_over_the_input_plane(trained_window, qtbot):
    w = trained_window
    w.training.docks[1].raise_()
    run_steps(w, qtbot, 5)
    panel = w.training.data_panel
    before = panel.image.image.copy()
    vp = w.view.viewport()
    w.view.fit()
    qtbot.mouseMove(vp, vp.rect().topLeft() + QPoint(2, 2))
    qtbot.mouseMove(vp, w.view.mapFromScene(w.scene.neuron_items["n3"].pos()))
    wait_until(lambda: "output of neuron n3" in panel.note.text(), 20000)
    assert not np.array_equal(before, panel.image.image)
    qtbot.mouseMove(vp, vp.rect().topLeft() + QPoint(2, 2))
    wait_until(lambda: "prediction" in panel.note.text(), 20000)


def test_racing_optimisers_draws_each_path_from_the_same_start(window, qtbot):
    w = window
    w.files.new_from(chain(), "chain")
    w.undo_stack.clear()
    panel = w.training.surface_panel
    panel.race_steps.setValue(30)
    start = {e.id: e.weight for e in w.project.network.edges.values()}
    qtbot.mouseClick(panel.race_button, Qt.LeftButton)
    wait_until(lambda: panel.race_layer.items and panel.plane is not None
               and panel.race_button.isEnabled(), 20000)
    racers = panel.race_layer.racers
    assert [r.optimizer for r in racers] == ["sgd", "momentum", "rmsprop", "adam",
                                             "newton (plane)"]
    names = list(racers[0].parameter_names)
    i, j = names.index("e1"), names.index("e2")  # the chain's exact plane: its two weights
    assert np.flatnonzero(panel.plane.d1).tolist() == [i]
    curves = [item for item in panel.race_layer.items if hasattr(item, "getData")
              and not hasattr(item, "points")]
    assert len(curves) == 5
    for racer, curve in zip(racers, curves):
        xs, ys = curve.getData()
        assert len(xs) == 31  # the start and 30 steps
        # drawn coordinates = that racer's two weights minus the plane's centre, worked here
        np.testing.assert_allclose(xs, racer.thetas[:, i] - panel.plane.center[i])
        np.testing.assert_allclose(ys, racer.thetas[:, j] - panel.plane.center[j])
        assert racer.thetas[0, i] == start["e1"] and racer.thetas[0, j] == start["e2"]
    assert not np.allclose(racers[0].thetas[-1], racers[3].thetas[-1])
    # the document is untouched by a race, and the legend names each racer with its loss
    assert {e.id: e.weight for e in w.project.network.edges.values()} == start
    labels = [label.text for _, label in panel.race_layer.legend.items]
    assert any(t.startswith("adam: loss") for t in labels)


@pytest.mark.parametrize("then", ["open another", "reset weights"])
def test_a_race_under_way_never_lands_on_the_next_document_or_run(window, qtbot, then):
    """Race, then at once open another document (or Reset weights): when the old race ends,
    its paths (from the old weights) are not drawn on the new surface (found by a reviewer:
    circles' surface showed five paths starting at the 2-8-8-1 net's weights)."""
    w = opened(window, classifier_2881(), "circles")
    panel = w.training.surface_panel
    panel.race_steps.setValue(3000)
    qtbot.mouseClick(panel.race_button, Qt.LeftButton)
    assert panel._race_future is not None and not panel.race_button.isEnabled()
    if then == "open another":
        opened(w, chain(), "chain")
    else:
        w.training.reset_weights()
    assert panel.race_button.isEnabled() and panel.race_button.text() == "Race"
    panel._pool.submit(lambda: None).result(timeout=120)  # the old race has ended
    for _ in range(10):  # its poll would have collected it by now
        QApplication.processEvents()
        time.sleep(0.06)
    assert panel.race_layer.racers == [] and panel.race_layer.items == []
    panel.race_steps.setValue(20)  # a race of this document still works
    qtbot.mouseClick(panel.race_button, Qt.LeftButton)
    wait_until(lambda: panel.race_layer.racers and panel.race_button.isEnabled(), 20000)
    start = w.training.live.theta()
    assert all(np.array_equal(r.thetas[0], start) for r in panel.race_layer.racers)


def test_a_training_process_that_raises_says_what_it_died_of(trained_window, qtbot):
    w = trained_window
    run_steps(w, qtbot, 5)
    broken = w.controller.process_id
    w.controller._link.send("settings", None)  # not settings: the process's loop raises
    wait_until(lambda: "stopped unexpectedly" in w.statusBar().currentMessage(), 10000)
    message = w.statusBar().currentMessage()
    assert "AttributeError" in message and "restarted" in message
    assert w.controller.process_id not in (None, broken)
    run_steps(w, qtbot, 3)  # and training works again
    assert w.controller.latest.step == 3


def test_a_frame_made_before_an_undo_reached_the_process_does_not_redo_the_run(trained_window,
                                                                              qtbot):
    """Found under Xvfb with the neuron maps on (slower frames): Undo of a run reverted the
    weights, then a training frame still in the pipe wrote the trained ones back, with the
    undo stack saying the run was undone. A frame made before the process applied an edit
    must not write over it; the panels draw the document until a newer frame comes."""
    w = trained_window
    net = w.project.network
    start = {e: x.weight for e, x in net.edges.items()}
    start_net = net.copy()
    run_steps(w, qtbot, 30)
    wait_until(lambda: w.undo_stack.count() == 1)  # the stretch, "Train 30 step(s)"
    in_the_pipe = w.controller.latest
    assert in_the_pipe.adopted == 0
    w.undo_action.trigger()
    w.controller._flush_edits()  # the undo is sent to the process at once
    assert {e: x.weight for e, x in net.edges.items()} == start
    w.controller._on_progress(in_the_pipe)  # ... and the old frame arrives after it
    assert {e: x.weight for e, x in net.edges.items()} == start
    live = w.training.live
    np.testing.assert_array_equal(live.theta(), live.plan.flatten(live.plan.pack(net)))
    # The process applies the undo, as a new run from the start's weights (the undone
    # steps' optimiser state is not theirs): the next step is a fresh trainer's first.
    w.controller.step(1)
    wait_until(lambda: w.controller.latest is not None and w.controller.latest.adopted >= 1
               and w.controller.latest.step == 1)
    reference = Trainer(start_net, w.dataset, w.project.training)
    reference.step()
    np.testing.assert_allclose(w.controller.latest.theta,
                               reference.plan.flatten(reference.params), rtol=1e-12)


def test_a_neuron_added_while_training_then_both_undone_leaves_the_start(trained_window, qtbot):
    """Found under Xvfb: run, add a neuron while it trains, pause, Undo twice (the run, then
    the neuron). The second Undo asked the process for a fresh frame, which it made from
    parameters that had not yet taken the first Undo in: the trained values came back into
    the document with nothing on the undo stack to say so."""
    w = trained_window
    net = w.project.network
    start = (dict((e, x.weight) for e, x in net.edges.items()),
             dict((n, x.bias) for n, x in net.neurons.items()))
    w.controller.run()
    wait_until(lambda: w.controller.latest is not None and w.controller.latest.step > 50)
    w._add_at_centre("hidden", "tanh")
    added = w.controller.latest.step
    wait_until(lambda: w.controller.latest.step > added + 50)
    w.controller.pause()
    wait_until(lambda: not w.controller.running and w.undo_stack.count() == 2)
    assert w.undo_stack.text(1).startswith("Train")
    w.undo_action.trigger()
    w.undo_action.trigger()
    assert w.undo_stack.index() == 0
    w.controller.fresh_progress()  # whatever the process says now must not change the document
    qtbot.wait(50)
    assert (dict((e, x.weight) for e, x in net.edges.items()),
            dict((n, x.bias) for n, x in net.neurons.items())) == start


def test_reset_weights_after_a_run_shows_nothing_of_the_run_before(trained_window, qtbot):
    """The frame the pause before a Reset made was read while the window waited for the
    process, and drawn after the reset: the old run's curves and step count came back."""
    w = trained_window
    w.training.run_action.trigger()
    wait_until(lambda: w.controller.latest is not None and w.controller.latest.step >= 200,
               20000)
    w.training.reset_weights()
    pause(400)  # anything still in the pipe arrives
    assert w.controller.latest is None
    assert w.training.counter.text().strip() == "step 0 · epoch 0"
    assert not w.training.loss_panel.train.isVisible()
    assert w.training.gradient_panel.curves == []
    (x0, x1), _ = w.training.loss_panel.plot.getPlotItem().viewRange()
    assert x1 <= 1.5  # the old run's 200+ steps are not the empty plot's axis
    w.controller.step(3)  # the new run counts from 0
    wait_until(lambda: w.controller.latest is not None)
    assert w.controller.latest.step == 3



def test_a_step_after_undoing_a_step_is_the_same_step(window, qtbot):
    """Momentum SGD, full batch: Step, Undo, Step. The second step must equal the first (an
    independent step worked here: v = g, w -= rate * v). Before, the undone step's velocity
    stayed in the optimiser and the second step went 1.9x as far, with the step counter and
    the Loss panel still showing the undone step (found by a reviewer)."""
    from core.templates import xor

    w = opened(window, xor(), "XOR")
    settings = type(w.project.training)(**{**w.project.training.to_dict(), "optimizer": "sgd",
                                           "momentum": 0.9, "batch_size": 0})
    w.training._on_settings_edited("training", settings)
    w.undo_stack.clear()
    start = w.project.network.copy()
    plan = compile_plan(start)
    theta0 = plan.flatten(plan.pack(start))
    x, y = plan.inputs_from(w.dataset.x_train), w.dataset.y_train
    _, grads = loss_and_gradients(plan, plan.pack(start), x, y, settings.loss)
    expected = theta0 - settings.learning_rate * plan.flatten(grads)
    for attempt in range(2):
        run_steps(w, qtbot, 1)
        assert w.controller.latest.step == 1, attempt
        np.testing.assert_allclose(w.controller.latest.theta, expected, rtol=1e-10,
                                   atol=1e-14)
        wait_until(lambda: w.undo_stack.count() == 1)
        w.undo_action.trigger()
        assert w.project.network.same_as(start)
        assert "step 0 " in w.training.counter.text()
        assert w.training.loss_panel.summary.text() == EMPTY_SUMMARY
    w.redo_action.trigger()  # the step's weights again, as the start of a run of their own
    np.testing.assert_allclose(plan.flatten(plan.pack(w.project.network)), expected,
                               rtol=1e-10, atol=1e-14)
    assert "step 0 " in w.training.counter.text()


def test_the_surface_marker_follows_an_undo_and_a_redo_of_training(trained_window, qtbot):
    """Found under Xvfb: after Undo of a run the surface panel's marker and its 'loss here'
    stayed at the trained point (the latest frame's), and after Redo it showed the undone
    point: one step behind the document. The marker is the document's point after each."""
    from core import surface

    w = trained_window
    panel = w.training.surface_panel
    run_steps(w, qtbot, 40)
    wait_until(lambda: w.undo_stack.count() == 1)
    wait_until(lambda: panel.plane is not None, 20000)
    live = w.training.live
    net = w.project.network

    def marker_is_the_documents() -> bool:  # (the undone run's surface is sliced anew)
        if panel.plane is None:
            return False
        here = panel.plane.coordinates(live.plan.flatten(live.plan.pack(net)))[0]
        xs, ys = panel.point.getData()
        return len(xs) == 1 and np.allclose([xs[0], ys[0]], here, atol=1e-9)

    def loss_note_is_the_documents() -> bool:
        x, y = panel.xy
        true = surface.loss_at(live.plan, live.plan.flatten(live.plan.pack(net)), x, y, live.loss)
        return f"loss here {true:.4g} " in panel.info.text()

    trained = live.plan.flatten(live.plan.pack(net)).copy()
    w.undo_action.trigger()
    assert not np.allclose(live.plan.flatten(live.plan.pack(net)), trained)
    wait_until(lambda: marker_is_the_documents() and loss_note_is_the_documents(), 20000)
    w.redo_action.trigger()
    np.testing.assert_array_equal(live.plan.flatten(live.plan.pack(net)), trained)
    wait_until(lambda: marker_is_the_documents() and loss_note_is_the_documents(), 20000)


def test_the_data_panel_draws_a_sequence_for_sequence_data(window, qtbot):
    """An Elman net on the echo sequences: the Data tab raised an exception from pyqtgraph
    (it drew the (sequences, steps, 1) data as rows); it now draws the chosen sequence
    (tests/gui/test_through_time.py holds the drawing to the core's forward pass)."""
    from core.project import Project
    from core.settings import DataSettings
    from core.templates import layered

    net = layered([1, 3, 1], hidden="tanh", output="identity")
    hidden = [n.id for n in net.neurons.values() if n.role == "hidden"]
    for a in hidden:
        net.connect(a, a, delay=1)
    w = window
    w.files.new_from(Project(net, DataSettings(generator="echo", samples=20,
                                               task="regression")), "elman")
    w.training.docks[1].raise_()  # the Data tab
    panel = w.training.data_panel
    wait_until(lambda: panel.isVisible())
    panel.refresh(None)
    assert panel.note.text().startswith("Solid: predicted")
    assert panel.stack.currentWidget() is panel.sequences and panel.sequences.shown is not None
    run_steps(w, qtbot, 5)  # training a recurrent net from the window
    panel.refresh(w.controller.latest)
    assert panel.note.text().startswith("Solid: predicted")
