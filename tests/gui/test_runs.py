"""The Runs panel through real widgets: runs recorded while training in the window (held to a
headless Trainer's numbers), compared, renamed, deleted and restored as undoable steps, kept
per document; evaluation windows and their pictures."""
from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QPointF, Qt
from PySide6.QtGui import QAction, QImage

from core.data.dataset import make_dataset
from core.engine import compile_plan
from core.experiments.evaluation import classes_of
from core.experiments.run import weights_fingerprint
from core.project import load_project
from core.templates import regression, softmax3, xor
from core.training.trainer import Trainer
from gui.experiments.runs_model import CHANGED, STEPS
from tests.gui.conftest import opened, wait_until
from tests.gui.test_journeys import pause, settle_events, train_live


def step(w, n: int) -> None:
    """Step n minibatches with the toolbar's Step (n clicks' worth at once)."""
    start = w.controller.latest.step if w.controller.latest else 0
    w.controller.step(n)
    wait_until(lambda: w.controller.latest is not None and w.controller.latest.step == start + n
               and not w.controller.latest.running)


def runs(w):
    return w.project.runs.runs


def headless(project, steps: int):
    """The same training without the window: an independent Trainer from the same start."""
    p = project.snapshot()
    trainer = Trainer(p.network, make_dataset(p.data), p.training)
    trainer.run(steps=steps)
    trainer.sync_network()
    return trainer, p.network


@pytest.fixture
def softmax_window(window):
    return opened(window, softmax3(), "softmax")


def test_a_run_is_recorded_with_the_numbers_of_a_headless_trainer(softmax_window):
    w = softmax_window
    start = w.project.snapshot()
    step(w, 40)
    step(w, 30)  # a pause does not end a run: Step again goes on with it
    wait_until(lambda: len(runs(w)) == 1 and runs(w)[0].steps == 70)
    run = runs(w)[0]
    trainer, trained = headless(start, 70)
    expected = trainer.evaluate()
    assert run.final.train_loss == pytest.approx(expected.train_loss, rel=1e-10)
    assert run.final.test_accuracy == pytest.approx(expected.test_accuracy, abs=1e-12)
    assert run.weights.edges == pytest.approx({e.id: e.weight for e in trained.edges.values()},
                                              rel=1e-9)
    assert run.training == start.training.to_dict() and run.name == "Run 1"
    assert not run.initialised  # from the template's weights, not drawn
    model = w.experiments.panel.model
    assert model.rowCount() == 1 and model.index(0, STEPS).data() == "70"


def test_a_settings_change_starts_a_new_run_that_names_the_change(softmax_window):
    w = softmax_window
    step(w, 20)
    w.training.settings.widgets[("training", "learning_rate")].setValue(0.5)
    step(w, 20)
    wait_until(lambda: len(runs(w)) == 2)
    first, second = runs(w)
    assert second.training["learning_rate"] == 0.5 and first.training["learning_rate"] != 0.5
    assert second.steps == 20  # counted from its own start
    changed = w.experiments.panel.model.index(1, CHANGED).data()
    assert changed == "learning_rate 0.5"


def test_a_structure_edit_starts_a_run_whose_shape_is_hashed_between_events(softmax_window):
    """Adding a neuron from the palette ends the run; the next one's structure fingerprint is
    made in slices before its first frame (the window does not hash at the edit), and each
    run keeps the fingerprint of the net it trained."""
    from core.experiments import run as run_module
    from core.experiments.run import structure_fingerprint

    w = softmax_window
    net = w.project.network
    before = structure_fingerprint(net)
    w.controller.run()
    wait_until(lambda: w.controller.latest is not None and w.controller.latest.step > 0)
    w.scene.add_neuron_at("hidden", "tanh", QPointF(0, 0))  # while it trains
    hashing = w.experiments.recording._hashing
    wait_until(lambda: not hashing.running and hashing.turns >= 1)  # done between events
    assert run_module._last_structure[1] == net.structure_version
    after = structure_fingerprint(net)
    wait_until(lambda: len(runs(w)) == 2)
    pause(w)
    first, second = runs(w)
    assert (first.structure, second.structure) == (before, after) and before != after
    assert w.experiments.panel.model.index(1, CHANGED).data() == "other network"


