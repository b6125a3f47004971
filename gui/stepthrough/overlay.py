"""The step-through's layer on the canvas: a ring around the neurons of the current event,
its edges traced over, and the numbers revealed so far next to each neuron and edge.

One item paints it all (the mode is limited to small graphs), on top of the canvas, and takes
no mouse events, so editing the network underneath keeps working.
"""
from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QFont, QFontMetricsF, QPainter, QPen
from PySide6.QtWidgets import QGraphicsItem

from core.stepthrough import fmt
from gui import theme
from gui.canvas.edge_item import curve

PHASE_COLOUR = {"input": QColor("#3c9a5f"), "forward": QColor("#2f6fde"),
                "loss": QColor("#8b3fd1"), "output": QColor("#c2410c"),
                "backward": QColor("#c2410c"), "gradient": QColor("#c2410c"),
                "update": QColor("#23864a")}
LABEL_FILL = QColor("#ffffff")
LABEL_BORDER = QColor("#b9c0cc")
# Above this many edges, only the current event's edges carry a number: a label per edge
# would bury the graph.
EDGE_LABELS_UP_TO = 40


class StepOverlay(QGraphicsItem):
    def __init__(self, scene) -> None:
        super().__init__()
        self.canvas = scene  # the CanvasScene: neuron items give the positions
        self.setZValue(10)
        self.setAcceptedMouseButtons(Qt.NoButton)
        self.setAcceptHoverEvents(False)
        self.phase = ""
        self.neurons: tuple[str, ...] = ()
        self.edges: tuple[str, ...] = ()
        self.revealed: dict[str, dict[str, float]] = {}
        self.font = QFont()
        self.font.setPointSizeF(7.5)

    def show_state(self, phase: str, neurons, edges, revealed) -> None:
        self.prepareGeometryChange()
        self.phase, self.neurons, self.edges, self.revealed = phase, tuple(neurons), \
            tuple(edges), revealed
        self.update()

    def boundingRect(self) -> QRectF:
        items = self.canvas.neuron_items.values()
        if not items:
            return QRectF()
        rect = QRectF()
        for item in items:
            rect = rect.united(item.sceneBoundingRect())
        return rect.adjusted(-70, -10, 70, 45)  # labels reach past the neurons this far

    # ----- painting --------------------------------------------------------------------------
    def paint(self, painter: QPainter, option, widget=None) -> None:
        net = self.canvas.network
        items = self.canvas.neuron_items
        painter.setRenderHint(QPainter.Antialiasing)
        colour = PHASE_COLOUR.get(self.phase, theme.SELECTION)
        painter.setFont(self.font)
        metrics = QFontMetricsF(self.font)
        for eid in self.edges:
            e = net.edges.get(eid)
            if e is None or e.source not in items or e.target not in items:
                continue
            painter.setPen(QPen(colour, 4, Qt.SolidLine, Qt.RoundCap))
            painter.setBrush(Qt.NoBrush)
            painter.drawPath(curve(items[e.source].port_pos(), items[e.target].entry_pos()))
        painter.setPen(QPen(colour, 4))
        for nid in self.neurons:
            if nid in items:
                r = items[nid].radius()  # larger while the canvas shows neuron maps
                painter.drawEllipse(items[nid].scenePos(), r + 7, r + 7)
        label_all = len(net.edges) <= EDGE_LABELS_UP_TO
        for eid, known in self.revealed.items():
            e = net.edges.get(eid)
            if e is None or e.source not in items or e.target not in items:
                continue
            current = eid in self.edges
            if not label_all and not current:
                continue
            # Past the middle: crossing edges (XOR's) share their midpoint but not this point.
            path = curve(items[e.source].port_pos(), items[e.target].entry_pos())
            self._label(painter, metrics, path.pointAtPercent(0.68),
                        _edge_lines(known, current), current, colour, below=False)
        for nid, known in self.revealed.items():
            if nid in items:
                # Below the neuron, over its bias text (the formula panel shows the bias).
                top = items[nid].scenePos() + QPointF(0, items[nid].radius() + 1)
                self._label(painter, metrics, top, _neuron_lines(known, nid in self.neurons),
                            nid in self.neurons, colour, below=True)

    def _label(self, painter: QPainter, metrics: QFontMetricsF, anchor: QPointF,
               lines: list[str], current: bool, colour: QColor, below: bool) -> None:
        if not lines:
            return
        width = max(metrics.horizontalAdvance(line) for line in lines) + 8
        line_height = metrics.height()
        height = line_height * len(lines) + 2
        y = anchor.y() if below else anchor.y() - height / 2
        box = QRectF(anchor.x() - width / 2, y, width, height)
        painter.setPen(QPen(colour if current else LABEL_BORDER, 1.5 if current else 1))
        painter.setBrush(LABEL_FILL)
        painter.drawRoundedRect(box, 3, 3)
        painter.setPen(theme.TEXT)
        for i, line in enumerate(lines):
            painter.drawText(QRectF(box.x(), box.y() + 1 + i * line_height, width, line_height),
                             Qt.AlignCenter, line)


def _neuron_lines(known: dict[str, float], current: bool) -> list[str]:
    """Compact for every neuron (a, then δ once known); the current one also shows net."""
    first = "  ".join(f"{k} {fmt(known[k])}" for k in (("net", "a") if current else ("a",))
                      if k in known)
    return [line for line in (first, f"δ {fmt(known['δ'])}" if "δ" in known else "") if line]


def _edge_lines(known: dict[str, float], current: bool) -> list[str]:
    if "new" in known:
        return [f"w → {fmt(known['new'])}"]
    if "∂L/∂w" in known:
        return [f"∂L/∂w {fmt(known['∂L/∂w'])}" if current else fmt(known["∂L/∂w"])]
    return []
