"""Sharpness live: the Hessian's top eigenvalue (lambda_max) of the full-batch training loss,
estimated during a run on a schedule, for the Sharpness panel.

For full-batch gradient descent with step eta, a quadratic model is stable only while
lambda_max < 2/eta (core.curvature.OVERSHOOT). Cohen, Kaur, Li, Kolter and Talwalkar, "Gradient
Descent on Neural Networks Typically Occurs at the Edge of Stability" (ICLR 2021): during
training lambda_max rises until it reaches about 2/eta, then hovers there while the loss keeps
falling, not monotonically.

The training process's loop owns one SharpnessWatch. It is off unless the window has the panel
on screen (an off watch costs one attribute test per frame). When on, the loop tells it after
each frame how long the run trained; it estimates when the last estimate is at least `every`
steps old and the time spent estimating is within `share` of the time trained, so watching
costs training about a tenth of its speed (after a small credit at the start of a run) and
never more than one estimate ahead of that.
Each estimate is Lanczos on Hessian-vector products (core.curvature.top_eigenpair), started
from the previous estimate's eigenvector: a few training steps move it little, so a handful of
products converge where a cold start needs about twenty.

On sequence data the loss is the training loss through time (with the sequences' masks and
training.sequence_loss), its Hessian-vector products differences of the full
backpropagation-through-time gradient (core.curvature), and the fixed subsample is of whole
sequences, as many as fit in SEQUENCE_STEP_LIMIT time steps.
"""
from __future__ import annotations

import math
import threading
import time
import weakref
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

import numpy as np

from core.curvature import TrainingLoss, top_eigenpair
from core.engine.plan import Plan
from core.errors import CurvatureError
from core.optimizers import learning_rate
from core.settings import TrainingSettings
from core.training.loss_history import Series

if TYPE_CHECKING:
    from core.training.trainer import Trainer

# An estimate costs about ten gradients over the samples below (twenty from a cold start); at
# this size that is under a second on the development machine (bench/sharpness_speed.py).
PARAMETER_LIMIT = 5000
# Larger training sets are represented by a fixed subsample of this many rows, drawn once per
# data set: the same loss at every estimate, so the curve shows the network changing.
SAMPLE_LIMIT = 1000
# On sequences a gradient runs step by step, so the subsample is counted in time steps: whole
# sequences up to this many steps in all (at least one sequence).
SEQUENCE_STEP_LIMIT = 5000
EVERY_STEPS = 10  # at most one estimate per this many steps
TIME_SHARE = 0.1  # of the time trained, at most this much is spent estimating
# ... plus this much at the start of a run, where sharpness changes fastest: a small net rises
# to the edge of stability within its first second of training (1-8-1 sine, full batch, in
# about 600 steps), which a tenth of that second covered with three estimates.
CREDIT_SECONDS = 0.25
HISTORY = 2048  # estimates kept (decimated beyond, as the loss curves are)

# scipy's Lanczos (scipy.sparse.linalg) takes about 0.75 s to import, once per process. A
# watch turned on starts the import on a thread, so a panel opened before Run has it by the
# first estimate; an estimate due sooner waits for the rest, outside the time budget (letting
# the run go on without estimates until then lost the start of the curve, where sharpness
# rises: about a thousand steps of a small net).
_lanczos_loaded = threading.Event()
_lanczos_lock = threading.Lock()
_lanczos_thread: list[threading.Thread] = []


def load_lanczos(wait: bool = False) -> bool:
    """Start importing scipy's Lanczos on a thread (once); whether it is loaded (after
    waiting for it, if `wait`)."""
    with _lanczos_lock:
        if not _lanczos_thread:
            _lanczos_thread.append(threading.Thread(target=_import_lanczos, daemon=True,
                                                    name="import Lanczos"))
            _lanczos_thread[0].start()
    if wait:
        _lanczos_loaded.wait()
    return _lanczos_loaded.is_set()


def _import_lanczos() -> None:
    try:
        import scipy.sparse.linalg  # noqa: F401
    finally:
        _lanczos_loaded.set()


def refusal(n_parameters: int) -> str | None:
    """Why a net with this many trainable parameters gets no estimates, or None."""
    if n_parameters <= PARAMETER_LIMIT:
        return None
    return (f"This network has {n_parameters:,} trainable parameters; sharpness is estimated "
            f"for nets up to {PARAMETER_LIMIT:,}. Each estimate costs ten or more gradients "
            f"over the data, and on a net this size they would take more than their tenth of "
            f"the training time.")


def watched(plan: Plan) -> np.ndarray | None:
    """The parameters the Hessian is taken in: the trainable ones (None: all of them).
    Gradient descent never moves a frozen one, so its curvature is not the run's."""
    trainable = plan.trainable_vector()
    return None if trainable.all() else np.flatnonzero(trainable)


def refusal_for(plan: Plan) -> str | None:
    """refusal() for this plan's trainable parameters."""
    indices = watched(plan)
    return refusal(plan.n_parameters if indices is None else len(indices))


def edge_of_stability(settings: TrainingSettings, step: int = 0, epoch: int = 0
                      ) -> float | None:
    """2/eta at this step (a decaying rate moves it), or None when the rate is 0."""
    eta = learning_rate(settings, step, epoch)
    return 2.0 / eta if eta > 0 and math.isfinite(2.0 / eta) else None


