"""The canvas's maps view: every neuron, inputs included, shows its own output over the input
plane of two-input data inside it, with one shared colour scale (a legend on the canvas).

All maps come from one forward pass over the grid (core.neuron_maps), redone whenever the
weights change (each training frame, an edit, an undo) and only while the view is on. On
sequence data a point is the input held there for the sequences' length, each map the
neuron's output at the last step; the legend says so under its scale."""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import QEvent, QObject, QPointF, QRect, QRectF, Qt, QTimer
from PySide6.QtGui import (QAction, QColor, QFont, QFontMetrics, QImage, QLinearGradient,
                           QPainter, QPen)
from PySide6.QtWidgets import QWidget

from core.network import NetworkError
from core.neuron_maps import NeuronMaps, PlaneGrid, held_steps, neuron_maps, plane_grid
from core.training.live_state import LiveState
from core.training.trainer import data_mismatch
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
                               "inside it (inputs included), with one shared colour scale" +
                               ("" if held_steps(self.live.data) is None else
                                f"; {held_note(held_steps(self.live.data))}"))
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
                               len(maps.output_ids),
                               "" if maps.steps is None else held_note(maps.steps))

    def _compute(self) -> NeuronMaps:
        data = self.live.data
        plan = self.live.plan
        problem = data_mismatch(plan, data)  # inputs may be features of the two columns
        if problem:
            raise ValueError(problem)
        if self._grid is None or self._grid[0] is not data:
            self._grid = (data, plane_grid(data, RESOLUTION))
        return neuron_maps(plan, self.live.params(), data, RESOLUTION, self.live.loss,
                           self._grid[1])


def held_note(steps: int) -> str:
    """What a map of a recurrent net shows (core.neuron_maps), in the legend's words."""
    return (f"Sequences: each point is the input held there for {steps:,} steps from state 0; "
            f"each map is the neuron's output at step {steps:,}, the last.")


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
    """The shared colour scale, labelled, in the canvas's lower left corner (a net fitted in
    the view is centred, so that corner is the one most often empty)."""

    WIDTH, ROW = 206, 17
    NOTE_WIDTH = 260  # wider with a note: three lines of it, not five

    def __init__(self, view: QWidget) -> None:
        super().__init__(view)
        self.view = view
        self.setAttribute(Qt.WA_TransparentForMouseEvents)
        self.scale, self.classes, self.names, self.outputs = 1.0, False, [], 1
        self.problem: str | None = None
        self.note = ""  # under the scale: what a map of a recurrent net shows
        view.viewport().installEventFilter(self)  # its geometry is final when it is resized
        self._fit()

    def eventFilter(self, watched, event) -> bool:
        if event.type() == QEvent.Resize:
            self._fit()
        return False

    def _fit(self) -> None:
        rows = 2 if self.classes or self.problem else 1
        width = self.NOTE_WIDTH if self.note and not self.problem else self.WIDTH
        self.resize(width, 8 + rows * self.ROW + self._note_height(width))
        port = self.view.viewport().geometry()
        self.move(port.left() + 8, port.bottom() - self.height() - 8)

    def _note_font(self) -> QFont:
        font = QFont(self.font())
        font.setPointSizeF(8)
        return font

    def _note_height(self, width: int) -> int:
        if not self.note or self.problem:
            return 0
        box = QRect(0, 0, width - 16, 1000)
        return QFontMetrics(self._note_font()).boundingRect(
            box, Qt.TextWordWrap, self.note).height() + 4

    def show_scale(self, scale: float, classes: bool, names: list[str], outputs: int,
                   note: str = "") -> None:
        state = (scale, classes, names, outputs, None, note)
        if state != (self.scale, self.classes, self.names, self.outputs, self.problem,
                     self.note):
            self.scale, self.classes, self.names, self.outputs, self.problem, self.note = state
            self._fit()
            self.update()

    def show_problem(self, text: str) -> None:
        self.problem = f"No neuron maps: {text}"
        self._fit()
        self.update()

    def paintEvent(self, event) -> None:
        p = QPainter(self)
        p.setRenderHint(QPainter.Antialiasing)
        p.setPen(QPen(QColor("#c9ced8"), 1))
        p.setBrush(QColor(255, 255, 255, 235))
        p.drawRoundedRect(QRectF(0.5, 0.5, self.width() - 1, self.height() - 1), 6, 6)
        p.setFont(self._note_font())
        inner = QRectF(8, 4, self.width() - 16, self.height() - 8)
        if self.problem:
            p.setPen(theme.TEXT)
            p.drawText(inner, Qt.TextWordWrap | Qt.AlignVCenter, self.problem)
        else:
            self._paint_rows(p, inner)
            if self.note:
                rows = 2 if self.classes else 1
                p.setPen(theme.MUTED_TEXT)
                p.drawText(inner.adjusted(0, rows * self.ROW + 2, 0, 0),
                           Qt.TextWordWrap | Qt.AlignTop, self.note)
        p.end()

    def _paint_rows(self, p: QPainter, inner: QRectF) -> None:
        titles = ["neuron output"] + (["predicted class"] if self.classes else [])
        left = inner.left() + max(p.fontMetrics().horizontalAdvance(t) for t in titles) + 8
        s = f"{self.scale:.2g}"
        _row(p, inner.top(), inner.left(), left, inner.right(), titles[0], _signed_stops(),
             f"\u2212{s}", f"+{s}")
        if not self.classes:
            return
        top = inner.top() + self.ROW
        if self.outputs == 1:
            names = (self.names + ["0", "1"])[:2]
            stops = [(t, QColor(*BINARY_LUT[round(t * 255)])) for t in np.linspace(0, 1, 9)]
            _row(p, top, inner.left(), left, inner.right(), titles[1], stops, *names)
        else:
            _label(p, inner.left(), top, titles[1], theme.MUTED_TEXT)
            _swatches(p, left, top, inner.right(), self.names, self.outputs)


