"""Backprop against central finite differences on random DAGs, every loss, batch 1 and many;
the two-weight chain worked by hand; the check itself catches wrong gradients and bad input."""
import math

import numpy as np
import pytest
from hypothesis import assume, given, settings

import core.gradcheck as gc
from core.engine import compile_plan, forward, loss_and_gradients
from core.gradcheck import DEFAULT_EPS, GradCheckError, check_network, gradient_check
from core.network import Network, NetworkError
from tests.core.strategies import problems

KINKED = {"relu", "leaky_relu", "elu"}


def kink_distances(plan, net, theta, x, y, loss):
    """Signed distance of every kinked quantity from its kink: z of relu/leaky/elu neurons,
    and |a - y| - 1 for Huber."""
    fwd = forward(plan, plan.unflatten(theta), x)
    rows = [r for r, nid in enumerate(plan.order)
            if net.neurons[nid].role != "input" and net.neurons[nid].activation in KINKED]
    parts = [fwd.z[rows].ravel()]
    if loss == "huber":
        parts.append((np.abs(fwd.outputs(plan)[1] - y) - 1.0).ravel())
    return np.concatenate(parts)


def clear_of_kinks(plan, net, x, y, loss, margin=1e-4):
    """True if every kinked quantity is further than margin from its kink and no nudge of the
    gradient check (+-2 eps on any one parameter) moves it across."""
    theta = plan.flatten(plan.pack(net))
    base = kink_distances(plan, net, theta, x, y, loss)
    if np.any(np.abs(base) <= margin):
        return False
    for k in range(theta.size):
        for offset in (-2 * DEFAULT_EPS, 2 * DEFAULT_EPS):
            nudged = theta.copy()
            nudged[k] += offset
            if np.any(np.sign(kink_distances(plan, net, nudged, x, y, loss)) != np.sign(base)):
                return False
    return True


@settings(max_examples=60, deadline=None)
@given(problems())
def test_backprop_equals_finite_differences_on_random_dags(problem):
    loss, net, x, y = problem
    plan = compile_plan(net)
    assume(clear_of_kinks(plan, net, x, y, loss))
    result = gradient_check(plan, plan.pack(net), x, y, loss)
    assert result.names == tuple(plan.parameter_names())  # every weight and bias was checked
    assert result.analytic.shape == result.numeric.shape == (plan.n_parameters,)
    assert result.max_relative_error < 1e-6, (result.worst_parameter, result.max_relative_error)


def sigmoid(v):
    return 1 / (1 + math.exp(-v))


def test_two_weight_chain_by_hand():
    """x -> w1 -> sigmoid (bias b1) -> w2 -> sigmoid (bias b2), L = (a2 - t)^2, one sample."""
    w1, b1, w2, b2, x, t = 0.5, 0.1, -1.2, 0.3, 1.5, 0.25
    net = Network()
    x_id = net.add_neuron("input").id
    h = net.add_neuron("hidden", "sigmoid", bias=b1).id
    o = net.add_neuron("output", "sigmoid", bias=b2).id
    e1 = net.connect(x_id, h, w1).id
    e2 = net.connect(h, o, w2).id
    a1 = sigmoid(w1 * x + b1)
    a2 = sigmoid(w2 * a1 + b2)
    delta2 = 2 * (a2 - t) * a2 * (1 - a2)  # dL/dz2 = dL/da2 * sigmoid'(z2)
    delta1 = delta2 * w2 * a1 * (1 - a1)  # dL/dz1 = dL/dz2 * dz2/da1 * sigmoid'(z1)
    by_hand = {e1: delta1 * x, e2: delta2 * a1, f"bias:{h}": delta1, f"bias:{o}": delta2}

    plan = compile_plan(net)
    loss, grads = loss_and_gradients(plan, plan.pack(net), [[x]], [[t]], "mse")
    assert loss == pytest.approx((a2 - t) ** 2, rel=1e-14)
    engine = dict(zip(plan.parameter_names(), plan.flatten(grads)))
    result = check_network(net, [[x]], [[t]], "mse")
    numeric = dict(zip(result.names, result.numeric))
    for name, value in by_hand.items():
        assert engine[name] == pytest.approx(value, rel=1e-12), name
        assert numeric[name] == pytest.approx(value, rel=1e-9), name
    assert result.max_relative_error < 1e-9


def one_neuron():
    net = Network()
    i = net.add_neuron("input").id
    o = net.add_neuron("output", "tanh", bias=0.2).id
    net.connect(i, o, 0.3)
    return net, o


