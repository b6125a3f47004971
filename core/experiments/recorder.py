"""Training turned into kept runs: from a Trainer (a sweep's job, a script) or from the
Progress messages of the window's training process (RunRecorder), so the window only wires.

A run lasts from Reset, or from the weights as they are, until the user changes the structure,
the settings, the data or a value: a pause does not end it, and Run after a pause with nothing
changed goes on with the same run.
"""
from __future__ import annotations

import time
import weakref
from dataclasses import replace
from typing import Callable

import numpy as np

from core.experiments.curve import Curve
from core.experiments.run import (CURVE_NAMES, MAX_RUN_PARAMETERS, Run, RunWeights,
                                  structure_fingerprint)
from core.experiments.run_log import RunLog
from core.errors import NetworkError
from core.network import Network
from core.training.progress import Progress
from core.training.trainer import Evaluation, Trainer


def with_results(run: Run, series: dict, base_step: int, steps: int, epochs: int,
                 seconds: float, final: Evaluation | None, weights: RunWeights | None = None,
                 note: str = "") -> Run:
    """`run` with its results: `series` maps CURVE_NAMES to (steps, values) arrays of the
    trainer's own counting; the points from `base_step` on are kept, counted from it."""
    curves = {}
    for name in CURVE_NAMES:
        x, y = series[name]
        x, y = np.asarray(x), np.asarray(y)
        after = x >= base_step
        if after.any():
            curves[name] = Curve.of(x[after] - base_step, y[after])
    return replace(run, steps=steps, epochs=epochs, seconds=seconds, curves=curves,
                   final=_finite(final), weights=weights, note=note[:1000])


def run_from_trainer(start: Run, trainer: Trainer, seconds: float, final: Evaluation,
                     keep_weights: bool = True, note: str = "") -> Run:
    """The run a Trainer made from its first step (its document holds the trained values:
    call trainer.sync_network() first)."""
    series = {name: (s.x, s.y) for name, s in _trainer_series(trainer).items()}
    weights = RunWeights.of(trainer.network) if keep_weights else None
    return with_results(start, series, 0, trainer.step_count, trainer.epoch, seconds, final,
                        weights, note)


def _trainer_series(trainer: Trainer) -> dict:
    return {"train_loss": trainer.train_loss, "test_loss": trainer.test_loss,
            "train_accuracy": trainer.train_accuracy, "test_accuracy": trainer.test_accuracy}


