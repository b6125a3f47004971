"""Step-through over time: one sequence through a recurrent net, unrolled into a copy of the
net per time step, as events with the chain rule's numbers.

The shown steps are a window of the sequence (its first MAX_STEPS by default) run as a sequence
of their own: the state starts at zero at its first step, and the loss is the project's
sequence loss (every step, or the last) over the shown steps. The forward numbers (net input,
output) are the engine's (core.engine.recurrent, one sequence); the backward pass is worked
out here, neuron by neuron and step by step, from the terms the events show, so the tests
hold it to the engine's backpropagation through time and to finite differences.

Order of events (t = 1..T, the shown steps):
  input      per step: the step's values enter the input neurons
  forward    per step, per computed neuron in the order within a step: net input
             = sum of w·a(source, t) over ordinary edges + sum of w·a(source, t-1) over
             delayed edges (a(·, 0) = 0) + bias; then a = f(net)
  loss       the per-step losses and their mean (every) or the last one's
  output /   for t = T..1, each computed neuron in reverse order: delta = f'(net)·(the loss's
  backward   slope at t, for an output + w·delta(target, t) over ordinary edges + w·delta(target,
             t+1) over delayed edges, unless truncated BPTT cuts them at a window's start)
  gradient   per edge: dL/dw = sum over t of delta(target, t)·a(source, t), or a(source, t-1)
             for a delayed edge: the shared weight's copies' gradients add up
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from core.activations import ACTIVATIONS
from core.engine import NeuronValues, check_loss, compile_plan
from core.engine.recurrent import sequence_forward
from core.errors import StepThroughError
from core.losses import LOSSES, SEQUENCE_LOSSES
from core.network import Edge, Network
from core.number_text import factor as _p
from core.number_text import fmt

# Each of the T copies shows every neuron's numbers: beyond these the unrolled view and the
# event list stop being readable.
MAX_NEURONS = 30
MAX_STEPS = 6  # shown by default (a chosen window may be longer, up to MAX_WINDOW)
MAX_WINDOW = 12

Key = tuple[str, int]  # (neuron or edge id, time step 1..T); step 0 of an edge: all steps


@dataclass(frozen=True)
class TimeEvent:
    phase: str  # input, forward, loss, output, backward, gradient
    title: str
    rule: str
    lines: tuple[str, ...]
    neurons: tuple[Key, ...] = ()  # the copies lit up
    edges: tuple[Key, ...] = ()  # (edge, step of its target's copy)
    values: dict[str, float] = field(default_factory=dict)  # every number shown, by name
    reveals: dict[Key, dict[str, float]] = field(default_factory=dict)
    terms: dict[Key, float] = field(default_factory=dict)  # what each lit edge copy adds


@dataclass(frozen=True)
class TimeWalkthrough:
    x: np.ndarray  # (T, data columns) of the shown steps
    y: np.ndarray  # (T, outputs)
    first: int  # the first shown step's index in the whole sequence (0-based)
    length: int  # the whole sequence's steps
    loss_name: str
    sequence_loss: str
    bptt_steps: int
    loss: float
    neurons: dict[Key, NeuronValues]  # (neuron, t) -> its values at step t
    edge_gradients: dict[str, float]
    bias_gradients: dict[str, float]
    events: tuple[TimeEvent, ...]

    @property
    def steps(self) -> int:
        return len(self.x)

    def window_text(self) -> str:
        """Which steps are shown, in words."""
        last = self.first + self.steps
        if self.first == 0 and last == self.length:
            return f"all {self.length} steps of this sequence"
        return (f"steps {self.first + 1}–{last} of this sequence's {self.length}, run as a "
                f"sequence of their own (state from zero at the first)")

    def truncation_text(self) -> str:
        if self.bptt_steps and self.bptt_steps < self.steps:
            return (f"truncated BPTT ({self.bptt_steps} steps, as the training settings say): "
                    f"delta does not flow back across t = "
                    + ", ".join(str(s + 1) for s in range(self.bptt_steps, self.steps,
                                                          self.bptt_steps)))
        return "full BPTT: delta flows back through every shown step"

    def revealed(self, index: int) -> dict[Key, dict[str, float]]:
        """Everything the unrolled view shows once events 0..index have been played."""
        shown: dict[Key, dict[str, float]] = {}
        for event in self.events[: index + 1]:
            for key, values in event.reveals.items():
                shown.setdefault(key, {}).update(values)
        return shown


def walkthrough_over_time(net: Network, x, y, loss: str, sequence_loss: str = "every",
                          bptt_steps: int = 0, first: int = 0, steps: int = MAX_STEPS
                          ) -> TimeWalkthrough:
    """Every event of one sequence x (steps x data columns), targets y (steps x outputs),
    over the steps first .. first+steps-1 (cut to the sequence's end)."""
    if len(net.neurons) > MAX_NEURONS:
        raise StepThroughError(
            f"step-through over time shows every neuron's numbers at every step, which stays "
            f"readable up to {MAX_NEURONS} neurons; this network has {len(net.neurons)}.")
    plan = compile_plan(net)  # NetworkError, with its own message, if it cannot run
    problem = check_loss(plan, net, loss)
    if problem:
        raise StepThroughError(problem)
    if sequence_loss not in SEQUENCE_LOSSES:
        raise StepThroughError(f"unknown sequence loss {sequence_loss!r}; use one of "
                               f"{', '.join(SEQUENCE_LOSSES)}")
    x, y = _sequence(x, plan.n_columns, "input"), _sequence(y, len(net.outputs), "target")
    if len(x) != len(y) or not len(x):
        raise StepThroughError(f"the sequence has {len(x)} input step(s) and {len(y)} target "
                               f"step(s); step-through needs the same number, at least one")
    if not 0 <= first < len(x):
        raise StepThroughError(f"the first shown step must be between 1 and {len(x)}")
    if not 1 <= steps <= MAX_WINDOW:
        raise StepThroughError(f"show between 1 and {MAX_WINDOW} steps at once")
    xs, ys = x[first: first + steps], y[first: first + steps]
    params = plan.pack(net, np.float64)
    with np.errstate(over="ignore", invalid="ignore"):
        sfwd = sequence_forward(plan, params, plan.inputs_from(xs)[None])
    z, a = sfwd.z, sfwd.a  # (neurons x T): one sequence, column t - 1 is step t
    rows = {nid: r for r, nid in enumerate(plan.order)}
    values = {}
    for nid, n in net.neurons.items():
        r = rows[nid]
        f1 = np.ones(len(xs)) if n.role == "input" else \
            ACTIVATIONS[n.activation].df(z[r], a[r])
        for k in range(len(xs)):
            values[(nid, k + 1)] = NeuronValues(float(z[r, k]), float(a[r, k]), float(f1[k]),
                                                0.0)
    builder = _Builder(net, xs, ys, loss, sequence_loss, bptt_steps, values)
    return builder.build(first, len(x))


def _sequence(values, width: int, what: str) -> np.ndarray:
    try:
        v = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise StepThroughError(f"the {what} values must be numbers") from None
    if v.ndim == 1 and width == 1:
        v = v[:, None]
    if v.ndim != 2 or v.shape[1] != width:
        raise StepThroughError(f"the network has {width} {what} value(s) per time step, but "
                               f"the sequence has shape {v.shape}")
    if not np.isfinite(v).all():
        raise StepThroughError(f"the {what} values must be finite numbers")
    return v


class _Builder:
    def __init__(self, net: Network, x: np.ndarray, y: np.ndarray, loss: str,
                 sequence_loss: str, bptt_steps: int, values: dict[Key, NeuronValues]) -> None:
        self.net, self.x, self.y, self.loss_name = net, x, y, loss
        self.sequence_loss, self.bptt = sequence_loss, bptt_steps
        self.v = values
        self.T = len(x)
        self.outputs = [n.id for n in net.outputs]
        self.order = [nid for nid in net.topological_order()
                      if net.neurons[nid].role != "input"]
        self.counted = list(range(1, self.T + 1)) if sequence_loss == "every" else [self.T]
        self.events: list[TimeEvent] = []

    def name(self, nid: str) -> str:
        return self.net.neurons[nid].name

    def w(self, e: Edge) -> str:
        return f"w({self.name(e.source)}→{self.name(e.target)}{'·z⁻¹' if e.delay else ''})"

    def a_at(self, nid: str, t: int) -> float:
        return self.v[(nid, t)].activation if t >= 1 else 0.0

    def build(self, first: int, length: int) -> TimeWalkthrough:
        for t in range(1, self.T + 1):
            self._inputs(t)
            for nid in self.order:
                self._forward(nid, t)
        value, slopes = self._loss()
        for t in range(self.T, 0, -1):
            for nid in reversed(self.order):
                self._delta(nid, t, slopes)
        grads = {e.id: self._gradient(e) for e in self.net.edges.values()}
        biases = {nid: sum(self.v[(nid, t)].delta for t in range(1, self.T + 1))
                  for nid in self.order}
        return TimeWalkthrough(self.x, self.y, first, length, self.loss_name,
                               self.sequence_loss, self.bptt, value, self.v, grads, biases,
                               tuple(self.events))

    # ----- forward ---------------------------------------------------------------------------
    def _inputs(self, t: int) -> None:
        ids = [n.id for n in self.net.inputs]
        lines = tuple(f"a({self.name(i)}, t={t}) = {fmt(self.a_at(i, t))}" for i in ids)
        targets = tuple(f"target({self.name(o)}, t={t}) = {fmt(v)}"
                        for o, v in zip(self.outputs, self.y[t - 1])) \
            if t in self.counted else ()  # "last" reads no other step's target
        self.events.append(TimeEvent(
            "input", f"t = {t}: the inputs", "An input neuron passes the step's value on "
            "unchanged: a = x(t).", lines + targets, neurons=tuple((i, t) for i in ids),
            values={f"a:{i}": self.a_at(i, t) for i in ids},
            reveals={(i, t): {"a": self.a_at(i, t)} for i in ids}))

    def _forward(self, nid: str, t: int) -> None:
        n, nv, name = self.net.neurons[nid], self.v[(nid, t)], self.name(nid)
        edges = self.net.incoming(nid)
        values = {"net": nv.net_input, "a": nv.activation, "f'": nv.derivative, "b": n.bias}
        symbolic, numbers, terms = [], [], {}
        for e in edges:
            when = t - e.delay
            symbolic.append(f"{self.w(e)}·a({self.name(e.source)}, t={when})")
            numbers.append(f"{_p(e.weight)}·{_p(self.a_at(e.source, when))}")
            values[f"term:{e.id}"] = e.weight * self.a_at(e.source, when)
            terms[(e.id, t)] = values[f"term:{e.id}"]
        pad = " " * len(f"net({name}, t={t}) ")
        lines = [f"net({name}, t={t}) = {' + '.join(symbolic + [f'b({name})'])}",
                 f"{pad}= {' + '.join(numbers + [_p(n.bias)])}",
                 f"{pad}= {fmt(nv.net_input)}"]
        activation_line, derivative_line, rule = ACTIVATIONS[n.activation].explanation(
            nv.net_input, nv.activation, nv.derivative)
        lines += [f"a({name}, t={t}) = {activation_line}", f"f'(net) = {derivative_line}"]
        why = ("Weighted sum of what flows in, plus the bias; then the activation. f'(net) is "
               f"kept for the backward pass ({rule}).")
        if any(e.delay for e in edges):
            why += (" A delayed edge (z⁻¹) brings its source's output of the step before"
                    + (": nothing yet at t = 1, the state starts at zero." if t == 1 else "."))
        self.events.append(TimeEvent(
            "forward", f"t = {t}, forward: {name}", why, tuple(lines),
            neurons=((nid, t),), edges=tuple((e.id, t) for e in edges), values=values,
            reveals={(nid, t): {"net": nv.net_input, "a": nv.activation}}, terms=terms))

    # ----- loss ------------------------------------------------------------------------------
    def _loss(self) -> tuple[float, dict[Key, float]]:
        """The loss over the counted steps, and its slope (dL/da, or dL/dnet) per (output, t)."""
        spec = LOSSES[self.loss_name]
        def rows(steps):
            z = np.array([[self.v[(o, t)].net_input for o in self.outputs] for t in steps])
            a = np.array([[self.v[(o, t)].activation for o in self.outputs] for t in steps])
            return z, a, self.y[[t - 1 for t in steps]]
        result = spec.compute(*rows(self.counted))
        self.wrt_net = result.wrt_net
        per_step = {t: spec.compute(*rows([t])).value for t in self.counted}
        lines = [f"t={t}: a " + ", ".join(fmt(self.a_at(o, t)) for o in self.outputs)
                 + ", target " + ", ".join(fmt(v) for v in self.y[t - 1])
                 + f" → ℓ(t={t}) = {fmt(value)}" for t, value in per_step.items()]
        if len(per_step) > 1:
            lines.append(f"L = (ℓ(t=1) + … + ℓ(t={self.T})) / {self.T} = {fmt(result.value)}")
        else:
            lines.append(f"L = ℓ(t={self.T}) = {fmt(result.value)}")
        rule = (f"{spec.title.capitalize()} at each counted step: "
                f"{SEQUENCE_LOSSES[self.sequence_loss]}.")
        self.events.append(TimeEvent(
            "loss", "The loss over the shown steps", rule, tuple(lines),
            neurons=tuple((o, t) for t in self.counted for o in self.outputs),
            values={"loss": float(result.value),
                    **{f"loss@{t}": float(v) for t, v in per_step.items()}}))
        slopes = {(o, t): float(result.grad[i, j]) for i, t in enumerate(self.counted)
                  for j, o in enumerate(self.outputs)}
        return float(result.value), slopes

    # ----- backward --------------------------------------------------------------------------
    def _cut(self, t: int) -> bool:
        """Truncated BPTT: no delta flows from step t back to t - 1 at a window's start."""
        return bool(self.bptt) and (t - 1) % self.bptt == 0

    def _delta(self, nid: str, t: int, slopes: dict[Key, float]) -> None:
        nv, name = self.v[(nid, t)], self.name(nid)
        lines = [f"δ({name}, t={t}) = f'(net)·∂L/∂a, ∂L/∂a the sum of:"]
        values: dict[str, float] = {"f'": nv.derivative}
        total = 0.0
        from_loss = slopes.get((nid, t))
        if from_loss is not None and not self.wrt_net:
            total += from_loss
            values["loss"] = from_loss
            lines.append(f"  from the loss at t={t}: ∂L/∂a = {fmt(from_loss)}")
        elif from_loss is None and nid in self.outputs:
            lines.append("  from the loss: nothing (it reads the last step only)")
        through, lit = self._through_edges(nid, t, lines, values)
        total += through
        delta = nv.derivative * total
        lines.append(f"δ({name}, t={t}) = {_p(nv.derivative)}·{_p(total)} = {fmt(delta)}")
        if from_loss is not None and self.wrt_net:  # the loss gives dL/dnet itself
            delta += from_loss
            values["loss"] = from_loss
            lines.append(f"  + ∂L/∂net from the loss at t={t}: {fmt(from_loss)}"
                         f"  → δ = {fmt(delta)}")
        values.update({"dL/da": total, "delta": delta})
        self.v[(nid, t)] = NeuronValues(nv.net_input, nv.activation, nv.derivative, delta)
        if t == 1:
            grad_b = sum(self.v[(nid, s)].delta for s in range(1, self.T + 1))
            values["dL/db"] = grad_b
            lines.append(f"∂L/∂b({name}) = Σ over t of δ({name}, t) = {fmt(grad_b)}")
        rule = ("Backpropagation through time: the error reaches this copy from the loss at "
                "this step, through its ordinary edges at the same step, and through its "
                "delayed edges from the next step; f'(net) takes the sum through the neuron.")
        phase = "output" if nid in self.outputs else "backward"
        self.events.append(TimeEvent(
            phase, f"t = {t}, backward: {name}", rule, tuple(lines), neurons=((nid, t),),
            edges=tuple(lit), values=values, reveals={(nid, t): {"δ": delta}},
            terms={(eid, s): values[f"term:{eid}"] for eid, s in lit}))

    def _through_edges(self, nid: str, t: int, lines: list[str], values: dict[str, float]
                       ) -> tuple[float, list[Key]]:
        """What reaches (nid, t) through its outgoing edges: at t along ordinary ones, from
        t + 1 along delayed ones. Appends a line per edge; returns the sum and the copies."""
        total, lit, after_last = 0.0, [], False
        for e in self.net.outgoing(nid):
            later = t + e.delay
            if later > self.T:
                after_last = True  # the shown steps end here: nothing after the last one
                continue
            if e.delay and self._cut(later):
                lines.append(f"  via {self.w(e)} from t={later}: cut (truncated BPTT)")
                continue
            term = e.weight * self.v[(e.target, later)].delta
            total += term
            values[f"term:{e.id}"] = term
            lit.append((e.id, later))
            lines.append(f"  via {self.w(e)} from t={later}: {_p(e.weight)}·"
                         f"{_p(self.v[(e.target, later)].delta)} = {fmt(term)}")
        if after_last:
            lines.append(f"  via its delayed edges: nothing (t={t} is the last shown step)")
        return total, lit

    def _gradient(self, e: Edge) -> float:
        terms, lines = [], [f"∂L/∂{self.w(e)} = Σ over t of δ({self.name(e.target)}, t)·"
                            f"a({self.name(e.source)}, t{'-1' if e.delay else ''})"]
        values = {}
        for t in range(1, self.T + 1):
            delta, a = self.v[(e.target, t)].delta, self.a_at(e.source, t - e.delay)
            terms.append(delta * a)
            values[f"term@{t}"] = delta * a
            lines.append(f"  t={t}: {_p(delta)}·{_p(a)} = {fmt(delta * a)}")
        grad = float(sum(terms))
        values["dL/dw"] = grad
        lines.append(f"∂L/∂{self.w(e)} = {fmt(grad)}")
        rule = ("One weight, used at every step: each copy's gradient is δ at its target times "
                "the value in front of it, and the copies' gradients add up (a delayed edge "
                "reads the step before: nothing at t = 1).")
        self.events.append(TimeEvent(
            "gradient", f"Gradient: {self.w(e)}", rule, tuple(lines),
            neurons=tuple((e.target, t) for t in range(1, self.T + 1)),
            edges=tuple((e.id, t) for t in range(1 + e.delay, self.T + 1)), values=values,
            reveals={(e.id, 0): {"∂L/∂w": grad}},
            terms={(e.id, t): values[f"term@{t}"] for t in range(1 + e.delay, self.T + 1)}))
        return grad
