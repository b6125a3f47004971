"""The loss surface's grid on sequences (core.engine.sequence_plane) against the engine's
sequence_loss at every point: random recurrent graphs, every loss, sequence_loss every/last,
masks; exact, PCA-like and random planes."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.engine import compile_plan
from core.engine.recurrent import sequence_loss
from core.engine.sequence_plane import SequencePlaneForward, sequence_grid_losses
from core.templates import layered
from tests.core.strategies import sequence_problems


def elman(hidden=4, seed=0):
    """layered([1, hidden, 1]) with a delayed edge from every hidden neuron to every one, and
    random weights and biases."""
    net = layered([1, hidden, 1], hidden="tanh", output="identity")
    ids = [n.id for n in net.neurons.values() if n.role == "hidden"]
    rng = np.random.default_rng(seed)
    for a in ids:
        for b in ids:
            net.connect(a, b, delay=1)
    net.set_values({e: float(rng.normal(scale=0.6)) for e in net.edges},
                   {n: float(rng.normal(scale=0.3)) for n in net.neurons
                    if net.neurons[n].role != "input"})
    return net


def engine_losses(plan, center, d1, d2, alphas, betas, x, y, mask, loss, kind):
    return np.array([sequence_loss(plan, plan.unflatten(center + a * d1 + b * d2), x, y, mask,
                                   loss, kind) for a, b in zip(alphas, betas)])


def directions(theta, rng, kind):
    if kind == "exact":
        i, j = rng.choice(theta.size, 2, replace=False)
        d1, d2 = np.zeros_like(theta), np.zeros_like(theta)
        d1[i], d2[j] = 1.0, 1.0
        return d1, d2
    q, _ = np.linalg.qr(rng.normal(size=(theta.size, 2)))
    return q[:, 0].copy(), q[:, 1].copy()


@settings(max_examples=60, deadline=None)
@given(sequence_problems(max_steps=5), st.sampled_from(["every", "last"]),
       st.sampled_from(["exact", "dense"]), st.integers(0, 2**31 - 1))
def test_grid_equals_the_engines_sequence_loss_at_every_point(problem, kind, plane, seed):
    loss, net, x, y, mask = problem
    plan = compile_plan(net)
    theta = plan.flatten(plan.pack(net))
    rng = np.random.default_rng(seed)
    d1, d2 = directions(theta, rng, plane)
    alphas, betas = rng.uniform(-1, 1, 7), rng.uniform(-1, 1, 7)
    with np.errstate(all="ignore"):
        got = sequence_grid_losses(plan, theta, d1, d2, alphas, betas, x, y, mask, loss, kind,
                                   chunk=3)
        want = engine_losses(plan, theta, d1, d2, alphas, betas, x, y, mask, loss, kind)
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("kind", ["every", "last"])
def test_an_elman_net_on_padded_sequences_in_float32_and_float64(kind):
    net = elman()
    plan = compile_plan(net)
    theta = plan.flatten(plan.pack(net))
    rng = np.random.default_rng(3)
    x = rng.normal(size=(12, 9, 1))
    y = np.concatenate([np.zeros((12, 2, 1)), x[:, :-2]], axis=1)
    mask = np.arange(9)[None, :] < rng.integers(1, 10, 12)[:, None]
    d1, d2 = directions(theta, rng, "dense")
    aa, bb = np.meshgrid(np.linspace(-1, 1, 6), np.linspace(-2, 2, 5))
    want = engine_losses(plan, theta, d1, d2, aa.ravel(), bb.ravel(), x, y, mask, "mse", kind)
    got64 = sequence_grid_losses(plan, theta, d1, d2, aa, bb, x, y, mask, "mse", kind)
    got32 = sequence_grid_losses(plan, theta, d1, d2, aa, bb, x, y, mask, "mse", kind,
                                 dtype=np.float32)
    np.testing.assert_allclose(got64, want, rtol=1e-12)
    np.testing.assert_allclose(got32, want, rtol=1e-4)
    # the mask matters: without it the padded steps' loss counts
    unmasked = sequence_grid_losses(plan, theta, d1, d2, aa, bb, x, y, None, "mse", kind)
    assert not np.allclose(unmasked, want)


def test_only_the_blocks_a_direction_moves_are_made_per_point():
    """Two chosen weights: one block moves along each direction, the others are one product
    broadcast over the points."""
    net = elman(hidden=8)
    plan = compile_plan(net)
    theta = plan.flatten(plan.pack(net))
    d1, d2 = directions(theta, np.random.default_rng(0), "exact")
    fwd = SequencePlaneForward(plan, theta, d1, d2, np.zeros((2, 3, 1)))
    moved = [k for b in (*fwd.levels, fwd.delayed) for k in b.moves]
    assert sorted(moved) == [1, 2]


def test_bad_sequences_are_refused_in_one_line():
    plan = compile_plan(elman())
    theta = plan.flatten(plan.pack(elman()))
    with pytest.raises(ValueError, match="expected sequences"):
        SequencePlaneForward(plan, theta, theta, theta, np.zeros((4, 1)))
    with pytest.raises(ValueError, match="every step is masked"):
        sequence_grid_losses(plan, theta, theta, theta, [0.0], [0.0], np.zeros((2, 3, 1)),
                             np.zeros((2, 3, 1)), np.zeros((2, 3), bool), "mse")


def test_a_feed_forward_net_on_sequences_is_the_same_net_at_every_step():
    """No delayed edges: the grid is still the engine's sequence loss (the net applied at
    every step), on a random plane that moves every weight and bias."""
    net = layered([2, 3, 2], hidden="sigmoid", output="identity")
    rng = np.random.default_rng(5)
    net.set_values({e: float(rng.normal()) for e in net.edges},
                   {n: float(rng.normal()) for n in net.neurons
                    if net.neurons[n].role != "input"})
    plan = compile_plan(net)
    theta = plan.flatten(plan.pack(net))
    x, y = rng.normal(size=(5, 4, 2)), rng.normal(size=(5, 4, 2))
    d1, d2 = directions(theta, rng, "dense")
    alphas, betas = rng.uniform(-1, 1, 9), rng.uniform(-1, 1, 9)
    for kind in ("every", "last"):
        got = sequence_grid_losses(plan, theta, d1, d2, alphas, betas, x, y, None, "mse", kind)
        want = engine_losses(plan, theta, d1, d2, alphas, betas, x, y, None, "mse", kind)
        np.testing.assert_allclose(got, want, rtol=1e-12)
