"""The loss surface over a 2D plane of parameter space, with the path training took on it.

The grid is computed in a background thread (core.surface, batched) only when the plane
changes; while training, only the path, the current point and the arrow move. Each mode says
how far its picture is from the truth (../shared/notes/loss-surface.md).
"""
from __future__ import annotations

import os
import sys
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor

import contourpy
import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import (QComboBox, QHBoxLayout, QLabel, QPushButton, QSpinBox,
                               QVBoxLayout, QWidget)

from core import surface
from core.network import NetworkError
from core.training.race import MAX_STEPS, RaceError, race
from core.training.trainer import data_mismatch
from core.training.live_state import LiveState
from core.training.progress import Progress
from gui.live import grid_process
from gui.live.plot_tools import on_screen, plain_numbers, plot_over_notes
from gui.live.race_layer import RaceLayer
from gui.live.surface_arrows import SurfaceArrows

MODES = [("exact", "Two parameters (exact)"), ("pca", "PCA of the path"),
         ("random", "Random directions")]
GRID_RUNNING, GRID_PAUSED = 41, 61
RESLICE_SECONDS = 3.0
AUTO_LIMIT = 2000  # edges above which the surface is computed only on request  # while training, the plane follows the weights on this schedule
LEVELS = 12


class SurfacePanel(QWidget):
    """Draws the live state; asks `training` (the TrainingController) for the run's path, and
    pauses it to race."""

    def __init__(self, live: LiveState, training, parent=None) -> None:
        super().__init__(parent)
        self.live = live
        self.training = training
        self.plane: surface.Plane | None = None
        self.plan = None
        self.z: np.ndarray | None = None
        self.extent = (-1.0, 1.0, -1.0, 1.0)
        self.chosen: tuple[str, str] | None = None  # parameter names picked on the canvas
        # The loss the grid drawn is of: the loss's name, and on sequences (mask,
        # training.sequence_loss)
        self._grid_loss: str | None = None
        self.sequences: tuple = (None, "every")
        self._pool = ThreadPoolExecutor(max_workers=1, initializer=_as_background_work)
        self._future: Future | None = None
        self._poll = QTimer(self, interval=30)
        self._poll.timeout.connect(self._collect)
        self.mode = QComboBox()
        for key, title in MODES:
            self.mode.addItem(title, key)
        self.mode.currentIndexChanged.connect(lambda _: self.refit())
        self.refit_button = QPushButton("Re-slice")
        self.refit_button.setToolTip("Recompute the plane and the grid around the current weights")
        self.refit_button.clicked.connect(self.refit)
        self.info = QLabel("The surface appears here once a network and data are open.")
        self.info.setWordWrap(True)
        self.info.setStyleSheet("font-size: 11px; color: #333;")
        self.plot = pg.PlotWidget(background="w")
        plain_numbers(self.plot)
        self.plot.setAspectLocked(False)
        self.plot.setMinimumHeight(50)  # at 1024x700 the canvas keeps its third (tests/gui/test_layout.py)
        self.image = pg.ImageItem(axisOrder="row-major")
        self.plot.addItem(self.image)
        self.bar = pg.ColorBarItem(values=(0, 1), colorMap=pg.colormap.get("viridis"),
                                   label="log10 loss", interactive=False)
        self.bar.setImageItem(self.image, insert_in=self.plot.getPlotItem())
        self.contours: list[pg.PlotDataItem] = []
        self.path = self.plot.plot(pen=pg.mkPen("w", width=2))
        self.point = pg.ScatterPlotItem(size=11, brush=pg.mkBrush("#ff3b30"), pen=pg.mkPen("w"))
        self.plot.addItem(self.point)
        # Steepest descent, Newton's step and the minibatch's gradient, with their toggles
        # and figures: computed on the pool's thread, like the grid.
        self.arrows = SurfaceArrows(self.plot, live, training, self._pool, self)
        self.arrows.surface_changed.connect(self.refit)
        self._grid_batch: int | None = None  # the step whose minibatch the grid is of
        # One row that fits beside the loss plot on a 1024-pixel screen (under 400 pixels):
        # the plane's combo box gives up its width first.
        self.mode.setSizeAdjustPolicy(QComboBox.AdjustToMinimumContentsLengthWithIcon)
        self.mode.setMinimumContentsLength(8)
        top = QHBoxLayout()
        top.setSpacing(4)
        top.addWidget(self.mode, 1)
        top.addWidget(self.refit_button)
        self.race_steps = QSpinBox()
        self.race_steps.setRange(10, MAX_STEPS)
        self.race_steps.setValue(200)
        self.race_steps.setSuffix(" steps")
        self.race_steps.setToolTip("How long each optimiser runs in a race")
        self.race_button = QPushButton("Race")
        self.race_button.setToolTip(
            "Race optimisers: train SGD, momentum, RMSprop and Adam from the current weights on the same "
            "minibatches (every other setting as in Settings), and Newton's method on this "
            "plane alone (on the exact plane: the two chosen parameters), and draw their "
            "paths here")
        self.race_button.clicked.connect(self.start_race)
        top.addWidget(self.race_steps)
        top.addWidget(self.race_button)
        self.race_layer = RaceLayer(self.plot)
        self._race_future: Future | None = None
        self._race_poll = QTimer(self, interval=50)
        self._race_poll.timeout.connect(self._collect_race)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(top)
        # Under the plot, scrolling on a small screen: the arrows' choices, what the picture
        # is, and the arrows' figures.
        layout.addWidget(plot_over_notes(self.plot, self.arrows.controls, self.info,
                                         self.arrows.figures), 1)
        self._sliced_at = time.monotonic()
        self._closed = False
        self._drawn_at = 0.0

    def reset(self) -> None:
        """A new run or document: no grid, path, race or chosen pair of the old one; the
        exact slice of the new network is computed at once (it needs no training)."""
        if self._future is not None:
            self._future.cancel()
            self._future = None
        self._poll.stop()
        self._drop_race()
        self.plane = self.plan = self.z = self._grid_batch = None
        self.chosen = None
        self.race_layer.clear()
        self.image.clear()
        for c in self.contours:
            self.plot.removeItem(c)
        self.contours = []
        self.path.setData([], [])
        self.point.setData([], [])
        self.arrows.clear()
        self.info.setText("The surface appears here once a network and data are open.")
        self.refit(automatic=True)

    # ----- the plane and its grid (background) ----------------------------------------------
    def choose(self, names: tuple[str, str] | None) -> None:
        """Two parameters picked on the canvas (edge ids or 'bias:<neuron>')."""
        self.chosen = names
        if self.mode.currentData() == "exact":
            self.refit()
        else:
            self.mode.setCurrentIndex(0)

    def refit(self, automatic: bool = False) -> None:
        if self._closed:
            return
        if automatic and len(self.live.network.edges) > AUTO_LIMIT:
            self.info.setText("A large network: press Re-slice to compute its surface.")
            return
        try:
            plan = self.live.plan
        except NetworkError as exc:
            self.info.setText(f"No surface: {exc}")
            return
        theta = self.live.theta()
        try:
            plane = self._make_plane(plan, theta)
        except ValueError as exc:
            self.info.setText(str(exc))
            return
        data = self.live.data
        if data is None:
            return
        problem = data_mismatch(plan, data)
        if problem:
            self.info.setText(f"No surface: {problem}.")
            return
        x, y, mask, batch = self.arrows.grid_sample(plan, data)
        path = self._path_coords(plane)
        raced = [xy for xy in self.race_layer.coordinates(plane) if len(xy)]
        if raced:  # the view takes in every racer's path too
            with np.errstate(all="ignore"):
                path = np.vstack([path] + [xy[np.isfinite(xy).all(1)] for xy in raced])
        ext = self._extent(plane, path, theta)
        if not np.all(np.isfinite(ext)) or max(map(abs, ext)) > 1e6:
            self.info.setText("The weights are too large to draw a surface around them "
                              "(did training diverge?). Reset the weights, then Re-slice.")
            return
        self._submit_grid(plan, plane, ext, x, y, mask, batch,
                          GRID_RUNNING if self.training.running else GRID_PAUSED)

    def _submit_grid(self, plan, plane, ext, x, y, mask, batch, g) -> None:
        alphas, betas = np.linspace(ext[0], ext[1], g), np.linspace(ext[2], ext[3], g)
        if self._future is not None:
            self._future.cancel()
        loss, sequence_loss = self.live.loss, self.live.settings.sequence_loss
        self._pending = (plan, plane, ext, x, y, mask, loss, sequence_loss, batch)
        self._future = self._pool.submit(_quiet_grid, plan, plane, alphas, betas, x, y, loss,
                                         grid_process.SHARED.runner(), mask, sequence_loss)
        self._poll.start()

    def _regrid(self) -> None:
        """The same plane and view on the new last minibatch: the landscape it trained on."""
        data = self.live.data
        if data is None or self.z is None:
            return
        x, y, mask, batch = self.arrows.grid_sample(self.plan, data)
        self._submit_grid(self.plan, self.plane, self.extent, x, y, mask, batch,
                          self.z.shape[0])

    def _make_plane(self, plan, theta) -> surface.Plane:
        mode = self.mode.currentData()
        names = plan.parameter_names()
        if mode == "exact":
            trainable = [i for i, ok in enumerate(plan.trainable_vector()) if ok]
            if self.chosen and all(n in names for n in self.chosen):
                i, j = names.index(self.chosen[0]), names.index(self.chosen[1])
            elif len(trainable) >= 2:
                i, j = trainable[0], trainable[1]
            else:
                raise ValueError("The exact slice needs two trainable parameters.")
            return surface.exact_plane(plan, theta, i, j)
        if mode == "pca":
            thetas, _, traj_names = self.training.trajectory()
            if tuple(traj_names) != tuple(names) or len(thetas) < 3:
                raise ValueError("The PCA plane needs a training path: train for a while first.")
            return surface.pca_plane(np.vstack([thetas, theta[None]]))
        return surface.random_plane(plan, theta, np.random.default_rng(0))

    def _extent(self, plane, path, theta) -> tuple[float, float, float, float]:
        if plane.kind == "random":
            r = max(float(np.linalg.norm(theta)) * 0.5, 1.0)
            return (-r, r, -r, r)
        if plane.kind == "exact":
            centre = plane.coordinates(theta)[0]
            span = max(2.0, float(np.abs(centre).max()))
            pts = path if len(path) else centre[None]
            return surface.extent(plane, np.vstack([pts, pts.mean(0) + [[-span, -span], [span, span]]]),
                                  margin=0.1)
        return surface.extent(plane, path)

    def _collect(self) -> None:
        if self._future is None or not self._future.done():
            return
        self._poll.stop()
        future, self._future = self._future, None
        if future.cancelled():
            return
        try:
            z = future.result()
        except (ValueError, FloatingPointError, MemoryError) as exc:
            self.info.setText(f"No surface: {exc}")
            return
        if not np.isfinite(z).any():
            self.info.setText("The loss is not finite anywhere on this plane.")
            return
        plan, plane, ext, x, y, mask, loss, sequence_loss, batch = self._pending
        if plan.structure_version != self.live.network.structure_version:
            return  # computed for a network that has changed since: a new slice is due
        self.plan, self.plane, self.extent, self.xy = plan, plane, ext, (x, y)
        self.sequences = (mask, sequence_loss)  # what the loss of sequences reads of them
        self._grid_loss = loss
        self._grid_batch = batch
        self.z = z
        self._draw_surface()
        self._draw_path()
        if not self.training.running and self.arrows.minibatch_moved(batch):
            self._regrid()  # a step came while this grid was computed (while running, the
            # next frame's show_progress asks)

    def settings_changed(self) -> None:
        """The loss drawn is the settings' (training.loss, and on sequences
        training.sequence_loss): a grid of another one is computed anew, so grid, arrows and
        "loss here" stay of one loss."""
        if self.plane is None or self._grid_loss is None:
            return
        s = self.live.settings
        if (self._grid_loss, self.sequences[1]) != (s.loss, s.sequence_loss):
            self.refit()

    # ----- drawing ---------------------------------------------------------------------------
    def _draw_surface(self) -> None:
        with np.errstate(invalid="ignore"):
            logz = np.log10(np.maximum(self.z, 1e-12)).astype(np.float32)
        # A loss that overflowed at some points (an exploding recurrence far from the centre,
        # huge weights) is drawn as the highest finite one: infinite levels raised inside
        # pyqtgraph's colour bar.
        finite = np.isfinite(logz)
        lo, hi = (float(logz[finite].min()), float(logz[finite].max())) if finite.any() \
            else (0.0, 1.0)
        hi = hi if hi > lo else lo + 1.0
        logz = np.where(finite, logz, np.float32(hi))
        self.image.setImage(logz, levels=(lo, hi))
        a0, a1, b0, b1 = self.extent
        self.image.setRect(pg.QtCore.QRectF(a0, b0, a1 - a0, b1 - b0))
        self.bar.setLevels((lo, hi))
        for c in self.contours:
            self.plot.removeItem(c)
        self.contours = []
        g = logz.shape[0]
        xs, ys = np.linspace(a0, a1, logz.shape[1]), np.linspace(b0, b1, g)
        gen = contourpy.contour_generator(xs, ys, logz)
        for level in np.linspace(lo, hi, LEVELS + 2)[1:-1]:
            lines = gen.lines(level)
            if not lines:
                continue
            joined = np.vstack([np.vstack([seg, [np.nan, np.nan]]) for seg in lines])
            item = self.plot.plot(joined[:, 0], joined[:, 1], pen=pg.mkPen((255, 255, 255, 90)),
                                  connect="finite")
            self.contours.append(item)
        self.plot.setXRange(a0, a1, padding=0)
        self.plot.setYRange(b0, b1, padding=0)
        self.plot.setLabel("bottom", self.plane.labels[0])
        self.plot.setLabel("left", self.plane.labels[1])
        self.race_layer.draw(self.plane)

    def _path_coords(self, plane) -> np.ndarray:
        thetas, _, names = self.training.trajectory()
        if len(thetas) == 0 or thetas.shape[1] != len(plane.center):
            return np.zeros((0, 2))
        return plane.coordinates(thetas[-5000:])

    def show_progress(self, p: Progress) -> None:
        """`p` is the live state's new progress."""
        now = time.monotonic()
        if p.running and self.plane is not None and self._future is None and \
                now - self._sliced_at > RESLICE_SECONDS:
            self._sliced_at = now
            self.refit(automatic=True)
        # Automatic refits: a large net's surface is computed only on request (a refit here
        # compiled a 784-64-10 net on the GUI thread, 0.2-0.6 s after every structure edit,
        # and its grid took turns with the window for the GIL for seconds).
        if self.plane is None or p.theta is None:
            if p.step > 0 and self._future is None and self.plane is None:
                self.refit(automatic=True)
            return
        if len(p.theta) != len(self.plane.center):
            self.refit(automatic=True)  # the structure changed: a new plane
            return
        if on_screen(self) and (not p.running or now - self._drawn_at >= 0.2):
            self._drawn_at = now
            if self._future is None and self.arrows.minibatch_moved(self._grid_batch):
                self._regrid()
            self._draw_path()

    def catch_up(self) -> None:
        """Brought on screen (its dock shown or its tab chosen): the path as it is now."""
        self._draw_path()

    def _draw_path(self) -> None:
        with np.errstate(all="ignore"):  # weights of a diverging run: non-finite values are
            self._draw_path_now()         # checked where they are drawn

    def _draw_path_now(self) -> None:
        if self.plane is None:
            return
        # The live state's point: the latest frame's, or the document's once the user changed
        # it (an undo of training, a weight typed in); before any training the slice's centre.
        try:
            theta = self.live.theta()
        except NetworkError:
            return
        if len(theta) != len(self.plane.center):
            return
        path = self._path_coords(self.plane)
        here = self.plane.coordinates(theta)[0]
        if len(path):
            path = np.vstack([path, here[None]])
            self.path.setData(path[:, 0], path[:, 1])
        self.point.setData([here[0]], [here[1]])
        self.arrows.update(self.plan, self.plane, self.extent, theta)
        self._honesty(theta, here)

    def _honesty(self, theta, here) -> None:
        plane = self.plane
        x, y = self.xy
        loss = self._grid_loss
        true = surface.loss_at(self.plan, theta, x, y, loss, *self.sequences)
        shown = surface.loss_at(self.plan, plane.point(*here), x, y, loss, *self.sequences)
        unit = "sequences" if np.ndim(x) == 3 else "samples"
        parts = [] if self._grid_batch is None else [
            f"Surface of the last minibatch (step {self._grid_batch:,}, {len(x):,} {unit})."]
        parts += [{"exact": "Exact slice: all other parameters held at their values when sliced.",
                  "pca": "PCA plane of the whole path (Li et al. 2018).",
                  "random": "Random filter-normalised directions (local curvature only)."}[plane.kind]]
        if plane.explained:
            parts.append(f"Plane explains {100 * sum(plane.explained):.1f}% of the path's variance.")
        if np.ndim(x) == 3:  # which steps the loss of sequences reads
            parts.append("The loss at every step of each sequence." if self.sequences[1] ==
                         "every" else "The loss at each sequence's last step.")
        parts.append(f"Off-plane fraction {plane.off_plane_fraction(theta):.2f}; "
                     f"loss here {true:.4g} vs surface {shown:.4g} under the marker.")
        if plane.kind == "exact" and self.live.progress is not None:
            parts.append("Re-slice when the other weights have moved on.")
        self.info.setText(" ".join(parts))

    # ----- racing optimisers ---------------------------------------------------------------
    def start_race(self) -> None:
        """Race from the document's weights in the background; draw when all have finished."""
        if self._race_future is not None or self._closed:
            return
        live = self.live
        if self.training.running:
            self.training.pause()
        if live.data is None:
            self.info.setText("No race: there is no data to train on.")
            return
        self.race_button.setEnabled(False)
        self.race_button.setText("Racing…")
        plane = self._race_plane()
        self._race_future = self._pool.submit(
            _quiet_race, live.network.copy(), live.data, live.settings,
            self.race_steps.value(), None if plane is None else (plane.d1, plane.d2))
        self._race_poll.start()

    def _drop_race(self) -> None:
        """The race under way is of the run or document before: its paths must not land on
        this one's surface (they started from other weights). It finishes in the background
        (a thread cannot be stopped) and its result is dropped; Race works again at once."""
        if self._race_future is None:
            return
        self._race_future.cancel()  # if it has not started yet
        self._race_future = None
        self._race_poll.stop()
        self.race_button.setEnabled(True)
        self.race_button.setText("Race")

    def _race_plane(self):
        """The plane Newton races on: the one shown when it is this network's, else the
        one the mode would slice now (the grid may still be on its way); None without."""
        live = self.live
        if self.plane is not None and self.plan is not None and \
                self.plan.structure_version == live.network.structure_version:
            return self.plane
        try:
            return self._make_plane(live.plan, live.theta())
        except (ValueError, NetworkError):  # no path for PCA yet, no two parameters...
            return None

    def _collect_race(self) -> None:
        if self._race_future is None or not self._race_future.done():
            return
        self._race_poll.stop()
        future, self._race_future = self._race_future, None
        self.race_button.setEnabled(True)
        self.race_button.setText("Race")
        if future.cancelled():
            return
        try:
            racers = future.result()
        except RaceError as exc:
            self.info.setText(f"No race: {exc}")
            return
        self.race_layer.set_racers(racers)
        self.refit()  # a grid wide enough for every path; drawn with them when it arrives

    def shutdown(self) -> None:
        self._closed = True
        self.arrows.shutdown()
        self._poll.stop()
        self._pool.shutdown(wait=True, cancel_futures=True)


def _as_background_work() -> None:
    """The grid thread yields to the training process and to painting: on a machine with few
    cores it would otherwise take turns with the trainer (up to a tenth of its speed, on 2)."""
    if sys.platform.startswith("linux"):  # where a thread has a priority of its own
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 19)


def _quiet_race(network, data, settings, steps, plane):
    with np.errstate(all="ignore"):  # a racer that diverges stops with its reason
        return race(network, data, settings, steps, plane=plane)


def _quiet_grid(plan, plane, alphas, betas, x, y, loss, run_compiled, mask=None,
                sequence_loss="every") -> np.ndarray:
    """The grid in the background; overflow far out on the plane just gives inf, drawn as such.
    run_compiled: the grid worker process's, once it is ready (else None: NumPy's). It is asked
    for in the GUI thread: this thread runs at the lowest priority, and on a busy machine it
    would hold the GIL through the worker's start while the window waited for it."""
    with np.errstate(all="ignore"):
        return surface.grid_losses(plan, plane, alphas, betas, x, y, loss, dtype=np.float32,
                                   run_compiled=run_compiled, mask=mask,
                                   sequence_loss=sequence_loss)
