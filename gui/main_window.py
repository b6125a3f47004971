"""The main window: canvas in the centre, palette and inspector docks, menus, status bar."""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QPointF, Qt, QTimer
from PySide6.QtGui import QAction, QKeySequence, QUndoStack
from PySide6.QtWidgets import (QDockWidget, QHBoxLayout, QLabel, QMainWindow, QSlider,
                               QUndoView, QWidget)

from core.layout import free_spot
from core.project import Project
from core.templates import REAL_TEMPLATES, RECURRENT_TEMPLATES, TEMPLATES
from gui import csv_import, edit_tools, export_actions, theme
from gui.canvas.batched_edges import MAX_DRAWN
from gui.canvas.scene import CanvasScene
from gui.canvas.view import CanvasView, parse_kind
from gui.connect_dialog import ConnectDialog, LayerDialog
from gui.file_controller import FileController
from gui.inspector import Inspector
from gui.palette import Palette

EXAMPLES = Path(__file__).resolve().parents[1] / "assets" / "examples"


class MainWindow(QMainWindow):
    def __init__(self, project: Project | None = None) -> None:
        super().__init__()
        self.project = project or Project()
        self.undo_stack = QUndoStack(self)
        self.scene = CanvasScene(self.project.network, self.undo_stack, self)
        self.view = CanvasView(self.scene, self)
        self.setCentralWidget(self.view)
        self.files = FileController(self, self.project, self.undo_stack)
        self.project.network.changed.connect(self._on_document_changed)
        self.sources: list[str] = []  # "connect A to B": the marked A
        self._docks()
        self._menus()
        self._canvas_check = QTimer(self, singleShot=True, interval=100)
        self._canvas_check.timeout.connect(self._keep_canvas_share)
        self.scene.message.connect(lambda text: self.statusBar().showMessage(text, 6000))
        # Short enough for a 1024-pixel window beside the status bar's own controls.
        self.statusBar().showMessage("Drag neurons from the palette; drag from a dot to a "
                                     "neuron to connect.")
        from gui.live.training_ui import TrainingUI

        self.training = TrainingUI(self)
        self.training.controller.running_changed.connect(self.update_undo_actions)
        self.training.data_changed.connect(self.palette.show_for)
        self.palette.show_for(self.training.live.data)
        from gui.stepthrough.mode import StepThroughMode

        self.stepthrough = StepThroughMode(self, self.training.live, self.training.controller)
        from gui.experiments.experiments_ui import ExperimentsUI

        self.experiments = ExperimentsUI(self)
        from gui.recovery import Autosaver

        self.autosaver = Autosaver(self)
        self._initial_size()
        self.files.update_title()

    @property
    def controller(self):
        """The TrainingController (for window-wide actions, scripts and tests; the panels are
        handed what they need)."""
        return self.training.controller

    @property
    def dataset(self):
        """The project's data set as training uses it, or None if it could not be made."""
        return self.training.live.data

    # ----- layout --------------------------------------------------------------------------------
    def _docks(self) -> None:
        self.palette = Palette()
        self.palette.activated_kind.connect(self._add_at_centre)
        self.inspector = Inspector(self.scene)
        self.history = QUndoView(self.undo_stack)
        for title, widget, area, name in (("Neurons", self.palette, Qt.LeftDockWidgetArea, "palette"),
                                          ("Inspector", self.inspector, Qt.RightDockWidgetArea, "inspector"),
                                          ("History", self.history, Qt.RightDockWidgetArea, "history")):
            dock = QDockWidget(title, self)
            dock.setObjectName(name)
            dock.setWidget(widget)
            self.addDockWidget(area, dock)
            setattr(self, f"{name}_dock", dock)
        self.history_dock.hide()
        self.palette_dock.setMinimumWidth(130)
        self.palette_dock.setMaximumWidth(220)
        self.inspector_dock.setMinimumWidth(250)
        # The inspector and settings column runs the window's full height; the plots sit
        # under the canvas and the (short) palette.
        self.setCorner(Qt.TopLeftCorner, Qt.LeftDockWidgetArea)
        self.setCorner(Qt.BottomLeftCorner, Qt.BottomDockWidgetArea)
        self.setCorner(Qt.TopRightCorner, Qt.RightDockWidgetArea)
        self.setCorner(Qt.BottomRightCorner, Qt.RightDockWidgetArea)
        self.weak_slider = QSlider(Qt.Horizontal)
        self.weak_slider.setRange(0, 100)
        self.weak_slider.setFixedWidth(140)
        self.weak_slider.setToolTip("Hide edges whose |weight| is below this share of the largest")
        self.weak_slider.valueChanged.connect(self._on_weak_changed)
        box = QWidget()
        row = QHBoxLayout(box)
        row.setContentsMargins(0, 0, 6, 0)
        self.edges_note = QLabel("")
        self.edges_note.setToolTip("A graph this big draws only its strongest edges (by |w|, "
                                   "or |dL/dw| when edges show gradients); hover and the "
                                   "Inspector still reach every edge")
        self.scene.edges_drawn.connect(self._on_edges_drawn)
        row.addWidget(self.edges_note)
        row.addWidget(QLabel("Hide weak edges"))
        row.addWidget(self.weak_slider)
        self.statusBar().addPermanentWidget(box)

    def fit(self) -> None:
        """View > Fit: the unrolled net while step-through over time shows it, else the canvas."""
        stage = self.stepthrough.stage
        if stage.showing:
            stage.view.fit()
        else:
            self.view.fit()

    def add_action(self, menu, text: str, slot, shortcut=None, tip: str = "") -> QAction:
        """An action on a menu or toolbar (also used by the training toolbar)."""
        action = QAction(text, self)
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
        action.setStatusTip(tip)
        action.setToolTip(tip or text)
        action.triggered.connect(slot)
        menu.addAction(action)
        return action

    def _menus(self) -> None:
        bar = self.menuBar()
        f = bar.addMenu("&File")
        self.add_action(f, "&New", self.new_document, QKeySequence.New)
        templates = f.addMenu("New from &template")
        for i, group in enumerate((TEMPLATES, RECURRENT_TEMPLATES, REAL_TEMPLATES)):
            if i:
                templates.addSeparator()
            for template in group.values():
                self.add_action(templates, template.title, lambda _=False, t=template:
                                self.files.new_from(t.build(), f"Template: {t.title}"))
        self.add_action(f, "&Open…", lambda: self.files.open(), QKeySequence.Open)
        self.recent_menu = f.addMenu("Open &recent")
        self.files.recent_changed.connect(self._fill_recent)
        self._fill_recent()
        self.add_action(f, "&Save", self.files.save, QKeySequence.Save)
        self.add_action(f, "Save &as…", self.files.save_as, QKeySequence.SaveAs)
        f.addSeparator()
        self.add_action(f, "Import &CSV data…", lambda: csv_import.import_csv(self),
                        tip="Preview a CSV file and choose its input and target columns")
        self.add_action(f, "&Export weights…", lambda: export_actions.ask_export_weights(self),
                        "Ctrl+E", "NumPy, JSON, CSV, ONNX or a standalone Python file")
        self.add_action(f, "&Import weights…", lambda: export_actions.ask_import_weights(self))
        self.add_action(f, "Export network &picture…",
                        lambda: export_actions.ask_export_canvas(self), tip="PNG or SVG")
        self.add_action(f, "Export p&lots…", lambda: export_actions.ask_export_plots(self),
                        tip="Every panel's plot as PNG and SVG into a folder")
        f.addSeparator()
        self.add_action(f, "&Quit", self.close, QKeySequence.Quit)
        e = bar.addMenu("&Edit")
        # Training in progress first becomes an undo step of its own, so Undo while training
        # undoes the training (enabled even before that step exists), never an edit from
        # before it behind the run's back.
        self.undo_action = self.add_action(e, "&Undo", self.undo, QKeySequence.Undo)
        self.redo_action = self.add_action(e, "&Redo", self.redo, "Ctrl+Shift+Z")
        # Ctrl+Shift+Z everywhere, and the platform's own Redo keys (Ctrl+Y...) once each:
        # on Linux those include Ctrl+Shift+Z, and a key bound twice is ambiguous to Qt,
        # which then does nothing.
        ours = QKeySequence("Ctrl+Shift+Z")
        self.redo_action.setShortcuts([ours] + [k for k in QKeySequence.keyBindings(
            QKeySequence.Redo) if k != ours])
        self.undo_stack.indexChanged.connect(self.update_undo_actions)
        self.update_undo_actions()
        e.addSeparator()
        self.add_action(e, "Cu&t", self.cut, QKeySequence.Cut)
        self.add_action(e, "&Copy", lambda: edit_tools.copy_selection(self.scene), QKeySequence.Copy)
        self.add_action(e, "&Paste", lambda: edit_tools.paste(self.scene), QKeySequence.Paste)
        self.add_action(e, "&Duplicate", self.duplicate, "Ctrl+D")
        self.add_action(e, "&Delete", lambda: edit_tools.delete_selection(self.scene),
                     QKeySequence.Delete)
        self.add_action(e, "Select &all", self.select_all, QKeySequence.SelectAll)
        v = bar.addMenu("&View")
        self.add_action(v, "Zoom &in", lambda: self.view.zoom(1.25), QKeySequence.ZoomIn)
        self.add_action(v, "Zoom &out", lambda: self.view.zoom(0.8), QKeySequence.ZoomOut)
        self.add_action(v, "&Fit to view", self.fit, "Ctrl+0")
        snap = self.add_action(v, "&Snap to grid", self._toggle_snap)
        snap.setCheckable(True)
        v.addSeparator()
        self.panels_menu = v.addMenu("&Panels")
        for dock in (self.palette_dock, self.inspector_dock, self.history_dock):
            self.panels_menu.addAction(dock.toggleViewAction())
        self.add_action(v, "&Reset layout", self.reset_layout,
                        tip="Put every panel back where it was when Backprop Studio first started")
        t = bar.addMenu("&Tools")
        self.add_action(t, "Add &layer…", self.add_layer, "Ctrl+L")
        self.add_action(t, "Mark selection as &sources (A)", self.mark_sources, "Ctrl+Shift+A")
        self.add_action(t, "&Connect sources (A) to selection…", self.connect_to_selection, "Ctrl+K")
        self.add_action(t, "&Auto-layout", lambda: edit_tools.auto_layout(self.scene), "Ctrl+Shift+L")
        self.menus = {"file": f, "edit": e, "view": v, "tools": t}

    def _fill_recent(self) -> None:
        self.recent_menu.clear()
        for path in self.files.recent_files():
            self.add_action(self.recent_menu, path, lambda _=False, p=path: self.files.open(p))
        self.recent_menu.setEnabled(bool(self.files.recent_files()))

    # ----- commands ----------------------------------------------------------------------------
    def undo(self) -> None:
        self.files.settle_requested.emit()
        self.undo_stack.undo()

    def redo(self) -> None:
        self.files.settle_requested.emit()
        self.undo_stack.redo()

    def update_undo_actions(self, *_) -> None:
        stack = self.undo_stack
        training = hasattr(self, "training") and self.training.controller.running
        self.undo_action.setEnabled(stack.canUndo() or training)
        self.undo_action.setText("&Undo training" if training else
                                 f"&Undo {stack.undoText()}".rstrip())
        self.redo_action.setEnabled(stack.canRedo())
        self.redo_action.setText(f"&Redo {stack.redoText()}".rstrip())

    def new_document(self) -> None:
        self.files.new_from(Project(), "New network")

    def select_all(self) -> None:
        for item in self.scene.items():
            item.setSelected(True)

    def cut(self) -> None:
        edit_tools.copy_selection(self.scene)
        edit_tools.delete_selection(self.scene)

    def duplicate(self) -> None:
        if edit_tools.copy_selection(self.scene):
            edit_tools.paste(self.scene)

    def add_layer(self) -> None:
        dialog = LayerDialog(self)
        if dialog.exec():
            count, role, activation = dialog.values()
            edit_tools.add_layer(self.scene, count, role, activation)

    def mark_sources(self) -> None:
        self.sources, _ = edit_tools.selected_ids(self.scene)
        self.statusBar().showMessage(f"{len(self.sources)} neuron(s) marked as sources (A); now "
                                     "select the targets and use Tools > Connect", 8000)

    def connect_to_selection(self) -> None:
        targets, _ = edit_tools.selected_ids(self.scene)
        sources = [s for s in self.sources if s in self.project.network.neurons]
        if not sources or not targets:
            self.statusBar().showMessage("Mark sources first (Tools > Mark selection as sources), "
                                         "then select the targets", 8000)
            return
        dialog = ConnectDialog(len(sources), len(targets), self)
        if dialog.exec():
            mode, probability, delay = dialog.values()
            edit_tools.connect_sets(self.scene, sources, targets, mode, probability, delay=delay)

    def _add_at_centre(self, role: str, activation: str) -> None:
        _, activation, feature = parse_kind(f"{role}:{activation}")
        centre = self.view.mapToScene(self.view.viewport().rect().center())
        # Not on top of a neuron already there: the nearest free spot around the centre.
        x, y = free_spot(self.project.network, centre.x(), centre.y(),
                         2 * theme.NEURON_RADIUS + theme.GRID)
        self.scene.add_neuron_at(role, activation, QPointF(x, y), feature)

    def _toggle_snap(self, on: bool) -> None:
        self.scene.snap_to_grid = on

    def _on_edges_drawn(self, drawn: int, total: int) -> None:
        self.edges_note.setText(f"strongest {drawn:,} of {total:,} edges shown  "
                                if drawn < total and drawn >= MAX_DRAWN else "")

    def _on_weak_changed(self, value: int) -> None:
        self.scene.set_weak_threshold(self.scene.edge_scale() * value / 100.0)

    def _on_document_changed(self, change) -> None:
        if change.kind == "reset":  # another document: show all of it
            self.view.fit()

    def showEvent(self, event) -> None:
        super().showEvent(event)
        if not getattr(self, "_shown_once", False):
            self._shown_once = True
            # Sizes given before the first show are not kept: size the panels once the
            # window has its real size, then bring back the user's own layout, if any.
            QTimer.singleShot(0, self._first_layout)

    def _initial_size(self) -> None:
        """1400x900, or nine tenths of a smaller screen (a laptop's 1024x700 included)."""
        screen = self.screen().availableGeometry() if self.screen() else None
        w, h = 1400, 900
        if screen is not None and screen.width() > 0:
            w, h = min(w, int(screen.width() * 0.95)), min(h, int(screen.height() * 0.92))
        self.resize(w, h)

    def _first_layout(self) -> None:
        self._size_panels()
        self._default_layout = self.saveState()
        saved = self.files.settings.value("layout/state")
        if saved is not None and not self.restoreState(saved):
            self._size_panels()
        self._laid_out = True
        self.view.fit()

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        if getattr(self, "_laid_out", False):
            self._canvas_check.start()

    def _keep_canvas_share(self) -> None:
        """Qt gives all of a resize to the canvas: shrink the window far enough and the docks
        would leave it a sliver; grow it from a laptop's size to a large screen and the plots
        stay small. Lay the panels out afresh when the canvas falls below a third of the
        window, or the window changes between small and large."""
        viewport = self.view.viewport()
        size_class = self._size_class()
        if viewport.width() * viewport.height() * 3 < self.width() * self.height() or \
                size_class != self._laid_out_for:
            self._size_panels()
            self.view.fit()

    def _size_class(self) -> tuple[bool, bool]:
        return self.width() >= 1300, self.height() >= 900

    def _size_panels(self) -> None:
        """The plots get about a third of the height (two fifths on a tall screen), the side
        columns their natural width, and the canvas the rest."""
        docks = self.training.docks
        self._laid_out_for = self._size_class()
        small = self.width() < 1300
        share = 0.38 if self.height() >= 900 else 0.3
        height = int(self.height() * share)
        self.resizeDocks([docks[0], docks[2]], [height, height], Qt.Vertical)
        side = (130, 260) if small else (190, 330)
        self.resizeDocks([self.palette_dock, self.inspector_dock], list(side), Qt.Horizontal)
        half = (self.width() - side[1]) // 2
        self.resizeDocks([docks[0], docks[2]], [half, half], Qt.Horizontal)
        inspector = int((self.height() - height) * 0.3)
        self.resizeDocks([self.inspector_dock, self.training.settings_dock],
                         [inspector, self.height() - inspector], Qt.Vertical)

    def reset_layout(self) -> None:
        """View > Reset layout: every panel back in its first place and size."""
        for dock in self.findChildren(QDockWidget):
            dock.setFloating(False)
        if getattr(self, "_default_layout", None) is not None:
            self.restoreState(self._default_layout)
        for dock in (self.palette_dock, self.inspector_dock, self.training.settings_dock,
                     *self.training.docks):
            dock.show()
        self.history_dock.hide()
        self.training.docks[0].raise_()
        self.training.docks[2].raise_()
        self._size_panels()
        self.files.settings.remove("layout/state")

    def closeEvent(self, event) -> None:
        if self.files.maybe_save():
            self.files.settings.setValue("layout/state", self.saveState())
            self.autosaver.stop()
            from core.recovery import clear_recovery

            clear_recovery()  # saved or deliberately discarded: nothing to recover
            self.experiments.shutdown()
            self.training.shutdown()
            # The stack and the document outlive this window briefly while Qt tears it
            # down: stop their signals from reaching half-deleted views.
            self.files.detach()
            self.project.network.changed.blocked().__enter__()
            event.accept()
        else:
            event.ignore()
