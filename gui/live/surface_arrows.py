"""The arrows at the current point of the loss-surface plot, the figures under it in plain
words, and the minibatch choices (issue 15).

Green: steepest descent, minus the gradient of the loss restricted to the plane through the
current weights. Red: Newton's step, -H^-1 g with that restricted loss's 2x2 Hessian: it ends
at the bottom of the quadratic model, when the model is a bowl; otherwise two dashed lines
along the principal curvature directions take its place. Orange: minus the last minibatch's
gradient, at the green arrow's scale (gui/live/arrow_layout.py: where each goes, and the
words). The numbers are core.surface.arrows_at's, computed on the panel's background thread
and drawn when they arrive.
"""
from __future__ import annotations

import math
import time
from html import escape

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QObject, Qt, QTimer, Signal
from PySide6.QtWidgets import QCheckBox, QComboBox, QHBoxLayout, QLabel, QWidget

from core import surface
from core.batch_loss import sample_of
from core.network import NetworkError
from core.surface import PlaneArrows
from core.training.minibatch_probe import MinibatchReport
from gui.live.arrow_layout import Layout, figures, layout

KEEP = 50  # checked steps the "went downhill" share is over (the process checks one a frame)
# While the point moves, the arrows are computed anew at most at this share of one core: on
# a small net (a few ms each) that is every drawn frame, on a 784-64-10 (65 ms) about two a
# second (bench/plane_curvature_speed.py).
DUTY = 0.1
COLOURS = {"descent": "#30d158", "newton": "#ff3b30", "minibatch": "#ff9f0a",
           "up": "#ff3b30", "down": "#64d2ff", "flat": "#ffffff"}
HEADED = ("descent", "newton", "minibatch")


# Plot height in pixels below which the principal directions go unlabelled.
LABEL_ROOM = 110


