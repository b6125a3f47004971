"""Step-through: one sample's forward pass, loss, backward pass and update as a sequence of
events, each written out as the chain-rule arithmetic with the actual numbers.

The numbers are the engine's own (core.engine.inspect_sample, float64): this module only
arranges them in the order the textbooks tell the algorithm and names the rule at each step.
Every number an event shows is also in its `values`, so tests can hold the text to the engine.

Order of events:
  input      the sample's values enter the input neurons
  forward    one per computed neuron, in topological order: net, f(net), f'(net)
  loss       the loss for this sample, as its registry entry explains it (core.losses)
  output     one per output neuron: dL/d(output) and its delta
  backward   one per hidden neuron, in reverse topological order: delta = f'(net) * sum over
             the outgoing edges of w * delta (one term per path)
  gradient   after each neuron's delta, one per incoming edge: dL/dw = delta * a(source)
  update     plain gradient descent on this sample: w <- w - lr * dL/dw, for every parameter,
             with the curvature of this sample's loss along the step and what it says about
             overshooting (core.curvature.OVERSHOOT)
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from core.activations import ACTIVATIONS
from core.curvature import OVERSHOOT, TrainingLoss, overshoot_verdict
from core.engine import NeuronValues, Params, Plan, check_loss, compile_plan, inspect_sample
from core.errors import StepThroughError, UserError
from core.features import column_name, columns_needed, resolved
from core.losses import ANY_NUMBER, LOSSES
from core.network import Network
from core.number_text import factor as _p
from core.number_text import fmt

# Beyond this the canvas cannot show a number per neuron and edge legibly, and the event list
# runs into the thousands: the mode says so instead of trying.
MAX_NEURONS = 50


@dataclass(frozen=True)
class Event:
    phase: str  # input, forward, loss, output, backward, gradient, update
    title: str
    rule: str  # the rule at work, in words
    lines: tuple[str, ...]  # the equations, numbers substituted
    neurons: tuple[str, ...] = ()  # lit up on the canvas
    edges: tuple[str, ...] = ()
    values: dict[str, float] = field(default_factory=dict)  # every number shown, by name
    # What this event adds to the canvas labels: id -> {quantity: value}
    reveals: dict[str, dict[str, float]] = field(default_factory=dict)


@dataclass(frozen=True)
class Update:
    """The gradient-descent step this sample asks for."""

    learning_rate: float
    old: tuple[dict[str, float], dict[str, float]]  # (weights, biases)
    new: tuple[dict[str, float], dict[str, float]]
    # u'Hu of this sample's loss along the step's unit direction u (None without a step):
    # on the parabola along u, the step multiplies the distance to its minimum by
    # (1 - learning_rate * curvature).
    curvature: float | None = None


@dataclass(frozen=True)
class Walkthrough:
    x: np.ndarray
    y: np.ndarray
    loss_name: str
    loss: float
    neurons: dict[str, NeuronValues]
    edge_gradients: dict[str, float]
    update: Update
    events: tuple[Event, ...]

    def revealed(self, index: int) -> dict[str, dict[str, float]]:
        """Everything the canvas shows once events 0..index have been played."""
        shown: dict[str, dict[str, float]] = {}
        for event in self.events[: index + 1]:
            for key, values in event.reveals.items():
                shown.setdefault(key, {}).update(values)
        return shown


def walkthrough(net: Network, x, y, loss: str, learning_rate: float) -> Walkthrough:
    """Every event of one forward and backward pass on sample x with target y."""
    if len(net.neurons) > MAX_NEURONS:
        raise StepThroughError(
            f"step-through shows every number of every neuron, which stays readable up to "
            f"{MAX_NEURONS} neurons; this network has {len(net.neurons)}. Try it on a smaller "
            f"network (File > New from template), or watch this one train live.")
    plan = compile_plan(net)  # NetworkError, with its own message, if it cannot run
    if plan.delayed is not None:
        raise StepThroughError(
            "step-through follows one sample through a feed-forward net; this one has delayed "
            "edges (a recurrent net), which step-through follows over time on sequence data: "
            "choose a sequence generator (echo, sine, ...) or a CSV with a sequence column.")
    problem = check_loss(plan, net, loss)
    if problem:
        raise StepThroughError(problem)
    # x is the sample's data columns; with input features the inputs are computed from them.
    x = _vector(x, plan.n_columns, "input")
    y = _vector(y, len(net.outputs), "target")
    if not (np.isfinite(learning_rate) and learning_rate >= 0):
        raise StepThroughError(f"the learning rate must be a number >= 0, not {learning_rate}")
    params = plan.pack(net, np.float64)
    with np.errstate(over="ignore", invalid="ignore"):  # huge inputs show as inf, not warnings
        inputs = plan.inputs_from(x[None])[0]
        value, neurons, edge_grads = inspect_sample(plan, params, inputs, y, loss)
        curvature = step_curvature(plan, params, inputs, y, loss)
    return _Builder(net, x, y, loss, learning_rate, value, neurons, edge_grads,
                    inputs, curvature).build()


def step_curvature(plan: Plan, params: Params, inputs: np.ndarray, y: np.ndarray,
                   loss: str) -> float | None:
    """u'Hu for this one sample's loss, u the unit direction of its gradient-descent step
    (frozen parameters stay): two more gradients. None when the step is zero."""
    f = TrainingLoss(plan, inputs[None], y[None], loss)
    theta = plan.flatten(params)
    step = -f.gradient(theta) * plan.trainable_vector()
    size = float(np.linalg.norm(step))
    if not (size > 0 and np.isfinite(size)):
        return None
    u = step / size
    return float(u @ f.hvp(theta, u))


def column_names(net: Network) -> list[str]:
    """What a sample's values are called: the input neurons' names, or with input features
    the data columns they read (x1, x2, ...)."""
    if not any(n.feature for n in net.inputs):
        return [n.name for n in net.inputs]
    return [column_name(c) for c in range(columns_needed([n.feature for n in net.inputs]))]


def _vector(values, size: int, what: str) -> np.ndarray:
    try:
        v = np.asarray(values, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError):
        raise StepThroughError(f"the {what} values must be numbers") from None
    if v.size != size:
        raise StepThroughError(f"the network has {size} {what} value(s) to fill, "
                               f"but {v.size} were given")
    if not np.isfinite(v).all():
        raise StepThroughError(f"the {what} values must be finite numbers")
    return v


class _Builder:
    def __init__(self, net: Network, x, y, loss: str, lr: float, value: float,
                 neurons: dict[str, NeuronValues], edge_grads: dict[str, float],
                 inputs: np.ndarray, curvature: float | None) -> None:
        self.net, self.x, self.y, self.loss_name, self.lr = net, x, y, loss, lr
        self.curvature = curvature
        self.inputs = inputs  # what the input neurons hold: x itself, or its features
        self.value, self.v, self.g = value, neurons, edge_grads
        self.outputs = [n.id for n in net.outputs]
        self.order = net.topological_order()
        self.events: list[Event] = []

    def name(self, nid: str) -> str:
        return self.net.neurons[nid].name

    def w(self, eid: str) -> str:
        e = self.net.edges[eid]
        return f"w({self.name(e.source)}→{self.name(e.target)})"

    def build(self) -> Walkthrough:
        self._inputs()
        for nid in self.order:
            if self.net.neurons[nid].role != "input":
                self._forward(nid)
        self._loss()
        for nid in reversed(self.order):
            role = self.net.neurons[nid].role
            if role == "input":
                continue
            if role == "output":
                self._output(nid)
            else:
                self._backward(nid)
            for e in self.net.incoming(nid):
                self._gradient(e.id)
        update = self._update()
        return Walkthrough(self.x, self.y, self.loss_name, self.value, self.v, self.g, update,
                           tuple(self.events))

    # ----- forward ---------------------------------------------------------------------------
    def _inputs(self) -> None:
        ids = [n.id for n in self.net.inputs]
        features = resolved([n.feature for n in self.net.inputs])
        if features is None:
            lines = tuple(f"a({self.name(i)}) = {fmt(v)}" for i, v in zip(ids, self.inputs))
            rule = "An input neuron passes its value on unchanged: a = x."
        else:
            names = [column_name(c) for c in range(len(self.x))]
            lines = (", ".join(f"{n} = {fmt(v)}" for n, v in zip(names, self.x)),) + tuple(
                f"a({self.name(i)}) = " + f.spec.explain(
                    [names[c] for c in f.columns], [self.x[c] for c in f.columns], v)
                for i, f, v in zip(ids, features, self.inputs))
            rule = ("An input neuron computes its feature of the sample's columns (the column "
                    "itself, its square, a product, a sine...) and passes it on.")
        targets = tuple(f"t({self.name(o)}) = {fmt(t)}   (target)"
                        for o, t in zip(self.outputs, self.y))
        self.events.append(Event(
            "input", "The sample enters the inputs", rule,
            lines + targets, neurons=tuple(ids),
            values={**{f"a:{i}": float(v) for i, v in zip(ids, self.inputs)},
                    **({} if features is None else
                       {column_name(c): float(v) for c, v in enumerate(self.x)}),
                    **{f"t:{o}": float(t) for o, t in zip(self.outputs, self.y)}},
            reveals={i: {"a": float(v)} for i, v in zip(ids, self.inputs)}))

    def _forward(self, nid: str) -> None:
        n, nv = self.net.neurons[nid], self.v[nid]
        edges = self.net.incoming(nid)
        name = self.name(nid)
        symbolic = " + ".join(f"{self.w(e.id)}·a({self.name(e.source)})" for e in edges)
        numbers = " + ".join(f"{_p(e.weight)}·{_p(self.v[e.source].activation)}"
                             for e in edges)
        values = {"net": nv.net_input, "a": nv.activation, "f'": nv.derivative, "b": n.bias}
        for e in edges:
            values[f"w:{e.id}"] = e.weight
            values[f"a:{e.source}"] = self.v[e.source].activation
        if edges:
            pad = " " * len(f"net({name}) ")
            lines = [f"net({name}) = {symbolic} + b({name})",
                     f"{pad}= {numbers} + {_p(n.bias)}",
                     f"{pad}= {fmt(nv.net_input)}"]
        else:
            lines = [f"net({name}) = b({name}) = {fmt(nv.net_input)}   (no incoming edges)"]
        activation_line, derivative_line, rule = ACTIVATIONS[n.activation].explanation(
            nv.net_input, nv.activation, nv.derivative)
        lines += [f"a({name}) = {activation_line}", f"f'(net) = {derivative_line}"]
        why = ("Weighted sum of what flows in, plus the bias; then the activation. "
               f"f'(net) is kept for the backward pass ({rule}).")
        self.events.append(Event(
            "forward", f"Forward: {name}", why, tuple(lines), neurons=(nid,),
            edges=tuple(e.id for e in edges), values=values,
            reveals={nid: {"net": nv.net_input, "a": nv.activation}}))

    # ----- loss ------------------------------------------------------------------------------
    def _loss(self) -> None:
        a = np.array([self.v[o].activation for o in self.outputs])
        text = LOSSES[self.loss_name].explain_value(a, self.y, self.value, tuple(self.outputs))
        self.events.append(Event("loss", "The loss", text.rule, text.lines,
                                 neurons=tuple(self.outputs),
                                 values={"loss": self.value, **text.values}))

    # ----- backward --------------------------------------------------------------------------
    def _output(self, nid: str) -> None:
        n, nv, name = self.net.neurons[nid], self.v[nid], self.name(nid)
        i = self.outputs.index(nid)
        a = np.array([self.v[o].activation for o in self.outputs])
        values = {"delta": nv.delta, "a": nv.activation, "t": float(self.y[i]),
                  "f'": nv.derivative}
        text = LOSSES[self.loss_name].explain_slope(a, self.y, i, name, nv.delta)
        values.update(text.values)
        lines, rule = list(text.lines), text.rule
        if text.slope is not None:  # dL/da: the chain rule takes it through f'(net)
            values["dL/da"] = text.slope
            lines.append(f"δ({name}) = ∂L/∂net = f'(net)·∂L/∂a = {_p(nv.derivative)}·"
                         f"{_p(text.slope)} = {fmt(nv.delta)}")
            rule += " Chain rule: times the activation's local derivative f'(net)."
            if ACTIVATIONS[n.activation].derivative_formula == "1":
                rule += f" ({n.activation.capitalize()} output: f' = 1.)"
        lines.append(f"∂L/∂b({name}) = δ({name}) = {fmt(nv.delta)}")
        values["dL/db"] = nv.delta
        self.events.append(Event("output", f"Backward: {name} (output)", rule, tuple(lines),
                                 neurons=(nid,), values=values,
                                 reveals={nid: {"δ": nv.delta}}))

    def _backward(self, nid: str) -> None:
        nv, name = self.v[nid], self.name(nid)
        out = self.net.outgoing(nid)
        values = {"delta": nv.delta, "f'": nv.derivative}
        if not out:
            lines = [f"δ({name}) = 0   ({name} feeds nothing: no path reaches the loss)"]
            rule = "No outgoing edge, so the loss does not depend on this neuron."
        else:
            total = 0.0
            lines = [f"δ({name}) = f'(net)·Σ w·δ over the edges leaving {name}"]
            for e in out:
                term = e.weight * self.v[e.target].delta
                total += term
                values[f"w:{e.id}"] = e.weight
                values[f"delta:{e.target}"] = self.v[e.target].delta
                values[f"term:{e.id}"] = term
                lines.append(f"  path via {self.name(e.target)}: {self.w(e.id)}·δ({self.name(e.target)})"
                             f" = {_p(e.weight)}·{_p(self.v[e.target].delta)} = {fmt(term)}")
            values["sum"] = total
            if len(out) > 1:
                lines.append(f"  Σ = {' + '.join(_p(values[f'term:{e.id}']) for e in out)}"
                             f" = {fmt(total)}")
            lines.append(f"δ({name}) = {_p(nv.derivative)}·{_p(total)} = {fmt(nv.delta)}")
            rule = ("Chain rule: the error flows back through each edge, times its weight, "
                    "then through this neuron's local derivative f'(net).")
            if len(out) > 1:
                rule += (f" {name} feeds {len(out)} neurons, so the loss reaches it along "
                         f"{len(out)} paths: their terms add up (sum over paths).")
        lines.append(f"∂L/∂b({name}) = δ({name}) = {fmt(nv.delta)}")
        values["dL/db"] = nv.delta
        self.events.append(Event("backward", f"Backward: {name}", rule, tuple(lines),
                                 neurons=(nid,), edges=tuple(e.id for e in out), values=values,
                                 reveals={nid: {"δ": nv.delta}}))

    def _gradient(self, eid: str) -> None:
        e = self.net.edges[eid]
        src, dst = self.name(e.source), self.name(e.target)
        delta, a, grad = self.v[e.target].delta, self.v[e.source].activation, self.g[eid]
        self.events.append(Event(
            "gradient", f"Gradient: {self.w(eid)}",
            "At an edge, the error at its target times the value in front of the edge is the "
            "weight's gradient (chain rule: ∂net/∂w = a).",
            (f"∂L/∂{self.w(eid)} = δ({dst})·a({src}) = {_p(delta)}·{_p(a)} = {fmt(grad)}",),
            neurons=(e.source, e.target), edges=(eid,),
            values={"delta": delta, "a": a, "dL/dw": grad}, reveals={eid: {"∂L/∂w": grad}}))

    # ----- update ----------------------------------------------------------------------------
    def _update(self) -> Update:
        net, lr = self.net, self.lr
        old_w = {e.id: e.weight for e in net.edges.values()}
        old_b = {n.id: n.bias for n in net.neurons.values()}
        new_w, new_b, lines, values = dict(old_w), dict(old_b), [], {"lr": lr}
        with np.errstate(over="ignore", invalid="ignore"):
            for eid, e in net.edges.items():
                step = 0.0 if e.frozen else -lr * self.g[eid]
                new_w[eid] = e.weight + step
                values[f"step:{eid}"], values[f"new:{eid}"] = step, new_w[eid]
                lines.append(_update_line(self.w(eid), e.weight, lr, self.g[eid], step,
                                          new_w[eid], e.frozen))
            for nid in self.order:
                n = net.neurons[nid]
                if n.role == "input":
                    continue
                delta = self.v[nid].delta
                step = 0.0 if n.frozen else -lr * delta
                new_b[nid] = n.bias + step
                values[f"step:{nid}"], values[f"new:{nid}"] = step, new_b[nid]
                lines.append(_update_line(f"b({n.name})", n.bias, lr, delta, step, new_b[nid],
                                          n.frozen))
        c = self.curvature
        rule = (f"Gradient descent on this one sample: each parameter moves against its "
                f"gradient, new = old - learning rate·gradient, with learning rate {fmt(lr)}. "
                f"(Plain SGD: the optimiser, regularisation and dropout of the training "
                f"settings are not applied here.) Apply writes these values into the network "
                f"as one undoable edit.")
        head = ["new = old + step,  step = -η·∂L/∂(parameter)"]
        if c is not None:
            values.update({"curvature": c, "eta*c": lr * c, "1-eta*c": 1 - lr * c})
            head.append(f"curvature of this sample's loss along the step: c = {fmt(c)};  "
                        f"η·c = {fmt(lr * c)}, so the distance to the minimum along it is "
                        f"multiplied by 1 − η·c = {fmt(1 - lr * c)}")
            rule += f" {OVERSHOOT} {overshoot_verdict(lr, c)}"
        self.events.append(Event(
            "update", "The update", rule, tuple(head) + tuple(lines),
            edges=tuple(net.edges), values=values,
            reveals={eid: {"new": w} for eid, w in new_w.items()}))
        return Update(lr, (old_w, old_b), (new_w, new_b), c)


def _update_line(name: str, old: float, lr: float, grad: float, step: float, new: float,
                 frozen: bool) -> str:
    if frozen:
        return f"{name}: old {fmt(old)}, frozen: unchanged"
    return (f"{name}: old {fmt(old)}, step -{fmt(lr)}·{_p(grad)} = {fmt(step)}, "
            f"new {fmt(new)}")


def target_meaning(loss: str) -> str:
    """What the target values mean for this loss (for typed targets)."""
    return LOSSES[loss].targets if loss in LOSSES else ANY_NUMBER
