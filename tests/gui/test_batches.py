"""Repeat with N seeds and sweeps through real widgets: runs trained in background processes
(held to the headless train command's numbers), each kept as a run, one undo step per batch;
Cancel keeps what finished and the window keeps answering; bad sweep values are refused in
the dialog."""
from __future__ import annotations

import time

import numpy as np
import pytest
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QDialogButtonBox

from core.data.dataset import make_dataset
from core.experiments.spread import band
from core.templates import xor
from core.training.headless import prepare, train_epochs
from gui.experiments.sweep_dialog import SweepDialog
from tests.gui.conftest import opened, wait_until
from tests.gui.test_journeys import settle_events


@pytest.fixture
def xor_window(window):
    return opened(window, xor(), "XOR")


def finished(view, timeout_ms: int = 60000) -> None:
    wait_until(lambda: not view.batch.running and
               view.cancel_button.text() == "Close", timeout_ms)


def train_command(project, seed: int, epochs: int, **settings):
    """What `python main.py train FILE --seed S --init` gives with these settings."""
    p = project.snapshot()
    from dataclasses import replace

    training = prepare(p.network, replace(p.training, **settings), seed, init=True)
    done = train_epochs(p.network, make_dataset(p.data), training, epochs)
    done.trainer.sync_network()
    return done.trainer.evaluate()


def test_three_seeds_become_three_runs_with_the_train_commands_numbers(xor_window):
    w = xor_window
    view = w.experiments.start_seeds(3, epochs=40, workers=2)
    finished(view)
    runs = w.project.runs.runs
    seeds = [r.seed for r in runs]  # in the order they finished
    first = xor().training.seed
    assert sorted(seeds) == [first, first + 1, first + 2]
    assert [r.name for r in runs] == [f"Seeds 1: seed={s}" for s in seeds]
    for run in runs:
        expected = train_command(xor(), run.seed, 40)
        assert run.final.train_loss == pytest.approx(expected.train_loss, rel=1e-12)
        assert run.initialised and run.weights is not None
    # One undo step for the batch; undo takes all three runs out.
    assert w.undo_stack.undoText() == "Seeds 1 (3 runs)"
    # The band drawn is the median and range of the runs' curves, recomputed here by hand.
    key = "train_loss"  # XOR has no test part: the view switched from test to train
    assert view.curve_choice.currentData() == key
    x, median = view.median.getData()
    at = len(x) // 2
    values = [np.interp(x[at], r.curves[key].steps, r.curves[key].values) for r in runs]
    assert median[at] == pytest.approx(np.median(values))
    assert view.low.getData()[1][at] == pytest.approx(min(values))
    assert "Where they ended" in view.summary.text()
    assert {view.table.item(i, 2).text() for i in range(3)} <= {"A", "B", "C"}
    # The spread's axis of seeds is ticked at seeds: whole numbers, not 0.5, 1.5.
    axis = view.spread_plot.getAxis("bottom")
    low, high = view.spread_plot.viewRange()[0]
    ticks = [v for _, values in axis.tickValues(low, high, 400) for v in values]
    assert ticks and all(float(v).is_integer() for v in ticks)
    assert set(range(first, first + 3)) <= set(ticks)
    w.undo_action.trigger()
    assert len(w.project.runs) == 0


def test_cancel_keeps_what_finished_and_the_window_keeps_answering(xor_window):
    w = xor_window
    view = w.experiments.start_seeds(12, epochs=3000, workers=1)  # long enough to cancel
    began = time.monotonic()
    wait_until(lambda: time.monotonic() > began + 0.6)  # its window shown, its workers started
    gaps, last = [], [time.monotonic()]

    def tick():
        now = time.monotonic()
        gaps.append(now - last[0])
        last[0] = now
    timer = QTimer(interval=20)
    timer.timeout.connect(tick)
    timer.start()
    wait_until(lambda: len(view.results) >= 1, 60000)
    # The one run on its worker says so; the others wait (all said "waiting…" on main).
    statuses = lambda: [view.table.item(i, 1).text() for i in range(12)]  # noqa: E731
    wait_until(lambda: statuses().count("training…") == 1)
    assert statuses().count("waiting…") == 12 - len(view.results) - 1
    marks = [len(gaps)]
    view.cancel_button.click()
    marks.append(len(gaps))
    finished(view, 20000)
    timer.stop()
    kept = len(w.project.runs)
    assert 1 <= kept < 12 and kept == len(view.results)
    assert "Cancelled" in view.status.text()
    assert statuses().count("not run") == 12 - kept and "training…" not in statuses()
    # What was not reached can still be run, from the same window.
    assert view.retry_button.isVisible() and view.retry_button.text() == f"Run the {12 - kept} left"
    # The event loop kept turning while runs trained: a 20 ms timer fired all along (a
    # batch run in the GUI thread would have stopped it until the first run ended), and no
    # stall reached a second (the bound leaves room for a shared, loaded machine).
    assert marks[0] >= 10 and max(gaps) < 1.0, (max(gaps), gaps.index(max(gaps)), marks)


