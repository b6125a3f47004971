"""Backprop against central finite differences on random DAGs, every loss, batch 1 and many;
and the two-weight chain worked by hand."""
import math

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from core.engine import compile_plan, forward, loss_and_gradients
from core.gradcheck import gradient_check
from core.network import Network
from tests.core.strategies import random_dags

KINKED = {"relu", "leaky_relu", "elu"}


def targets(loss, rng, batch, k):
    if loss == "softmax_ce":
        return np.eye(k)[rng.integers(0, k, batch)]
    if loss == "bce":
        return (rng.random((batch, k)) > 0.5).astype(float)
    return rng.normal(size=(batch, k))


@settings(max_examples=40, deadline=None)
@given(st.sampled_from(["mse", "huber", "bce", "softmax_ce"]), st.data())
def test_backprop_equals_finite_differences_on_random_dags(loss, data):
    out_act = "sigmoid" if loss == "bce" else None
    net = data.draw(random_dags(output_activation=out_act,
                                min_outputs=2 if loss == "softmax_ce" else 1))
    batch = data.draw(st.sampled_from([1, 7]))
    rng = np.random.default_rng(data.draw(st.integers(0, 1000)))
    plan = compile_plan(net)
    x = rng.normal(size=(batch, plan.n_inputs))
    y = targets(loss, rng, batch, len(plan.output_rows))
    fwd = forward(plan, plan.pack(net), x)
    for row, nid in enumerate(plan.order):
        if net.neurons[nid].activation in KINKED and net.neurons[nid].role != "input":
            assume(np.all(np.abs(fwd.z[row]) > 1e-2))  # finite differences fail across a kink
    result = gradient_check(plan, plan.pack(net), x, y, loss)
    assert result.max_relative_error < 1e-6, (result.worst_parameter, result.max_relative_error)


def test_two_weight_chain_by_hand():
    """x -> w1 -> sigmoid -> w2 -> sigmoid, L = (a2 - t)^2 (mse over one output, one sample)."""
    net = Network()
    x_id = net.add_neuron("input").id
    h = net.add_neuron("hidden", "sigmoid", frozen=True).id
    o = net.add_neuron("output", "sigmoid", frozen=True).id
    e1 = net.connect(x_id, h, 0.5).id
    e2 = net.connect(h, o, -1.2).id
    x, t = 1.5, 0.25
    s = lambda v: 1 / (1 + math.exp(-v))  # noqa: E731
    a1 = s(0.5 * x)
    a2 = s(-1.2 * a1)
    dl_da2 = 2 * (a2 - t)
    delta2 = dl_da2 * a2 * (1 - a2)
    delta1 = delta2 * -1.2 * a1 * (1 - a1)
    plan = compile_plan(net)
    loss, grads = loss_and_gradients(plan, plan.pack(net), [[x]], [[t]], "mse")
    g = dict(zip(plan.edge_ids, plan.edge_vector(grads.weights)))
    assert loss == pytest.approx((a2 - t) ** 2)
    assert g[e2] == pytest.approx(delta2 * a1)
    assert g[e1] == pytest.approx(delta1 * x)


def test_gradient_check_reports_a_wrong_gradient(monkeypatch):
    import core.gradcheck as gc

    net = Network()
    i = net.add_neuron("input").id
    o = net.add_neuron("output", "tanh").id
    net.connect(i, o, 0.3)
    real = gc.loss_and_gradients

    def skewed(plan, params, x, y, loss):
        value, grads = real(plan, params, x, y, loss)
        grads.biases *= 1.5
        return value, grads

    monkeypatch.setattr(gc, "loss_and_gradients", skewed)
    plan = compile_plan(net)
    result = gc.gradient_check(plan, plan.pack(net), [[0.7]], [[0.1]], "mse")
    assert result.max_relative_error > 0.1 and result.worst_parameter == f"bias:{o}"
