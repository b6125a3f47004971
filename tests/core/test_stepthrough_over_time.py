"""Step-through over time: every number an event shows agrees with independent computations
(the engine's backpropagation through time, the unrolling written out with finite differences,
a two-step example worked by hand), and the terms each event lists add up to its result."""
from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.engine import compile_plan
from core.engine.recurrent import sequence_loss, sequence_loss_and_gradients
from core.errors import StepThroughError
from core.stepthrough.over_time import MAX_NEURONS, walkthrough_over_time
from core.templates import layered
from tests.core.strategies import naive_sequence_outputs, sequence_problems
from tests.core.test_recurrent import self_loop


def elman(seed: int = 0, hidden: int = 4):
    """layered 1-h-1 (tanh, identity) with a delayed edge from every hidden neuron to every
    hidden neuron, random weights and biases."""
    net = layered([1, hidden, 1], hidden="tanh", output="identity")
    ids = [n.id for n in net.neurons.values() if n.role == "hidden"]
    for a in ids:
        for b in ids:
            net.connect(a, b, delay=1)
    rng = np.random.default_rng(seed)
    for e in net.edges.values():
        net.set_weight(e.id, float(rng.normal(0, 0.8)))
    for n in net.neurons.values():
        if n.role != "input":
            net.set_bias(n.id, float(rng.normal(0, 0.3)))
    return net


def engine_numbers(net, x, y, loss, kind, k):
    plan = compile_plan(net)
    value, grads = sequence_loss_and_gradients(plan, plan.pack(net), x[None], y[None], None,
                                               loss, kind, k)
    edges = dict(zip(plan.edge_ids, plan.edge_vector(grads.weights)))
    biases = {nid: grads.biases[r] for r, nid in enumerate(plan.order)}
    return value, edges, biases


@settings(max_examples=60, deadline=None)
@given(sequence_problems(max_steps=5), st.sampled_from(["every", "last"]),
       st.sampled_from([0, 1, 2]))
def test_every_number_is_the_engines_on_random_recurrent_graphs(problem, kind, k):
    """Delayed edges anywhere (self-loops, outputs fed back, inputs delayed), skip edges, every
    loss, both sequence losses, full and truncated BPTT: loss, every weight's and bias's
    gradient as the engine computes them for this one sequence; net inputs and outputs as
    the unrolling written out computes them."""
    loss, net, xs, ys, mask = problem
    steps = int(mask[0].sum())
    x, y = xs[0, :steps], ys[0, :steps]
    walk = walkthrough_over_time(net, x, y, loss, kind, k)
    value, edges, biases = engine_numbers(net, x, y, loss, kind, k)
    assert walk.loss == pytest.approx(value, rel=1e-12, abs=1e-15)
    shown = next(e for e in walk.events if e.phase == "loss").values  # per step, their mean
    per_step = [v for name, v in shown.items() if name.startswith("loss@")]
    assert len(per_step) == (steps if kind == "every" else 1)
    assert np.mean(per_step) == pytest.approx(value, rel=1e-12, abs=1e-15)
    for eid, g in edges.items():
        assert walk.edge_gradients[eid] == pytest.approx(g, rel=1e-9, abs=1e-12)
    for nid, g in walk.bias_gradients.items():
        assert g == pytest.approx(biases[nid], rel=1e-9, abs=1e-12)
    naive = naive_sequence_outputs(net, x)
    for (nid, t), nv in walk.neurons.items():
        assert nv.activation == pytest.approx(naive[t - 1][nid], rel=1e-12, abs=1e-14)


def loss_of_naive(net, x, y, kind, nudge=None):
    """mse over the steps from the unrolling written out (core.engine not involved)."""
    out = [o.id for o in net.outputs]
    a = np.array([[step[o] for o in out] for step in naive_sequence_outputs(net, x, None, nudge)])
    if kind == "last":
        a, y = a[-1:], y[-1:]
    return float(np.mean((a - y) ** 2))


@pytest.mark.parametrize("kind", ["every", "last"])
def test_deltas_and_gradients_are_finite_differences(kind):
    """δ(n, t) = dL/dnet(n, t): nudge that one net input in the unrolling written out; dL/dw
    and dL/db: nudge the parameter and rerun the engine's forward pass. Central differences,
    float64."""
    net = elman(seed=3)
    rng = np.random.default_rng(7)
    x, y = rng.normal(size=(5, 1)), rng.normal(size=(5, 1))
    walk = walkthrough_over_time(net, x, y, "mse", kind)
    h = 1e-6
    for (nid, t), nv in walk.neurons.items():
        if net.neurons[nid].role == "input":
            continue
        up, down = (loss_of_naive(net, x, y, kind, {(nid, t - 1): s}) for s in (h, -h))
        assert nv.delta == pytest.approx((up - down) / (2 * h), rel=1e-6, abs=1e-9)
    for eid, e in net.edges.items():
        values = []
        for s in (h, -h):
            copy = net.copy()
            copy.set_weight(eid, e.weight + s)
            plan = compile_plan(copy)
            values.append(sequence_loss(plan, plan.pack(copy), x[None], y[None], None, "mse",
                                        kind))
        assert walk.edge_gradients[eid] == pytest.approx((values[0] - values[1]) / (2 * h),
                                                         rel=1e-6, abs=1e-9)


