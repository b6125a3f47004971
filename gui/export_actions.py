"""File > Export weights, Import weights, Export canvas image: the GUI side of core.export."""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QBuffer, QIODevice, QRectF, QSize
from PySide6.QtGui import QImage, QPainter
from PySide6.QtSvg import QSvgGenerator
from PySide6.QtWidgets import QFileDialog, QMessageBox

from core.files import write_atomically
from core.edits import SetValues, values_of
from core.export.formats import (ExportError, Preprocessing, check_output, choose_format,
                         export_weights, import_weights)
from core.safe_text import xml_text

WEIGHT_FILTERS = {"npz": "NumPy archive (*.npz)", "json": "JSON (*.json)",
                  "csv": "CSV tables, one per layer (folder)", "onnx": "ONNX model (*.onnx)",
                  "py": "Standalone Python, NumPy only (*.py)"}
FORMAT_WORDS = {"npz": "NumPy archive", "json": "JSON", "csv": "CSV tables",
                "onnx": "ONNX model", "py": "standalone Python"}


def export_weights_to(window, fmt: str, path: str | Path) -> bool:
    """Write the open network with its data's standardisation and class names. The file
    dialog has asked about overwriting; only the open project itself is refused."""
    project = window.project
    try:
        check_output(path, fmt, source=window.files.path, other_kinds=True)
        prep = _preprocessing(window)
        written = export_weights(project.network, project.training.loss, fmt, path, prep,
                                 project.title)
    except ExportError as exc:
        QMessageBox.critical(window, "Cannot export", str(exc))
        return False
    window.statusBar().showMessage(f"Wrote {written} ({FORMAT_WORDS[fmt]})", 6000)
    return True


def _preprocessing(window) -> Preprocessing:
    if window.dataset is not None:
        return Preprocessing.from_dataset(window.dataset)
    if window.project.data.standardize:  # without the data its standardisation is unknown
        raise ExportError("the project's data could not be loaded, so the export would lack "
                          "its input standardisation; fix the data first")
    return Preprocessing()


def chosen_export(window, path: str, chosen: str) -> tuple[str, str] | None:
    """(format, path) for a name typed with a file type chosen: the extension decides, and
    when it contradicts the chosen type the user is asked; None when cancelled."""
    try:
        choice = choose_format(path, chosen)
    except ExportError as exc:
        QMessageBox.critical(window, "Cannot export", str(exc))
        return None
    if choice.conflict or choice.unusual:
        # A typed echo.csv with the NumPy type left chosen wrote a zip under that name.
        name = Path(path).name
        asks = f"The name {name} asks for the {FORMAT_WORDS[choice.fmt]} format, but the " \
            f"chosen file type is {FORMAT_WORDS[chosen]}." if choice.conflict else \
            f"The name {name} has an extension no export format uses."
        answer = QMessageBox.question(
            window, "Export weights",
            f"{asks}\n\nWrite {name} in the {FORMAT_WORDS[choice.fmt]} format?",
            QMessageBox.Yes | QMessageBox.Cancel, QMessageBox.Yes)
        if answer != QMessageBox.Yes:
            return None
    # A name without an extension is written as typed (the dialog asked about that name).
    return choice.fmt, path


def ask_export_weights(window) -> None:
    filters = ";;".join(WEIGHT_FILTERS.values())
    path, chosen = QFileDialog.getSaveFileName(window, "Export weights", "weights.npz", filters)
    if path:
        fmt = next(k for k, v in WEIGHT_FILTERS.items() if v == chosen)
        decided = chosen_export(window, path, fmt)
        if decided is not None:
            export_weights_to(window, *decided)


def import_weights_from(window, path: str | Path) -> bool:
    """Weights from an .npz or JSON export into the open network: one undoable edit."""
    net = window.project.network
    try:
        weights, biases = import_weights(net, path)
    except ExportError as exc:
        QMessageBox.critical(window, "Cannot import weights", str(exc))
        return False
    before = values_of(net)
    window.scene.push(SetValues(before, (weights, {**before[1], **biases}),
                                f"Import weights from {Path(path).name}"))
    return True


def ask_import_weights(window) -> None:
    path, _ = QFileDialog.getOpenFileName(window, "Import weights", "",
                                          "Weights (*.npz *.json);;All files (*)")
    if path:
        import_weights_from(window, path)


