"""Backpropagation through time against independent computations: finite differences on
random recurrent graphs (every loss, sequence_loss every/last, masks, dropout), truncation
against finite differences of the loss with the state entering each window held fixed
(computed by a plain per-neuron unrolling written here), and a two-step example by hand."""
import math

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from core.engine import compile_plan, loss_and_gradients
from core.engine.recurrent import (loss_columns, sequence_forward, sequence_loss,
                                   sequence_loss_and_gradients, sequence_loss_result,
                                   sequence_predict)
from core.gradcheck import DEFAULT_EPS, gradient_check
from core.losses import LOSSES
from core.network import Network
from tests.core.strategies import (naive_sequence_outputs, random_dag, random_recurrent,
                                   sequence_problems)

KINKED = {"relu", "leaky_relu", "elu"}


def kink_distances(plan, net, theta, x, y, mask, loss, kind):
    """Signed distance from its kink of every kinked quantity at every step: z of relu, leaky
    relu and elu neurons, and |a - y| - 1 of Huber's outputs."""
    sfwd = sequence_forward(plan, plan.unflatten(theta), x)
    rows = [r for r, nid in enumerate(plan.order)
            if net.neurons[nid].role != "input" and net.neurons[nid].activation in KINKED]
    parts = [sfwd.z[rows].ravel()]
    if loss == "huber":
        parts.append((np.abs(sfwd.outputs(plan)[1] - y) - 1.0).ravel())
    return np.concatenate(parts)


def clear_of_kinks(plan, net, x, y, mask, loss, kind, margin=1e-4):
    """No kinked quantity within margin of its kink, and none crossing it under any nudge the
    gradient check makes."""
    theta = plan.flatten(plan.pack(net))
    base = kink_distances(plan, net, theta, x, y, mask, loss, kind)
    if np.any(np.abs(base) <= margin):
        return False
    for k in range(theta.size):
        for offset in (-2 * DEFAULT_EPS, 2 * DEFAULT_EPS):
            nudged = theta.copy()
            nudged[k] += offset
            moved = kink_distances(plan, net, nudged, x, y, mask, loss, kind)
            if np.any(np.sign(moved) != np.sign(base)):
                return False
    return True


@settings(max_examples=80, deadline=None)
@given(sequence_problems(), st.sampled_from(["every", "last"]))
def test_bptt_equals_finite_differences_on_random_recurrent_graphs(problem, kind):
    """Several delayed edges, self-loops, outputs fed back, skip edges; every loss; both
    sequence losses; sequences of different lengths, padded."""
    loss, net, x, y, mask = problem
    plan = compile_plan(net)
    assume(clear_of_kinks(plan, net, x, y, mask, loss, kind))
    result = gradient_check(plan, plan.pack(net), x, y, loss, mask=mask, sequence_loss_kind=kind)
    assert result.names == tuple(plan.parameter_names())
    assert result.max_relative_error < 1e-6, (result.worst_parameter, result.max_relative_error)


@settings(max_examples=40, deadline=None)
@given(random_recurrent(), st.integers(0, 2**32 - 1))
def test_the_unrolled_forward_pass_is_the_unrolling_written_out(net, seed):
    rng = np.random.default_rng(seed)
    plan = compile_plan(net)
    x = rng.normal(size=(2, 5, len(net.inputs)))
    engine = sequence_predict(plan, plan.pack(net), x)
    outputs = [n.id for n in net.outputs]
    for b in range(2):
        naive = naive_sequence_outputs(net, x[b])
        expected = [[step[o] for o in outputs] for step in naive]
        np.testing.assert_allclose(engine[b], expected, rtol=1e-12, atol=1e-12)


