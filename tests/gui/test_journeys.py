"""Journeys: one window, one sitting, several documents. Each follows a user from training one
document to another document (by every way a document can be replaced) and checks the state
at every step against the file or template it came from, independently of the window."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox

from core.project import load_project, save_project
from core.templates import chain, softmax3, xor
from gui.live.loss_panel import EMPTY_SUMMARY
from tests.gui.conftest import wait_until

EXAMPLES = Path(__file__).resolve().parents[2] / "assets" / "examples"


# ----- what a user does ------------------------------------------------------------------------
def train_live(w, steps: int = 300) -> None:
    """Run (as the toolbar button does) until at least `steps` steps, then leave it running."""
    start = w.controller.latest.step if w.controller.latest else 0
    w.training.run_action.trigger()
    wait_until(lambda: w.controller.latest is not None and w.controller.latest.running
               and w.controller.latest.step >= start + steps, 20000)


def pause(w) -> None:
    w.training.run_action.trigger()
    wait_until(lambda: not w.controller.running)
    wait_until(lambda: w.undo_stack.count() > 0 and w.undo_stack.command(
        w.undo_stack.index() - 1).text().startswith("Train"))


def settle_events(ms: int = 400) -> None:
    """Let anything still in the pipe from the training process arrive."""
    import time

    end = time.monotonic() + ms / 1000
    wait_until(lambda: time.monotonic() > end)


def values(net) -> dict:
    return net.to_dict()


# ----- what must hold for a document that was just opened --------------------------------------
def assert_fresh(w, expected) -> None:
    """The window shows exactly `expected` (a Project), and nothing of any run before it."""
    net = w.project.network
    assert values(net) == values(expected.network)  # bit for bit: weights, biases, positions
    assert w.project.data == expected.data and w.project.training == expected.training
    assert w.controller.latest is None and not w.controller.running
    t = w.training
    assert t.counter.text().strip() == "step 0 · epoch 0"
    assert t.loss_panel.summary.text() == EMPTY_SUMMARY
    assert not any(c.isVisible() for c in (t.loss_panel.train, t.loss_panel.batch,
                                           t.loss_panel.test, t.loss_panel.train_acc))
    assert t.gradient_panel.curves == [] and t.gradient_panel.warnings.text() == ""
    x, _ = t.surface_panel.path.getData()
    assert x is None or len(x) == 0
    assert t.surface_panel.race_layer.racers == [] and t.live.progress is None
    assert w.scene.gradients in (None, {})
    assert t.sample.value() == -1
    assert all(item.highlight is None for item in w.scene.neuron_items.values())
    assert set(w.scene.neuron_items) == set(net.neurons)
    thetas, _, _ = w.controller.trajectory()
    assert len(thetas) == 0  # the process holds the new document, with no path yet
    assert t.settings.data == expected.data and t.settings.training == expected.training


def assert_still(w, expected) -> None:
    """Nothing late from an earlier run lands on the document."""
    settle_events()
    assert values(w.project.network) == values(expected.network)


def frozen_unchanged(net, reference) -> bool:
    return all(net.neurons[n].bias == reference.neurons[n].bias
               for n in net.neurons if net.neurons[n].frozen) and \
        all(net.edges[e].weight == reference.edges[e].weight
            for e in net.edges if net.edges[e].frozen)


@pytest.fixture
def example_window(window):
    window.files.load(EXAMPLES / "xor.json")
    return window


@pytest.fixture
def questions(monkeypatch):
    """Record the unsaved-changes questions; answer each from the list (Discard when empty)."""
    asked, answers = [], []

    def question(parent, title, text, *args, **kwargs):
        asked.append(text)
        return answers.pop(0) if answers else QMessageBox.Discard
    monkeypatch.setattr(QMessageBox, "question", question)
    return asked, answers


# ----- journeys ----------------------------------------------------------------------------
def test_train_xor_open_chain_train_undo_quit(example_window, questions, tmp_path):
    """The leak of the first report: XOR's weights landing on chain, frozen bias moved."""
    w, (asked, answers) = example_window, questions
    assert w.windowTitle().startswith("xor.json —")
    train_live(w, 500)
    assert w.files.open(EXAMPLES / "chain.json")  # over a running, unsaved run: asked
    assert len(asked) == 1
    chain = load_project(EXAMPLES / "chain.json")
    assert_fresh(w, chain)
    assert_still(w, chain)
    assert w.windowTitle().startswith("chain.json —")
    # Train the chain: unsaved, one undo step, frozen biases untouched.
    train_live(w, 200)
    pause(w)
    assert w.windowTitle().startswith("chain.json* —")
    assert w.undo_stack.count() == 1
    assert values(w.project.network) != values(chain.network)
    assert frozen_unchanged(w.project.network, chain.network)
    assert w.training.loss_panel.train.isVisible()
    # Quit asks; Cancel keeps the window and the work.
    answers.append(QMessageBox.Cancel)
    assert not w.close()
    assert len(asked) == 2 and w.isVisible()
    w.undo_stack.undo()
    assert values(w.project.network) == values(chain.network)
    assert w.windowTitle().startswith("chain.json —")


