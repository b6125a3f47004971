"""The Through time panel and the Data panel's sequences, through the real window: the curve
drawn is the core's gradient through time recomputed here at the run's weights on the
reported minibatch, on a log axis; hidden, the process computes nothing; Reset and Open clear
it, and nothing of one document shows in the next. The Data panel's chosen sequence is the
core's forward pass of that sequence at the current weights, padding left out."""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from core.engine.recurrent import sequence_forward
from core.losses import predictions
from core.network import Network
from core.project import Project, save_project
from core.settings import DataSettings, TrainingSettings
from core.templates import regression, xor
from core.training.through_time import NEEDS, gradient_through_time
from core.training.trainer import inputs_of
from gui.live.plot_tools import on_screen
from gui.live.through_time_panel import EMPTY_SUMMARY
from tests.gui.conftest import opened, wait_until
from tests.gui.test_journeys import settle_events


def self_loop(u: float, activation: str = "tanh", generator: str = "sine_next") -> Project:
    """One neuron with a delayed self-loop of weight u, on 50-step sequences; the gradient's
    norm clipped to 1 (a linear loop of 1.5 sends back about 1e9: unclipped, one step of
    training throws the weights past overflow)."""
    net = Network()
    x = net.add_neuron("input", label="x", x=0, y=0).id
    o = net.add_neuron("output", activation, label="o", x=200, y=0).id
    net.connect(x, o, 0.8, id="w")
    net.connect(o, o, u, id="u", delay=1)
    data = DataSettings(generator=generator, samples=40, sequence_length=50)
    return Project(net, data, TrainingSettings(batch_size=8, learning_rate=0.01, clip_norm=1.0),
                   f"self-loop {u}")


def reber_elman() -> Project:
    """7 one-hot inputs, 4 tanh hidden neurons fed back to each other, 7 sigmoid outputs."""
    rng = np.random.default_rng(0)
    net = Network()
    ins = [net.add_neuron("input").id for _ in range(7)]
    hs = [net.add_neuron("hidden", "tanh").id for _ in range(4)]
    outs = [net.add_neuron("output", "sigmoid").id for _ in range(7)]
    for h in hs:
        for i in ins:
            net.connect(i, h, float(rng.normal(0, 0.5)))
        for o in outs:
            net.connect(h, o, float(rng.normal(0, 0.5)))
        for g in hs:
            net.connect(g, h, float(rng.normal(0, 0.3)), delay=1)
    data = DataSettings(generator="reber", samples=30)
    return Project(net, data, TrainingSettings(batch_size=6, loss="bce"), "Reber")


def panel(w):
    return w.training.through_time_panel


def show(w) -> None:
    w.training.through_time_dock.raise_()
    wait_until(lambda: on_screen(panel(w)))


def drawn(w) -> list[np.ndarray]:
    """The curves drawn, earlier ones first, as the y values given to the plot (before the
    log axis takes their log10)."""
    items = [*panel(w).earlier, panel(w).latest]
    data = [i.getOriginalDataset()[1] for i in items if i.isVisible()]
    return [np.asarray(y) for y in data if y is not None and len(y)]


def step_to(w, n: int) -> None:
    start = w.controller.latest.step if w.controller.latest else 0
    w.controller.step(n)
    wait_until(lambda: w.controller.latest is not None and w.controller.latest.step == start + n)


def expected_curve(w, report) -> np.ndarray:
    """The core's curve at the weights of the Progress on screen, on the reported rows."""
    live = w.training.live
    plan, data = live.plan, live.data
    rows = report.rows
    mask = None if data.mask_train is None else data.mask_train[rows]
    return gradient_through_time(plan, live.params(), inputs_of(plan, data.x_train[rows]),
                                 data.y_train[rows], mask, live.settings.loss).norms


def assert_empty(w) -> None:
    assert drawn(w) == []
    assert panel(w).summary.text() == EMPTY_SUMMARY


