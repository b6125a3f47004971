"""Step-through events: every number shown is the engine's, and the engine's numbers agree with
independent computations (a hand-worked example, math-module activations, finite differences)."""
from __future__ import annotations

import math

import numpy as np
import pytest

from core.engine import compile_plan, inspect_sample
from core.network import Network, NetworkError
from core.stepthrough import MAX_NEURONS, StepThroughError, fmt, walkthrough
from core.templates import chain, softmax3, xor
from tests.core.strategies import dag_with_skips as skip_dag, naive_activations


def numeric_loss(net: Network, x, y, loss: str) -> float:
    plan = compile_plan(net)
    return inspect_sample(plan, plan.pack(net), x, y, loss)[0]


def finite_difference(net: Network, x, y, loss: str, eid: str | None = None,
                      nid: str | None = None, h: float = 1e-5) -> float:
    """dL/dw or dL/db by central differences on a copy of the document."""
    values = []
    for sign in (1, -1):
        copy = net.copy()
        if eid:
            copy.set_weight(eid, net.edges[eid].weight + sign * h)
        else:
            copy.set_bias(nid, net.neurons[nid].bias + sign * h)
        values.append(numeric_loss(copy, x, y, loss))
    return (values[0] - values[1]) / (2 * h)


CASES = [
    ("xor", lambda: xor().network, [1.0, 0.0], [1.0], "mse"),
    ("chain", lambda: chain().network, None, None, "mse"),
    ("dag-mse", skip_dag, [0.7, -1.3], [0.5, -0.2], "mse"),
    ("dag-huber", skip_dag, [2.5, -1.9], [3.0, -0.2], "huber"),
    ("dag-softmax", skip_dag, [0.4, 0.9], [0.0, 1.0], "softmax_ce"),
    ("softmax3", lambda: softmax3().network, None, None, "softmax_ce"),
]


def _case(make, x, y):
    net = make()
    x = x if x is not None else [0.3 * (i + 1) for i in range(len(net.inputs))]
    if y is None:
        y = [0.0] * len(net.outputs)
        y[-1] = 1.0
    return net, np.array(x), np.array(y)


@pytest.mark.parametrize("label,make,x,y,loss", CASES, ids=[c[0] for c in CASES])
def test_every_number_is_the_engines_and_the_engine_is_right(label, make, x, y, loss):
    net, x, y = _case(make, x, y)
    walk = walkthrough(net, x, y, loss, learning_rate=0.5)
    plan = compile_plan(net)
    value, neurons, edge_grads = inspect_sample(plan, plan.pack(net), x, y, loss)
    oracle = naive_activations(net, x)
    seen_forward, seen_gradient, seen_delta = set(), set(), set()
    for event in walk.events:
        text = "\n".join(event.lines)
        if event.phase == "forward":
            (nid,) = event.neurons
            nv = neurons[nid]
            assert event.values["net"] == nv.net_input
            assert event.values["a"] == nv.activation
            assert event.values["f'"] == nv.derivative
            assert event.values["a"] == pytest.approx(oracle[nid], rel=1e-12, abs=1e-14)
            for shown in (nv.net_input, nv.activation, nv.derivative):
                assert fmt(shown) in text
            for e in net.incoming(nid):  # every term of the weighted sum is shown
                assert fmt(e.weight).lstrip("-") in text
            seen_forward.add(nid)
        elif event.phase in ("output", "backward"):
            (nid,) = event.neurons
            assert event.values["delta"] == neurons[nid].delta
            assert fmt(neurons[nid].delta) in text
            # delta is dL/dbias: check the engine against finite differences
            assert neurons[nid].delta == pytest.approx(
                finite_difference(net, x, y, loss, nid=nid), rel=1e-6, abs=1e-9)
            seen_delta.add(nid)
        elif event.phase == "gradient":
            (eid,) = event.edges
            e = net.edges[eid]
            assert e.target in seen_delta, "an edge's gradient comes after its target's delta"
            assert event.values["dL/dw"] == edge_grads[eid]
            assert event.values["dL/dw"] == pytest.approx(
                event.values["delta"] * event.values["a"], rel=1e-12, abs=1e-15)
            assert edge_grads[eid] == pytest.approx(
                finite_difference(net, x, y, loss, eid=eid), rel=1e-6, abs=1e-9)
            assert fmt(edge_grads[eid]) in text
            seen_gradient.add(eid)
        elif event.phase == "loss":
            assert event.values["loss"] == value
            assert fmt(value) in text
    computed = {n for n in net.neurons if net.neurons[n].role != "input"}
    assert seen_forward == computed and seen_delta == computed
    assert seen_gradient == set(net.edges)