def test_open_while_running_without_pausing(example_window, questions):
    """Open over a run still going: the run ends as an undo step of XOR, then the new file
    is shown clean; a Progress of the old run that arrives late is dropped."""
    w, (asked, _) = example_window, questions
    train_live(w, 300)
    old_generation = w.controller.generation
    stale = w.controller.latest
    assert w.files.open(EXAMPLES / "spiral.json")
    spiral = load_project(EXAMPLES / "spiral.json")
    assert asked, "training made the document unsaved, so opening over it asks"
    assert_fresh(w, spiral)
    # A message of the old document, as if still in the pipe: ignored.
    w.controller._on_message(("progress", old_generation, stale))
    assert values(w.project.network) == values(spiral.network)
    assert w.controller.latest is None
    assert_still(w, spiral)
    # Training the new document works and starts from its file's values.
    w.controller.step(1)
    wait_until(lambda: w.controller.latest is not None and w.controller.latest.step == 1)
    assert w.undo_stack.count() == 1 and not w.undo_stack.isClean()


def test_new_after_training_starts_clean_and_undo_brings_back_the_run(example_window, questions):
    w, (asked, _) = example_window, questions
    train_live(w, 300)
    pause(w)
    trained = w.project.snapshot()
    w.new_document()
    assert len(asked) == 1  # the trained XOR was unsaved
    from core.project import Project

    assert_fresh(w, Project())
    assert w.windowTitle().startswith("Untitled —")  # no * before an edit
    assert w.files.path is None
    w.scene.add_neuron_at("input", "identity", w.view.mapToScene(10, 10))
    assert list(w.project.network.neurons) == ["n1"]  # ids restart per document
    assert w.windowTitle().startswith("Untitled* —")
    w.undo_stack.undo()
    w.undo_stack.undo()  # the New itself
    assert values(w.project.network) == values(trained.network)
    assert w.project.training == trained.training and w.project.data == trained.data
    assert w.files.path == (EXAMPLES / "xor.json").resolve()
    assert w.controller.latest is None  # a document brought back is a new run too
    w.undo_stack.undo()  # the training stretch
    assert values(w.project.network) == values(load_project(EXAMPLES / "xor.json").network)


def test_template_then_undo_gives_back_network_and_settings_together(example_window, questions):
    """Report item 4: undo across New from template left softmax CE with the XOR network."""
    w = example_window
    xor_file = load_project(EXAMPLES / "xor.json")
    w.files.new_from(softmax3(), "Template: softmax")
    assert_fresh(w, softmax3())
    assert w.windowTitle().startswith(f"{softmax3().title} —")
    train_live(w, 200)
    pause(w)
    w.undo_stack.undo()  # the training
    assert values(w.project.network) == values(softmax3().network)
    w.undo_stack.undo()  # the template
    assert_fresh(w, xor_file)
    assert w.project.training.loss == xor_file.training.loss == "mse"
    w.undo_stack.redo()
    assert w.project.training.loss == "softmax_ce" and w.project.data == softmax3().data
    assert values(w.project.network) == values(softmax3().network)
    w.undo_stack.undo()
    w.controller.step(50)  # XOR with XOR's settings: a combination that trains
    wait_until(lambda: w.controller.latest is not None and w.controller.latest.step == 50)
    assert w.controller.latest.evaluation.train_loss < load_project(
        EXAMPLES / "xor.json").goal["loss"] * 100


