"""Every neuron's activation for one training sample, as the canvas colours them ("Colour by
sample"). On sequence data a neuron's output depends on the steps before it, so the sequence
is run from a zero state up to its last real step (its mask: CSV sequences differ in length)
and the activations are those of that step; the inputs and target said beside them are that
step's too."""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from core.data.dataset import Dataset
from core.engine.backprop import forward
from core.engine.plan import Params, Plan
from core.engine.recurrent import sequence_forward


class SampleActivations(NamedTuple):
    values: np.ndarray  # one per neuron, in plan.order
    step: int | None  # the sequence's step shown (1-based), None for a row
    inputs: np.ndarray  # the data's columns of that row or step
    target: np.ndarray


def sample_activations(plan: Plan, params: Params, data: Dataset, index: int
                       ) -> SampleActivations:
    """The activations for training sample (or sequence) `index`, clipped to the data."""
    index = min(max(index, 0), len(data.x_train) - 1)
    if not data.is_sequence:
        x = data.x_train[index: index + 1]
        a = forward(plan, params, plan.inputs_from(x)).a[:, 0]
        return SampleActivations(a, None, data.x_train[index], data.y_train[index])
    length = data.x_train.shape[1] if data.mask_train is None else \
        max(1, int(data.mask_train[index].sum()))
    x = data.x_train[index: index + 1, :length]
    run = sequence_forward(plan, params, plan.inputs_from(x))
    # column t*B + b: with one sequence the last column is its last step
    return SampleActivations(run.a[:, -1].copy(), length, data.x_train[index, length - 1],
                             data.y_train[index, length - 1])