class SurfaceArrows(QObject):
    """The arrows, their toggles, the "Surface of" choice and the figures, for one plot."""

    computed = Signal(object)  # from the worker thread: _timed(...)'s tuple
    surface_changed = Signal()  # "Surface of" was changed: the panel computes a new grid

    def __init__(self, plot: pg.PlotWidget, live, training, pool, parent=None) -> None:
        super().__init__(parent)
        self.plot, self.live, self.training, self._pool = plot, live, training, pool
        self.show_arrows = QCheckBox("Arrows")
        self.show_arrows.setChecked(True)
        self.show_arrows.setToolTip("Green: steepest descent. Red: Newton's step, which "
                                    "takes the curvature into account")
        self.show_minibatch = QCheckBox("Minibatch")
        self.show_minibatch.setToolTip("Orange: the last minibatch's gradient beside the full "
                                       "one, and how often steps went downhill")
        self.surface_of = QComboBox()
        self.surface_of.addItem("training loss", "training")
        self.surface_of.addItem("last minibatch", "minibatch")
        # on a laptop's screen the row is under 400 pixels: the combo gives up width first
        self.surface_of.setSizeAdjustPolicy(QComboBox.AdjustToMinimumContentsLengthWithIcon)
        self.surface_of.setMinimumContentsLength(6)
        self.surface_of.setToolTip("Draw the loss of the whole training set, or of the "
                                   "minibatch of the last step (it moves from step to step)")
        self.controls = QWidget()  # one row, the first of the notes under the plot
        row = QHBoxLayout(self.controls)
        row.setContentsMargins(0, 0, 0, 0)
        row.setSpacing(6)
        for w in (self.show_arrows, self.show_minibatch):
            row.addWidget(w)
        row.addStretch(1)
        row.addWidget(QLabel("Surface of:"))
        row.addWidget(self.surface_of, 1)  # as wide as its longest choice where there is room
        self.surface_of.setMaximumWidth(self.surface_of.fontMetrics().horizontalAdvance(
            "last minibatch") + 48)
        self.figures = QLabel("")
        self.figures.setTextFormat(Qt.RichText)
        self.figures.setWordWrap(True)
        self.figures.setStyleSheet("font-size: 11px; color: #333;")
        self.figures.setTextInteractionFlags(Qt.TextSelectableByMouse)
        self._lines, self._heads, self._labels = {}, {}, {}
        for name, colour in COLOURS.items():
            headed = name in HEADED
            style = Qt.SolidLine if headed else Qt.DashLine
            self._lines[name] = (self.plot.plot(pen=pg.mkPen("k", width=5, style=style)),
                                 self.plot.plot(pen=pg.mkPen(colour, width=3, style=style)))
            if headed:
                self._heads[name] = pg.ArrowItem(headLen=16, tipAngle=36, brush=colour,
                                                 pen=pg.mkPen("k"))
                self.plot.addItem(self._heads[name])
            else:
                self._labels[name] = pg.TextItem(color=colour, fill=(0, 0, 0, 140),
                                                 anchor=(0, 1))
                self.plot.addItem(self._labels[name])
        self.arrows: PlaneArrows | None = None  # the latest computed, for self._plane
        self.layout: Layout | None = None  # as last drawn
        self._plane = self._view = None
        self._rows = 0  # training rows the arrows were computed on
        self._report: MinibatchReport | None = None  # the minibatch they were computed with
        self._plan = None
        self._busy, self._wanted = False, None
        self._rest = QTimer(self, singleShot=True)  # after each computation, see DUTY
        self._rest.timeout.connect(self._submit_wanted)
        self._closed = False
        self.computed.connect(self._on_computed)
        self.show_arrows.toggled.connect(self._on_choice_changed)
        self.show_minibatch.toggled.connect(self._on_choice_changed)
        self.surface_of.currentIndexChanged.connect(self._on_surface_changed)
        self.plot.getViewBox().sigTransformChanged.connect(self._point_heads)
        self._hide()

    @property
    def wanted(self) -> bool:
        return self.show_arrows.isChecked() or self.show_minibatch.isChecked()

    @property
    def minibatch_surface(self) -> bool:
        return self.surface_of.currentData() == "minibatch"

    def clear(self) -> None:
        """Another document or run: nothing of the old one's arrows or figures."""
        self._plan = self._plane = self._view = self._report = None
        self._wanted = None
        self._rest.stop()
        self._off()

    def _off(self) -> None:
        self.arrows = None
        self._hide()
        self.figures.setText("")

    # ----- what to compute, in the background ------------------------------------------------
    def update(self, plan, plane, view, theta: np.ndarray) -> None:
        """The current point has moved, or the plane or view changed: new arrows for it."""
        if self._closed:
            return
        if plane is not self._plane:
            self.arrows = None
        self._plan, self._plane, self._view = plan, plane, view
        if not self.wanted:
            self._off()
            return
        data = self.live.data
        if data is None:
            return
        report = self.live.minibatch() if self.show_minibatch.isChecked() else None
        request = (plan, plane, np.array(theta, np.float64), data, self.live.loss,
                   self.live.settings.sequence_loss, report)
        if self._busy or self._rest.isActive():
            self._wanted = request  # the latest wins
        else:
            self._submit(request)

    def _submit(self, request) -> None:
        self._busy = True
        future = self._pool.submit(_timed, *request)
        future.add_done_callback(self._finished)

    def _submit_wanted(self) -> None:
        if self._wanted is not None and not self._busy and not self._closed:
            request, self._wanted = self._wanted, None
            self._submit(request)

    def shutdown(self) -> None:
        """The window closes: a result still computing is dropped when it arrives."""
        self._closed = True

    def _finished(self, future) -> None:
        """On the worker thread (or here when already done): hand over to the GUI thread."""
        if future.cancelled() or self._closed:
            return
        try:
            self.computed.emit(future.result())
        except RuntimeError:
            pass  # the window closed while it computed

    def _on_computed(self, result) -> None:
        self._busy = False
        if self._closed:
            return
        plane, arrows, rows, report, seconds = result
        if plane is self._plane and self.wanted:
            if isinstance(arrows, str):
                self.arrows = None
                self._hide()
                self.figures.setText(escape(f"No arrows: {arrows}"))
            else:
                self.arrows, self._rows, self._report = arrows, rows, report
                self.redraw()
        self._rest.start(round(1000 * seconds * (1 / DUTY - 1)))

    # ----- drawing ----------------------------------------------------------------------------
    def redraw(self) -> None:
        if self.arrows is None or self._view is None or not self.wanted:
            self._hide()
            return
        newton, minibatch = self.show_arrows.isChecked(), self.show_minibatch.isChecked()
        self.layout = lay = layout(self.arrows, self._view, newton, minibatch)
        shown = {d.name: d for d in lay.drawn}
        for name, (under, over) in self._lines.items():
            d = shown.get(name)
            xs, ys = ([d.start[0], d.end[0]], [d.start[1], d.end[1]]) if d else ([], [])
            under.setData(xs, ys)
            over.setData(xs, ys)
            if name in self._labels:
                label = self._labels[name]  # shown by _point_heads, where there is room
                if d is not None:
                    label.setText(f"{name} {d.curvature:.3g}")
                    # beside the line's end, on the side away from the current point
                    label.setAnchor((0, 0.5) if d.end[0] >= d.start[0] else (1, 0.5))
                    label.setPos(float(d.end[0]), float(d.end[1]))
        self._point_heads()
        data = self.live.data
        report = self._report if minibatch else None
        lines = figures(self.arrows, lay, newton, minibatch, report, self._rows,
                        len(data.x_train) if data is not None else self._rows,
                        "sequence" if data is not None and data.is_sequence else "sample")
        if self.minibatch_surface:
            lines.append((None, "The arrows and curvatures are the training loss's, not the "
                                "minibatch's drawn."))
        self.figures.setToolTip(self.arrows.curvature.explain() + " Both arrows are of the "
                                "loss restricted to this plane, through the current weights.")
        self.figures.setText("<br>".join(
            (f'<span style="color:{COLOURS[k]}">&#9632;</span> ' if k else "") + escape(t, quote=False)
            for k, t in lines))

    def drawn(self, name: str) -> np.ndarray | None:
        """The line drawn for an arrow ("descent", "newton", "minibatch") or a principal
        direction ("up", "down", "flat"), as [[a, b] start, [a, b] end]; None when hidden."""
        xs, ys = self._lines[name][1].getData()
        return None if xs is None or len(xs) == 0 else np.column_stack([xs, ys])

    def _point_heads(self, *_) -> None:
        """Arrowheads turn on screen: their angle depends on the view's pixels per unit."""
        shown = {d.name: d for d in self.layout.drawn} if self.layout and self.arrows else {}
        try:
            px, py = self.plot.getViewBox().viewPixelSize()
        except (ZeroDivisionError, np.linalg.LinAlgError):
            px = py = 0.0
        for name, head in self._heads.items():
            d = shown.get(name)
            if d is None or not (px > 0 and py > 0):
                head.hide()
                continue
            v = d.end - d.start
            head.setStyle(angle=180 + math.degrees(math.atan2(-v[1] / py, v[0] / px)))
            head.setPos(float(d.end[0]), float(d.end[1]))
            head.show()
        # The curvature labels need a plot taller than a few of their lines: in a short one
        # (a 1024x700 window) they covered the surface and each other. The figures under the
        # plot give the same numbers.
        room = self.plot.getViewBox().height() >= LABEL_ROOM
        for name, label in self._labels.items():
            label.setVisible(room and name in shown)

    def _hide(self) -> None:
        for under, over in self._lines.values():
            under.setData([], [])
            over.setData([], [])
        for item in (*self._heads.values(), *self._labels.values()):
            item.hide()
        self.layout = None

    # ----- the minibatch ----------------------------------------------------------------------
    def _on_choice_changed(self, *_) -> None:
        asks = self.show_minibatch.isChecked() or self.minibatch_surface
        self.training.set_minibatch_probe(KEEP if asks else 0)
        if not self.wanted:
            self._off()
        elif self._plane is not None:
            if self.arrows is not None:
                self.redraw()  # at once, what is known; and anew, with what was asked
            self.update(self._plan, self._plane, self._view, self.live.theta())

    def _on_surface_changed(self, *_) -> None:
        self._on_choice_changed()
        self.surface_changed.emit()

    def grid_sample(self, plan, data) -> tuple[np.ndarray, np.ndarray, np.ndarray | None,
                                               int | None]:
        """The rows (sequences, with their mask) the surface is drawn on, as the plan's
        inputs, and the step whose minibatch they are (None: the training sample, also while
        no minibatch is known)."""
        report = self.live.minibatch() if self.minibatch_surface else None
        if report is not None and report.rows is not None:
            return (*sample_of(plan, data, report.rows), report.step)
        return (*sample_of(plan, data), None)

    def minibatch_moved(self, grid_step: int | None) -> bool:
        """Whether the surface drawn is not the last minibatch's, and could be."""
        if not self.minibatch_surface:
            return False
        report = self.live.minibatch()
        return report is not None and report.rows is not None and report.step != grid_step