def test_csv_import_after_training(example_window, questions, tmp_path):
    w = example_window
    csv = tmp_path / "shifted.csv"
    rng = np.random.default_rng(1)
    x = rng.normal(100.0, 5.0, (40, 2))
    rows = ["p,q,label"] + [f"{a:.4f},{b:.4f},{'ab'[int(a > 100)]}" for a, b in x]
    csv.write_text("\n".join(rows) + "\n")
    train_live(w, 300)
    before_import = None
    from gui.csv_import import CsvImportDialog, apply_import

    dialog = CsvImportDialog(csv, w)
    dialog.accept()
    assert apply_import(w, dialog)
    # The run on the old data was settled first: one Train step, then the import.
    texts = [w.undo_stack.command(i).text() for i in range(w.undo_stack.count())]
    assert texts[-2].startswith("Train") and texts[-1].startswith("Import data")
    assert w.dataset.n_inputs == 2 and w.controller.latest is None
    assert w.training.counter.text().strip() == "step 0 · epoch 0"
    assert w.training.gradient_panel.curves == []
    spots = [(n.x, n.y) for n in w.project.network.neurons.values()]
    assert len(set(spots)) == len(spots)
    w.undo_stack.undo()
    assert w.project.data == load_project(EXAMPLES / "xor.json").data
    del before_import


def test_crash_restore_replaces_a_running_document(example_window, questions, monkeypatch,
                                                   tmp_path):
    import gui.recovery as recovery
    from core.recovery import write_recovery

    w = example_window
    spiral = load_project(EXAMPLES / "spiral.json")
    spiral.network.set_weight(next(iter(spiral.network.edges)), 1.25)  # unsaved work
    settle_events(100)  # the example's "clean" signal clears any recovery: let it pass first
    write_recovery(spiral, EXAMPLES / "spiral.json")
    train_live(w, 200)
    monkeypatch.setattr(recovery, "ask_restore", lambda *a: True)
    assert recovery.offer_restore(w)
    assert_fresh(w, spiral)
    assert w.windowTitle().startswith("spiral.json* —")  # restored work is not on disk
    assert w.files.path == (EXAMPLES / "spiral.json").resolve()
    assert_still(w, spiral)


def test_undo_while_training_undoes_the_training(example_window, questions):
    w = example_window
    start = w.project.snapshot()
    train_live(w, 300)
    assert w.undo_action.isEnabled()  # nothing on the stack yet, but the run can be undone
    w.undo_action.trigger()
    assert not w.controller.running
    assert values(w.project.network) == values(start.network)
    assert w.undo_stack.canRedo() and w.undo_stack.command(0).text().startswith("Train")
    assert_still(w, start)


def test_settings_edit_mid_run_keeps_the_run_apart(example_window, questions):
    w = example_window
    train_live(w, 300)
    box = w.training.settings.widgets[("training", "learning_rate")]
    box.setValue(0.5)
    texts = [w.undo_stack.command(i).text() for i in range(w.undo_stack.count())]
    assert texts[0].startswith("Train") and texts[1] == "Change training settings"
    assert w.project.training.learning_rate == 0.5
    w.undo_stack.undo()
    assert w.project.training.learning_rate == load_project(EXAMPLES / "xor.json").training.learning_rate
    w.undo_stack.undo()
    assert values(w.project.network) == values(load_project(EXAMPLES / "xor.json").network)


def test_open_recent_save_and_reopen_round_trip(example_window, questions, tmp_path):
    w, (asked, answers) = example_window, questions
    train_live(w, 300)
    pause(w)
    saved = tmp_path / "trained.json"
    assert w.files._write(saved)
    assert w.windowTitle().startswith("trained.json —")
    w.files.new_from(xor(), "Template: XOR")
    assert not asked  # nothing unsaved
    action = next(a for a in w.recent_menu.actions() if a.text() == str(saved.resolve()))
    action.trigger()
    assert_fresh(w, load_project(saved))
    assert json.loads(saved.read_text())["neurons"] == w.project.network.to_dict()["neurons"]


