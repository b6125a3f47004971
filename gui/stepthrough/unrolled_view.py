"""The unrolled net: a copy of the net per time step (gui.stepthrough.unrolled_layout), the
delayed edges running from copy t-1 to copy t, the current event's copies lit with what each
edge adds, and the numbers revealed so far under each neuron copy.

It stands in for the canvas while step-through follows a sequence (the canvas has one copy of
each neuron; this needs T). One item paints it all, as the canvas's step-through overlay does.
"""
from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QFont, QFontMetricsF, QPainter, QPainterPath, QPen, QWheelEvent
from PySide6.QtWidgets import QGraphicsItem, QGraphicsScene, QGraphicsView

from core.network import Network
from core.number_text import fmt
from core.stepthrough.over_time import TimeEvent, TimeWalkthrough
from gui import theme
from gui.stepthrough.overlay import LABEL_BORDER, LABEL_FILL, PHASE_COLOUR
from gui.stepthrough.unrolled_layout import UnrolledLayout, unrolled_layout

RADIUS = 15.0
DELAYED = QColor("#7a4cc2")  # the canvas marks delayed edges in their own colour too
FRAME = QColor("#e6e9ef")
ZOOM_STEP = 1.2


class UnrolledPicture(QGraphicsItem):
    def __init__(self) -> None:
        super().__init__()
        self.setAcceptedMouseButtons(Qt.NoButton)
        self.net: Network | None = None
        self.layout: UnrolledLayout | None = None
        self.event: TimeEvent | None = None
        self.revealed: dict = {}
        self.font, self.small, self.head = QFont(), QFont(), QFont()
        self.font.setPointSizeF(8.5)
        self.small.setPointSizeF(8)
        self.head.setPointSizeF(10)
        self.head.setBold(True)

    def show_walk(self, net: Network, walk: TimeWalkthrough) -> None:
        self.prepareGeometryChange()
        self.net, self.layout = net, unrolled_layout(net, walk.steps)
        self.event, self.revealed = None, {}
        self.update()

    def show_state(self, event: TimeEvent, revealed: dict) -> None:
        self.event, self.revealed = event, revealed
        self.update()

    def clear(self) -> None:
        self.prepareGeometryChange()
        self.net, self.layout, self.event, self.revealed = None, None, None, {}
        self.update()

    def _current(self) -> bool:
        """Whether the network still has what the layout shows: an edit or another document
        may reach a paint before the mode has rebuilt the walkthrough."""
        return self.layout is not None and self.net is not None and \
            all(key[0] in self.net.neurons for key in self.layout.positions) and \
            all(key[0] in self.net.edges for key in self.layout.instant + self.layout.delayed)

    def boundingRect(self) -> QRectF:
        if self.layout is None:
            return QRectF()
        x, _, w, h = self.layout.copies[-1]
        return QRectF(-60, 0, x + w + 80, self.layout.copies[0][1] + h + 30)

    # ----- what is shown (tests read these) ---------------------------------------------------
    def neuron_lines(self, key: tuple[str, int]) -> list[str]:
        known = self.revealed.get(key, {})
        current = self.event is not None and key in self.event.neurons
        shown = ("net", "a", "δ") if current else ("a", "δ")  # net only where it is the news
        return [f"{k} {fmt(known[k])}" for k in shown if k in known]

    def term_labels(self) -> dict[tuple[str, int], str]:
        """The current event's edge copies and what each adds, as written beside them."""
        return {} if self.event is None else {k: fmt(v) for k, v in self.event.terms.items()}

    def focus(self) -> QRectF:
        """The copies the current event is about (the view scrolls to them)."""
        rect = QRectF()
        for key in (self.event.neurons if self.event else ()):
            x, y = self.layout.positions[key]
            rect = rect.united(QRectF(x - 80, 0, 160, y + 60))  # its step's header too
        return rect

    # ----- painting --------------------------------------------------------------------------
    def paint(self, painter: QPainter, option, widget=None) -> None:
        if not self._current():
            return
        painter.setRenderHint(QPainter.Antialiasing)
        colour = PHASE_COLOUR.get(self.event.phase if self.event else "", theme.SELECTION)
        self._frames(painter, colour)
        lit = set(self.event.edges) if self.event else set()
        for key in self.layout.instant + self.layout.delayed:
            self._edge(painter, key, key in lit, colour)
        self._zero_state(painter)
        lit_neurons = set(self.event.neurons) if self.event else set()
        for key in self.layout.positions:
            self._neuron(painter, key, key in lit_neurons, colour)
        # A forward event's edges share their target, a backward one's their source: label
        # each where they are apart.
        at = {"forward": 0.3, "output": 0.7, "backward": 0.7}.get(
            self.event.phase if self.event else "", 0.5)
        for key, text in self.term_labels().items():
            if key in self.layout.instant or key in self.layout.delayed:
                # an ordinary edge's label short of its upper end, over its target's label
                where = at if self.net.edges[key[0]].delay else min(at, 0.4)
                self._label(painter, self._path(key).pointAtPercent(where), [text], colour,
                            True, below=False)
        for key in self.layout.positions:
            x, y = self.layout.positions[key]
            self._label(painter, QPointF(x, y + RADIUS + 2), self.neuron_lines(key), colour,
                        key in lit_neurons, below=True)

    def _frames(self, painter: QPainter, colour: QColor) -> None:
        steps = {t for _, t in self.event.neurons} if self.event else set()
        painter.setFont(self.head)
        for t, (x, y, w, h) in enumerate(self.layout.copies, start=1):
            current = steps == {t}
            painter.setPen(QPen(colour if current else FRAME, 2 if current else 1))
            painter.setBrush(QColor("#fbfcfd"))
            painter.drawRoundedRect(QRectF(x, y, w, h), 8, 8)
            painter.setPen(colour if current else theme.MUTED_TEXT)
            zero = "   (the delayed edges bring 0)" if t == 1 and self.layout.starts_at_zero \
                else ""
            painter.drawText(QRectF(x, 0, w, y - 4), Qt.AlignHCenter | Qt.AlignBottom,
                             f"t = {t}{zero}")

    def _path(self, key: tuple[str, int]) -> QPainterPath:
        (x1, y1), (x2, y2) = self.layout.ends(self.net, key)
        e = self.net.edges[key[0]]
        path = QPainterPath(QPointF(x1, y1))
        if not e.delay:
            path.lineTo(x2, y2)
            return path
        # Copy t-1 to copy t: bowed up, over the neurons between and clear of their labels
        bow = -(24.0 + 0.06 * abs(x2 - x1) + 0.25 * abs(y2 - y1))
        dx = 0.3 * (x2 - x1)
        path.cubicTo(QPointF(x1 + dx, y1 + bow), QPointF(x2 - dx, y2 + bow), QPointF(x2, y2))
        return path

    def _edge(self, painter: QPainter, key, lit: bool, colour: QColor) -> None:
        e = self.net.edges[key[0]]
        if lit:
            pen = QPen(colour, 3.5, Qt.SolidLine, Qt.RoundCap)
        elif e.delay:
            pen = QPen(DELAYED, 1.2, Qt.DashLine)
        else:
            pen = QPen(theme.POSITIVE if e.weight >= 0 else theme.NEGATIVE, 1.2)
        painter.setPen(pen)
        painter.setBrush(Qt.NoBrush)
        painter.drawPath(self._path(key))

    def _zero_state(self, painter: QPainter) -> None:
        """At t = 1 the delayed edges bring 0: a short stub into each target, marked so."""
        painter.setFont(self.small)
        targets = {self.net.edges[eid].target for eid in self.layout.starts_at_zero}
        for nid in targets:
            x, y = self.layout.positions[(nid, 1)]
            painter.setPen(QPen(DELAYED, 1.2, Qt.DashLine))
            painter.drawLine(QPointF(x - RADIUS - 24, y - 16), QPointF(x - RADIUS, y - 4))
            painter.setPen(DELAYED)
            painter.drawText(QRectF(x - RADIUS - 42, y - 30, 20, 16), Qt.AlignCenter, "0")

    def _neuron(self, painter: QPainter, key, lit: bool, colour: QColor) -> None:
        n = self.net.neurons[key[0]]
        x, y = self.layout.positions[key]
        painter.setPen(QPen(theme.ROLE_EDGE[n.role], 1.5))
        painter.setBrush(theme.ROLE_FILL[n.role])
        painter.drawEllipse(QPointF(x, y), RADIUS, RADIUS)
        if lit:
            painter.setPen(QPen(colour, 3.5))
            painter.setBrush(Qt.NoBrush)
            painter.drawEllipse(QPointF(x, y), RADIUS + 5, RADIUS + 5)
        painter.setPen(theme.TEXT)
        painter.setFont(self.font)
        # A long name ("x 3 steps ago") elided as on the canvas: centred whole, the circle
        # showed only its middle word.
        name = painter.fontMetrics().elidedText(n.name, Qt.ElideRight, int(2 * RADIUS - 2))
        painter.drawText(QRectF(x - RADIUS, y - RADIUS, 2 * RADIUS, 2 * RADIUS),
                         Qt.AlignCenter, name)

    def _label(self, painter: QPainter, anchor: QPointF, lines: list[str], colour: QColor,
               current: bool, below: bool) -> None:
        if not lines:
            return
        painter.setFont(self.small)
        metrics = QFontMetricsF(self.small)
        width = max(metrics.horizontalAdvance(line) for line in lines) + 8
        height = metrics.height() * len(lines) + 2
        box = QRectF(anchor.x() - width / 2, anchor.y() if below else anchor.y() - height / 2,
                     width, height)
        painter.setPen(QPen(colour if current else LABEL_BORDER, 1.5 if current else 1))
        painter.setBrush(LABEL_FILL)
        painter.drawRoundedRect(box, 3, 3)
        painter.setPen(theme.TEXT)
        for i, line in enumerate(lines):
            painter.drawText(QRectF(box.x(), box.y() + 1 + i * metrics.height(), width,
                                    metrics.height()), Qt.AlignCenter, line)


