"""File > Import CSV data: preview, choose input and target columns, classification or
regression, standardisation, test share. The file is loaded in full before anything changes;
a bad row or column is reported (line and column) and nothing is imported. On success the data
settings change and the network's input and output neurons are made to match the columns (one
undoable step)."""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QItemSelection, QItemSelectionModel
from PySide6.QtWidgets import (QAbstractItemView, QCheckBox, QComboBox, QDialog,
                               QDoubleSpinBox, QFileDialog, QFormLayout,
                               QHBoxLayout, QLabel, QListWidget, QTableWidget, QTableWidgetItem,
                               QVBoxLayout)

from core.activations import DEFAULT_ACTIVATION
from core.data.csv_file import csv_preview, load_csv
from core.data.dataset import DataError
from core.edits import AddNeuron, Compound, RemoveItems, SetSettings, SetValue
from core.features import columns_unread
from core.losses import CLASSES_LOSS
from core.network import Network, Neuron
from core.settings import DataSettings
from gui.connect_dialog import ok_cancel

PREVIEW_ROWS = 12
PREVIEW_COLUMNS = 100


class CsvImportDialog(QDialog):
    def __init__(self, path: Path, parent=None) -> None:
        super().__init__(parent)
        self.path = path
        self.setWindowTitle(f"Import {path.name}")
        self.header, rows = csv_preview(path, PREVIEW_ROWS)
        # The preview table shows the first columns only: a file of 100,000 columns made a
        # table nobody can read, and took minutes to build.
        shown = self.header[:PREVIEW_COLUMNS]
        self.table = QTableWidget(len(rows), len(shown))
        self.table.setHorizontalHeaderLabels(shown)
        for r, row in enumerate(rows):
            for c, text in enumerate(row[: len(shown)]):
                self.table.setItem(r, c, QTableWidgetItem(text))
        self.table.setEditTriggers(QAbstractItemView.NoEditTriggers)
        self.inputs, self.targets = self._column_list(), self._column_list()
        last = len(self.header) - 1
        # One selection of a range, not one per item (quadratic in a multi-selection list).
        _select(self.inputs, 0, last - 1)
        _select(self.targets, last, last)
        self.task = QComboBox()
        self.task.addItems(["classification", "regression"])
        self.standardize = QCheckBox("standardise inputs (fitted on the training part)")
        self.standardize.setChecked(True)
        self.test_share = QDoubleSpinBox()
        self.test_share.setRange(0.0, 0.9)
        self.test_share.setSingleStep(0.05)
        self.test_share.setValue(0.2)
        self.error = QLabel("")
        self.error.setWordWrap(True)
        self.error.setStyleSheet("color: #b3261e;")
        columns = QHBoxLayout()
        for title, widget in (("Inputs", self.inputs), ("Targets", self.targets)):
            box = QVBoxLayout()
            box.addWidget(QLabel(f"<b>{title}</b>"))
            box.addWidget(widget)
            columns.addLayout(box)
        form = QFormLayout()
        form.addRow("Task", self.task)
        form.addRow("", self.standardize)
        form.addRow("Test share", self.test_share)
        buttons = ok_cancel(self)
        layout = QVBoxLayout(self)
        more = len(self.header) - len(shown)
        layout.addWidget(QLabel(f"First rows of {path.name}" + (
            f" (the first {len(shown)} of {len(self.header):,} columns):" if more else ":")))
        layout.addWidget(self.table)
        layout.addLayout(columns)
        layout.addLayout(form)
        layout.addWidget(self.error)
        layout.addWidget(buttons)
        self.resize(720, 560)
        self.result_data = None

    def _column_list(self) -> QListWidget:
        widget = QListWidget()
        widget.setSelectionMode(QAbstractItemView.MultiSelection)
        widget.addItems(self.header)
        return widget

    def chosen(self) -> tuple[list[str], list[str]]:
        # In the file's order, by row number (header.index per name was quadratic: 100 s for
        # a file of 100,000 columns).
        pick = lambda w: [self.header[r] for r in sorted(i.row() for i in w.selectedIndexes())]  # noqa: E731
        return pick(self.inputs), pick(self.targets)

    def accept(self) -> None:
        """Load everything now; stay open with the message if any row or column is bad."""
        inputs, targets = self.chosen()
        try:
            x, y, in_names, out_names, classes = load_csv(self.path, inputs, targets,
                                                          self.task.currentText())
        except DataError as exc:
            self.error.setText(str(exc))
            return
        self.result_data = (inputs, targets, in_names, out_names, y.shape[1])
        super().accept()

    def settings(self, base_dir: Path | None) -> DataSettings:
        inputs, targets = self.chosen()
        path = self.path
        if base_dir is not None:
            try:
                path = path.resolve().relative_to(base_dir.resolve())
            except ValueError:
                pass
        return DataSettings(source="csv", csv_path=str(path), input_columns=inputs,
                            target_columns=targets, task=self.task.currentText(),
                            standardize=self.standardize.isChecked(),
                            test_fraction=self.test_share.value())


