"""Autosave every 30 s while there are unsaved changes, and whenever training pauses; offer
to restore after a crash; an error dialog and a log for anything uncaught."""
from __future__ import annotations

import datetime
import os
import sys
import threading
import traceback

from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtWidgets import QMessageBox

from core.project import json_slices
from core.recovery import clear_recovery, data_folder, read_recovery, write_recovery_json
from gui.slices import Slices

AUTOSAVE_SECONDS = float(os.environ.get("BACKPROP_STUDIO_AUTOSAVE_SECONDS", 30))


class Autosaver(QObject):
    """Writes the project aside without stopping the window: the JSON is made a slice at a
    time between other events from the project as it was when the autosave began (a 51k-edge
    net written at once stopped the window for 0.8-2 s), then a thread writes the file (the
    disk's time is not the window's)."""

    written = Signal(str)  # a write finished: "" or why it failed (from the writing thread)

    def __init__(self, window) -> None:
        super().__init__(window)
        self.window = window
        self.timer = QTimer(self, interval=int(AUTOSAVE_SECONDS * 1000))
        self.timer.timeout.connect(self.autosave)
        self.timer.start()
        self._slices = Slices(self)
        self._writer: threading.Thread | None = None
        self._again = False  # asked while a write was on its way: write again after it
        self.written.connect(self._on_written)
        window.undo_stack.cleanChanged.connect(self._on_clean_changed)
        # A finished stretch of training (a pause, or Step) is worth keeping too.
        window.controller.trained.connect(lambda *args: self.autosave())

    @property
    def busy(self) -> bool:
        return self._slices.running or (self._writer is not None and self._writer.is_alive())

    def autosave(self) -> None:
        if not self.window.files.unsaved():
            return
        if self.busy:
            self._again = True
            return
        self._again = False
        self._slices.start(self._make(json_slices(self.window.project), self.window.files.path))

    def _make(self, pieces, source):
        text = []
        for piece in pieces:
            text.append(piece)
            yield
        self._writer = threading.Thread(target=self._write, args=("".join(text), source),
                                        name="autosave", daemon=True)
        self._writer.start()

    def _write(self, text: str, source) -> None:
        try:
            write_recovery_json(text, source)
            self.written.emit("")
        except OSError as exc:  # a full disk must not interrupt the user's work
            self.written.emit(str(exc))

    def _on_written(self, problem: str) -> None:
        if problem:
            self.window.statusBar().showMessage(f"Autosave failed: {problem}", 8000)
        if self._again:
            self.autosave()

    def stop(self) -> None:
        """No autosave from now on, and none left half-way (before the recovery file is
        cleared: a write finishing after that would offer to restore saved work)."""
        self.timer.stop()
        self._again = False
        self._slices.cancel()
        if self._writer is not None:
            self._writer.join()

    def _on_clean_changed(self, clean: bool) -> None:
        if clean:
            self._again = False
            self._slices.cancel()
            if self._writer is not None:
                self._writer.join()  # (the file's write: milliseconds)
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
