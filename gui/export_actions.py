"""File > Export weights, Import weights, Export canvas image: the GUI side of core.export."""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QRectF, QSize
from PySide6.QtGui import QImage, QPainter
from PySide6.QtSvg import QSvgGenerator
from PySide6.QtWidgets import QFileDialog, QMessageBox

from core.edits import SetValues, values_of
from core.export import ExportError, export_weights, import_weights

WEIGHT_FILTERS = {"npz": "NumPy archive (*.npz)", "json": "JSON (*.json)",
                  "csv": "CSV tables, one per layer (folder)", "onnx": "ONNX model (*.onnx)",
                  "py": "Standalone Python, NumPy only (*.py)"}


def export_weights_to(window, fmt: str, path: str | Path) -> bool:
    try:
        export_weights(window.project.network, window.project.training.loss, fmt, path)
    except ExportError as exc:
        QMessageBox.critical(window, "Cannot export", str(exc))
        return False
    window.statusBar().showMessage(f"Wrote {path}", 6000)
    return True


def ask_export_weights(window) -> None:
    filters = ";;".join(WEIGHT_FILTERS.values())
    path, chosen = QFileDialog.getSaveFileName(window, "Export weights", "weights.npz", filters)
    if path:
        fmt = next(k for k, v in WEIGHT_FILTERS.items() if v == chosen)
        export_weights_to(window, fmt, path)


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
    """The whole network as PNG (2x resolution) or SVG (vector)."""
    scene = window.scene
    rect = scene.itemsBoundingRect().adjusted(-40, -40, 40, 40)
    path = Path(path)
    if path.suffix.lower() == ".svg":
        # Keep the generator referenced: Python would free it while the painter draws on it.
        generator = _svg(path, rect.width(), rect.height(), window.windowTitle())
        painter = QPainter(generator)
    else:
        image = QImage(int(rect.width() * 2), int(rect.height() * 2), QImage.Format_ARGB32)
        image.fill(0xFFFFFFFF)
        painter = QPainter(image)
        painter.setRenderHint(QPainter.Antialiasing)
    scene.render(painter, QRectF(), rect)
    painter.end()
    if path.suffix.lower() != ".svg":
        image.save(str(path))
    window.statusBar().showMessage(f"Wrote {path}", 6000)


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
        generator = _svg(path, widget.width(), widget.height(), "Backprop Studio")
        painter = QPainter(generator)
        widget.render(painter)
        painter.end()
    else:
        import pyqtgraph.exporters as exporters

        exporter = exporters.ImageExporter(widget.getPlotItem())
        exporter.parameters()["width"] = max(widget.width() * 2, 400)
        exporter.export(str(path))


def ask_export_plots(window) -> None:
    """Every panel's plot as PNG and SVG into a chosen folder."""
    folder = QFileDialog.getExistingDirectory(window, "Export plots to folder")
    if folder:
        names = export_all_plots(window, Path(folder))
        window.statusBar().showMessage(f"Wrote {len(names)} files to {folder}", 6000)


def export_all_plots(window, folder: Path) -> list[str]:
    t = window.training
    plots = {"loss": t.loss_panel.plot, "accuracy": t.loss_panel.accuracy,
             "gradients": t.gradient_panel.plot, "loss_surface": t.surface_panel.plot,
             "data": t.data_panel.plot}
    written = []
    for name, widget in plots.items():
        for suffix in (".png", ".svg"):
            export_plot(widget, folder / f"{name}{suffix}")
            written.append(f"{name}{suffix}")
    return written


def _svg(path: Path, width: float, height: float, title: str) -> QSvgGenerator:
    generator = QSvgGenerator()
    generator.setFileName(str(path))
    generator.setSize(QSize(int(width), int(height)))
    generator.setViewBox(QRectF(0, 0, width, height))
    generator.setTitle(title)
    return generator
