"""Repeat with N seeds, shown: the runs' median curve with a min-max band (each run faint
behind it), the spread of their final losses seed by seed, and which seed ended in which
minimum (core.experiments.spread groups the final train losses)."""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtWidgets import (QComboBox, QDialog, QDialogButtonBox, QFormLayout, QHBoxLayout,
                               QLabel, QSpinBox, QVBoxLayout)

from core.experiments.job import JobResult
from core.experiments.spread import band, minima
from gui.experiments.batch_window import (BatchWindow, figure, number, status_text,
                                          to_train_if_no_test)
from gui.experiments.compare_plot import PALETTE, curve_data
from gui.live.plot_tools import figure_plot

CURVES = (("test_loss", "test loss"), ("train_loss", "train loss"),
          ("test_accuracy", "test accuracy"), ("train_accuracy", "train accuracy"))
FAINT = pg.mkPen(150, 160, 180, 110, width=1)


class SeedsDialog(QDialog):
    """How many seeds, how long each run trains, and how many run at once."""

    def __init__(self, first_seed: int, epochs: int, workers: int, parent=None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Repeat with N seeds")
        self.seeds = _spin(2, 100, 5, f"Runs from seeds {first_seed}, {first_seed + 1}, ...: "
                           "each draws its own initial weights")
        self.epochs = _spin(1, 1_000_000, epochs, "Epochs each run trains")
        self.workers = _spin(1, 64, workers, "Runs trained at the same time, each in a "
                             "background process of its own")
        form = QFormLayout(self)
        form.addRow(QLabel("The same network and settings, trained from several "
                           "initialisations.\nEach repetition becomes a run."))
        form.addRow("Seeds", self.seeds)
        form.addRow("Epochs per run", self.epochs)
        form.addRow("Parallel runs", self.workers)
        buttons = QDialogButtonBox(QDialogButtonBox.Ok | QDialogButtonBox.Cancel)
        buttons.button(QDialogButtonBox.Ok).setText("Train")
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)

    def values(self) -> tuple[int, int, int]:
        return self.seeds.value(), self.epochs.value(), self.workers.value()


def _spin(low: int, high: int, value: int, tip: str) -> QSpinBox:
    spin = QSpinBox()
    spin.setRange(low, high)
    spin.setValue(value)
    spin.setToolTip(tip)
    return spin


