"""The Data panel's picture of sequence data: one chosen sequence's prediction against its
target over the time steps, at the current weights.

Up to LINES outputs: one colour per output, the target dashed, the prediction solid. More (the
embedded Reber grammar's 7 symbols): a heatmap of the predictions, outputs by steps, with the
target's 1s ringed, which stays readable where seven pairs of lines would not. Padded steps
(the mask's False) are left out of both."""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QSpinBox, QVBoxLayout, QWidget

from core.data.dataset import Dataset
from core.engine.plan import Params, Plan
from core.engine.recurrent import sequence_predict
from core.losses import predictions
from core.training.trainer import inputs_of
from gui.live.plot_tools import plain_numbers
from gui.map_colours import PALETTE

LINES = 4  # outputs drawn as lines; more are a heatmap
LABEL_PIXELS = 13  # height of an output's name on the heatmap's axis
PARTS = {"training": ("x_train", "y_train", "mask_train"),
         "test": ("x_test", "y_test", "mask_test")}
HEAT = pg.ColorMap([0.0, 1.0], [(255, 255, 255), (47, 111, 222)])


def predicted_sequence(plan: Plan, params: Params, x_seq: np.ndarray, loss: str) -> np.ndarray:
    """What the net predicts at each step of one sequence (steps x inputs): (steps x outputs),
    the outputs' activations (softmax of them for softmax_ce), from a zero state."""
    out = sequence_predict(plan, params, np.asarray(inputs_of(plan, x_seq[None]), float))
    return predictions(loss, out[0])


def part_of(data: Dataset, part: str) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """(x, y, mask) of the training or test sequences."""
    return tuple(getattr(data, name) for name in PARTS[part])


class SequenceView(QWidget):
    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.part = QComboBox()
        self.part.addItems(list(PARTS))
        self.part.setToolTip("Draw a training or a test sequence")
        self.index = QSpinBox()
        self.index.setMinimum(1)
        self.index.setToolTip("Which sequence of the set")
        self.of = QLabel("")
        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(QLabel("Sequence"))
        row.addWidget(self.part)
        row.addWidget(self.index)
        row.addWidget(self.of)
        row.addStretch(1)
        self.plot = pg.PlotWidget(background="w")
        self.plot.showGrid(x=True, y=True, alpha=0.25)
        self.plot.setLabel("bottom", "time step")
        plain_numbers(self.plot)
        self.legend = self.plot.addLegend(offset=(-10, 10), labelTextSize="9pt",
                                          labelTextColor="#222", brush=(255, 255, 255, 190))
        self.image = pg.ImageItem(axisOrder="row-major")
        self.plot.addItem(self.image)
        self.marks = pg.ScatterPlotItem(size=11, symbol="o", brush=None,
                                        pen=pg.mkPen("#e0582b", width=2))
        self.plot.addItem(self.marks)
        self.lines: list[tuple[pg.PlotDataItem, pg.PlotDataItem]] = []
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(row)
        layout.addWidget(self.plot, 1)
        self.shown: tuple[np.ndarray, np.ndarray] | None = None  # (predicted, target) drawn

    def chosen(self, data: Dataset) -> tuple[str, int]:
        """The part and the sequence's row the chooser names, its range fitted to `data`."""
        part = self.part.currentText()
        n = len(part_of(data, part)[0])
        self.index.setMaximum(max(1, n))
        self.index.setEnabled(n > 0)
        self.of.setText(f"of {n:,}")
        return part, min(self.index.value(), n) - 1

    def draw(self, plan: Plan, params: Params, data: Dataset, loss: str) -> str:
        """Draw the chosen sequence; the note to show under the plot."""
        part, row = self.chosen(data)
        if row < 0:
            self.clear()
            return f"The {part} set has no sequences."
        x, y, mask = part_of(data, part)
        steps = np.flatnonzero(mask[row]) if mask is not None else np.arange(x.shape[1])
        predicted = predicted_sequence(plan, params, x[row], loss)
        target = np.array(y[row], float)  # a copy: padding is blanked below
        hidden = np.ones(len(target), bool)
        hidden[steps] = False
        predicted[hidden] = target[hidden] = np.nan  # padding: left out
        self.shown = (predicted, target)
        names = data.target_names
        if target.shape[1] <= LINES:
            self._lines(predicted, target, names)
            what = f" {names[0]}" if len(names) == 1 else " (a colour per output)"
            return f"Solid: predicted{what}; dashed: target; {len(steps)} steps."
        self._heatmap(predicted, target, names)
        return f"Blue: predicted (white 0, blue 1); rings: the target's 1s; {len(steps)} steps."

    def clear(self) -> None:
        self.shown = None
        self.legend.clear()
        self.image.clear()
        self.marks.setData([], [])
        for solid, dashed in self.lines:
            solid.setData([], [])
            dashed.setData([], [])

    def _lines(self, predicted: np.ndarray, target: np.ndarray, names: list[str]) -> None:
        self.image.clear()
        self.marks.setData([], [])
        self.legend.clear()
        while len(self.lines) < predicted.shape[1]:
            colour = tuple(PALETTE[len(self.lines) % len(PALETTE)])
            self.lines.append((
                self.plot.plot(pen=pg.mkPen(colour, width=2.5), connect="finite"),
                self.plot.plot(pen=pg.mkPen(colour, width=1.5, style=pg.QtCore.Qt.DashLine),
                               connect="finite")))
        t = np.arange(1, len(predicted) + 1)
        for j, (solid, dashed) in enumerate(self.lines):
            if j < predicted.shape[1]:
                solid.setData(t, predicted[:, j])
                dashed.setData(t, target[:, j])
                if predicted.shape[1] > 1:  # one output: the note says which line is which
                    self.legend.addItem(solid, names[j] if j < len(names) else f"output {j + 1}")
            else:
                solid.setData([], [])
                dashed.setData([], [])
        self.plot.getAxis("left").setTicks(None)
        self.plot.setLabel("left", "value")
        self.plot.invertY(False)
        self.plot.enableAutoRange()

    def _heatmap(self, predicted: np.ndarray, target: np.ndarray, names: list[str]) -> None:
        for solid, dashed in self.lines:
            solid.setData([], [])
            dashed.setData([], [])
        self.legend.clear()
        n_steps, n_out = predicted.shape
        shown = np.nan_to_num(predicted.T, nan=0.0)  # padding: white
        self.image.setImage(shown, levels=(0.0, 1.0), lut=HEAT.getLookupTable(nPts=256))
        self.image.setRect(pg.QtCore.QRectF(0.5, -0.5, n_steps, n_out))
        steps, outs = np.nonzero(np.nan_to_num(target, nan=0.0) > 0.5)
        self.marks.setData(steps + 1.0, outs.astype(float))
        # every output named where the rows are tall enough for a label, else every few
        every = max(1, int(np.ceil(LABEL_PIXELS * n_out / max(1, self.plot.height() - 40))))
        self.plot.getAxis("left").setTicks(
            [[(j, names[j] if j < len(names) else str(j + 1)) for j in range(0, n_out, every)],
             []])
        self.plot.setLabel("left", "output")
        self.plot.invertY(True)  # the first output at the top, as the outputs are listed
        # To the sequence's last step: padding comes at the end, and a short sequence of a
        # padded set filled a quarter of the width.
        valid = np.flatnonzero(~np.isnan(target).all(axis=1))
        last = int(valid[-1]) + 1 if valid.size else n_steps
        self.plot.setRange(xRange=(0.5, last + 0.5), yRange=(-0.5, n_out - 0.5), padding=0)
