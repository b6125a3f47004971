"""A sweep, shown live: each run's final loss (or accuracy) against the swept value, with the
median over seeds joined by a line (one line per value of a second setting), on a log axis
where the values call for one; select rows of the table to see those runs' curves."""
from __future__ import annotations

from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QVBoxLayout

from core.experiments.job import JobResult, value_text
from core.experiments.sweep import Axis
from gui.experiments.batch_window import (FIGURES, BatchWindow, figure, number, status_text,
                                          to_train_if_no_test)
from gui.experiments.compare_plot import ComparePlot, colour
from gui.live.plot_tools import figure_plot


def log_axis(values: tuple[Any, ...]) -> bool:
    """Numbers, all above zero and a decade or more apart: a learning rate's 0.001 ... 1."""
    if not values or not all(isinstance(v, (int, float)) and not isinstance(v, bool)
                             for v in values):
        return False
    low, high = min(values), max(values)
    return low > 0 and high / low >= 10


def positions(axis: Axis) -> tuple[dict[Any, float], bool]:
    """Where each value sits on the x axis, and whether it is a numeric axis (else the values
    are names, or booleans, placed 0, 1, 2, ... in the order given)."""
    numeric = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in axis.values)
    if numeric:
        return {v: float(v) for v in axis.values}, True
    return {v: float(i) for i, v in enumerate(axis.values)}, False


class SweepWindow(BatchWindow):
    def __init__(self, title: str, batch, keep, axes: tuple[Axis, ...], parent=None) -> None:
        columns = (*(a.name for a in axes), "Seed", "Status", "Train loss", "Test loss",
                   "Test acc.", "Steps")
        super().__init__(title, batch, keep, columns, parent)
        self.axes = axes
        self.choice = QComboBox()
        for key, text in FIGURES:
            self.choice.addItem(text, key)
        self.choice.currentIndexChanged.connect(lambda _: self.redraw())
        self.plot = self._value_plot(axes)
        self.curves = ComparePlot()
        self.curves.hint.setText("Select rows of the table to see those runs' curves here.")
        self.table.itemSelectionChanged.connect(self._on_rows_selected)
        row = QHBoxLayout()
        row.addWidget(QLabel("Plot:"))
        row.addWidget(self.choice)
        row.addStretch(1)
        plots = QHBoxLayout()
        plots.addWidget(self.plot, 1)
        plots.addWidget(self.curves, 1)
        layout = QVBoxLayout(self.plots)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(row)
        layout.addLayout(plots, 1)
        self.resize_within_screen(1100, 700)
        self.follow()

    def _value_plot(self, axes: tuple[Axis, ...]) -> pg.PlotWidget:
        """Final figure against the first setting's values: a line of medians and the runs'
        points for each value of the second setting (one pair when there is none)."""
        self.plot = plot = figure_plot(axes[0].name)
        self.legend = self.plot.addLegend(offset=(-10, 10), labelTextSize="9pt",
                                          labelTextColor="#222", brush=(255, 255, 255, 190))
        self.x_of, numeric = positions(axes[0])
        logarithmic = log_axis(axes[0].values)
        self.plot.setLogMode(x=logarithmic)
        # Ticks at the swept values, written as they were given (a log axis's own minor
        # labels crowded into each other: "0.040.050.06").
        self.plot.getAxis("bottom").setTicks([[
            (float(np.log10(x)) if logarithmic else x, value_text(v))
            for v, x in self.x_of.items()]])
        self.lines: dict[Any, tuple[pg.PlotDataItem, pg.PlotDataItem]] = {}
        for i, value in enumerate(axes[1].values if len(axes) > 1 else [None]):
            name = None if value is None else f"{axes[1].name}={value_text(value)}"
            line = self.plot.plot(pen=pg.mkPen(colour(i), width=2), name=name)
            # Points as a PlotDataItem of symbols: it follows the log axis (a scatter item
            # would not).
            points = self.plot.plot(pen=None, symbol="o", symbolSize=8,
                                    symbolBrush=pg.mkBrush(colour(i)), symbolPen=pg.mkPen("w"))
            self.lines[value] = (line, points)
        return plot

    def first_number_column(self) -> int:
        return len(self.axes) + 2

    def cells(self, result: JobResult, pending: str) -> list[str]:
        run = result.run
        return [*(value_text(v) for _, v in result.job.settings), str(result.job.seed),
                status_text(result, pending), number(figure(run, "train_loss")),
                number(figure(run, "test_loss")),
                number(figure(run, "test_accuracy"), percent=True),
                "" if run is None else f"{run.steps:,}"]

    def points(self, key: str) -> dict[Any, list[tuple[float, float]]]:
        """(x, final figure) of each finished run, by the value of the second setting."""
        out: dict[Any, list[tuple[float, float]]] = {v: [] for v in self.lines}
        for result, run in self.finished_runs():
            settings = dict(result.job.settings)
            y = figure(run, key)
            if y is None or not np.isfinite(y):
                continue
            second = settings[self.axes[1].name] if len(self.axes) > 1 else None
            out[second].append((self.x_of[settings[self.axes[0].name]], y))
        return out

    def redraw(self) -> None:
        key = self.choice.currentData()
        done = self.finished_runs()
        if done and to_train_if_no_test(self.choice, key,
                                        any(figure(run, key) is not None for _, run in done)):
            return
        self.plot.setLabel("left", self.choice.currentText())
        for value, found in self.points(key).items():
            line, points = self.lines[value]
            points.setData([p[0] for p in found], [p[1] for p in found])
            xs = sorted({p[0] for p in found})
            medians = [float(np.median([p[1] for p in found if p[0] == x])) for x in xs]
            line.setData(xs, medians)

    def _on_rows_selected(self) -> None:
        rows = sorted({i.row() for i in self.table.selectedIndexes()})
        jobs = [self.jobs[r].index for r in rows]
        self.curves.show_runs([self.results[j].run for j in jobs
                               if j in self.results and self.results[j].run is not None])
