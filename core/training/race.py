"""Optimiser race: several optimisers trained from the same start, on the same minibatches,
with every other setting the project's, so their paths can be drawn over one loss surface.

Each racer is an ordinary Trainer on its own copy of the network whose settings differ only
in `optimizer`; the shared seed gives every racer the same shuffle order, hence the same
batches. Paths are kept whole (races are short: at most MAX_STEPS steps).
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from core.data.dataset import Dataset
from core.errors import RaceError, UserError
from core.network import Network
from core.settings import OPTIMIZERS, TrainingSettings
from core.training.trainer import Diverged, Trainer, TrainingError

DEFAULT_RACERS = ("sgd", "momentum", "rmsprop", "adam")
MAX_STEPS = 5000


@dataclass(frozen=True)
class Racer:
    optimizer: str
    thetas: np.ndarray  # (steps done + 1, parameters), plan.flatten order; row 0 is the start
    losses: np.ndarray  # minibatch loss of each step
    parameter_names: tuple[str, ...]
    diverged: str | None = None  # why it stopped early, if it did

    @property
    def final_loss(self) -> float:
        return float(self.losses[-1]) if len(self.losses) else float("nan")


def race(network: Network, data: Dataset, settings: TrainingSettings, steps: int,
         optimizers: tuple[str, ...] = DEFAULT_RACERS) -> list[Racer]:
    """Train one copy of `network` per optimiser for `steps` steps from its current weights."""
    if not 1 <= steps <= MAX_STEPS:
        raise RaceError(f"a race runs between 1 and {MAX_STEPS} steps, not {steps}")
    unknown = [o for o in optimizers if o not in OPTIMIZERS]
    if unknown or not optimizers:
        raise RaceError(f"unknown optimiser {unknown[0] if unknown else '(none)'}; "
                        f"choose from {', '.join(OPTIMIZERS)}")
    try:
        return [_run(network, data, replace(settings, optimizer=name), steps)
                for name in optimizers]
    except TrainingError as exc:  # the network or the data cannot train at all
        raise RaceError(str(exc)) from None


def _run(network: Network, data: Dataset, settings: TrainingSettings, steps: int) -> Racer:
    trainer = Trainer(network.copy(), data, settings)
    try:
        trainer.prepare()
        thetas = [trainer.plan.flatten(trainer.params)]
        losses: list[float] = []
        diverged = None
        for _ in range(steps):
            try:
                info = trainer.step()
            except Diverged as exc:
                diverged = str(exc)
                break
            thetas.append(trainer.plan.flatten(trainer.params))
            losses.append(info.loss)
        return Racer(settings.optimizer, np.array(thetas), np.array(losses),
                     tuple(trainer.plan.parameter_names()), diverged)
    finally:
        trainer.close()