class UnrolledView(QGraphicsView):
    """Scrolls to the current event's copies; Ctrl + wheel zooms."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setScene(QGraphicsScene(self))  # parented: an unowned scene is collected at once
        self.setRenderHints(QPainter.Antialiasing | QPainter.TextAntialiasing)
        self.setBackgroundBrush(theme.BACKGROUND)
        self.setAlignment(Qt.AlignLeft | Qt.AlignVCenter)
        self.picture = UnrolledPicture()
        self.scene().addItem(self.picture)

    def show_walk(self, net: Network, walk: TimeWalkthrough) -> None:
        self.picture.show_walk(net, walk)
        # (a margin round it: Fit shows the copies' edges clear of the view's border)
        self.scene().setSceneRect(self.picture.boundingRect().adjusted(-20, -20, 20, 20))

    def clear(self) -> None:
        self.picture.clear()

    def fit(self) -> None:
        """Every copy in view (View > Fit), no larger than 1.5x, as the canvas fits."""
        items = self.picture.boundingRect()
        if items.isEmpty():
            return
        self.fitInView(self.sceneRect(), Qt.KeepAspectRatio)
        if self.transform().m11() > 1.5:
            self.resetTransform()
            self.scale(1.5, 1.5)
            self.centerOn(items.center())

    def show_state(self, event: TimeEvent, revealed: dict) -> None:
        self.picture.show_state(event, revealed)
        focus = self.picture.focus()
        if not focus.isEmpty() and len({t for _, t in event.neurons}) == 1:
            self.ensureVisible(focus, 40, 20)

    def wheelEvent(self, event: QWheelEvent) -> None:
        if event.modifiers() & Qt.ControlModifier:
            factor = ZOOM_STEP if event.angleDelta().y() > 0 else 1 / ZOOM_STEP
            self.scale(factor, factor)
        else:
            super().wheelEvent(event)
