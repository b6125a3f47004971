"""Hostile files in the window: every project, CSV and weight file of the generated corpus
(tests/core/hostile.py), a sample of the project cases and all of the others, goes through
the window's own Open, Import CSV and Import weights. Each either loads or shows one dialog of
one short line; the open document is untouched by a refusal; no secret is quoted; the
training process is alive at the end and trains."""
from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtWidgets import QMessageBox

from core.project import load_project
from gui import csv_import, export_actions
from tests.core import hostile
from tests.gui.conftest import wait_until

EXAMPLES = Path(__file__).resolve().parents[2] / "assets" / "examples"


@pytest.fixture
def dialogs(monkeypatch):
    shown: list[str] = []
    monkeypatch.setattr(QMessageBox, "critical", lambda parent, title, text, *a: shown.append(text))
    monkeypatch.setattr(QMessageBox, "warning", lambda parent, title, text, *a: shown.append(text))
    return shown


def check_message(text: str) -> None:
    assert "\n" not in text.strip() and len(text) <= 500, text[:200]
    assert hostile.SECRET not in text and "Traceback" not in text


def trains(w) -> bool:
    start = w.controller.latest.step if w.controller.latest else 0
    w.controller.step(2)
    wait_until(lambda: w.controller.latest is not None and w.controller.latest.step >= start + 2)
    return True


def test_hostile_projects_opened_in_the_window(window, dialogs, tmp_path):
    w = window
    w.files.load(EXAMPLES / "xor.json")
    cases = hostile.project_cases()[::25] + hostile.special_file_cases()
    assert len(cases) > 100
    loaded = refused = 0
    for i, (name, make) in enumerate(cases):
        folder = tmp_path / str(i)
        folder.mkdir()
        (folder / "secret.txt").write_text(hostile.SECRET)
        path = make(folder)
        before = w.project.to_dict()
        dialogs.clear()
        if w.files.open(path):
            loaded += 1
            assert not dialogs
            assert w.project.to_dict() == load_project(path).to_dict(), name
            w.files.load(EXAMPLES / "xor.json")
        else:
            refused += 1
            assert len(dialogs) == 1, name
            check_message(dialogs[0])
            assert w.project.to_dict() == before, name  # a refusal touches nothing
    assert loaded and refused
    assert w.controller.process_id is not None and trains(w)


def test_hostile_csvs_imported_in_the_window(window, dialogs, tmp_path, monkeypatch):
    w = window
    w.files.load(EXAMPLES / "xor.json")
    # The dialog is accepted as it comes (its default columns), as a hurried user would.
    monkeypatch.setattr(csv_import.CsvImportDialog, "exec",
                        lambda self: (self.accept(), self.result_data is not None)[1])
    imported = 0
    for i, (name, data) in enumerate(hostile.csv_cases(n_random=60)):
        path = tmp_path / f"{i}.csv"
        path.write_bytes(data)
        before = w.project.to_dict()
        dialogs.clear()
        if csv_import.import_csv(w, path):
            imported += 1
            w.undo_stack.undo()
            assert w.project.to_dict() == before, name
        else:
            assert len(dialogs) <= 1, name
            for text in dialogs:
                check_message(text)
            assert w.project.to_dict() == before, name
    assert imported
    assert trains(w)


def test_hostile_weight_files_imported_in_the_window(window, dialogs, tmp_path):
    w = window
    w.files.load(EXAMPLES / "xor.json")
    net = w.project.network
    edges = [[e.id, e.source, e.target] for e in net.edges.values()]
    biased = [n.id for n in net.neurons.values() if n.role != "input"]
    cases = [(f"{n}.json", d) for n, d in hostile.weight_json_cases(edges, biased)] + \
        [(f"{n}.npz", d) for n, d in hostile.weight_npz_cases(edges, biased)]
    for i, (name, data) in enumerate(cases):
        path = tmp_path / f"{i}-{name.replace('/', '_')[-40:]}"
        path.write_bytes(data)
        before = w.project.to_dict()
        dialogs.clear()
        if export_actions.import_weights_from(w, path):
            w.undo_stack.undo()
        else:
            assert len(dialogs) == 1, name
            check_message(dialogs[0])
        assert w.project.to_dict() == before, name
    assert trains(w)
