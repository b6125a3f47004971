"""The Sharpness panel through the real window: what it draws is what the training process
estimated, each value equals the top Hessian eigenvalue recomputed here at the parameters of
its step (from the run's own path), the line sits at 2/eta and moves with the rate, and no
curve of one run or document shows in the next."""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from core.curvature import TrainingLoss, top_eigenvalues
from core.project import load_project, save_project
from core.templates import layered, regression, xor
from core.training.sharpness import PARAMETER_LIMIT, refusal
from gui.live.plot_tools import on_screen
from gui.live.sharpness_panel import EMPTY_SUMMARY
from tests.gui.conftest import opened, wait_until
from tests.gui.test_journeys import settle_events

RATE = 0.1
EXAMPLES = Path(__file__).resolve().parents[2] / "assets" / "examples"


def sine_gd(rate: float = RATE):
    """The regression example (1-8-1 tanh on a sine) with plain full-batch gradient descent:
    its sharpness rises to 2/eta within about a thousand steps."""
    p = regression()
    p.training = replace(p.training, optimizer="sgd", learning_rate=rate, batch_size=0)
    return p


def panel(w):
    return w.training.sharpness_panel


def show(w) -> None:
    """Bring the panel's tab to the front, as a click on it does."""
    w.training.sharpness_dock.raise_()
    wait_until(lambda: on_screen(panel(w)))


def shown(w) -> tuple[np.ndarray, np.ndarray]:
    """The curve as drawn: steps and values (empty when hidden)."""
    curve = panel(w).curve
    x, y = curve.getData()
    if not curve.isVisible() or x is None:
        return np.zeros(0), np.zeros(0)
    return np.asarray(x), np.asarray(y)


def assert_empty(w, rate: float) -> None:
    """No curve of any run; the line at 2/rate; the summary says how to start."""
    steps, _ = shown(w)
    assert len(steps) == 0
    assert panel(w).summary.text().startswith(EMPTY_SUMMARY)
    assert panel(w).line.isVisible() and panel(w).line.value() == pytest.approx(2 / rate)


def top_at(w, theta: np.ndarray) -> float:
    """The top eigenvalue of the full-batch training loss at theta, computed here (cold
    Lanczos to 1e-10) from the document's plan, data and settings."""
    live = w.training.live
    plan, data, s = live.plan, live.data, live.settings
    f = TrainingLoss(plan, plan.inputs_from(data.x_train), data.y_train, s.loss, s.l1, s.l2)
    return float(top_eigenvalues(f, theta, 1, tol=1e-10)[0])


def theta_at(w, step: int) -> np.ndarray:
    """The run's parameters after `step` steps, from its path as the process kept it."""
    thetas, steps, names = w.controller.trajectory()
    assert tuple(names) == tuple(w.training.live.plan.parameter_names())
    (row,) = np.flatnonzero(steps == step)
    return thetas[row]


def kept(w, estimate_steps: np.ndarray) -> list[int]:
    """The estimates' steps whose parameters the path still holds (a long run's path keeps
    every second, fourth... step: see core.training.loss_history.Trajectory)."""
    _, steps, _ = w.controller.trajectory()
    return [int(s) for s in estimate_steps if s in set(steps.tolist())]


def run_until(w, condition, timeout_ms: int = 30000, every: int = 20) -> None:
    """Run (showing every `every` steps, as set in the toolbar) until the condition holds.
    Paced, the run stays within the path's first Trajectory.capacity steps, which it keeps
    every one of, so every estimate's parameters can be checked; flat out, the compiled path
    trains this net tens of thousands of steps a second and the path keeps only every 2^k-th."""
    w.training.speed.setValue(every)
    w.training.run_action.trigger()
    wait_until(lambda: w.controller.latest is not None and condition(w.controller.latest),
               timeout_ms)
    w.training.run_action.trigger()
    wait_until(lambda: not w.controller.running)
    settle_events(200)


def estimates(p) -> int:
    return 0 if p.sharpness is None else len(p.sharpness.values)