@pytest.mark.parametrize("label,make,x,y,loss", CASES, ids=[c[0] for c in CASES])
def test_order_follows_the_graph(label, make, x, y, loss):
    net, x, y = _case(make, x, y)
    walk = walkthrough(net, x, y, loss, 0.1)
    forward = [e.neurons[0] for e in walk.events if e.phase == "forward"]
    backward = [e.neurons[0] for e in walk.events if e.phase in ("output", "backward")]
    for e in net.edges.values():
        if net.neurons[e.source].role != "input":
            assert forward.index(e.source) < forward.index(e.target)
            assert backward.index(e.target) < backward.index(e.source)
    phases = [e.phase for e in walk.events]
    assert phases[0] == "input" and phases[-1] == "update"
    assert phases.index("loss") == len(forward) + 1


def test_sum_over_paths_shows_each_term():
    net = skip_dag()
    x, y = np.array([0.2, -0.6]), np.array([1.0, 0.0])
    walk = walkthrough(net, x, y, "mse", 0.1)
    plan = compile_plan(net)
    neurons = inspect_sample(plan, plan.pack(net), x, y, "mse")[1]
    multi = [e for e in walk.events if e.phase == "backward" and len(e.edges) > 1]
    assert multi, "the DAG has a hidden neuron feeding several others"
    for event in multi:
        (nid,) = event.neurons
        terms = []
        for eid in event.edges:
            edge = net.edges[eid]
            term = edge.weight * neurons[edge.target].delta  # recomputed here, not read
            assert event.values[f"term:{eid}"] == pytest.approx(term, rel=1e-12)
            assert any(fmt(term) in line and net.neurons[edge.target].name in line
                       for line in event.lines)
            terms.append(term)
        assert event.values["sum"] == pytest.approx(sum(terms), rel=1e-12)
        assert neurons[nid].derivative * sum(terms) == pytest.approx(neurons[nid].delta, rel=1e-12)
        assert "sum over paths" in event.rule


def test_hand_worked_chain():
    """x -> h (sigmoid) -> o (identity), MSE, worked with the math module."""
    net = Network()
    x_id = net.add_neuron("input").id
    h = net.add_neuron("hidden", "sigmoid", bias=0.1).id
    o = net.add_neuron("output", "identity", bias=-0.2).id
    net.connect(x_id, h, 0.5)
    net.connect(h, o, 0.8)
    walk = walkthrough(net, [2.0], [1.0], "mse", learning_rate=0.25)
    z_h = 0.5 * 2.0 + 0.1
    a_h = 1 / (1 + math.exp(-z_h))
    z_o = 0.8 * a_h - 0.2
    loss = (z_o - 1.0) ** 2
    d_o = 2 * (z_o - 1.0)
    d_h = a_h * (1 - a_h) * 0.8 * d_o
    events = {e.title: e for e in walk.events}
    assert events[f"Forward: {h}"].values["a"] == pytest.approx(a_h, rel=1e-14)
    assert walk.loss == pytest.approx(loss, rel=1e-14)
    assert events[f"Backward: {o} (output)"].values["dL/da"] == pytest.approx(d_o, rel=1e-14)
    assert events[f"Backward: {h}"].values["delta"] == pytest.approx(d_h, rel=1e-14)
    grad_hw = events[f"Gradient: w({h}→{o})"]
    assert grad_hw.values["dL/dw"] == pytest.approx(d_o * a_h, rel=1e-14)
    assert grad_hw.lines[0].endswith(f"= ({fmt(d_o)})·{fmt(a_h)} = {fmt(d_o * a_h)}")
    new_w, new_b = walk.update.new
    edge_xh = net.find_edge(x_id, h).id
    assert new_w[edge_xh] == pytest.approx(0.5 - 0.25 * d_h * 2.0, rel=1e-14)
    assert new_b[o] == pytest.approx(-0.2 - 0.25 * d_o, rel=1e-14)


