"""File > Import CSV data through the real dialog widgets."""
from pathlib import Path

import pytest

from core.templates import xor
from gui.csv_import import CsvImportDialog, apply_import


@pytest.fixture
def csv_file(tmp_path) -> Path:
    path = tmp_path / "flowers.csv"
    rows = ["a,b,c,species"] + [f"{i % 5},{i % 3}.5,{i % 7},{['x', 'y', 'z'][i % 3]}" for i in range(30)]
    path.write_text("\n".join(rows) + "\n")
    return path


def test_import_creates_matching_neurons_and_data_settings_in_one_undo_step(xor_window, qtbot,
                                                                           csv_file):
    w = xor_window
    dialog = CsvImportDialog(csv_file, w)
    qtbot.addWidget(dialog)
    assert dialog.table.rowCount() == 12 and dialog.header == ["a", "b", "c", "species"]
    assert dialog.chosen() == (["a", "b", "c"], ["species"])  # the last column is the target
    dialog.accept()
    assert dialog.result_data is not None
    before = w.project.network.copy()
    assert apply_import(w, dialog)
    net = w.project.network
    assert [n.label for n in net.inputs] == ["a", "b", "c"]
    assert [n.label for n in net.outputs] == ["x", "y", "z"]
    assert w.project.data.source == "csv" and w.project.data.target_columns == ["species"]
    assert w.project.training.loss == "softmax_ce"
    assert w.dataset.n_inputs == 3 and w.dataset.n_targets == 3
    spots = [(n.x, n.y) for n in net.neurons.values()]  # new neurons beside, never on, old ones
    assert all(abs(a[0] - b[0]) >= 60 or abs(a[1] - b[1]) >= 60
               for i, a in enumerate(spots) for b in spots[i + 1:])
    w.undo_stack.undo()
    assert net.same_as(before) and w.project.data.source == "generator"


def test_a_bad_row_is_reported_and_nothing_is_imported(xor_window, qtbot, tmp_path):
    w = xor_window
    bad = tmp_path / "bad.csv"
    bad.write_text("u,v,t\n1,2,3\n4,oops,6\n7,8,9\n")
    dialog = CsvImportDialog(bad, w)
    qtbot.addWidget(dialog)
    dialog.task.setCurrentText("regression")
    dialog.accept()
    assert dialog.result_data is None
    assert "bad.csv line 3, column 'v': 'oops' is not a number" in dialog.error.text()
    assert w.project.network.same_as(xor().network) and w.project.data.source == "generator"


def test_choosing_columns_with_the_lists(xor_window, qtbot, csv_file):
    dialog = CsvImportDialog(csv_file, xor_window)
    qtbot.addWidget(dialog)
    dialog.inputs.item(2).setSelected(False)
    dialog.task.setCurrentText("regression")
    dialog.targets.item(3).setSelected(False)
    dialog.targets.item(2).setSelected(True)
    assert dialog.chosen() == (["a", "b"], ["c"])
    dialog.accept()
    assert dialog.result_data[2:] == (["a", "b"], ["c"], 1)


def test_a_column_no_input_reads_is_said_after_the_import(xor_window, qtbot, csv_file):
    """Inputs reading x1² and sin x1, then a CSV of three input columns: training runs
    without the column no feature reads, and the status bar said only "3 input(s)" (found by
    a reviewer). It now names the column; a plain import says nothing of the kind."""
    from core.features import Feature

    w = xor_window
    first, second = [n.id for n in w.project.network.inputs]
    w.project.network.set_feature(first, Feature("square", (0,)))
    w.project.network.set_feature(second, Feature("sin", (0,)))
    dialog = CsvImportDialog(csv_file, w)
    qtbot.addWidget(dialog)
    dialog.accept()
    assert apply_import(w, dialog)
    message = w.statusBar().currentMessage()
    features = [n.feature for n in w.project.network.inputs]
    read = {c for i, f in enumerate(features) for c in (f.columns if f else (i,))}
    unread = [name for c, name in enumerate(["a", "b", "c"]) if c not in read]
    assert unread  # the case this test is about
    assert f"No input neuron reads {', '.join(unread)}:" in message
    w.undo_stack.undo()
    w.project.network.set_feature(first, None)
    w.project.network.set_feature(second, None)
    dialog = CsvImportDialog(csv_file, w)
    qtbot.addWidget(dialog)
    dialog.accept()
    assert apply_import(w, dialog)
    assert "No input neuron reads" not in w.statusBar().currentMessage()
