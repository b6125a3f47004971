"""The loss surface: grid values against the engine's loss at those exact parameters, the PCA
plane against an independent eigen-decomposition, and the honesty figures."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.engine import compile_plan, loss_and_gradients
from core.losses import LOSSES
from core.network import Network
from core.surface import (batched_loss, exact_plane, extent, grid_losses, loss_at, pca_plane,
                          random_plane, subsample)
from tests.core.strategies import problems


def layered_net(sizes, hidden="tanh", output="sigmoid", seed=0):
    rng = np.random.default_rng(seed)
    net, previous = Network(), []
    for i, size in enumerate(sizes):
        role = "input" if i == 0 else "output" if i == len(sizes) - 1 else "hidden"
        act = "identity" if role == "input" else output if role == "output" else hidden
        layer = [net.add_neuron(role, act, bias=0.1 * rng.normal()).id for _ in range(size)]
        if previous:
            pairs = [(s, t) for t in layer for s in previous]
            net.connect_many(pairs, list(rng.normal(size=len(pairs))))
        previous = layer
    return net


@pytest.fixture
def setup():
    net = layered_net([2, 4, 3, 1])
    net.connect("n1", "n10", 0.3)  # a skip connection: the grid must follow the real graph
    plan = compile_plan(net)
    rng = np.random.default_rng(1)
    x = rng.normal(size=(30, 2))
    y = (x[:, :1] * x[:, 1:] > 0).astype(float)
    return net, plan, plan.flatten(plan.pack(net)), x, y


@pytest.mark.parametrize("kind", ["exact", "random", "pca"])
def test_grid_values_equal_the_engine_loss_at_those_parameters(setup, kind):
    net, plan, theta, x, y = setup
    rng = np.random.default_rng(2)
    if kind == "exact":
        plane = exact_plane(plan, theta, 0, plan.n_parameters - 1)
    elif kind == "random":
        plane = random_plane(plan, theta, rng)
    else:
        plane = pca_plane(theta + np.cumsum(rng.normal(size=(20, theta.size)), axis=0) * 0.1)
    alphas, betas = np.linspace(-1, 1, 7), np.linspace(-0.5, 2, 5)
    z = grid_losses(plan, plane, alphas, betas, x, y, "bce", chunk=8)
    assert z.shape == (5, 7)
    for j, b in enumerate(betas):
        for i, a in enumerate(alphas):
            point = plane.center + a * plane.d1 + b * plane.d2
            expected = loss_and_gradients(plan, plan.unflatten(point), x, y, "bce")[0]
            assert z[j, i] == pytest.approx(expected, rel=1e-12, abs=1e-12)


def test_exact_plane_moves_only_the_two_chosen_parameters(setup):
    _, plan, theta, _, _ = setup
    plane = exact_plane(plan, theta, 2, 5)
    moved = plane.point(0.7, -0.3) - theta
    assert np.flatnonzero(moved).tolist() == [2, 5]
    assert moved[2] == pytest.approx(0.7) and moved[5] == pytest.approx(-0.3)
    for label, k in zip(plane.labels, (2, 5)):  # offset from the value at slicing time
        sign = "−" if theta[k] >= 0 else "+"
        assert label == f"weight {plan.edge_ids[k]} {sign} {abs(theta[k]):.4g}"
        assert " - -" not in label and "− -" not in label


def test_pca_plane_matches_an_independent_eigen_decomposition():
    rng = np.random.default_rng(5)
    # A trajectory that mostly moves along two known directions, plus a little noise.
    u, v = rng.normal(size=12), rng.normal(size=12)
    t = np.linspace(0, 1, 40)
    thetas = np.outer(3 * t, u) + np.outer(np.sin(4 * t), v) + 0.01 * rng.normal(size=(40, 12))
    plane = pca_plane(thetas)
    d = thetas - thetas[-1]
    evals, evecs = np.linalg.eigh(d.T @ d)  # uncentred second-moment matrix, as Li et al.
    top = evecs[:, ::-1][:, :2]
    for k, direction in enumerate((plane.d1, plane.d2)):
        assert abs(direction @ top[:, k]) == pytest.approx(1.0, abs=1e-9)
    shares = evals[::-1][:2] / evals.sum()
    assert plane.explained == pytest.approx(tuple(shares))
    # Path coordinates are the projections (up to the sign an SVD may choose).
    coords = plane.coordinates(thetas)
    for k in range(2):
        expected = d @ top[:, k]
        sign = np.sign(expected @ coords[:, k])
        np.testing.assert_allclose(coords[:, k], sign * expected, atol=1e-9)
    assert f"{100 * shares[0]:.1f}%" in plane.labels[0]


def test_random_plane_is_orthonormal_and_filter_normalised_before_qr(setup):
    _, plan, theta, _, _ = setup
    plane = random_plane(plan, theta, np.random.default_rng(0))
    assert plane.d1 @ plane.d1 == pytest.approx(1) and plane.d2 @ plane.d2 == pytest.approx(1)
    assert plane.d1 @ plane.d2 == pytest.approx(0, abs=1e-12)
    n_e = len(plan.edge_ids)
    assert not plane.d1[n_e:].any() and not plane.d2[n_e:].any()  # biases stay put


def test_off_plane_fraction():
    rng = np.random.default_rng(0)
    center = rng.normal(size=6)
    d1, d2 = np.eye(6)[0], np.eye(6)[1]
    from core.surface import Plane

    plane = Plane("exact", center, d1, d2, ("a", "b"))
    assert plane.off_plane_fraction(center + 2 * d1 - d2) == 0.0
    off = center + np.array([3.0, 0, 0, 4.0, 0, 0])
    assert plane.off_plane_fraction(off) == pytest.approx(0.8)


@pytest.mark.parametrize("loss", sorted(LOSSES))
def test_batched_loss_matches_core_losses(loss):
    rng = np.random.default_rng(3)
    k, n_out, b = 4, 3, 10
    z = rng.normal(size=(k, n_out, b)) * 3
    a = 1 / (1 + np.exp(-z)) if loss == "bce" else z
    y = (rng.random((n_out, b)) > 0.5).astype(float)
    if loss == "softmax_ce":
        y = np.eye(n_out)[rng.integers(0, n_out, b)].T
    got = batched_loss(loss, z, a, y[None])
    for i in range(k):
        expected = LOSSES[loss].compute(z[i].T, a[i].T, y.T).value
        assert got[i] == pytest.approx(expected, rel=1e-12)


def test_loss_at_and_subsample(setup):
    _, plan, theta, x, y = setup
    assert loss_at(plan, theta, x, y, "bce") == pytest.approx(
        loss_and_gradients(plan, plan.unflatten(theta), x, y, "bce")[0])
    xs, ys = subsample(np.arange(1000.0)[:, None], np.arange(1000.0)[:, None], limit=50)
    assert len(xs) == 50 and np.array_equal(xs, ys)
    again = subsample(np.arange(1000.0)[:, None], np.arange(1000.0)[:, None], limit=50)[0]
    assert np.array_equal(xs, again)


def test_extent_contains_the_path_and_the_centre():
    path = np.array([[-2.0, 0.5], [1.0, 3.0]])
    a0, a1, b0, b1 = extent(None, path)
    assert a0 < -2 and a1 > 1 and b0 < 0 and b1 > 3


@pytest.mark.parametrize("kind", ["random", "exact"])
def test_float32_grid_agrees_with_float64(setup, kind):
    _, plan, theta, x, y = setup
    plane = (random_plane(plan, theta, np.random.default_rng(4)) if kind == "random"
             else exact_plane(plan, theta, 3, plan.n_parameters - 2))
    g = np.linspace(-1, 1, 9)
    exact = grid_losses(plan, plane, g, g, x, y, "bce", dtype=np.float64)
    fast = grid_losses(plan, plane, g, g, x, y, "bce", dtype=np.float32)
    np.testing.assert_allclose(fast, exact, rtol=1e-4)


@settings(max_examples=40, deadline=None)
@given(problems(sizes=(1, 9)), st.integers(0, 100), st.sampled_from(["random", "exact"]),
       st.sampled_from([5, None]))
def test_every_grid_point_is_the_engine_loss_at_that_point(problem, seed, kind, chunk):
    """Random DAGs (skip connections, every activation) and every loss, on a random plane and
    on the exact plane of two random parameters (the rest computed once), in small chunks and
    the grid's own: the grid against loss_and_gradients at each point's parameters."""
    loss, net, x, y = problem
    plan = compile_plan(net)
    theta = plan.flatten(plan.pack(net))
    rng = np.random.default_rng(seed)
    from core.surface import Plane

    if kind == "exact" and theta.size >= 2:
        i, j = rng.choice(theta.size, 2, replace=False)
        plane = exact_plane(plan, theta, int(i), int(j))
    else:
        d1, d2 = rng.normal(size=(2, theta.size))
        plane = Plane("random", theta, d1, d2, ("1", "2"))
    alphas, betas = np.linspace(-1, 1, 3), np.array([-0.7, 0.0, 0.4, 1.2])
    z = grid_losses(plan, plane, alphas, betas, x, y, loss, chunk=chunk)
    for j, b in enumerate(betas):
        for i, a in enumerate(alphas):
            expected = loss_and_gradients(plan, plan.unflatten(plane.point(a, b)), x, y, loss)[0]
            assert z[j, i] == pytest.approx(expected, rel=1e-10, abs=1e-10)