def test_reset_then_train_is_a_run_from_drawn_weights_and_nothing_of_the_old_one(
        softmax_window):
    w = softmax_window
    step(w, 60)
    w.training.reset_weights()
    w.training.settings.widgets[("training", "learning_rate")].setValue(0.3)
    drawn = w.project.snapshot()
    # The old run's last frame, read out of the pipe while settling, never comes back.
    settle_events()
    assert w.controller.latest is None
    assert w.training.counter.text().strip() == "step 0 · epoch 0"
    step(w, 25)
    wait_until(lambda: len(runs(w)) == 2)
    assert [r.initialised for r in runs(w)] == [False, True]
    second = runs(w)[1]
    assert second.start == weights_fingerprint(drawn.network)
    trainer, _ = headless(drawn, 25)
    assert second.final.train_loss == pytest.approx(trainer.evaluate().train_loss, rel=1e-10)
    assert max(second.curves["train_loss"].steps) == 25


def test_a_live_run_after_reset_is_drawn_while_it_trains_and_keeps_its_curve(softmax_window):
    """Pause, a moment's thought, Reset weights, Run: the new run's frames come while it
    trains (on main none came until the next pause: an empty loss panel, and a run kept with
    two points, its first and its last, joined by a straight line)."""
    w = softmax_window
    train_live(w, 50)
    pause(w)
    settle_events(500)  # the pause's frame answered: the process has nothing in flight
    next(a for a in w.findChildren(QAction) if a.text() == "Reset weights").trigger()
    w.training.run_action.trigger()
    wait_until(lambda: w.controller.latest is not None and w.controller.latest.running
               and w.controller.latest.step > 0, 5000)
    seen = w.controller.latest.step
    wait_until(lambda: w.controller.latest.step > seen, 20000)  # and the next frame, too
    settle_events(1000)
    pause(w)
    wait_until(lambda: len(runs(w)) == 2 and runs(w)[1].weights is not None)
    # Evaluated a few times a second while it trained, not just at its ends.
    assert len(runs(w)[1].curves["train_loss"]) > 2


def test_compare_overlays_curves_and_marks_the_differing_settings(softmax_window):
    w = softmax_window
    step(w, 30)
    w.training.reset_weights()
    w.training.settings.widgets[("training", "learning_rate")].setValue(0.3)
    step(w, 50)
    wait_until(lambda: len(runs(w)) == 2)
    panel = w.experiments.panel
    panel.select(w.project.runs.ids())
    legend = [label.text for _, label in panel.compare.legend.items]
    assert legend == ["Run 1", "Run 2", "train", "test"]
    for quantity in ("loss", "accuracy"):
        panel.compare.show_quantity(quantity)
        for run in runs(w):
            train, test = panel.compare._items[run.id]
            assert list(train.getData()[1]) == list(run.curves[f"train_{quantity}"].values)
            assert list(test.getData()[0]) == list(run.curves[f"test_{quantity}"].steps)
        # Redrawn, the legend says each thing once (it gained another train/test pair each
        # time on main).
        assert [label.text for _, label in panel.compare.legend.items] == legend
    # The differences, worked out from the runs' own settings dicts.
    a, b = runs(w)
    differing = {k for k in a.training if a.training[k] != b.training[k]}
    assert differing == {"learning_rate"}
    table = panel.settings_table
    # The first started from the template's weights, the second from drawn ones.
    expected = ["learning_rate", "start weights", "steps"] + \
        (["epochs"] if a.epochs != b.epochs else [])
    assert table.different == expected
    assert table.value("learning_rate", 1) == "0.3"
    table.only_differences.setChecked(True)
    shown = [table.table.verticalHeaderItem(i).text() for i in range(table.table.rowCount())
             if not table.table.isRowHidden(i)]
    assert shown == [f"≠ {name}" for name in expected]


def test_rename_inline_delete_with_del_and_undo_both(softmax_window, qtbot):
    w = softmax_window
    step(w, 10)
    wait_until(lambda: len(runs(w)) == 1)
    w.experiments.show_panel()
    panel = w.experiments.panel
    view = panel.view
    qtbot.waitExposed(view)
    rect = view.visualRect(panel.model.index(0, 0))
    qtbot.mouseClick(view.viewport(), Qt.LeftButton, pos=rect.center())  # a double-click
    qtbot.mouseDClick(view.viewport(), Qt.LeftButton, pos=rect.center())
    editor = view.focusWidget()
    editor.selectAll()
    qtbot.keyClicks(editor, "lr 0.1 baseline")
    qtbot.keyClick(editor, Qt.Key_Return)
    wait_until(lambda: runs(w)[0].name == "lr 0.1 baseline")  # Qt commits it queued
    assert w.undo_stack.undoText() == "Rename run"
    panel.select([runs(w)[0].id])
    view.setFocus()
    qtbot.keyClick(view, Qt.Key_Delete)
    assert len(runs(w)) == 0 and len(w.project.network.neurons) > 0  # not the canvas's
    w.undo_action.trigger()
    assert [r.name for r in runs(w)] == ["lr 0.1 baseline"]
    w.undo_action.trigger()
    assert runs(w)[0].name == "Run 1"