def export_canvas(window, path: str | Path) -> None:
    """The whole network as PNG (2x resolution) or SVG (vector), written atomically."""
    scene = window.scene
    rect = scene.itemsBoundingRect().adjusted(-40, -40, 40, 40)
    path = Path(path)
    try:
        check_output(path, "picture", source=window.files.path, other_kinds=True)
    except ExportError as exc:
        QMessageBox.critical(window, "Cannot export", str(exc))
        return
    try:
        with scene.uncached():  # cached items would go into the file as pixmaps, not text
            _write_canvas(path, scene, rect, window.windowTitle())
    except OSError as exc:
        QMessageBox.critical(window, "Cannot export",
                             f"{path}: {exc.strerror or 'cannot be written'}")
        return
    window.statusBar().showMessage(f"Wrote {path}", 6000)


def _write_canvas(path: Path, scene, rect: QRectF, title: str) -> None:
    if path.suffix.lower() == ".svg":
        _write_svg(path, rect.width(), rect.height(), title,
                   lambda painter: scene.render(painter, QRectF(), rect))
    else:
        image = QImage(int(rect.width() * 2), int(rect.height() * 2), QImage.Format_ARGB32)
        image.fill(0xFFFFFFFF)
        painter = QPainter(image)
        painter.setRenderHint(QPainter.Antialiasing)
        scene.render(painter, QRectF(), rect)
        painter.end()
        _write_image(path, image)


def ask_export_canvas(window) -> None:
    path, _ = QFileDialog.getSaveFileName(window, "Export network picture", "network.png",
                                          "PNG image (*.png);;SVG vector image (*.svg)")
    if path:
        export_canvas(window, path)


def export_plot(widget, path: str | Path) -> None:
    """One plot as PNG (pyqtgraph's ImageExporter) or SVG. For SVG the widget is rendered
    through QSvgGenerator: pyqtgraph 0.14's SVGExporter fails on every plot with Qt 6.11."""
    path = Path(path)
    if path.suffix.lower() == ".svg":
        _write_svg(path, widget.width(), widget.height(), "Backprop Studio", widget.render)
    else:
        import pyqtgraph.exporters as exporters

        exporter = exporters.ImageExporter(widget.getPlotItem())
        exporter.parameters()["width"] = max(widget.width() * 2, 400)
        _write_image(path, exporter.export(toBytes=True))


def ask_export_plots(window) -> None:
    """Every panel's plot as PNG and SVG into a chosen folder."""
    folder = QFileDialog.getExistingDirectory(window, "Export plots to folder")
    if folder:
        names = export_all_plots(window, Path(folder))
        window.statusBar().showMessage(f"Wrote {len(names)} files to {folder}", 6000)


def export_all_plots(window, folder: Path) -> list[str]:
    """Every panel's plot, each drawn up to date first: a panel behind a tab skips drawing
    while training runs (its export was empty or old), and on sequence data the Data panel
    shows the chosen sequence, not the plot of rows (which was written blank)."""
    t = window.training
    panels = (t.loss_panel, t.gradient_panel, t.surface_panel, t.data_panel, t.sharpness_panel,
              t.through_time_panel)
    for panel in panels:
        panel.catch_up()
    plots = {"loss": t.loss_panel.plot, "accuracy": t.loss_panel.accuracy,
             "gradients": t.gradient_panel.plot, "loss_surface": t.surface_panel.plot,
             "data": t.data_panel.shown_plot, "sharpness": t.sharpness_panel.plot,
             "through_time": t.through_time_panel.plot}
    written = []
    for name, widget in plots.items():
        for suffix in (".png", ".svg"):
            export_plot(widget, folder / f"{name}{suffix}")
            written.append(f"{name}{suffix}")
    return written


def _write_svg(path: Path, width: float, height: float, title: str, render) -> None:
    """Render into memory, drop the characters XML 1.0 forbids (Qt escapes <&>" but writes
    a label's NUL or control characters as they are, which no XML reader accepts), then
    write atomically."""
    buffer = QBuffer()
    buffer.open(QIODevice.WriteOnly)
    # Keep the generator referenced: Python would free it while the painter draws on it.
    generator = QSvgGenerator()
    generator.setOutputDevice(buffer)
    generator.setSize(QSize(int(width), int(height)))
    generator.setViewBox(QRectF(0, 0, width, height))
    generator.setTitle(xml_text(title))
    painter = QPainter(generator)
    render(painter)
    painter.end()
    text = bytes(buffer.data()).decode("utf-8", "replace")
    write_atomically(path, xml_text(text).encode("utf-8"))


def _write_image(path: Path, image: QImage) -> None:
    buffer = QBuffer()
    buffer.open(QIODevice.WriteOnly)
    fmt = path.suffix.lstrip(".").upper() or "PNG"
    if not image.save(buffer, fmt if fmt in ("PNG", "JPG", "JPEG", "BMP") else "PNG"):
        raise OSError(0, "the image could not be encoded")
    write_atomically(path, bytes(buffer.data()))
