"""Runs' loss and accuracy curves overlaid in one plot with a legend (train solid, test
dashed, one colour per run), or, for repeated runs, their median with a min-max band."""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QCheckBox, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from core.errors import shorten
from core.experiments.run import Run
from core.experiments.spread import band

# Ten colours told apart also in grey and by most colour-blind eyes (matplotlib's tab10).
PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
           "#7f7f7f", "#bcbd22", "#17becf")
HINT = "Select runs in the list (Ctrl or Shift for several) to compare their curves."


def colour(i: int) -> str:
    return PALETTE[i % len(PALETTE)]


def curve_data(run: Run, name: str) -> tuple[np.ndarray, np.ndarray]:
    c = run.curves.get(name)
    if c is None or not len(c):
        return np.empty(0), np.empty(0)
    return np.asarray(c.steps, dtype=float), np.asarray(c.values, dtype=float)


class ComparePlot(QWidget):
    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.loss = _plot("loss")
        self.accuracy = _plot("accuracy")
        self.accuracy.setYRange(0, 1.02)
        self.accuracy.setXLink(self.loss)
        self.accuracy.setMaximumHeight(150)
        self.legend = self.loss.addLegend(offset=(-10, 10), labelTextSize="9pt")
        self.log = QCheckBox("log scale")
        self.log.toggled.connect(lambda on: self.loss.setLogMode(y=on))
        self.as_band = QCheckBox("median and range")
        self.as_band.setToolTip("Draw the selected runs as their median curve with a band from "
                                "the lowest to the highest (for runs of one setup, several seeds)")
        self.as_band.toggled.connect(lambda _: self._redraw())
        self.hint = QLabel(HINT)
        self.hint.setWordWrap(True)
        self.hint.setStyleSheet("color: #444;")
        top = QHBoxLayout()
        top.addWidget(self.hint, 1)
        top.addWidget(self.as_band)
        top.addWidget(self.log)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(top)
        layout.addWidget(self.loss, 3)
        layout.addWidget(self.accuracy, 1)
        self.accuracy.hide()
        self.runs: list[Run] = []
        self._items: dict[str, list[pg.PlotDataItem]] = {}  # run id -> its four curves

    def show_runs(self, runs: list[Run]) -> None:
        """Overlay these runs (in this order: their colours follow it)."""
        self.runs = list(runs)
        self._redraw()

    def update_run(self, run: Run) -> None:
        """A shown run got newer figures (it is still training): its curves follow."""
        for i, shown in enumerate(self.runs):
            if shown.id == run.id:
                self.runs[i] = run
                if self.as_band.isChecked():
                    self._redraw()
                elif run.id in self._items:
                    self._set(self._items[run.id], run)

    def _redraw(self) -> None:
        for plot in (self.loss, self.accuracy):
            plot.clear()  # the legend is emptied with the items
        self._items = {}
        runs = self.runs
        if self.as_band.isChecked() and len(runs) > 1:
            self._draw_band(runs)
        else:
            for i, run in enumerate(runs):
                self._items[run.id] = self._add_run(run, colour(i))
        has_accuracy = any(len(r.curves.get("train_accuracy", ())) for r in runs)
        self.accuracy.setVisible(has_accuracy)
        if not runs:
            self.hint.setText(HINT)
        elif self.as_band.isChecked() and len(runs) > 1:
            self.hint.setText(f"{len(runs)} runs: median (line) and range (band); "
                              "test loss where there is a test part")
        else:
            self.hint.setText("solid: train · dashed: test")
        for plot in (self.loss, self.accuracy):
            plot.getPlotItem().enableAutoRange()

    def _add_run(self, run: Run, pen_colour: str) -> list[pg.PlotDataItem]:
        name = shorten(run.name or run.id, 28)
        solid = pg.mkPen(pen_colour, width=2)
        dashed = pg.mkPen(pen_colour, width=2, style=Qt.DashLine)
        items = [self.loss.plot(name=name, pen=solid), self.loss.plot(pen=dashed),
                 self.accuracy.plot(pen=solid), self.accuracy.plot(pen=dashed)]
        self._set(items, run)
        return items

    @staticmethod
    def _set(items: list[pg.PlotDataItem], run: Run) -> None:
        for item, name in zip(items, ("train_loss", "test_loss", "train_accuracy",
                                      "test_accuracy")):
            x, y = curve_data(run, name)
            item.setData(x, y)
            item.setVisible(len(x) > 0)  # an empty curve breaks pyqtgraph's SVG export

    def _draw_band(self, runs: list[Run]) -> None:
        name = "test_loss" if all(len(r.curves.get("test_loss", ())) for r in runs) \
            else "train_loss"
        for plot, curve in ((self.loss, name),
                            (self.accuracy, name.replace("loss", "accuracy"))):
            b = band([r.curves[curve] for r in runs if curve in r.curves])
            if b is None:
                continue
            low = plot.plot(b.steps, b.low, pen=pg.mkPen("#9fb7e0", width=1))
            high = plot.plot(b.steps, b.high, pen=pg.mkPen("#9fb7e0", width=1))
            plot.addItem(pg.FillBetweenItem(low, high, brush=pg.mkBrush(47, 111, 222, 60)))
            label = name.replace("_", " ")
            plot.plot(b.steps, b.median, pen=pg.mkPen("#1f4fa8", width=2.5),
                      name=f"median {label}" if plot is self.loss else None)
            if plot is self.loss:  # the band's own legend entry
                self.legend.addItem(low, f"min to max ({len(runs)} runs)")


def _plot(label: str) -> pg.PlotWidget:
    plot = pg.PlotWidget(background="w")
    plot.showGrid(x=True, y=True, alpha=0.25)
    plot.setLabel("left", label)
    plot.setLabel("bottom", "step")
    plot.getPlotItem().setDownsampling(auto=True, mode="peak")
    plot.getPlotItem().setClipToView(True)
    return plot