def test_an_empty_name_is_refused_with_a_message(softmax_window):
    w = softmax_window
    step(w, 5)
    wait_until(lambda: len(runs(w)) == 1)
    w.experiments.panel.model.setData(w.experiments.panel.model.index(0, 0), "   ")
    assert runs(w)[0].name == "Run 1"
    assert "cannot be empty" in w.statusBar().currentMessage()


def test_restore_weights_is_one_undo_step(softmax_window):
    w = softmax_window
    step(w, 40)
    wait_until(lambda: len(runs(w)) == 1)
    first = runs(w)[0]
    w.training.reset_weights()
    step(w, 5)
    before = w.project.network.to_dict()
    w.experiments.panel.select([first.id])
    w.experiments.panel.restore_action.trigger()
    net = w.project.network
    assert {e.id: e.weight for e in net.edges.values()} == dict(first.weights.edges)
    assert w.undo_stack.undoText().startswith("Restore weights of Run 1")
    w.undo_action.trigger()
    assert w.project.network.to_dict() == before


def test_runs_are_saved_with_the_project_and_do_not_leak_into_another(softmax_window, tmp_path):
    w = softmax_window
    step(w, 20)
    wait_until(lambda: len(runs(w)) == 1)
    path = tmp_path / "softmax.json"
    w.files._write(path)
    assert [r.name for r in load_project(path).runs] == ["Run 1"]
    w.files.new_from(xor(), "XOR")
    assert len(runs(w)) == 0 and w.experiments.panel.model.rowCount() == 0
    step(w, 10)  # a run of XOR: its own
    wait_until(lambda: len(runs(w)) == 1)
    assert w.files.open(path)
    assert [r.name for r in runs(w)] == ["Run 1"]
    assert runs(w)[0].steps == 20 and w.experiments.panel.model.rowCount() == 1


def test_another_document_with_several_runs_selected_clears_the_selection_quietly(
        softmax_window):
    """Three runs, the first and third selected, then a template: the rows leave one by one
    and each removal changed the selection, which asked the new (empty) log for the old runs:
    "there is no run 'r1'" in an error dialog (found by a reviewer)."""
    w = softmax_window
    for k in range(3):
        step(w, 10)
        w.training.reset_weights()
    wait_until(lambda: len(runs(w)) == 3)
    panel = w.experiments.panel
    panel.select([runs(w)[0].id, runs(w)[2].id])
    assert len(panel.selected_runs()) == 2 and len(panel.compare.runs) == 2
    assert w.files.new_from(xor(), "XOR")  # pytest-qt fails the test on a raise in a slot
    assert panel.selected_ids() == [] and panel.model.rowCount() == 0
    assert panel.compare.runs == [] and not panel.delete_action.isEnabled()
    w.undo_stack.undo()  # the runs come back, and can be selected again
    wait_until(lambda: panel.model.rowCount() == 3)
    panel.select([runs(w)[1].id])
    assert [r.id for r in panel.selected_runs()] == [runs(w)[1].id]


def test_evaluation_of_a_classifier_matches_its_predictions_and_exports(softmax_window,
                                                                        tmp_path):
    w = softmax_window
    step(w, 60)
    view = w.experiments.evaluate()
    data = w.dataset
    plan = compile_plan(w.project.network)
    from core.engine import predict
    from core.losses import predictions

    # Independently: one sample at a time, its class the largest softmax output.
    truth = classes_of(data.y_test)
    guess = [int(np.argmax(predictions("softmax_ce", predict(
        plan, plan.pack(w.project.network), plan.inputs_from(data.x_test[i: i + 1]))[0:1])))
        for i in range(len(data.x_test))]
    test_matrix = view.matrices[1]
    for i in range(3):
        for j in range(3):
            expected = sum(1 for t, g in zip(truth, guess) if t == i and g == j)
            assert test_matrix.item(i, j).text() == f"{expected:,}"
    out = tmp_path / "confusion.png"
    view.export_png(out)
    image = QImage(str(out))
    assert not image.isNull() and image.width() == view.content.width()