def _signed_stops() -> list[tuple[float, QColor]]:
    return [(t, QColor(*signed_colours(np.array([2 * t - 1]))[0]))
            for t in np.linspace(0, 1, 9)]


def _label(p: QPainter, x: float, top: float, text: str, colour) -> float:
    """Text at x in a row starting at top; returns where it ends."""
    p.setPen(colour)
    p.drawText(QPointF(x, top + 12), text)
    return x + p.fontMetrics().horizontalAdvance(text)


def _row(p: QPainter, top: float, x0: float, left: float, right: float, title: str, stops,
         low: str, high: str) -> None:
    """title, then a colour bar labelled at its two ends: `low [bar] high`."""
    _label(p, x0, top, title, theme.MUTED_TEXT)
    start = _label(p, left, top, low, theme.TEXT) + 4
    end = right - p.fontMetrics().horizontalAdvance(high) - 4
    _label(p, end + 4, top, high, theme.TEXT)
    bar = QRectF(start, top + 4, max(end - start, 10), 9)
    gradient = QLinearGradient(bar.topLeft(), bar.topRight())
    for t, colour in stops:
        gradient.setColorAt(float(t), colour)
    p.fillRect(bar, gradient)


def _swatches(p: QPainter, x: float, top: float, right: float, names: list[str], n: int) -> None:
    """Several outputs: each one's class colour (white at p = 0 towards it at p = 1)."""
    for k in range(n):
        name = names[k] if k < len(names) else str(k)
        width = 12 + p.fontMetrics().horizontalAdvance(name) + 6
        if x + width > right:
            _label(p, x, top, "\u2026", theme.MUTED_TEXT)
            break
        p.setBrush(QColor(*PALETTE[k % len(PALETTE)].astype(int)))
        p.setPen(Qt.NoPen)
        p.drawRect(QRectF(x, top + 4, 9, 9))
        x = _label(p, x + 12, top, name, theme.TEXT) + 6