def test_a_worker_that_dies_is_reported_and_its_run_retried(xor_window, qtbot, tmp_path,
                                                            monkeypatch):
    from PySide6.QtCore import Qt

    from gui.experiments.batch import Batch
    from tests.core import sweep_helpers

    monkeypatch.setenv("SWEEP_TEST_MARK", str(tmp_path / "died"))  # the spawned workers see it
    monkeypatch.setattr(Batch, "work", staticmethod(sweep_helpers.exit_twice_on_doomed))
    w = xor_window
    view = w.experiments.start_seeds(3, epochs=20, workers=2)
    finished(view)
    doomed = view.jobs[sweep_helpers.DOOMED]
    row = view.jobs.index(doomed)
    # Reported: its row says failed and why, the status counts it, the others were kept.
    assert view.table.item(row, 1).text() == "failed"
    assert "worker process died" in view.table.item(row, 1).toolTip()
    assert "1 failed" in view.status.text()
    assert len(w.project.runs) == 2 and doomed.seed not in [r.seed for r in w.project.runs]
    # Retried from the window: the run trains this time and joins the others.
    assert view.retry_button.isVisible() and view.retry_button.text() == "Retry 1 failed"
    qtbot.mouseClick(view.retry_button, Qt.LeftButton)
    assert view.table.item(row, 1).text() in ("waiting…", "training…")
    assert view.cancel_button.text() == "Cancel"
    finished(view)
    assert view.table.item(row, 1).text() == "done" and not view.retry_button.isVisible()
    assert "3 of 3 runs done. Finished." in view.status.text()
    run = next(r for r in w.project.runs if r.seed == doomed.seed)
    expected = train_command(xor(), doomed.seed, 20)
    assert run.final.train_loss == pytest.approx(expected.train_loss, rel=1e-12)
    assert w.undo_stack.undoText() == "Seeds 1 (3 runs)"  # still one step for the batch


def test_a_new_document_stops_a_batch_and_gets_none_of_its_runs(xor_window):
    w = xor_window
    view = w.experiments.start_seeds(6, epochs=3000, workers=1)
    w.new_document()
    wait_until(lambda: not view.batch.running, 20000)
    assert len(w.project.runs) == 0 and not view.isVisible()


def test_the_sweep_dialog_refuses_bad_values_with_a_message(xor_window, qtbot):
    w = xor_window
    checked = []
    dialog = SweepDialog(w.project.training, 2, lambda spec, epochs: checked.append(spec),
                         w)
    qtbot.addWidget(dialog)
    dialog.values[0].setText("0.1, fast")
    dialog.button_box.button(QDialogButtonBox.Ok).click()
    assert dialog.result() == 0 and dialog.spec is None and not checked
    assert dialog.message.text() == "learning_rate=fast: not a number"
    dialog.values[0].setText("0.1, 0.1")
    dialog.button_box.button(QDialogButtonBox.Ok).click()
    assert "lists 0.1 twice" in dialog.message.text()
    dialog.names[0].setCurrentText("hidden_activation")
    dialog.values[0].setText("tanh, wobbly")
    dialog.button_box.button(QDialogButtonBox.Ok).click()
    assert dialog.message.text().startswith("hidden_activation=wobbly: use one of")
    dialog.second.setChecked(True)
    dialog.names[1].setCurrentText("hidden_activation")
    dialog.values[0].setText("tanh, relu")
    dialog.button_box.button(QDialogButtonBox.Ok).click()
    assert "chosen twice" in dialog.message.text()
    dialog.names[1].setCurrentText("batch_size")
    dialog.values[1].setText("0, 2")
    assert dialog.size_note.text() == "12 runs"  # 2 x 2 values x 3 seeds
    dialog.button_box.button(QDialogButtonBox.Ok).click()
    assert dialog.result() == 1 and dialog.spec.size == 12 and len(checked) == 1


