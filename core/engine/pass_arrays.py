"""The general path's arrays for one batch, (neurons x samples), and each level's slices of
them, cut once.

A training step reuses the plan's set (one per batch size and dtype), so the slicing, about
a dozen NumPy calls per level and step, happens when the set is made: on a small DAG it was
a third of a step, and a random 200-neuron DAG has 31 levels.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from core.activations import ACTIVATIONS, Activation
from core.engine.plan import Plan


class Group(NamedTuple):
    """Rows of one activation within a level."""

    act: Activation
    z: np.ndarray
    a: np.ndarray
    slope: np.ndarray  # f'(z), written by the backward pass


class LevelRows(NamedTuple):
    """One level's slices of the pass arrays."""

    z: np.ndarray
    a: np.ndarray
    src: np.ndarray | None  # the rows of a its weights read; None: it reads inputs only (x)
    groups: tuple[Group, ...]
    unit_slope: bool  # one activation whose f' is 1 everywhere
    grad_a: np.ndarray  # dL/da of its rows
    delta: np.ndarray  # dL/dz of its rows
    slope: np.ndarray  # f'(z) of its rows
    product: np.ndarray  # scratch of its rows' shape
    back: np.ndarray | None  # dL/da of the non-input rows it reads (None: inputs only)
    back_product: np.ndarray | None  # scratch of back's shape
    back_from: int  # the first column of its weights that reads a non-input row


class PassArrays(NamedTuple):
    z: np.ndarray  # (neurons x samples) net inputs
    a: np.ndarray  # (neurons x samples) activations
    grad_a: np.ndarray  # (non-input neurons x samples) dL/da
    delta: np.ndarray  # (non-input neurons x samples) dL/dz
    levels: tuple[LevelRows, ...]


def pass_arrays(plan: Plan, b: int, dtype: np.dtype) -> PassArrays:
    """New arrays for a batch of b, and their slices per level."""
    n, n_in = plan.n_neurons, plan.n_inputs
    z, a = np.empty((n, b), dtype), np.empty((n, b), dtype)
    return sliced_pass_arrays(plan, z, a, *(np.empty((n - n_in, b), dtype) for _ in range(4)))


def sliced_pass_arrays(plan: Plan, z: np.ndarray, a: np.ndarray, grad_a: np.ndarray,
                       delta: np.ndarray, slope: np.ndarray, product: np.ndarray) -> PassArrays:
    """Pass arrays over the given arrays (all rows, any columns: a recurrent net's time step
    is some columns of arrays holding every step, core.engine.recurrent), sliced per level."""
    n_in = plan.n_inputs
    levels = []
    for lv in plan.levels:
        r0, r1 = lv.start - n_in, lv.stop - n_in
        groups = tuple(Group(ACTIVATIONS[name], z[g0:g1], a[g0:g1], slope[g0 - n_in: g1 - n_in])
                       for name, g0, g1 in lv.groups)
        lo = max(lv.src_lo, n_in)  # the first non-input row it reads
        reads_hidden = lv.src_hi > lo
        levels.append(LevelRows(
            z[lv.start: lv.stop], a[lv.start: lv.stop],
            None if lv.inputs_only or lv.src_hi <= lv.src_lo else a[lv.src_lo: lv.src_hi],
            groups, len(groups) == 1 and groups[0].act.unit_slope, grad_a[r0:r1], delta[r0:r1],
            slope[r0:r1], product[r0:r1],
            grad_a[lo - n_in: lv.src_hi - n_in] if reads_hidden else None,
            product[: lv.src_hi - lo] if reads_hidden else None, lo - lv.src_lo))
    return PassArrays(z, a, grad_a, delta, tuple(levels))


def reused_pass_arrays(plan: Plan, b: int, dtype: np.dtype) -> PassArrays:
    """The plan's pass arrays for a batch of b (the next reuse overwrites them)."""
    return plan.buffer(("pass", b, np.dtype(dtype)), lambda: pass_arrays(plan, b, dtype))
