"""File > Export / Import weights and the network picture, through the window."""
import numpy as np
import pytest
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
    names = ("loss", "accuracy", "gradients", "loss_surface", "data", "sharpness",
             "through_time")
    assert sorted(written) == sorted(f"{n}{s}" for n in names for s in (".png", ".svg"))
    for name in names:
        assert QImage(str(tmp_path / f"{name}.png")).width() >= 400
        svg = (tmp_path / f"{name}.svg").read_text()
        assert "<svg" in svg and ("<path" in svg or "<polyline" in svg)


def ink(path) -> int:
    """How many pixels of a picture are not white: a plot with curves has many more."""
    image = QImage(str(path)).convertToFormat(QImage.Format_RGB32)
    import numpy as np

    bits = np.frombuffer(image.constBits(), np.uint8).reshape(image.height(), -1, 4)
    return int((bits[:, : image.width(), :3].min(axis=2) < 200).sum())


def test_exported_plots_of_a_sequence_run_hold_its_curves(window, tmp_path):
    """An Elman net: the Data plot is the chosen sequence's prediction and target (the plot
    of rows was written blank), the Gradients plot behind its tab is drawn before it is
    written (it skips drawing while hidden), and Through time is written too."""
    from core.templates import elman_echo
    from tests.gui.conftest import opened, wait_until

    w = opened(window, elman_echo(), "Elman")
    w.training.docks[0].raise_()  # Loss on top: Data behind its tab
    w.controller.step(30)
    wait_until(lambda: w.controller.latest is not None and w.controller.latest.step >= 30, 20000)
    empty = tmp_path / "empty"
    empty.mkdir()
    blank = QImage(400, 300, QImage.Format_RGB32)
    blank.fill(0xFFFFFF)
    blank.save(str(empty / "blank.png"))
    export_actions.export_all_plots(w, tmp_path)
    export_actions.export_plot(w.training.data_panel.plot, empty / "rows.png")
    assert ink(tmp_path / "data.png") > 1.5 * ink(empty / "rows.png")  # curves, not bare axes
    assert len(w.training.gradient_panel.curves) and \
        len(w.training.gradient_panel.curves[0].getData()[0]) > 0
    assert ink(tmp_path / "through_time.png") > ink(empty / "blank.png")


def type_in_save_dialog(qtbot, name, file_type):
    """Answer the next file dialog as a user does: choose the file type, type the name, Enter."""
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication, QDialogButtonBox, QFileDialog, QLineEdit

    def answer():
        dialog = QApplication.activeModalWidget()
        if not isinstance(dialog, QFileDialog):
            QTimer.singleShot(20, answer)
            return
        dialog.selectNameFilter(file_type)
        dialog.setDirectory(str(name.parent))
        edit = dialog.findChild(QLineEdit, "fileNameEdit")
        edit.clear()
        qtbot.keyClicks(edit, name.name)
        edit.completer().popup().hide()
        # Under the offscreen platform the dialog does not always take up the typed text by
        # itself; selecting the same name is what pressing Save would do with it.
        dialog.selectFile(edit.text())
        dialog.findChild(QDialogButtonBox).button(QDialogButtonBox.Save).click()
    QTimer.singleShot(0, answer)


def test_a_typed_extension_that_contradicts_the_file_type_is_asked_about(xor_window, qtbot,
                                                                          tmp_path, monkeypatch):
    w = xor_window
    asked = []

    def yes(parent, title, text, *a):
        asked.append(text)
        return QMessageBox.Yes
    monkeypatch.setattr(QMessageBox, "question", yes)
    type_in_save_dialog(qtbot, tmp_path / "model.onnx", export_actions.WEIGHT_FILTERS["npz"])
    export_actions.ask_export_weights(w)
    assert len(asked) == 1 and "model.onnx asks for the ONNX model format" in asked[0]
    assert "the chosen file type is NumPy archive" in asked[0]
    x = np.array([[0, 1]], np.float32)
    got = ort.InferenceSession(str(tmp_path / "model.onnx")).run(None, {"x": x})[0]
    plan = compile_plan(w.project.network)
    np.testing.assert_allclose(got, predict(plan, plan.pack(w.project.network), x), atol=1e-6)
    assert w.statusBar().currentMessage() == f"Wrote {tmp_path / 'model.onnx'} (ONNX model)"


