"""What the net makes of the data: for 2-input data the output over the input plane with the
train and test points on it (the decision boundary); for 1-input data the fitted curve."""
from __future__ import annotations

import time

import numpy as np
import pyqtgraph as pg
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from core.engine import forward, predict
from core.losses import predictions
from core.network import NetworkError
from core.training.live_state import LiveState
from core.training.progress import Progress
from gui.live.plot_tools import on_screen

GRID = 60
# One palette for the background and the points: class k is PALETTE[k] everywhere.
PALETTE = np.array([[224, 88, 43], [47, 111, 222], [60, 154, 95], [155, 89, 182],
                    [212, 160, 23], [22, 160, 133], [192, 57, 43], [90, 90, 90]], float)
MIN_SECONDS = 0.2  # the prediction map is redrawn at most 5 times a second
MAX_POINTS = 5000  # data points drawn, per part (train, test)
BRUSHES = [pg.mkBrush(*colour) for colour in PALETTE]  # one brush per class, shared


class DataPanel(QWidget):
    def __init__(self, live: LiveState, parent=None) -> None:
        super().__init__(parent)
        self.live = live
        self.plot = pg.PlotWidget(background="w")
        self.image = pg.ImageItem(axisOrder="row-major")
        self.plot.addItem(self.image)
        self.train_points = pg.ScatterPlotItem(size=7, pen=pg.mkPen("w", width=0.8))
        self.test_points = pg.ScatterPlotItem(size=8, symbol="t", pen=pg.mkPen("k", width=0.8))
        self.curve = self.plot.plot(pen=pg.mkPen("#2f6fde", width=2.5))
        self.plot.addItem(self.train_points)
        self.plot.addItem(self.test_points)
        self.note = QLabel("")
        self.note.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.plot, 1)
        layout.addWidget(self.note)
        self._points_for = None  # the dataset whose points are drawn
        self.hovered: str | None = None  # a neuron whose own output is shown instead
        self._drawn_at = 0.0

    def reset(self) -> None:
        """Another document or data set: nothing of the old one stays on the plot."""
        self._points_for = None
        self.hovered = None
        self._drawn_at = 0.0
        self.image.clear()
        self.curve.setData([], [])
        self.train_points.setData([], [])
        self.test_points.setData([], [])
        self.note.setText("")
        self.refresh()

    def showEvent(self, event) -> None:
        super().showEvent(event)
        self.catch_up()

    def catch_up(self) -> None:
        """Brought on screen (shown, or its dock's tab chosen): draw what is now."""
        self._drawn_at = 0.0
        self.refresh(self.live.progress)

    def show_neuron(self, nid: str) -> None:
        """Hovering a neuron on the canvas: its own output over the input plane."""
        self.hovered = nid or None
        self._drawn_at = 0.0
        self.refresh(self.live.progress)

    def refresh(self, progress: Progress | None = None) -> None:
        """Draw the live state; while training, at most every MIN_SECONDS (`progress`: the
        one that asks for this drawing)."""
        data = self.live.data
        now = time.monotonic()
        if data is None or not on_screen(self) or (
                progress is not None and progress.running and now - self._drawn_at < MIN_SECONDS):
            return
        self._drawn_at = now
        try:
            plan = self.live.plan
        except NetworkError as exc:
            self.note.setText(f"No predictions: {exc}")
            return
        if plan.n_inputs != data.n_inputs:
            self.note.setText("The network's inputs do not match the data.")
            return
        params = self.live.params()
        loss = self.live.loss
        if data.n_inputs == 2:
            self._plane(plan, params, data, loss)
        elif data.n_inputs == 1:
            self._line(plan, params, data, loss)
        else:
            self.note.setText(f"{data.n_inputs} inputs: no picture of the input space.")

    def _plane(self, plan, params, data, loss) -> None:
        x = np.vstack([data.x_train, data.x_test])
        lo, hi = x.min(axis=0), x.max(axis=0)
        pad = 0.1 * (hi - lo + 1e-9)
        lo, hi = lo - pad, hi + pad
        gx, gy = np.linspace(lo[0], hi[0], GRID), np.linspace(lo[1], hi[1], GRID)
        xx, yy = np.meshgrid(gx, gy)
        grid = np.stack([xx.ravel(), yy.ravel()], 1)
        if self.hovered in plan.row:
            a = forward(plan, params, grid).a[plan.row[self.hovered]]
            rgb = _signed_colours(a / max(float(np.abs(a).max()), 1e-12))
            name = self.live.network.neurons[self.hovered].name
            note = (f"Background: the output of neuron {name} over the input plane "
                    f"(blue positive, orange negative; largest |a| = {np.abs(a).max():.3g}).")
        else:
            rgb = _class_colours(predictions(loss, predict(plan, params, grid)))
            note = ("Background: the network's prediction over the input plane (hover a neuron "
                    "to see its own output). Circles: training points; triangles: test points.")
        self.image.setImage(rgb.reshape(GRID, GRID, 3), levels=(0, 255))
        self.note.setText(note)
        self.image.setRect(pg.QtCore.QRectF(lo[0], lo[1], hi[0] - lo[0], hi[1] - lo[1]))
        self.curve.setData([], [])
        if self._points_for is data:
            return
        self._points_for = data
        for item, xs, ys in ((self.train_points, *_shown(data.x_train, data.y_train)),
                             (self.test_points, *_shown(data.x_test, data.y_test))):
            cls = (ys[:, 0] > 0.5).astype(int) if ys.shape[1] == 1 else np.argmax(ys, 1)
            brushes = [BRUSHES[c % len(PALETTE)] for c in cls]
            item.setData(xs[:, 0], xs[:, 1], brush=brushes)

    def _line(self, plan, params, data, loss) -> None:
        self.image.clear()
        x = np.vstack([data.x_train, data.x_test])
        grid = np.linspace(x.min(), x.max(), 200)[:, None]
        out = predictions(loss, predict(plan, params, grid))
        self.curve.setData(grid[:, 0], out[:, 0])
        if self._points_for is data:
            return
        self._points_for = data
        x, y = _shown(data.x_train, data.y_train)
        self.train_points.setData(x[:, 0], y[:, 0], brush=pg.mkBrush("#9aa5b8"))
        x, y = _shown(data.x_test, data.y_test)
        self.test_points.setData(x[:, 0], y[:, 0], brush=pg.mkBrush("#e0582b"))
        self.note.setText("Line: the network's output; points: training (grey) and test (orange) data.")


