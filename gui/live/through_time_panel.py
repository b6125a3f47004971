"""Through time: how much of the error at a sequence's last step reaches each step before it,
on a log axis (core/training/through_time.py): the vanishing and exploding gradient, seen.

The training process computes the curve while this panel is on screen (its dock tells the
controller) and each Progress carries the one of its step, so this panel only draws: the
latest curve strong, and a few of earlier steps faded, kept at steps at least twice apart, so
a long run still shows how the curve moved."""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtWidgets import QLabel, QWidget

from core.network import NetworkError
from core.number_text import fmt
from core.training.live_state import LiveState
from core.training.progress import Progress
from core.training.through_time import (MAX_SEQUENCES, NEEDS, ThroughTime, ThroughTimeReport,
                                        problem_for)
from gui.live.help_page import HelpPage
from gui.live.plot_tools import on_screen

EARLIER = 4  # faded curves of earlier steps
LATEST_PEN = pg.mkPen("#2f6fde", width=2.5)
EARLIER_COLOUR = (47, 111, 222)
EMPTY_SUMMARY = ("How much of the error at each sequence's last step reaches the steps before "
                 "it is measured while this panel is on screen: press Run (Space) or Step.")
VANISHED, EXPLODED = 1e-3, 1e3  # the summary's words for how much arrives
HELP = f"""
<p><b>What the curve shows.</b> At each training step, the last minibatch's sequences (up to
{MAX_SEQUENCES}) are run forward, and the error at each sequence's last step T alone is
propagated back through time. For k = 0, 1, 2, ... steps back, the curve is the size (the
norm over all neurons) of the gradient of that error with respect to the neurons' outputs at
step T&minus;k, averaged over the sequences. The vertical axis is logarithmic: a straight line
falling means the gradient shrinks by the same factor at every step back.</p>
<p><b>Vanishing.</b> Each step back multiplies the gradient by the recurrent weights times the
slope f'(z) of the neurons at that step. With one self-loop of weight w on a tanh neuron that
factor is w&middot;f'(z) &le; |w|, so with |w| &lt; 1 it falls geometrically: after 50 steps
0.5<sup>50</sup> &asymp; 1e-15. The weights then learn nothing from what happened far back: a
plain recurrent net cannot learn long memories. A sigmoid's slope is at most 0.25, so it
vanishes faster still; ReLU's slope is 1 where it is active, so only the weights decide.</p>
<p><b>Exploding.</b> With |w&middot;f'| &gt; 1 (w = 1.5 on a neuron working in its linear part)
the gradient grows geometrically going back, and one step of training can throw the weights far
away. Clipping the gradient's norm (Clip norm in the Settings; Pascanu, Mikolov and Bengio
2013) bounds the step without changing its direction, which is what makes plain recurrent
nets trainable on long sequences. Truncated backpropagation (training.bptt_steps) cuts the
gradient at the start of each window; this curve is always the full one.</p>
<p><b>See it yourself.</b> One tanh neuron with a delayed self-loop on 50-step sequences: with
the loop's weight at 0.5 the curve falls below 1e-15 at step 1. At 1.5 a tanh neuron
saturates (its slope there makes 1.5&middot;f' about 0.4) and the gradient still vanishes; make
the neuron linear or ReLU and it explodes as 1.5<sup>k</sup>, unless Clip norm holds the steps
in check.</p>
"""


def reach_text(curve: ThroughTime) -> str:
    """How much of the error at the last step reaches the first, in words."""
    reach, length = curve.reach(), len(curve.norms)
    if reach is None:
        return "no error reaches any step (every gradient is 0)"
    k, ratio = reach
    if not np.isfinite(ratio):
        return f"the error at step {length} overflows on its way back to step {length - k} " \
               f"(it explodes)"
    if ratio == 0:
        return (f"none of the error at step {length} reaches step {length - k} (a slope or "
                f"weight of 0 on the way, e.g. a ReLU that is off)")
    word = "vanishes" if ratio < VANISHED else "explodes" if ratio > EXPLODED else "survives"
    return (f"the error at step {length} reaches step {length - k} at {fmt(ratio)} of its "
            f"size (it {word})")