# ----- what it shows ------------------------------------------------------------------------------
def test_the_panel_draws_each_estimate_at_its_step_equal_to_the_top_eigenvalue_there(window):
    w = opened(window, sine_gd(), "sine")
    assert_empty(w, RATE)
    show(w)
    run_until(w, lambda p: estimates(p) >= 6)
    report = w.controller.latest.sharpness
    steps, values = shown(w)
    np.testing.assert_array_equal(steps, report.steps)  # drawn as reported, step by step
    np.testing.assert_array_equal(values, report.values)
    assert np.all(np.diff(steps) >= 10)  # the schedule: never closer than 10 steps
    checked = kept(w, steps)
    assert checked == [int(s) for s in steps]  # a paced run: the path holds every step
    for step in checked[:: max(1, len(checked) // 4)]:
        expected = top_at(w, theta_at(w, step))
        assert values[list(steps).index(step)] == pytest.approx(expected, rel=1e-4)
    text = panel(w).summary.text()
    assert f"at step {int(steps[-1]):,}" in text and "2/η = 20" in text
    assert panel(w).line.value() == pytest.approx(20.0)
    assert panel(w).line_axis._tickLevels == [[(20.0, "2/η = 20")], []]  # the line's tick


def test_a_learning_rate_change_moves_the_line_and_undo_moves_it_back(window):
    w = opened(window, sine_gd(), "sine")
    show(w)
    rate = w.training.settings.widgets[("training", "learning_rate")]
    rate.setValue(0.05)  # typed into the Settings panel
    wait_until(lambda: panel(w).line.value() == pytest.approx(40.0))
    assert panel(w).line_axis._tickLevels[0] == [(40.0, "2/η = 40")]
    w.undo_stack.undo()
    wait_until(lambda: panel(w).line.value() == pytest.approx(20.0))
    assert w.project.training.learning_rate == RATE


def test_hidden_the_panel_costs_nothing_and_shown_it_estimates_the_current_step(window):
    w = opened(window, sine_gd(), "sine")
    assert not on_screen(panel(w))  # a tab behind the loss surface at first
    w.controller.step(40)
    wait_until(lambda: w.controller.latest is not None and w.controller.latest.step == 40)
    assert w.controller.latest.sharpness is None  # nothing estimated while hidden
    show(w)  # shown while paused: the step it is at, at once
    wait_until(lambda: estimates(w.controller.latest) == 1)
    steps, values = shown(w)
    assert list(steps) == [40]
    assert values[0] == pytest.approx(top_at(w, theta_at(w, 40)), rel=1e-4)


def test_reset_weights_and_open_clear_the_curve(window, tmp_path):
    w = opened(window, sine_gd(), "sine")
    show(w)
    run_until(w, lambda p: estimates(p) >= 3)
    w.training.reset_weights()
    assert_empty(w, RATE)
    settle_events()
    assert_empty(w, RATE)  # nothing late from the run before
    w.controller.step(5)  # the new run's first estimate: its step 5
    wait_until(lambda: w.controller.latest is not None and w.controller.latest.step == 5)
    wait_until(lambda: len(shown(w)[0]) == 1)
    assert list(shown(w)[0]) == [5]
    path = tmp_path / "xor.json"
    save_project(xor(), path)
    assert w.files.open(path)
    assert_empty(w, xor().training.learning_rate)


def test_a_net_beyond_the_limit_says_why_the_panel_is_empty(window):
    p = sine_gd()
    big = layered([1, 80, 80, 1], hidden="tanh", output="identity")
    p.network = big
    w = opened(window, p, "big")
    show(w)
    n = w.training.live.plan.n_parameters
    assert n > PARAMETER_LIMIT
    assert panel(w).summary.text() == refusal(n)
    assert f"{n:,} trainable parameters" in panel(w).summary.text()


def test_the_help_explains_why_a_step_over_two_over_curvature_oscillates(window, qtbot):
    from PySide6.QtCore import Qt

    w = opened(window, sine_gd(), "sine")
    show(w)
    qtbot.mouseClick(panel(w).help_button, Qt.LeftButton)
    assert panel(w).stack.currentWidget() is panel(w).help
    text = panel(w).help.toPlainText()
    assert "(1 − η·c)" in text and "|1 − η·c| > 1" in text and "Cohen" in text
    qtbot.mouseClick(panel(w).help_button, Qt.LeftButton)
    assert panel(w).stack.currentWidget() is panel(w).plot


def test_a_training_process_started_anew_keeps_estimating(window):
    """The process died (killed here): the one started in its place is told the panel is on
    screen, so the next step still comes with its estimate."""
    import os
    import signal

    w = opened(window, sine_gd(), "sine")
    show(w)
    w.controller.step(3)
    wait_until(lambda: estimates(w.controller.latest or w.controller.fresh_progress()) == 1)
    killed = w.controller.process_id
    os.kill(killed, signal.SIGKILL)
    wait_until(lambda: w.controller.process_id not in (None, killed))
    w.controller.step(2)  # the new process counts from 0
    wait_until(lambda: w.controller.latest is not None and w.controller.latest.step == 2)
    wait_until(lambda: list(shown(w)[0]) == [2])
    assert shown(w)[1][0] == pytest.approx(top_at(w, theta_at(w, 2)), rel=1e-4)


# ----- a journey ----------------------------------------------------------------------------------
def test_journey_sharpen_to_the_edge_open_another_undo(window, tmp_path):
    """Open a file, train it by full-batch GD until lambda_max reaches 2/eta, open another
    document (a template: undoable, where opening a file clears the history), undo back to
    the trained one, undo the training: at every step the panel shows only the run of the
    document on screen, and its values are the top eigenvalue at their steps."""
    path = tmp_path / "edge.json"
    save_project(sine_gd(), path)
    w = window
    assert w.files.open(path)
    assert_empty(w, RATE)
    show(w)
    # Train until the sharpness has risen to the line (from well below it).
    run_until(w, lambda p: estimates(p) > 0 and p.sharpness.values[-1] >= 0.9 * 2 / RATE)
    steps, values = shown(w)
    assert values[0] < 0.75 * 2 / RATE and values[-1] >= 0.9 * 2 / RATE
    np.testing.assert_array_equal(steps, w.controller.latest.sharpness.steps)
    step = kept(w, steps)[-1]
    assert values[list(steps).index(step)] == pytest.approx(top_at(w, theta_at(w, step)),
                                                            rel=1e-4)
    trained = w.project.snapshot()
    # Another document: nothing of the sine run.
    assert w.files.new_from(xor(), "XOR")
    assert_empty(w, xor().training.learning_rate)
    settle_events()
    assert_empty(w, xor().training.learning_rate)
    # Undo: the trained sine document again, as a new run with no curve yet.
    w.undo_stack.undo()
    assert w.project.network.to_dict() == trained.network.to_dict()
    assert_empty(w, RATE)
    settle_events()
    assert_empty(w, RATE)
    # One step from the trained weights: already at the edge.
    w.controller.step(1)
    wait_until(lambda: len(shown(w)[0]) == 1)
    steps, values = shown(w)
    assert list(steps) == [1]
    assert values[0] == pytest.approx(top_at(w, theta_at(w, 1)), rel=1e-4)
    assert values[0] >= 0.8 * 2 / RATE
    # Undo that step and the training: the file's weights again, and a new run from them
    # (an undone stretch's optimiser state is not theirs): no curve, then the next estimate
    # is back where the file started, below the line.
    w.undo_stack.undo()
    w.undo_stack.undo()
    assert w.project.network.to_dict() == load_project(path).network.to_dict()
    assert_empty(w, RATE)
    w.controller.step(1)
    wait_until(lambda: len(shown(w)[0]) == 1)
    steps, values = shown(w)
    assert list(steps) == [1]
    assert values[0] == pytest.approx(top_at(w, theta_at(w, 1)), rel=1e-4)
    assert values[0] < 0.75 * 2 / RATE
