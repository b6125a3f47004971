"""A neuron on the canvas: paints what the document says; reports nothing but its id."""
from __future__ import annotations

import math

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QBrush, QFont, QImage, QPainter, QPainterPath, QPen
from PySide6.QtWidgets import QGraphicsItem, QStyleOptionGraphicsItem, QWidget

from core.activations import ACTIVATIONS
from gui import theme

R = theme.NEURON_RADIUS
MAP_R = theme.MAP_NEURON_RADIUS  # while the canvas shows every neuron's map


class NeuronItem(QGraphicsItem):
    def __init__(self, scene_model, nid: str) -> None:
        super().__init__()
        self.model = scene_model  # the CanvasScene: the document is read through it
        self.nid = nid
        self.highlight = None  # optional QColor fill override (activation colouring)
        self.value_text: str | None = None  # shown instead of the bias (e.g. "a=0.73")
        self.map_image: QImage | None = None  # its output over the input plane (maps view)
        self.setAcceptHoverEvents(True)
        # A repaint of the whole scene (a structure edit on a big net, a training frame)
        # blits each neuron from its pixmap instead of drawing its text again: 1,750 neurons
        # took 0.2 s per repaint. update() after a change of the neuron redraws it.
        self.setCacheMode(QGraphicsItem.DeviceCoordinateCache)
        self.setZValue(2)
        self.sync()
        self.setFlags(QGraphicsItem.ItemIsSelectable | QGraphicsItem.ItemIsMovable |
                      QGraphicsItem.ItemSendsGeometryChanges)

    @property
    def neuron(self):
        return self.model.network.neurons[self.nid]

    def sync(self) -> None:
        n = self.neuron
        self.setPos(n.x, n.y)
        self.update()

    def radius(self) -> float:
        return MAP_R if self.model.maps_shown else R

    def boundingRect(self) -> QRectF:
        r = self.radius()
        return QRectF(-r - 8, -r - 8, 2 * r + 16, 2 * r + 30)

    def shape(self) -> QPainterPath:
        r = self.radius()
        path = QPainterPath()
        path.addEllipse(QPointF(0, 0), r + theme.PORT_RADIUS, r + 2)
        return path

    def port_pos(self) -> QPointF:
        """Where outgoing edges leave (the right side) in scene coordinates."""
        return self.mapToScene(QPointF(self.radius(), 0))

    def entry_pos(self) -> QPointF:
        return self.mapToScene(QPointF(-self.radius(), 0))

    def on_port(self, scene_pos: QPointF, delayed: bool = False) -> bool:
        """Whether a wire starts here. An output neuron has no port (only a delayed edge may
        leave it: a Jordan net's feedback), but a Shift-drag from where it would be starts a
        delayed wire."""
        local = self.mapFromScene(scene_pos)
        return (self.neuron.role != "output" or delayed) and \
            math.hypot(local.x() - self.radius(), local.y()) <= theme.PORT_RADIUS + 5

    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem,
              widget: QWidget | None = None) -> None:
        n = self.neuron
        painter.setRenderHint(QPainter.Antialiasing)
        if self.model.maps_shown:
            self._paint_with_map(painter, n)
            return
        self._paint_body(painter, n, R, self.highlight or theme.ROLE_FILL[n.role])
        painter.setPen(theme.TEXT)
        font = QFont(painter.font())
        font.setPointSizeF(8.5)
        font.setBold(True)
        painter.setFont(font)
        painter.drawText(QRectF(-R, -R + 4, 2 * R, R - 2), Qt.AlignHCenter | Qt.AlignBottom,
                         _elide(n.name, 7))
        font.setBold(False)
        font.setPointSizeF(8)
        painter.setFont(font)
        painter.setPen(theme.MUTED_TEXT)
        glyph = glyph_text(n)
        painter.drawText(QRectF(-R, 2, 2 * R, R - 6), Qt.AlignHCenter | Qt.AlignTop, glyph)
        if self.value_text is not None or n.role != "input":
            text = self.value_text if self.value_text is not None else f"b={n.bias:+.2f}"
            painter.drawText(QRectF(-R - 12, R + 2, 2 * R + 24, 16), Qt.AlignHCenter | Qt.AlignTop,
                             text)

    def _outline(self, r: float, role: str) -> QPainterPath:
        path = QPainterPath()
        if role == "input":
            path.addRoundedRect(QRectF(-r, -r, 2 * r, 2 * r), 8, 8)
        else:
            path.addEllipse(QPointF(0, 0), r, r)
        return path

    def _paint_body(self, painter: QPainter, n, r: float, fill, image: QImage | None = None
                    ) -> None:
        """The shape (filled, or holding the map image), its outline and its port."""
        outline = self._outline(r, n.role)
        if image is not None:
            painter.save()
            painter.setClipPath(outline)
            painter.setRenderHint(QPainter.SmoothPixmapTransform)
            painter.drawImage(QRectF(-r, -r, 2 * r, 2 * r), image)
            painter.restore()
            painter.setBrush(Qt.NoBrush)
        else:
            painter.setBrush(QBrush(fill))
        selected = self.isSelected()
        pen = QPen(theme.SELECTION if selected else theme.ROLE_EDGE[n.role], 3.5 if selected else 2)
        if n.frozen:
            pen.setStyle(Qt.DashLine)
        painter.setPen(pen)
        painter.drawPath(outline)
        if n.role != "output":
            painter.setBrush(theme.ROLE_EDGE[n.role])
            painter.setPen(Qt.NoPen)
            painter.drawEllipse(QPointF(r, 0), theme.PORT_RADIUS - 1.5, theme.PORT_RADIUS - 1.5)

    def _paint_with_map(self, painter: QPainter, n) -> None:
        """The maps view: the neuron's output over the input plane fills it; its name and
        activation (or the sample's value) go in one line under it."""
        r = MAP_R
        self._paint_body(painter, n, r, theme.ROLE_FILL[n.role], self.map_image)
        font = QFont(painter.font())
        font.setPointSizeF(8)
        painter.setFont(font)
        painter.setPen(theme.TEXT)
        glyph = "" if n.role == "input" else ACTIVATIONS[n.activation].label()
        text = self.value_text if self.value_text is not None else \
            f"{_elide(n.name, 8)} {glyph}".strip()
        painter.drawText(QRectF(-r - 14, r + 2, 2 * r + 28, 16), Qt.AlignHCenter | Qt.AlignTop,
                         text)

    def itemChange(self, change, value):
        if change == QGraphicsItem.ItemPositionChange and self.model.snap_to_grid:
            g = theme.GRID
            return QPointF(round(value.x() / g) * g, round(value.y() / g) * g)
        if change == QGraphicsItem.ItemPositionHasChanged and self.scene() is not None \
                and self.scene().mouseGrabberItem() is not None:  # a drag, not a document move
            self.model.neuron_moved_on_canvas(self.nid)
        return super().itemChange(change, value)

    def hoverEnterEvent(self, event) -> None:
        self.setToolTip(self.model.neuron_formula(self.nid))
        self.model.neuron_hovered.emit(self.nid)
        super().hoverEnterEvent(event)

    def hoverLeaveEvent(self, event) -> None:
        self.model.neuron_hovered.emit("")
        super().hoverLeaveEvent(event)


def glyph_text(n) -> str:
    """The small text under a neuron's name: its activation's glyph; for an input "in", or
    its feature (x1²) when a label hides it."""
    if n.role != "input":
        return ACTIVATIONS[n.activation].label()
    return "in" if n.feature is None or n.name == n.feature.label else n.feature.label


def _elide(text: str, n: int) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"
