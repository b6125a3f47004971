"""Starting the window: `python main.py [FILE]`."""
from __future__ import annotations

import sys
from pathlib import Path

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication

from gui import long_lived

EXAMPLE = Path(__file__).resolve().parents[1] / "assets" / "examples" / "xor.json"


def create_window(path: str | None = None):
    """The main window with FILE, or the XOR example when no file is given."""
    from gui.main_window import MainWindow

    window = MainWindow()
    target = Path(path) if path else (EXAMPLE if EXAMPLE.exists() else None)
    if target is not None:
        window.files.load(target, remember=path is not None)
        if path is None:  # the example is a starting point, not a file to overwrite
            window.files.path = None
            window.files.update_title()
    window.view.fit()
    return window


def run_gui(path: str | None = None) -> int:
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("Backprop Studio")
    app.setOrganizationName("Backprop Studio")
    window = create_window(path)
    from gui.recovery import install_excepthook, offer_restore

    install_excepthook(window)
    window.show()
    long_lived.document_settled()  # start-up's objects live as long as the window
    offer_restore(window)
    QTimer.singleShot(0, window.view.fit)  # after the docks have taken their space
    return app.exec()
