"""Sharpness: the Hessian's top eigenvalue (lambda_max) of the full-batch training loss over
the run's steps, with the line 2/eta, the edge of stability (core/training/sharpness.py).

The estimates are made in the training process while this panel is on screen (its dock tells
the controller); each Progress carries the run's estimates so far with their steps, so this
panel only draws: one curve and one line, updated with setData and setValue."""
from __future__ import annotations

from html import escape

import numpy as np
import pyqtgraph as pg
from PySide6.QtWidgets import QLabel, QWidget

from core.curvature import OVERSHOOT
from core.network import NetworkError
from core.number_text import fmt
from core.training.live_state import LiveState
from core.training.progress import Progress
from core.training.sharpness import SharpnessReport, edge_of_stability, refusal_for
from gui.live.help_page import HelpPage
from gui.live.plot_tools import legend_where_room, on_screen, plain_numbers

LINE_COLOUR = "#c0392b"
EMPTY_SUMMARY = ("λmax, the sharpness of the training loss, is estimated while this panel is "
                 "on screen: press Run (Space) or Step.")
LINE_LABEL = "2/η = {limit}"
LINE_LEGEND = "edge of stability 2/η: plain gradient descent is stable only below this line"
HELP = f"""
<p><b>What the curve shows.</b> The sharpness of the training loss: its largest curvature in
any direction of parameter space, the top eigenvalue λmax of the Hessian of the full-batch
training loss. It is estimated every few steps while this panel is on screen, taking about a
tenth of the training time (Lanczos on Hessian-vector products, started from the last
estimate's direction). Each point is drawn at the step it was computed at. On more than 1,000
training samples the loss is taken over a fixed subsample of 1,000.</p>
<p><b>On sequences</b> (a recurrent net) the loss is the training loss through time, at every
step or at the last as the project's training.sequence_loss says, and each Hessian-vector
product is two gradients by full backpropagation through time (never truncated: a truncated
gradient is not the loss's). More than 5,000 time steps in all are represented by a fixed
subsample of whole sequences.</p>
<p><b>The dashed line</b> is 2/η, for the learning rate η. {escape(OVERSHOOT)}</p>
<p>So full-batch gradient descent cannot stay above the line for long. Cohen et al. (2021,
"Gradient Descent on Neural Networks Typically Occurs at the Edge of Stability") found that
λmax typically rises during training until it reaches the line, and then hovers there, at the
<i>edge of stability</i>, while the loss keeps falling in fits and starts: each time the net
gets sharper than 2/η it starts to oscillate along its sharpest direction, and the run moves
back to flatter ground (why it does is still being studied).</p>
<p><b>Other optimisers.</b> The line is the limit of plain gradient descent. With momentum β
the limit is (2 + 2β)/η, higher than the line; minibatch steps are noisy and usually keep the
sharpness below it; Adam and RMSprop scale each parameter's step by their own factor, so this
line is not their limit.</p>
<p><b>See it yourself.</b> Open the Regression 1-8-1 example (assets/examples/regression.json),
set Optimiser to sgd, Learning rate to 0.1 and Batch size to 0 (full batch), and press Run:
λmax climbs from about 8 to the line at 20 within about 2,000 steps and stays there. Halve the
rate and the line moves up to 40; the net sharpens further before it meets it.</p>
"""


