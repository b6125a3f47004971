"""Training with no window: what `python main.py train` does, in one place, so that a sweep's
job (core.experiments.job) gives exactly the numbers of the command it stands for."""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Callable

from core.data.dataset import Dataset
from core.errors import Diverged
from core.initializers import initialize
from core.network import Network
from core.settings import TrainingSettings
from core.training.trainer import Trainer


@dataclass
class HeadlessRun:
    trainer: Trainer
    diverged: Diverged | None  # training stopped here (rolled back to the last finite state)


def prepare(network: Network, settings: TrainingSettings, seed: int | None = None,
            init: bool = False) -> TrainingSettings:
    """`--seed S` (the settings' seed) and `--init` (weights and biases drawn afresh from the
    initialiser and that seed, into `network`); returns the settings to train with."""
    if seed is not None:
        settings = replace(settings, seed=seed)
    if init:
        network.set_values(*initialize(network, settings.initializer, settings.seed,
                                       settings.init_constant))
    return settings


def train_epochs(network: Network, data: Dataset, settings: TrainingSettings, epochs: int,
                 on_epoch: Callable[[Trainer], object] | None = None,
                 should_stop: Callable[[], bool] = lambda: False) -> HeadlessRun:
    """Train `epochs` whole epochs, evaluating after each; stops at a divergence. The
    trained values stay in the trainer (trainer.sync_network() writes them into `network`).
    Each epoch is its own Trainer.run, as the command line has always done: a run of an
    epoch's steps stays on the NumPy path, so the same project gives the same numbers here
    and in the command it stands for."""
    trainer = Trainer(network, data, settings)
    try:
        for _ in range(epochs):
            if should_stop():
                break
            trainer.run(steps=trainer.steps_per_epoch())
            if on_epoch is not None:
                on_epoch(trainer)
    except Diverged as exc:
        return HeadlessRun(trainer, exc)
    return HeadlessRun(trainer, None)
