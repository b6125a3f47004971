"""The document's kept runs as a table model: one row per run, read from the RunLog (no copy
of the runs is kept here, only their ids, to tell Qt which rows came and went). The name is
edited in place; the edit goes out through `rename` (an undoable command), never into the log
directly."""
from __future__ import annotations

from datetime import datetime
from typing import Any, Callable

from PySide6.QtCore import QAbstractTableModel, QModelIndex, Qt
from PySide6.QtGui import QColor

from core.errors import shorten
from core.experiments.run import Run
from core.experiments.run_log import RunChange, RunLog
from core.number_text import fmt

# What tells runs apart first: the name, what changed, the final figures; when, last.
COLUMNS = ("Name", "Changed", "Train loss", "Test loss", "Train acc.", "Test acc.", "Steps",
           "When")
NAME, CHANGED, TRAIN_LOSS, STEPS, WHEN = 0, 1, 2, 6, 7
TIPS = {CHANGED: "The settings in which this run differs from the one above it",
        STEPS: "Steps trained (epochs and seconds in the tooltip)",
        TRAIN_LOSS: "Final figures: loss on the whole training part, then the test part"}


class RunsModel(QAbstractTableModel):
    def __init__(self, log: RunLog, rename: Callable[[str, str], None], parent=None) -> None:
        super().__init__(parent)
        self.log, self._rename = log, rename
        self._ids = log.ids()
        self.colours: dict[str, str] = {}  # run id -> its colour in the comparison
        log.changed.connect(self._on_log_changed)

    def set_colours(self, colours: dict[str, str]) -> None:
        """The compared runs' colours, shown as a swatch by their names (the plot's legend
        may be out of sight in a small panel)."""
        self.colours = dict(colours)
        if self._ids:
            self.dataChanged.emit(self.index(0, NAME), self.index(len(self._ids) - 1, NAME))

    # ----- reading -------------------------------------------------------------------------
    def rowCount(self, parent: QModelIndex = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self._ids)

    def columnCount(self, parent: QModelIndex = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(COLUMNS)

    def run_at(self, row: int) -> Run:
        return self.log[self._ids[row]]

    def id_at(self, row: int) -> str:
        """The run id of a row: while the model follows a replaced log (Open, New) a row
        can still name a run the log no longer holds."""
        return self._ids[row]

    def row_of(self, run_id: str) -> int:
        return self._ids.index(run_id)

    def headerData(self, section: int, orientation, role: int = Qt.DisplayRole) -> Any:
        if orientation != Qt.Horizontal:
            return None
        if role == Qt.DisplayRole:
            return COLUMNS[section]
        if role == Qt.ToolTipRole:
            return TIPS.get(section)
        return None

    def flags(self, index: QModelIndex) -> Qt.ItemFlags:
        flags = Qt.ItemIsEnabled | Qt.ItemIsSelectable
        return flags | Qt.ItemIsEditable if index.column() == NAME else flags

    def data(self, index: QModelIndex, role: int = Qt.DisplayRole) -> Any:
        if not index.isValid():
            return None
        run, column = self.run_at(index.row()), index.column()
        if role in (Qt.DisplayRole, Qt.EditRole):
            return cell(run, column, self.log) if role == Qt.DisplayRole or column != NAME \
                else run.name
        if role == Qt.ToolTipRole:
            return tooltip(run, column, self.log)
        if role == Qt.DecorationRole and column == NAME and run.id in self.colours:
            return QColor(self.colours[run.id])
        if role == Qt.TextAlignmentRole and TRAIN_LOSS <= column <= STEPS:
            return int(Qt.AlignRight | Qt.AlignVCenter)
        return None

    def setData(self, index: QModelIndex, value: Any, role: int = Qt.EditRole) -> bool:
        if role != Qt.EditRole or index.column() != NAME:
            return False
        run = self.run_at(index.row())
        if value != run.name:
            self._rename(run.id, value)
        return True

    # ----- following the log ---------------------------------------------------------------
    def _on_log_changed(self, change: RunChange) -> None:
        if change.kind in ("updated", "renamed"):
            for run_id in change.ids:
                if run_id in self._ids:
                    row = self._ids.index(run_id)
                    # A rename changes the next run's "changed" cell too: not a setting, so no.
                    self.dataChanged.emit(self.index(row, 0), self.index(row, len(COLUMNS) - 1))
            return
        self._follow(self.log.ids())

    def _follow(self, ids: list[str]) -> None:
        """Rows removed and inserted one by one, so a selection of the other runs stays."""
        keep = set(ids)
        for row in reversed(range(len(self._ids))):
            if self._ids[row] not in keep:
                self.beginRemoveRows(QModelIndex(), row, row)
                del self._ids[row]
                self.endRemoveRows()
        for row, run_id in enumerate(ids):
            if row >= len(self._ids) or self._ids[row] != run_id:
                self.beginInsertRows(QModelIndex(), row, row)
                self._ids.insert(row, run_id)
                self.endInsertRows()
        if self._ids != ids:  # the same runs in another order: cannot happen through the log
            self.beginResetModel()
            self._ids = list(ids)
            self.endResetModel()
        elif ids:  # "changed from the run before" depends on the neighbours
            self.dataChanged.emit(self.index(0, CHANGED), self.index(len(ids) - 1, CHANGED))


# ----- what a cell says ---------------------------------------------------------------------
def cell(run: Run, column: int, log: RunLog) -> str:
    if column == NAME:
        return run.name or run.id
    if column == WHEN:
        return when_text(run.when)
    if column == CHANGED:
        return changes_text(log.differences(run.id)) if run.id in log else ""
    if column == STEPS:
        return f"{run.steps:,}"
    final = run.final
    if final is None:
        return "—"
    value = (final.train_loss, final.test_loss, final.train_accuracy,
             final.test_accuracy)[column - TRAIN_LOSS]
    if value is None:
        return "—"
    return f"{100 * value:.1f}%" if column >= TRAIN_LOSS + 2 else fmt(value)


def tooltip(run: Run, column: int, log: RunLog) -> str | None:
    if column == CHANGED and run.id in log:
        lines = [f"{name}: {value_text(old)} → {value_text(new)}"
                 for name, old, new in log.differences(run.id)]
        return "\n".join(lines) or "The first run, or the same settings as the run before"
    if column == STEPS:
        return f"{run.steps:,} steps, {run.epochs:,} epochs, {run.seconds:.1f} s"
    if column == NAME:
        parts = [run.name or run.id]
        if run.note:
            parts.append(run.note)
        if run.weights is None:
            parts.append("No weights kept (Restore is not possible)")
        return "\n".join(parts)
    return None


def changes_text(differences: list[tuple[str, Any, Any]], limit: int = 80) -> str:
    if not differences:
        return ""
    parts = ["other network" if name == "network" else f"{name} {value_text(new)}"
             for name, _, new in differences]
    return shorten(", ".join(parts), limit)


def value_text(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return str(value).lower()
    if isinstance(value, float):
        return fmt(value)
    if isinstance(value, list):
        return "[" + ", ".join(map(str, value)) + "]"
    return shorten(str(value), 40)


def when_text(when: str) -> str:
    """'14:03:22' today, else '3 Mar 14:03'."""
    try:
        moment = datetime.fromisoformat(when)
    except ValueError:
        return shorten(when, 20)
    now = datetime.now(moment.tzinfo)
    if moment.date() == now.date():
        return moment.strftime("%H:%M:%S")
    return f"{moment.day} {moment.strftime('%b %H:%M')}"
