"""New, Open, Save, Save As, recent files, the window title and the unsaved-changes question."""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, QSettings, Signal
from PySide6.QtWidgets import QFileDialog, QMessageBox, QWidget

from core.edits import ReplaceNetwork
from core.project import Project, ProjectError, load_project, save_project
from gui.commands import EditCommand

MAX_RECENT = 8
FILTER = "Backprop Studio projects (*.json);;All files (*)"


class FileController(QObject):
    project_replaced = Signal()  # data/training settings changed with the document
    recent_changed = Signal()

    def __init__(self, window: QWidget, project: Project, undo_stack) -> None:
        super().__init__(window)
        self.window = window
        self.project = project
        self.undo_stack = undo_stack
        self.path: Path | None = None
        self.settings = QSettings("Backprop Studio", "Backprop Studio")
        undo_stack.cleanChanged.connect(self.update_title)

    # ----- title and state ---------------------------------------------------------------------
    def display_name(self) -> str:
        return self.path.name if self.path else "Untitled"

    def update_title(self, *_) -> None:
        mark = "" if self.undo_stack.isClean() else "*"
        self.window.setWindowTitle(f"{self.display_name()}{mark} — Backprop Studio")

    def recent_files(self) -> list[str]:
        value = self.settings.value("recent", [])
        return [v for v in (value if isinstance(value, list) else [value]) if v]

    def _remember(self, path: Path) -> None:
        recent = [str(path)] + [p for p in self.recent_files() if p != str(path)]
        self.settings.setValue("recent", recent[:MAX_RECENT])
        self.recent_changed.emit()

    # ----- asking first --------------------------------------------------------------------------
    def maybe_save(self) -> bool:
        """True when it is fine to throw the document away (saved, discarded, or clean)."""
        if self.undo_stack.isClean():
            return True
        answer = QMessageBox.question(
            self.window, "Unsaved changes",
            f"Save the changes to {self.display_name()} before closing it?",
            QMessageBox.Save | QMessageBox.Discard | QMessageBox.Cancel, QMessageBox.Save)
        if answer == QMessageBox.Save:
            return self.save()
        return answer == QMessageBox.Discard

    # ----- commands ----------------------------------------------------------------------------
    def new_from(self, project: Project, title: str) -> None:
        """Template or empty document: the network change is one undoable step."""
        net = self.project.network
        edit = ReplaceNetwork(net.copy(), project.network.copy(), title)
        edit.apply(net)
        self.undo_stack.push(EditCommand(edit, net))
        self._take_settings(project)

    def open(self, path: str | Path | None = None) -> bool:
        if path is None:
            path, _ = QFileDialog.getOpenFileName(self.window, "Open project", self._folder(), FILTER)
            if not path:
                return False
        if not self.maybe_save():
            return False
        return self.load(Path(path))

    def load(self, path: Path) -> bool:
        try:
            loaded = load_project(path)
        except ProjectError as exc:
            QMessageBox.critical(self.window, "Cannot open project", str(exc))
            return False
        self.project.network.replace_with(loaded.network)
        self._take_settings(loaded)
        self.undo_stack.clear()
        self.undo_stack.setClean()
        self.path = path.resolve()
        self._remember(self.path)
        self.update_title()
        return True

    def save(self) -> bool:
        if self.path is None:
            return self.save_as()
        return self._write(self.path)

    def save_as(self) -> bool:
        path, _ = QFileDialog.getSaveFileName(self.window, "Save project as",
                                              str(Path(self._folder()) / f"{self.display_name()}"),
                                              FILTER)
        if not path:
            return False
        path = Path(path)
        if path.suffix == "":
            path = path.with_suffix(".json")
        return self._write(path)

    def _write(self, path: Path) -> bool:
        try:
            save_project(self.project, path)
        except (OSError, ValueError) as exc:
            QMessageBox.critical(self.window, "Cannot save project", f"{path}: {exc}")
            return False
        self.path = path.resolve()
        self.undo_stack.setClean()
        self._remember(self.path)
        self.update_title()
        return True

    def _take_settings(self, other: Project) -> None:
        p = self.project
        p.data, p.training = other.data, other.training
        p.title, p.description, p.goal = other.title, other.description, other.goal
        self.project_replaced.emit()

    def _folder(self) -> str:
        return str(self.path.parent) if self.path else str(Path.cwd())