# ----- the panel ----------------------------------------------------------------------------------
def test_the_curve_is_the_gradient_through_time_at_the_runs_weights_on_a_log_axis(window):
    w = opened(window, self_loop(0.5), "loop")
    show(w)
    assert_empty(w)
    step_to(w, 3)
    wait_until(lambda: len(drawn(w)) == 1)
    report = w.controller.latest.through_time
    assert report.step == 3 and len(report.rows) == 8  # the last minibatch, of 8
    expected = expected_curve(w, report)
    assert len(expected) == 50
    np.testing.assert_allclose(drawn(w)[0], expected, rtol=1e-10)
    assert panel(w).plot.getPlotItem().getAxis("left").logMode  # a log axis
    ratio = expected[-1] / expected[0]
    assert ratio < 1e-10  # tanh with a loop of 0.5: it vanishes...
    text = panel(w).summary.text()
    assert text.startswith("Step 3: the error at step 50 reaches step 1 at")
    assert "(it vanishes)" in text and "mean of 8 sequences" in text


def test_hidden_it_costs_nothing_and_shown_it_draws_the_step_on_screen(window):
    w = opened(window, self_loop(0.5), "loop")
    assert not on_screen(panel(w))
    step_to(w, 4)
    assert w.controller.latest.through_time is None  # not computed while hidden
    show(w)  # shown while paused: the step it is at, at once
    wait_until(lambda: len(drawn(w)) == 1)
    report = w.controller.latest.through_time
    assert report.step == 4
    np.testing.assert_allclose(drawn(w)[0], expected_curve(w, report), rtol=1e-10)


def test_earlier_curves_stay_faded_at_steps_at_least_twice_apart(window):
    w = opened(window, self_loop(0.5), "loop")
    show(w)
    for _ in range(6):
        step_to(w, 1)
        wait_until(lambda: panel(w).curves and panel(w).curves[-1].step == w.controller.latest.step)
    steps = [r.step for r in panel(w).curves]
    assert steps[-1] == 6 and len(drawn(w)) == len(steps)
    assert all(b >= 2 * a for a, b in zip(steps[:-2], steps[1:-1]))  # the faded ones
    assert f"Faded: {', '.join(str(s) for s in steps[:-1])}." in panel(w).summary.text()


def test_a_linear_loop_of_1_5_explodes(window):
    w = opened(window, self_loop(1.5, "identity"), "loop")
    show(w)
    step_to(w, 1)
    wait_until(lambda: len(drawn(w)) == 1)
    curve = drawn(w)[0]
    u = w.project.network.edges["u"].weight  # after the step: a little below 1.5
    assert 1.4 < u < 1.5
    np.testing.assert_allclose(curve[1:] / curve[:-1], u, rtol=1e-9)  # f' = 1: u per step
    assert "(it explodes)" in panel(w).summary.text()


def test_reset_new_data_and_open_clear_it(window, tmp_path):
    w = opened(window, self_loop(0.5), "loop")
    show(w)
    step_to(w, 2)
    wait_until(lambda: len(drawn(w)) == 1)
    w.training.reset_weights()
    assert_empty(w)
    settle_events()
    assert_empty(w)  # nothing late from the run before
    step_to(w, 1)
    wait_until(lambda: len(drawn(w)) == 1)
    assert w.controller.latest.through_time.step == 1
    w.training.settings.widgets[("data", "samples")].setValue(30)  # new data: a new run
    wait_until(lambda: len(w.training.live.data.x_train) == 24)
    assert_empty(w)
    settle_events()
    assert_empty(w)
    path = tmp_path / "other.json"
    save_project(self_loop(0.9), path)
    assert w.files.open(path)
    assert_empty(w)
    settle_events()
    assert_empty(w)


def test_a_feed_forward_net_or_rows_say_what_the_panel_needs(window):
    w = opened(window, regression(), "sine rows")
    show(w)
    assert panel(w).summary.text() == NEEDS
    step_to(w, 2)
    settle_events(200)
    assert panel(w).summary.text() == NEEDS and drawn(w) == []
    p = self_loop(0.5)
    p.network.disconnect("u")  # sequences, but no delayed edge
    w = opened(window, p, "no loop")
    assert panel(w).summary.text() == NEEDS


# ----- the data panel -----------------------------------------------------------------------------
def data_panel(w):
    w.training.docks[1].raise_()  # the Data tab
    wait_until(lambda: on_screen(w.training.data_panel))
    return w.training.data_panel


def core_prediction(w, part: str, row: int) -> np.ndarray:
    """The core's forward pass of that sequence alone at the current weights."""
    live = w.training.live
    data, plan = live.data, live.plan
    x = getattr(data, f"x_{part}")[row: row + 1]
    a = sequence_forward(plan, live.params(), inputs_of(plan, x)).outputs(plan)[1][0]
    return predictions(live.loss, a)


