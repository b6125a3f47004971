"""The training worker: runs a core Trainer on its own thread, on its own copy of the network.

The GUI never shares a live object with this thread. It sends commands through a queue
(run, pause, step, document snapshots, settings, data) and receives `Progress` snapshots,
at most one per frame and only after it has drawn the previous one (no signal pile-up when
drawing is slower than training).
"""
from __future__ import annotations

import queue
import threading
import time
from dataclasses import dataclass, field

import numpy as np
from PySide6.QtCore import QObject, Signal, Slot

from core.data import Dataset
from core.network import Network
from core.settings import TrainingSettings
from core.training import Diverged, Evaluation, Trainer, TrainingError

FRAME_SECONDS = 1 / 30
HEALTH_SECONDS = 1.0
EVALUATE_SECONDS = 0.25


@dataclass(frozen=True)
class SeriesCopy:
    x: np.ndarray
    y: np.ndarray


@dataclass(frozen=True)
class Progress:
    """What the panels draw; every array is a copy owned by the GUI thread."""

    step: int
    epoch: int
    running: bool
    batch_loss: SeriesCopy
    train_loss: SeriesCopy
    test_loss: SeriesCopy
    train_accuracy: SeriesCopy
    test_accuracy: SeriesCopy
    evaluation: Evaluation | None
    edge_ids: tuple[str, ...]
    weights: np.ndarray  # per edge, edge_ids order
    gradients: np.ndarray  # dL/dw of the last step, edge_ids order
    bias_ids: tuple[str, ...]
    biases: np.ndarray
    level_norms: np.ndarray  # gradient norm per depth level, last step
    health: dict[str, str] = field(default_factory=dict)
    theta: np.ndarray | None = None  # current flat parameters (plan.flatten order)
    parameter_names: tuple[str, ...] = ()


def _series(s) -> SeriesCopy:
    return SeriesCopy(s.x.copy(), s.y.copy())


class TrainingWorker(QObject):
    progress = Signal(object)  # Progress
    failed = Signal(str)  # divergence or an untrainable network: training paused
    running_changed = Signal(bool)

    def __init__(self, network: Network, data: Dataset, settings: TrainingSettings) -> None:
        super().__init__()
        self.commands: queue.Queue = queue.Queue()
        self.drawn = threading.Event()  # set by the GUI when it has drawn the last Progress
        self.drawn.set()
        self._network, self._data, self._settings = network, data, settings
        self.trainer: Trainer | None = None
        self._running = False
        self._quit = False
        self.steps_per_update = 0  # 0: as fast as possible; n: show every n-th step
        self._last_health = 0.0
        self._health: dict[str, str] = {}
        self._last_eval = 0.0
        self._evaluation: Evaluation | None = None

    # ----- the loop (worker thread) ----------------------------------------------------------
    @Slot()
    def loop(self) -> None:
        while not self._quit:
            self._drain(block=not self._running)
            if self._running and not self._quit:
                self._run_frame()

    def _drain(self, block: bool) -> None:
        try:
            command = self.commands.get(timeout=0.1) if block else self.commands.get_nowait()
        except queue.Empty:
            return
        while True:
            self._handle(*command)
            try:
                command = self.commands.get_nowait()
            except queue.Empty:
                return

    def _handle(self, name: str, *args) -> None:
        if name == "quit":
            self._quit = True
        elif name == "run":
            self._set_running(True)
        elif name == "pause":
            self._set_running(False)
            self._publish(force=True)
        elif name == "steps":
            self._set_running(False)
            self._steps(args[0])
            self._publish(force=True)
        elif name == "adopt":
            snapshot, edited, structural = args
            self._network = snapshot
            if self.trainer is not None:
                self.trainer.adopt_document(snapshot, edited, structural)
        elif name == "settings":
            self._settings = args[0]
            if self.trainer is not None:
                self._guard(lambda: self.trainer.set_settings(args[0]))
        elif name == "data":
            self._data = args[0]
            self.trainer = None  # a new data set: a new run (history restarts)
            self._publish(force=True)
        elif name == "restart":
            self.trainer = None
            self._publish(force=True)
        elif name == "publish":
            self._publish(force=True)

    def _set_running(self, running: bool) -> None:
        if running != self._running:
            self._running = running
            self.running_changed.emit(running)

    def _ensure_trainer(self) -> bool:
        if self.trainer is None:
            try:
                self.trainer = Trainer(self._network.copy(), self._data, self._settings)
                self.trainer.evaluate()
            except TrainingError as exc:
                self.trainer = None
                self._fail(f"Cannot train yet: {exc}")
                return False
        return True

    def _guard(self, action) -> bool:
        try:
            action()
            return True
        except Diverged as exc:
            self._fail(str(exc))
        except TrainingError as exc:
            self._fail(f"Cannot train: {exc}")
        return False

    def _fail(self, message: str) -> None:
        self._set_running(False)
        self.failed.emit(message)
        self._publish(force=True)

    def _steps(self, n: int) -> None:
        if not self._ensure_trainer():
            return
        self._guard(lambda: [self.trainer.step() for _ in range(n)])

    def _run_frame(self) -> None:
        """Train until the frame is over (or n steps in slow motion), then publish."""
        if not self._ensure_trainer():
            return
        start = time.monotonic()
        per_update = self.steps_per_update
        done = 0
        while self._running and self.commands.empty():
            if not self._guard(self.trainer.step):
                return
            done += 1
            if per_update and done >= per_update:
                break
            if time.monotonic() - start >= FRAME_SECONDS:
                break
        if per_update:  # slow motion: hold each shown step for a frame
            time.sleep(max(0.0, FRAME_SECONDS - (time.monotonic() - start)))
        self._publish()

    def _publish(self, force: bool = False) -> None:
        if not force and not self.drawn.is_set():
            return
        trainer = self.trainer
        if trainer is None:
            return
        now = time.monotonic()
        if force or now - self._last_eval >= EVALUATE_SECONDS:
            self._evaluation = trainer.evaluate()
            self._last_eval = now
        if force or now - self._last_health >= HEALTH_SECONDS:
            self._health = trainer.neuron_health()
            self._last_health = now
        plan, params = trainer.plan, trainer.params
        self.drawn.clear()
        self.progress.emit(Progress(
            trainer.step_count, trainer.epoch, self._running, _series(trainer.batch_loss),
            _series(trainer.train_loss), _series(trainer.test_loss),
            _series(trainer.train_accuracy), _series(trainer.test_accuracy), self._evaluation,
            plan.edge_ids, plan.edge_vector(params.weights), trainer.edge_gradients(),
            plan.bias_ids, params.biases[plan.bias_rows].copy(), trainer.level_gradient_norms(),
            dict(self._health), plan.flatten(params), tuple(plan.parameter_names())))

    def trajectory(self) -> tuple[np.ndarray, np.ndarray, tuple[str, ...]]:
        """A copy of the decimated parameter trajectory (call only while paused, or accept a
        snapshot a few steps old: the arrays are copied under the GIL)."""
        t = self.trainer
        if t is None:
            return np.zeros((0, 0)), np.zeros(0, dtype=np.int64), ()
        return t.trajectory.thetas.copy(), t.trajectory.steps.copy(), tuple(t.plan.parameter_names())