def test_every_document_gets_a_process_that_holds_it(example_window, questions, tmp_path):
    """After each replacement the training process trains the new network: the first step's
    weights equal a step computed here from the file (an independent Trainer)."""
    from core.data.dataset import make_dataset
    from core.training.trainer import Trainer

    w = example_window
    for name in ("chain.json", "circles.json", "xor.json"):
        train_live(w, 100)
        assert w.files.open(EXAMPLES / name)
        project = load_project(EXAMPLES / name)
        w.controller.step(3)
        wait_until(lambda: w.controller.latest is not None and w.controller.latest.step == 3)
        reference = Trainer(project.network, make_dataset(project.data, EXAMPLES),
                            project.training)
        for _ in range(3):
            reference.step()
        reference.sync_network()
        ours, theirs = w.project.network, reference.network
        for eid, edge in theirs.edges.items():
            assert ours.edges[eid].weight == pytest.approx(edge.weight, rel=1e-12, abs=1e-15)
        assert frozen_unchanged(ours, project.network)


def test_a_million_samples_open_without_freezing_the_window(window, tmp_path):
    """The Data panel draws an even spread of at most MAX_POINTS points (a million scatter
    points froze the window for minutes)."""
    import time
    from dataclasses import replace

    from core.templates import classifier_2881
    from gui.live.data_panel import MAX_POINTS

    w = window
    project = classifier_2881()
    project.data = replace(project.data, samples=1_000_000)
    path = tmp_path / "million.json"
    save_project(project, path)
    w.training.docks[1].raise_()  # the Data panel in front
    start = time.monotonic()
    assert w.files.open(path)
    w.repaint()
    assert time.monotonic() - start < 20
    assert len(w.dataset.x_train) == 800_000
    assert len(w.training.data_panel.train_points.data) == MAX_POINTS


def test_saving_mid_run_saves_the_weights_on_screen_and_undo_marks_it_unsaved(
        example_window, questions, tmp_path):
    """Ctrl+S while training runs: the file holds the weights shown at that moment, the
    training before them is an undo step of its own, training goes on, and Undo (or more
    training) marks the document unsaved and asks before closing. Before, Undo after such a
    save left the title clean while the weights on screen were not the file's."""
    w, (asked, answers) = example_window, questions
    saved = tmp_path / "mid-run.json"
    w.files.path = saved.resolve()
    train_live(w, 100)
    w.files.save()
    on_disk = load_project(saved)
    assert w.undo_stack.isClean() and on_disk.network.same_as(w.project.network)
    assert w.undo_stack.command(w.undo_stack.index() - 1).text().startswith("Train")
    saved_at = w.controller.latest.step
    wait_until(lambda: w.controller.running, 20000)  # training goes on after the save
    wait_until(lambda: w.controller.latest is not None and w.controller.latest.step > saved_at
               and w.controller.latest.running, 20000)
    pause(w)
    wait_until(lambda: w.undo_stack.count() == 2)  # the stretch before the save, and after
    assert not w.undo_stack.isClean() and w.windowTitle().startswith("mid-run.json*")
    while not w.undo_stack.isClean():  # back to exactly what was saved
        w.undo_stack.undo()
    assert w.project.network.same_as(on_disk.network)
    assert w.windowTitle().startswith("mid-run.json —")
    w.undo_stack.undo()  # before the save: the training that led to it
    assert not w.undo_stack.isClean() and w.windowTitle().startswith("mid-run.json*")
    assert not w.project.network.same_as(on_disk.network)
    w.files.new_from(xor(), "Template: XOR")
    assert len(asked) == 1  # the unsaved state was asked about


def test_save_as_into_another_folder_keeps_the_csv_data(window, questions, tmp_path):
    """A project with its data in data.csv beside it, saved into another folder: the file
    names the same CSV from there, Open finds it, and a settings edit afterwards keeps it
    (it kept "data.csv", and reopening said "No such file or directory")."""
    from tests.core.test_cli import csv_project

    w = window
    source = csv_project(tmp_path / "X")
    assert w.files.load(source)
    before = w.dataset
    moved = tmp_path / "Y" / "p2.json"
    moved.parent.mkdir()
    assert w.files._write(moved)
    assert load_project(moved).data.csv_path == "../X/data.csv"
    assert w.training.settings.data.csv_path == "../X/data.csv"
    w.training.settings.widgets[("data", "test_fraction")].setValue(0.25)  # an edit after
    assert w.project.data.csv_path == "../X/data.csv"
    assert w.files._write(moved)
    assert w.files.load(moved)
    assert "No such file" not in w.statusBar().currentMessage()
    np.testing.assert_array_equal(np.sort(np.concatenate([w.dataset.x_train, w.dataset.x_test]),
                                          axis=0), np.sort(before.x_train, axis=0))