@pytest.mark.parametrize("kind, k", [("every", 0), ("last", 0), ("every", 1)])
def test_two_steps_of_a_self_looping_neuron_worked_by_hand(kind, k):
    """o(1) = tanh(w x1 + b), o(2) = tanh(w x2 + u o(1) + b); the events' numbers are the hand's.
    With windows of one step (k = 1) the term from t = 2 through u is cut."""
    w, u, b, x1, x2, y1, y2 = 0.7, -1.3, 0.1, 0.5, -2.0, 0.3, 0.8
    a1 = math.tanh(w * x1 + b)
    a2 = math.tanh(w * x2 + u * a1 + b)
    if kind == "every":
        value, own2, own1 = ((a1 - y1) ** 2 + (a2 - y2) ** 2) / 2, a2 - y2, a1 - y1
    else:
        value, own2, own1 = (a2 - y2) ** 2, 2 * (a2 - y2), None
    d2 = own2 * (1 - a2 ** 2)
    via_u = None if k == 1 else u * d2  # what reaches step 1 from step 2 through the loop
    d1 = ((own1 or 0.0) + (via_u or 0.0)) * (1 - a1 ** 2)

    net = self_loop(u, w, b)
    o = net.outputs[0].id
    walk = walkthrough_over_time(net, [x1, x2], [y1, y2], "mse", kind, k)
    assert walk.loss == pytest.approx(value, rel=1e-14)
    forward = {e.neurons[0][1]: e.values for e in walk.events if e.phase == "forward"}
    assert forward[1]["net"] == pytest.approx(w * x1 + b, rel=1e-14)
    assert forward[1]["term:u"] == 0.0  # no state before the first step
    assert forward[2]["term:u"] == pytest.approx(u * a1, rel=1e-14)
    back = {e.neurons[0][1]: e.values for e in walk.events if e.phase == "output"}
    assert back[2]["delta"] == pytest.approx(d2, rel=1e-12)
    assert back[1].get("loss") == (None if own1 is None else pytest.approx(own1, rel=1e-12))
    assert back[1].get("term:u") == (None if via_u is None else pytest.approx(via_u, rel=1e-12))
    assert back[1]["delta"] == pytest.approx(d1, rel=1e-12)
    assert back[1]["dL/db"] == pytest.approx(d1 + d2, rel=1e-12)
    assert walk.edge_gradients == pytest.approx({"w": d1 * x1 + d2 * x2, "u": d2 * a1},
                                                rel=1e-12)
    assert any("cut (truncated BPTT)" in line for e in walk.events for line in e.lines) == (k == 1)


def test_the_terms_each_event_shows_add_up_to_its_result():
    net = elman(seed=1)
    rng = np.random.default_rng(2)
    walk = walkthrough_over_time(net, rng.normal(size=(4, 1)), rng.normal(size=(4, 1)), "mse")
    kinds = set()
    for event in walk.events:
        v = event.values
        terms = sum(value for name, value in v.items() if name.startswith("term"))
        if event.phase == "forward":
            assert terms + v["b"] == pytest.approx(v["net"], rel=1e-12, abs=1e-15)
        elif event.phase in ("output", "backward"):
            assert terms + v.get("loss", 0.0) == pytest.approx(v["dL/da"], rel=1e-12, abs=1e-15)
            assert v["f'"] * v["dL/da"] == pytest.approx(v["delta"], rel=1e-12, abs=1e-15)
        elif event.phase == "gradient":
            assert terms == pytest.approx(v["dL/dw"], rel=1e-12, abs=1e-15)
        kinds.add(event.phase)
    assert kinds == {"input", "forward", "loss", "output", "backward", "gradient"}
    # The order the events tell it in: forward t = 1..T, the loss, backward t = T..1.
    steps = [e.neurons[0][1] for e in walk.events if e.phase in ("forward", "output", "backward")]
    half = len(steps) // 2
    assert steps[:half] == sorted(steps[:half])
    assert steps[half:] == sorted(steps[half:], reverse=True)


def test_a_window_of_steps_is_that_stretch_run_from_a_zero_state():
    net = elman(seed=4)
    rng = np.random.default_rng(5)
    x, y = rng.normal(size=(10, 1)), rng.normal(size=(10, 1))
    default = walkthrough_over_time(net, x, y, "mse")
    assert default.steps == 6 and "steps 1–6 of this sequence's 10" in default.window_text()
    window = walkthrough_over_time(net, x, y, "mse", first=7, steps=6)  # cut at the end
    alone = walkthrough_over_time(net, x[7:], y[7:], "mse")
    assert window.steps == 3 and window.loss == alone.loss
    assert window.edge_gradients == alone.edge_gradients
    assert "all 3 steps" in alone.window_text()
    assert "full BPTT" in alone.truncation_text()
    assert "across t = 3, 5" in walkthrough_over_time(net, x, y, "mse", bptt_steps=2
                                                       ).truncation_text()


def test_bad_requests_get_one_line_each():
    net = elman()
    cases = [
        (dict(x=[[1.0, 2.0]], y=[[0.0]]), "1 input value(s) per time step"),
        (dict(x=[1.0, 2.0], y=[0.0]), "2 input step(s) and 1 target"),
        (dict(x=[1.0, float("nan")], y=[0.0, 1.0]), "finite"),
        (dict(x=[1.0, 2.0], y=[0.0, 1.0], first=2), "between 1 and 2"),
        (dict(x=[1.0, 2.0], y=[0.0, 1.0], steps=0), "between 1 and"),
        (dict(x=[1.0], y=[0.0], sequence_loss="middle"), "unknown sequence loss"),
    ]
    for kwargs, words in cases:
        with pytest.raises(StepThroughError, match=words.replace("(", r"\(").replace(")", r"\)")):
            walkthrough_over_time(net, loss="mse", **kwargs)
    big = layered([1, MAX_NEURONS, 1])
    with pytest.raises(StepThroughError, match=f"up to {MAX_NEURONS} neurons"):
        walkthrough_over_time(big, [1.0], [0.0], "mse")