def _select(widget: QListWidget, first: int, last: int) -> None:
    if 0 <= first <= last:
        model = widget.model()
        widget.selectionModel().select(
            QItemSelection(model.index(first, 0), model.index(last, 0)),
            QItemSelectionModel.Select)


def match_neurons(net: Network, role: str, labels: list[str], x: float) -> list:
    """Edits that give `net` exactly len(labels) neurons of `role`, labelled like the columns:
    existing ones are kept (and relabelled) in order, missing ones added, extra ones removed."""
    existing = [n for n in net.neurons.values() if n.role == role]
    if role == "input" and any(n.feature for n in existing):
        # Inputs with features (x1², x1·x2...) read columns by position whatever their
        # number: they stay as drawn; a column they read and the CSV lacks is named when
        # training starts (core.features.column_mismatch).
        return []
    edits: list = []
    for n, label in zip(existing, labels):
        if n.label != label:
            edits.append(SetValue("label", n.id, n.label, label))
    extra = [n.id for n in existing[len(labels):]]
    if extra:
        edits.append(RemoveItems(extra, []))
    activation = DEFAULT_ACTIVATION[role]
    kept = existing[:len(labels)]
    # New neurons go below the ones kept (a centred column if there are none): never on top
    # of a neuron already there.
    top = max((n.y for n in kept), default=-((len(labels) - 1) * 80.0) / 2 - 80.0)
    for k, label in enumerate(labels[len(kept):]):
        edits.append(AddNeuron(Neuron(net.new_id("n"), role, activation, 0.0, label,
                                      kept[0].x if kept else x, top + 80.0 * (k + 1))))
    return edits


def import_csv(window, path: str | Path | None = None) -> bool:
    if path is None:
        path, _ = QFileDialog.getOpenFileName(window, "Import CSV data", "", "CSV (*.csv);;All files (*)")
        if not path:
            return False
    path = Path(path)
    try:
        dialog = CsvImportDialog(path, window)
    except DataError as exc:
        from PySide6.QtWidgets import QMessageBox

        QMessageBox.critical(window, "Cannot import CSV", str(exc))
        return False
    if not dialog.exec():
        return False
    return apply_import(window, dialog)


def apply_import(window, dialog: CsvImportDialog) -> bool:
    window.files.settle_requested.emit()  # training so far is an undo step of its own
    project = window.project
    net = project.network
    _, _, in_names, out_names, n_targets = dialog.result_data
    base = window.files.path.parent if window.files.path else None
    xs = [n.x for n in net.neurons.values()] or [0.0]
    loss_fix = []
    if dialog.task.currentText() == "classification" and n_targets > 1 \
            and project.training.loss != CLASSES_LOSS:
        loss_fix = [SetSettings(project, "training", project.training,
                                type(project.training)(**{**project.training.to_dict(),
                                                          "loss": CLASSES_LOSS}))]
    edits = [*match_neurons(net, "input", in_names, min(xs) if net.inputs else 0.0),
             *match_neurons(net, "output", out_names, max(xs) + (0 if net.outputs else 360.0)),
             SetSettings(project, "data", project.data, dialog.settings(base)), *loss_fix]
    ok = window.scene.push(Compound(edits, f"Import data from {dialog.path.name}"))
    if ok:
        unread = columns_unread([n.feature for n in net.inputs], len(in_names))
        # Inputs that read features of some columns (x1², sin x1) can leave one unread:
        # training runs without it, which the user must hear of.
        note = "" if not unread else (
            f" No input neuron reads {', '.join(in_names[c] for c in unread[:5])}"
            f"{' and more' if len(unread) > 5 else ''}: give an input that Feature to use it.")
        window.statusBar().showMessage(
            f"Imported {dialog.path.name}: {len(in_names)} input(s), {len(out_names)} "
            f"target(s). Connect the new neurons, then train.{note}", 20000)
    return ok