def test_the_chosen_sequence_is_the_core_forward_pass_against_its_target(window):
    w = opened(window, self_loop(0.5), "loop")
    step_to(w, 5)
    view = data_panel(w).sequences
    assert w.training.data_panel.stack.currentWidget() is view
    view.index.setValue(3)
    wait_until(lambda: view.shown is not None)
    predicted, target = view.shown
    np.testing.assert_allclose(predicted, core_prediction(w, "train", 2), rtol=1e-12)
    np.testing.assert_array_equal(target, w.training.live.data.y_train[2])
    solid, dashed = view.lines[0]
    np.testing.assert_array_equal(solid.getData()[0], np.arange(1, 51))
    np.testing.assert_allclose(solid.getData()[1], predicted[:, 0])
    np.testing.assert_allclose(dashed.getData()[1], target[:, 0])
    assert dashed.opts["pen"].style() != solid.opts["pen"].style()  # target dashed
    view.part.setCurrentText("test")
    view.index.setValue(1)
    wait_until(lambda: np.allclose(view.shown[0], core_prediction(w, "test", 0)))
    assert view.of.text() == f"of {len(w.training.live.data.x_test)}"


def test_reber_sequences_are_a_heatmap_with_padding_left_out(window):
    w = opened(window, reber_elman(), "reber")
    step_to(w, 2)
    panel_ = data_panel(w)
    view = panel_.sequences
    data = w.training.live.data
    lengths = data.mask_train.sum(axis=1)
    row = int(np.argmin(lengths))  # a short string: padded at its end
    assert lengths[row] < data.x_train.shape[1]
    view.index.setValue(row + 1)
    wait_until(lambda: view.shown is not None and
               np.isnan(view.shown[0]).any() == (lengths[row] < data.x_train.shape[1]))
    predicted, target = view.shown
    n = int(lengths[row])
    np.testing.assert_allclose(predicted[:n], core_prediction(w, "train", row)[:n], rtol=1e-12)
    assert np.isnan(predicted[n:]).all() and np.isnan(target[n:]).all()
    assert view.image.image.shape == (7, data.x_train.shape[1])  # outputs x steps
    assert not any(solid.isVisible() and len(solid.getData()[0] or ()) for solid, _ in view.lines)
    steps, outs = view.marks.getData()
    ones = np.argwhere(data.y_train[row][:n] > 0.5)
    assert sorted(zip(steps - 1, outs)) == sorted((float(t), float(j)) for t, j in ones)
    assert panel_.note.text() == f"Blue: predicted (white 0, blue 1); rings: the target's 1s; " \
                                 f"{n} steps."
    (x0, x1), _ = view.plot.getPlotItem().viewRange()
    assert (x0, x1) == pytest.approx((0.5, n + 0.5))  # the sequence's steps, not the padding


# ----- a journey ----------------------------------------------------------------------------------
def test_journey_vanishing_then_exploding_then_undo(window, tmp_path):
    """Open a tanh loop of 0.5 and watch it vanish; a linear loop of 1.5 as a new document
    (undoable) shows only its own, exploding, curve; undo back to the first: empty until it
    steps again, and then its own curve at its own weights."""
    path = tmp_path / "vanish.json"
    save_project(self_loop(0.5), path)
    w = window
    assert w.files.open(path)
    show(w)
    assert_empty(w)
    step_to(w, 2)
    wait_until(lambda: len(drawn(w)) == 1)
    assert "(it vanishes)" in panel(w).summary.text()
    assert w.files.new_from(self_loop(1.5, "identity"), "explode")
    assert_empty(w)
    settle_events()
    assert_empty(w)
    step_to(w, 1)
    wait_until(lambda: len(drawn(w)) == 1)
    assert "(it explodes)" in panel(w).summary.text()
    np.testing.assert_allclose(drawn(w)[0], expected_curve(w, w.controller.latest.through_time),
                               rtol=1e-10)
    w.undo_stack.undo()  # the training step
    w.undo_stack.undo()  # the new document: the vanishing one again
    assert w.project.title != "explode"
    assert_empty(w)
    settle_events()
    assert_empty(w)
    step_to(w, 1)
    wait_until(lambda: len(drawn(w)) == 1)
    assert "(it vanishes)" in panel(w).summary.text()
    np.testing.assert_allclose(drawn(w)[0], expected_curve(w, w.controller.latest.through_time),
                               rtol=1e-10)
