"""Which sequence the step-through over time follows (a training or test sequence of the data),
and which of its steps it shows: the first few by default, or a chosen window."""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import Signal
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QSpinBox, QVBoxLayout, QWidget

from core.data.dataset import Dataset
from core.stepthrough.over_time import MAX_STEPS, MAX_WINDOW

SOURCES = ("Training sequence", "Test sequence")


class SequenceChooser(QWidget):
    changed = Signal()

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.data: Dataset | None = None
        self.source = QComboBox()
        self.source.addItems(SOURCES)
        self.index = QSpinBox()
        self.index.setMinimum(1)
        self.index.setPrefix("#")
        self.index.setToolTip("Which sequence (1 is the first)")
        self.first = QSpinBox()
        self.first.setMinimum(1)
        self.first.setPrefix("from step ")
        self.first.setToolTip("The first step shown; the shown steps run from a zero state")
        self.steps = QSpinBox()
        self.steps.setRange(1, MAX_WINDOW)
        self.steps.setValue(MAX_STEPS)
        self.steps.setSuffix(" steps")
        self.steps.setToolTip(f"How many steps to unroll (up to {MAX_WINDOW})")
        top, window = QHBoxLayout(), QHBoxLayout()
        for row in (top, window):
            row.setContentsMargins(0, 0, 0, 0)
        top.addWidget(QLabel("Sequence"))
        top.addWidget(self.source, 1)
        top.addWidget(self.index)
        window.addWidget(QLabel("Show"))
        window.addWidget(self.steps)
        window.addWidget(self.first, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(top)
        layout.addLayout(window)
        self.source.currentIndexChanged.connect(self._on_source)
        for box in (self.index, self.first, self.steps):
            box.valueChanged.connect(lambda _: self._fit_first())

    def set_data(self, data: Dataset | None) -> None:
        self.data = data
        for i in range(2):
            self.source.model().item(i).setEnabled(data is not None and len(self._arrays(i)[0]))
        if data is not None and not len(self._arrays(self.source.currentIndex())[0]):
            self.source.setCurrentIndex(0)
        self._on_source()

    def _arrays(self, source: int):
        d = self.data
        return (d.x_train, d.y_train, d.mask_train) if source == 0 else \
            (d.x_test, d.y_test, d.mask_test)

    def _on_source(self) -> None:
        if self.data is not None:
            n = len(self._arrays(self.source.currentIndex())[0])
            self.index.blockSignals(True)
            self.index.setMaximum(max(1, n))
            self.index.setSuffix(f" of {n}")
            self.index.blockSignals(False)
        self._fit_first()

    def _fit_first(self) -> None:
        """The first shown step within the chosen sequence's steps, then tell the mode."""
        length = len(self.current()[0]) if self.data is not None else 1
        self.first.blockSignals(True)
        self.first.setMaximum(max(1, length))
        self.first.setSuffix(f" of {length}")
        self.first.blockSignals(False)
        self.changed.emit()

    def current(self) -> tuple[np.ndarray, np.ndarray]:
        """The chosen sequence's existing steps: (steps x inputs), (steps x outputs)."""
        xs, ys, masks = self._arrays(self.source.currentIndex())
        i = min(self.index.value(), len(xs)) - 1
        steps = len(xs[i]) if masks is None else int(masks[i].sum())  # padding at the end
        return xs[i, :steps].astype(np.float64), ys[i, :steps].astype(np.float64)

    def window(self) -> tuple[int, int]:
        """(first shown step, 0-based; how many)."""
        return self.first.value() - 1, self.steps.value()
