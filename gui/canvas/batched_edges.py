"""All ordinary edges of a big graph as one item: two lists of straight lines (positive and negative
weights) drawn with thin cosmetic pens, into an image of the view a slice at a time
(gui/canvas/line_picture.py). 50k separate items, or one 50k-segment QPainterPath, would make
every pan and zoom crawl; drawing the lines at once on every frame stopped the window 75-180
ms each time."""
from __future__ import annotations

from itertools import compress

import numpy as np
from PySide6.QtCore import QLineF, QRectF
from PySide6.QtGui import QColor, QPainter, QPen
from PySide6.QtWidgets import QGraphicsItem

from gui import theme
from gui.canvas.line_picture import LinePicture, draw_lines

THRESHOLD = 1500  # edge count above which edges are drawn batched
MAX_DRAWN = 8000  # above this many edges only the strongest are drawn


class BatchedEdgesItem(QGraphicsItem):
    def __init__(self, scene_model) -> None:
        super().__init__()
        self.model = scene_model
        self.setZValue(0)
        self._lines: tuple[list[QLineF], list[QLineF]] = ([], [])
        self._pens = tuple(QPen(_tint(c, 0.35), 0) for c in (theme.POSITIVE, theme.NEGATIVE))
        self.picture = LinePicture(self._on_picture_ready)
        self._rect = QRectF()
        self._line_of: dict[str, QLineF] = {}
        self._ports: dict = {}
        self._ids: tuple[str, ...] = ()  # the edges drawn
        self._line_list: list[QLineF] = []  # a line per id
        self.geometry_stale = True  # set by the scene when neurons change place
        self._added: set[str] = set()  # edge ids the scene reported since the last rebuild
        self._removed: set[str] = set()
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
        elif self._added or self._removed:
            self._catch_up(net)
        # Values read as arrays (a generator reading 51k weights by id cost 40-70 ms a frame).
        if self.model.gradients is not None:
            values = self.model.gradients.aligned(self._ids)
        else:
            values = net.weights_of(self._ids)
        size = np.abs(values)
        strong = size >= self.model.weak_threshold
        shown = int(strong.sum())
        if shown > MAX_DRAWN:
            # Drawing costs the lines' length in pixels: 50k edges of a 784-64-10 net at Fit
            # took about a second a repaint, and overdrawn they are one solid blob anyway.
            # The strongest MAX_DRAWN show the structure; the status bar says so.
            keep = np.argpartition(np.where(strong, size, -1.0), -MAX_DRAWN)[-MAX_DRAWN:]
            strong = np.zeros_like(strong)
            strong[keep] = True
        self._lines = (list(compress(self._line_list, strong & (values >= 0))),
                       list(compress(self._line_list, strong & (values < 0))))
        self.drawn = (len(self._lines[0]) + len(self._lines[1]), len(self._ids))
        self.model.edges_drawn.emit(*self.drawn)
        self.picture.set_lines(tuple(zip(self._lines, self._pens)))

    def edges_added(self, ids) -> None:
        self._added.update(ids)
        self._removed.difference_update(ids)

    def edges_removed(self, ids) -> None:
        self._removed.update(ids)
        self._added.difference_update(ids)

    def _catch_up(self, net) -> None:
        """Edges added or removed since the last rebuild, without visiting the others (a
        structure edit on a 51k-edge net touches a few hundred)."""
        for eid in self._removed:
            self._line_of.pop(eid, None)
        items = self.model.neuron_items
        for eid in self._added:
            e = net.edges.get(eid)
            if e is None or e.delay:  # delayed edges are items of their own (the scene's)
                continue
            line = QLineF(items[e.source].port_pos(), items[e.target].entry_pos())
            self._line_of[eid] = line
            if not self._rect.contains(line.p1()) or not self._rect.contains(line.p2()):
                self.prepareGeometryChange()
                self._rect = self._rect.united(QRectF(line.p1(), line.p2()).normalized()
                                               .adjusted(-60, -60, 60, 60))
        self._added, self._removed = set(), set()
        # Lines in the order they came (values are read by id in any order): putting them in
        # the document's order again cost another pass over 51k per structure edit.
        self._ids, self._line_list = tuple(self._line_of), list(self._line_of.values())

    def _relayout(self, net) -> None:
        ports = {nid: (item.port_pos(), item.entry_pos())
                 for nid, item in self.model.neuron_items.items()}
        moved = {nid for nid, p in ports.items() if self._ports.get(nid) != p}
        old, lines = self._line_of, {}
        for e in net.edges.values():
            if e.delay:  # drawn as items of their own by the scene
                continue
            line = old.get(e.id)
            if line is None or e.source in moved or e.target in moved:
                line = QLineF(ports[e.source][0], ports[e.target][1])
            lines[e.id] = line
        self._line_of, self._ports = lines, ports
        self._ids, self._line_list = tuple(lines), list(lines.values())
        xs = [p.x() for p, _ in ports.values()]
        ys = [p.y() for p, _ in ports.values()]
        self._rect = QRectF(min(xs, default=0) - 60, min(ys, default=0) - 60,
                            max(xs, default=0) - min(xs, default=0) + 120,
                            max(ys, default=0) - min(ys, default=0) + 120)
        self.geometry_stale = False
        self._added, self._removed = set(), set()

    def boundingRect(self) -> QRectF:
        return self._rect

    def paint(self, painter: QPainter, option, widget=None) -> None:
        sets = tuple(zip(self._lines, self._pens))
        if widget is None:  # not a view (a picture export): the lines themselves
            draw_lines(painter, sets)
            return
        self.picture.paint(painter, widget.width(), widget.height(), widget.devicePixelRatioF())

    def dispose(self) -> None:
        """The item leaves the scene: no picture is finished for it any more."""
        self.picture.clear()

    def _on_picture_ready(self) -> None:
        try:
            self.update()
        except RuntimeError:  # the scene deleted the item meanwhile
            self.picture.clear()


def _tint(colour: QColor, share: float) -> QColor:
    bg = theme.BACKGROUND
    return QColor(*(round(share * c + (1 - share) * b) for c, b in
                    ((colour.red(), bg.red()), (colour.green(), bg.green()),
                     (colour.blue(), bg.blue()))))
