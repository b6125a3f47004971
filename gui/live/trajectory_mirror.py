"""The window's copy of the training process's parameter path (core.training.loss_history.Trajectory).

The path is large (up to 4,096 snapshots of every parameter: 32 MB for a 1,000-parameter net)
and the loss-surface panel wants it several times a second, so each request brings only the
snapshots taken since the last one, plus the list of steps still kept (the process thins its
path out as it grows, and the mirror drops what the process dropped).
"""
from __future__ import annotations

import numpy as np


class TrajectoryMirror:
    def __init__(self) -> None:
        self.number = -1  # which path of the process this is a copy of (-1: none yet)
        self.steps = np.zeros(0, dtype=np.int64)
        self.thetas = np.zeros((0, 0))
        self.names: tuple[str, ...] = ()

    def request(self) -> tuple:
        """The command asking for what this copy lacks."""
        return ("trajectory", self.number, int(self.steps[-1]) if len(self.steps) else -1)

    def update(self, number: int, steps: np.ndarray, new_thetas: np.ndarray,
               names: tuple[str, ...]) -> None:
        """Take a reply: the steps the process keeps, and the snapshots after our last step
        (all of them if `number` is not the path we hold)."""
        if number == self.number:
            kept = self.thetas[np.isin(self.steps, steps)]
            self.thetas = np.concatenate([kept, new_thetas])
        else:
            self.thetas = new_thetas
        self.number, self.steps, self.names = number, steps, names
