"""The trainer: minibatch steps on a network document, with history and divergence rollback.

Qt-free. The GUI runs it in a process of its own; the command line runs it directly. While it
trains, parameters live in the compiled plan's matrices (fast); `sync_network()` writes them
back into the document, which the GUI does at a throttled rate and everyone does at the end.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from core.activations import ACTIVATIONS
from core.data.dataset import Dataset
from core.engine import (Params, Plan, check_loss, compile_plan, forward, loss_and_gradients,
                         mask_frozen)
from core.engine.flat import FlatLayout, FlatParams
from core.engine.recurrent import (loss_rows, sequence_forward, sequence_loss_and_gradients,
                                   sequence_loss_result)
from core.errors import Diverged, TrainingError, UserError
from core.events import Signal
from core.training.compiled_steps import CompiledSteps
from core.training.edit_tracker import EditTracker
from core.training.loss_history import Series, Trajectory
from core.training.second_order import FlatMinibatchLoss
from core.losses import LOSSES, predictions
from core.network import Network, NetworkDelta, NetworkError
from core.optimizers import OPTIMIZER_CLASSES, clip_gradients, learning_rate, make_optimizer
from core.regularization import add_penalty_gradient, apply_max_norm, penalty
from core.settings import TrainingSettings


STEP_ARRAYS = 4  # (neurons x batch) arrays a training step holds; see memory_refusal
EVALUATION_BYTES = 64 * 2**20  # evaluation runs in chunks of rows of about this size
COMPILED_RUN_STEPS = 20_000  # run() loads the compiled kernel for runs at least this long


class StepInfo(NamedTuple):
    """What one step did (a NamedTuple: a frozen dataclass took 1.5 us more to make, and a
    step makes one)."""

    step: int  # steps completed
    epoch: int  # epochs completed
    loss: float  # minibatch loss of this step (with the regularisation penalty)
    learning_rate: float
    gradient_norm: float


@dataclass(frozen=True)
class Evaluation:
    train_loss: float
    test_loss: float | None
    train_accuracy: float | None  # classification only
    test_accuracy: float | None


class Trainer:
    """Trains `network` on `data` with `settings`; observes the document for edits."""

    def __init__(self, network: Network, data: Dataset, settings: TrainingSettings) -> None:
        self.network = network
        self.data = data
        self.settings = settings
        self.stepped = Signal()  # StepInfo after every step
        self.evaluated = Signal()  # Evaluation after every evaluate()
        self.step_count = 0
        self.epoch = 0
        self.batch_loss = Series()
        self.train_loss, self.test_loss = Series(), Series()
        self.train_accuracy, self.test_accuracy = Series(), Series()
        self.last_gradients: Params | None = None
        # The user's edits since the last step; a structure edit recompiles at the next one.
        self._edits = EditTracker(network)
        self._order = np.arange(0)
        self._position = 0
        self._rng = np.random.default_rng(settings.seed)
        self._dropout_rng = np.random.default_rng([settings.seed, 1])
        self.optimizer = make_optimizer(settings)
        self._layout: FlatLayout | None = None  # see _flat_params
        self._grads: list[FlatParams] = []
        # The other parameter buffer: each update writes the new parameters there, and the two
        # swap once they are known finite, so the old ones are the rollback (no copy a step).
        self._spare: FlatParams | None = None
        self._held: tuple = (None, None, None)  # (params, dtype, plan) _flat_params checked
        self._batches: dict[tuple, tuple[np.ndarray, np.ndarray]] = {}  # see _next_batch
        self._batch_mask: np.ndarray | None = None  # sequence data: the last batch's mask
        # (data, dtype, input features, the training inputs and targets in that dtype)
        self._cast: tuple = (None, None, None, None, None)
        self._compiled = CompiledSteps()
        self._rebuild()

    # ----- structure -------------------------------------------------------------------------
    def _rebuild(self) -> None:
        """Compile the plan; keep trained values and optimiser state for parameters that remain."""
        old = getattr(self, "plan", None)
        try:
            plan = compile_plan(self.network)
        except NetworkError as exc:  # no input or no output neuron: training stops, said once
            raise TrainingError(str(exc)) from None
        problem = check_loss(plan, self.network, self.settings.loss) or self._refusal(plan)
        if problem:
            raise TrainingError(problem)
        params = plan.pack(self.network)
        if old is not None:
            carry = self._carry_over(old, plan)
            params = plan.unflatten(carry(self.params, plan.flatten(params)))
            for slot, arrays in self.optimizer.state.items():
                if len(arrays) == len(old.blocks) + 1:
                    moved = carry(Params(arrays[:-1], arrays[-1]), np.zeros(plan.n_parameters))
                    self.optimizer.state[slot] = plan.unflatten(moved).arrays()
            if self.last_gradients is not None:
                # In the new plan's shapes (zero for new parameters): a frame reported after
                # an edit and before the next step reads them (in the old shapes, an index
                # past the old matrices killed the training process).
                self.last_gradients = plan.unflatten(
                    carry(self.last_gradients, np.zeros(plan.n_parameters)))
        self.plan, self.params = plan, params
        if old is None or old.n_parameters != plan.n_parameters:
            self.trajectory = Trajectory(plan.n_parameters)
        self._edits.clear()

    def _carry_over(self, old, plan):
        """A function taking values of the old plan's parameters (Params) and a flat vector
        of the new plan's: that vector with the old run's value for every parameter both
        plans have and the user did not edit. The parameters are matched by name once for
        all the arrays carried (parameters, each optimiser slot, the last gradients)."""
        old_at = dict(zip(old.parameter_names(), range(old.n_parameters)))
        edited = self._edits.edited
        pairs = [(i, old_at[name]) for i, name in enumerate(plan.parameter_names())
                 if name in old_at and name.removeprefix("bias:") not in edited]
        new_i, old_i = (np.array(p, dtype=np.intp) for p in zip(*pairs)) if pairs else \
            (np.zeros(0, np.intp), np.zeros(0, np.intp))

        def carry(values: Params, out: np.ndarray) -> np.ndarray:
            out[new_i] = old.flatten(values)[old_i]
            return out
        return carry

    def _refusal(self, plan) -> str | None:
        """Why this data cannot train this plan: shapes that differ, or a step too large."""
        return (data_mismatch(plan, self.data) or memory_refusal(plan, self.data, self.settings)
                or optimizer_refusal(plan, self.settings))

    def prepare(self) -> None:
        """Adopt edits made to the document since the last step (called before each step)."""
        if self._edits.structural:
            self._rebuild()
        elif self._edits.edited:
            self._adopt_edited_values()

    def _adopt_edited_values(self) -> None:
        theta = self.plan.flatten(self.params)
        doc = self.plan.flatten(self.plan.pack(self.network))
        for i, name in enumerate(self.plan.parameter_names()):
            if name.removeprefix("bias:") in self._edits.edited:
                theta[i] = doc[i]
        self.params = self.plan.unflatten(theta)
        self._edits.clear()

    def adopt_document(self, snapshot: Network | NetworkDelta, edited: set[str] | frozenset[str],
                       structural: bool) -> None:
        """Take the GUI document's state (a copy, or the edited items of it) between two
        steps.

        The trainer keeps its trained values except for the ids the user edited; a
        structural change recompiles at the next step.
        """
        with self._edits.ours():
            if isinstance(snapshot, NetworkDelta):
                self.network.apply_delta(snapshot)
            else:
                self.network.replace_with(snapshot)
        self._edits.mark(edited, structural)

    def set_settings(self, settings: TrainingSettings) -> None:
        """New settings take effect at the next step; a new optimiser starts with fresh state."""
        if settings.loss not in LOSSES:
            raise TrainingError(f"unknown loss {settings.loss!r}")
        problem = check_loss(self.plan, self.network, settings.loss)
        if problem:
            raise TrainingError(problem)
        problem = memory_refusal(self.plan, self.data, settings) or \
            optimizer_refusal(self.plan, settings)
        if problem:
            raise TrainingError(problem)
        optimizer = make_optimizer(settings)
        if settings.optimizer == self.settings.optimizer:  # same rule: keep its momentum etc.
            optimizer.carry_from(self.optimizer)
        self.optimizer = optimizer
        self.settings = settings

    def set_data(self, data: Dataset) -> None:
        self.data = data
        problem = self._refusal(self.plan)
        if problem:
            raise TrainingError(problem)
        self._order = np.arange(0)
        self._position = 0

    # ----- stepping --------------------------------------------------------------------------
    @property
    def dtype(self) -> type:
        """The floating-point type training runs in (the precision setting)."""
        return np.float32 if self.settings.precision == "float32" else np.float64

    def _training_arrays(self) -> tuple[np.ndarray, np.ndarray]:
        """The training set in the training dtype, cast once rather than at every batch."""
        data, dtype, features, x, y = self._cast
        if data is not self.data or dtype is not self.dtype or (
                features is not self.plan.features and features != self.plan.features):
            # The input features are computed here once, not at every batch.
            x = np.asarray(inputs_of(self.plan, self.data.x_train), dtype=self.dtype)
            y = np.asarray(self.data.y_train, dtype=self.dtype)
            self._cast = (self.data, self.dtype, self.plan.features, x, y)
        return x, y

    def _next_batch(self) -> tuple[np.ndarray, np.ndarray, bool]:
        """The next minibatch (of sequences, for sequence data: its mask in _batch_mask), and
        whether it ends an epoch."""
        x, y = self._training_arrays()
        n = len(x)
        if n == 0:
            raise TrainingError("the training set is empty")
        size = self.settings.batch_size
        mask = self.data.mask_train
        if size <= 0 or size >= n:
            self._batch_mask = mask
            return x, y, True
        if self._position >= len(self._order):
            self._order = self._rng.permutation(n) if self.settings.shuffle else np.arange(n)
            self._position = 0
        idx = self._order[self._position: self._position + size]
        self._position += size
        xb, yb = self._batch_buffers(len(idx), x, y)
        # x[idx] without a new array per step (mode="clip": "raise" would buffer a copy; the
        # indices come from a permutation of range(n))
        x.take(idx, axis=0, out=xb, mode="clip")
        y.take(idx, axis=0, out=yb, mode="clip")
        self._batch_mask = None if mask is None else mask[idx]
        return xb, yb, self._position >= n

    def _batch_buffers(self, m: int, x: np.ndarray, y: np.ndarray
                       ) -> tuple[np.ndarray, np.ndarray]:
        """Arrays for a minibatch of m rows of x and y, reused from step to step (a step
        consumes its batch before the next one is drawn)."""
        key = (m, x.shape[1:], y.shape[1:], x.dtype)
        found = self._batches.get(key)
        if found is None:
            if len(self._batches) > 2:  # the full batches and an epoch's last, shorter one
                self._batches.clear()
            found = self._batches[key] = (np.empty((m, *x.shape[1:]), x.dtype),
                                          np.empty((m, *y.shape[1:]), y.dtype))
        return found

    def _flat_params(self) -> FlatParams:
        """self.params as views into one flat vector of the training dtype, with gradient and
        spare parameter buffers to match: repacked only after a rebuild, an edit or a new
        precision."""
        dtype = self.dtype
        held_params, held_dtype, held_plan = self._held
        if held_params is self.params and held_dtype is dtype and held_plan is self.plan:
            return self.params  # checked at the last step; nothing has replaced them since
        if self._layout is None or self._layout.plan is not self.plan:
            self._layout, self._grads = FlatLayout(self.plan), []
        if not self._layout.holds(self.params, dtype):
            self.params = self._layout.pack(self.params, dtype)
        if not self._grads or self._grads[0].flat.dtype != dtype:
            # Two gradient buffers taking turns: last_gradients stays the last good step's
            # while a step that diverges writes into the other one.
            self._grads = [self._layout.empty(dtype), self._layout.empty(dtype)]
            self._spare = self._layout.empty(dtype)
        self._held = (self.params, dtype, self.plan)
        return self.params

    def step(self) -> StepInfo:
        """One minibatch: forward, backward, update. Raises Diverged (after rolling back)."""
        # Overflow is expected when a run diverges; it is detected and reported below.
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            return self._step()

    def _step(self) -> StepInfo:
        self.prepare()
        s = self.settings
        params = self._flat_params()
        x, y, ends_epoch = self._next_batch()
        lr = learning_rate(s, self.step_count, self.epoch)
        grads = self._grads[self.step_count % 2]
        if x.ndim == 3:  # sequences: through time
            loss, grads = sequence_loss_and_gradients(
                self.plan, params, x, y, self._batch_mask, s.loss, s.sequence_loss,
                s.bptt_steps, s.dropout, self._dropout_rng, out=grads)
        else:
            loss, grads = loss_and_gradients(self.plan, params, x, y, s.loss, s.dropout,
                                             self._dropout_rng, out=grads)
        if s.l1 or s.l2:
            loss += penalty(params.weights, s.l1, s.l2)
            add_penalty_gradient(params.weights, grads.weights, s.l1, s.l2)
        mask_frozen(self.plan, grads)
        # One flat vector: frozen and absent entries are zero after mask_frozen.
        norm = clip_gradients([grads.flat], s.clip_norm, s.clip_value)
        if not (math.isfinite(loss) and math.isfinite(norm)):
            self._diverge(grads, "the loss" if not math.isfinite(loss) else "a gradient", loss)
        new = self._spare
        if self.optimizer.second_order:
            self.optimizer.loss = FlatMinibatchLoss(self.plan, self._layout, x, y, s.loss,
                                                    s.l1, s.l2, self._batch_mask,
                                                    s.sequence_loss)
        self.optimizer.step_flat(params.flat, grads.flat, lr, self._layout.views, out=new.flat)
        if s.max_norm > 0:
            blocks = self.plan.blocks
            apply_max_norm(new.weights, s.max_norm, [lv.trainable for lv in blocks],
                           [lv.start for lv in blocks] if self.plan.recurrent else None)
        if not _finite(new.flat):  # self.params still holds the last finite state
            self.optimizer.reset()  # its state saw the bad step too
            self._diverge(grads, "a weight", loss)
        self.params, self._spare = new, params
        self._held = (new, *self._held[1:])  # as _flat_params checked them, swapped
        self.last_gradients = grads
        self.step_count += 1
        if ends_epoch:
            self.epoch += 1
        self.batch_loss.append(self.step_count, loss)
        self.trajectory.append_taken(self.step_count, new.flat, self._layout.theta_index)
        info = StepInfo(self.step_count, self.epoch, loss, lr, norm)
        self.stepped.emit(info)
        return info

    def advance(self, n: int, compiled: bool = True) -> StepInfo:
        """n steps: in one call of the compiled kernel when this net and these settings allow
        it (compiled_path() is None) and `compiled`, else n calls of step(). The same numbers,
        records and rollback either way. Raises Diverged (after rolling back) at the step
        that diverges."""
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):  # as in step()
            if n <= 1 or not compiled or self.compiled_path() is not None:
                for _ in range(n - 1):
                    self._step()
                return self._step()
            return self._compiled_block(n)

    def compiled_path(self) -> str | None:
        """Why advance() steps in NumPy now, or None when it runs the compiled kernel."""
        self.prepare()
        return self._compiled.unavailable(self)

    def _compiled_block(self, n: int) -> StepInfo:
        done, status, losses, norms, lrs, ends, snap_steps, snaps, grads = \
            self._compiled.run(self, n)
        steps = self.step_count + np.arange(1, done + 1)
        epochs = self.epoch + np.cumsum(ends[:done])
        for k, g in ((done - 1, grads[(done - 1) % 2]), (done, grads[done % 2])):
            if 0 <= k < n:  # the last good step's gradient, and the failing one's
                buffer = self._grads[(self.step_count + k) % 2]
                buffer.flat.fill(0.0)
                buffer.flat[self._layout.theta_index] = g
        if done:
            self.last_gradients = self._grads[(self.step_count + done - 1) % 2]
            self.batch_loss.extend(steps, losses[:done])
            self.trajectory.extend(snap_steps, snaps)
            self.step_count, self.epoch = int(steps[-1]), int(epochs[-1])
        def info(k: int) -> StepInfo:
            return StepInfo(int(steps[k]), int(epochs[k]), float(losses[k]), float(lrs[k]),
                            float(norms[k]))

        if len(self.stepped):  # a listener gets every step, as from step()
            for k in range(done):
                self.stepped.emit(info(k))
        if status:
            if status == 2:
                self.optimizer.reset()  # its state saw the bad step too
            loss = float(losses[done])
            what = "a weight" if status == 2 else \
                "the loss" if not math.isfinite(loss) else "a gradient"
            self._diverge(self._grads[self.step_count % 2], what, loss)
        return info(done - 1)

    def _diverge(self, grads: Params, what: str, loss: float) -> None:
        g = np.abs(self.plan.edge_vector(grads.weights))
        g = np.where(np.isfinite(g), g, np.inf)
        edge = self.plan.edge_ids[int(np.argmax(g))] if g.size else None
        where = ""
        if edge is not None:
            e = self.network.edges[edge]
            src, dst = self.network.neurons[e.source].name, self.network.neurons[e.target].name
            where = f" The largest gradient was on edge {edge} ({src} -> {dst}): {g.max():.3g}."
        lr = learning_rate(self.settings, self.step_count, self.epoch)
        value = f"{loss}" if what == "the loss" else "infinite or NaN"
        raise Diverged(
            f"Training stopped at step {self.step_count + 1}: {what} became {value}."
            f" The weights were rolled back to the last finite state (step {self.step_count})."
            f"{where} Try a smaller learning rate (now {lr:g}) or gradient clipping.",
            self.step_count + 1, edge)

    def last_batch_rows(self) -> np.ndarray | None:
        """Rows of data.x_train in the last step's minibatch (every row with full batches), or
        None before the first step. Read from the batch order both paths keep (compiled blocks
        leave it as step by step would), so the steps themselves pay nothing for it."""
        if self.step_count == 0:
            return None
        n, size = len(self.data.x_train), self.settings.batch_size
        if size <= 0 or size >= n:
            return np.arange(n)
        rows = self._order[max(0, self._position - size): min(self._position, len(self._order))]
        return rows.copy() if len(rows) else None  # None: new data since the last step

    def steps_per_epoch(self) -> int:
        n, size = len(self.data.x_train), self.settings.batch_size
        return 1 if size <= 0 or size >= n else math.ceil(n / size)

    def run(self, epochs: int | None = None, steps: int | None = None, evaluate_every: int = 1,
            should_stop=lambda: False) -> Evaluation:
        """Run whole epochs (or a number of steps), evaluating every `evaluate_every` epochs."""
        if steps is None:
            steps = (self.settings.epochs if epochs is None else epochs) * self.steps_per_epoch()
        last_epoch, done = self.epoch, 0
        # The compiled kernel takes the steps to the end of each epoch in one call (the
        # evaluations fall where they would step by step); NumPy steps one at a time. A short
        # run stays in NumPy: loading the kernel (Numba, about a second) would cost more.
        compiled = steps >= COMPILED_RUN_STEPS and self.compiled_path() is None
        while done < steps and not should_stop():
            block = min(steps - done, self._steps_to_epoch_end()) if compiled else 1
            self.advance(block)
            done += block
            if self.epoch != last_epoch and self.epoch % evaluate_every == 0:
                self.evaluate()
            last_epoch = self.epoch
        return self.evaluate()

    def _steps_to_epoch_end(self) -> int:
        """Steps until the current epoch ends (the next one's, at an epoch boundary)."""
        n, size = len(self.data.x_train), self.settings.batch_size
        if size <= 0 or size >= n or self._position >= len(self._order):
            return self.steps_per_epoch()
        return math.ceil((n - self._position) / size)

    # ----- results ---------------------------------------------------------------------------
    def evaluate(self) -> Evaluation:
        """Loss and accuracy on the whole train and test sets (no dropout, no penalty)."""
        d = self.data
        if d.is_sequence:
            train = self._sequence_loss_accuracy(d.x_train, d.y_train, d.mask_train)
            test = self._sequence_loss_accuracy(d.x_test, d.y_test, d.mask_test) \
                if len(d.x_test) else (None, None)
        else:
            train = self._loss_accuracy(d.x_train, d.y_train)
            test = self._loss_accuracy(d.x_test, d.y_test) if len(d.x_test) else (None, None)
        result = Evaluation(train[0], test[0], train[1], test[1])
        self.train_loss.append(self.step_count, result.train_loss)
        if result.test_loss is not None:
            self.test_loss.append(self.step_count, result.test_loss)
        if result.train_accuracy is not None:
            self.train_accuracy.append(self.step_count, result.train_accuracy)
        if result.test_accuracy is not None:
            self.test_accuracy.append(self.step_count, result.test_accuracy)
        self.evaluated.emit(result)
        return result

    def _loss_accuracy(self, x: np.ndarray, y: np.ndarray) -> tuple[float, float | None]:
        x = self.plan.inputs_from(x)  # data columns -> the net's inputs
        # In chunks of rows, so a large data set on a wide net never needs (samples x neurons)
        # at once; every loss is a mean over samples, so chunk means weighted by rows add up.
        rows = max(1, EVALUATION_BYTES // (2 * 8 * max(self.plan.n_neurons, 1)))  # z and a
        total, outputs = 0.0, []
        with np.errstate(over="ignore", invalid="ignore"):  # huge weights just before a rollback
            for start in range(0, len(x), rows):
                xc, yc = x[start: start + rows], y[start: start + rows]
                z_out, a_out = forward(self.plan, self.params, xc).outputs(self.plan)
                total += LOSSES[self.settings.loss].compute(z_out, a_out, yc).value * len(xc)
                outputs.append(a_out)
        loss = total / len(x) if len(x) else float("nan")
        if self.data.task != "classification":
            return loss, None
        a_out = np.concatenate(outputs) if outputs else np.empty((0, y.shape[1]))
        return loss, accuracy(predictions(self.settings.loss, a_out), y)

    def _sequence_loss_accuracy(self, x: np.ndarray, y: np.ndarray, mask: np.ndarray | None
                                ) -> tuple[float, float | None]:
        """_loss_accuracy for sequences: the loss over the steps training.sequence_loss reads
        (chunks weighted by how many they read), the accuracy over the same steps."""
        plan, s = self.plan, self.settings
        x = inputs_of(plan, x)
        t = x.shape[1]
        seqs = max(1, EVALUATION_BYTES // (6 * 8 * max(plan.n_neurons, 1) * max(t, 1)))
        total, count, outputs, targets = 0.0, 0, [], []
        with np.errstate(over="ignore", invalid="ignore"):
            for start in range(0, len(x), seqs):
                part = slice(start, start + seqs)
                mc = None if mask is None else mask[part]
                if mc is not None and not mc.any():
                    continue  # no step to read in this chunk
                sfwd = sequence_forward(plan, self.params, x[part])
                result, cols = sequence_loss_result(plan, sfwd, y[part], mc, s.loss,
                                                    s.sequence_loss)
                _, a_out, y_out = loss_rows(plan, sfwd, y[part], cols)
                total += result.value * len(a_out)
                count += len(a_out)
                outputs.append(a_out)
                targets.append(y_out)
        loss = total / count if count else float("nan")
        if self.data.task != "classification" or not count:
            return loss, None
        return loss, accuracy(predictions(s.loss, np.concatenate(outputs)),
                              np.concatenate(targets))

    def edge_gradients(self) -> np.ndarray:
        """dL/dw of the last step for each edge, in plan.edge_ids order (zeros before any step)."""
        if self.last_gradients is None:
            return np.zeros(len(self.plan.edge_ids))
        return self.plan.edge_vector(self.last_gradients.weights)

    def level_gradient_norms(self) -> np.ndarray:
        """L2 norm of the last step's weight gradient per depth level (vanishing / exploding)."""
        if self.last_gradients is None:
            return np.zeros(len(self.plan.blocks))
        return np.array([np.sqrt(np.sum(g * g)) for g in self.last_gradients.weights])

    def neuron_health(self, samples: int = 256) -> dict[str, str]:
        """Neurons that cannot learn on the training data: dead ReLUs, saturated sigmoids/tanh.

        A ReLU whose net input is <= 0 for every sample passes no gradient at all; a sigmoid or
        tanh whose output sits within 1% of its limits on 90% of samples passes almost none.
        """
        x = inputs_of(self.plan, self.data.x_train[:samples])
        if len(x) == 0:
            return {}
        if x.ndim == 3:  # sequences: every step of the first few, as columns
            fwd = sequence_forward(self.plan, self.params,
                                   x[: max(1, samples // max(x.shape[1], 1))])
        else:
            fwd = forward(self.plan, self.params, x)
        # Activations as the plan has them: after a structure edit the document may already
        # lack a neuron of the plan, until the next step recompiles (a KeyError killed the
        # training process).
        act_of = {}
        for level in self.plan.levels:
            for act, start, stop in level.groups:
                act_of.update((row, act) for row in range(start, stop))
        warnings = {}
        for row, nid in enumerate(self.plan.order[self.plan.n_inputs:], self.plan.n_inputs):
            spec = ACTIVATIONS.get(act_of.get(row))
            warning = spec.health(fwd.z[row], fwd.a[row]) if spec and spec.health else None
            if warning:
                warnings[nid] = warning
        return warnings

    def sync_network(self) -> None:
        """Write the trained weights and biases into the document (one `values` event)."""
        weights, biases = self.plan.unpack(self.params)
        with self._edits.ours():
            self.network.set_values(weights, biases)

    def close(self) -> None:
        self._edits.close()


def inputs_of(plan: Plan, x: np.ndarray) -> np.ndarray:
    """The net's inputs from data columns: rows (samples x columns), or sequences (sequences
    x steps x columns) step by step."""
    if x.ndim == 3:
        return plan.inputs_from(x.reshape(-1, x.shape[2])).reshape(*x.shape[:2], -1)
    return plan.inputs_from(x)


def data_mismatch(plan: Plan, data: Dataset) -> str | None:
    """Why `data` cannot feed `plan` (its columns for the inputs' features, counts of inputs
    and targets; a recurrent net without sequences), or None."""
    if plan.recurrent and not data.is_sequence:
        return ("this network has delayed edges (a recurrent net): it learns from sequences, "
                "and this data is rows; choose sequence data, or remove the delays")
    n_out = len(plan.output_rows)
    if plan.features and any(plan.features):
        problem = plan.column_mismatch(data.n_inputs)
        if problem:
            return problem
        if n_out != data.n_targets:
            return (f"the data has {data.n_targets} target(s), but the network has {n_out} "
                    f"output neuron(s)")
        return None
    if plan.n_inputs != data.n_inputs or n_out != data.n_targets:
        return (f"the data has {data.n_inputs} input(s) and {data.n_targets} "
                f"target(s), but the network has {plan.n_inputs} input neuron(s) and "
                f"{n_out} output neuron(s)")
    return None


def memory_refusal(plan: Plan, data: Dataset, settings: TrainingSettings) -> str | None:
    """Why one training step would not fit in memory, said before anything is allocated.

    A step holds four (neurons x batch) float64 arrays: net inputs and activations forward,
    dL/da and dL/dz backward; on sequences, six (neurons x batch x steps) ones (the slopes and
    a scratch array too: core.engine.recurrent).
    """
    n = len(data.x_train)
    batch = n if settings.batch_size <= 0 or settings.batch_size >= n else settings.batch_size
    steps = data.x_train.shape[1] if data.is_sequence else 1
    need = (STEP_ARRAYS + 2 * data.is_sequence) * 8 * batch * steps * plan.n_neurons
    have = physical_memory()
    if need <= have // 2:
        return None
    what = "full batch" if batch == n else f"a batch of {batch:,}"
    samples = f"{batch:,} sequences x {steps:,} steps" if data.is_sequence else \
        f"{batch:,} samples"
    return (f"{what} on {samples} x {plan.n_neurons:,} neurons needs about "
            f"{_gigabytes(need)} of memory (this computer has {_gigabytes(have)}); "
            "use a smaller batch size")


def optimizer_refusal(plan: Plan, settings: TrainingSettings) -> str | None:
    """Why the chosen optimiser cannot train this net (Newton's limit on its size), or None."""
    rule = OPTIMIZER_CLASSES.get(settings.optimizer)
    return rule.refusal(settings, int(plan.trainable_vector().sum())) if rule else None


def physical_memory() -> int:
    """Bytes of RAM, or 8 GB when the system does not say."""
    try:
        return int(os.sysconf("SC_PHYS_PAGES")) * int(os.sysconf("SC_PAGE_SIZE"))
    except (AttributeError, ValueError, OSError):
        return 8 * 2**30


def _gigabytes(n: int) -> str:
    return f"{n / 1e9:,.0f} GB" if n >= 1e9 else f"{n / 1e9:.1f} GB"


def all_finite(a: np.ndarray) -> bool:
    """No NaN or infinity in `a`. A NaN or infinity anywhere makes the sum non-finite, so the
    sum decides in one pass; only when it overflowed is every entry checked."""
    with np.errstate(over="ignore", invalid="ignore"):
        return math.isfinite(float(np.sum(a))) or bool(np.isfinite(a).all())


def _finite(a: np.ndarray) -> bool:
    """all_finite of a flat vector for a caller already ignoring overflow (step()), by the
    sum of squares: a NaN or infinity makes it non-finite too, and BLAS's dot takes a third
    of np.add.reduce's time in float32, 0.6 of it in float64 (101,770 values: 11 against 36
    us, 21 against 36; 1 BLAS thread). Only when the squares overflowed is every entry
    checked."""
    return math.isfinite(float(np.dot(a, a))) or bool(np.isfinite(a).all())


def accuracy(predicted: np.ndarray, y: np.ndarray) -> float:
    """Share of samples classified right: threshold 0.5 for one output, argmax for several."""
    if len(y) == 0:
        return float("nan")
    if y.shape[1] == 1:
        return float(np.mean((predicted[:, 0] > 0.5) == (y[:, 0] > 0.5)))
    return float(np.mean(np.argmax(predicted, axis=1) == np.argmax(y, axis=1)))
