"""Optimiser race: several optimisers trained from the same start, on the same minibatches,
with every other setting the project's, so their paths can be drawn over one loss surface.

Each racer is an ordinary Trainer on its own copy of the network whose settings differ only
in `optimizer`; the shared seed gives every racer the same shuffle order, hence the same
batches. Paths are kept whole (races are short: at most MAX_STEPS steps).

Given the surface's plane, one more racer runs Newton's method on that plane only (on the
exact plane: the two chosen parameters): at each step the gradient and 2x2 Hessian of the
minibatch's loss in the plane's two coordinates (core.curvature.plane_curvature) and the step
-H^-1 g, which needs no learning rate. Where H is not positive definite that step would head
for a saddle or a hilltop, so it is damped into -|H|^-1 g: each principal curvature taken by
its size (at least SADDLE_FLOOR of the largest), which goes downhill along a direction that
curves down instead of up it ("saddle-free Newton", Dauphin et al. 2014). On sequence data the
minibatch is of sequences and the loss training.sequence_loss's, masks applied; the gradient
and 2x2 Hessian are those of core.curvature.TrainingLoss on sequences (full backpropagation through time,
whatever bptt_steps truncates in the other racers' training).
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from core.batch_loss import loss_on
from core.curvature import PlaneCurvature, plane_curvature
from core.data.dataset import Dataset
from core.errors import RaceError, UserError
from core.network import Network
from core.settings import OPTIMIZERS, TrainingSettings
from core.training.trainer import Diverged, Trainer, TrainingError

DEFAULT_RACERS = ("sgd", "momentum", "rmsprop", "adam")
MAX_STEPS = 5000
PLANE_NEWTON = "newton (plane)"  # the plane racer's name
SADDLE_FLOOR = 1e-3
Directions = tuple[np.ndarray, np.ndarray]  # d1, d2: orthonormal, Plan.flatten order


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
         optimizers: tuple[str, ...] = DEFAULT_RACERS, plane: Directions | None = None
         ) -> list[Racer]:
    """Train one copy of `network` per optimiser for `steps` steps from its current weights,
    and with a plane, Newton's method on that plane after them."""
    if not 1 <= steps <= MAX_STEPS:
        raise RaceError(f"a race runs between 1 and {MAX_STEPS} steps, not {steps}")
    unknown = [o for o in optimizers if o not in OPTIMIZERS]
    if unknown or not optimizers:
        raise RaceError(f"unknown optimiser {unknown[0] if unknown else '(none)'}; "
                        f"choose from {', '.join(OPTIMIZERS)}")
    try:
        racers = [_run(network, data, replace(settings, optimizer=name), steps)
                  for name in optimizers]
        if plane is not None:
            racers.append(_plane_newton(network, data, settings, steps, plane))
        return racers
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


def _plane_newton(network: Network, data: Dataset, settings: TrainingSettings, steps: int,
                  plane: Directions) -> Racer:
    """Newton's method moving only along the plane, on the racers' minibatches (a Trainer
    draws them; its optimiser never steps)."""
    trainer = Trainer(network.copy(), data, replace(settings, optimizer="sgd", dropout=0.0))
    try:
        plan = trainer.plan
        if any(len(d) != plan.n_parameters for d in plane):
            raise RaceError("the surface's plane belongs to an earlier version of the "
                            "network: Re-slice, then race")
        # Frozen parameters stay where they are, as for the other racers.
        d1, d2 = (np.where(plan.trainable_vector(), d, 0.0) for d in plane)
        theta = plan.flatten(trainer.params).astype(np.float64)
        thetas, losses, diverged = [theta], [], None
        s = trainer.settings
        for step in range(1, steps + 1):
            x, y, _ = trainer._next_batch()
            loss = loss_on(plan, x, y, s.loss, trainer._batch_mask, s.sequence_loss, s.l1, s.l2)
            with np.errstate(all="ignore"):
                value = loss.value(theta)
                a, b = plane_step(plane_curvature(loss, theta, d1, d2))
                theta = theta + a * d1 + b * d2
            if not (np.isfinite(value) and np.all(np.isfinite(theta))):
                diverged = (f"Newton on the plane stopped at step {step}: the loss or a "
                            f"weight became infinite or NaN")
                break
            thetas.append(theta)
            losses.append(value)
        return Racer(PLANE_NEWTON, np.array(thetas), np.array(losses),
                     tuple(plan.parameter_names()), diverged)
    finally:
        trainer.close()


def plane_step(pc: PlaneCurvature) -> np.ndarray:
    """Newton's step -H^-1 g where the 2x2 Hessian is positive definite, else -|H|^-1 g with
    every principal curvature at least SADDLE_FLOOR of the largest (no curvature at all:
    -g, a plain gradient step)."""
    if pc.newton is not None:
        return pc.newton
    sizes = np.abs(pc.curvatures)
    if sizes.max() == 0.0:
        return -pc.gradient
    along = pc.directions.T @ pc.gradient  # the gradient in the principal directions
    return -(pc.directions @ (along / np.maximum(sizes, SADDLE_FLOOR * sizes.max())))
