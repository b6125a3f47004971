"""The vectorised engine against a naive one-neuron-at-a-time implementation, plus masks,
parameter packing, dropout and numerically extreme losses."""
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.activations import ACTIVATIONS
from core.engine import (backward, check_loss, compile_plan, forward, loss_and_gradients,
                         loss_and_output_grad, mask_frozen, predict)
from core.losses import LOSSES, softmax
from core.network import Network
from tests.core.strategies import build_dag, naive_activations, random_dag


def naive_forward(net, x_row):
    value = naive_activations(net, x_row)
    return [value[o.id] for o in net.outputs]


@settings(max_examples=30, deadline=None)
@given(random_dag(), st.integers(0, 100))
def test_forward_matches_a_naive_per_neuron_walk(net, seed):
    x = np.random.default_rng(seed).normal(size=(4, len(net.inputs)))
    plan = compile_plan(net)
    got = predict(plan, plan.pack(net), x)
    expected = np.array([naive_forward(net, row) for row in x])
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)


def test_pack_unpack_flatten_round_trips():
    net = build_dag(5, 3, 6, 2)
    plan = compile_plan(net)
    params = plan.pack(net)
    weights, biases = plan.unpack(params)
    assert weights == {e.id: e.weight for e in net.edges.values()}
    assert biases == {n.id: n.bias for n in net.neurons.values() if n.role != "input"}
    theta = plan.flatten(params)
    assert len(theta) == plan.n_parameters == len(plan.parameter_names())
    np.testing.assert_array_equal(plan.flatten(plan.unflatten(theta)), theta)


def test_mask_frozen_zeroes_frozen_and_absent_entries():
    net = build_dag(2, 2, 4, 1, density=0.5)
    frozen = next(iter(net.edges))
    net.set_edge_frozen(frozen, True)
    hidden = [n.id for n in net.neurons.values() if n.role == "hidden"][0]
    net.set_frozen(hidden, True)
    plan = compile_plan(net)
    rng = np.random.default_rng(0)
    _, grads = loss_and_gradients(plan, plan.pack(net), rng.normal(size=(5, 2)),
                                  rng.normal(size=(5, 1)), "mse")
    mask_frozen(plan, grads)
    g = dict(zip(plan.edge_ids, plan.edge_vector(grads.weights)))
    assert g[frozen] == 0.0
    assert grads.biases[plan.row[hidden]] == 0.0
    total = sum(float(np.abs(w).sum()) for w in grads.weights)
    assert total == pytest.approx(sum(abs(v) for v in g.values()))  # nothing off the edges


def test_dropout_zero_is_no_dropout_and_backward_uses_the_same_mask():
    net = build_dag(7, 2, 6, 1, output_activation="identity")
    plan = compile_plan(net)
    params = plan.pack(net)
    x = np.random.default_rng(1).normal(size=(50, 2))
    np.testing.assert_array_equal(forward(plan, params, x, 0.0).a, forward(plan, params, x).a)
    y = np.zeros((50, 1))

    def loss_with_mask(theta):
        rng = np.random.default_rng(42)  # the same mask each call
        return loss_and_gradients(plan, plan.unflatten(theta), x, y, "mse", 0.5, rng)

    theta = plan.flatten(params)
    _, grads = loss_with_mask(theta)
    analytic = np.concatenate([plan.edge_vector(grads.weights), grads.biases[plan.bias_rows]])
    eps = 1e-6
    for k in range(theta.size):
        up, down = theta.copy(), theta.copy()
        up[k] += eps
        down[k] -= eps
        numeric = (loss_with_mask(up)[0] - loss_with_mask(down)[0]) / (2 * eps)
        assert analytic[k] == pytest.approx(numeric, rel=1e-5, abs=1e-8)


def test_dropout_keeps_the_expected_activation():
    net = Network()
    i = net.add_neuron("input").id
    h = net.add_neuron("hidden", "identity").id
    o = net.add_neuron("output", "identity").id
    net.connect(i, h, 1.0)
    net.connect(h, o, 1.0)
    plan = compile_plan(net)
    x = np.ones((20000, 1))
    a = forward(plan, plan.pack(net), x, 0.3, np.random.default_rng(0)).a[plan.row[h]]
    assert set(np.round(np.unique(a), 6)) == {0.0, round(1 / 0.7, 6)}
    assert a.mean() == pytest.approx(1.0, abs=0.02)


