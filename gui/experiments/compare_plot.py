"""Runs' curves overlaid in one plot with a legend: loss or accuracy (a choice above the
plot), train solid and test dashed, one colour per run; or, for repeated runs, their median
with a min-max band."""
from __future__ import annotations

import os

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QCheckBox, QComboBox, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from core.errors import shorten
from core.experiments.run import Run
from core.experiments.spread import band
from gui.live.plot_tools import figure_plot

# Ten colours told apart also in grey and by most colour-blind eyes (matplotlib's tab10).
PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
           "#7f7f7f", "#bcbd22", "#17becf")
HINT = "Select runs in the list (Ctrl or Shift for several) to compare them here."
QUANTITIES = (("loss", "loss"), ("accuracy", "accuracy"))
LEGEND_HEIGHT = 170  # pixels of plot below which the legend is hidden


def colour(i: int) -> str:
    return PALETTE[i % len(PALETTE)]


def curve_data(run: Run, name: str) -> tuple[np.ndarray, np.ndarray]:
    c = run.curves.get(name)
    if c is None or not len(c):
        return np.empty(0), np.empty(0)
    return np.asarray(c.steps, dtype=float), np.asarray(c.values, dtype=float)


def legend_names(runs: list[Run], limit: int = 36) -> list[str]:
    """The runs' names as the legend shows them: a prefix all of them share up to a colon
    ("Sweep 2: ") left out, so that what tells them apart ("learning_rate=0.03 seed=1") is
    what fits."""
    names = [r.name or r.id for r in runs]
    if len(names) > 1:
        common = os.path.commonprefix(names)
        cut = common.rfind(": ") + 2 if ": " in common else 0
        if all(len(n) > cut for n in names):
            names = [n[cut:] for n in names]
    return [shorten(n, limit) for n in names]


class ComparePlot(QWidget):
    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.plot = figure_plot("step")
        self.plot.getPlotItem().setDownsampling(auto=True, mode="peak")
        self.plot.getPlotItem().setClipToView(True)
        # Short, so the Runs dock tabbed with Loss never makes the plot area taller than the
        # loss panel needs (on a laptop's screen the canvas keeps its third).
        self.plot.setMinimumHeight(40)
        # Half-opaque, so a curve passing behind it still shows.
        self.legend = self.plot.addLegend(offset=(-10, 10), labelTextSize="9pt",
                                          labelTextColor="#222", brush=(255, 255, 255, 190))
        self.quantity = QComboBox()
        for key, title in QUANTITIES:
            self.quantity.addItem(title, key)
        self.quantity.setToolTip("What the curves show; train solid, test dashed")
        self.quantity.currentIndexChanged.connect(lambda _: self._redraw())
        self.log = QCheckBox("log")
        self.log.setToolTip("Logarithmic vertical axis")
        self.log.toggled.connect(lambda on: self.plot.setLogMode(y=on))
        self.as_band = QCheckBox("median and range")
        self.as_band.setToolTip("Draw the selected runs as their median curve with a band from "
                                "the lowest to the highest (for runs of one setup, several seeds)")
        self.as_band.toggled.connect(lambda _: self._redraw())
        self.hint = QLabel(HINT)
        self.hint.setWordWrap(True)
        self.hint.setStyleSheet("color: #444;")
        top = QHBoxLayout()
        top.setContentsMargins(0, 0, 0, 0)
        top.addWidget(self.quantity)
        top.addWidget(self.as_band)
        top.addWidget(self.log)
        top.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addLayout(top)
        layout.addWidget(self.hint)
        layout.addWidget(self.plot, 1)
        self.runs: list[Run] = []
        self._items: dict[str, list[pg.PlotDataItem]] = {}  # run id -> its train, test curves
        self._redraw()

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        # In a short plot the legend would cover the curves; the list shows each compared
        # run's colour by its name instead.
        self.legend.setVisible(self.plot.height() >= LEGEND_HEIGHT)

    def show_runs(self, runs: list[Run]) -> None:
        """Overlay these runs (in this order: their colours follow it)."""
        self.runs = list(runs)
        self._redraw()

    def show_quantity(self, key: str) -> None:
        self.quantity.setCurrentIndex(self.quantity.findData(key))

    def update_run(self, run: Run) -> None:
        """A shown run got newer figures (it is still training): its curves follow."""
        for i, shown in enumerate(self.runs):
            if shown.id == run.id:
                self.runs[i] = run
                if self.banded():
                    self._redraw()
                elif run.id in self._items:
                    self._set(self._items[run.id], run)

    def banded(self) -> bool:
        return self.as_band.isChecked() and len(self.runs) > 1

    def _names(self) -> tuple[str, str]:
        key = self.quantity.currentData()
        return f"train_{key}", f"test_{key}"

    def _redraw(self) -> None:
        self.plot.clear()
        # plot.clear() takes out of the legend only the items that were in the plot: the
        # train/test keys are not, and piled up at each redraw.
        self.legend.clear()
        self._items = {}
        self.plot.setLabel("left", self.quantity.currentText())
        self.hint.setVisible(not self.runs)
        if self.banded():
            self._draw_band(self.runs)
        else:
            for i, (run, name) in enumerate(zip(self.runs, legend_names(self.runs))):
                self._items[run.id] = self._add_run(run, name, colour(i))
            if self.runs:  # what solid and dashed mean, as legend entries of their own
                for text, style in (("train", Qt.SolidLine), ("test", Qt.DashLine)):
                    key = pg.PlotDataItem(pen=pg.mkPen("#555", width=2, style=style))
                    self.legend.addItem(key, text)
        self.plot.getPlotItem().enableAutoRange()

    def _add_run(self, run: Run, name: str, pen_colour: str) -> list[pg.PlotDataItem]:
        items = [self.plot.plot(name=name, pen=pg.mkPen(pen_colour, width=2)),
                 self.plot.plot(pen=pg.mkPen(pen_colour, width=2, style=Qt.DashLine))]
        self._set(items, run)
        return items

    def _set(self, items: list[pg.PlotDataItem], run: Run) -> None:
        for item, name in zip(items, self._names()):
            x, y = curve_data(run, name)
            item.setData(x, y)
            item.setVisible(len(x) > 0)  # an empty curve breaks pyqtgraph's SVG export

    def _draw_band(self, runs: list[Run]) -> None:
        train, test = self._names()
        name = test if all(len(r.curves.get(test, ())) for r in runs) else train
        b = band([r.curves[name] for r in runs if name in r.curves])
        if b is None:
            return
        low = self.plot.plot(b.steps, b.low, pen=pg.mkPen("#9fb7e0", width=1))
        high = self.plot.plot(b.steps, b.high, pen=pg.mkPen("#9fb7e0", width=1))
        self.plot.addItem(pg.FillBetweenItem(low, high, brush=pg.mkBrush(47, 111, 222, 60)))
        self.plot.plot(b.steps, b.median, pen=pg.mkPen("#1f4fa8", width=2.5),
                       name=f"median {name.replace('_', ' ')}")
        self.legend.addItem(low, f"min to max ({len(runs)} runs)")
