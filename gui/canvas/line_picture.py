"""Many lines in a few colours as an image of the view, drawn in slices (gui/slices.py).

Qt's raster engine draws a one-pixel line at 20-40 ns a pixel: the 8,000 edges a big graph
shows took 75-180 ms at once, on every training frame and edit that changed them. Here they
are drawn into an image for the view's transform a few hundred at a time between other
events, and painting blits the last finished image. Until the new one is finished the old
one stays on screen, mapped through the new transform if the view has zoomed or panned
since (blurred or cut off for a moment, never wrong in place).
"""
from __future__ import annotations

from typing import Callable, Iterator, Sequence

from PySide6.QtCore import QLineF, QPointF, Qt
from PySide6.QtGui import QImage, QPainter, QPen, QTransform

from gui.slices import Slices

LINES_PER_UNIT = 250  # lines drawn between two looks at the clock (about 3 ms on one core)


class LinePicture:
    """Sets of lines, each set in its pen, as an image for one view: its transform, size and
    pixel ratio."""

    def __init__(self, on_ready: Callable[[], None]) -> None:
        self.on_ready = on_ready  # a new image is finished: the owner repaints
        self.slices = Slices()
        self.slices.finished.connect(self._on_finished)
        self.image: QImage | None = None
        self.key: tuple | None = None  # (transform, width, height, pixel ratio) of the image
        self._transform = QTransform()  # the image's transform
        self._sets: Sequence[tuple[Sequence[QLineF], QPen]] = ()
        self._job_key: tuple | None = None  # what the running job draws for
        self._stale = False  # the lines changed since the running job began
        self._view: tuple | None = None  # (transform, key) of the last view painted

    def set_lines(self, sets: Sequence[tuple[Sequence[QLineF], QPen]]) -> None:
        """New lines: drawn for the last view painted once the running job (if any) is done,
        so a stream of updates (training frames) still finishes pictures."""
        self._sets = sets
        if self.slices.running:
            self._stale = True
        elif self._view is not None:
            self._start(*self._view)

    def paint(self, painter: QPainter, width: int, height: int, ratio: float) -> None:
        """The latest image, mapped onto the painter's view; a new one is begun if the view
        differs from the image's."""
        transform = painter.worldTransform()
        key = (_numbers(transform), width, height, ratio)
        self._view = (transform, key)
        if key != self.key and key != self._job_key:
            self._start(transform, key)
        if self.image is None:
            return
        painter.save()
        if key == self.key:  # made for this view: pixel for pixel
            painter.resetTransform()
        else:  # image pixel -> scene (the image's inverse transform) -> this view
            painter.setWorldTransform(self._transform.inverted()[0] * transform)
        painter.drawImage(QPointF(0, 0), self.image)
        painter.restore()

    def clear(self) -> None:
        """Forget the image and any job (the lines are gone)."""
        self.slices.cancel()
        self.image = self.key = self._job_key = None

    def _start(self, transform: QTransform, key: tuple) -> None:
        self._job_key, self._stale = key, False
        self.slices.start(self._draw(self._sets, transform, key))

    def _draw(self, sets, transform: QTransform, key: tuple) -> Iterator[None]:
        _, width, height, ratio = key
        image = QImage(max(1, round(width * ratio)), max(1, round(height * ratio)),
                       QImage.Format_ARGB32_Premultiplied)
        image.setDevicePixelRatio(ratio)
        image.fill(Qt.transparent)
        painter = QPainter(image)
        try:
            painter.setRenderHint(QPainter.Antialiasing, False)
            painter.setWorldTransform(transform)
            for lines, pen in sets:
                painter.setPen(pen)
                for start in range(0, len(lines), LINES_PER_UNIT):
                    painter.drawLines(lines[start:start + LINES_PER_UNIT])
                    yield
        finally:
            painter.end()
        self.image, self.key, self._transform = image, key, QTransform(transform)

    def _on_finished(self) -> None:
        self._job_key = None
        if self._stale and self._view is not None:
            self._start(*self._view)
        self.on_ready()


def draw_lines(painter: QPainter, sets: Sequence[tuple[Sequence[QLineF], QPen]]) -> None:
    """The lines at once (a picture export: lines in the file, not pixels)."""
    painter.setRenderHint(QPainter.Antialiasing, False)
    for lines, pen in sets:
        painter.setPen(pen)
        painter.drawLines(lines)


def _numbers(t: QTransform) -> tuple[float, ...]:
    return (t.m11(), t.m12(), t.m13(), t.m21(), t.m22(), t.m23(), t.m31(), t.m32(), t.m33())
