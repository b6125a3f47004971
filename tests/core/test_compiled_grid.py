"""The compiled loss grid (core.engine.compiled_grid) held to the engine's forward pass at
every grid point, as is the NumPy grid: random DAGs with every activation and loss, the
exact, PCA and random planes, one block of samples and several. Both run in float32 and the
reference in float64, so they agree to float32's accuracy (REL), not to the last bit.

Also: when it steps aside for NumPy (and says why), and the compile that marks it ready for
the window (whose worker process is tested in tests/gui/test_grid_process.py)."""
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.engine import compile_plan, compiled, compiled_grid, forward
from core.losses import LOSSES
from core.network import Network
from core.surface import Plane, exact_plane, grid_losses, pca_plane, random_plane
from tests.core.strategies import problems
from tests.core.test_surface import layered_net
from tests.registry_extras import added_entries

pytestmark = pytest.mark.skipif(compiled.numba_module() is None, reason="Numba not installed")
ROOT = Path(__file__).resolve().parents[2]
REL, ABS = 2e-4, 1e-6  # float32 through a few layers, against float64


def loss_by_forward(plan, theta, x, y, loss):
    """The mean loss at theta, from forward() and the loss's own compute (float64)."""
    z, a = forward(plan, plan.unflatten(theta), x).outputs(plan)
    return LOSSES[loss].compute(z, a, np.asarray(y, float)).value


def both_paths(plan, plane, alphas, betas, x, y, loss, monkeypatch):
    """(compiled grid, NumPy grid), both float32."""
    fast = grid_losses(plan, plane, alphas, betas, x, y, loss, dtype=np.float32)
    monkeypatch.setenv(compiled.ENGINE_VARIABLE, "numpy")
    slow = grid_losses(plan, plane, alphas, betas, x, y, loss, dtype=np.float32)
    monkeypatch.delenv(compiled.ENGINE_VARIABLE)
    return fast, slow


def assert_forward_at_every_point(grids, plan, plane, alphas, betas, x, y, loss):
    for j, b in enumerate(betas):
        for i, a in enumerate(alphas):
            expected = loss_by_forward(plan, plane.point(a, b), x, y, loss)
            for z in grids:
                assert z[j, i] == pytest.approx(expected, rel=REL, abs=ABS), (i, j)


def plane_of(kind, plan, theta, rng):
    if kind == "exact":
        i, j = rng.choice(theta.size, 2, replace=False)
        return exact_plane(plan, theta, int(i), int(j))
    if kind == "pca":
        return pca_plane(theta + np.cumsum(rng.normal(size=(12, theta.size)), axis=0) * 0.1)
    d1, d2 = rng.normal(size=(2, theta.size))  # biases move too, unlike random_plane's
    return Plane("random", theta, d1, d2, ("1", "2"))


@settings(max_examples=60, deadline=None)
@given(problems(sizes=(1, 9, 600)), st.integers(0, 100), st.sampled_from(["random", "exact",
                                                                          "pca"]))
def test_every_grid_point_is_the_forward_pass_at_that_point(problem, seed, kind):
    """Random DAGs (skip connections, every activation, several outputs) and every loss; 600
    samples are two blocks of 304, the second partly padding."""
    loss, net, x, y = problem
    plan = compile_plan(net)
    theta = plan.flatten(plan.pack(net))
    if theta.size < 2:
        return
    rng = np.random.default_rng(seed)
    plane = plane_of(kind, plan, theta, rng)
    assert compiled_grid.unavailable(plan, loss, np.float32) is None
    alphas, betas = np.linspace(-1, 1, 3), np.array([-0.7, 0.0, 0.4])
    with pytest.MonkeyPatch.context() as mp:
        grids = both_paths(plan, plane, alphas, betas, x, y, loss, mp)
    assert_forward_at_every_point(grids, plan, plane, alphas, betas, x, y, loss)


@pytest.mark.parametrize("kind", ["random", "exact", "pca"])
def test_the_bench_net_on_a_thousand_samples(kind, monkeypatch):
    """2-16-8-1 tanh with a sigmoid output and bce, as the window draws it: two blocks."""
    net = layered_net([2, 16, 8, 1])
    plan = compile_plan(net)
    theta = plan.flatten(plan.pack(net))
    rng = np.random.default_rng(3)
    x = rng.normal(size=(1000, 2))
    y = (x[:, :1] * x[:, 1:] > 0).astype(float)
    planes = {"random": lambda: random_plane(plan, theta, rng),
              "exact": lambda: exact_plane(plan, theta, 0, 31),  # two weights into layer 1
              "pca": lambda: plane_of("pca", plan, theta, rng)}
    plane = planes[kind]()
    g = np.linspace(-2, 2, 5)
    grids = both_paths(plan, plane, g, g, x, y, "bce", monkeypatch)
    assert_forward_at_every_point(grids, plan, plane, g, g, x, y, "bce")


