"""The Runs panel: the document's kept runs in a list; the selected ones compared (curves
overlaid, settings side by side). Rename (in place), delete and restore go out as requests
(signals) that the window turns into undoable commands; the panel itself only observes the
RunLog."""
from __future__ import annotations

from PySide6.QtCore import QEvent, QItemSelection, QItemSelectionModel, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QKeyEvent, QKeySequence
from PySide6.QtWidgets import (QAbstractItemView, QHeaderView, QSplitter, QTableView, QTabWidget,
                               QToolBar, QToolButton, QVBoxLayout, QWidget)

from core.experiments.run import Run
from core.experiments.run_log import RunChange, RunLog
from gui.experiments.compare_plot import ComparePlot, colour
from gui.experiments.runs_model import CHANGED, NAME, RunsModel
from gui.experiments.settings_table import SettingsTable


NARROW = 640  # pixels: below this width the list and the comparison take turns (tabs)
MAX_NAME_WIDTH = 300  # pixels the Name column grows to for long names


class RunsPanel(QWidget):
    rename_requested = Signal(str, str)  # run id, new name
    delete_requested = Signal(list)  # run ids
    restore_requested = Signal(str)  # run id
    pop_out_requested = Signal()  # the panel in a window of its own, or back in its dock

    def __init__(self, log: RunLog, parent=None) -> None:
        super().__init__(parent)
        self.log = log
        self.model = RunsModel(log, self.rename_requested.emit, self)
        self.view = self._list_view()
        self.view.selectionModel().selectionChanged.connect(self._on_selection_changed)
        self.compare = ComparePlot()
        self.settings_table = SettingsTable()
        self.tabs = QTabWidget()
        self.tabs.addTab(self.compare, "Curves")
        self.tabs.addTab(self.settings_table, "Settings side by side")
        # In a laptop's bottom dock the plot is a strip a few lines high: this button gives the
        # comparison a window of its own at a size where curves and legend can be read.
        self.pop_out = QToolButton()
        self.pop_out.setAutoRaise(True)
        self.pop_out.clicked.connect(self.pop_out_requested.emit)
        self.set_floating(False)
        self.tabs.setCornerWidget(self.pop_out, Qt.TopRightCorner)
        self.toolbar = QToolBar()
        self.toolbar.setToolButtonStyle(Qt.ToolButtonTextOnly)
        self.restore_action = self._action("Restore", self._restore,
                                           "Put the selected run's final weights onto the canvas "
                                           "(one undoable step)")
        self.delete_action = self._action("Delete", self._delete, "Delete the selected runs "
                                          "(undoable)")
        self.toolbar.addSeparator()
        self.splitter = QSplitter(Qt.Horizontal)
        self.splitter.addWidget(self.view)
        self.splitter.addWidget(self.tabs)
        self.splitter.setStretchFactor(0, 2)
        self.splitter.setStretchFactor(1, 3)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 2, 4, 4)
        layout.setSpacing(2)
        layout.addWidget(self.toolbar)
        layout.addWidget(self.splitter, 1)
        log.changed.connect(self._on_log_changed)
        self._update_actions()
        self._user_sized = False  # the user dragged the splitter: their sizes stay
        self.splitter.splitterMoved.connect(lambda *_: setattr(self, "_user_sized", True))

    def _list_view(self) -> "RunsView":
        view = RunsView()
        view.delete_pressed.connect(self._delete)
        view.setModel(self.model)
        view.setSelectionBehavior(QAbstractItemView.SelectRows)
        view.setSelectionMode(QAbstractItemView.ExtendedSelection)
        view.setEditTriggers(QAbstractItemView.DoubleClicked | QAbstractItemView.EditKeyPressed)
        view.verticalHeader().hide()
        view.verticalHeader().setDefaultSectionSize(22)
        view.setWordWrap(False)
        header = view.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.Interactive)
        header.setStretchLastSection(False)
        header.resizeSection(NAME, 150)
        header.resizeSection(CHANGED, 140)
        for column in range(CHANGED + 1, self.model.columnCount()):
            header.resizeSection(column, 72)
        # A long name loses its middle, not its end: "Sweep 1: learning_rate=0.003 seed=0"
        # cut at the right read like every other run of its sweep.
        view.setTextElideMode(Qt.ElideMiddle)
        self._fitting = False
        self._name_width_set = False  # the user dragged the Name column: their width stays
        header.sectionResized.connect(self._on_section_resized)
        # Measured once the change is over: while the log tells its views one by one, the
        # model can still list a run the log no longer has.
        self._fit_timer = QTimer(self, singleShot=True, interval=0)
        self._fit_timer.timeout.connect(self._fit_names)
        self.model.rowsInserted.connect(lambda *_: self._fit_timer.start())
        self.model.dataChanged.connect(lambda *_: self._fit_timer.start())
        return view

    def _on_section_resized(self, column: int, *_) -> None:
        if column == NAME and not self._fitting:
            self._name_width_set = True

    def _fit_names(self) -> None:
        """The Name column as wide as the longest name (within MAX_NAME_WIDTH)."""
        if self._name_width_set or not self.model.rowCount():
            return
        wanted = min(MAX_NAME_WIDTH, max(150, self.view.sizeHintForColumn(NAME)))
        if wanted != self.view.columnWidth(NAME):
            self._fitting = True
            self.view.horizontalHeader().resizeSection(NAME, wanted)
            self._fitting = False

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._arrange()

    def _arrange(self) -> None:
        """Side by side when there is room; in a narrow dock (a laptop's screen) the list
        becomes the first tab, so the list and the plot each get the whole width."""
        narrow = self.width() < NARROW
        in_tabs = self.tabs.indexOf(self.view) >= 0
        if narrow and not in_tabs:
            self.tabs.insertTab(0, self.view, "Runs")
            self.tabs.setCurrentIndex(0)
        elif not narrow and in_tabs:
            showing_list = self.tabs.currentWidget() is self.view
            self.tabs.removeTab(self.tabs.indexOf(self.view))
            self.splitter.insertWidget(0, self.view)
            self.view.show()
            if showing_list:
                self.tabs.setCurrentIndex(0)
        if not narrow and not self._user_sized:  # the list two fifths: its first columns show
            width = self.splitter.width()
            self.splitter.setSizes([int(width * 0.4), width - int(width * 0.4)])

    def set_floating(self, floating: bool) -> None:
        """The pop-out button says what it would do now."""
        self.pop_out.setText("Dock" if floating else "⤢ Pop out")
        self.pop_out.setToolTip("Put the Runs panel back in the main window" if floating else
                                "Show the Runs panel in a window of its own, large enough to "
                                "read the curves")

    def _action(self, text: str, slot, tip: str) -> QAction:
        action = QAction(text, self)
        action.setToolTip(tip)
        action.setStatusTip(tip)
        action.triggered.connect(slot)
        self.toolbar.addAction(action)
        return action

    # ----- selection -----------------------------------------------------------------------
    def selected_ids(self) -> list[str]:
        """The selected runs, in list order."""
        rows = sorted({i.row() for i in self.view.selectionModel().selectedRows()})
        # Rows leave one by one when another document's log comes in, and each removal
        # changes the selection: the runs not yet removed are no longer in the log.
        return [run_id for run_id in map(self.model.id_at, rows) if run_id in self.log]

    def selected_runs(self) -> list[Run]:
        return [self.log[i] for i in self.selected_ids()]

    def select(self, run_ids: list[str]) -> None:
        """Select exactly these runs (the rest are deselected)."""
        selection = QItemSelection()
        for run_id in run_ids:
            row = self.model.row_of(run_id)
            selection.select(self.model.index(row, 0),
                             self.model.index(row, self.model.columnCount() - 1))
        self.view.selectionModel().select(selection, QItemSelectionModel.ClearAndSelect)
        if run_ids:
            self.view.scrollTo(self.model.index(self.model.row_of(run_ids[-1]), 0))

    def _on_selection_changed(self, *_) -> None:
        runs = self.selected_runs()
        self.model.set_colours({r.id: colour(i) for i, r in enumerate(runs)})
        self.compare.show_runs(runs)
        self.settings_table.show_runs(runs)
        self._update_actions()

    def _update_actions(self) -> None:
        ids = self.selected_ids()
        self.delete_action.setEnabled(bool(ids))
        self.restore_action.setEnabled(len(ids) == 1 and self.log[ids[0]].weights is not None)

    def _on_log_changed(self, change: RunChange) -> None:
        if change.kind == "updated":
            for run_id in change.ids:
                if run_id in self.compare_ids():
                    self.compare.update_run(self.log[run_id])
            self._update_actions()
            return
        # Rows came or went (the model has followed), or a run was renamed: show again.
        self._on_selection_changed()

    def compare_ids(self) -> list[str]:
        return [r.id for r in self.compare.runs]

    # ----- requests ------------------------------------------------------------------------
    def _restore(self) -> None:
        ids = self.selected_ids()
        if len(ids) == 1:
            self.restore_requested.emit(ids[0])

    def _delete(self) -> None:
        ids = self.selected_ids()
        if ids:
            self.delete_requested.emit(ids)


class RunsView(QTableView):
    """The list; Del here deletes the selected runs. The window's Edit > Delete (the canvas
    selection) has the same key: taking the key in ShortcutOverride keeps it from reaching
    that shortcut while the list has the focus (two shortcuts on one key would fire neither)."""

    delete_pressed = Signal()

    def event(self, event: QEvent) -> bool:
        if event.type() == QEvent.ShortcutOverride and _is_delete(event) and \
                self.state() != QAbstractItemView.EditingState:
            event.accept()
            return True
        return super().event(event)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if _is_delete(event) and self.state() != QAbstractItemView.EditingState:
            self.delete_pressed.emit()
            return
        super().keyPressEvent(event)


def _is_delete(event: QKeyEvent) -> bool:
    return event.matches(QKeySequence.Delete) or event.key() == Qt.Key_Delete