def test_softmax_cross_entropy_shows_p_minus_t():
    net = softmax3().network
    x = np.array([0.5, -1.0])[: len(net.inputs)]
    t = np.eye(len(net.outputs))[1]
    walk = walkthrough(net, x, t, "softmax_ce", 0.1)
    a = np.array([naive_activations(net, x)[o.id] for o in net.outputs])
    p = np.exp(a - a.max()) / np.exp(a - a.max()).sum()
    outs = [e for e in walk.events if e.phase == "output"]
    assert len(outs) == len(net.outputs)
    for event in outs:
        i = [o.id for o in net.outputs].index(event.neurons[0])
        assert event.values["dL/da"] == pytest.approx(p[i] - t[i], rel=1e-12, abs=1e-15)
        assert "p - t" in event.lines[0] and "p - t" in event.rule
        if net.neurons[event.neurons[0]].activation == "identity":
            assert event.values["delta"] == pytest.approx(p[i] - t[i], rel=1e-12, abs=1e-15)
    loss_event = next(e for e in walk.events if e.phase == "loss")
    assert loss_event.values["loss"] == pytest.approx(-math.log(p[1]), rel=1e-12)


def test_bce_combined_derivative():
    net = xor().network
    for n in net.outputs:
        net.set_activation(n.id, "sigmoid")
    walk = walkthrough(net, [0.0, 1.0], [1.0], "bce", 0.1)
    out = next(e for e in walk.events if e.phase == "output")
    a = naive_activations(net, [0.0, 1.0])[out.neurons[0]]
    assert out.values["delta"] == pytest.approx(a - 1.0, rel=1e-12)
    assert "a - t" in out.lines[0]


def test_update_and_frozen_parameters():
    net = xor().network
    frozen_edge = next(iter(net.edges))
    net.set_edge_frozen(frozen_edge, True)
    hidden = next(n.id for n in net.neurons.values() if n.role == "hidden")
    net.set_frozen(hidden, True)
    walk = walkthrough(net, [1.0, 1.0], [0.0], "mse", 0.3)
    old_w, old_b = walk.update.old
    new_w, new_b = walk.update.new
    for eid, g in walk.edge_gradients.items():
        expected = old_w[eid] if eid == frozen_edge else old_w[eid] - 0.3 * g
        assert new_w[eid] == pytest.approx(expected, rel=1e-15)
    assert new_b[hidden] == old_b[hidden]
    update = walk.events[-1]
    assert any("frozen" in line for line in update.lines)
    for eid, g in walk.edge_gradients.items():  # old, step and new for each trainable weight
        if eid != frozen_edge:
            assert any(f"old {fmt(old_w[eid])}, step -0.3·" in line
                       and f"= {fmt(-0.3 * g)}, new {fmt(new_w[eid])}" in line
                       for line in update.lines)
    assert walk.revealed(len(walk.events) - 1)[frozen_edge]["new"] == old_w[frozen_edge]


def test_revealed_grows_with_the_events():
    net = xor().network
    walk = walkthrough(net, [1.0, 0.0], [1.0], "mse", 0.1)
    out = net.outputs[0].id
    first_forward = next(i for i, e in enumerate(walk.events) if e.phase == "forward")
    assert "δ" not in walk.revealed(first_forward).get(out, {})
    last = walk.revealed(len(walk.events) - 1)
    assert set(last[out]) == {"net", "a", "δ"}
    assert all("∂L/∂w" in last[eid] and "new" in last[eid] for eid in net.edges)


def test_a_neuron_that_feeds_nothing_has_zero_delta():
    net = xor().network
    dangling = net.add_neuron("hidden", "tanh").id
    net.connect(net.inputs[0].id, dangling, 0.7)
    walk = walkthrough(net, [1.0, 0.0], [1.0], "mse", 0.1)
    event = next(e for e in walk.events if e.phase == "backward" and e.neurons == (dangling,))
    assert event.values["delta"] == 0.0
    assert "feeds nothing" in event.lines[0]


def test_refusals_have_messages():
    big = Network()
    ids = [big.add_neuron("input").id] + [big.add_neuron("hidden").id
                                          for _ in range(MAX_NEURONS)]
    out = big.add_neuron("output").id
    for h in ids[1:]:
        big.connect(ids[0], h, 0.1)
        big.connect(h, out, 0.1)
    with pytest.raises(StepThroughError, match=f"up to {MAX_NEURONS} neurons"):
        walkthrough(big, [1.0], [0.0], "mse", 0.1)
    net = xor().network
    with pytest.raises(StepThroughError, match="2 input value"):
        walkthrough(net, [1.0], [0.0], "mse", 0.1)
    with pytest.raises(StepThroughError, match="finite"):
        walkthrough(net, [1.0, float("nan")], [0.0], "mse", 0.1)
    with pytest.raises(StepThroughError, match="numbers"):
        walkthrough(net, ["a", "b"], [0.0], "mse", 0.1)
    linear_out = net.copy()
    linear_out.set_activation(linear_out.outputs[0].id, "identity")
    with pytest.raises(StepThroughError, match="needs sigmoid"):
        walkthrough(linear_out, [1.0, 0.0], [1.0], "bce", 0.1)
    with pytest.raises(StepThroughError, match="learning rate"):
        walkthrough(net, [1.0, 0.0], [1.0], "mse", float("inf"))
    with pytest.raises(NetworkError):
        walkthrough(Network(), [], [], "mse", 0.1)