def truncated_loss(net, x, y, mask, loss, kind, k, held_from):
    """The loss computed by the plain unrolling, with the state entering each window of k
    steps (k, 2k, ...) replaced by the outputs of `held_from`'s unrolling (the document at the
    point where the gradient is taken): a constant, so finite differences of this function
    are the truncated gradient."""
    b, t, _ = x.shape
    outputs = [n.id for n in net.outputs]
    rows = np.empty((t * b, len(outputs)))
    for s in range(b):
        fixed = naive_sequence_outputs(held_from, x[s])
        held = {w: fixed[w - 1] for w in range(k, t, k)}
        steps = naive_sequence_outputs(net, x[s], held)
        for step in range(t):
            rows[step * b + s] = [steps[step][o] for o in outputs]
    cols = loss_columns(mask, b, t, kind)
    ys = y.transpose(1, 0, 2).reshape(t * b, -1)
    if cols is not None:
        rows, ys = rows[cols], ys[cols]
    return LOSSES[loss].compute(rows, rows, ys).value  # identity outputs: z = a


@settings(max_examples=40, deadline=None)
@given(random_recurrent(output_activation="identity", max_hidden=4), st.integers(1, 3),
       st.sampled_from(["every", "last"]), st.sampled_from(["mse", "huber"]),
       st.integers(0, 2**32 - 1))
def test_truncated_bptt_is_the_gradient_with_each_windows_state_held(net, k, kind, loss, seed):
    """An implementation of truncation independent of the engine: finite differences of the
    plain unrolling in which the state entering each window is a constant."""
    assume(all(n.activation not in KINKED for n in net.neurons.values()))
    rng = np.random.default_rng(seed)
    b, t = 2, 6
    x = rng.normal(size=(b, t, len(net.inputs)))
    y = rng.normal(size=(b, t, len(net.outputs))) * 0.1
    mask = np.arange(t)[None, :] < np.array([t, t - 1])[:, None]
    plan = compile_plan(net)
    _, grads = sequence_loss_and_gradients(plan, plan.pack(net), x, y, mask, loss, kind, k)
    engine = dict(zip(plan.parameter_names(), plan.flatten(grads)))
    h = 1e-6
    for name, value in engine.items():
        numeric = []
        for offset in (h, -h):
            nudged = net.copy()
            if name.startswith("bias:"):
                nudged.set_bias(name[5:], nudged.neurons[name[5:]].bias + offset)
            else:
                nudged.set_weight(name, nudged.edges[name].weight + offset)
            numeric.append(truncated_loss(nudged, x, y, mask, loss, kind, k, net))
        estimate = (numeric[0] - numeric[1]) / (2 * h)
        assert value == pytest.approx(estimate, rel=1e-5, abs=1e-7), name


def test_truncation_changes_the_gradient_and_full_bptt_is_truncation_to_the_whole_sequence():
    net, x, y = self_loop(0.9), np.ones((1, 6, 1)), np.zeros((1, 6, 1))
    plan = compile_plan(net)
    params = plan.pack(net)
    full = plan.flatten(sequence_loss_and_gradients(plan, params, x, y, None, "mse")[1])
    longer = plan.flatten(sequence_loss_and_gradients(plan, params, x, y, None, "mse",
                                                      "every", 6)[1])
    short = plan.flatten(sequence_loss_and_gradients(plan, params, x, y, None, "mse",
                                                     "every", 2)[1])
    np.testing.assert_allclose(longer, full, rtol=1e-15)
    assert not np.allclose(short, full)


def self_loop(u, w=0.7, b=0.1, activation="tanh"):
    """One input feeding one output neuron, which feeds itself through a delay."""
    net = Network()
    x = net.add_neuron("input", label="x").id
    o = net.add_neuron("output", activation, bias=b, label="o").id
    net.connect(x, o, w, id="w")
    net.connect(o, o, u, id="u", delay=1)
    return net