@pytest.mark.parametrize("z", [1000.0, -1000.0])
def test_stable_losses_at_huge_logits(z):
    zz = np.array([[z, -z]])
    bce = LOSSES["bce"].compute(zz, 1 / (1 + np.exp(-np.clip(zz, -500, 500))), np.array([[0.0, 0.0]]))
    assert math.isfinite(bce.value)
    expected = (max(z, 0.0) + max(-z, 0.0)) / 2  # -ln(1 - s(z)) = softplus(z), averaged
    assert bce.value == pytest.approx(expected)
    np.testing.assert_allclose(bce.grad, (np.array([[z > 0, -z > 0]], float)) / 2)
    ce = LOSSES["softmax_ce"].compute(zz, zz, np.array([[0.0, 1.0]]))
    assert ce.value == pytest.approx(max(0.0, 2 * z))
    np.testing.assert_allclose(ce.grad, softmax(zz) - [[0.0, 1.0]])


def test_loss_checks_name_the_problem():
    net = build_dag(1, 2, 2, 1, output_activation="tanh")
    plan = compile_plan(net)
    assert "sigmoid" in check_loss(plan, net, "bce") and net.outputs[0].id in check_loss(plan, net, "bce")
    assert "two output" in check_loss(plan, net, "softmax_ce")
    assert check_loss(plan, net, "mse") is None


def test_per_sample_quantities_for_inspection():
    """backward exposes delta = dL/dz per neuron for each sample (what step-through shows)."""
    net = build_dag(9, 2, 3, 1, output_activation="identity")
    plan = compile_plan(net)
    params = plan.pack(net)
    x, y = np.array([[0.3, -0.8]]), np.array([[0.5]])
    fwd = forward(plan, params, x)
    back = backward(plan, params, fwd, loss_and_output_grad(plan, fwd, y, "mse"))
    out = plan.output_rows[0]
    assert back.delta[out - plan.n_inputs, 0] == pytest.approx(2 * (fwd.a[out, 0] - 0.5))


def test_inspect_sample_against_the_chain_rule_by_hand():
    """x -> w1 -> tanh -> w2 -> identity, mse, one sample: every number from the textbook."""
    from core.engine import inspect_sample

    net = Network()
    x_id = net.add_neuron("input").id
    h = net.add_neuron("hidden", "tanh", bias=0.1).id
    o = net.add_neuron("output", "identity", bias=-0.2).id
    e1 = net.connect(x_id, h, 0.8).id
    e2 = net.connect(h, o, 1.5).id
    plan = compile_plan(net)
    loss, neurons, grads = inspect_sample(plan, plan.pack(net), [0.5], [0.3], "mse")
    z1 = 0.8 * 0.5 + 0.1
    a1 = math.tanh(z1)
    z2 = 1.5 * a1 - 0.2
    d2 = 2 * (z2 - 0.3)  # dL/dz2, identity output
    d1 = d2 * 1.5 * (1 - a1 * a1)
    assert loss == pytest.approx((z2 - 0.3) ** 2)
    assert neurons[h].net_input == pytest.approx(z1) and neurons[h].activation == pytest.approx(a1)
    assert neurons[h].derivative == pytest.approx(1 - a1 * a1)
    assert neurons[o].delta == pytest.approx(d2) and neurons[h].delta == pytest.approx(d1)
    assert grads[e2] == pytest.approx(d2 * a1) and grads[e1] == pytest.approx(d1 * 0.5)
    assert neurons[x_id].activation == 0.5 and neurons[x_id].delta == 0.0


@pytest.mark.parametrize("hidden", sorted(ACTIVATIONS))
@pytest.mark.parametrize("loss, output", [("mse", "identity"), ("bce", "sigmoid"),
                                          ("softmax_ce", "identity"), ("huber", "tanh"),
                                          *(("mse", a) for a in sorted(ACTIVATIONS)
                                            if a != "identity")])
def test_layered_fast_path_equals_the_general_path(hidden, loss, output):
    from core.engine import backward as general_backward
    from core.templates import layered

    net = layered([3, 5, 4, 2], hidden=hidden, output=output)
    rng = np.random.default_rng(1)
    net.set_values({e: float(rng.normal()) for e in net.edges},
                   {n: float(rng.normal()) for n in net.neurons})
    plan = compile_plan(net)
    assert plan.chain
    params = plan.pack(net)
    x = rng.normal(size=(6, 3))
    y = np.eye(2)[rng.integers(0, 2, 6)] if loss != "mse" else rng.normal(size=(6, 2))
    fast_loss, fast = loss_and_gradients(plan, params, x, y, loss)
    fwd = forward(plan, params, x)
    result = loss_and_output_grad(plan, fwd, y, loss)
    slow = general_backward(plan, params, fwd, result).grads
    assert fast_loss == pytest.approx(result.value, rel=1e-12)
    for a, b in zip(fast.arrays(), slow.arrays()):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-13)
    skip = build_dag(3, 2, 3, 1)
    assert not compile_plan(skip).chain  # skip connections take the general path


