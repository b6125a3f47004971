"""One job of a sweep: the project trained with some settings changed and one seed, headless,
exactly as `python main.py train FILE --seed S --init` would train the file with those
settings written into it (core.training.headless does both), returning the Run.

Runs in a worker: a process of a local pool or a Dask worker on another machine. So a job is
plain picklable data, the base carries the data set itself (a worker elsewhere has no CSV
file), and the worker's BLAS is held to one thread (the pool gives each core a job).
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from typing import Any

from core.data.dataset import Dataset
from core.engine import check_loss, compile_plan
from core.errors import NetworkError, SweepError, TrainingError
from core.experiments.recorder import run_from_trainer
from core.experiments.run import Run
from core.network import Network
from core.settings import DataSettings, TrainingSettings
from core.training.headless import prepare, train_epochs
from core.training.trainer import data_mismatch, memory_refusal, optimizer_refusal

# A sweepable setting that is not a TrainingSettings field: every hidden neuron's activation.
HIDDEN_ACTIVATION = "hidden_activation"


@dataclass(frozen=True)
class SweepBase:
    """What every job of a sweep starts from: the project's network (as plain data), its
    data set and settings, how long to train and whether to draw fresh weights."""

    network: dict
    data: Dataset
    data_settings: DataSettings
    training: TrainingSettings
    epochs: int
    init: bool = True  # weights drawn from the initialiser and the job's seed (train --init)
    keep_weights: bool = True


@dataclass(frozen=True)
class Job:
    index: int  # position in the sweep's order
    settings: tuple[tuple[str, Any], ...]  # the varied settings and their values
    seed: int

    @property
    def name(self) -> str:
        parts = [f"{k}={value_text(v)}" for k, v in self.settings]
        return " ".join([*parts, f"seed={self.seed}"])


@dataclass(frozen=True)
class JobResult:
    job: Job
    run: Run | None = None  # None when the job failed
    error: str = ""  # why it failed, one line
    attempts: int = field(default=1, compare=False)

    @property
    def status(self) -> str:
        if self.run is None:
            return "failed"
        return "diverged" if self.run.note else "done"


def setup(base: SweepBase, job: Job) -> tuple[Network, TrainingSettings]:
    """The network and settings this job trains (weights drawn when base.init)."""
    network = Network.from_dict(base.network)
    training = base.training
    for name, value in job.settings:
        if name == HIDDEN_ACTIVATION:
            for n in network.by_role("hidden"):
                network.set_activation(n.id, value)
        else:
            training = replace(training, **{name: value})
    return network, prepare(network, training, job.seed, base.init)


def refusal(base: SweepBase, job: Job) -> str | None:
    """Why this job cannot train (a loss its outputs cannot give, data that does not fit),
    found before any worker starts; None when it can."""
    try:
        network, training = setup(base, job)
        plan = compile_plan(network)
    except (NetworkError, TrainingError) as exc:
        return str(exc)
    return (check_loss(plan, network, training.loss) or data_mismatch(plan, base.data)
            or optimizer_refusal(plan, training) or memory_refusal(plan, base.data, training))


def run_job(base: SweepBase, job: Job) -> Run:
    """Train one job; a divergence ends it early and is said in the run's note."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1, user_api="blas"):
        network, training = setup(base, job)
        start = Run.starting(network, base.data_settings, training, base.init, job.name)
        began = time.perf_counter()
        try:
            done = train_epochs(network, base.data, training, base.epochs)
        except TrainingError as exc:  # refusal() let it through: say why, as a failure
            raise SweepError(str(exc)) from None
        trainer = done.trainer
        trainer.sync_network()
        final = trainer.evaluate()
        seconds = time.perf_counter() - began
        note = str(done.diverged) if done.diverged is not None else ""
        return run_from_trainer(start, trainer, seconds, final, base.keep_weights, note)


def value_text(value: Any) -> str:
    """A setting's value as a command line and a CSV write it."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return repr(value) if isinstance(value, float) else str(value)
