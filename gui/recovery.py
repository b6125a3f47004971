"""Autosave every 30 s while there are unsaved changes, and whenever training pauses; offer
to restore after a crash; an error dialog and a log for anything uncaught."""
from __future__ import annotations

import datetime
import os
import sys
import traceback

from PySide6.QtCore import QObject, QTimer
from PySide6.QtWidgets import QMessageBox

from core.recovery import clear_recovery, data_folder, read_recovery, write_recovery

AUTOSAVE_SECONDS = float(os.environ.get("BACKPROP_STUDIO_AUTOSAVE_SECONDS", 30))


class Autosaver(QObject):
    def __init__(self, window) -> None:
        super().__init__(window)
        self.window = window
        self.timer = QTimer(self, interval=int(AUTOSAVE_SECONDS * 1000))
        self.timer.timeout.connect(self.autosave)
        self.timer.start()
        window.undo_stack.cleanChanged.connect(self._on_clean_changed)
        # A finished stretch of training (a pause, or Step) is worth keeping too.
        window.controller.trained.connect(lambda *args: self.autosave())

    def autosave(self) -> None:
        if self.window.undo_stack.isClean():
            return
        try:
            write_recovery(self.window.project, self.window.files.path)
        except OSError as exc:  # a full disk must not interrupt the user's work
            self.window.statusBar().showMessage(f"Autosave failed: {exc}", 8000)

    def _on_clean_changed(self, clean: bool) -> None:
        if clean:
            clear_recovery()


def ask_restore(parent, written: float, source) -> bool:
    when = datetime.datetime.fromtimestamp(written).strftime("%Y-%m-%d %H:%M")
    name = source.name if source else "an unsaved network"
    answer = QMessageBox.question(
        parent, "Restore unsaved work?",
        f"Backprop Studio did not close properly. Unsaved changes to {name} from {when} were "
        "kept. Restore them?", QMessageBox.Yes | QMessageBox.No, QMessageBox.Yes)
    return answer == QMessageBox.Yes


def offer_restore(window) -> bool:
    """After a crash: put the recovered work into the window (marked unsaved) if the user agrees."""
    found = read_recovery()
    if found is None:
        return False
    project, source, written = found
    if not ask_restore(window, written, source):
        clear_recovery()
        return False
    return window.files.new_from(project, "Restore unsaved work", source, unsaved=True)


def log_path():
    return data_folder() / "errors.log"


def install_excepthook(window) -> None:
    """Anything uncaught: logged with its traceback, shown in a dialog; the program goes on."""
    def hook(kind, value, tb) -> None:
        text = "".join(traceback.format_exception(kind, value, tb))
        try:
            with open(log_path(), "a", encoding="utf-8") as log:
                log.write(f"--- {datetime.datetime.now().isoformat()}\n{text}\n")
        except OSError:
            pass
        sys.__stderr__.write(text)
        show_error(window, f"Something went wrong: {value}\n\nYour work is still open. The "
                           f"details were written to {log_path()}.")
    sys.excepthook = hook


def show_error(window, message: str) -> None:
    QMessageBox.critical(window, "Backprop Studio", message)