def _timed(*request) -> tuple:
    """_compute's result and the seconds it took."""
    started = time.perf_counter()
    return *_compute(*request), time.perf_counter() - started


def _compute(plan, plane, theta, data, loss, sequence_loss, report):
    """On the worker thread: the arrows at theta, on the surface's sample (and the rows of
    the minibatch `report` names; sequences, on sequence data). Overflow far from the data
    just gives inf, drawn as nothing. Returns (plane, PlaneArrows or why there are none,
    sample rows, report)."""
    rows = None if report is None else report.rows
    try:
        sample = sample_of(plan, data)
        batch = None if rows is None else sample_of(plan, data, rows)
        with np.errstate(all="ignore"):
            arrows = surface.arrows_at(plan, plane, theta, sample, loss, batch, sequence_loss)
        c = arrows.curvature
        if not (np.all(np.isfinite(c.gradient)) and np.all(np.isfinite(c.hessian))):
            return plane, "the loss is not finite at the current weights.", 0, report
        return plane, arrows, len(sample[0]), report
    except np.linalg.LinAlgError:  # eigenvalues of a Hessian with inf or NaN in it
        return plane, "the loss is not finite at the current weights.", 0, report
    except (ValueError, NetworkError, FloatingPointError) as exc:
        return plane, str(exc), 0, report
