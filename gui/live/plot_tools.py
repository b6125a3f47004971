"""Small helpers the live plots share."""
from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtWidgets import QWidget


def on_screen(widget: QWidget) -> bool:
    """Whether any of the widget shows. A dock behind another dock's tab stays isVisible()
    (Qt only moves it out of sight): its visible region is what is empty."""
    return widget.isVisible() and not widget.visibleRegion().isEmpty()


def settle_ranges(*plots: pg.PlotWidget) -> None:
    """Bring the plots' auto-ranges up to date now, after their data changed.

    pyqtgraph otherwise works the range out at the start of the next paint; the new range
    then redraws the axes, which asks for a second paint right after the first (a live loss
    plot painted twice per training frame, about 10 ms each)."""
    for plot in plots:
        if plot.isVisible():
            plot.scene().prepareForPaint()
