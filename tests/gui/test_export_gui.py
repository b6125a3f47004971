"""File > Export / Import weights and the network picture, through the window."""
import numpy as np
import onnxruntime as ort
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QMessageBox

from core.edits import SetValue
from core.engine import compile_plan, predict
from gui import export_actions


def test_export_every_format_and_the_onnx_model_runs(xor_window, tmp_path):
    w = xor_window
    for fmt in ("npz", "json", "csv", "onnx", "py"):
        assert export_actions.export_weights_to(w, fmt, tmp_path / f"w.{fmt}")
    net = w.project.network
    plan = compile_plan(net)
    x = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], np.float32)
    got = ort.InferenceSession(str(tmp_path / "w.onnx")).run(None, {"x": x})[0]
    np.testing.assert_allclose(got, predict(plan, plan.pack(net), x), atol=1e-6)


def test_import_weights_is_one_undoable_edit_and_a_mismatch_is_refused(xor_window, tmp_path,
                                                                        monkeypatch):
    w = xor_window
    net = w.project.network
    export_actions.export_weights_to(w, "json", tmp_path / "w.json")
    original = net.copy()
    w.scene.push(SetValue("weight", "e1", net.edges["e1"].weight, 9.0))
    assert export_actions.import_weights_from(w, tmp_path / "w.json")
    assert net.same_as(original)
    w.undo_stack.undo()
    assert net.edges["e1"].weight == 9.0
    shown = []
    monkeypatch.setattr(QMessageBox, "critical", lambda *a: shown.append(a[2]))
    w.scene.connect_neurons("n1", "n5")
    assert not export_actions.import_weights_from(w, tmp_path / "w.json")
    assert "has no weight for edge" in shown[0]


def test_network_picture_as_png_and_svg(xor_window, tmp_path):
    w = xor_window
    export_actions.export_canvas(w, tmp_path / "net.png")
    image = QImage(str(tmp_path / "net.png"))
    assert image.width() > 400 and image.height() > 200
    export_actions.export_canvas(w, tmp_path / "net.svg")
    text = (tmp_path / "net.svg").read_text()
    assert text.startswith("<?xml") and "<svg" in text and "path" in text


def test_every_plot_exports_as_png_and_svg(xor_window, qtbot, tmp_path):
    from tests.gui.conftest import wait_until

    w = xor_window
    w.controller.step(20)
    wait_until(lambda: w.controller.latest is not None and w.controller.latest.step >= 20, 10000)
    written = export_actions.export_all_plots(w, tmp_path)
    assert len(written) == 10
    for name in ("loss", "accuracy", "gradients", "loss_surface", "data"):
        assert QImage(str(tmp_path / f"{name}.png")).width() >= 400
        svg = (tmp_path / f"{name}.svg").read_text()
        assert "<svg" in svg and ("<path" in svg or "<polyline" in svg)
