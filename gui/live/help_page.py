"""A plot panel's "What is this?": a button that swaps the plot for a page of help and back,
and the panel's layout around them (its summary line and the button above the plot or the
page). The Sharpness and Through time panels explain themselves this way."""
from __future__ import annotations

from PySide6.QtWidgets import (QHBoxLayout, QLabel, QStackedWidget, QTextBrowser, QToolButton,
                               QVBoxLayout, QWidget)

ASK, BACK = "What is this?", "Back to the plot"


class HelpPage:
    """(The panel keeps it: its button's slot is one of its methods.)"""

    def __init__(self, panel: QWidget, summary: QLabel, plot: QWidget, html: str,
                 tip: str) -> None:
        self.button = QToolButton()
        self.button.setText(ASK)
        self.button.setCheckable(True)
        self.button.setToolTip(tip)
        self.button.toggled.connect(self._on_toggled)
        self.page = QTextBrowser()
        self.page.setHtml(html)
        self.page.setOpenLinks(False)
        self.stack = QStackedWidget()
        self.stack.addWidget(plot)
        self.stack.addWidget(self.page)
        top = QHBoxLayout()
        top.addWidget(summary, 1)
        top.addWidget(self.button)
        layout = QVBoxLayout(panel)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(top)
        layout.addWidget(self.stack, 1)

    def _on_toggled(self, on: bool) -> None:
        self.stack.setCurrentIndex(1 if on else 0)
        self.button.setText(BACK if on else ASK)