class SeedsWindow(BatchWindow):
    COLUMNS = ("Seed", "Status", "Minimum", "Train loss", "Test loss", "Test acc.", "Steps",
               "Seconds")

    def __init__(self, title: str, batch, keep, parent=None) -> None:
        super().__init__(title, batch, keep, self.COLUMNS, parent)
        self.curve_choice = QComboBox()
        for key, title in CURVES:
            self.curve_choice.addItem(title, key)
        self.curve_choice.currentIndexChanged.connect(lambda _: self.redraw(rebuild=True))
        self.band_plot = figure_plot("step", "loss")
        self.faint: dict[int, pg.PlotDataItem] = {}  # job index -> its run's curve
        self.low = self.band_plot.plot(pen=pg.mkPen("#9fb7e0", width=1))
        self.high = self.band_plot.plot(pen=pg.mkPen("#9fb7e0", width=1))
        self.fill = pg.FillBetweenItem(self.low, self.high, brush=pg.mkBrush(47, 111, 222, 60))
        self.band_plot.addItem(self.fill)
        self.median = self.band_plot.plot(pen=pg.mkPen("#1f4fa8", width=2.5))
        legend = self.band_plot.addLegend(offset=(-10, 10), labelTextSize="9pt",
                                          labelTextColor="#222", brush=(255, 255, 255, 190))
        legend.addItem(self.median, "median")
        legend.addItem(self.low, "min to max")
        self.spread_plot = figure_plot("seed", "final test loss",
                                       bottom_axis=WholeNumberAxis("bottom"))
        self.points = pg.ScatterPlotItem(size=11, pen=pg.mkPen("w"))
        self.spread_plot.addItem(self.points)
        self.letters: list[pg.TextItem] = []
        self.summary = QLabel("The band appears as the runs finish.")
        self.summary.setWordWrap(True)
        row = QHBoxLayout()
        row.addWidget(QLabel("Curves:"))
        row.addWidget(self.curve_choice)
        row.addStretch(1)
        plots = QHBoxLayout()
        plots.addWidget(self.band_plot, 3)
        plots.addWidget(self.spread_plot, 2)
        layout = QVBoxLayout(self.plots)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(row)
        layout.addLayout(plots, 1)
        layout.addWidget(self.summary)
        self.groups: dict[int, str] = {}  # job index -> its minimum's letter
        self.resize_within_screen(980, 680)
        self.follow()

    def first_number_column(self) -> int:
        return 3

    def cells(self, result: JobResult, pending: str) -> list[str]:
        run = result.run
        return [str(result.job.seed), status_text(result, pending),
                self.groups.get(result.job.index, ""),
                number(figure(run, "train_loss")), number(figure(run, "test_loss")),
                number(figure(run, "test_accuracy"), percent=True),
                "" if run is None else f"{run.steps:,}",
                "" if run is None else f"{run.seconds:.1f}"]

    def redraw(self, rebuild: bool = False) -> None:
        done = self.finished_runs()
        key = self.curve_choice.currentData()
        if done and to_train_if_no_test(self.curve_choice, key,
                                        any(key in run.curves for _, run in done)):
            return
        if rebuild:
            for item in self.faint.values():
                self.band_plot.removeItem(item)
            self.faint = {}
        for result, run in done:
            if result.job.index not in self.faint:
                x, y = curve_data(run, key)
                self.faint[result.job.index] = self.band_plot.plot(x, y, pen=FAINT)
                self.faint[result.job.index].setZValue(-1)
        b = band([run.curves[key] for _, run in done if key in run.curves])
        for item, values in ((self.low, "low"), (self.high, "high"), (self.median, "median")):
            item.setData(b.steps, getattr(b, values)) if b is not None else item.setData([], [])
        self.band_plot.setLabel("left", self.curve_choice.currentText())
        self._draw_minima(done)

    def _draw_minima(self, done) -> None:
        train = {r.job.index: figure(run, "train_loss") for r, run in done}
        self.groups = minima({i: v if v is not None else np.nan for i, v in train.items()})
        for result, _ in done:
            self.fill_row(self._row(result), result)
        name = "test_loss" if all(figure(run, "test_loss") is not None for _, run in done) \
            else "train_loss"
        self.spread_plot.setLabel("left", "final " + name.replace("_", " "))
        spots = [{"pos": (r.job.seed, figure(run, name)),
                  "brush": pg.mkBrush(_group_colour(self.groups[r.job.index])),
                  "data": r.job.seed} for r, run in done if figure(run, name) is not None]
        self.points.setData(spots)
        for label in self.letters:  # each point named by its minimum's letter
            self.spread_plot.removeItem(label)
        self.letters = []
        for spot, (result, _) in zip(spots, [d for d in done if figure(d[1], name) is not None]):
            label = pg.TextItem(self.groups[result.job.index], color="#222", anchor=(-0.3, 0.5))
            label.setPos(*spot["pos"])
            self.spread_plot.addItem(label)
            self.letters.append(label)
        self.summary.setText(self.summary_text(done, name))

    def summary_text(self, done, name: str) -> str:
        values = {r.job.seed: figure(run, name) for r, run in done
                  if figure(run, name) is not None}
        if not values:
            return "The band appears as the runs finish."
        seeds = sorted(values, key=values.get)
        label = name.replace("_", " ")
        text = (f"Final {label}: median {number(float(np.median(list(values.values()))))}, "
                f"from {number(values[seeds[0]])} (seed {seeds[0]}) to "
                f"{number(values[seeds[-1]])} (seed {seeds[-1]}).")
        by_group: dict[str, list[int]] = {}
        for r, _ in done:
            by_group.setdefault(self.groups[r.job.index], []).append(r.job.seed)
        parts = [f"{g}: seed{'s' if len(s) > 1 else ''} {', '.join(map(str, sorted(s)))}"
                 for g, s in sorted(by_group.items())]
        return text + (" Where they ended (equal final train losses, within 5% + 0.001, share a "
                       f"letter; a minimum if trained long enough): {'; '.join(parts)}.")


def _group_colour(letter: str) -> str:
    if letter in ("", "-"):
        return "#888888"
    index = sum((ord(c) - 64) * 26 ** i for i, c in enumerate(reversed(letter))) - 1
    return PALETTE[index % len(PALETTE)]


class WholeNumberAxis(pg.AxisItem):
    """An axis of seeds: ticks at whole numbers only (three seeds were ticked 0, 0.5, 1, 1.5,
    2, as if there were a seed 0.5)."""

    def tickValues(self, minVal, maxVal, size):
        levels = []
        for spacing, values in super().tickValues(minVal, maxVal, size):
            whole = [v for v in values if float(v).is_integer()]
            if whole:
                levels.append((max(spacing, 1.0), whole))
        return levels

