"""An edge: a curve from the source's port to the target, coloured by sign, wide by |w|.

A delayed edge (the source's output one time step earlier) is drawn apart from the
ordinary ones: a curve bowing to the left of its direction, so that h1 -> h2 and h2 -> h1 bow
to opposite sides and neither hides the other or a plain edge between the same neurons, with
a "z⁻¹" mark at its middle; a delayed self-loop is a loop over the top of its neuron."""
from __future__ import annotations

import math

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import (QColor, QFont, QFontMetricsF, QPainter, QPainterPath,
                           QPainterPathStroker, QPen, QPolygonF)
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


DELAY_MARK = "z⁻¹"
LOOP_REACH = 1.4  # a self-loop's height over its neuron, in radii


def bowed(p1: QPointF, p2: QPointF, radius: float) -> QPainterPath:
    """A delayed edge between two neurons' centres, bowing to the left of p1 -> p2 (on
    screen, y down; a column's downward edges bow right, its upward ones left). Its middle
    passes clear of neurons of this radius between the two (a column of hidden neurons), and
    farther out the longer the edge, so that the edges of a column nest without touching."""
    dx, dy = p2.x() - p1.x(), p2.y() - p1.y()
    length = math.hypot(dx, dy) or 1.0
    bow = 2 * (radius + 14 + 0.12 * length)  # a quadratic's middle is half its control's way
    control = QPointF((p1.x() + p2.x()) / 2 + dy / length * bow,
                      (p1.y() + p2.y()) / 2 - dx / length * bow)
    path = QPainterPath(p1)
    path.quadTo(control, p2)
    return path


def rim_cut(path: QPainterPath, radius_start: float, radius_end: float) -> QPainterPath:
    """The part of a centre-to-centre curve outside the two circles."""
    start, end = path.pointAtPercent(0.0), path.pointAtPercent(1.0)
    steps = 64
    points = [path.pointAtPercent(i / steps) for i in range(steps + 1)]
    kept = [p for p in points if math.hypot(p.x() - start.x(), p.y() - start.y()) >= radius_start
            and math.hypot(p.x() - end.x(), p.y() - end.y()) >= radius_end]
    if len(kept) < 2:  # neurons overlapping: the plain curve
        return path
    out = QPainterPath(kept[0])
    for p in kept[1:]:
        out.lineTo(p)
    return out


def head_cut(path: QPainterPath, size: float) -> tuple[QPainterPath, QPointF]:
    """The path without its last `size` pixels (where the arrow head goes), and the point
    where it now ends."""
    length = path.length()
    stop = path.percentAtLength(max(length - size, 0.0))
    steps = 48
    line = QPainterPath(path.pointAtPercent(0.0))
    for i in range(1, steps + 1):
        line.lineTo(path.pointAtPercent(stop * i / steps))
    return line, line.currentPosition()


def self_loop(centre: QPointF, radius: float) -> QPainterPath:
    """A loop over the top of a neuron, leaving its rim up-left and coming back up-right."""
    out, back = math.radians(125), math.radians(55)
    reach = radius * (1 + LOOP_REACH)

    def rim(angle: float, r: float) -> QPointF:
        return QPointF(centre.x() + r * math.cos(angle), centre.y() - r * math.sin(angle))

    path = QPainterPath(rim(out, radius))
    path.cubicTo(rim(math.radians(135), reach * 1.35), rim(math.radians(45), reach * 1.35),
                 rim(back, radius))
    return path


def mark_font() -> QFont:
    font = QFont()
    font.setPointSizeF(7.5)
    return font


class EdgeItem(QGraphicsItem):
    def __init__(self, scene_model, eid: str) -> None:
        super().__init__()
        self.model = scene_model
        self.eid = eid
        self.setFlags(QGraphicsItem.ItemIsSelectable)
        self.setAcceptHoverEvents(True)
        self.setZValue(1)
        self._path = QPainterPath()
        self._mark = QRectF()
        self.delayed = False
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
        """The path again: the neurons moved, or the edge's delay changed (its kind of line)."""
        self.prepareGeometryChange()
        e = self.edge
        src, dst = self.model.neuron_items[e.source], self.model.neuron_items[e.target]
        self.delayed = bool(e.delay)
        if e.source == e.target:
            self._path = self_loop(src.scenePos(), src.radius())
        elif e.delay:
            self._path = rim_cut(bowed(src.scenePos(), dst.scenePos(), src.radius()),
                                 src.radius(), dst.radius() + 1)
        else:
            self._path = curve(src.port_pos(), dst.entry_pos())
        self._mark = self._mark_rect() if self.delayed else QRectF()
        self.update()

    def path(self) -> QPainterPath:
        """The line as drawn (scene coordinates)."""
        return self._path

    def _mark_rect(self) -> QRectF:
        """Where the z⁻¹ mark goes: centred on the curve's middle."""
        size = QFontMetricsF(mark_font()).size(0, DELAY_MARK)
        middle = self._path.pointAtPercent(0.5)
        return QRectF(middle.x() - size.width() / 2 - 2, middle.y() - size.height() / 2,
                      size.width() + 4, size.height())

    def boundingRect(self) -> QRectF:
        return self._path.boundingRect().united(self._mark).adjusted(-10, -10, 10, 10)

    def shape(self) -> QPainterPath:
        """The line itself, 10 px wide, and the mark: a click inside a loop, off its line,
        selects nothing (the neuron under it stays reachable)."""
        stroker = QPainterPathStroker()
        stroker.setWidth(10)
        shape = stroker.createStroke(self._path)
        if self.delayed:
            shape.addRect(self._mark)
        return shape

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
        end = self._path.pointAtPercent(1.0)
        size = 7 + width
        if self.delayed:
            # The line stops where the head begins and the head lies along the chord of its
            # last stretch: on a tight loop a 6 px line ran through to the tip and buried it.
            line, tail = head_cut(self._path, size)
            painter.drawPath(line)
            angle = math.atan2(tail.y() - end.y(), end.x() - tail.x())
        else:
            painter.drawPath(self._path)
            angle = math.radians(self._path.angleAtPercent(0.98))
        back = QPointF(end.x() - size * math.cos(angle), end.y() + size * math.sin(angle))
        side = QPointF(-math.sin(angle) * size * 0.45, -math.cos(angle) * size * 0.45)
        painter.setBrush(colour)
        painter.setPen(Qt.NoPen)
        painter.drawPolygon(QPolygonF([end, back + side, back - side]))
        if self.delayed:
            self._paint_mark(painter, colour)

    def _paint_mark(self, painter: QPainter, colour: QColor) -> None:
        painter.setBrush(theme.BACKGROUND)
        painter.setPen(QPen(colour, 1))
        painter.drawRoundedRect(self._mark, 3, 3)
        painter.setFont(mark_font())
        painter.setPen(theme.TEXT)
        painter.drawText(self._mark, Qt.AlignCenter, DELAY_MARK)

    def hoverEnterEvent(self, event) -> None:
        self.setToolTip(self.model.edge_tooltip(self.eid))
        super().hoverEnterEvent(event)
