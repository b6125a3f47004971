"""A journey with kept runs: one user, one window, from a template to a comparison, a restore,
a save, another document and back, and a repeat with three seeds. Each step is checked
against the document and files, independently of the panel's own bookkeeping."""
from __future__ import annotations

import json

from PySide6.QtWidgets import QMessageBox

from core.project import load_project
from core.templates import TEMPLATES
from gui.experiments.runs_model import CHANGED
from tests.gui.conftest import wait_until
from tests.gui.test_journeys import pause, train_live


def menu_action(menu, text: str):
    for action in menu.actions():
        if action.text() == text:
            return action
        if action.menu() is not None:
            found = menu_action(action.menu(), text)
            if found is not None:
                return found
    return None


def test_train_compare_restore_save_switch_back_and_repeat(window, tmp_path, monkeypatch):
    w = window
    asked = []
    monkeypatch.setattr(QMessageBox, "question",
                        lambda *a, **k: asked.append(a[2]) or QMessageBox.Discard)
    # Open a template (File > New from template).
    menu_action(w.menus["file"], TEMPLATES["softmax3"].title).trigger()
    template = TEMPLATES["softmax3"].build()
    log, panel = w.project.runs, w.experiments.panel
    assert len(log) == 0
    # Train, reset, train with another learning rate.
    train_live(w, 150)
    pause(w)
    w.training.reset_weights()
    w.training.settings.widgets[("training", "learning_rate")].setValue(0.05)
    train_live(w, 150)
    pause(w)
    wait_until(lambda: len(log) == 2 and log.runs[1].weights is not None)
    first, second = log.runs
    assert first.training["learning_rate"] == template.training.learning_rate
    assert second.training["learning_rate"] == 0.05 and second.initialised
    assert first.steps >= 150 and second.steps >= 150
    # Compare the two: both in the plot's legend, learning_rate marked in the table.
    w.experiments.show_panel()
    panel.select([first.id, second.id])
    assert [label.text for _, label in panel.compare.legend.items] == [
        "Run 1", "Run 2", "train", "test"]
    assert "learning_rate" in panel.settings_table.different
    assert panel.model.index(1, CHANGED).data().startswith("learning_rate 0.05")
    # Restore the first run's weights, then undo it.
    trained_second = w.project.network.to_dict()
    panel.select([first.id])
    panel.restore_action.trigger()
    net = w.project.network
    assert {e.id: e.weight for e in net.edges.values()} == dict(first.weights.edges)
    w.undo_action.trigger()
    assert w.project.network.to_dict() == trained_second
    # Save: the file holds both runs.
    path = tmp_path / "compared.json"
    assert w.files._write(path)
    saved = json.loads(path.read_text())
    assert [r["name"] for r in saved["runs"]] == ["Run 1", "Run 2"]
    # Open another document: none of these runs leak into it.
    other = tmp_path / "xor.json"
    from core.project import save_project
    from core.templates import xor

    save_project(xor(), other)
    assert w.files.open(other)
    assert len(log) == 0 and panel.model.rowCount() == 0
    assert panel.compare.runs == [] and panel.settings_table.table.columnCount() == 0
    # Reopen the first: its runs come back, as saved.
    assert w.files.open(path)
    assert [r.to_dict() for r in log] == [r.to_dict() for r in load_project(path).runs]
    assert panel.model.rowCount() == 2
    # Repeat with 3 seeds (few epochs): three more runs, one undo step.
    view = w.experiments.start_seeds(3, epochs=5, workers=2)
    wait_until(lambda: not view.batch.running and len(view.results) == 3, 60000)
    assert len(log) == 5 and sorted(r.seed for r in log.runs[2:]) == [
        template.training.seed + i for i in range(3)]
    assert w.undo_stack.undoText() == "Seeds 1 (3 runs)"
    assert w.windowTitle().startswith("compared.json* —")  # the new runs are unsaved
    # Quit: asked about the unsaved runs (answered Discard), the window closes.
    asked.clear()
    assert w.close()
    assert asked == ["Save the changes to compared.json before closing it?"]
