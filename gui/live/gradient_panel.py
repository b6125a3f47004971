"""Gradient norm per depth level over time, on a log axis (vanishing and exploding gradients),
and warnings about neurons that cannot learn (dead ReLUs, saturated sigmoids)."""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from core.training.progress import Progress
from gui.live.plot_tools import legend_where_room, on_screen, plain_numbers, settle_ranges

COLOURS = ["#2f6fde", "#e0582b", "#3c9a5f", "#9b59b6", "#d4a017", "#16a085", "#c0392b"]


class GradientPanel(QWidget):
    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.plot = pg.PlotWidget(background="w")
        self.plot.setLogMode(y=True)
        self.plot.setLabel("left", "|dL/dW| per level")
        self.plot.setLabel("bottom", "step")
        plain_numbers(self.plot)
        self.plot.showGrid(x=True, y=True, alpha=0.25)
        self.plot.addLegend(offset=(-10, 10))
        self._fit_legend = legend_where_room(self.plot)
        self.curves: list = []
        self._steps = np.zeros(0)
        self._norms = np.zeros((0, 0))
        self._n = 0
        self._health: dict[str, str] = {}
        self.warnings = QLabel("")
        self.warnings.setWordWrap(True)
        self.warnings.setStyleSheet("color: #b35900;")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.plot, 1)
        layout.addWidget(self.warnings)

    def reset(self) -> None:
        self._n = 0
        for c in self.curves:
            self.plot.removeItem(c)
        self.curves = []
        self._health = {}
        self.warnings.setText("")
        self.plot.getPlotItem().enableAutoRange()

    def show_progress(self, p: Progress) -> None:
        levels = len(p.level_norms)
        if levels != len(self.curves) or (self._n and p.step < self._steps[self._n - 1]):
            self.reset()
            self.curves = [self.plot.plot(name=f"level {i + 1}", pen=pg.mkPen(COLOURS[i % 7], width=2))
                           for i in range(levels)]
            self._fit_legend()
            self._steps = np.zeros(256)
            self._norms = np.zeros((256, levels))
        if p.step > 0 and (self._n == 0 or p.step > self._steps[self._n - 1]):
            if self._n == len(self._steps):  # preallocated buffers that double
                self._steps = np.resize(self._steps, 2 * self._n)
                self._norms = np.resize(self._norms, (2 * self._n, levels))
            self._steps[self._n] = p.step
            self._norms[self._n] = np.maximum(p.level_norms, 1e-30)
            self._n += 1
        self._health = p.health
        if on_screen(self):  # hidden (behind another dock's tab): drawn when shown
            self._draw()

    def catch_up(self) -> None:
        """Brought on screen (its dock shown or its tab chosen): draw the run as it is."""
        self._draw()

    def _draw(self) -> None:
        for i, c in enumerate(self.curves):
            c.setData(self._steps[: self._n], self._norms[: self._n, i])
        if self._health:
            self.warnings.setText("⚠ " + "<br>⚠ ".join(f"<b>{nid}</b>: {text}"
                                                         for nid, text in sorted(self._health.items())))
        else:
            self.warnings.setText("")
        settle_ranges(self.plot)
