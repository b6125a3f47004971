"""Each optimiser against its textbook rule evaluated by hand; schedules, clipping, penalties,
max-norm and initialisers."""
import math

import numpy as np
import pytest

from core.initializers import draw_weight, draw_weights, initialize, wiring_weight
from core.network import Network
from core.optimizers import clip_gradients, learning_rate, make_optimizer
from core.regularization import add_penalty_gradient, apply_max_norm, penalty
from core.settings import TrainingSettings
from tests.core.strategies import build_dag

G = [0.5, -1.0, 2.0]  # gradients of three successive steps, for a single parameter


def run(name, lr=0.1, **kw):
    opt = make_optimizer(TrainingSettings(optimizer=name, **kw))
    p = [np.array([1.0])]
    out = []
    for g in G:
        opt.step(p, [np.array([g])], lr)
        out.append(float(p[0][0]))
    return out


def hand(rule):
    p, state, out = 1.0, {}, []
    for t, g in enumerate(G, 1):
        p = rule(p, g, t, state)
        out.append(p)
    return out


def test_sgd():
    assert run("sgd") == pytest.approx(hand(lambda p, g, t, s: p - 0.1 * g))


def test_momentum():
    def rule(p, g, t, s):
        s["v"] = 0.9 * s.get("v", 0.0) - 0.1 * g
        return p + s["v"]
    assert run("momentum", momentum=0.9) == pytest.approx(hand(rule))


def test_nesterov_is_the_look_ahead_rule():
    # Sutskever's form: v' = mu v - lr g(p + mu v) taken at the look-ahead point; with the
    # variable phi = p + mu v that the optimiser stores, the update reads as below.
    def rule(phi, g, t, s):
        v = s.get("v", 0.0)
        v_new = 0.9 * v - 0.1 * g
        s["v"] = v_new
        return phi - 0.9 * v + 1.9 * v_new
    assert run("nesterov", momentum=0.9) == pytest.approx(hand(rule))


def test_adagrad_rmsprop_adam():
    def adagrad(p, g, t, s):
        s["G"] = s.get("G", 0.0) + g * g
        return p - 0.1 * g / (math.sqrt(s["G"]) + 1e-8)

    def rmsprop(p, g, t, s):
        s["E"] = 0.9 * s.get("E", 0.0) + 0.1 * g * g
        return p - 0.1 * g / (math.sqrt(s["E"]) + 1e-8)

    def adam(p, g, t, s):
        s["m"] = 0.9 * s.get("m", 0.0) + 0.1 * g
        s["v"] = 0.999 * s.get("v", 0.0) + 0.001 * g * g
        m_hat, v_hat = s["m"] / (1 - 0.9**t), s["v"] / (1 - 0.999**t)
        return p - 0.1 * m_hat / (math.sqrt(v_hat) + 1e-8)

    assert run("adagrad") == pytest.approx(hand(adagrad))
    assert run("rmsprop", rho=0.9) == pytest.approx(hand(rmsprop))
    assert run("adam") == pytest.approx(hand(adam))


@pytest.mark.parametrize("name", ["sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam"])
def test_zero_gradient_never_moves_a_parameter_and_a_quadratic_is_minimised(name):
    opt = make_optimizer(TrainingSettings(optimizer=name))
    p = [np.array([3.0, -2.0, 7.0])]
    for _ in range(500):
        g = 2 * p[0] * np.array([1.0, 1.0, 0.0])  # the third entry is "frozen"
        opt.step(p, [g], 0.5 if name == "adagrad" else 0.05)  # adagrad's steps shrink
    assert p[0][2] == 7.0
    assert np.abs(p[0][:2]).max() < 0.1


def test_schedules():
    s = dict(learning_rate=1.0, decay_rate=0.5, decay_steps=10)
    assert learning_rate(TrainingSettings(decay="step", **s), 25, 0) == 0.25
    assert learning_rate(TrainingSettings(decay="exponential", **s), 5, 0) == pytest.approx(0.5**0.5)
    assert learning_rate(TrainingSettings(decay="inverse_time", **s), 20, 0) == pytest.approx(0.5)
    assert learning_rate(TrainingSettings(**s), 1000, 0) == 1.0