def test_plan_for_compiles_once_per_structure_version():
    from core.engine import compile_plan, plan_for
    from core.templates import layered

    net = layered([2, 3, 1])
    first = plan_for(net)
    assert plan_for(net) is first  # weights are not part of a plan
    net.set_weight(next(iter(net.edges)), 0.5)
    assert plan_for(net) is first
    hidden = [n.id for n in net.neurons.values() if n.role == "hidden"][0]
    net.set_activation(hidden, "relu")  # structure: a new plan, equal to a fresh compile
    again = plan_for(net)
    assert again is not first
    assert again.order == compile_plan(net).order and again.n_parameters == first.n_parameters
    assert net.copy().__dict__.get("_compiled") is None  # copies (sent to the process) carry none


def _plane_case(net, seed):
    rng = np.random.default_rng(seed)
    plan = compile_plan(net)
    theta = plan.flatten(plan.pack(net))
    d1, d2 = rng.normal(size=(2, theta.size)) * 0.5
    alphas, betas = rng.uniform(-1.5, 1.5, size=(2, 9))
    alphas[0] = betas[0] = 0.0  # the centre itself
    x = rng.normal(size=(7, plan.n_inputs))
    return plan, theta, d1, d2, alphas, betas, x


def _hold_plane_forward_to_forward(net, seed, exact=False):
    from core.engine.stacked import PlaneForward

    plan, theta, d1, d2, alphas, betas, x = _plane_case(net, seed)
    if exact:  # two parameters move, the rest is computed once (the fixed neurons)
        i, j = np.random.default_rng(seed).choice(theta.size, 2, replace=False)
        d1, d2 = np.eye(theta.size)[i], np.eye(theta.size)[j]
    z, a = PlaneForward(plan, theta, d1, d2, x).outputs(alphas, betas)
    assert z.shape == a.shape == (alphas.size, len(plan.output_rows), len(x))
    for k, (al, be) in enumerate(zip(alphas, betas)):
        z_ref, a_ref = forward(plan, plan.unflatten(theta + al * d1 + be * d2), x).outputs(plan)
        np.testing.assert_allclose(z[k].T, z_ref, rtol=1e-10, atol=1e-10)
        np.testing.assert_allclose(a[k].T, a_ref, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("activation", sorted(ACTIVATIONS))
def test_the_plane_forward_is_the_forward_at_every_point(activation):
    """The surface's many-points forward pass against forward() at each point's parameters, on
    a DAG with skip connections and fan-out, every computed neuron on one activation."""
    from tests.core.strategies import dag_with_skips

    net = dag_with_skips()
    for n in list(net.neurons.values()):
        if n.role != "input":
            net.set_activation(n.id, activation)
    _hold_plane_forward_to_forward(net, 0)
    for seed in range(6):
        _hold_plane_forward_to_forward(net, seed, exact=True)


@settings(max_examples=40, deadline=None)
@given(random_dag(), st.integers(0, 100))
def test_the_plane_forward_is_the_forward_on_random_dags(net, seed):
    _hold_plane_forward_to_forward(net, seed)


@settings(max_examples=40, deadline=None)
@given(random_dag(), st.integers(0, 100))
def test_the_plane_forward_is_the_forward_on_random_dags_when_two_parameters_move(net, seed):
    _hold_plane_forward_to_forward(net, seed, exact=True)


EXTREMES = [0.0, -0.0, 1e-30, -1e-30, 0.5, -3.0, 20.0, -40.0, 700.0, -750.0, 1e300, -1e300]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_in_place_activation_forms_give_f_and_df_bit_for_bit(name, dtype):
    """Training steps use the in-place forms (no new arrays); everything else f and df."""
    act = ACTIVATIONS[name]
    rng = np.random.default_rng(0)
    with np.errstate(over="ignore", invalid="ignore"):
        z = np.concatenate([np.array(EXTREMES), rng.normal(size=60) * 4]).astype(dtype)
        z = z.reshape(6, 12)
        a = act.f(z)
        if act.inplace is not None:
            np.testing.assert_array_equal(act.inplace(z.copy()), a)
        if act.from_output_into is not None:
            out = np.full_like(z, np.nan)
            np.testing.assert_array_equal(act.from_output_into(a, out), act.df(z, a))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name", [n for n in sorted(LOSSES) if LOSSES[n].into is not None])
def test_in_place_loss_forms_give_compute_bit_for_bit(name, dtype):
    """The loss's in-place form against its compute: value, gradient and the gradient's
    memory layout, for outputs and targets in either memory order and sums long enough for
    NumPy's pairwise summation (whose order depends on the layout)."""
    from core.losses import LossWork

    entry = LOSSES[name]
    for b, k in ((1, 1), (10, 1), (32, 10), (300, 3), (64, 130)):
        rng = np.random.default_rng(b * k)
        for outputs_f, targets_f in ((True, False), (True, True), (False, False), (False, True)):
            order = (lambda m, f: np.asfortranarray(m) if f else np.ascontiguousarray(m))
            z = order((rng.normal(size=(b, k)) * 30).astype(dtype), outputs_f)
            a = order(ACTIVATIONS["sigmoid"].f(z), outputs_f) if name == "bce" else z
            y = (np.eye(k)[rng.integers(0, k, b)] if name == "softmax_ce" else
                 (rng.random((b, k)) > 0.5) if name == "bce" else rng.normal(size=(b, k)))
            y = order(y.astype(dtype), targets_f)
            expected = entry.compute(z, a, y)
            work = LossWork.like(a, y)
            work.grad.fill(np.nan)
            got = entry.into(z, a, y, work)
            assert got.value == expected.value and got.wrt_net == expected.wrt_net
            np.testing.assert_array_equal(got.grad, expected.grad)
            assert got.grad.strides == expected.grad.strides and got.grad.dtype == dtype


@settings(max_examples=40, deadline=None)
@given(random_dag(), st.sampled_from(["mse", "huber", "bce", "softmax_ce"]),
       st.sampled_from([np.float64, np.float32]), st.booleans(), st.integers(0, 100))
def test_a_training_step_in_reused_arrays_gives_the_numbers_of_fresh_ones(net, loss, dtype,
                                                                          dropout, seed):
    """The general path in the plan's work arrays with the in-place forms (what a training
    step runs) against new arrays, bit for bit, for several batches in a row (each call
    finds the arrays the one before left)."""
    if loss == "softmax_ce" and len(net.outputs) < 2:
        return
    for n in net.outputs:
        net.set_activation(n.id, "sigmoid" if loss == "bce" else n.activation)
    plan = compile_plan(net)
    params = plan.pack(net, dtype)
    rng = np.random.default_rng(seed)
    for b in (5, 5, 3):
        x = rng.normal(size=(b, plan.n_inputs)).astype(dtype)
        y = rng.random((b, len(net.outputs))).round().astype(dtype)
        if loss == "softmax_ce":
            y = np.eye(len(net.outputs), dtype=dtype)[rng.integers(0, len(net.outputs), b)]
        p = 0.3 if dropout else 0.0
        with np.errstate(all="ignore"):
            fwd = forward(plan, params, x, p, np.random.default_rng(seed), reuse=True)
            reused = loss_and_output_grad(plan, fwd, y, loss, reuse=True)
            grads = backward(plan, params, fwd, reused).grads
            fwd = forward(plan, params, x, p, np.random.default_rng(seed))
            result = loss_and_output_grad(plan, fwd, y, loss)
            fresh = backward(plan, params, fwd, result).grads
        np.testing.assert_array_equal(reused.value, result.value)
        for got, expected in zip(grads.arrays(), fresh.arrays()):
            np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("seed", range(4))
def test_weights_from_a_vector_by_gather_equal_a_scatter_of_every_edge(seed):
    """Full levels become their matrix by one gather (Level.dense_order); each entry must be
    its edge's weight, and a missing edge's entry zero, as a plain scatter by edge writes."""
    from core.templates import layered

    for net in (layered([5, 7, 3]), build_dag(seed, 3, 6, 2, density=0.6)):
        plan = compile_plan(net)
        w = np.random.default_rng(seed).normal(size=len(plan.edge_ids))
        for lv, got in zip(plan.levels, plan.weights_from_vector(w)):
            expected = np.zeros(lv.shape)
            for k, e in enumerate(lv.edge_pos):
                expected[lv.rows[k], lv.cols[k]] = w[e]
            np.testing.assert_array_equal(got, expected)
    # the layered net's levels are full, so they took the gather
    assert all(lv.dense_order is not None for lv in compile_plan(layered([5, 7, 3])).levels)