@pytest.mark.parametrize("kind, k", [("every", 0), ("last", 0), ("every", 1)])
def test_two_steps_of_one_self_looping_neuron_by_hand(kind, k):
    """a1 = tanh(w x1 + b), a2 = tanh(w x2 + u a1 + b); mse over both steps (every) or the
    last; with windows of one step (k = 1) the error at step 2 does not reach step 1."""
    w, u, b, x1, x2, y1, y2 = 0.7, -1.3, 0.1, 0.5, -2.0, 0.3, 0.8
    a1 = math.tanh(w * x1 + b)
    a2 = math.tanh(w * x2 + u * a1 + b)
    if kind == "every":
        value = ((a1 - y1) ** 2 + (a2 - y2) ** 2) / 2
        dl_da2, dl_da1_own = (a2 - y2), (a1 - y1)  # d/da of the mean over two steps
    else:
        value = (a2 - y2) ** 2
        dl_da2, dl_da1_own = 2 * (a2 - y2), 0.0
    d2 = dl_da2 * (1 - a2 ** 2)  # dL/dz2
    through_time = 0.0 if k == 1 else u * d2  # dz2/da1 = u
    d1 = (dl_da1_own + through_time) * (1 - a1 ** 2)  # dL/dz1
    by_hand = {"w": d1 * x1 + d2 * x2, "u": d2 * a1, "bias:n2": d1 + d2}

    net = self_loop(u, w, b)
    plan = compile_plan(net)
    x, y = np.array([[[x1], [x2]]]), np.array([[[y1], [y2]]])
    loss, grads = sequence_loss_and_gradients(plan, plan.pack(net), x, y, None, "mse", kind, k)
    assert loss == pytest.approx(value, rel=1e-14)
    engine = dict(zip(plan.parameter_names(), plan.flatten(grads)))
    assert engine == pytest.approx(by_hand, rel=1e-12)


@settings(max_examples=30, deadline=None)
@given(random_recurrent(), st.sampled_from(["every", "last"]), st.integers(0, 2**32 - 1))
def test_padding_is_invisible_and_the_loss_averages_over_valid_steps(net, kind, seed):
    """Two sequences padded with garbage give the loss and gradient of the two run alone,
    weighted by their valid steps (every) or one each (last)."""
    rng = np.random.default_rng(seed)
    plan = compile_plan(net)
    params = plan.pack(net)
    n_in, n_out = len(net.inputs), len(net.outputs)
    short, long = rng.normal(size=(1, 3, n_in)), rng.normal(size=(1, 5, n_in))
    ys, yl = rng.normal(size=(1, 3, n_out)), rng.normal(size=(1, 5, n_out))
    x = np.concatenate([np.concatenate([short, rng.normal(size=(1, 2, n_in)) * 1e3], 1), long])
    y = np.concatenate([np.concatenate([ys, rng.normal(size=(1, 2, n_out)) * 1e3], 1), yl])
    mask = np.array([[True] * 3 + [False] * 2, [True] * 5])
    value, grads = sequence_loss_and_gradients(plan, params, x, y, mask, "mse", kind)
    alone = [sequence_loss_and_gradients(plan, params, xs, yy, None, "mse", kind)
             for xs, yy in ((short, ys), (long, yl))]
    weights = (3 / 8, 5 / 8) if kind == "every" else (0.5, 0.5)
    assert value == pytest.approx(sum(w * v for w, (v, _) in zip(weights, alone)), rel=1e-12)
    expected = sum(w * plan.flatten(g) for w, (_, g) in zip(weights, alone))
    np.testing.assert_allclose(plan.flatten(grads), expected, rtol=1e-9, atol=1e-12)


@settings(max_examples=30, deadline=None)
@given(random_dag(), st.integers(0, 2**32 - 1))
def test_a_feed_forward_net_on_sequences_is_the_feed_forward_pass_at_each_step(net, seed):
    rng = np.random.default_rng(seed)
    plan = compile_plan(net)
    params = plan.pack(net)
    x = rng.normal(size=(3, 4, len(net.inputs)))
    y = rng.normal(size=(3, 4, len(net.outputs)))
    value, grads = sequence_loss_and_gradients(plan, params, x, y, None, "mse")
    rows = x.transpose(1, 0, 2).reshape(12, -1), y.transpose(1, 0, 2).reshape(12, -1)
    ff_value, ff_grads = loss_and_gradients(plan, params, *rows, "mse")
    assert value == pytest.approx(ff_value, rel=1e-12)
    np.testing.assert_allclose(plan.flatten(grads), plan.flatten(ff_grads), rtol=1e-9,
                               atol=1e-13)


