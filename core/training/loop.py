"""The training loop the window's training process runs: a Trainer on the process's own copy
of the network, driven by commands from the window and reporting `Progress` back. The window's
end (starting the process, reading its messages in the GUI thread) is
gui/live/training_link.py; tests drive the loop directly, with no process and no Qt.

Why a process and not a thread: the window's painting calls into Python many times per frame
(pyqtgraph items, canvas items). With the trainer on a thread of the same interpreter, each of
those calls had to take the GIL back from the busy training loop, waiting up to the switch
interval (5 ms) every time; drawing crawled and training got a fraction of its speed. Here the
trainer has an interpreter to itself.

No Qt here, ever (tests/core/test_no_qt.py): this module is preloaded into the forkserver
the process starts from.

Commands arrive on a multiprocessing Queue, as tuples:
    ("run",)  ("pause",)  ("steps", n)  ("epoch",)
    ("document", generation, network, Dataset | None, TrainingSettings)
                        another document (Open, New, undo of New...): a new run of its own
    ("adopt", NetworkDelta, edited_ids, structural, number)   the edited items of the
                        document; each Progress says the number of the last one applied
    ("settings", TrainingSettings)  ("data", Dataset[, generation])  ("restart"[, generation])
                        a new run, whose messages carry that generation from now on
    ("speed", n)        show every n-th step; 0: train flat out, one Progress per frame
    ("sharpness", on)   estimate lambda_max while running (the Sharpness panel is on screen);
                        see sharpness.py. Turned on while paused, it estimates at once
    ("through_time", on)  carry the gradient through time of the step each Progress shows
                        (the Through time panel is on screen); see through_time.py
    ("minibatch", n)    report the last minibatch, and check one step a frame for going
                        downhill over the last n checked (minibatch_probe.py); 0: stop
    ("drawn",)          the window has drawn the last Progress and wants the next
    ("trajectory", number, since_step)  ("fresh_progress",)
                        requests, answered by a message of the same name
    ("quit",)
Messages go back on a Connection, as tuples whose second item is the generation of the
document they belong to (the window drops those of a document it no longer shows):
    ("progress", gen, Progress)  ("failed", gen, text)  ("running", gen, bool)
    ("trajectory", gen, number, steps, new_thetas, parameter_names)   see trajectory_mirror.py
    ("fresh_progress", gen, Progress | None)
    ("crashed", gen, text)   the exception the process is about to die of
At most one unforced Progress is in flight: the next waits for "drawn", so a window that draws
slower than training trains at full speed and is never buried in messages.
"""
from __future__ import annotations

import multiprocessing
import queue
import signal
import threading
import time

import numpy as np

from core.data.dataset import Dataset
from core.network import Network
from core.settings import TrainingSettings
from core.training import kernel_warmup
from core.training.minibatch_probe import MinibatchProbe
from core.training.trainer import Diverged, Evaluation, Trainer, TrainingError
from core.training.progress import IdsOnce, Progress, SeriesCopy
from core.training.sharpness import SharpnessWatch
from core.training.through_time import ThroughTimeWatch

FRAME_SECONDS = 1 / 30
HEALTH_SECONDS = 1.0
# The whole train and test sets are evaluated (the loss panel's and the kept run's curves) at
# most every EVALUATE_SECONDS, and at most EVALUATE_SHARE of the time: a small net's
# evaluation costs a fraction of a millisecond, a large data set's tens of milliseconds.
EVALUATE_SECONDS = 0.1
EVALUATE_SHARE = 0.05
# While training, look for commands this often: a look costs about 8 us, a small net's step
# 100-150 us, so looking before every step would cost several percent of the speed.
LISTEN_SECONDS = 0.002
MAX_BLOCK = 4096  # steps per Trainer.advance call; the block size adapts to LISTEN_SECONDS
# While paused, wake up this often to check that the window still exists.
IDLE_SECONDS = 0.1


