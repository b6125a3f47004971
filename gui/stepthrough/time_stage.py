"""The unrolled view in the canvas's place while step-through follows a sequence, and the
canvas back when it stops.

The window's central widget becomes a stack of the canvas and the unrolled view the first time
a sequence is stepped through (a feed-forward project never changes the window); the canvas
itself is kept, with its scene, zoom and selection, and shown again on leaving.
"""
from __future__ import annotations

from PySide6.QtWidgets import QStackedWidget

from core.network import Network
from core.stepthrough.over_time import TimeWalkthrough
from gui.stepthrough.unrolled_view import UnrolledView


class TimeStage:
    def __init__(self, window) -> None:
        self.window = window
        self.view: UnrolledView | None = None
        self.stack: QStackedWidget | None = None

    @property
    def showing(self) -> bool:
        return self.stack is not None and self.stack.currentWidget() is self.view

    def show(self, net: Network, walk: TimeWalkthrough) -> UnrolledView:
        if self.stack is None:
            self.view = UnrolledView()
            self.view.setObjectName("unrolled_view")
            canvas = self.window.takeCentralWidget()  # kept: takeCentralWidget does not delete
            self.stack = QStackedWidget()
            self.stack.addWidget(canvas)
            self.stack.addWidget(self.view)
            self.window.setCentralWidget(self.stack)
            self.stack.show()  # now, not at the layout's next turn
        self.view.show_walk(net, walk)
        self.stack.setCurrentWidget(self.view)
        return self.view

    def hide(self) -> None:
        if self.stack is not None:
            self.stack.setCurrentWidget(self.window.view)
            self.view.clear()  # its walkthrough may be of a document no longer open
