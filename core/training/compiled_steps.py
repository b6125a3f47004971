"""Many training steps in one call of the compiled kernel (core.engine.compiled), with the
same batches, rates, records and rollback as the same number of Trainer.step calls.

The trainer keeps its state where Trainer.step keeps it (the flat parameter vector, the
optimiser's flat state, its rng and batch position); a block gathers it into theta order,
runs the kernel and scatters it back, so the two paths can take turns at any step.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core.engine import compiled
from core.optimizers import learning_rate

# Above this many parameters x batch the NumPy path's matrix products catch up with edge by
# edge loops on layered nets. bench/kernel_limit.py (1 BLAS thread, CPU time, load 4-6),
# NumPy steps / kernel, float64 and float32: 2-8-8-1 at 10 (1,050): 10-16x; 64-32-16-10 at
# 16 (44k): 2.2-2.7x and 2.3; at 32 (89k): 2.1-2.4x and 1.9; at 64 (178k): 1.6-1.9x and 1.4;
# 10-64-64-1 at 32 (158k): 1.05-1.08x and 0.98; 64-64-32-10 at 32 (210k): 1.1x and 0.98;
# 784-16-10 at 32 (407k): 0.8x and 0.55. Per layer shape it varies (NumPy pays a few calls per
# level, the kernel per edge and sample); at this limit the two are about even, and below
# it the kernel wins everywhere measured. A deep DAG gains more (2,198 parameters at 10:
# 12x): its many levels cost the NumPy path a call each.
MAX_WORK = 150_000
@dataclass(frozen=True)
class Batches:
    idx: np.ndarray  # sample indices, concatenated
    starts: np.ndarray  # step k's batch is idx[starts[k]: starts[k] + sizes[k]]
    sizes: np.ndarray
    ends_epoch: np.ndarray  # bool per step


def plan_batches(trainer, k: int) -> Batches:
    """The next k batches exactly as k calls of Trainer._next_batch would draw them (and with
    the same effect on its rng, order and position), one slice per epoch rather than per step."""
    n = len(trainer.data.x_train)
    size = trainer.settings.batch_size
    if size <= 0 or size >= n:
        return Batches(np.arange(n), np.zeros(k, np.int64), np.full(k, n, np.int64),
                       np.ones(k, bool))
    parts, starts, sizes, ends = [], [], [], []
    offset, left = 0, k
    while left:
        if trainer._position >= len(trainer._order):
            trainer._order = trainer._rng.permutation(n) if trainer.settings.shuffle \
                else np.arange(n)
            trainer._position = 0
        order, pos = trainer._order, trainer._position
        count = min(left, -(-(len(order) - pos) // size))
        first = pos + size * np.arange(count)
        parts.append(order)
        starts.append(offset + first)
        sizes.append(np.minimum(size, len(order) - first))
        ends.append(first + size >= n)
        trainer._position = pos + size * count
        offset += len(order)
        left -= count
    return Batches(np.concatenate(parts), *(np.concatenate(a) for a in (starts, sizes, ends)))


class CompiledSteps:
    """The compiled path's per-plan arrays and work buffers, kept between blocks."""

    def __init__(self) -> None:
        self._plan = None
        self._edges: compiled.EdgeLists | None = None
        self._work: tuple = ()
        self._why: tuple = (None, None, "", None)  # (plan, settings, why, data)

    def unavailable(self, trainer) -> str | None:
        """Why this trainer's next steps cannot run compiled (cached per plan, settings and
        data: rows or sequences decide too)."""
        plan, s = trainer.plan, trainer.settings
        # The plan by identity: two plans with the same neurons in the same order (after an
        # edge was added or frozen) compared their arrays, and raised, killing the process.
        if self._why[0] is not plan or self._why[1] != s or self._why[3] is not trainer.data:
            n = len(trainer.data.x_train)
            batch = n if s.batch_size <= 0 or s.batch_size >= n else s.batch_size
            sequences = trainer.data.x_train.ndim == 3  # Dataset.is_sequence
            why = "sequence data steps through time in NumPy" if sequences \
                else compiled.unavailable(plan, s)
            if why is None and plan.n_parameters * batch > MAX_WORK:
                why = f"a large net ({plan.n_parameters:,} parameters x batch {batch:,})"
            self._why = (plan, s, why, trainer.data)
        return self._why[2]

    def _edge_lists(self, plan) -> compiled.EdgeLists:
        if self._plan is not plan:
            self._plan, self._edges, self._work = plan, compiled.edge_lists(plan), ()
        return self._edges

    def _buffers(self, n: int, batch: int, outputs: int, p: int, dtype) -> tuple:
        """The kernel's work arrays: (neurons x batch) and the rollback copy in the training
        dtype; the per-sample loss arrays in float64 (the losses compile once, and a float32
        run's loss adds in float64, as its gradients' sums do)."""
        if not self._work or self._work[0].shape[1] < batch or self._work[0].dtype != dtype:
            self._work = (*(np.empty((n, batch), dtype) for _ in range(4)), np.empty(p, dtype),
                          *(np.empty(outputs) for _ in range(4)))
        return self._work

    def run(self, trainer, k: int):
        """k steps (fewer when one diverges). Returns the block's outputs for the trainer:
        (steps done, status, losses, norms, lrs, ends_epoch, snapshot steps, snapshots,
        gradients) with status and gradients as kernel_source.train_block gives them."""
        s, plan = trainer.settings, trainer.plan
        params = trainer._flat_params()
        layout = trainer._layout
        edges = self._edge_lists(plan)
        # C order always: another memory layout would be another signature, another compile
        x, y = (np.ascontiguousarray(a) for a in trainer._training_arrays())
        saved = (trainer._rng.bit_generator.state, trainer._order, trainer._position)
        batches = plan_batches(trainer, k)
        step0, epoch0 = trainer.step_count, trainer.epoch
        if s.decay == "none":
            lrs = np.full(k, learning_rate(s, step0, epoch0))
        else:
            epochs = epoch0 + np.concatenate([[0], np.cumsum(batches.ends_epoch[:-1])])
            lrs = np.array([learning_rate(s, step0 + i, int(e)) for i, e in enumerate(epochs)])
        theta = layout.theta(params.flat)
        flat_state = trainer.optimizer.flat_state(params.flat, layout.views)
        state = np.stack([f[layout.theta_index] for f in flat_state]) if flat_state \
            else np.zeros((0, theta.size), theta.dtype)
        stride = trainer.trajectory.stride
        snaps = np.empty((k // stride + 1, theta.size), theta.dtype)
        losses, norms = np.empty(k), np.empty(k)
        grads = np.zeros((2, theta.size), theta.dtype)
        work = self._buffers(plan.n_neurons, int(batches.sizes.max()), len(edges.out_rows),
                             theta.size, theta.dtype)
        loss_kind, wrt_net, opt_kind = compiled.kinds(s.loss, s.optimizer)
        done, status, n_snaps = compiled.kernels().train_block(
            x, y, batches.idx, batches.starts, batches.sizes, edges.n_inputs, edges.in_ptr,
            edges.in_src, edges.in_pos, edges.bias_pos, edges.act_kind, edges.out_rows,
            edges.trainable, edges.n_edges, theta, state, trainer.optimizer.t, lrs,
            compiled.hyper(s), opt_kind, loss_kind, wrt_net, float(s.l1), float(s.l2),
            float(s.clip_norm), float(s.clip_value), float(s.max_norm),
            float(np.finfo(theta.dtype).max), stride, step0,
            losses, norms, snaps, grads, *work)
        params.flat[layout.theta_index] = theta
        for f, row in zip(flat_state, state):
            f[layout.theta_index] = row
        trainer.optimizer.t += done
        if done < k:  # the failing step drew its batch too, and nothing after it did
            trainer._rng.bit_generator.state, trainer._order, trainer._position = saved
            plan_batches(trainer, done + 1)
        snap_steps = step0 + np.arange(1, done + 1)
        snap_steps = snap_steps[snap_steps % stride == 0]
        return (done, status, losses, norms, lrs, batches.ends_epoch, snap_steps,
                snaps[:n_snaps], grads)

