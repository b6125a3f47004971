"""Runs recorded while the user trains in the window: the core's RunRecorder
(core.experiments.recorder) fed from the TrainingController's signals, writing into the
document's RunLog. A run lasts from Reset (or the weights as they are) until the structure,
the settings, the data or a value is changed by the user; a pause does not end it.

Each document gets a recorder of its own: when the run log is replaced (Open, New, a template,
their undo) the old recorder is dropped unwritten, so a run of one document can never be
written into another's log. Its last figures and weights were written before that: every
replacement first settles the training, which pauses it (stop() writes the weights)."""
from __future__ import annotations

from PySide6.QtCore import QObject

from core.experiments.recorder import RunRecorder
from core.experiments.run import structure_fingerprint_job
from core.experiments.run_log import RunChange
from core.network import Change
from core.project import Project
from core.training.progress import Progress
from gui.slices import Slices


class RunRecording(QObject):
    def __init__(self, project: Project, controller, parent=None) -> None:
        super().__init__(parent)
        self.project, self.controller = project, controller
        self.recorder = RunRecorder(project.runs)
        self._hashing = Slices(self)  # a new run's structure fingerprint, between events
        self._hashing.finished.connect(self._on_hashed)
        self._hashed: tuple = (None, -1)  # the network and structure version being hashed
        self._drawn = False  # the weights were drawn afresh (Reset) and not edited since
        controller.starting.connect(self._on_starting)
        controller.progress.connect(self._on_progress)
        controller.running_changed.connect(self._on_running_changed)
        controller.edited.connect(self._on_edited)
        project.runs.changed.connect(self._on_runs_changed)

    def weights_reset(self) -> None:
        """Reset weights: the next run starts from weights drawn from the initialiser."""
        self._drawn = True

    def _position(self) -> tuple[int, int]:
        latest = self.controller.latest
        return (latest.step, latest.epoch) if latest is not None else (0, 0)

    def _on_starting(self) -> None:
        p = self.project
        self.recorder.start(p.network, p.data, p.training, *self._position(),
                            initialised=self._drawn)
        self._hash_shape()

    def _on_progress(self, progress: Progress) -> None:
        self.recorder.observe(progress)
        if not progress.running:  # the last frame of a stretch: its weights are kept
            self.recorder.stop()

    def _on_running_changed(self, running: bool) -> None:
        if not running:
            self.recorder.stop()

    def _on_edited(self, change: Change) -> None:
        if change.kind == "reset":
            return  # another document: _on_runs_changed gave it a recorder of its own
        if change.kind not in ("settings", "neuron_moved"):  # a value or the shape: not drawn
            self._drawn = False
        p = self.project
        self.recorder.changed(p.network, p.data, p.training, *self._position(),
                              running=self.controller.running)
        self._hash_shape()

    def _hash_shape(self) -> None:
        """A new run's shape is hashed in slices, before its first frame asks for it (on a
        51k-edge net hashing it at once took 45 ms of the window's thread)."""
        network = self.recorder.shape_to_hash
        if network is None:
            return
        self.recorder.shape_pending = True  # its frames wait for the pieces
        shape = (network, network.structure_version)
        if self._hashing.running and self._hashed == shape:
            return  # already on it: a burst of edits (a spin box held) does not restart it
        self._hashed = shape
        self._hashing.start(structure_fingerprint_job(network))

    def _on_hashed(self) -> None:
        self.recorder.shape_pending = False
        self.recorder.flush()

    def _on_runs_changed(self, change: RunChange) -> None:
        if change.kind == "reset":
            self._hashing.cancel()  # (the old document's shape)
            self.recorder = RunRecorder(self.project.runs)
            self._drawn = False
