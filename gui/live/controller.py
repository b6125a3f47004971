"""The GUI side of training: owns the worker thread, forwards document edits to it, and
writes trained weights back into the document (throttled, once per drawn frame)."""
from __future__ import annotations

import time

from PySide6.QtCore import QObject, QThread, QTimer, Signal

from core.data import Dataset
from core.network import Change, Network
from core.settings import TrainingSettings
from gui.live.worker import Progress, TrainingWorker


# While running, the document (and so the canvas) takes the trained weights at most this
# often: every redraw in Python competes with the training thread for the GIL.
SYNC_SECONDS = 0.1


class TrainingController(QObject):
    progress = Signal(object)  # Progress, after the document holds its weights
    message = Signal(str)  # divergence and other reasons training paused
    running_changed = Signal(bool)
    # A finished stretch of training as one undoable change: (weights, biases) before and after.
    trained = Signal(object, object, int)

    def __init__(self, network: Network, data: Dataset, settings: TrainingSettings,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.network = network
        self.latest: Progress | None = None
        self.running = False
        self._applying = False
        self._edited: set[str] = set()
        self._structural = False
        self._session_start: tuple[dict, dict] | None = None
        self._session_steps = 0
        self._closed = False
        self._synced_at = 0.0
        self._thread = QThread()
        self._thread.setObjectName("training")
        self.worker = TrainingWorker(network.copy(), data, settings)
        self.worker.moveToThread(self._thread)
        self._thread.started.connect(self.worker.loop)
        self.worker.progress.connect(self._on_progress)
        self.worker.failed.connect(self.message)
        self.worker.running_changed.connect(self._on_running_changed)
        network.changed.connect(self._on_network_changed)
        self._flush_timer = QTimer(self, singleShot=True, interval=0)
        self._flush_timer.timeout.connect(self._flush_edits)
        self._thread.start()

    # ----- commands ---------------------------------------------------------------------------
    def run(self) -> None:
        self._flush_edits()
        self.worker.commands.put(("run",))

    def pause(self) -> None:
        self.worker.commands.put(("pause",))

    def toggle(self) -> None:
        self.pause() if self.running else self.run()

    def step(self, n: int = 1) -> None:
        self._flush_edits()
        self._begin_session()
        self.worker.commands.put(("steps", n))

    def step_epoch(self) -> None:
        trainer = self.worker.trainer
        self.step(trainer.steps_per_epoch() if trainer else 1)

    def restart(self) -> None:
        """Forget the run (history, optimiser state); the next step starts from the document."""
        self._flush_edits()
        self.worker.commands.put(("restart",))

    def set_settings(self, settings: TrainingSettings) -> None:
        self.worker.commands.put(("settings", settings))

    def set_data(self, data: Dataset) -> None:
        self._flush_edits()
        self.worker.commands.put(("data", data))

    def set_steps_per_update(self, n: int) -> None:
        self.worker.steps_per_update = max(0, int(n))

    def shutdown(self) -> None:
        if self._closed:
            return
        self._closed = True
        self.worker.commands.put(("quit",))
        self._thread.quit()
        self._thread.wait(5000)
        self.network.changed.disconnect(self._on_network_changed)

    # ----- document edits -> worker ------------------------------------------------------------
    def _on_network_changed(self, change: Change) -> None:
        if self._applying:
            return
        self._edited.update(change.ids)
        if change.kind in ("values", "reset"):
            self._edited.update(self.network.edges)
            self._edited.update(self.network.neurons)
        self._structural = self._structural or change.structural
        self._flush_timer.start()  # one snapshot for a burst of edits

    def _flush_edits(self) -> None:
        if not self._edited and not self._structural:
            return
        snapshot = self.network.copy()
        self.worker.commands.put(("adopt", snapshot, frozenset(self._edited), self._structural))
        self._edited, self._structural = set(), False

    # ----- worker -> document and panels -------------------------------------------------------
    def _on_progress(self, progress: Progress) -> None:
        if self._closed:
            return
        now = time.monotonic()
        if progress.running and now - self._synced_at < SYNC_SECONDS:
            self.latest = progress
            self.worker.drawn.set()
            return
        self._synced_at = now
        try:
            present = self.network.edges.keys() & set(progress.edge_ids)
            weights = {e: float(w) for e, w in zip(progress.edge_ids, progress.weights)
                       if e in present and e not in self._edited}
            biases = {n: float(b) for n, b in zip(progress.bias_ids, progress.biases)
                      if n in self.network.neurons and n not in self._edited}
            self._applying = True
            try:
                self.network.set_values(weights, biases)
            finally:
                self._applying = False
            self.latest = progress
            self.progress.emit(progress)
            if not progress.running and self._session_start is not None:
                self._end_session()  # now, so a Step right after starts a stretch of its own
        finally:
            self.worker.drawn.set()

    def _begin_session(self) -> None:
        if self._session_start is None:
            self._session_start = _values(self.network)
            self._session_steps = self.latest.step if self.latest else 0

    def _on_running_changed(self, running: bool) -> None:
        self.running = running
        if running:
            self._begin_session()
        self.running_changed.emit(running)

    def _end_session(self) -> None:
        """Report a finished stretch of training so the window can push one undo step."""
        if self._session_start is None or self.running or self._closed:
            return
        after = _values(self.network)
        steps = (self.latest.step if self.latest else 0) - self._session_steps
        before, self._session_start = self._session_start, None
        if steps > 0 and after != before:
            self.trained.emit(before, after, steps)


def _values(net: Network) -> tuple[dict[str, float], dict[str, float]]:
    return ({e.id: e.weight for e in net.edges.values()},
            {n.id: n.bias for n in net.neurons.values()})
