"""All edges of a big graph as one item: two cached lists of straight lines (positive and
negative weights) drawn with drawLines and thin cosmetic pens. 50k separate items, or one
50k-segment QPainterPath, would make every pan and zoom crawl."""
from __future__ import annotations

from PySide6.QtCore import QLineF, QRectF
from PySide6.QtGui import QColor, QPainter, QPen
from PySide6.QtWidgets import QGraphicsItem

from gui import theme

THRESHOLD = 1500  # edge count above which edges are drawn batched


class BatchedEdgesItem(QGraphicsItem):
    def __init__(self, scene_model) -> None:
        super().__init__()
        self.model = scene_model
        self.setZValue(0)
        # Panning then blits a cached pixmap; only a zoom step draws the lines again.
        self.setCacheMode(QGraphicsItem.DeviceCoordinateCache)
        self._lines: tuple[list[QLineF], list[QLineF]] = ([], [])
        self._rect = QRectF()
        self._line_of: dict[str, QLineF] = {}
        self._ports: dict = {}
        self.rebuild()

    def rebuild(self) -> None:
        self.prepareGeometryChange()
        pos, neg = [], []
        ports = {nid: (item.port_pos(), item.entry_pos())
                 for nid, item in self.model.neuron_items.items()}
        # Lines are kept between rebuilds and made anew only for new edges and edges of
        # neurons that moved: making all 51k QLineFs took half a second per edit or frame.
        moved = {nid for nid, p in ports.items() if self._ports.get(nid) != p}
        lines, old = {}, self._line_of
        threshold = self.model.weak_threshold
        xs, ys = [], []
        for e in self.model.network.edges.values():
            line = old.get(e.id)
            if line is None or e.source in moved or e.target in moved:
                line = QLineF(ports[e.source][0], ports[e.target][1])
            lines[e.id] = line
            value = self.model.edge_value(e.id)
            if abs(value) >= threshold:
                (pos if value >= 0 else neg).append(line)
        self._line_of, self._ports = lines, ports
        for p, _ in ports.values():
            xs.append(p.x())
            ys.append(p.y())
        self._lines = (pos, neg)
        self._rect = QRectF(min(xs, default=0) - 60, min(ys, default=0) - 60,
                            max(xs, default=0) - min(xs, default=0) + 120,
                            max(ys, default=0) - min(ys, default=0) + 120)
        self.update()

    def boundingRect(self) -> QRectF:
        return self._rect

    def paint(self, painter: QPainter, option, widget=None) -> None:
        painter.setRenderHint(QPainter.Antialiasing, False)
        for lines, colour in zip(self._lines, (theme.POSITIVE, theme.NEGATIVE)):
            # An opaque tint (the colour mixed with the background): translucent lines are
            # about 18 times slower for Qt's raster engine.
            painter.setPen(QPen(_tint(colour, 0.35), 0))  # width 0: one-pixel cosmetic line
            painter.drawLines(lines)


def _tint(colour: QColor, share: float) -> QColor:
    bg = theme.BACKGROUND
    return QColor(*(round(share * c + (1 - share) * b) for c, b in
                    ((colour.red(), bg.red()), (colour.green(), bg.green()),
                     (colour.blue(), bg.blue()))))
