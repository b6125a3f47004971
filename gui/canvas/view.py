"""The canvas view: zoom (wheel, Ctrl +/-), pan (middle button or Space + drag), fit, and
drops from the palette."""
from __future__ import annotations

from PySide6.QtCore import QPointF, Qt, Signal
from PySide6.QtGui import QKeyEvent, QMouseEvent, QPainter, QWheelEvent
from PySide6.QtWidgets import QGraphicsView

from core.errors import NetworkError
from core.features import Feature
from gui.canvas.scene import CanvasScene

MIME = "application/x-backprop-neuron"  # payload: "role:activation[:feature kind:columns]"
ZOOM_STEP = 1.2


def kind_payload(role: str, activation: str, feature: Feature | None = None) -> str:
    """A palette entry as drag data: "input:identity:square:0", "hidden:tanh"."""
    text = f"{role}:{activation}"
    if feature is not None:
        text += f":{feature.kind}:{','.join(map(str, feature.columns))}"
    return text


def parse_kind(payload: str) -> tuple[str, str, Feature | None]:
    """(role, activation, input feature) of a palette entry's drag data."""
    parts = payload.split(":")
    role, activation = parts[0], parts[1] if len(parts) > 1 else ""
    feature = None
    if len(parts) == 4:
        try:
            feature = Feature(parts[2], tuple(int(c) for c in parts[3].split(",")))
        except (ValueError, NetworkError):  # not our palette's data: a plain input
            feature = None
    return role, activation, feature


class CanvasView(QGraphicsView):
    zoom_changed = Signal(float)
    space_tapped = Signal()  # Space pressed and released without panning: Run / Pause

    def __init__(self, scene: CanvasScene, parent=None) -> None:
        super().__init__(scene, parent)
        self.setRenderHints(QPainter.Antialiasing | QPainter.TextAntialiasing)
        self.setDragMode(QGraphicsView.RubberBandDrag)
        self.setTransformationAnchor(QGraphicsView.AnchorUnderMouse)
        self.setViewportUpdateMode(QGraphicsView.SmartViewportUpdate)
        # The grid is blitted from a pixmap: drawn afresh (hundreds of lines) under every
        # training frame it cost the window 5 ms a frame. Qt redraws it on zoom and resize.
        self.setCacheMode(QGraphicsView.CacheBackground)
        self.setAcceptDrops(True)
        self.viewport().setAcceptDrops(True)
        self._space = False
        self._panned = False
        self._pan_from: QPointF | None = None

    @property
    def canvas(self) -> CanvasScene:
        return self.scene()

    def zoom(self, factor: float) -> None:
        current = self.transform().m11()
        factor = max(0.05 / current, min(factor, 8.0 / current))
        self.scale(factor, factor)
        self.zoom_changed.emit(self.transform().m11())

    def fit(self) -> None:
        items = self.canvas.itemsBoundingRect()
        if items.isEmpty():
            self.resetTransform()
            self.centerOn(0, 0)
        else:
            self.fitInView(items.adjusted(-60, -60, 60, 60), Qt.KeepAspectRatio)
            if self.transform().m11() > 1.5:
                self.resetTransform()
                self.scale(1.5, 1.5)
                self.centerOn(items.center())
        self.zoom_changed.emit(self.transform().m11())

    def wheelEvent(self, event: QWheelEvent) -> None:
        steps = event.angleDelta().y() / 120.0
        if steps:
            self.zoom(ZOOM_STEP ** steps)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() == Qt.Key_Space:
            if not event.isAutoRepeat():
                self._space, self._panned = True, False
                self.setCursor(Qt.OpenHandCursor)
            return
        super().keyPressEvent(event)

    def keyReleaseEvent(self, event: QKeyEvent) -> None:
        if event.key() == Qt.Key_Space:
            if not event.isAutoRepeat():
                # Only a press seen here makes a tap: Ctrl+Space is the Run shortcut, whose
                # press Qt hands to the action; its release alone toggled the run back.
                tapped = self._space and not self._panned
                self._space = False
                self.unsetCursor()
                if tapped:
                    self.space_tapped.emit()
            return
        super().keyReleaseEvent(event)

    def mousePressEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MiddleButton or (self._space and event.button() == Qt.LeftButton):
            self._pan_from = event.position()
            self.setCursor(Qt.ClosedHandCursor)
            event.accept()
            return
        super().mousePressEvent(event)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        if self._pan_from is not None:
            self._panned = True
            delta = event.position() - self._pan_from
            self._pan_from = event.position()
            self.horizontalScrollBar().setValue(self.horizontalScrollBar().value() - int(delta.x()))
            self.verticalScrollBar().setValue(self.verticalScrollBar().value() - int(delta.y()))
            return
        super().mouseMoveEvent(event)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        if self._pan_from is not None:
            self._pan_from = None
            self.setCursor(Qt.OpenHandCursor if self._space else Qt.ArrowCursor)
            return
        super().mouseReleaseEvent(event)

    # ----- drops from the palette --------------------------------------------------------------
    def dragEnterEvent(self, event) -> None:
        if event.mimeData().hasFormat(MIME):
            event.acceptProposedAction()
        else:
            super().dragEnterEvent(event)

    def dragMoveEvent(self, event) -> None:
        if event.mimeData().hasFormat(MIME):
            event.acceptProposedAction()
        else:
            super().dragMoveEvent(event)

    def dropEvent(self, event) -> None:
        if not event.mimeData().hasFormat(MIME):
            return super().dropEvent(event)
        role, activation, feature = parse_kind(bytes(event.mimeData().data(MIME)).decode())
        pos = self.mapToScene(event.position().toPoint())
        self.canvas.add_neuron_at(role, activation or None, pos, feature)
        event.acceptProposedAction()
