"""The Sweep dialog: one or two settings, each over a list of values, times seeds. Values are
read and checked exactly as `python main.py sweep --set NAME=V1,V2,...` reads them
(core.experiments.sweep.parse_axis); a bad value is refused here with its one-line reason and
the dialog stays open."""
from __future__ import annotations

from typing import Callable

from PySide6.QtWidgets import (QCheckBox, QComboBox, QDialog, QDialogButtonBox, QFormLayout,
                               QGridLayout, QLabel, QLineEdit, QSpinBox, QVBoxLayout)

from core.errors import UserError, one_line
from core.experiments.sweep import MAX_JOBS, SWEEPABLE, Axis, SweepSpec, parse_axis
from core.settings import TrainingSettings

# The settings people sweep first, with values to start from; the rest follow in the list.
COMMON = {"learning_rate": "0.01, 0.03, 0.1, 0.3, 1", "batch_size": "1, 8, 32, 0",
          "l2": "0, 0.0001, 0.001, 0.01", "dropout": "0, 0.1, 0.3",
          "hidden_activation": "tanh, relu, sigmoid", "optimizer": "sgd, momentum, adam"}
MAX_RUNS_HERE = 2000  # a window's sweep; the command line (or a cluster) takes more


class SweepDialog(QDialog):
    """`check(spec, epochs)` returns why the sweep cannot run (a combination the network
    cannot train), or None."""

    def __init__(self, training: TrainingSettings, workers: int,
                 check: Callable[[SweepSpec, int], str | None], parent=None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Sweep settings")
        self.training, self._check = training, check
        self.spec: SweepSpec | None = None
        grid = self._axes_grid()
        form = self._options_form(training, workers)
        self.message = QLabel()
        self.message.setWordWrap(True)
        self.message.setStyleSheet("color: #b00020;")
        self.size_note = QLabel()
        self.button_box = buttons = QDialogButtonBox(QDialogButtonBox.Ok | QDialogButtonBox.Cancel)
        buttons.button(QDialogButtonBox.Ok).setText("Run sweep")
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        for part in (grid, form):
            layout.addLayout(part)
        for widget in (self.size_note, self.message, buttons):
            layout.addWidget(widget)
        for values in self.values:
            values.textChanged.connect(lambda *_: self._say_size())
        self.seeds.valueChanged.connect(lambda *_: self._say_size())
        self.second.toggled.connect(lambda *_: self._say_size())
        self._say_size()

    def _axes_grid(self) -> QGridLayout:
        """Two rows of setting and values; the second used when "and" is ticked."""
        grid = QGridLayout()
        grid.addWidget(QLabel("Setting"), 0, 1)
        grid.addWidget(QLabel("Values, separated by commas"), 0, 2)
        self.names, self.values = [], []
        self.second = QCheckBox("and")
        self.second.setToolTip("Sweep a second setting too: every pair of values is run")
        for row, first in ((1, "learning_rate"), (2, "batch_size")):
            names = QComboBox()
            names.addItems(list(COMMON))
            names.insertSeparator(len(COMMON))
            names.addItems([n for n in SWEEPABLE if n not in COMMON])
            values = QLineEdit()
            values.setMinimumWidth(260)
            names.currentTextChanged.connect(lambda name, v=values: v.setText(COMMON.get(name, "")))
            names.setCurrentText(first)
            values.setText(COMMON[first])
            grid.addWidget(names, row, 1)
            grid.addWidget(values, row, 2)
            self.names.append(names)
            self.values.append(values)
        grid.addWidget(QLabel("Sweep"), 1, 0)
        grid.addWidget(self.second, 2, 0)
        self.second.toggled.connect(self._on_second_toggled)
        self._on_second_toggled(False)
        return grid

    def _options_form(self, training: TrainingSettings, workers: int) -> QFormLayout:
        self.seeds = _spin(1, 100, 3, "Each combination is trained from this many initialisations "
                           f"(seeds {training.seed}, {training.seed + 1}, ...)")
        self.epochs = _spin(1, 1_000_000, min(training.epochs, 200) or 1,
                            "Epochs each run trains (from freshly drawn weights)")
        self.workers = _spin(1, 64, workers, "Runs trained at the same time, each in a "
                             "background process of its own")
        form = QFormLayout()
        form.addRow("Seeds", self.seeds)
        form.addRow("Epochs per run", self.epochs)
        form.addRow("Parallel runs", self.workers)
        return form

    def _on_second_toggled(self, on: bool) -> None:
        self.names[1].setEnabled(on)
        self.values[1].setEnabled(on)

    def axes_texts(self) -> list[str]:
        rows = 2 if self.second.isChecked() else 1
        return [f"{self.names[i].currentText()}={self.values[i].text()}" for i in range(rows)]

    def read(self) -> SweepSpec:
        """The sweep the fields describe; raises UserError naming the first bad field."""
        axes: list[Axis] = []
        for text in self.axes_texts():
            axis = parse_axis(text, self.training)
            if any(a.name == axis.name for a in axes):
                raise UserError(f"{axis.name} is chosen twice; choose two different settings")
            axes.append(axis)
        seeds = tuple(range(self.training.seed, self.training.seed + self.seeds.value()))
        spec = SweepSpec(tuple(axes), seeds)
        if spec.size > MAX_RUNS_HERE:
            raise UserError(f"{spec.size:,} runs is more than a window sweeps "
                            f"({MAX_RUNS_HERE:,}); use fewer values or seeds, or the command "
                            f"line (python main.py sweep, up to {MAX_JOBS:,})")
        return spec

    def _say_size(self) -> None:
        try:
            spec = self.read()
        except UserError:
            self.size_note.setText("")
            return
        self.size_note.setText(f"{spec.size:,} runs")

    def accept(self) -> None:
        try:
            spec = self.read()
        except UserError as exc:
            self.message.setText(one_line(_without_flag(exc)))
            return
        problem = self._check(spec, self.epochs.value())
        if problem:
            self.message.setText(one_line(problem))
            return
        self.spec = spec
        super().accept()


def _without_flag(exc: Exception) -> str:
    """The command line's message without its "--set " (here there is no flag to name)."""
    text = str(exc)
    return text[len("--set "):] if text.startswith("--set ") else text.replace("--set ", "")


def _spin(low: int, high: int, value: int, tip: str) -> QSpinBox:
    spin = QSpinBox()
    spin.setRange(low, high)
    spin.setValue(value)
    spin.setToolTip(tip)
    return spin