class RunRecorder:
    """Keeps `log` current with the window's training. The window calls start() when
    training starts (Run, Step), observe() with each Progress it takes, stop() when it pauses,
    changed() after each of the user's edits and settings changes (EditTracker.noticed, not
    the trained values it writes itself), and close() when the document is replaced."""

    def __init__(self, log: RunLog, keep_weights: bool = True,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.log, self.keep_weights, self._clock = log, keep_weights, clock
        self._start: Run | None = None  # the open run as it began (fingerprints, settings)
        self._run_id: str | None = None  # its id in the log, once it has trained a step
        self._base = (0, 0)  # the trainer's step and epoch when it began
        self._last: Progress | None = None
        self._seconds = 0.0
        self._since: float | None = None  # clock when training last started, while running
        # The network the open run trains and its structure version when it began: an edit of
        # the structure bumps the version, so comparing versions tells whether it is the same
        # shape without hashing 51k edges at each edit (structure_fingerprint: 45 ms). The
        # run's own fingerprint is taken when it is first written (a frame later, off the
        # edit's event): any structure edit before that ends the run, so it is the same shape.
        self._shape: tuple = (lambda: None, -1)
        # Set while a caller hashes the open run's shape in pieces (the window, between its
        # events): frames then wait for it instead of hashing at once; stop() and close()
        # never wait. The caller clears it and calls flush() when the pieces are done.
        self.shape_pending = False

    @property
    def open(self) -> bool:
        return self._start is not None

    @property
    def shape_to_hash(self) -> Network | None:
        """The network whose structure fingerprint the open run still needs (taken at its
        first write; a caller with time to spare can make it first, in slices:
        core.experiments.run.structure_fingerprint_job), or None."""
        if self._start is None or self._start.structure:
            return None
        return self._shape[0]()

    @property
    def current(self) -> Run | None:
        """The open run as the log holds it (None before its first step)."""
        return self.log[self._run_id] if self._run_id in self.log else None

    def start(self, network: Network, data, training, step: int = 0, epoch: int = 0,
              initialised: bool = False) -> None:
        """Training starts at the trainer's `step`: the open run goes on if the document is as
        it left it, else a new one begins here."""
        if self._start is not None and not self._matches(network, data, training):
            self.close()
        if self._start is None:
            self._start = Run.starting(network, data, training, initialised, structure="")
            self._shape = (weakref.ref(network), network.structure_version)
            self._base, self._run_id, self._last, self._seconds = (step, epoch), None, None, 0.0
        if self._since is None:
            self._since = self._clock()

    def observe(self, progress: Progress) -> None:
        if self._start is None:
            return
        if progress.step < self._base[0]:  # another trainer, counting from 0: not this run
            self.close()
            return
        self._last = progress
        if progress.step > self._base[0] and not (self.shape_pending and self.shape_to_hash):
            self._write(weights=False)

    def flush(self) -> None:
        """Write what the frames since the last write brought (after a deferred write)."""
        if self._start is not None and self._last is not None and \
                self._last.step > self._base[0]:
            self._write(weights=False)

    def stop(self) -> None:
        """Training paused: the clock stops; the run stays open (its weights are written)."""
        if self._since is not None:
            self._seconds += self._clock() - self._since
            self._since = None
        if self._run_id is not None or (self._last is not None and self._start is not None
                                        and self._last.step > self._base[0]):
            self._write(weights=True)  # (a run whose frames waited for its shape: now)

    def changed(self, network: Network, data, training, step: int = 0, epoch: int = 0,
                running: bool = False) -> None:
        """The user changed the document: a run it no longer matches ends; while training
        runs, a new run begins at `step`."""
        if self._start is None or self._matches(network, data, training):
            return
        self.close()
        if running:
            self.start(network, data, training, step, epoch)

    def close(self) -> Run | None:
        """End the open run (a new document, Reset, an edit); returns it as kept."""
        self.stop()
        run = self.current
        self._start, self._run_id, self._last = None, None, None
        return run

    # ----- inside -------------------------------------------------------------------------
    def _matches(self, network: Network, data, training) -> bool:
        """The document is still the one the open run trains: same structure, settings and
        data, and the values the run last reported (a user's edit of a weight ends a run)."""
        s = self._start
        ref, version = self._shape
        if ref() is not network or version != network.structure_version or \
                s.training != training.to_dict() or s.data != data.to_dict():
            return False
        p = self._last
        if p is None:
            return True
        try:  # weights_of: 51k weights at C speed (a dict lookup each took 20 ms)
            weights = network.weights_of(p.edge_ids)
            biases = [network.neurons[i].bias for i in p.bias_ids]
        except (KeyError, NetworkError):
            return False
        return np.array_equal(weights, p.weights) and np.array_equal(biases, p.biases)

    def _write(self, weights: bool) -> None:
        p = self._last
        if p is None:
            return
        if not self._start.structure:
            network = self._shape[0]()
            if network is not None:  # (gone only with its document, whose log went too)
                self._start = replace(self._start, structure=structure_fingerprint(network))
        seconds = self._seconds + (self._clock() - self._since if self._since is not None else 0)
        series = {name: (getattr(p, name).x, getattr(p, name).y) for name in CURVE_NAMES}
        kept = None  # taken when training pauses, not at every frame (51k edges: 5 ms)
        if weights and self.keep_weights and \
                len(p.edge_ids) + len(p.bias_ids) <= MAX_RUN_PARAMETERS:
            kept = RunWeights(dict(zip(p.edge_ids, p.weights.tolist())),
                              dict(zip(p.bias_ids, p.biases.tolist())))
        run = with_results(self._start, series, self._base[0], p.step - self._base[0],
                           p.epoch - self._base[1], seconds, p.evaluation, kept)
        if self._run_id is None:
            run = self.log.add(replace(run, name=self.log.next_name()))
            self._run_id = run.id
        elif self._run_id in self.log:
            self.log.update(replace(run, id=self._run_id, name=self.log[self._run_id].name))
        # a run the user deleted while it trained stays deleted


def _finite(e: Evaluation | None) -> Evaluation | None:
    """An evaluation a file can hold (a diverged run's loss can be infinite): figures that
    are not finite become None; without a training loss, no evaluation at all."""
    if e is None or not np.isfinite(e.train_loss):
        return None
    fix = {k: v if v is None or np.isfinite(v) else None for k, v in vars(e).items()}
    return Evaluation(**fix)

