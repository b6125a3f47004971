"""The canvas's maps view: every neuron, inputs included, shows its own output over the input
plane of two-input data inside it, with one shared colour scale (a legend on the canvas).

All maps come from one forward pass over the grid (core.neuron_maps), redone whenever the
weights change (each training frame, an edit, an undo) and only while the view is on."""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import QObject, QPointF, QRectF, Qt, QTimer
from PySide6.QtGui import QAction, QColor, QFont, QImage, QLinearGradient, QPainter, QPen
from PySide6.QtWidgets import QWidget

from core.network import NetworkError
from core.neuron_maps import NeuronMaps, PlaneGrid, neuron_maps, plane_grid
from core.training.live_state import LiveState
from gui import theme
from gui.map_colours import (BINARY_LUT, PALETTE, SIGNED_LUT, map_image, probability_lut,
                             signed_colours)

RESOLUTION = 40  # grid points a side: a neuron is 58 px across


class NeuronMapsView(QObject):
    def __init__(self, live: LiveState, scene, view, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.live, self.scene = live, scene
        self.action = QAction("Neuron maps", self, checkable=True)
        self.action.toggled.connect(self._on_toggled)
        self.legend = MapLegend(view)
        self.legend.move(8, 8)
        self.legend.hide()
        self.latest: NeuronMaps | None = None  # what the neurons show now
        self._grid: tuple[object, PlaneGrid] | None = None  # (dataset, its grid)
        self._timer = QTimer(self, singleShot=True, interval=0)  # one refresh per burst
        self._timer.timeout.connect(self.refresh)
        live.network.changed.connect(self._on_network_changed)
        self.data_changed()

    @property
    def shown(self) -> bool:
        return self.action.isChecked()

    def unavailable(self) -> str | None:
        """Why the view cannot be turned on for the current data, or None."""
        data = self.live.data
        if data is None:
            return "Neuron maps need data: this project has none it can use."
        if data.n_inputs != 2:
            return (f"Neuron maps draw each neuron's output over a plane of two inputs; this "
                    f"data has {data.n_inputs} inputs.")
        return None

    def data_changed(self) -> None:
        """Other data or another document: the toggle says whether it can be used."""
        reason = self.unavailable()
        self.action.setEnabled(reason is None)
        self.action.setToolTip(reason or "Show each neuron's output over the input plane "
                               "inside it (inputs included), with one shared colour scale")
        if reason is not None and self.shown:
            self.action.setChecked(False)
        self.schedule()

    def schedule(self) -> None:
        if self.shown:
            self._timer.start()

    def _on_network_changed(self, change) -> None:
        if self.shown and change.kind != "neuron_moved":  # any value, structure, a document
            self._timer.start()

    def _on_toggled(self, on: bool) -> None:
        self.scene.set_maps_shown(on)
        self.legend.setVisible(on)
        self.latest = None
        if on:
            self.refresh()
        else:
            self._timer.stop()

    def refresh(self) -> None:
        """Compute every map (one forward pass) and hand the images to the canvas."""
        if not self.shown:
            return
        try:
            maps = self._compute()
        except (NetworkError, ValueError) as exc:
            self.latest = None
            self.scene.set_neuron_maps({})
            self.legend.show_problem(str(exc))
            return
        self.latest = maps
        classes = self.live.data.task == "classification"
        self.scene.set_neuron_maps(images(maps, classes))
        self.legend.show_scale(maps.scale, classes, self.live.data.class_names or [],
                               len(maps.output_ids))

    def _compute(self) -> NeuronMaps:
        data = self.live.data
        plan = self.live.plan
        if plan.n_inputs != 2:
            raise ValueError(f"the network has {plan.n_inputs} inputs and the data 2")
        if self._grid is None or self._grid[0] is not data:
            self._grid = (data, plane_grid(data, RESOLUTION))
        return neuron_maps(plan, self.live.params(), data, RESOLUTION, self.live.loss,
                           self._grid[1])


def images(maps: NeuronMaps, classes: bool) -> dict[str, QImage]:
    """One image per neuron: the shared signed scale, or for the outputs of classification
    data the data panel's class colours."""
    s = maps.scale
    out = {nid: map_image(m, SIGNED_LUT, -s, s) for nid, m in zip(maps.order, maps.maps)}
    if classes:
        n = len(maps.output_ids)
        for k, (nid, p) in enumerate(zip(maps.output_ids, maps.predicted)):
            out[nid] = map_image(p, BINARY_LUT if n == 1 else probability_lut(k), 0.0, 1.0)
    return out


class MapLegend(QWidget):
    """The shared colour scale, labelled, in the canvas's corner."""

    WIDTH = 214

    def __init__(self, parent: QWidget) -> None:
        super().__init__(parent)
        self.setAttribute(Qt.WA_TransparentForMouseEvents)
        self.scale, self.classes, self.names, self.outputs = 1.0, False, [], 1
        self.problem: str | None = None
        self.resize(self.WIDTH, 60)

    def show_scale(self, scale: float, classes: bool, names: list[str], outputs: int) -> None:
        state = (scale, classes, names, outputs, None)
        if state != (self.scale, self.classes, self.names, self.outputs, self.problem):
            self.scale, self.classes, self.names, self.outputs, self.problem = state
            self.resize(self.WIDTH, 84 if classes else 50)
            self.update()

    def show_problem(self, text: str) -> None:
        self.problem = f"No neuron maps: {text}"
        self.resize(self.WIDTH, 50)
        self.update()

    def paintEvent(self, event) -> None:
        p = QPainter(self)
        p.setRenderHint(QPainter.Antialiasing)
        p.setPen(QPen(QColor("#c9ced8"), 1))
        p.setBrush(QColor(255, 255, 255, 235))
        p.drawRoundedRect(QRectF(0.5, 0.5, self.width() - 1, self.height() - 1), 6, 6)
        font = QFont(self.font())
        font.setPointSizeF(8)
        p.setFont(font)
        p.setPen(theme.TEXT)
        w = self.width() - 16
        if self.problem:
            p.drawText(QRectF(8, 4, w, self.height() - 8), Qt.TextWordWrap | Qt.AlignVCenter,
                       self.problem)
            p.end()
            return
        title = "Neuron output (hidden and inputs)" if self.classes else "Neuron output"
        _bar(p, QRectF(8, 6, w, 14), title, _gradient_stops(), (
            f"{-self.scale:.2g}", "0", f"+{self.scale:.2g}"))
        if self.classes:
            if self.outputs == 1:
                names = (self.names + ["0", "1"])[:2]
                _bar(p, QRectF(8, 42, w, 14), "Output: predicted class", [
                    (t, QColor(*BINARY_LUT[round(t * 255)])) for t in np.linspace(0, 1, 9)],
                     (names[0], "unsure", names[1]))
            else:
                _swatches(p, QRectF(8, 42, w, 36), self.names, self.outputs)
        p.end()


def _gradient_stops() -> list[tuple[float, QColor]]:
    return [(t, QColor(*signed_colours(np.array([2 * t - 1]))[0]))
            for t in np.linspace(0, 1, 9)]


def _bar(p: QPainter, rect: QRectF, title: str, stops, labels: tuple[str, str, str]) -> None:
    """A titled colour bar with its two ends and middle labelled under it."""
    p.setPen(theme.TEXT)
    p.drawText(QRectF(rect.left(), rect.top(), rect.width(), 14), Qt.AlignLeft, title)
    bar = QRectF(rect.left(), rect.top() + 15, rect.width(), 8)
    gradient = QLinearGradient(bar.topLeft(), bar.topRight())
    for t, colour in stops:
        gradient.setColorAt(float(t), colour)
    p.fillRect(bar, gradient)
    p.setPen(theme.MUTED_TEXT)
    under = QRectF(rect.left(), bar.bottom() + 1, rect.width(), 13)
    for text, align in zip(labels, (Qt.AlignLeft, Qt.AlignHCenter, Qt.AlignRight)):
        p.drawText(under, align, text)


def _swatches(p: QPainter, rect: QRectF, names: list[str], n: int) -> None:
    """Several outputs: each one's colour (white at p = 0 towards it at p = 1) and class."""
    p.setPen(theme.TEXT)
    p.drawText(QRectF(rect.left(), rect.top(), rect.width(), 14), Qt.AlignLeft,
               "Outputs: probability of their class")
    x, y = rect.left(), rect.top() + 17
    for k in range(n):
        name = names[k] if k < len(names) else str(k)
        p.setBrush(QColor(*PALETTE[k % len(PALETTE)].astype(int)))
        p.setPen(Qt.NoPen)
        p.drawRect(QRectF(x, y + 2, 9, 9))
        p.setPen(theme.MUTED_TEXT)
        text_w = p.fontMetrics().horizontalAdvance(name) + 8
        p.drawText(QPointF(x + 12, y + 10), name)
        x += 12 + text_w
        if x > rect.right() - 30:
            break