@settings(max_examples=20, deadline=None)
@given(random_recurrent(output_activation="identity"), st.integers(0, 2**32 - 1))
def test_dropout_gradients_are_those_of_the_loss_with_the_same_masks(net, seed):
    """The dropout draws depend only on the generator, not on the parameters: the loss with
    the same seed is one smooth function, whose finite differences the gradient must match."""
    assume(all(n.activation not in KINKED for n in net.neurons.values()))
    rng = np.random.default_rng(seed)
    plan = compile_plan(net)
    x = rng.normal(size=(2, 4, len(net.inputs)))
    y = rng.normal(size=(2, 4, len(net.outputs)))

    def loss_at(theta):
        sfwd = sequence_forward(plan, plan.unflatten(theta), x, 0.5, np.random.default_rng(7))
        return sequence_loss_result(plan, sfwd, y, None, "mse")[0].value

    theta = plan.flatten(plan.pack(net))
    _, grads = sequence_loss_and_gradients(plan, plan.unflatten(theta), x, y, None, "mse",
                                           dropout=0.5, rng=np.random.default_rng(7))
    h = 1e-6
    for k, value in enumerate(plan.flatten(grads)):
        up, down = theta.copy(), theta.copy()
        up[k] += h
        down[k] -= h
        assert value == pytest.approx((loss_at(up) - loss_at(down)) / (2 * h), rel=1e-5,
                                      abs=1e-7)


def test_bad_batches_are_refused_with_what_was_expected():
    net = self_loop(0.5)
    plan = compile_plan(net)
    params = plan.pack(net)
    with pytest.raises(ValueError, match=r"shape \(sequences, steps, 1\)"):
        sequence_loss(plan, params, np.zeros((2, 1)), np.zeros((2, 1)), None, "mse")
    with pytest.raises(ValueError, match=r"targets of shape \(2, 3, 1\)"):
        sequence_loss(plan, params, np.zeros((2, 3, 1)), np.zeros((2, 3)), None, "mse")
    with pytest.raises(ValueError, match="every step is masked"):
        sequence_loss(plan, params, np.zeros((2, 3, 1)), np.zeros((2, 3, 1)),
                      np.zeros((2, 3), bool), "mse")
    with pytest.raises(ValueError, match="unknown sequence loss 'first'"):
        sequence_loss(plan, params, np.zeros((2, 3, 1)), np.zeros((2, 3, 1)), None, "mse",
                      "first")
    with pytest.raises(ValueError, match="learns from sequences"):
        loss_and_gradients(plan, params, np.zeros((2, 1)), np.zeros((2, 1)), "mse")


def test_only_the_levels_a_later_step_reads_go_step_by_step():
    """An Elman net steps its hidden level alone (its product with the inputs made for all
    steps at once); its output level, read by no later step, runs once over all columns, as
    does every level of a feed-forward net and of a net whose delays read only inputs."""
    from core.engine.recurrent import schedule
    net = self_loop(0.5)  # the output feeds itself: everything steps
    assert schedule(compile_plan(net)) == (1, (True,))
    elman = Network()
    x = elman.add_neuron("input").id
    h = elman.add_neuron("hidden", "tanh").id
    y = elman.add_neuron("output", "identity").id
    elman.connect(x, h, 1.0)
    elman.connect(h, y, 1.0)
    assert schedule(compile_plan(elman)) == (0, (False, False))
    elman.connect(x, y, 0.5, delay=1)
    assert schedule(compile_plan(elman)) == (0, (False, False))
    elman.connect(h, h, 0.5, delay=1)
    assert schedule(compile_plan(elman)) == (1, (True, False))