def test_evaluation_of_a_regression_draws_predictions_and_residuals(window, tmp_path):
    w = opened(window, regression(), "regression")
    step(w, 30)
    view = w.experiments.evaluate()
    items = view.fit_plot.getPlotItem().listDataItems()
    x, y = items[0].getData()
    data = w.dataset
    assert np.allclose(x, data.y_train[:, 0])
    residual_x, residual_y = view.residual_plot.getPlotItem().listDataItems()[0].getData()
    assert np.allclose(residual_y, data.y_train[:, 0] - y)
    view.export_png(tmp_path / "fit.png")
    assert not QImage(str(tmp_path / "fit.png")).isNull()


def test_the_regression_plots_legend_hides_no_point(window, qtbot):
    """On main the legend sat in the top right corner, where a good fit's points are (the
    largest targets, predicted about right), and again over the residuals."""
    w = opened(window, regression(), "regression")
    step(w, 3000)
    view = w.experiments.evaluate()
    qtbot.waitExposed(view)
    wait_until(lambda: view.fit_plot.getPlotItem().legend.isVisible())
    plot = view.fit_plot.getPlotItem()
    box = plot.legend.sceneBoundingRect()
    covered = 0
    for item in plot.listDataItems()[:2]:  # train and test points
        for x, y in zip(*item.getData()):
            covered += box.contains(plot.vb.mapViewToScene(QPointF(x, y)))
    assert covered == 0
    # One legend says which colour is which part, for both plots.
    assert view.residual_plot.getPlotItem().legend is None


def test_restoring_onto_another_network_is_refused_with_a_message(softmax_window):
    w = softmax_window
    step(w, 10)
    wait_until(lambda: len(runs(w)) == 1)
    w.scene.add_neuron_at("hidden", "tanh", w.view.mapToScene(5, 5))  # a bias the run lacks
    before = w.project.network.to_dict()
    depth = w.undo_stack.count()
    w.experiments.panel.select([runs(w)[0].id])
    w.experiments.panel.restore_action.trigger()
    assert w.project.network.to_dict() == before and w.undo_stack.count() == depth
    assert "weights are for another network" in w.statusBar().currentMessage()


# A floating dock is raised as a window of its own, which the offscreen platform cannot do.
@pytest.mark.qt_log_ignore("This plugin does not support raise")
def test_on_a_laptops_screen_the_comparison_pops_out_large_enough_to_read(softmax_window,
                                                                          qtbot):
    from tests.gui.test_layout import lay_out

    w = softmax_window
    lay_out(w, 1024, 700)
    step(w, 30)
    w.training.settings.widgets[("training", "learning_rate")].setValue(0.3)
    step(w, 30)
    wait_until(lambda: len(runs(w)) == 2)
    ui, panel = w.experiments, w.experiments.panel
    ui.show_panel()
    # Every button of the panel's toolbar in sight (Sweep and Evaluate went behind "»").
    settle_events(100)
    hidden = [a.text() for a in panel.toolbar.actions() if not a.isSeparator() and
              not panel.toolbar.widgetForAction(a).isVisible()]
    assert hidden == []
    panel.select(w.project.runs.ids())
    panel.tabs.setCurrentWidget(panel.compare)
    wait_until(lambda: panel.compare.plot.isVisible())
    docked_height = panel.compare.plot.height()
    assert docked_height < 150  # the strip the bottom dock leaves at 1024 x 700
    qtbot.mouseClick(panel.pop_out, Qt.LeftButton)
    wait_until(lambda: ui.dock.isFloating() and panel.compare.plot.height() >= 300)
    assert panel.compare.legend.isVisible() and panel.pop_out.text() == "Dock"
    # Wide enough for the list and the plot side by side again.
    assert panel.tabs.indexOf(panel.view) < 0 and panel.view.isVisible()
    w.training.docks[0].raise_()  # meanwhile the user looks at the Loss panel
    qtbot.mouseClick(panel.pop_out, Qt.LeftButton)
    wait_until(lambda: not ui.dock.isFloating())
    assert panel.pop_out.text() == "⤢ Pop out"
    # Back in its tab group, its own tab is the one shown (it came back behind the others).
    settle_events(200)
    from PySide6.QtWidgets import QTabBar

    docks = [bar for bar in w.findChildren(QTabBar) if bar is not panel.tabs.tabBar() and
             "Runs" in [bar.tabText(i) for i in range(bar.count())]]
    assert [bar.tabText(bar.currentIndex()) for bar in docks] == ["Runs"]
