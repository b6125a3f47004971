"""Nothing lost: autosave survives SIGKILL and is restored at the next start; anything uncaught
goes to a dialog and a log while the program keeps running; hostile weight files are refused."""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PySide6.QtCore import QTimer

from core.export.formats import ExportError, export_weights, import_weights
from core.templates import xor
from tests.gui.conftest import wait_until

ROOT = Path(__file__).resolve().parents[2]
DRIVER = """
import json, sys
sys.path.insert(0, {root!r})
from PySide6.QtWidgets import QApplication
app = QApplication([])
import gui.recovery as recovery
recovery.ask_restore = lambda *a: True   # the user answers Yes to "Restore unsaved work?"
from gui.app import create_window
window = create_window(None)
restored = recovery.offer_restore(window)
net = window.project.network
if sys.argv[1] == "edit":
    window.scene.connect_neurons("n1", "n5")
    from core.edits import SetValue
    window.scene.push(SetValue("weight", "e1", net.edges["e1"].weight, 4.25))
    print("edited", flush=True)
    app.exec()
else:
    print(json.dumps({{"restored": restored, "skip": net.find_edge("n1", "n5") is not None,
                      "e1": net.edges["e1"].weight, "title": window.windowTitle()}}))
    window.undo_stack.setClean()
    window.close()
"""


def start(mode, env):
    return subprocess.Popen([sys.executable, "-c", DRIVER.format(root=str(ROOT)), mode],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def test_edits_come_back_after_sigkill(tmp_path):
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "BACKPROP_STUDIO_DATA": str(tmp_path),
           "BACKPROP_STUDIO_AUTOSAVE_SECONDS": "0.3", "XDG_CONFIG_HOME": str(tmp_path / "cfg")}
    first = start("edit", env)
    try:
        assert first.stdout.readline().strip() == "edited"
        deadline = time.monotonic() + 20
        while not (tmp_path / "recovery.json").exists():
            assert time.monotonic() < deadline, "no autosave within 20 s"
            time.sleep(0.1)
        time.sleep(0.3)
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait(10)
    assert first.returncode == -signal.SIGKILL
    second = start("check", env)
    out, err = second.communicate(timeout=60)
    assert second.returncode == 0, err
    state = json.loads(out.strip().splitlines()[-1])
    assert state == {"restored": True, "skip": True, "e1": 4.25,
                     "title": "XOR 2-2-1* — Backprop Studio"}  # the example restored, unsaved


def test_autosave_writes_when_training_pauses_and_a_save_clears_it(window, qtbot, tmp_path):
    from core.recovery import read_recovery

    w = window
    w.files.new_from(xor(), "XOR")
    w.controller.step(5)
    wait_until(lambda: read_recovery() is not None, 10000)
    w.files._write(tmp_path / "saved.json")
    assert read_recovery() is None


@pytest.mark.qt_no_exception_capture
def test_an_uncaught_exception_shows_a_dialog_writes_the_log_and_the_program_goes_on(window, qtbot,
                                                                                     monkeypatch):
    from gui import recovery

    shown = []
    monkeypatch.setattr(recovery, "show_error", lambda win, text: shown.append(text))
    monkeypatch.setattr(sys, "excepthook", sys.excepthook)  # restored after the test
    recovery.install_excepthook(window)

    def broken():
        raise ZeroDivisionError("the slot divided by zero")

    QTimer.singleShot(0, broken)
    wait_until(lambda: shown, 20000)
    assert "the slot divided by zero" in shown[0]
    assert "ZeroDivisionError" in recovery.log_path().read_text()
    # the window is still alive and usable
    window.files.new_from(xor(), "XOR")
    assert len(window.project.network.neurons) == 5


@settings(max_examples=60, deadline=None)
@given(st.binary(max_size=600), st.sampled_from([".npz", ".json"]))
def test_hostile_weight_files_load_or_give_a_clear_error(tmp_path_factory, content, suffix):
    net = xor().network
    folder = tmp_path_factory.mktemp("w")
    path = folder / f"w{suffix}"
    if content[:1] == b"\x00":  # half the time: a valid file, then damaged
        export_weights(net, "mse", suffix[1:], path)
        raw = bytearray(path.read_bytes())
        for i, b in enumerate(content[1:40]):
            raw[(i * 7919) % len(raw)] = b
        path.write_bytes(bytes(raw))
    else:
        path.write_bytes(content)
    start_time = time.perf_counter()
    try:
        weights, biases = import_weights(net, path)
        assert all(np.isfinite(list(weights.values())))
    except ExportError:
        pass
    assert time.perf_counter() - start_time < 2
