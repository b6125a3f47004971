"""The selected runs' settings side by side, one column per run; a setting whose values differ
between them is marked (≠, bold, tinted), and "only differences" hides the rest."""
from __future__ import annotations

from typing import Any

from PySide6.QtGui import QBrush, QColor, QFont
from PySide6.QtWidgets import (QAbstractItemView, QCheckBox, QHeaderView, QTableWidget,
                               QTableWidgetItem, QVBoxLayout, QWidget)

from core.errors import shorten
from core.experiments.run import Run
from gui.experiments.runs_model import value_text

DIFFERENT = QColor("#fff1c2")


def rows_of(runs: list[Run]) -> list[tuple[str, list[str]]]:
    """(setting, its value in each run as text): training settings, then data settings
    (data.*), then what the run started from and how far it went."""
    names: list[str] = []
    for run in runs:
        names += [k for k in run.training if k not in names]
    data_names: list[str] = []
    for run in runs:
        data_names += [k for k in run.data if k not in data_names]
    nets = _letters([r.structure for r in runs])
    starts = _letters([r.start for r in runs])
    rows = [(name, [value_text(r.training.get(name)) for r in runs]) for name in names]
    rows += [(f"data.{name}", [value_text(r.data.get(name)) for r in runs])
             for name in data_names]
    rows += [("network", [f"network {nets[r.structure]}" for r in runs]),
             ("start weights", [_start_text(r, starts) for r in runs]),
             ("steps", [f"{r.steps:,}" for r in runs]),
             ("epochs", [f"{r.epochs:,}" for r in runs])]
    return rows


def _start_text(run: Run, letters: dict[str, str]) -> str:
    how = f"drawn, seed {run.seed}" if run.initialised else "as they were"
    return f"{letters[run.start]} ({how})"


def _letters(keys: list[str]) -> dict[str, str]:
    """The same fingerprint, the same letter: A for the first seen, then B, ..."""
    out: dict[str, str] = {}
    for key in keys:
        out.setdefault(key, chr(ord("A") + len(out) % 26))
    return out


class SettingsTable(QWidget):
    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.table = QTableWidget(0, 0)
        self.table.setEditTriggers(QAbstractItemView.NoEditTriggers)
        self.table.verticalHeader().setSectionResizeMode(QHeaderView.ResizeToContents)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.Interactive)
        self.only_differences = QCheckBox("only differences")
        self.only_differences.toggled.connect(lambda _: self._hide_rows())
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.only_differences)
        layout.addWidget(self.table, 1)
        self.different: list[str] = []  # the settings that differ between the runs shown

    def show_runs(self, runs: list[Run]) -> None:
        rows = rows_of(runs)
        t = self.table
        t.clear()
        t.setColumnCount(len(runs))
        t.setRowCount(len(rows))
        t.setHorizontalHeaderLabels([shorten(r.name or r.id, 24) for r in runs])
        bold = QFont()
        bold.setBold(True)
        self.different = []
        for i, (name, values) in enumerate(rows):
            differs = len(set(values)) > 1
            header = QTableWidgetItem(f"≠ {name}" if differs else name)
            t.setVerticalHeaderItem(i, header)
            if differs:
                self.different.append(name)
                header.setFont(bold)
            for j, text in enumerate(values):
                item = QTableWidgetItem(text)
                item.setToolTip(text)
                if differs:
                    item.setFont(bold)
                    item.setBackground(QBrush(DIFFERENT))
                t.setItem(i, j, item)
        t.resizeColumnsToContents()
        self._hide_rows()

    def value(self, setting: str, column: int) -> Any:
        """The text shown for `setting` in the run of `column` (for tests and scripts)."""
        for i in range(self.table.rowCount()):
            if self.table.verticalHeaderItem(i).text().lstrip("≠ ") == setting:
                return self.table.item(i, column).text()
        raise KeyError(setting)

    def _hide_rows(self) -> None:
        only = self.only_differences.isChecked()
        for i in range(self.table.rowCount()):
            differs = self.table.verticalHeaderItem(i).text().startswith("≠ ")
            self.table.setRowHidden(i, only and not differs)
