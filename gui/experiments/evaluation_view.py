"""Evaluation of one set of weights (the canvas's, or a kept run's) on the document's data:
for classification the confusion matrix of the train and of the test part and each class's
accuracy; for regression predicted against target and the residuals. Export writes the
window's content as a PNG picture."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import (QAbstractItemView, QComboBox, QDialog, QFileDialog, QGridLayout,
                               QHBoxLayout, QHeaderView, QLabel, QPushButton, QTableWidget,
                               QTableWidgetItem, QVBoxLayout, QWidget)

from core.experiments.evaluation import Confusion, Fit, Report
from core.number_text import fmt
from gui.experiments.window_size import within_screen
from gui.live.plot_tools import figure_plot

TRAIN, TEST = "#2f6fde", "#e0582b"  # the loss panel's colours for the two parts


class EvaluationWindow(QDialog):
    def __init__(self, report: Report, what: str, parent=None) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"Evaluation: {what}")
        self.report = report
        self.content = QWidget()  # what Export saves
        self.content.setStyleSheet("background: white;")
        inner = QVBoxLayout(self.content)
        title = QLabel(f"<b>{what}</b>")
        title.setWordWrap(True)
        inner.addWidget(title)
        if report.task == "classification":
            self._classification(inner)
        else:
            self._regression(inner)
        self.export_button = QPushButton("Export PNG…")
        self.export_button.clicked.connect(self.ask_export)
        self.message = QLabel()
        row = QHBoxLayout()
        row.addWidget(self.message, 1)
        row.addWidget(self.export_button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.content, 1)
        layout.addLayout(row)
        self.resize(*within_screen(self, 900, 560))

    # ----- classification ------------------------------------------------------------------
    def _classification(self, layout: QVBoxLayout) -> None:
        grid = QGridLayout()
        self.matrices: list[QTableWidget] = []
        parts = [("train", self.report.train), ("test", self.report.test)]
        for column, (name, c) in enumerate(parts):
            if c is None:
                grid.addWidget(QLabel("No test part (Settings > Data > test share)."), 1, column)
                continue
            grid.addWidget(QLabel(f"{name.capitalize()}: {c.samples} samples, accuracy "
                                  f"{100 * c.accuracy:.1f}%  (rows: true class, columns: "
                                  "predicted)"), 0, column)
            table = confusion_table(c)
            self.matrices.append(table)
            grid.addWidget(table, 1, column)
        layout.addLayout(grid, 2)
        layout.addWidget(QLabel("Accuracy of each class (right among the samples of that class)"))
        self.per_class = per_class_table(self.report.train, self.report.test)
        layout.addWidget(self.per_class, 1)

    # ----- regression ----------------------------------------------------------------------
    def _regression(self, layout: QVBoxLayout) -> None:
        fit: Fit = self.report.train
        self.target = QComboBox()
        self.target.addItems(list(fit.target_names))
        self.target.currentIndexChanged.connect(self._draw_fit)
        self.summary = QLabel()
        row = QHBoxLayout()
        if len(fit.target_names) > 1:
            row.addWidget(QLabel("Target:"))
            row.addWidget(self.target)
        row.addWidget(self.summary, 1)
        layout.addLayout(row)
        self.fit_plot = figure_plot("target", "predicted")
        self.residual_plot = figure_plot("target", "residual (target − predicted)")
        plots = QHBoxLayout()
        plots.addWidget(self.fit_plot)
        plots.addWidget(self.residual_plot)
        layout.addLayout(plots, 1)
        self._draw_fit()

    def _draw_fit(self) -> None:
        k = max(0, self.target.currentIndex())
        for plot in (self.fit_plot, self.residual_plot):
            plot.clear()
        # One legend, in the predictions' plot, for both (the residuals' colours are the same).
        legend = self.fit_plot.addLegend(labelTextSize="9pt", labelTextColor="#222",
                                         brush=(255, 255, 255, 190))
        parts = [("train", self.report.train, TRAIN), ("test", self.report.test, TEST)]
        low, high = np.inf, -np.inf
        for name, fit, colour in parts:
            if fit is None or len(fit.target) == 0:
                continue
            t, p, r = fit.target[:, k], fit.predicted[:, k], fit.residuals[:, k]
            low = min(low, t.min(), p.min())
            high = max(high, t.max(), p.max())
            style = dict(pen=None, symbol="o", symbolSize=6, symbolBrush=pg.mkBrush(colour),
                         symbolPen=None, name=name)
            self.fit_plot.plot(t, p, **style)
            self.residual_plot.plot(t, r, **style)
        if np.isfinite(low):
            diagonal = pg.mkPen("#555", width=1, style=Qt.DashLine)
            self.fit_plot.plot([low, high], [low, high], pen=diagonal, name="predicted = target")
            self.residual_plot.addItem(pg.InfiniteLine(0, angle=0, pen=diagonal))
        shown = [(fit.target[:, k], fit.predicted[:, k]) for _, fit, _ in parts
                 if fit is not None and len(fit.target)]
        if shown:
            legend.setOffset(emptiest_corner(np.concatenate([t for t, _ in shown]),
                                             np.concatenate([p for _, p in shown])))
        texts = [f"{name} RMSE {fmt(fit.rmse()[k])}" for name, fit, _ in parts
                 if fit is not None and len(fit.target)]
        self.summary.setText(", ".join(texts))

    # ----- export --------------------------------------------------------------------------
    def export_png(self, path: str | Path) -> None:
        path = Path(path)
        if not self.content.grab().save(str(path), "PNG"):
            raise OSError(f"cannot write {path}")

    def ask_export(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Export evaluation", "evaluation.png",
                                              "PNG pictures (*.png)")
        if not path:
            return
        if not path.lower().endswith(".png"):
            path += ".png"
        try:
            self.export_png(path)
        except OSError as exc:
            self.message.setText(f"Not exported: {exc}")
            return
        self.message.setText(f"Exported to {path}")


def emptiest_corner(x: np.ndarray, y: np.ndarray, share: float = 0.4
                    ) -> tuple[int, int]:
    """The legend's offset for the corner of the plot with the fewest points in it (each
    corner: `share` of the data's range along each axis). A good fit's points lie along the
    diagonal, so the top right corner, the usual place, is full and the top left empty."""
    def near(v: np.ndarray, high: bool) -> np.ndarray:
        low, top = float(v.min()), float(v.max())
        edge = top - share * (top - low) if high else low + share * (top - low)
        return v >= edge if high else v <= edge

    counts = {}
    for top in (True, False):  # in order of preference when counts tie: the top first
        for right in (False, True):
            counts[(right, top)] = int(np.sum(near(x, right) & near(y, top)))
    right, top = min(counts, key=counts.get)
    return (-10 if right else 10, 10 if top else -10)


def confusion_table(c: Confusion) -> QTableWidget:
    """Counts, each cell tinted by its share of its row (the true class)."""
    k = len(c.class_names)
    table = _table(k, k)
    table.setHorizontalHeaderLabels(list(c.class_names))
    table.setVerticalHeaderLabels(list(c.class_names))
    totals = c.counts.sum(axis=1)
    for i in range(k):
        for j in range(k):
            share = c.counts[i, j] / totals[i] if totals[i] else 0.0
            item = QTableWidgetItem(f"{c.counts[i, j]:,}")
            item.setTextAlignment(Qt.AlignCenter)
            base = (47, 111, 222) if i == j else (224, 88, 43)
            item.setBackground(QBrush(QColor(*base, int(30 + 200 * share) if share else 0)))
            item.setToolTip(f"true {c.class_names[i]}, predicted {c.class_names[j]}: "
                            f"{c.counts[i, j]} ({100 * share:.1f}% of that class)")
            table.setItem(i, j, item)
    return table


def per_class_table(train: Confusion, test: Confusion | None) -> QTableWidget:
    names = train.class_names
    table = _table(len(names), 3 if test is not None else 2)
    table.setHorizontalHeaderLabels(["samples (train)", "train", "test"][: table.columnCount()])
    table.setVerticalHeaderLabels(list(names))
    columns = [train.counts.sum(axis=1).astype(float), train.per_class()]
    if test is not None:
        columns.append(test.per_class())
    for j, values in enumerate(columns):
        for i, v in enumerate(values):
            text = f"{int(v):,}" if j == 0 else ("—" if np.isnan(v) else f"{100 * v:.1f}%")
            item = QTableWidgetItem(text)
            item.setTextAlignment(Qt.AlignRight | Qt.AlignVCenter)
            table.setItem(i, j, item)
    return table


def _table(rows: int, columns: int) -> QTableWidget:
    table = QTableWidget(rows, columns)
    table.setEditTriggers(QAbstractItemView.NoEditTriggers)
    table.horizontalHeader().setSectionResizeMode(QHeaderView.Stretch)
    table.verticalHeader().setSectionResizeMode(QHeaderView.Stretch)
    return table