@pytest.mark.parametrize("answer", [QMessageBox.Cancel, QMessageBox.Yes])
def test_a_typed_extension_of_no_format_is_asked_about(xor_window, qtbot, tmp_path, monkeypatch,
                                                       answer):
    """echo.csv with the NumPy type chosen: it wrote a zip under that name without a word
    (found by a reviewer); now it asks, and writes only on Yes."""
    asked = []
    monkeypatch.setattr(QMessageBox, "question", lambda p, t, text, *a: asked.append(text)
                        or answer)
    out = tmp_path / "echo.csv"
    type_in_save_dialog(qtbot, out, export_actions.WEIGHT_FILTERS["npz"])
    export_actions.ask_export_weights(xor_window)
    assert len(asked) == 1
    assert "echo.csv has an extension no export format uses" in asked[0]
    assert "Write echo.csv in the NumPy archive format?" in asked[0]
    if answer == QMessageBox.Cancel:
        assert not out.exists()
    else:
        with np.load(out) as archive:  # what was asked for: the NumPy archive
            assert len(archive.files) > 0


def test_cancelling_the_question_writes_nothing(xor_window, qtbot, tmp_path, monkeypatch):
    asked = []
    monkeypatch.setattr(QMessageBox, "question", lambda *a: asked.append(a) or QMessageBox.Cancel)
    out = tmp_path / "out"
    out.mkdir()
    type_in_save_dialog(qtbot, out / "model.py", export_actions.WEIGHT_FILTERS["json"])
    export_actions.ask_export_weights(xor_window)
    assert len(asked) == 1 and list(out.iterdir()) == []


def test_an_agreeing_name_is_written_without_a_question(xor_window, qtbot, tmp_path, monkeypatch):
    import ast

    monkeypatch.setattr(QMessageBox, "question", lambda *a: pytest.fail("asked"))
    type_in_save_dialog(qtbot, tmp_path / "model.py", export_actions.WEIGHT_FILTERS["py"])
    export_actions.ask_export_weights(xor_window)
    ast.parse((tmp_path / "model.py").read_text())
    assert "(standalone Python)" in xor_window.statusBar().currentMessage()


def test_exporting_over_the_open_project_is_refused(xor_window, tmp_path, monkeypatch):
    w = xor_window
    project_file = tmp_path / "xor.json"
    from core.project import save_project
    save_project(w.project, project_file)
    w.files.path = project_file.resolve()
    before = project_file.read_bytes()
    shown = []
    monkeypatch.setattr(QMessageBox, "critical", lambda *a: shown.append(a[2]))
    (tmp_path / "link.json").symlink_to(project_file)
    for target in (project_file, tmp_path / "link.json"):
        assert not export_actions.export_weights_to(w, "json", target)
    export_actions.export_canvas(w, project_file)  # the picture dialog takes any name too
    assert project_file.read_bytes() == before
    assert len(shown) == 3 and all("is the project being exported" in m for m in shown)


def test_the_network_picture_is_well_formed_xml_whatever_the_labels(xor_window, tmp_path):
    import xml.etree.ElementTree as ET

    w = xor_window
    for nid, label in zip(["n1", "n2", "n5"], ["a\x00b\x01<&>\"", "\x0b\ufffe\ud800 =1+1", "é\N{SNOWMAN}"]):
        w.project.network.set_label(nid, label)
    w.setWindowTitle("title \x00\x07 <&>")
    w.scene.update()
    export_actions.export_canvas(w, tmp_path / "net.svg")
    root = ET.parse(tmp_path / "net.svg").getroot()
    text = "".join(root.itertext())
    assert "ab" in text and "<&>" in text and "é\N{SNOWMAN}" in text


def test_the_window_exports_its_data_standardisation_and_classes(window, tmp_path):
    """Wine's inputs are far from centred (proline ~750): the ONNX model and the .py given
    raw rows must give what the window's engine gives on its standardised rows."""
    import json
    import subprocess
    import sys

    import onnx
    from sklearn.datasets import load_wine

    from core.losses import predictions
    from core.templates import wine

    window.files.new_from(wine(), "wine")
    data = window.dataset
    assert data is not None and data.mean is not None and data.mean.max() > 500
    net, loss = window.project.network, window.project.training.loss
    rng = np.random.default_rng(0)
    net.set_values({e: float(rng.normal()) for e in net.edges}, {})
    raw = load_wine().data[:20]
    plan = compile_plan(net)
    want = predictions(loss, predict(plan, plan.pack(net), data.standardize(raw)))
    assert export_actions.export_weights_to(window, "onnx", tmp_path / "w.onnx")
    got = ort.InferenceSession(str(tmp_path / "w.onnx")).run(None, {"x": raw.astype(np.float32)})[0]
    np.testing.assert_allclose(got, want, atol=2e-5)
    props = {p.key: p.value for p in onnx.load(str(tmp_path / "w.onnx")).metadata_props}
    assert json.loads(props["class_names"]) == list(data.class_names)
    assert export_actions.export_weights_to(window, "py", tmp_path / "w.py")
    text = "\n".join(" ".join(repr(float(v)) for v in row) for row in raw)
    proc = subprocess.run([sys.executable, str(tmp_path / "w.py")], input=text,
                          capture_output=True, text=True, timeout=60)
    got = np.array([[float(v) for v in line.split()[:3]] for line in proc.stdout.splitlines()])
    np.testing.assert_allclose(got, want, atol=1e-9, rtol=0)