def test_only_what_moves_is_computed_per_point():
    """On the exact plane of one output's bias and a weight into it, that output is the only
    row summed per point; the hidden rows are computed once."""
    net = layered_net([2, 3, 2])
    plan = compile_plan(net)
    theta = plan.flatten(plan.pack(net))
    out = int(plan.output_rows[0])
    into = [int(p) for lv in plan.levels for p, r in zip(lv.edge_pos, lv.rows + lv.start)
            if r == out]
    bias = len(plan.edge_ids) + int(np.flatnonzero(plan.bias_rows == out)[0])
    plane = exact_plane(plan, theta, into[0], bias)
    x = np.random.default_rng(0).normal(size=(5, 2))
    prep = compiled_grid.prepare(plan, plane.center, plane.d1, plane.d2, x)
    assert prep.moving.tolist() == [out]
    assert prep.e_src.size == 0  # its sources are all fixed: k0 + a k1 + b k2 alone
    assert prep.affine.tolist() == [True]


def test_where_it_steps_aside_for_numpy_and_says_why(monkeypatch):
    net = layered_net([2, 3, 1])
    plan = compile_plan(net)
    assert compiled_grid.unavailable(plan, "bce", np.float32) is None
    assert "float32" in compiled_grid.unavailable(plan, "bce", np.float64)
    monkeypatch.setenv(compiled.ENGINE_VARIABLE, "numpy")
    assert compiled_grid.unavailable(plan, "bce", np.float32) == "BACKPROP_ENGINE=numpy"
    monkeypatch.delenv(compiled.ENGINE_VARIABLE)
    monkeypatch.setattr(compiled, "numba_version", lambda: "")
    assert compiled_grid.unavailable(plan, "bce", np.float32) == "Numba is not installed"


def test_an_extension_activation_or_loss_takes_numpy_with_the_same_numbers():
    """tests/registry_extras: swish has no compiled form, nor has log-cosh; a grid using
    either is NumPy's, and right; a net without them still takes the kernel."""
    with added_entries():
        net = layered_net([2, 3, 1], hidden="swish", output="identity")
        plan = compile_plan(net)
        assert "swish" in compiled_grid.unavailable(plan, "mse", np.float32)
        plain = compile_plan(layered_net([2, 3, 1], output="identity"))
        assert "log_cosh" in compiled_grid.unavailable(plain, "log_cosh", np.float32)
        assert compiled_grid.unavailable(plain, "mse", np.float32) is None
        x = np.random.default_rng(0).normal(size=(20, 2))
        y = np.sin(x[:, :1])
        for p, loss in ((plan, "mse"), (plain, "log_cosh"), (plain, "mse")):
            theta = p.flatten(p.unflatten(np.linspace(-1, 1, p.n_parameters)))
            plane = random_plane(p, theta, np.random.default_rng(1))
            g = np.array([-0.5, 0.5])
            z = grid_losses(p, plane, g, g, x, y, loss, dtype=np.float32)
            assert_forward_at_every_point([z], p, plane, g, g, x, y, loss)


def test_warm_up_compiles_into_the_cache_folder_and_marks_the_grid_kernel(tmp_path):
    """kernel_warmup.warm_up() (the training process's) compiles both kernels into
    NUMBA_CACHE_DIR (the package folder may be read-only): the generated module, Numba's cache
    files, and the mark the window waits for before it starts its grid worker."""
    code = ("import os\n"
            "from core.engine import compiled\n"
            "name = compiled.generated()[0]\n"
            "print(compiled.marked(name))\n"
            "from core.training.kernel_warmup import warm_up\n"
            "warm_up()\n"
            "print(compiled.marked(name), os.environ['NUMBA_CACHE_DIR'])\n")
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path)}
    env.pop(compiled.ENGINE_VARIABLE, None)
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True,
                         text=True, timeout=900)
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == ["False", f"True {tmp_path}"]
    assert list((tmp_path / "kernels").glob("backprop_kernels_*.py"))
    assert list(tmp_path.rglob("*.nbi"))  # numba's cache index
    assert list((tmp_path / "kernels").glob("backprop_kernels_*.grid-ready"))
    # A second process loads the training kernel in both dtypes from those files: the cache
    # holds the float64 and the float32 specialisation, and nothing compiles again.
    again = ("from core.engine import compiled\n"
             "from core.training.kernel_warmup import warm_up\n"
             "warm_up()\n"
             "stats = compiled.kernels().train_block.stats\n"
             "print(sorted(str(sig[14].dtype) for sig in stats.cache_hits),"
             " sum(stats.cache_misses.values()))\n")
    out = subprocess.run([sys.executable, "-c", again], cwd=ROOT, env=env, capture_output=True,
                         text=True, timeout=900)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split("\n")[-2] == "['float32', 'float64'] 0"  # theta's dtypes; misses