def test_clipping():
    g = [np.array([3.0, -4.0]), np.array([12.0])]
    assert clip_gradients(g, clip_norm=6.5, clip_value=0) == pytest.approx(13.0)
    np.testing.assert_allclose(np.concatenate(g), np.array([3, -4, 12]) * 0.5)
    g = [np.array([3.0, -4.0])]
    clip_gradients(g, 0, clip_value=3.5)
    assert g[0].tolist() == [3.0, -3.5]


def test_penalty_gradient_matches_finite_differences():
    rng = np.random.default_rng(0)
    w = [rng.normal(size=(3, 4)), rng.normal(size=(2, 3))]
    grads = [np.zeros_like(a) for a in w]
    add_penalty_gradient(w, grads, 0.3, 0.7)
    eps = 1e-6
    for k, a in enumerate(w):
        for idx in np.ndindex(a.shape):
            up = [b.copy() for b in w]
            down = [b.copy() for b in w]
            up[k][idx] += eps
            down[k][idx] -= eps
            numeric = (penalty(up, 0.3, 0.7) - penalty(down, 0.3, 0.7)) / (2 * eps)
            assert grads[k][idx] == pytest.approx(numeric, rel=1e-6)


def test_max_norm_caps_each_neurons_incoming_weights():
    w = [np.array([[3.0, 4.0], [0.3, 0.4]])]
    apply_max_norm(w, 2.0, [None])
    np.testing.assert_allclose(w[0], [[1.2, 1.6], [0.3, 0.4]])
    w = [np.array([[3.0, 4.0]])]
    apply_max_norm(w, 2.0, [np.array([[1.0, 0.0]])])  # the second weight is frozen
    assert w[0][0, 1] == 4.0 and w[0][0, 0] == pytest.approx(3.0 * 2 / 5)


@pytest.mark.parametrize("name, variance", [
    ("normal", lambda fi, fo: 1.0), ("xavier_uniform", lambda fi, fo: 2 / (fi + fo)),
    ("xavier_normal", lambda fi, fo: 2 / (fi + fo)), ("he", lambda fi, fo: 2 / fi),
    ("lecun", lambda fi, fo: 1 / fi), ("uniform", lambda fi, fo: 0.1 ** 2 / 3)])
def test_initialiser_variances(name, variance):
    fi, fo = np.full(200_000, 8.0), np.full(200_000, 4.0)
    w = draw_weights(name, fi, fo, np.random.default_rng(0))
    assert w.var() == pytest.approx(variance(8, 4), rel=0.02) and abs(w.mean()) < 0.01


def test_uniform_stays_within_the_constant_whatever_the_fans():
    w = draw_weights("uniform", np.array([1.0, 1.0, 50.0]), np.array([1.0, 9.0, 50.0]),
                     np.random.default_rng(0), constant=0.3)
    assert np.all(np.abs(w) <= 0.3) and len(set(w.tolist())) == 3


def test_a_wired_edge_is_drawn_with_the_fans_it_will_have():
    """As the canvas wires: the first edge into a neuron has fan-in 1, the second 2."""
    net = Network()
    a, b, out = net.add_neuron("input").id, net.add_neuron("input").id, net.add_neuron("output").id
    first = wiring_weight(net, a, out, "xavier_uniform", np.random.default_rng(4))
    assert first == draw_weight("xavier_uniform", 1, 1, np.random.default_rng(4))
    net.connect(a, out, first)
    second = wiring_weight(net, b, out, "xavier_uniform", np.random.default_rng(4))
    assert second == draw_weight("xavier_uniform", 2, 1, np.random.default_rng(4))


def test_initialize_is_deterministic_skips_frozen_and_uses_graph_fans():
    net = build_dag(4, 2, 4, 1)
    frozen = next(iter(net.edges))
    net.set_edge_frozen(frozen, True)
    a = initialize(net, "xavier_uniform", seed=5)
    assert a == initialize(net, "xavier_uniform", seed=5)
    assert a != initialize(net, "xavier_uniform", seed=6)
    assert frozen not in a[0] and set(a[1]) == {n.id for n in net.neurons.values() if n.role != "input"}
    for eid, w in a[0].items():
        e = net.edges[eid]
        fi, fo = len(net.incoming(e.target)), len(net.outgoing(e.source))
        assert abs(w) <= math.sqrt(6 / (fi + fo))
    assert initialize(net, "constant", 0, 0.3)[1] == {n: 0.3 for n in a[1]}