class ThroughTimePanel(QWidget):
    def __init__(self, live: LiveState, parent=None) -> None:
        super().__init__(parent)
        self.live = live
        self.summary = QLabel(EMPTY_SUMMARY)
        self.summary.setWordWrap(True)
        self.summary.setToolTip(f"Measured on the last minibatch's sequences (up to "
                                f"{MAX_SEQUENCES}) at the weights of the step shown")
        self.plot = pg.PlotWidget(background="w")
        self.plot.showGrid(x=True, y=True, alpha=0.25)
        self.plot.setLabel("bottom", "steps back from the sequence's last step (k)")
        self.plot.setLabel("left", "|∂L/∂a|")  # short: a short dock has room for little
        self.plot.setLogMode(x=False, y=True)
        # the axis names each decade itself; a prefix ("x1e+15") would rescale them all
        self.plot.getAxis("left").enableAutoSIPrefix(False)
        self.earlier = []
        for i in range(EARLIER):  # the oldest the faintest
            alpha = 50 + 35 * i
            self.earlier.append(self.plot.plot(pen=pg.mkPen((*EARLIER_COLOUR, alpha), width=1.5),
                                               connect="finite"))
        self.latest = self.plot.plot(pen=LATEST_PEN, connect="finite", symbol="o", symbolSize=4,
                                     symbolBrush="#2f6fde", symbolPen=None)
        self.help_page = page = HelpPage(self, self.summary, self.plot, HELP,
                                         "How to read the curve: vanishing and exploding "
                                         "gradients, clipping")
        self.help_button, self.help, self.stack = page.button, page.page, page.stack
        self._latest: Progress | None = None  # the progress to draw when next shown
        self._kept: list[ThroughTimeReport] = []  # earlier curves, oldest first
        self.reset()

    # ----- what the window tells it --------------------------------------------------------------
    def reset(self) -> None:
        """A new run (Reset weights, other data, another document): no curve of the old one."""
        self._latest = None
        self._kept = []
        self._draw()

    def show_progress(self, p: Progress) -> None:
        """Draw `p`'s curve; a hidden panel only keeps it for when it is shown."""
        self._latest = p
        report = p.through_time
        if report is not None and report.curve is not None:
            self._keep(report)
        if on_screen(self):
            self._draw()

    def catch_up(self) -> None:
        """Brought on screen (its dock shown or its tab chosen): draw the run as it is."""
        self._draw()

    @property
    def curves(self) -> list[ThroughTimeReport]:
        """The curves drawn: the earlier ones, oldest first, then the latest."""
        return list(self._kept)

    # ----- drawing -------------------------------------------------------------------------------
    def _keep(self, report: ThroughTimeReport) -> None:
        """The latest always; an earlier one stays while the next kept is at least twice its
        step (so the faded curves span the run, not its last few frames)."""
        kept = self._kept
        if kept and kept[-1].step == report.step:
            kept[-1] = report
            return
        if len(kept) >= 2 and kept[-1].step < 2 * kept[-2].step:
            kept[-1] = report  # the latest so far was too close to the one before to stay
        else:
            kept.append(report)
        del kept[: max(0, len(kept) - EARLIER - 1)]

    def _draw(self) -> None:
        shown = self._kept
        for item in (*self.earlier, self.latest):
            item.setData([], [])
            item.setVisible(False)
        faded = len(shown) - 1  # the strongest of the faded pens for the most recent
        items = [*self.earlier[EARLIER - faded:], self.latest] if shown else []
        for item, report in zip(items, shown):
            norms = report.curve.norms
            # a log axis has no place for 0 (nor for an overflow): gaps in the line
            y = np.where((norms > 0) & np.isfinite(norms), norms, np.nan)
            if np.isnan(y).all():  # nothing to draw (and pyqtgraph warns of all-NaN bounds)
                continue
            item.setData(np.arange(len(norms)), y)
            item.setVisible(True)
        self._fit()
        self.summary.setText(self._summary())

    def _fit(self) -> None:
        """Ranges that hold every positive norm drawn (in log10 units, as a log axis counts);
        with none, three decades about 1, so the axis never stacks its labels on one point."""
        norms = [r.curve.norms for r in self._kept]
        values = np.concatenate(norms) if norms else np.zeros(0)
        values = values[(values > 0) & np.isfinite(values)]
        low, high = (np.log10(values.min()), np.log10(values.max())) if values.size else \
            (-1.0, 1.0)
        if high - low < 3:  # a log axis over less labels its minor ticks, on top of each other
            low, high = (low + high) / 2 - 1.5, (low + high) / 2 + 1.5
        self.plot.setYRange(low, high, padding=0.05)
        self.plot.setXRange(0, max([len(n) - 1 for n in norms], default=10) or 1, padding=0.02)

    def _summary(self) -> str:
        data = self.live.data
        try:
            needs = problem_for(self.live.plan, data is not None and data.is_sequence)
        except NetworkError as exc:
            return f"Nothing to measure: {exc}"
        if needs:
            return NEEDS
        p = self._latest
        report = p.through_time if p is not None else None
        if report is None or not self._kept:
            return (report.problem if report is not None and report.problem else EMPTY_SUMMARY)
        if report.curve is None:
            return report.problem
        curve = report.curve
        text = f"Step {report.step:,}: {reach_text(curve)}"
        text += f"; mean of {int(curve.counts[0])} sequences."
        earlier = [f"{r.step:,}" for r in self._kept[:-1]]
        if earlier:
            text += f" Faded: {', '.join(earlier)}."
        if report.problem:
            text += f" {report.problem}"
        if self.live.settings.bptt_steps:
            text += (f" Training truncates at {self.live.settings.bptt_steps} steps; this curve "
                     f"is the full gradient.")
        return text