def test_the_start_up_example_is_not_a_recent_file_nor_saved_over(qtbot, tmp_path,
                                                                    monkeypatch):
    """A plain start shows the bundled XOR example: it is not listed under Open recent (the
    user never chose it, and opening it from there made Ctrl+S overwrite the shipped file),
    and Save asks where to write it. A file given on the command line is listed."""
    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QFileDialog

    from gui.app import EXAMPLE, create_window

    QSettings.setPath(QSettings.NativeFormat, QSettings.UserScope, str(tmp_path / "config"))
    monkeypatch.setenv("BACKPROP_STUDIO_DATA", str(tmp_path / "data"))
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.Discard)
    w = create_window(None)
    qtbot.addWidget(w)
    assert w.files.recent_files() == []
    assert [a.text() for a in w.recent_menu.actions() if a.text() == str(EXAMPLE)] == []
    asked = []
    monkeypatch.setattr(QFileDialog, "getSaveFileName",
                        lambda *a, **k: asked.append(a) or ("", ""))
    before = EXAMPLE.read_bytes()
    assert not w.files.save()  # asks where (cancelled here): never the shipped file
    assert len(asked) == 1 and EXAMPLE.read_bytes() == before
    mine = tmp_path / "mine.json"
    save_project(xor(), mine)
    second = create_window(str(mine))
    qtbot.addWidget(second)
    assert second.files.recent_files() == [str(mine.resolve())]


def test_undo_back_over_new_or_a_template_gives_the_saved_file_clean(window, questions,
                                                                       tmp_path, qtbot):
    """A.json open and clean, then a template, then Undo: A.json as on disk, so no '*' and
    no question on closing (it said 'A.json*' and asked to save an identical file; found by
    two reviewers). An edit after the Undo is unsaved again, and so is a merged edit."""
    w, (asked, answers) = window, questions
    a = tmp_path / "A.json"
    save_project(xor(), a)
    assert w.files.open(a)
    assert w.windowTitle().startswith("A.json —")
    assert w.files.new_from(chain(), "Template: chain")
    assert w.windowTitle().startswith("Two-weight chain —")  # untouched: clean
    w.undo_stack.undo()
    assert w.windowTitle().startswith("A.json —") and not w.files.unsaved()
    assert w.project.network.same_as(load_project(a).network)
    w.undo_stack.redo()
    assert w.windowTitle().startswith("Two-weight chain —")
    w.undo_stack.undo()

    def type_weight(text):  # through the inspector, as a user does
        w.scene.clearSelection()
        w.scene.edge_items["e1"].setSelected(True)
        box = w.inspector.weight
        box.lineEdit().selectAll()
        qtbot.keyClicks(box.lineEdit(), text)
        qtbot.keyClick(box.lineEdit(), Qt.Key_Return)

    type_weight("0.125")
    assert w.project.network.edges["e1"].weight == 0.125
    assert w.files.unsaved() and w.windowTitle().startswith("A.json*")
    w.undo_stack.undo()
    assert not w.files.unsaved() and w.windowTitle().startswith("A.json —")
    # Saved just after an edit, a template, Undo: clean; the same weight typed again merges
    # into that edit (one undo step per weight typed in a row): unsaved.
    type_weight("0.25")
    assert w.files.save() and not w.files.unsaved()
    assert w.files.new_from(chain(), "Template: chain")
    w.undo_stack.undo()
    assert not w.files.unsaved() and w.project.network.edges["e1"].weight == 0.25
    type_weight("0.5")
    assert w.files.unsaved() and w.windowTitle().startswith("A.json*")
    answers.append(QMessageBox.Discard)
    w.files.new_from(xor(), "Template: XOR")
    assert len(asked) == 1  # the one unsaved state
