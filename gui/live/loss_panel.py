"""Loss (and accuracy) against step: curves created once and updated with setData."""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtWidgets import QCheckBox, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from core.training.progress import Progress
from gui.live.plot_tools import legend_where_room, on_screen, plain_numbers, settle_ranges

EMPTY_SUMMARY = "Press Run (Space) or Step to train."


class LossPanel(QWidget):
    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.plot = pg.PlotWidget(background="w")
        self.plot.showGrid(x=True, y=True, alpha=0.25)
        self.plot.setLabel("bottom", "step")
        self.plot.setLabel("left", "loss")
        self.plot.addLegend(offset=(-10, 10))
        for item in (self.plot.getPlotItem(),):
            item.setDownsampling(auto=True, mode="peak")
            item.setClipToView(True)
        self.batch = self.plot.plot(name="minibatch", pen=pg.mkPen("#b8c4d9", width=1))
        self.train = self.plot.plot(name="train", pen=pg.mkPen("#2f6fde", width=2))
        self.test = self.plot.plot(name="test", pen=pg.mkPen("#e0582b", width=2))
        self.accuracy = pg.PlotWidget(background="w")
        self.accuracy.setMaximumHeight(130)
        self.accuracy.setMinimumHeight(60)
        self.accuracy.setLabel("left", "accuracy")
        self.accuracy.setYRange(0, 1.02)
        self.accuracy.showGrid(x=True, y=True, alpha=0.25)
        self.train_acc = self.accuracy.plot(pen=pg.mkPen("#2f6fde", width=2))
        self.test_acc = self.accuracy.plot(pen=pg.mkPen("#e0582b", width=2))
        plain_numbers(self.plot, self.accuracy)
        legend_where_room(self.plot)
        self.log = QCheckBox("log scale")
        self.log.toggled.connect(lambda on: self.plot.setLogMode(y=on))
        self.summary = QLabel(EMPTY_SUMMARY)
        self.summary.setWordWrap(True)
        top = QHBoxLayout()
        top.addWidget(self.summary, 1)
        top.addWidget(self.log)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(top)
        layout.addWidget(self.plot, 3)  # the loss keeps most of a short panel
        layout.addWidget(self.accuracy, 1)
        self._latest: Progress | None = None  # the progress to draw when next shown

    def catch_up(self) -> None:
        """Brought on screen (its dock shown or its tab chosen): draw the run as it is."""
        if self._latest is not None:
            self._draw(self._latest)

    def reset(self) -> None:
        """A new run: no curve of the old one."""
        self._latest: Progress | None = None
        for curve in (self.batch, self.train, self.test, self.train_acc, self.test_acc):
            curve.setVisible(False)  # hidden, not emptied: see _set
        self.accuracy.setVisible(False)
        self.summary.setText(EMPTY_SUMMARY)
        for plot in (self.plot, self.accuracy):  # axes of the old run's range go too: with
            # every curve hidden auto-range had nothing to fit and kept 0..900,000 steps
            plot.getPlotItem().setRange(xRange=(0, 1), yRange=(0, 1), padding=0)
            plot.getPlotItem().enableAutoRange()

    def show_progress(self, p: Progress) -> None:
        """Draw `p`; a hidden panel (a dock behind another's tab) only keeps it for later."""
        self._latest = p
        if on_screen(self):
            self._draw(p)

    def _draw(self, p: Progress) -> None:
        _set(self.batch, p.batch_loss)
        _set(self.train, p.train_loss)
        _set(self.test, p.test_loss)
        _set(self.train_acc, p.train_accuracy)
        _set(self.test_acc, p.test_accuracy)
        self.accuracy.setVisible(len(p.train_accuracy.x) > 0)
        ev = p.evaluation
        if ev is not None:
            text = f"step {p.step}, epoch {p.epoch}: train loss {ev.train_loss:.4g}"
            if ev.test_loss is not None:
                text += f", test loss {ev.test_loss:.4g}"
            if ev.train_accuracy is not None:
                text += f", accuracy {100 * ev.train_accuracy:.1f}%"
                if ev.test_accuracy is not None:
                    text += f" / {100 * ev.test_accuracy:.1f}% (test)"
            self.summary.setText(text)
        settle_ranges(self.plot, self.accuracy)


def _set(curve, series) -> None:
    # Losses of a diverging run reach 1e300 and beyond: pyqtgraph's auto-range would then
    # overflow to inf, so such points are left out of the curve.
    y = np.asarray(series.y)
    # An empty curve (no test part) is hidden, not emptied: pyqtgraph's SVG export fails on
    # a curve with no points.
    curve.setVisible(len(y) > 0)
    if len(y):
        curve.setData(series.x, np.where(np.isfinite(y) & (np.abs(y) < 1e100), y, np.nan),
                      connect="finite")
