"""An edge: a curve from the source's port to the target, coloured by sign, wide by |w|."""
from __future__ import annotations

import math

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QPainter, QPainterPath, QPainterPathStroker, QPen, QPolygonF
from PySide6.QtWidgets import QGraphicsItem

from gui import theme


def edge_style(value: float, scale: float) -> tuple[QColor, float]:
    """Colour by sign, width 0.75..6 px growing with |value| / scale."""
    colour = theme.POSITIVE if value >= 0 else theme.NEGATIVE
    strength = min(abs(value) / scale, 1.0) if scale > 0 else 0.0
    return colour, 0.75 + 5.25 * math.sqrt(strength)


def curve(p1: QPointF, p2: QPointF) -> QPainterPath:
    path = QPainterPath(p1)
    dx = max(abs(p2.x() - p1.x()) * 0.5, 40.0)
    path.cubicTo(QPointF(p1.x() + dx, p1.y()), QPointF(p2.x() - dx, p2.y()), p2)
    return path


class EdgeItem(QGraphicsItem):
    def __init__(self, scene_model, eid: str) -> None:
        super().__init__()
        self.model = scene_model
        self.eid = eid
        self.setFlags(QGraphicsItem.ItemIsSelectable)
        self.setAcceptHoverEvents(True)
        self.setZValue(1)
        self._path = QPainterPath()
        self.refresh_geometry()

    @property
    def edge(self):
        return self.model.network.edges[self.eid]

    def value(self) -> float:
        """What the edge shows: its weight, or its gradient in the gradients view."""
        return self.model.edge_value(self.eid)

    def style_key(self) -> tuple:
        """What the edge's look depends on, widths to a tenth of a pixel: a training frame
        repaints only the edges whose key changed."""
        value = self.value()
        colour, width = edge_style(value, self.model.edge_scale())
        hidden = abs(value) < self.model.weak_threshold
        return value >= 0, round(width, 1), hidden

    def refresh_geometry(self) -> None:
        self.prepareGeometryChange()
        e = self.edge
        src, dst = self.model.neuron_items[e.source], self.model.neuron_items[e.target]
        self._path = curve(src.port_pos(), dst.entry_pos())
        self.update()

    def boundingRect(self) -> QRectF:
        return self._path.boundingRect().adjusted(-10, -10, 10, 10)

    def shape(self) -> QPainterPath:
        stroker = QPainterPathStroker()
        stroker.setWidth(10)
        return stroker.createStroke(self._path)

    def paint(self, painter: QPainter, option, widget=None) -> None:
        value = self.value()
        if abs(value) < self.model.weak_threshold and not self.isSelected():
            return
        colour, width = edge_style(value, self.model.edge_scale())
        if self.isSelected():
            painter.setPen(QPen(theme.SELECTION, width + 5, Qt.SolidLine, Qt.RoundCap))
            painter.drawPath(self._path)
        painter.setRenderHint(QPainter.Antialiasing)
        pen = QPen(colour, width, Qt.DashLine if self.edge.frozen else Qt.SolidLine, Qt.RoundCap)
        painter.setPen(pen)
        painter.setBrush(Qt.NoBrush)
        painter.drawPath(self._path)
        end = self._path.pointAtPercent(1.0)
        angle = math.radians(self._path.angleAtPercent(0.98))
        size = 7 + width
        back = QPointF(end.x() - size * math.cos(angle), end.y() + size * math.sin(angle))
        side = QPointF(-math.sin(angle) * size * 0.45, -math.cos(angle) * size * 0.45)
        painter.setBrush(colour)
        painter.setPen(Qt.NoPen)
        painter.drawPolygon(QPolygonF([end, back + side, back - side]))

    def hoverEnterEvent(self, event) -> None:
        self.setToolTip(self.model.edge_tooltip(self.eid))
        super().hoverEnterEvent(event)
