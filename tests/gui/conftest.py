import os

# The window's tests hold its training numbers to Trainer.step bit for bit over thousands of
# steps. The compiled path sums in another order (1e-16 apart), and Adam late in a run
# amplifies any such difference (one ulp on one weight grows to 0.5 in 5,000 steps on the
# 2-8-8-1 circles example), so here the training process uses the NumPy path. Set before the
# forkserver that starts training processes exists (the first window test), which inherits
# it; set for the window's tests only, so the core tests in the same run keep the compiled
# path. tests/core/test_compiled.py holds the compiled path, and the loop's blocks, to NumPy.
import pytest
from PySide6.QtWidgets import QMessageBox

from core.templates import xor
from gui.main_window import MainWindow


@pytest.fixture
def window(qtbot, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))  # recent files stay here
    # Qt reads XDG_CONFIG_HOME once per process: point its settings (recent files, the dock
    # layout) at this test's folder explicitly, so no test inherits another's layout.
    from PySide6.QtCore import QSettings

    QSettings.setPath(QSettings.NativeFormat, QSettings.UserScope, str(tmp_path / "config"))
    monkeypatch.setenv("BACKPROP_STUDIO_DATA", str(tmp_path / "data"))  # recovery, error log
    # pytest-qt closes the window before fixtures are torn down: answer "Discard" to the
    # unsaved-changes question then (the test of that question installs its own answers).
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.Discard)
    w = MainWindow()
    qtbot.addWidget(w)
    w.show()
    qtbot.waitExposed(w)
    return w


def opened(window, project, title: str):
    """The window holding `project` as a fresh document: nothing to undo, nothing unsaved,
    the net in view."""
    window.files.new_from(project, title)
    window.undo_stack.clear()
    window.undo_stack.setClean()
    window.view.fit()
    return window


@pytest.fixture
def xor_window(window):
    return opened(window, xor(), "XOR")


def wait_until(condition, timeout_ms: int = 10000) -> None:
    """Run a real event loop until condition() holds. qtbot.waitUntil sleeps in QTest.qWait,
    which keeps the GIL and so starves the window's background threads (the loss-surface
    grid); this lets them run."""
    import time

    from PySide6.QtCore import QEventLoop, QTimer

    deadline = time.monotonic() + timeout_ms / 1000
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"condition not met within {timeout_ms} ms")
        loop = QEventLoop()
        QTimer.singleShot(10, loop.quit)
        loop.exec()


@pytest.fixture(scope="session", autouse=True)
def numpy_training_path():
    old = os.environ.get("BACKPROP_ENGINE")
    os.environ["BACKPROP_ENGINE"] = "numpy"
    yield
    if old is None:
        del os.environ["BACKPROP_ENGINE"]
    else:
        os.environ["BACKPROP_ENGINE"] = old
