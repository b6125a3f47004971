"""What the net makes of the data: for 2-input data the output over the input plane with the
train and test points on it (the decision boundary); for 1-input data the fitted curve; for
sequence data a chosen sequence's prediction against its target over time (sequence_view)."""
from __future__ import annotations

import time

import numpy as np
import pyqtgraph as pg
from PySide6.QtWidgets import QLabel, QStackedWidget, QVBoxLayout, QWidget

from core.engine import forward, predict
from core.losses import predictions
from core.network import NetworkError
from core.neuron_maps import plane_grid
from core.training.live_state import LiveState
from core.training.progress import Progress
from gui.map_colours import PALETTE, class_colours, signed_colours
from gui.live.plot_tools import on_screen
from gui.live.sequence_view import SequenceView

GRID = 60
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
        self.sequences = SequenceView()
        self.sequences.part.currentIndexChanged.connect(self._on_sequence_chosen)
        self.sequences.index.valueChanged.connect(self._on_sequence_chosen)
        self.stack = QStackedWidget()  # the plot of rows, or of a sequence
        self.stack.addWidget(self.plot)
        self.stack.addWidget(self.sequences)
        self.note = QLabel("")
        self.note.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.stack, 1)
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
        self.sequences.clear()
        self.note.setText("")
        self.refresh()

    def showEvent(self, event) -> None:
        super().showEvent(event)
        self.catch_up()

    @property
    def shown_plot(self):
        """The plot on show: of the rows, or of the chosen sequence."""
        return self.sequences.plot if self.stack.currentWidget() is self.sequences else self.plot

    def catch_up(self) -> None:
        """Brought on screen (shown, or its dock's tab chosen), or about to be exported:
        draw what is now, on screen or not."""
        self._drawn_at = 0.0
        self.refresh(self.live.progress, hidden_too=True)

    def show_neuron(self, nid: str) -> None:
        """Hovering a neuron on the canvas: its own output over the input plane."""
        self.hovered = nid or None
        self._drawn_at = 0.0
        self.refresh(self.live.progress)

    def _on_sequence_chosen(self) -> None:
        self._drawn_at = 0.0
        self.refresh(self.live.progress)

    def refresh(self, progress: Progress | None = None, hidden_too: bool = False) -> None:
        """Draw the live state; while training, at most every MIN_SECONDS (`progress`: the
        one that asks for this drawing); behind a tab not at all unless `hidden_too`."""
        data = self.live.data
        now = time.monotonic()
        if data is None or not (hidden_too or on_screen(self)) or (
                progress is not None and progress.running and now - self._drawn_at < MIN_SECONDS):
            return
        self._drawn_at = now
        self.stack.setCurrentWidget(self.sequences if data.is_sequence else self.plot)
        if not data.is_sequence and data.n_inputs not in (1, 2):  # said before compiling: a
            # 784-input plan cost the window 0.15-0.6 s after every structure edit
            self.note.setText(f"{data.n_inputs} inputs: no picture of the input space.")
            return
        try:
            plan = self.live.plan
        except NetworkError as exc:
            self.note.setText(f"No predictions: {exc}")
            return
        problem = plan.column_mismatch(data.n_inputs)
        if problem:
            self.note.setText(f"No predictions: {problem}.")
            return
        params = self.live.params()
        loss = self.live.loss
        if data.is_sequence:
            self.note.setText(self.sequences.draw(plan, params, data, loss))
        elif data.n_inputs == 2:
            self._plane(plan, params, data, loss)
        else:
            self._line(plan, params, data, loss)

    def _plane(self, plan, params, data, loss) -> None:
        plane = plane_grid(data, GRID)  # the plane of the neurons' maps on the canvas too
        lo, hi, grid = plane.lo, plane.hi, plane.points
        grid = plan.inputs_from(grid)  # the plane is the data's columns; the net reads features
        if self.hovered in plan.row:
            a = forward(plan, params, grid).a[plan.row[self.hovered]]
            rgb = signed_colours(a / max(float(np.abs(a).max()), 1e-12))
            name = self.live.network.neurons[self.hovered].name
            note = (f"Background: the output of neuron {name} over the input plane "
                    f"(blue positive, orange negative; largest |a| = {np.abs(a).max():.3g}).")
        else:
            rgb = class_colours(predictions(loss, predict(plan, params, grid)))
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
        out = predictions(loss, predict(plan, params, plan.inputs_from(grid)))
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

