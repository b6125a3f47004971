"""What the training process reports to the window: plain data, no Qt.

A `Progress` is pickled in the training process and unpickled in the GUI, so every array in
it belongs to the GUI once it arrives.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from core.training.sharpness import SharpnessReport
from core.training.minibatch_probe import MinibatchReport
from core.training.trainer import Evaluation


@dataclass(frozen=True)
class SeriesCopy:
    x: np.ndarray
    y: np.ndarray


@dataclass(frozen=True)
class Progress:
    """What the panels draw."""

    step: int
    epoch: int
    running: bool
    batch_loss: SeriesCopy
    train_loss: SeriesCopy
    test_loss: SeriesCopy
    train_accuracy: SeriesCopy
    test_accuracy: SeriesCopy
    evaluation: Evaluation | None
    edge_ids: tuple[str, ...]
    weights: np.ndarray  # per edge, edge_ids order
    gradients: np.ndarray  # dL/dw of the last step, edge_ids order
    bias_ids: tuple[str, ...]
    biases: np.ndarray
    level_norms: np.ndarray  # gradient norm per depth level, last step
    health: dict[str, str] = field(default_factory=dict)
    theta: np.ndarray | None = None  # current flat parameters (plan.flatten order)
    parameter_names: tuple[str, ...] = ()
    # The last edit of the window's the process had applied when it made this (the number
    # the window gave the "adopt"): a frame older than an edit must not undo it.
    adopted: int = 0
    sharpness: SharpnessReport | None = None  # lambda_max so far, if the panel has watched
    # The last minibatch and how often recent steps went downhill: only while the loss-surface
    # panel asks for them (the "minibatch" command), else None.
    minibatch: MinibatchReport | None = None
