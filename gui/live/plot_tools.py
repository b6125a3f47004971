"""Small helpers the live plots share."""
from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFrame, QScrollArea, QSplitter, QVBoxLayout, QWidget


def on_screen(widget: QWidget) -> bool:
    """Whether any of the widget shows. A dock behind another dock's tab stays isVisible()
    (Qt only moves it out of sight): its visible region is what is empty."""
    return widget.isVisible() and not widget.visibleRegion().isEmpty()


def plain_numbers(*plots: pg.PlotWidget) -> None:
    """Axes that print plain numbers (0.2, not "200" under an axis retitled "loss (x0.001)",
    whose title a short panel then cut to "loss (x0.")."""
    for plot in plots:
        for side in ("left", "bottom"):
            plot.getAxis(side).enableAutoSIPrefix(False)


def legend_where_room(plot: pg.PlotWidget, share: float = 0.5):
    """Keep the plot's legend from covering it: a column while it takes at most `share` of
    the plot's height, one row when a column would not, hidden when neither fits (a short
    panel: at 1024x700 the loss legend covered the curves and the sharpness legend was cut
    off at the plot's left edge; the panel's text says what the curves are). Worked out again
    whenever the plot is resized; returns the function, for a panel that adds entries."""
    box = plot.getViewBox()
    legend = plot.getPlotItem().legend

    def fit(*_) -> None:
        if legend is None or not legend.items:
            return
        height, width = box.height(), box.width()
        legend.setColumnCount(1)
        if legend.boundingRect().height() > share * height:
            legend.setColumnCount(len(legend.items))
        rect = legend.boundingRect()
        legend.setVisible(rect.height() <= share * height and rect.width() <= width - 20)

    box.sigResized.connect(fit)
    fit()
    return fit


def settle_ranges(*plots: pg.PlotWidget) -> None:
    """Bring the plots' auto-ranges up to date now, after their data changed.

    pyqtgraph otherwise works the range out at the start of the next paint; the new range
    then redraws the axes, which asks for a second paint right after the first (a live loss
    plot painted twice per training frame, about 10 ms each)."""
    for plot in plots:
        if plot.isVisible():
            plot.scene().prepareForPaint()


def plot_over_notes(plot: QWidget, *notes: QWidget) -> QSplitter:
    """The plot over its notes: the notes scroll, and the line between them drags, so a
    long text never squeezes the plot away."""
    holder = QWidget()
    column = QVBoxLayout(holder)
    column.setContentsMargins(0, 0, 0, 0)
    for note in notes:
        column.addWidget(note)
    column.addStretch(1)
    scroll = QScrollArea()
    scroll.setWidget(holder)
    scroll.setWidgetResizable(True)
    scroll.setFrameShape(QFrame.NoFrame)
    scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarAlwaysOff)  # the notes wrap instead
    scroll.setMinimumHeight(40)  # about two lines of the notes' 11-pixel text
    split = QSplitter(Qt.Vertical)
    split.addWidget(plot)
    split.addWidget(scroll)
    split.setStretchFactor(0, 3)
    split.setStretchFactor(1, 1)
    split.setSizes([700, 300])  # in proportion, once laid out
    split.setChildrenCollapsible(False)
    return split


def figure_plot(bottom: str, left: str = "", bottom_axis: pg.AxisItem | None = None
                ) -> pg.PlotWidget:
    """A white plot with a light grid and its two axes named, as the experiments' windows draw
    figures; axes print plain numbers (0.7, not "700" under an axis titled "loss (x0.001)")."""
    plot = pg.PlotWidget(background="w",
                         axisItems={"bottom": bottom_axis} if bottom_axis is not None else None)
    plot.showGrid(x=True, y=True, alpha=0.25)
    plot.setLabel("bottom", bottom)
    if left:
        plot.setLabel("left", left)
    plain_numbers(plot)
    return plot