def test_a_refused_combination_is_said_in_the_dialog(xor_window, qtbot):
    """softmax cross-entropy needs softmax outputs: XOR's sigmoid output cannot train it."""
    w = xor_window
    dialog = SweepDialog(w.project.training, 2, w.experiments.refusal, w)
    qtbot.addWidget(dialog)
    dialog.names[0].setCurrentText("loss")
    dialog.values[0].setText("mse, softmax_ce")
    dialog.button_box.button(QDialogButtonBox.Ok).click()
    assert dialog.result() == 0
    assert dialog.message.text().startswith("loss=softmax_ce: ")


def test_a_sweep_plots_each_runs_final_loss_against_the_value(xor_window):
    w = xor_window
    from core.experiments.sweep import parse_axis, SweepSpec

    t = w.project.training
    spec = SweepSpec((parse_axis("learning_rate=0.03,0.3,3", t),), (t.seed,))
    view = w.experiments.start_sweep(spec, epochs=30, workers=2)
    assert view.windowTitle() == "Sweep 1: learning_rate × 1 seed"  # not "1 seeds"
    room = view.screen().availableGeometry()  # (the test screen is smaller than a laptop's)
    assert view.width() <= room.width() and view.height() <= room.height()
    finished(view)
    assert view.plot.getPlotItem().ctrl.logXCheck.isChecked()  # 0.03 ... 3: a log axis
    view.choice.setCurrentIndex(view.choice.findData("train_loss"))
    line, points = view.lines[None]
    x, y = points.getData()
    runs = {r.training["learning_rate"]: r for r in w.project.runs}
    assert len(runs) == 3
    for rate in (0.03, 0.3, 3.0):
        expected = train_command(xor(), t.seed, 30, learning_rate=rate)
        i = list(np.round(10 ** x, 10)).index(rate)  # the axis is log10 of the values
        assert y[i] == pytest.approx(expected.train_loss, rel=1e-12)
    # Per-run curves on demand: select a row, see that run's curves.
    view.table.selectRow(2)
    assert [r.training["learning_rate"] for r in view.curves.runs] == [3.0]
    # Two rows: the legend names them by what differs, not by the "Sweep 1: " they share
    # (cut at 28 characters, both read "Sweep 1: learning_rate=0.0...").
    view.table.selectAll()
    legend = [label.text for _, label in view.curves.legend.items]
    assert legend == [f"learning_rate={rate} seed={t.seed}" for rate in (0.03, 0.3, 3.0)] + [
        "train", "test"]
    # In the Runs panel's list each name shows whole (cut at 150 pixels they all read
    # "Sweep 1: learning_rat...").
    panel = w.experiments.panel
    metrics = panel.view.fontMetrics()
    longest = max(metrics.horizontalAdvance(r.name) for r in w.project.runs)
    wait_until(lambda: panel.view.columnWidth(0) >= longest + 8, 20000)
    # A width the user gives the column stays.
    panel.view.horizontalHeader().resizeSection(0, 120)
    w.experiments.rename(w.project.runs.ids()[0], "a much longer name than any before it")
    settle_events(100)
    assert panel.view.columnWidth(0) == 120


def test_escape_closes_a_batch_window_and_stops_its_runs(xor_window, qtbot):
    from PySide6.QtCore import Qt

    w = xor_window
    view = w.experiments.start_seeds(6, epochs=3000, workers=1)
    qtbot.waitExposed(view)
    qtbot.keyClick(view, Qt.Key_Escape)
    assert not view.isVisible()
    wait_until(lambda: not view.batch.running, 20000)
    assert view.batch.cancelled and len(w.project.runs) < 6
