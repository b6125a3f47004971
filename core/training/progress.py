"""What the training process reports to the window: plain data, no Qt.

A `Progress` is pickled in the training process and unpickled in the GUI, so every array in
it belongs to the GUI once it arrives. Its ids travel once per plan, not in every frame (see
`IdsOnce`): for a 784-64-10 net they were half of every 1.9 MB frame, and looking the 51k
freshly unpickled strings up in the document cost the window 25 ms a frame.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from functools import cached_property
from itertools import repeat
from typing import Sequence

import numpy as np

from core.training.sharpness import SharpnessReport
from core.training.minibatch_probe import MinibatchReport
from core.training.through_time import ThroughTimeReport
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
    edge_ids: tuple[str, ...] | None  # None only in transit (IdsOnce)
    weights: np.ndarray  # per edge, edge_ids order
    gradients: np.ndarray  # dL/dw of the last step, edge_ids order
    bias_ids: tuple[str, ...] | None
    biases: np.ndarray
    level_norms: np.ndarray  # gradient norm per depth level, last step
    health: dict[str, str] = field(default_factory=dict)
    # The last edit of the window's the process had applied when it made this (the number
    # the window gave the "adopt"): a frame older than an edit must not undo it.
    adopted: int = 0
    sharpness: SharpnessReport | None = None  # lambda_max so far, if the panel has watched
    # The last minibatch and how often recent steps went downhill: only while the loss-surface
    # panel asks for them (the "minibatch" command), else None.
    minibatch: MinibatchReport | None = None
    # The gradient through time at this step: only while the Through time panel is on screen
    # (the "through_time" command), else None.
    through_time: ThroughTimeReport | None = None
    ids_number: int = 0  # which plan's ids these are, in the process that made it

    @cached_property
    def theta(self) -> np.ndarray:
        """The flat parameters (plan.flatten order: the weights, then the biases)."""
        return np.concatenate([self.weights, self.biases])

    @cached_property
    def parameter_names(self) -> tuple[str, ...]:
        """Names of theta's entries (plan.parameter_names())."""
        return (*self.edge_ids, *(f"bias:{n}" for n in self.bias_ids))

    @cached_property
    def gradients_by_id(self) -> "ValuesById":
        return ValuesById(self.edge_ids, self.gradients)


@dataclass(frozen=True)
class ValuesById:
    """Values of items named by a tuple of ids (a frame's gradients), looked up by id or as
    an array in another order, without a dict of every id built per frame."""

    ids: tuple[str, ...]
    values: np.ndarray

    @cached_property
    def _position(self) -> dict[str, int]:
        return dict(zip(self.ids, range(len(self.ids))))

    def get(self, key: str, default: float = 0.0) -> float:
        k = self._position.get(key)
        return default if k is None else float(self.values[k])

    def aligned(self, ids: Sequence[str], default: float = 0.0) -> np.ndarray:
        """The values in the order of `ids`; `default` for ids not among these."""
        if ids is self.ids or (len(ids) == len(self.ids) and tuple(ids) == self.ids):
            return np.asarray(self.values, float)
        at = np.fromiter(map(self._position.get, ids, repeat(-1)), np.intp, len(ids))
        return np.where(at >= 0, np.asarray(self.values, float)[at], default)


class IdsOnce:
    """A Progress's ids sent once per plan over one connection: the sender leaves out each
    tuple (edge ids, bias ids) while it equals the one it sent last, the receiver puts back
    the one it got last. Both ends see every message in order, so nothing is ever looked up
    that was not sent. A new connection (a new training process) pairs two new objects."""

    def __init__(self) -> None:
        self._number = 0  # counts the frames that brought other ids
        self._edge_ids: tuple | None = None
        self._bias_ids: tuple | None = None

    def outgoing(self, progress: Progress) -> Progress:
        edges, biases = progress.edge_ids, progress.bias_ids
        same_edges = self._edge_ids is not None and _same(edges, self._edge_ids)
        same_biases = self._bias_ids is not None and _same(biases, self._bias_ids)
        if not (same_edges and same_biases):
            self._number += 1  # a structure edit: what changed goes with this frame
        # (equal ones are compared by identity from the next frame on)
        self._edge_ids, self._bias_ids = edges, biases
        return replace(progress, edge_ids=None if same_edges else edges,
                       bias_ids=None if same_biases else biases, ids_number=self._number)

    def incoming(self, progress: Progress) -> Progress:
        sent = progress.edge_ids is not None or progress.bias_ids is not None
        edges = progress.edge_ids if progress.edge_ids is not None else self._edge_ids
        biases = progress.bias_ids if progress.bias_ids is not None else self._bias_ids
        if edges is None or biases is None or (progress.ids_number != self._number and not sent):
            raise ValueError(f"a frame names ids {progress.ids_number} that never came")
        self._number, self._edge_ids, self._bias_ids = progress.ids_number, edges, biases
        return progress if edges is progress.edge_ids and biases is progress.bias_ids else \
            replace(progress, edge_ids=edges, bias_ids=biases)


def _same(a: tuple, b: tuple) -> bool:
    """The same ids: the same tuple, or an equal one (a new plan after an edit that left the
    edges as they were, such as adding a neuron: the window keeps the tuple it has, and with
    it the document's lookups of them)."""
    return a is b or a == b