def skew(monkeypatch, change):
    real = gc.loss_and_gradients

    def skewed(plan, params, x, y, loss):
        value, grads = real(plan, params, x, y, loss)
        change(grads)
        return value, grads

    monkeypatch.setattr(gc, "loss_and_gradients", skewed)


def test_a_wrong_gradient_is_reported_with_its_size_and_name(monkeypatch):
    net, o = one_neuron()
    skew(monkeypatch, lambda grads: grads.biases.__imul__(1.5))
    result = check_network(net, [[0.7]], [[0.1]], "mse")
    # |1.5 g - g| / (1.5 |g| + |g|) = 0.5 / 2.5 for the bias; the weight is untouched.
    assert result.max_relative_error == pytest.approx(0.2, rel=1e-6)
    assert result.worst_parameter == f"bias:{o}"
    assert result.relative_error[0] < 1e-9


def test_the_floor_forgives_rounding_noise_but_not_a_small_real_error(monkeypatch):
    # A saturated sigmoid upstream: dL/dw1 ~ 1e-13, where the numeric estimate is mostly noise.
    net = Network()
    i = net.add_neuron("input").id
    h = net.add_neuron("hidden", "sigmoid", bias=30.0).id
    o = net.add_neuron("output", "identity").id
    e1 = net.connect(i, h, 0.5).id
    net.connect(h, o, 2.0)
    x, y = [[1.0], [-0.5]], [[0.3], [1.7]]
    result = check_network(net, x, y, "mse")
    k = result.names.index(e1)
    assert 0 < abs(result.analytic[k]) < 1e-11
    assert result.max_relative_error < 1e-6
    # ... yet an error of 1e-9 on that same tiny gradient is still caught.
    skew(monkeypatch, lambda grads: grads.weights[0].__iadd__(1e-9))
    assert check_network(net, x, y, "mse").max_relative_error > 1e-5


def test_a_relu_sitting_on_its_kink_is_flagged_as_documented():
    net = Network()
    i = net.add_neuron("input").id
    h = net.add_neuron("hidden", "relu", bias=-1.0).id
    o = net.add_neuron("output", "identity").id
    net.connect(i, h, 1.0)
    net.connect(h, o, 1.0)
    result = check_network(net, [[1.0]], [[3.0]], "mse")  # z of h is exactly 0
    assert result.max_relative_error > 0.1


@pytest.mark.parametrize("call, message", [
    (lambda p, n: gradient_check(p, n, [[1.0]], [[0.0]], "hinge"), "unknown loss 'hinge'"),
    (lambda p, n: gradient_check(p, n, [[1.0, 2.0]], [[0.0]], "mse"), "shape (samples, 1)"),
    (lambda p, n: gradient_check(p, n, [1.0], [[0.0]], "mse"), "shape (samples, 1)"),
    (lambda p, n: gradient_check(p, n, np.zeros((0, 1)), np.zeros((0, 1)), "mse"),
     "at least one sample"),
    (lambda p, n: gradient_check(p, n, [[1.0], [2.0]], [[0.0]], "mse"), "targets must have "
                                                                       "shape (2, 1)"),
    (lambda p, n: gradient_check(p, n, [[math.nan]], [[0.0]], "mse"), "finite"),
    (lambda p, n: gradient_check(p, n, [["a"]], [[0.0]], "mse"), "arrays of numbers"),
    (lambda p, n: gradient_check(p, n, [[1.0]], [[0.0]], "mse", eps=0), "step"),
    (lambda p, n: gradient_check(p, n, [[1.0]], [[0.0]], "mse", eps=math.nan), "step"),
    (lambda p, n: gradient_check(p, n, [[1.0]], [[0.0]], "mse", eps="big"), "step"),
])
def test_bad_input_gets_a_message(call, message):
    net, _ = one_neuron()
    plan = compile_plan(net)
    with pytest.raises(GradCheckError) as info:
        call(plan, plan.pack(net))
    assert message in str(info.value)


def test_parameters_of_another_plan_and_unusable_networks_are_refused():
    net, o = one_neuron()
    other = net.copy()
    other.add_neuron("hidden")
    other.connect("n1", "n3")
    with pytest.raises(GradCheckError, match="not packed for this network"):
        gradient_check(compile_plan(net), compile_plan(other).pack(other), [[1.0]], [[0.0]], "mse")
    with pytest.raises(GradCheckError, match="needs sigmoid outputs"):
        check_network(net, [[1.0]], [[0.0]], "bce")
    lonely = Network()
    lonely.add_neuron("input")
    with pytest.raises(NetworkError, match="no output neuron"):
        check_network(lonely, [[1.0]], [[0.0]], "mse")
