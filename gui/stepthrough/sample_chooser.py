"""Which sample the step-through follows: a training or test sample of the data, or values
the user types (one field per data column the inputs read, one per output's target)."""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import Signal
from PySide6.QtWidgets import (QComboBox, QFormLayout, QHBoxLayout, QLabel, QLineEdit, QSpinBox,
                               QVBoxLayout, QWidget)

from core.data.dataset import Dataset
from core.stepthrough import StepThroughError, fmt

SOURCES = ("Training sample", "Test sample", "Typed values")


class SampleChooser(QWidget):
    changed = Signal()

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.data: Dataset | None = None
        self.target_hint = ""
        self.input_names: list[str] = []
        self.output_names: list[str] = []
        self.source = QComboBox()
        self.source.addItems(SOURCES)
        self.source.setToolTip("Follow a sample of the data, or type the values yourself")
        self.index = QSpinBox()
        self.index.setMinimum(1)
        self.index.setPrefix("#")
        self.index.setToolTip("Which sample (1 is the first)")
        self.summary = QLabel()
        self.summary.setWordWrap(True)
        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(QLabel("Sample"))
        row.addWidget(self.source, 1)
        row.addWidget(self.index)
        self.typed = QWidget()
        self.form = QFormLayout(self.typed)
        self.form.setContentsMargins(0, 0, 0, 0)
        self.fields: list[QLineEdit] = []
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(row)
        layout.addWidget(self.summary)
        layout.addWidget(self.typed)
        self.source.currentIndexChanged.connect(self._on_source)
        self.index.valueChanged.connect(lambda _: self._emit())
        self._on_source()

    # ----- what the network and the data offer ----------------------------------------------
    def set_shape(self, input_names: list[str], output_names: list[str],
                  data: Dataset | None, target_hint: str = "") -> None:
        """Fit the chooser to the network's inputs and outputs and to the current data;
        target_hint says what targets mean for the loss in use."""
        self.target_hint = target_hint
        fits = data is not None and data.x_train.shape[1] == len(input_names) and \
            data.y_train.shape[1] == len(output_names)
        self.data = data if fits else None
        if (input_names, output_names) != (self.input_names, self.output_names):
            self.input_names, self.output_names = input_names, output_names
            self._make_fields()
        for i in range(2):  # training, test: only when the data fits the network
            usable = self.data is not None and len(self._arrays(i)[0]) > 0
            self.source.model().item(i).setEnabled(usable)
        if self.source.currentIndex() < 2 and not self.source.model().item(
                self.source.currentIndex()).isEnabled():
            self.source.setCurrentIndex(2)
        self._on_source()

    def _make_fields(self) -> None:
        old = [f.text() for f in self.fields]
        while self.form.rowCount():
            self.form.removeRow(0)
        self.fields = []
        names = [f"input {n}" for n in self.input_names] + \
            [f"target {n}" for n in self.output_names]
        for k, name in enumerate(names):
            first = k in (0, len(self.input_names))  # a one-hot target fits every loss
            field = QLineEdit(old[k] if k < len(old) else ("1" if first else "0"))
            field.setAccessibleName(name)
            field.editingFinished.connect(self._emit)
            self.form.addRow(name, field)
            self.fields.append(field)

    def _arrays(self, source: int) -> tuple[np.ndarray, np.ndarray]:
        d = self.data
        return (d.x_train, d.y_train) if source == 0 else (d.x_test, d.y_test)

    def _on_source(self) -> None:
        typed = self.source.currentIndex() == 2
        self.typed.setVisible(typed)
        self.index.setVisible(not typed)
        if not typed and self.data is not None:
            n = len(self._arrays(self.source.currentIndex())[0])
            self.index.blockSignals(True)
            self.index.setMaximum(max(1, n))
            self.index.setSuffix(f" of {n}")
            self.index.blockSignals(False)
        self._emit()

    def _emit(self) -> None:
        self._show_summary()
        self.changed.emit()

    def _show_summary(self) -> None:
        if self.source.currentIndex() == 2:
            hint = f" Targets: {self.target_hint}." if self.target_hint else ""
            self.summary.setText("Type the values the input neurons receive and the targets."
                                 + hint)
            return
        try:
            x, y = self.current()
        except StepThroughError as exc:
            self.summary.setText(str(exc))
            return
        self.summary.setText(f"x = ({', '.join(fmt(v) for v in x)}),  "
                             f"t = ({', '.join(fmt(v) for v in y)})")

    # ----- the chosen sample -----------------------------------------------------------------
    def current(self) -> tuple[np.ndarray, np.ndarray]:
        """(x, t) for the step-through; StepThroughError says what is wrong with typed values."""
        source = self.source.currentIndex()
        if source < 2 and self.data is not None:
            xs, ys = self._arrays(source)
            i = min(self.index.value(), len(xs)) - 1
            return xs[i].astype(np.float64), ys[i].astype(np.float64)
        values = []
        for field, name in zip(self.fields, self.input_names + self.output_names):
            text = field.text().strip().replace(",", ".")
            try:
                value = float(text)
            except ValueError:
                kind = "input" if len(values) < len(self.input_names) else "target"
                raise StepThroughError(f"{kind} {name}: {text!r} is not a number") from None
            if not np.isfinite(value):
                raise StepThroughError(f"{name}: {text!r} is not a finite number")
            values.append(value)
        n = len(self.input_names)
        return np.array(values[:n]), np.array(values[n:])

    def use_typed(self, inputs, targets) -> None:
        """Switch to typed values and fill them in (used by tests and by the menu)."""
        self.source.setCurrentIndex(2)
        for field, value in zip(self.fields, list(inputs) + list(targets)):
            field.setText(str(value))
        self._emit()