def test_hostile_labels_and_title_through_every_format_of_the_window(xor_window, tmp_path):
    import ast
    import subprocess
    import sys

    from tests.core.test_export_hostile import HOSTILE

    w = xor_window
    for nid, text in zip(w.project.network.neurons, HOSTILE):
        w.project.network.set_label(nid, text)
    w.project.title = HOSTILE[0]
    name = HOSTILE[0]
    for fmt, suffix in (("npz", ".npz"), ("json", ".json"), ("csv", ""), ("onnx", ".onnx"),
                        ("py", ".py")):
        assert export_actions.export_weights_to(w, fmt, tmp_path / (name + suffix))
    py = tmp_path / (name + ".py")
    ast.parse(py.read_text())
    proc = subprocess.run([sys.executable, str(py), "0", "1"], capture_output=True, text=True,
                          cwd=tmp_path, timeout=60)
    assert proc.returncode == 0 and not (tmp_path / "PWNED").exists()
    ort.InferenceSession(str(tmp_path / (name + ".onnx")))


def test_without_its_data_a_standardised_project_is_not_exported(xor_window, tmp_path,
                                                                 monkeypatch):
    from dataclasses import replace

    w = xor_window
    w.project.data = replace(w.project.data, standardize=True)
    w.training.live.data = None  # as when the data could not be loaded
    shown = []
    monkeypatch.setattr(QMessageBox, "critical", lambda *a: shown.append(a[2]))
    assert not export_actions.export_weights_to(w, "onnx", tmp_path / "w.onnx")
    assert "could not be loaded" in shown[0] and not (tmp_path / "w.onnx").exists()


def test_a_recurrent_project_exports_through_the_dialog_and_predicts_every_step(
        window, qtbot, tmp_path, monkeypatch):
    """An Elman net on standardised noisy-sine sequences: File > Export weights as ONNX gives
    a model that, fed the raw sequences, predicts at every step what the window's engine
    predicts; its npz comes back in, and onto other delays is refused in one line."""
    from dataclasses import replace

    from core.data.dataset import make_dataset
    from core.edits import SetValue
    from core.project import Project
    from core.settings import DataSettings
    from tests.core.test_export_recurrent import elman, engine

    settings = DataSettings(generator="sine_next", samples=10, sequence_length=12,
                            standardize=True, seed=2, noise=0.05)
    window.files.new_from(Project(elman(seed=7), data=settings), "echo")
    data = window.dataset
    assert data is not None and data.is_sequence and data.mean is not None
    asked = []  # (the close at the end asks about the unsaved edits: Discard)
    monkeypatch.setattr(QMessageBox, "question", lambda *a: asked.append(a) or QMessageBox.Discard)
    type_in_save_dialog(qtbot, tmp_path / "rnn.onnx", export_actions.WEIGHT_FILTERS["onnx"])
    export_actions.ask_export_weights(window)
    assert asked == []  # the name agrees with the file type
    assert window.statusBar().currentMessage() == f"Wrote {tmp_path / 'rnn.onnx'} (ONNX model)"
    raw = make_dataset(replace(settings, standardize=False))
    got = ort.InferenceSession(str(tmp_path / "rnn.onnx")).run(
        None, {"x": raw.x_train.astype(np.float32)})[0]
    net = window.project.network
    np.testing.assert_allclose(got, engine(net, "mse", data.x_train), atol=2e-5, rtol=1e-5)

    assert export_actions.export_weights_to(window, "npz", tmp_path / "w.npz")
    loop = next(e for e in net.edges.values() if e.delay and e.source == e.target)
    original = net.copy()
    window.scene.push(SetValue("weight", loop.id, loop.weight, 5.0))
    assert export_actions.import_weights_from(window, tmp_path / "w.npz")
    assert net.same_as(original)
    across = next(e for e in net.edges.values() if e.delay and e.source != e.target
                  and net.neurons[e.source].role == "hidden")
    window.scene.push(SetValue("delay", across.id, 1, 0))
    shown = []
    monkeypatch.setattr(QMessageBox, "critical", lambda *a: shown.append(a[2]))
    assert not export_actions.import_weights_from(window, tmp_path / "w.npz")
    assert len(shown) == 1 and "\n" not in shown[0] and across.id in shown[0]
    assert "has no delay in the network but has a delay of 1 step in the file" in shown[0]
