"""The trainer's fast path (one flat parameter vector, reused buffers), float32 training, and
the headless commands' start-up imports."""
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from core.engine import compile_plan, loss_and_gradients
from core.engine.flat import FlatLayout
from core.optimizers import OPTIMIZER_CLASSES, make_optimizer
from core.project import Project, loads_project
from core.settings import TrainingSettings
from core.training.trainer import Diverged, Trainer, _finite, all_finite
from tests.core.test_training import regression_data, small_net

ROOT = Path(__file__).resolve().parents[2]


# A second-order rule (Newton) solves with the whole Hessian: it has no per-array form.
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name", sorted(n for n, o in OPTIMIZER_CLASSES.items()
                                        if not o.second_order))
def test_flat_update_gives_the_per_array_numbers_bit_for_bit(name, dtype):
    """Per array, on one flat vector in place, and into a second vector (the trainer's two
    parameter buffers taking turns): the same numbers."""
    plan = compile_plan(small_net())
    layout = FlatLayout(plan)
    rng = np.random.default_rng(3)
    settings = TrainingSettings(optimizer=name)
    per_array, flat, into = (make_optimizer(settings) for _ in range(3))
    params = plan.pack(small_net(), dtype)
    fparams = layout.pack(params, dtype)
    turns = [layout.pack(params, dtype), layout.empty(dtype)]
    for _ in range(5):
        grads = [rng.normal(size=a.shape).astype(dtype) for a in params.arrays()]
        per_array.step(params.arrays(), grads, 0.05)
        g = layout.pack(type(params)(grads[:-1], grads[-1]), dtype)
        flat.step_flat(fparams.flat, g.flat, 0.05, layout.views)
        into.step_flat(turns[0].flat, g.flat, 0.05, layout.views, out=turns[1].flat)
        turns.reverse()
    for a, b, c in zip(params.arrays(), fparams.arrays(), turns[0].arrays()):
        np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(a, c)
    for slot in per_array.state:
        for a, b, c in zip(per_array.state[slot], flat.state[slot], into.state[slot]):
            np.testing.assert_array_equal(a, b)
            np.testing.assert_array_equal(a, c)


def textbook(name, p, g, lr, st, t, s):
    """Each rule as its formula reads, in NumPy expressions with new arrays (the optimisers'
    in-place operations must give these numbers bit for bit)."""
    if name == "sgd":
        return p - lr * g
    if name in ("momentum", "nesterov"):
        mu, v = s.momentum, st.get("v", np.zeros_like(p))
        st["v"] = mu * v - lr * g
        return p + st["v"] if name == "momentum" else p - mu * v + (1.0 + mu) * st["v"]
    if name == "adagrad":
        st["G"] = st.get("G", np.zeros_like(p)) + g * g
        return p - lr * g / (np.sqrt(st["G"]) + s.epsilon)
    if name == "rmsprop":
        st["E"] = s.rho * st.get("E", np.zeros_like(p)) + (1.0 - s.rho) * g * g
        return p - lr * g / (np.sqrt(st["E"]) + s.epsilon)
    st["m"] = s.beta1 * st.get("m", np.zeros_like(p)) + (1.0 - s.beta1) * g
    st["v"] = s.beta2 * st.get("v", np.zeros_like(p)) + (1.0 - s.beta2) * g * g
    m_hat, v_hat = st["m"] / (1.0 - s.beta1**t), st["v"] / (1.0 - s.beta2**t)
    return p - lr * m_hat / (np.sqrt(v_hat) + s.epsilon)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name", sorted(n for n, o in OPTIMIZER_CLASSES.items()
                                        if not o.second_order))  # Newton: tests/core/test_newton.py
def test_in_place_updates_give_the_textbook_expressions_numbers_bit_for_bit(name, dtype):
    settings = TrainingSettings(optimizer=name, momentum=0.9, rho=0.9)
    opt = make_optimizer(settings)
    rng = np.random.default_rng(5)
    p = rng.normal(size=300).astype(dtype)
    turns, expected, state = [p.copy(), np.empty_like(p)], p.copy(), {}
    for t in range(1, 9):
        g = (rng.normal(size=300) * 10.0 ** rng.integers(-4, 4)).astype(dtype)
        g[:7] = 0.0  # frozen entries
        expected = textbook(name, expected, g, 0.05, state, t, settings)
        opt.step_flat(turns[0], g, 0.05, lambda flat: [flat], out=turns[1])
        turns.reverse()
        np.testing.assert_array_equal(turns[0], expected)
        assert turns[0].dtype == dtype


def test_gradients_written_into_buffers_equal_fresh_ones():
    net, data = small_net(), regression_data()
    plan = compile_plan(net)
    params = plan.pack(net)
    buffers = FlatLayout(plan).empty(np.float64)
    buffers.flat[:] = np.nan  # every entry must be written
    loss_a, fresh = loss_and_gradients(plan, params, data.x_train, data.y_train, "mse")
    loss_b, into = loss_and_gradients(plan, params, data.x_train, data.y_train, "mse",
                                      out=buffers)
    assert loss_a == loss_b and into is buffers
    for a, b in zip(fresh.arrays(), into.arrays()):
        np.testing.assert_array_equal(a, b)


