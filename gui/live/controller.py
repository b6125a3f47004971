"""The GUI side of training: keeps a training process (core/training/loop.py, reached
through gui/live/training_link.py), forwards document edits to it, and writes trained weights
back into the document (throttled, once per drawn frame). If the process dies it starts a new
one from the document as it is.

Every document the window shows, and every new run of one (Reset weights, other data), gets a
generation number; the process tags each message with the generation it trained for, and
messages of an earlier one are dropped here. So a Progress still in the pipe when another file
is opened can never write the old run's weights into the new network, nor its curves into the
panels of a run started afresh."""
from __future__ import annotations

import time

import numpy as np
from PySide6.QtCore import QObject, QTimer, Signal

from core.data.dataset import Dataset
from core.edits import values_of
from core.network import Change, Network
from core.settings import TrainingSettings
from core.training.edit_tracker import EditTracker
from core.training.live_state import LiveState
from core.training.progress import Progress
from gui.live.training_link import TrainingLink
from gui.live.trajectory_mirror import TrajectoryMirror

# While running, the window takes a Progress (the document and so the canvas its trained
# weights, the panels their curves) at most this often. Asking more often costs the training
# process the making of frames the window cannot draw: with every panel open it draws about
# 16 a second on 2 cores (bench/live_speed.py: 0.80-0.84 of headless at this rate, 0.75-0.92
# at 30 a second, 0.90-0.94 at 10).
SYNC_SECONDS = 1 / 20
# ... and less often when drawing a frame costs more: the window's own CPU time per frame is
# kept under this share of the time between frames. On 2 shared cores every millisecond the
# window draws is taken from the trainer (bench/live_speed.py: with every panel on screen it
# drew 6 frames a second at half a core, and training ran at 0.58 of headless).
DRAW_SHARE = 0.2
# ... but never less often than this: a window that shows nothing new for longer looks hung
# (and the CPU time it measures holds whatever else ran in it, not only drawing).
SLOWEST_SECONDS = 1.0
# A training process that keeps dying (say, crashing as it starts) is not restarted for ever:
# at most this many times within this many seconds.
RESTARTS, RESTART_SECONDS = 3, 60.0


