"""New, Open, Save, Save As, recent files, the window title and the unsaved-changes question."""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, QSettings, Signal
from PySide6.QtGui import QUndoCommand
from PySide6.QtWidgets import QFileDialog, QMessageBox, QWidget

from core.edits import ReplaceProject
from core.project import Project, ProjectError, load_project, save_project
from gui import long_lived

MAX_RECENT = 8
FILTER = "Backprop Studio projects (*.json);;All files (*)"


class FileController(QObject):
    recent_changed = Signal()
    # Before the document is asked about, replaced or closed: training in progress ends here
    # and becomes an undo step (so it marks the document unsaved and is never lost).
    settle_requested = Signal()
    # Around a save: training so far becomes an undo step first (so the saved state is a
    # clean point of the history: Undo after it marks the document unsaved), then goes on.
    saving = Signal()
    saved = Signal()

    def __init__(self, window: QWidget, project: Project, undo_stack) -> None:
        super().__init__(window)
        self.window = window
        self.project = project
        self.undo_stack = undo_stack
        self.path: Path | None = None
        self.settings = QSettings("Backprop Studio", "Backprop Studio")
        # Points of the history other than Qt's one clean index where the document is as its
        # file (or its template) has it: the document before New or a template. Undo back
        # to it showed "A.json*" and asked to save a file identical to the one on disk.
        # Each is (index, the command just below it): a point holds while that command is.
        self._also_clean: list[tuple[int, object]] = []
        self._index = undo_stack.index()
        undo_stack.cleanChanged.connect(self.update_title)
        undo_stack.indexChanged.connect(self._on_index_changed)

    # ----- title and state ---------------------------------------------------------------------
    def display_name(self) -> str:
        if self.path:
            return self.path.name
        return self.project.title or "Untitled"

    def detach(self) -> None:
        """The window is closing: the stack's signals no longer reach this."""
        self.undo_stack.cleanChanged.disconnect(self.update_title)
        self.undo_stack.indexChanged.disconnect(self._on_index_changed)

    def unsaved(self) -> bool:
        """Whether the document differs from its file (or the template it came from)."""
        stack = self.undo_stack
        if stack.isClean():
            return False
        index = stack.index()
        return not any(i == index and self._below(i) is command
                       for i, command in self._also_clean)

    def _below(self, index: int):
        return self.undo_stack.command(index - 1) if index > 0 else None

    def _on_index_changed(self, index: int) -> None:
        if index == self._index:  # an edit merged into the command below: not the same state
            self._also_clean = [(i, c) for i, c in self._also_clean if i != index]
        self._index = index
        self.update_title()

    def update_title(self, *_) -> None:
        mark = "*" if self.unsaved() else ""
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
        self.settle_requested.emit()
        if not self.unsaved():
            return True
        answer = QMessageBox.question(
            self.window, "Unsaved changes",
            f"Save the changes to {self.display_name()} before closing it?",
            QMessageBox.Save | QMessageBox.Discard | QMessageBox.Cancel, QMessageBox.Save)
        if answer == QMessageBox.Save:
            return self.save()
        return answer == QMessageBox.Discard

    # ----- commands ----------------------------------------------------------------------------
    def new_from(self, project: Project, title: str, path: Path | None = None,
                 unsaved: bool = False) -> bool:
        """New, a template, a restored project: the whole project is replaced as one undoable
        step (undo gives back the network and its settings together). Unsaved changes are
        asked about first; a document that was saved stays unmarked until its first edit
        (`unsaved` marks it at once: restored work is not on disk)."""
        self.settle_requested.emit()
        if self.unsaved() and not self.maybe_save():
            return False
        before = self.undo_stack.index()
        if not self.unsaved():  # saved or untouched: Undo back to it is clean again
            self._also_clean.append((before, self._below(before)))
        command = ReplaceCommand(self, ReplaceProject(self.project, self.project.snapshot(),
                                                      project.snapshot(), title), path)
        self.undo_stack.push(command)
        if not unsaved:
            self.undo_stack.setClean()
        self.update_title()
        long_lived.document_settled()
        return True

    def open(self, path: str | Path | None = None) -> bool:
        if path is None:
            path, _ = QFileDialog.getOpenFileName(self.window, "Open project", self._folder(), FILTER)
            if not path:
                return False
        if not self.maybe_save():
            return False
        return self.load(Path(path))

    def load(self, path: str | Path, remember: bool = True) -> bool:
        """Open `path` (no question asked: see open()); `remember`: list it in Open recent
        (not the bundled example the window starts with, which the user never chose)."""
        path = Path(path)
        try:
            loaded = load_project(path)
        except ProjectError as exc:
            QMessageBox.critical(self.window, "Cannot open project", str(exc))
            return False
        self.settle_requested.emit()
        self.path = path.resolve()  # first: a relative CSV path is found beside the file
        self.project.replace_with(loaded, copy=False)  # freshly read: nobody else holds it
        self._also_clean = []
        self.undo_stack.clear()
        self.undo_stack.setClean()
        if remember:
            self._remember(self.path)
        self.update_title()
        long_lived.document_settled()
        if loaded.notes:  # kept runs the file held wrongly were left out: say so
            more = f" (and {len(loaded.notes) - 1} more)" if len(loaded.notes) > 1 else ""
            self.window.statusBar().showMessage(loaded.notes[0] + more, 20000)
        return True

    def save(self) -> bool:
        if self.path is None:
            return self.save_as()
        return self._write(self.path)

    def save_as(self) -> bool:
        suggested = self.path.name if self.path else f"{_file_name(self.display_name())}.json"
        path, _ = QFileDialog.getSaveFileName(self.window, "Save project as",
                                              str(Path(self._folder()) / suggested), FILTER)
        if not path:
            return False
        path = Path(path)
        if path.suffix.lower() != ".json":
            path = path.with_name(path.name + ".json")
        return self._write(path)

    def _write(self, path: Path) -> bool:
        self.saving.emit()
        # A relative CSV path is found beside the file: saved into another folder, it is
        # rewritten to name the same CSV from there (a template's is the working folder's).
        here = self.path.parent if self.path is not None else Path.cwd()
        try:
            save_project(self.project, path, moved_from=here)
        except (OSError, ValueError) as exc:
            self.saved.emit()
            QMessageBox.critical(self.window, "Cannot save project", f"{path}: {exc}")
            return False
        self.path = path.resolve()
        self.undo_stack.setClean()
        self._remember(self.path)
        self.update_title()
        self.saved.emit()
        return True

    def _folder(self) -> str:
        return str(self.path.parent) if self.path else str(Path.cwd())


def _file_name(title: str) -> str:
    """A title as a file name: characters that file systems refuse become spaces."""
    name = "".join(" " if c in '<>:"/\\|?*' or ord(c) < 32 else c for c in title).strip(" .")
    return " ".join(name.split())[:80] or "Untitled"


class ReplaceCommand(QUndoCommand):
    """A whole-project replacement on the undo stack; undo and redo also bring back the file
    the document belongs to (a template has none: Save asks where to write it)."""

    def __init__(self, files: FileController, edit: ReplaceProject, path: Path | None) -> None:
        super().__init__(edit.title)
        self.files, self.edit = files, edit
        self.old_path, self.new_path = files.path, path

    def redo(self) -> None:
        self.files.path = self.new_path  # first: a relative CSV path is found beside the file
        self.edit.apply(self.files.project.network)
        self.files.update_title()

    def undo(self) -> None:
        self.files.path = self.old_path
        self.edit.revert(self.files.project.network)
        self.files.update_title()