def serve(commands, replies, network: Network, data: Dataset | None,
          settings: TrainingSettings, generation: int = 0) -> None:
    """The process's entry point; returns when told to quit or when the window is gone."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl+C in the terminal is the window's to handle
    replies = _IdsOncePipe(replies)
    try:
        TrainingLoop(commands, replies, network, data, settings, generation).loop()
    except BrokenPipeError:
        pass  # the window closed its end: nobody is left to train for
    except BaseException as exc:  # say what it died of, then die: the window restarts us
        try:
            replies.send(("crashed", generation, f"{type(exc).__name__}: {exc}"[:300]))
        except (OSError, ValueError):
            pass
        raise


class _IdsOncePipe:
    """The reply pipe, sending each plan's ids with the first frame about it only (the
    window's TrainingLink puts them back: core.training.progress.IdsOnce)."""

    def __init__(self, connection) -> None:
        self._connection = connection
        self._ids = IdsOnce()

    def send(self, message: tuple) -> None:
        if message[0] in ("progress", "fresh_progress") and message[2] is not None:
            message = (*message[:2], self._ids.outgoing(message[2]), *message[3:])
        self._connection.send(message)


class TrainingLoop:
    def __init__(self, commands, replies, network: Network, data: Dataset | None,
                 settings: TrainingSettings, generation: int = 0) -> None:
        self._commands, self._replies = commands, replies
        self._generation = generation
        # The window's process; None when the loop runs in the caller's own process (tests).
        self._window = multiprocessing.parent_process()
        self._network, self._data, self._settings = network, data, settings
        self._trainer: Trainer | None = None
        # Numbers of the window's "adopt"s: the last received, and the last the trainer has
        # taken into its parameters (Progress.adopted: the window trusts a frame only for
        # edits up to that one).
        self._received = 0
        self._adopted = 0
        self._running = False
        self._quit = False
        self._drawn = True  # the window has drawn the last Progress sent and wants the next
        self._steps_per_update = 0
        self._evaluated_at = 0.0
        self._evaluate_every = EVALUATE_SECONDS  # longer for an evaluation that costs
        self._evaluation: Evaluation | None = None
        self._health_at = 0.0
        self._health: dict[str, str] = {}
        self._path = None  # the trainer's Trajectory object last asked for, and its number
        self._path_number = 0
        self._block = 1  # steps per advance() call, adapted so that one takes ~LISTEN_SECONDS
        self._sharpness = SharpnessWatch()
        self._through_time = ThroughTimeWatch()
        self._probe: MinibatchProbe | None = None  # while the surface panel asks for one
        # The compiled path's kernel compiles (seconds, once per machine) or loads from the
        # disk cache (about a second) on a thread; training runs in NumPy until it is ready.
        threading.Thread(target=kernel_warmup.warm_up, daemon=True,
                         name="compile training kernel").start()

    def loop(self) -> None:
        while not self._quit:
            if self._running:
                self._run_frame()
            else:
                self._wait_for_command()
            if self._window is not None and not self._window.is_alive():  # killed without a word
                return

    # ----- commands ---------------------------------------------------------------------------
    def _wait_for_command(self) -> None:
        try:
            command = self._commands.get(timeout=IDLE_SECONDS)
        except queue.Empty:
            return
        self._handle(*command)
        self._handle_waiting()

    def _handle_waiting(self) -> None:
        while not self._quit and not self._commands.empty():
            self._handle(*self._commands.get())

    def _handle(self, name: str, *args) -> None:
        if name == "drawn":
            self._drawn = True
        elif name == "quit":
            self._quit = True
        elif name == "run":
            self._set_running(True)
        elif name == "pause":
            self._set_running(False)
            self._publish(force=True)
        elif name in ("steps", "epoch"):
            self._set_running(False)
            if self._ensure_trainer():
                n = args[0] if name == "steps" else self._trainer.steps_per_epoch()
                if self._guard(lambda: self._train(n)):
                    self._sharpness.after_training(self._trainer, 0.0, force=True)
                    self._publish(force=True)
        elif name == "document":
            self._generation, self._network, self._data, self._settings = args
            self._trainer = None  # a new run: history, optimiser state and path start afresh
            self._drawn = True
            self._set_running(False)
        elif name == "adopt":
            delta, edited, structural, *number = args
            self._network.apply_delta(delta)
            self._received = number[0] if number else self._received
            if self._trainer is not None:
                self._trainer.adopt_document(delta, edited, structural)
        elif name == "settings":
            self._settings = args[0]
            if self._trainer is not None:
                self._guard(lambda: self._trainer.set_settings(args[0]))
        elif name == "data":
            self._data = args[0]
            self._new_run(args[1] if len(args) > 1 else self._generation)
        elif name == "restart":
            self._new_run(args[0] if args else self._generation)
        elif name == "speed":
            self._steps_per_update = args[0]
        elif name == "sharpness":
            self._sharpness.enabled = args[0]
            if args[0] and self._trainer is not None and not self._running and \
                    self._sharpness.after_training(self._trainer, 0.0, force=True):
                self._publish(force=True)
        elif name == "through_time":
            self._through_time.enabled = args[0]
            if args[0] and self._trainer is not None and not self._running:
                self._publish(force=True)  # the curve of the step on screen, at once
        elif name == "minibatch":  # asked again for as many: the record so far stays
            if args[0] <= 0 or self._probe is None or self._probe.keep != args[0]:
                self._probe = MinibatchProbe(args[0]) if args[0] > 0 else None
        elif name == "trajectory":
            self._send("trajectory", *self._trajectory_since(*args))
        elif name == "fresh_progress":
            self._send("fresh_progress", self._progress(fresh=True) if self._trainer else None)

    def _new_run(self, generation: int) -> None:
        """Reset weights or new data: history, optimiser state and path start afresh. The
        window drops, unanswered, any frame of the old generation still in the pipe (the
        pause's before a Reset): the new run must not wait for a "drawn" that never comes."""
        self._generation = generation
        self._trainer = None
        self._drawn = True

    def _send(self, *message) -> None:
        # Sent from the training loop itself: the window widens the pipe so that a Progress
        # fits and this does not wait for the window to read (see training_link.py).
        self._replies.send((message[0], self._generation) + message[1:])

    def _set_running(self, running: bool) -> None:
        if running != self._running:
            self._running = running
            self._send("running", running)

    # ----- training ---------------------------------------------------------------------------
    def _ensure_trainer(self) -> bool:
        if self._trainer is None:
            if self._data is None:
                self._fail("Cannot train: there is no data (the data settings could not be "
                           "used; see the Settings panel)")
                return False
            try:
                self._trainer = Trainer(self._network.copy(), self._data, self._settings)
                self._trainer.evaluate()
            except TrainingError as exc:
                self._trainer = None
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
        self._send("failed", message)
        self._publish(force=True)

    def _train(self, n: int) -> None:
        if n > 0 and self._probe is not None:
            self._probe.step(self._trainer)
            n -= 1
        if n > 0:
            self._trainer.advance(n, compiled=kernel_warmup.ready(self._trainer.dtype))

    def _run_frame(self) -> None:
        """Train until the frame is over (or n steps in slow motion), then publish."""
        if not self._ensure_trainer():
            return
        start = listened = time.monotonic()
        per_update = self._steps_per_update
        done = 0
        if self._probe is not None:  # the frame's first step is the one checked
            if not self._guard(lambda: self._probe.step(self._trainer)):
                return
            done = 1
        while not (per_update and done >= per_update):
            n = min(self._block, per_update - done) if per_update else self._block
            began = time.monotonic()
            if not self._guard(lambda: self._trainer.advance(
                    n, kernel_warmup.ready(self._trainer.dtype))):
                return
            done += n
            if per_update and done >= per_update:
                break
            now = time.monotonic()
            self._adapt_block(now - began)
            self._evaluate_if_due(now)
            if now - start >= FRAME_SECONDS:
                break
            if now - listened >= LISTEN_SECONDS:
                listened = now
                self._handle_waiting()
                if self._quit or not self._running or self._trainer is None:
                    return  # paused, stepped, restarted: those published what they had to
        if per_update:  # slow motion: hold each shown step for a frame
            time.sleep(max(0.0, FRAME_SECONDS - (time.monotonic() - start)))
        self._handle_waiting()  # a "drawn" that came in during the frame lets this one out
        if self._running and self._trainer is not None:
            self._sharpness.after_training(self._trainer, time.monotonic() - start)
            self._publish()

    def _evaluate_if_due(self, now: float) -> None:
        if now - self._evaluated_at >= self._evaluate_every:
            self._evaluate(now)

    def _evaluate(self, now: float) -> None:
        """The whole train and test sets, a point of the run's curves. Made while training
        too, not only for a frame: a window slow to draw (a loaded machine) asks for a few
        frames a second, and the curves then had a few points a second."""
        self._evaluation = self._trainer.evaluate()
        cost = time.monotonic() - now
        self._evaluate_every = max(EVALUATE_SECONDS, cost / EVALUATE_SHARE)
        self._evaluated_at = now

    def _adapt_block(self, seconds: float) -> None:
        """Many steps per call where a step takes microseconds (the compiled path), one where
        it takes longer than a look for commands is worth."""
        if seconds < LISTEN_SECONDS / 2:
            self._block = min(MAX_BLOCK, self._block * 2)
        elif seconds > 2 * LISTEN_SECONDS:
            self._block = max(1, self._block // 2)

    # ----- reports ----------------------------------------------------------------------------
    def _publish(self, force: bool = False) -> None:
        if self._trainer is None or not (force or self._drawn):
            return
        self._drawn = False
        self._send("progress", self._progress(fresh=force))

    def _progress(self, fresh: bool) -> Progress:
        """The trainer's state; evaluation and neuron health are refreshed on their own
        schedules (both cost forward passes over the data) unless `fresh`."""
        trainer = self._trainer
        try:  # the edits received so far, into the parameters this frame reports
            trainer.prepare()
            self._adopted = self._received
        except TrainingError:
            pass  # a structure that cannot train: the frame keeps the older number
        now = time.monotonic()
        self._evaluate(now) if fresh else self._evaluate_if_due(now)
        if fresh or now - self._health_at >= HEALTH_SECONDS:
            self._health = trainer.neuron_health()
            self._health_at = now
        plan, params = trainer.plan, trainer.params
        return Progress(
            trainer.step_count, trainer.epoch, self._running, _series(trainer.batch_loss),
            _series(trainer.train_loss), _series(trainer.test_loss),
            _series(trainer.train_accuracy), _series(trainer.test_accuracy), self._evaluation,
            plan.edge_ids, plan.edge_vector(params.weights), trainer.edge_gradients(),
            plan.bias_ids, params.biases[plan.bias_rows], trainer.level_gradient_norms(),
            dict(self._health), self._adopted, sharpness=self._sharpness.report(trainer),
            minibatch=self._probe.report(trainer) if self._probe is not None else None,
            through_time=self._through_time.report(trainer, force=fresh))

    def _trajectory_since(self, number: int, since_step: int) -> tuple:
        """The parameter path: its number, the steps it keeps, the snapshots after
        `since_step` (all of them unless the window holds path `number`), parameter names.
        Views into the trainer's buffers: sending pickles (copies) them at once."""
        t = self._trainer
        if t is None:
            return -1, np.zeros(0, dtype=np.int64), np.zeros((0, 0)), ()
        if t.trajectory is not self._path:  # a new run, or a new parameter count
            self._path, self._path_number = t.trajectory, self._path_number + 1
        path = t.trajectory
        new = path.thetas[path.steps > since_step] if number == self._path_number else path.thetas
        return self._path_number, path.steps, new, tuple(t.plan.parameter_names())


def _series(s) -> SeriesCopy:
    return SeriesCopy(s.x, s.y)  # views, like the arrays of _trajectory_since