class TrainingController(QObject):
    progress = Signal(object)  # Progress, after the document holds its weights
    message = Signal(str)  # why training paused (divergence, ...), or that its process died
    running_changed = Signal(bool)
    starting = Signal()  # Run, Step or Step epoch is about to send the process training
    edited = Signal(object)  # the user's edit of the document (a Change), not trained values
    # A finished stretch of training as one undoable change: (weights, biases) before and after.
    trained = Signal(object, object, int)

    def __init__(self, live: LiveState, parent: QObject | None = None) -> None:
        super().__init__(parent)
        # The document, its data and settings (what a new training process starts from,
        # should the running one die) and the latest Progress: kept here, read by the panels.
        self.live = live
        network = live.network
        self.generation = 0
        self.running = False
        self._session_start: tuple[dict, dict] | None = None
        self._session_steps = 0
        self._closed = False
        self._steps_per_update = 0
        self._sharpness = False  # the process estimates lambda_max (the panel is on screen)
        self._through_time = False  # it carries the gradient through time (ditto)
        self._minibatch_probe = 0  # steps the process checks for going downhill (0: none)
        self._trajectory = TrajectoryMirror()
        self._restarted_at: list[float] = []
        self._frame_clock = (time.monotonic(), time.process_time())  # at the last Progress
        self._link = TrainingLink(self)
        self._link.received.connect(self._on_message)
        self._link.died.connect(self._on_process_died)
        self._edits = EditTracker(network)  # what the process has yet to be sent
        # Edits sent but not yet applied by the process, by number: a frame made before the
        # process applied one must not write those items back (Progress.adopted).
        self._adopts_sent = 0
        self._unconfirmed: list[tuple[int, frozenset[str]]] = []
        self._edits.noticed.connect(self._on_network_edited)
        self._flush_timer = QTimer(self, singleShot=True, interval=0)
        self._flush_timer.timeout.connect(self._flush_edits)
        self._next_progress = QTimer(self, singleShot=True)
        self._next_progress.timeout.connect(lambda: self._link.send("drawn"))
        self._link.start(network.copy(), live.data, live.settings, self.generation)

    @property
    def network(self) -> Network:
        return self.live.network

    @property
    def latest(self) -> Progress | None:
        """The last Progress taken into the document (None before the run's first)."""
        return self.live.progress

    @latest.setter
    def latest(self, progress: Progress | None) -> None:
        self.live.progress = progress

    # ----- commands ---------------------------------------------------------------------------
    def run(self) -> None:
        self._flush_edits()
        self._begin_session()
        self.starting.emit()
        self._link.send("run")

    def pause(self) -> None:
        self._link.send("pause")

    def toggle(self) -> None:
        self.pause() if self.running else self.run()

    def step(self, n: int = 1) -> None:
        self._flush_edits()
        self._begin_session()
        self.starting.emit()
        self._link.send("steps", n)

    def step_epoch(self) -> None:
        self._flush_edits()
        self._begin_session()
        self.starting.emit()
        self._link.send("epoch")  # the process knows the epoch's length

    def restart(self) -> None:
        """Forget the run (history, optimiser state); the next step starts from the document."""
        self.settle()
        self.latest = None
        # A new run: the frame the pause above made may still be in the pipe (read while
        # waiting for settle's answer, delivered after it); it belongs to the old run. Its
        # curves were drawn over the cleared panels after Reset weights.
        self.generation += 1
        self._link.send("restart", self.generation)

    def settle(self) -> None:
        """End the stretch of training now: pause, take the process's exact state into the
        document and report the stretch (`trained`: one undo step). Called before anything
        that asks about, replaces or restarts the document, so no training is ever lost or
        left out of the undo history. Waits for the process (a few milliseconds)."""
        if self._closed:
            return
        self._flush_edits()
        self._link.send("pause")
        if self._session_start is None:
            return
        reply = self._request("fresh_progress")
        if reply is not None and reply[0] is not None:
            self._take(reply[0])
        if self.running:
            self._on_running_changed(False)
        self._end_session()

    def load_document(self, network: Network, data: Dataset | None,
                      settings: TrainingSettings) -> None:
        """Another document is open: the process drops its run and trains this one; anything
        it still says about the old document is ignored from now on."""
        self.generation += 1
        self.live.load_document(network, data, settings)
        self._trajectory = TrajectoryMirror()
        self._edits.clear()
        self._unconfirmed = []  # edits of the document before
        self._session_start = None
        if self.running:
            self.running = False
            self.running_changed.emit(False)
        self._link.send("document", self.generation, network.copy(), data, settings)

    def set_settings(self, settings: TrainingSettings) -> None:
        self.live.set_settings(settings)
        self._link.send("settings", settings)

    def set_data(self, data: Dataset) -> None:
        self._flush_edits()
        self.live.set_data(data)  # no progress: the process starts a new run on the new data
        self.generation += 1  # (as in restart)
        self._link.send("data", data, self.generation)

    def set_steps_per_update(self, n: int) -> None:
        self._steps_per_update = max(0, int(n))
        self._link.send("speed", self._steps_per_update)

    def set_sharpness(self, on: bool) -> None:
        """Have the process estimate the sharpness while it trains (the Sharpness panel is
        on screen), or not: off screen it costs training nothing."""
        self._sharpness = bool(on)
        self._link.send("sharpness", self._sharpness)

    def set_through_time(self, on: bool) -> None:
        """Have each Progress carry the gradient through time of its step (the Through time
        panel is on screen), or not: off screen it costs training nothing."""
        self._through_time = bool(on)
        self._link.send("through_time", self._through_time)
    def set_minibatch_probe(self, keep: int) -> None:
        """Ask the process for the last minibatch and for how often the last `keep` checked
        steps lowered the training loss (Progress.minibatch); 0: stop (the default)."""
        self._minibatch_probe = max(0, int(keep))
        self._link.send("minibatch", self._minibatch_probe)

    def shutdown(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._link.stop()
        self._edits.close()

    # ----- questions to the process (they wait for its answer) -----------------------------
    def trajectory(self) -> tuple[np.ndarray, np.ndarray, tuple[str, ...]]:
        """The decimated parameter path of the run so far: thetas, their steps, and the
        parameter names (empty if there is no run; as last known if the process does not
        answer). Read only: the arrays are shared."""
        reply = self._request(*self._trajectory.request())
        if reply is not None:
            self._trajectory.update(*reply)
        t = self._trajectory
        return t.thetas, t.steps, t.names

    def fresh_progress(self) -> Progress | None:
        """The run's state right now, not the last one drawn (None if there is no run)."""
        reply = self._request("fresh_progress")
        return reply[0] if reply is not None else None

    def _request(self, *command) -> tuple | None:
        """The reply's payload, or None if none came or it was about another document."""
        reply = self._link.request(*command)
        if reply is None or reply[1] != self.generation:
            return None
        return reply[2:]

    @property
    def process_id(self) -> int | None:
        return self._link.pid

    # ----- document edits -> process -----------------------------------------------------------
    def _on_network_edited(self, change: Change) -> None:
        self.live.document_edited()  # the last frame's parameters are no longer the document's
        self.edited.emit(change)
        if change.kind == "reset":
            return  # another document: the window calls load_document with its data
        self._flush_timer.start()  # one snapshot for a burst of edits

    def _flush_edits(self) -> None:
        if not self._edits.pending():
            return
        edited, structural = self._edits.take()
        self._adopts_sent += 1
        self._unconfirmed.append((self._adopts_sent, edited))
        self._link.send("adopt", self.network.delta(edited, structural), edited, structural,
                        self._adopts_sent)

    # ----- process -> document and panels ------------------------------------------------------
    def _on_message(self, message: tuple) -> None:
        kind, generation = message[0], message[1]
        if generation != self.generation:
            return  # about a document that is no longer open
        if kind == "progress":
            self._on_progress(message[2])
        elif kind == "failed":
            self.message.emit(message[2])
        elif kind == "running":
            self._on_running_changed(message[2])
        # anything else is the answer to a request that gave up waiting for it

    def _on_process_died(self) -> None:
        if self._closed:
            return
        if self.running:
            self._on_running_changed(False)
        self._end_session()  # what reached the document so far is one undoable stretch
        self.latest = None  # the new process counts from step 0
        self._trajectory = TrajectoryMirror()  # and numbers its paths afresh
        self._edits.clear()  # it starts from the document as it is
        self._adopts_sent, self._unconfirmed = 0, []  # a new process counts from 0
        now = time.monotonic()
        self._restarted_at = [t for t in self._restarted_at if now - t < RESTART_SECONDS] + [now]
        if len(self._restarted_at) > RESTARTS:
            self.message.emit("The training process keeps stopping, so training is off in this "
                              "window. Save your work and restart Backprop Studio.")
            return
        self._link.start(self.network.copy(), self.live.data, self.live.settings, self.generation)
        if self._steps_per_update:
            self._link.send("speed", self._steps_per_update)
        if self._sharpness:
            self._link.send("sharpness", True)
        if self._through_time:
            self._link.send("through_time", True)
        if self._minibatch_probe:
            self._link.send("minibatch", self._minibatch_probe)
        cause = self._link.death_cause()
        self.message.emit("The training process stopped unexpectedly"
                          + (f" ({cause})" if cause else "") + "; it was restarted.")

    def _on_progress(self, progress: Progress) -> None:
        if self._closed:
            return
        received, cpu = time.monotonic(), time.process_time()
        last_wall, last_cpu = self._frame_clock
        self._frame_clock = (received, cpu)
        try:
            self._take(progress)
            if not progress.running and self._session_start is not None:
                self._end_session()  # now, so a Step right after starts a stretch of its own
        finally:
            # Let the next one come when the canvas is due another update: asking sooner
            # would only bring frames to be dropped (and cost both processes their making).
            # The last frame's cost (taking it, then painting it) sets how far apart
            # frames must be for the window to stay within its DRAW_SHARE of a core.
            # Only between frames of a run: after a Step or a pause the time since the last
            # frame was the user's (building the window, opening a file), not drawing, and
            # counting it held the run's first frame back by seconds.
            cost = (cpu - last_cpu) + (time.process_time() - cpu) \
                if progress.running and received - last_wall < SLOWEST_SECONDS else 0.0
            wait = min(SLOWEST_SECONDS, max(SYNC_SECONDS, cost / DRAW_SHARE)) \
                - (time.monotonic() - received)
            self._next_progress.start(max(0, round(wait * 1000)))

    def _take(self, progress: Progress) -> None:
        """The process's weights into the document (except what was edited since), then the
        panels."""
        # Items edited since are the user's: those not sent yet, and those sent in an "adopt"
        # this frame was made before (it can still be in the pipe when Undo reverts a run).
        # The arrays go in as they are, in the frame's order (a dict of 51k entries built and
        # pruned per frame cost the window 0.1-0.45 s a frame).
        self._unconfirmed = [(n, ids) for n, ids in self._unconfirmed if n > progress.adopted]
        ahead = set(self._edits.edited).union(*(ids for _, ids in self._unconfirmed))
        with self._edits.ours():
            self.network.set_value_arrays(progress.edge_ids, progress.weights,
                                          progress.bias_ids, progress.biases, keep=ahead)
        self.latest = progress
        if ahead:  # its parameters are not the document's: the panels draw the document's
            self.live.document_edited()
        self.progress.emit(progress)

    def _begin_session(self) -> None:
        if self._session_start is None:
            self._session_start = values_of(self.network)
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
        after = values_of(self.network)
        # The run may have restarted inside the stretch (new data): then count from 0.
        now = self.latest.step if self.latest else 0
        steps = now - self._session_steps if now >= self._session_steps else now
        before, self._session_start = self._session_start, None
        if after != before:
            self.trained.emit(before, after, max(steps, 1))