class SharpnessPanel(QWidget):
    def __init__(self, live: LiveState, parent=None) -> None:
        super().__init__(parent)
        self.live = live
        self.summary = QLabel(EMPTY_SUMMARY)
        self.summary.setWordWrap(True)
        self.plot = pg.PlotWidget(background="w")
        self.plot.showGrid(x=True, y=True, alpha=0.25)
        self.plot.setLabel("bottom", "step")
        self.plot.setLabel("left", "λmax")  # short: the summary and help say what it is
        plain_numbers(self.plot)
        item = self.plot.getPlotItem()
        item.setDownsampling(auto=True, mode="peak")
        item.setClipToView(True)
        item.disableAutoRange()  # the ranges hold the curve and the line: see _fit
        # Bottom right: where a curve that rises to the line is not.
        legend = self.plot.addLegend(offset=(-10, -10))
        self.curve = self.plot.plot(name="λmax, at the step it was estimated",
                                    pen=pg.mkPen("#2f6fde", width=2), symbol="o",
                                    symbolSize=4, symbolBrush="#2f6fde", symbolPen=None)
        dashed = pg.mkPen(LINE_COLOUR, width=2, style=pg.QtCore.Qt.DashLine)
        self.line = pg.InfiniteLine(angle=0, movable=False, pen=dashed)
        self.plot.addItem(self.line, ignoreBounds=True)
        # The line's value as the one tick of the right axis, level with it: inside the plot
        # a label sat where the curve crosses the line on its way up.
        self.plot.showAxis("right")
        self.line_axis = self.plot.getAxis("right")
        self.line_axis.setTextPen(LINE_COLOUR)
        self._line_key = pg.PlotDataItem(pen=dashed)  # the legend's sample of the line only
        legend.addItem(self._line_key, LINE_LEGEND)
        legend_where_room(self.plot)
        self.help_page = page = HelpPage(self, self.summary, self.plot, HELP,
                                         "Why the line is at 2/η, and how to see the "
                                         "edge of stability yourself")
        self.help_button, self.help, self.stack = page.button, page.page, page.stack
        self._latest: Progress | None = None  # the progress to draw when next shown
        self.reset()

    # ----- what the window tells it --------------------------------------------------------------
    def reset(self) -> None:
        """A new run (Reset weights, other data, another document): no point of the old one."""
        self._latest = None
        self.curve.setData([], [])
        self.curve.setVisible(False)
        self._draw()

    def show_progress(self, p: Progress) -> None:
        """Draw `p`'s estimates; a hidden panel only keeps it for when it is shown."""
        self._latest = p
        if on_screen(self):
            self._draw()

    def catch_up(self) -> None:
        """Brought on screen (its dock shown or its tab chosen): draw the run as it is."""
        self._draw()

    def settings_changed(self) -> None:
        """The learning rate (or its decay) may have changed: the line moves."""
        self._draw()

    # ----- drawing -------------------------------------------------------------------------------
    @property
    def line_label(self) -> str:
        """The line's value, as its axis says it ('' without a line)."""
        limit = self.limit
        return LINE_LABEL.format(limit=fmt(limit)) if limit is not None else ""

    @property
    def limit(self) -> float | None:
        """2/eta at the latest step shown (None when the rate is 0)."""
        p = self._latest
        return edge_of_stability(self.live.settings, p.step, p.epoch) if p else \
            edge_of_stability(self.live.settings)

    def _draw(self) -> None:
        p = self._latest
        report = p.sharpness if p is not None else None
        limit = self.limit
        self.line.setVisible(limit is not None)
        if limit is not None:
            self.line.setValue(limit)
        self.line_axis.setTicks([[(limit, self.line_label)] if limit is not None else [], []])
        has_values = report is not None and len(report.values) > 0
        self.curve.setVisible(has_values)
        if has_values:
            self.curve.setData(report.steps, report.values)
        self._fit(report if has_values else None, p.step if p else 0, limit)
        self.summary.setText(self._summary(p, report, limit))

    def _fit(self, report: SharpnessReport | None, step: int, limit: float | None) -> None:
        """Ranges that hold every estimate and the line (an InfiniteLine has no bounds of its
        own for auto-range to see), from step 0 to the run's latest."""
        last = int(report.steps[-1]) if report is not None else 0
        self.plot.setXRange(0, max(10, step, last), padding=0.02)
        values = report.values if report is not None else np.zeros(0)
        shown = values[np.isfinite(values)]
        top = max(float(shown.max()) if shown.size else 0.0, limit if limit is not None else 1.0)
        bottom = min(0.0, float(shown.min()) if shown.size else 0.0)
        self.plot.setYRange(bottom, top * 1.12 if top > 0 else 1.0, padding=0)

    def _summary(self, p: Progress | None, report: SharpnessReport | None,
                 limit: float | None) -> str:
        try:
            why_not = refusal_for(self.live.plan)
        except NetworkError as exc:
            return f"Nothing to measure: {exc}"
        if why_not:
            return why_not
        line = (f"2/η = {fmt(limit)} (η = {fmt(2 / limit)})" if limit is not None else
                "learning rate 0: no line")
        if report is None or len(report.values) == 0:
            problem = report.problem if report is not None else ""
            return f"{problem or EMPTY_SUMMARY}  ·  {line}"
        value, step = float(report.values[-1]), int(report.steps[-1])
        text = f"λmax = {fmt(value)} at step {step:,}  ·  {line}"
        if limit is not None:
            text += f": λmax is {value / limit:.2f} of it"
        sampled = "all" if report.samples == report.total_samples else \
            f"a fixed {report.samples:,} of the"
        text += (f".  Estimates took {100 * report.share:.0f}% of the training time, on "
                 f"{sampled} {report.total_samples:,} training {report.unit}.")
        if not self._plain_full_batch():
            text += " The line is the limit of full-batch plain gradient descent (sgd, batch " \
                    "size 0); see What is this?"
        if report.problem:
            text += f" {report.problem}"
        return text

    def _plain_full_batch(self) -> bool:
        s, data = self.live.settings, self.live.data
        full = s.batch_size <= 0 or (data is not None and s.batch_size >= len(data.x_train))
        return s.optimizer == "sgd" and full