@dataclass(frozen=True)
class SharpnessReport:
    """The estimates of a run so far, as a Progress carries them."""
    steps: np.ndarray  # the training step each estimate was made at
    values: np.ndarray  # lambda_max at that step
    samples: int  # training rows the loss was taken over (a fixed subsample when large)
    total_samples: int  # training rows in the data set
    share: float  # time spent estimating / time trained while watching
    problem: str = ""  # why the last estimate could not be made ("" when it was)
    unit: str = "samples"  # what a row is: "samples", or "sequences" on sequence data


class SharpnessWatch:
    """lambda_max over a run's steps, estimated on a schedule (see the module's text)."""

    def __init__(self, every: int = EVERY_STEPS, share: float = TIME_SHARE,
                 credit: float = CREDIT_SECONDS,
                 clock: Callable[[], float] = time.perf_counter) -> None:
        self.every, self.share, self.credit, self._clock = every, share, credit, clock
        self._enabled = False
        self._trainer = lambda: None  # a weak reference to the run being watched
        self.clear()

    @property
    def enabled(self) -> bool:
        return self._enabled

    @enabled.setter
    def enabled(self, on: bool) -> None:
        self._enabled = bool(on)
        if on:
            load_lanczos()

    def clear(self) -> None:
        """A new run: no estimates, no warm start, a fresh time budget."""
        self._series = Series(HISTORY)
        self._trained = self._spent = 0.0
        self._last_step: int | None = None
        self._vector: np.ndarray | None = None
        self._vector_names: tuple[str, ...] = ()
        # (data, features, x, y, mask) of the subsample
        self._rows: tuple = (None, None, None, None, None)
        self._problem = ""
        self._samples = self._total = 0

    def after_training(self, trainer: "Trainer", seconds: float, force: bool = False) -> bool:
        """The run trained for `seconds` (wall time, while watching); estimate if one is due,
        or at once if `force` (the user stepped). Whether an estimate was made."""
        if not self._enabled:
            return False
        if self._trainer() is not trainer:  # another run: its history starts afresh
            self.clear()
            self._trainer = weakref.ref(trainer)
        self._trained += seconds
        step = trainer.step_count
        if step == self._last_step:
            return False
        if not force and self._last_step is not None and (
                step - self._last_step < self.every or
                self._spent > self.share * self._trained + self.credit):
            return False
        load_lanczos(wait=True)
        began = self._clock()
        try:
            self._estimate(trainer)
        finally:
            self._spent += self._clock() - began
            self._last_step = step
        return True

    def report(self, trainer: "Trainer") -> SharpnessReport | None:
        """The estimates of this trainer's run so far; None if none was made for it."""
        if self._trainer() is not trainer or (self._last_step is None and not self._problem):
            return None
        share = self._spent / self._trained if self._trained > 0 else 0.0
        unit = "sequences" if trainer.data.is_sequence else "samples"
        return SharpnessReport(self._series.x.copy(), self._series.y.copy(), self._samples,
                               self._total, share, self._problem, unit)

    # ----- one estimate ------------------------------------------------------------------------
    def _estimate(self, trainer: "Trainer") -> None:
        plan, settings = trainer.plan, trainer.settings
        indices = watched(plan)
        self._problem = refusal_for(plan) or ""
        if self._problem or (indices is not None and len(indices) == 0):
            return
        x, y, mask = self._subsample(trainer)
        f = TrainingLoss(plan, x, y, settings.loss, settings.l1, settings.l2, mask,
                         settings.sequence_loss)
        theta = np.asarray(plan.flatten(trainer.params), np.float64)
        names = tuple(plan.parameter_names())
        start = self._vector if names == self._vector_names else None  # same parameters
        try:
            with np.errstate(over="ignore", invalid="ignore"):
                value, vector = top_eigenpair(f, theta, start, indices)
        except CurvatureError as exc:
            self._problem = f"No estimate at step {trainer.step_count:,}: {exc}."
            return
        if not math.isfinite(value):
            self._problem = (f"No estimate at step {trainer.step_count:,}: the curvature is "
                             f"not a finite number there.")
            self._vector = None
            return
        self._series.append(trainer.step_count, value)
        self._vector, self._vector_names = vector, names

    def _subsample(self, trainer: "Trainer"
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        """The training rows (or sequences) every estimate of this data set uses, as the
        plan's inputs, with their mask (None: rows, or no padding)."""
        data, features = trainer.data, trainer.plan.features
        held_data, held_features, x, y, mask = self._rows
        if held_data is not data or held_features != features:
            total = len(data.x_train)
            limit = max(1, SEQUENCE_STEP_LIMIT // data.x_train.shape[1]) if data.is_sequence \
                else SAMPLE_LIMIT
            rows = np.arange(total) if total <= limit else np.sort(
                np.random.default_rng(0).choice(total, limit, replace=False))
            x = data.x_train[rows]  # rows, or (sequences x steps x columns): step by step
            x = trainer.plan.inputs_from(x.reshape(-1, x.shape[-1])).reshape(*x.shape[:-1], -1)
            y = data.y_train[rows]
            mask = None if data.mask_train is None else data.mask_train[rows]
            self._rows = (data, features, x, y, mask)
            self._samples, self._total = len(rows), total
        return x, y, mask