def test_fmt_never_shows_minus_zero():
    assert fmt(-0.0) == "0" and fmt(-1e-300) != "-0"
    assert fmt(0.09654321) == "0.09654"


# ----- the step's curvature: why a step larger than 2/curvature oscillates ----------------------
def loss_along_step(net: Network, walk, x, y, loss: str):
    """t -> this sample's loss at old + t·u, u the unit direction of the update, and u's
    length in parameter space (the step's size): from the document's values, not the engine's
    Hessian."""
    (old_w, old_b), (new_w, new_b) = walk.update.old, walk.update.new
    step = {**{k: new_w[k] - old_w[k] for k in old_w}, **{k: new_b[k] - old_b[k] for k in old_b}}
    size = math.sqrt(sum(v * v for v in step.values()))

    def at(t: float) -> float:
        copy = net.copy()
        copy.set_values({k: old_w[k] + t * step[k] / size for k in old_w},
                        {k: old_b[k] + t * step[k] / size for k in old_b})
        return numeric_loss(copy, x, y, loss)
    return at, size


@pytest.mark.parametrize("label,make,x,y,loss", CASES[:5], ids=[c[0] for c in CASES[:5]])
def test_the_curvature_along_the_step_is_the_second_difference_of_the_loss(label, make, x, y,
                                                                           loss):
    net, x, y = _case(make, x, y)
    walk = walkthrough(net, x, y, loss, 0.5)
    at, _ = loss_along_step(net, walk, x, y, loss)
    h = 1e-4
    second = (at(h) - 2 * at(0.0) + at(-h)) / (h * h)
    update = walk.events[-1]
    assert walk.update.curvature == update.values["curvature"]
    assert update.values["curvature"] == pytest.approx(second, rel=1e-4, abs=1e-6)
    assert update.values["1-eta*c"] == pytest.approx(1 - 0.5 * second, rel=1e-4, abs=1e-6)
    assert "2/curvature" in update.rule and "(1 − η·c)" in update.rule


@pytest.mark.parametrize("eta_c,words", [(0.5, "of the way to the minimum"),
                                         (1.5, "overshoots to the other side but lands closer"),
                                         (2.5, "farther away on the other side")])
def test_on_a_quadratic_the_step_multiplies_the_distance_by_one_minus_eta_c(eta_c, words):
    """A linear neuron with squared error: the sample's loss is exactly a parabola along the
    step, so what the update's text says can be checked on the loss itself."""
    net = Network()
    a, b = net.add_neuron("input").id, net.add_neuron("input").id
    out = net.add_neuron("output", "identity", bias=0.2).id
    net.connect(a, out, 0.7)
    net.connect(b, out, -0.4)
    x, y = np.array([1.5, -0.5]), np.array([2.0])
    c = walkthrough(net, x, y, "mse", 1.0).update.curvature
    eta = eta_c / c
    walk = walkthrough(net, x, y, "mse", eta)
    at, size = loss_along_step(net, walk, x, y, "mse")
    # The parabola through three values, and its lowest point: independent of the engine.
    h = 0.1
    curv = (at(h) - 2 * at(0.0) + at(-h)) / (h * h)
    slope = (at(h) - at(-h)) / (2 * h)
    bottom = -slope / curv
    assert walk.update.curvature == pytest.approx(curv, rel=1e-6)
    assert size / bottom == pytest.approx(eta_c, rel=1e-6)  # the step goes eta*c of the way
    assert abs(size - bottom) / bottom == pytest.approx(abs(1 - eta_c), rel=1e-6)
    assert words in walk.events[-1].rule
    new_loss = at(size)
    assert (new_loss > at(0.0)) == (eta_c > 2)  # beyond 2/c the step makes things worse


def test_a_recurrent_net_is_refused_in_one_line():
    from core.errors import StepThroughError
    from core.stepthrough import walkthrough
    from core.templates import layered

    net = layered([1, 2, 1], hidden="tanh", output="identity")
    hidden = [n.id for n in net.neurons.values() if n.role == "hidden"]
    net.connect(hidden[1], hidden[0], delay=1)
    with pytest.raises(StepThroughError, match="delayed edges"):
        walkthrough(net, [0.5], [0.1], "mse", 0.1)
