"""Racing optimisers on the loss-surface plot: each racer's path projected into the panel's
plane, in its own colour, with its final loss in the legend."""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg

from core.training.race import PLANE_NEWTON, Racer

# Distinct on viridis (dark blue to yellow) and for common colour blindness.
# SGD is lime, not white: white is the training path's own colour.
COLOURS = {"sgd": "#b6ff3b", "momentum": "#ff4f9a", "nesterov": "#ff9f1c",
           "adagrad": "#b8f2e6", "rmsprop": "#ff3b30", "adam": "#1cc8ff",
           "newton": "#ffd60a", PLANE_NEWTON: "#c77dff"}


class RaceLayer:
    def __init__(self, plot: pg.PlotWidget) -> None:
        self.plot = plot
        self.racers: list[Racer] = []
        self.items: list[pg.PlotDataItem] = []
        self.legend: pg.LegendItem | None = None
        plot.getPlotItem().vb.sigResized.connect(self._fit_legend)

    def set_racers(self, racers: list[Racer]) -> None:
        self.racers = racers

    def clear(self) -> None:
        self.racers = []
        self._remove_items()

    def coordinates(self, plane) -> list[np.ndarray]:
        """Each racer's path in the plane's coordinates (empty if it was raced on another
        network: its parameter count differs)."""
        return [plane.coordinates(r.thetas) if r.thetas.shape[1] == len(plane.center)
                else np.zeros((0, 2)) for r in self.racers]

    def draw(self, plane) -> None:
        self._remove_items()
        paths = self.coordinates(plane) if plane is not None else []
        if not any(len(xy) for xy in paths):  # none raced on this network
            return
        self.legend = pg.LegendItem(offset=(5, 2), labelTextColor="w",
                                    brush=pg.mkBrush(0, 0, 0, 140), verSpacing=-6,
                                    horSpacing=12)
        self.legend.setParentItem(self.plot.getPlotItem().vb)
        for racer, xy in zip(self.racers, paths):
            if not len(xy):
                continue
            colour = COLOURS.get(racer.optimizer, "#ffffff")
            with np.errstate(all="ignore"):
                item = self.plot.plot(xy[:, 0], xy[:, 1], pen=pg.mkPen(colour, width=2),
                                      connect="finite")
            end = pg.ScatterPlotItem([xy[-1, 0]], [xy[-1, 1]], size=9,
                                     brush=pg.mkBrush(colour), pen=pg.mkPen("k"))
            self.plot.addItem(end)
            self.items += [item, end]
            note = "diverged" if racer.diverged else f"loss {racer.final_loss:.3g}"
            self.legend.addItem(item, f"{racer.optimizer}: {note}")
        self._fit_legend()

    def _fit_legend(self, *_) -> None:
        """Along the top, as few rows as fit the plot's width: a column per racer keeps the
        plot itself visible; fewer columns while the legend is wider than the plot (found
        under Xvfb: five racers in three columns cut the third column's names off at the
        plot's edge), worked out anew when the plot is resized."""
        if self.legend is None or not self.legend.items:
            return
        room = self.plot.getPlotItem().vb.width()
        columns = len(self.legend.items)
        self.legend.setColumnCount(columns)
        while columns > 1 and self.legend.boundingRect().width() > room:
            columns -= 1
            self.legend.setColumnCount(columns)

    def _remove_items(self) -> None:
        for item in self.items:
            self.plot.removeItem(item)
        self.items = []
        if self.legend is not None and self.legend.scene() is not None:
            self.legend.scene().removeItem(self.legend)
        self.legend = None
