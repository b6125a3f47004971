"""All edges of a big graph as one item: two cached lists of straight lines (positive and
negative weights) drawn with drawLines and thin cosmetic pens. 50k separate items, or one
50k-segment QPainterPath, would make every pan and zoom crawl."""
from __future__ import annotations

from itertools import compress

import numpy as np
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
        self._ids: list[str] = []
        self._line_list: list[QLineF] = []
        self.geometry_stale = True  # set by the scene when edges or neurons change place
        self.rebuild()

    def rebuild(self) -> None:
        """Lines again where the graph or its layout changed; their colours from the values.

        Lines are kept between rebuilds and made anew only for new edges and edges of neurons
        that moved (making all 51k QLineFs took half a second per edit or training frame);
        the split by sign and threshold is done with NumPy."""
        net = self.model.network
        if self.geometry_stale:
            self.prepareGeometryChange()
            self._relayout(net)
        if self.model.gradients is not None:
            grads = self.model.gradients
            values = np.fromiter((grads.get(i, 0.0) for i in self._ids), float, len(self._ids))
        else:
            values = np.fromiter((e.weight for e in net.edges.values()), float, len(net.edges))
        strong = np.abs(values) >= self.model.weak_threshold
        self._lines = (list(compress(self._line_list, strong & (values >= 0))),
                       list(compress(self._line_list, strong & (values < 0))))
        self.update()

    def _relayout(self, net) -> None:
        ports = {nid: (item.port_pos(), item.entry_pos())
                 for nid, item in self.model.neuron_items.items()}
        moved = {nid for nid, p in ports.items() if self._ports.get(nid) != p}
        old, lines = self._line_of, {}
        for e in net.edges.values():
            line = old.get(e.id)
            if line is None or e.source in moved or e.target in moved:
                line = QLineF(ports[e.source][0], ports[e.target][1])
            lines[e.id] = line
        self._line_of, self._ports = lines, ports
        self._ids, self._line_list = list(lines), list(lines.values())
        xs = [p.x() for p, _ in ports.values()]
        ys = [p.y() for p, _ in ports.values()]
        self._rect = QRectF(min(xs, default=0) - 60, min(ys, default=0) - 60,
                            max(xs, default=0) - min(xs, default=0) + 120,
                            max(ys, default=0) - min(ys, default=0) + 120)
        self.geometry_stale = False

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