def _shown(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """At most MAX_POINTS points, an even spread of them: a million scatter points froze the
    window for minutes, and past a few thousand they only cover each other."""
    if len(x) <= MAX_POINTS:
        return x, y
    keep = np.linspace(0, len(x) - 1, MAX_POINTS).astype(int)
    return x[keep], y[keep]


def _class_colours(out: np.ndarray) -> np.ndarray:
    """Each point's predicted class colour, faded towards white as the net is less sure."""
    if out.shape[1] == 1:  # one output: the probability of class 1
        p = np.clip(out[:, 0], 0.0, 1.0)[:, None]
        colour = (1 - p) * PALETTE[0] + p * PALETTE[1]
        sure = np.abs(2 * p - 1)
    else:
        k = np.argmax(out, 1)
        colour = PALETTE[k % len(PALETTE)]
        sure = ((out.max(1) - 1 / out.shape[1]) / (1 - 1 / out.shape[1]))[:, None]
    strength = 0.25 + 0.45 * np.clip(sure, 0, 1)  # light tints: the points stay readable
    return (255 * (1 - strength) + colour * strength).astype(np.uint8)


def _signed_colours(t: np.ndarray) -> np.ndarray:
    """White at 0, blue towards +1, orange towards -1 (the canvas's weight colours)."""
    t = np.clip(t, -1.0, 1.0)[:, None]
    end = np.where(t >= 0, PALETTE[1], PALETTE[0])
    k = 0.8 * np.abs(t)
    return (255 * (1 - k) + end * k).astype(np.uint8)
