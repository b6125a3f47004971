"""All edges of a big graph as one item: two cached paths (positive, negative weights) drawn
with thin cosmetic pens. 50k separate items would make every pan and zoom crawl."""
from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF
from PySide6.QtGui import QColor, QPainter, QPainterPath, QPen
from PySide6.QtWidgets import QGraphicsItem

from gui import theme

THRESHOLD = 2000  # edge count above which edges are drawn batched


class BatchedEdgesItem(QGraphicsItem):
    def __init__(self, scene_model) -> None:
        super().__init__()
        self.model = scene_model
        self.setZValue(0)
        self._paths: tuple[QPainterPath, QPainterPath] = (QPainterPath(), QPainterPath())
        self._rect = QRectF()
        self.rebuild()

    def rebuild(self) -> None:
        self.prepareGeometryChange()
        pos, neg = QPainterPath(), QPainterPath()
        items, threshold = self.model.neuron_items, self.model.weak_threshold
        for e in self.model.network.edges.values():
            value = self.model.edge_value(e.id)
            if abs(value) < threshold:
                continue
            path = pos if value >= 0 else neg
            path.moveTo(items[e.source].port_pos())
            path.lineTo(items[e.target].entry_pos())
        self._paths = (pos, neg)
        self._rect = pos.boundingRect().united(neg.boundingRect()).adjusted(-2, -2, 2, 2)
        self.update()

    def boundingRect(self) -> QRectF:
        return self._rect

    def paint(self, painter: QPainter, option, widget=None) -> None:
        for path, colour in zip(self._paths, (theme.POSITIVE, theme.NEGATIVE)):
            c = QColor(colour)
            c.setAlpha(70)
            pen = QPen(c, 0.8)
            pen.setCosmetic(True)
            painter.setPen(pen)
            painter.drawPath(path)