def test_theta_gather_is_plan_flatten():
    net = small_net()
    plan = compile_plan(net)
    layout = FlatLayout(plan)
    params = layout.pack(plan.pack(net), np.float64)
    np.testing.assert_array_equal(layout.theta(params.flat), plan.flatten(params))


def test_all_finite_is_exact_even_when_the_sum_overflows():
    assert all_finite(np.array([1e308, 1e308, -1.0]))  # the sum is inf, every entry finite
    assert not all_finite(np.array([1.0, np.nan]))
    assert not all_finite(np.array([np.inf, -np.inf]))
    assert not all_finite(np.array([1.0, np.inf], np.float32))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_the_steps_finite_check_is_exact_even_when_the_squares_overflow(dtype):
    """Trainer.step's check of the new parameters (a sum of squares by BLAS) against
    np.isfinite, entry by entry, on vectors long enough for BLAS's unrolled loops."""
    big = np.finfo(dtype).max
    rng = np.random.default_rng(0)
    for n in (1, 7, 1000):
        a = rng.normal(size=n).astype(dtype)
        for value in (0.0, np.sqrt(big) * 2, big, -big, np.inf, -np.inf, np.nan):
            for where in {0, n // 2, n - 1}:
                b = a.copy()
                b[where] = value
                with np.errstate(over="ignore", invalid="ignore"):
                    assert _finite(b) == bool(np.isfinite(b).all()), (n, value, where)


def test_last_gradients_stay_those_of_the_last_good_step_after_divergence():
    net, data = small_net(), regression_data()
    for nid in ("n3", "n4"):
        net.set_activation(nid, "identity")
    trainer = Trainer(net, data, TrainingSettings(optimizer="sgd", learning_rate=1e3))
    seen = None
    with pytest.raises(Diverged):
        for _ in range(500):
            trainer.step()
            seen = trainer.edge_gradients().copy()
    np.testing.assert_array_equal(trainer.edge_gradients(), seen)
    assert np.isfinite(seen).all()


def test_float32_training_tracks_float64():
    data = regression_data(n=40)
    runs = {}
    for precision in ("float64", "float32"):
        trainer = Trainer(small_net(), data, TrainingSettings(batch_size=8, precision=precision))
        losses = [trainer.step().loss for _ in range(200)]
        runs[precision] = (np.array(losses), trainer.plan.flatten(trainer.params))
        assert trainer.params.biases.dtype == np.dtype(precision)
    np.testing.assert_allclose(runs["float32"][0], runs["float64"][0], rtol=1e-3, atol=1e-5)
    np.testing.assert_allclose(runs["float32"][1], runs["float64"][1], rtol=1e-3, atol=1e-4)
    assert not np.array_equal(runs["float32"][1], runs["float64"][1])  # it did run in float32


def test_precision_can_change_during_a_run():
    data = regression_data(n=40)
    trainer = Trainer(small_net(), data, TrainingSettings(optimizer="adam"))
    for _ in range(5):
        trainer.step()
    trainer.set_settings(TrainingSettings(optimizer="adam", precision="float32"))
    trainer.step()
    assert trainer.params.biases.dtype == np.float32
    assert all(a.dtype == np.float32 for arrays in trainer.optimizer.state.values() for a in arrays)
    trainer.set_settings(TrainingSettings(optimizer="adam"))
    trainer.step()
    assert trainer.params.biases.dtype == np.float64 and trainer.optimizer.t == 7


def test_files_without_precision_open_as_float64_and_float32_round_trips():
    project = Project(small_net(), training=TrainingSettings(precision="float32"))
    data = project.to_dict()
    assert loads_project(json.dumps(data)).training.precision == "float32"
    del data["training"]["precision"]
    assert loads_project(json.dumps(data)).training.precision == "float64"
    data["training"]["precision"] = "float16"
    with pytest.raises(Exception, match="precision must be one of float64, float32"):
        loads_project(json.dumps(data))


@pytest.mark.parametrize("command", [["gradcheck"], ["train", "--epochs", "2", "--quiet"]])
def test_headless_commands_import_no_schema_or_export_libraries(command, tmp_path):
    """Loading a valid file needs no jsonschema (its import cost 0.1-0.26 s of start-up);
    training and checking need no ONNX, SciPy or scikit-learn, and a short run no Numba."""
    from core.project import save_project
    from core.templates import xor

    path = tmp_path / "xor.json"
    save_project(xor(), path)
    code = ("import sys; from core import cli; "
            f"code = cli.main({[command[0], str(path), *command[1:]]!r}); "
            "print(code, sorted(m for m in ('jsonschema', 'onnx', 'onnxruntime', 'numba', "
            "'scipy', 'sklearn', 'PySide6') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                         text=True, check=True).stdout
    assert out.strip().splitlines()[-1] == "0 []"


def test_an_unusual_file_is_still_checked_by_the_schema():
    data = Project(small_net()).to_dict()
    data["neurons"][0]["bias"] = "high"
    with pytest.raises(Exception, match=r"neurons\[0\]\.bias must be a number"):
        loads_project(json.dumps(data))
