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
from core.training.trainer import Diverged, Trainer, all_finite
from tests.core.test_training import regression_data, small_net

ROOT = Path(__file__).resolve().parents[2]


# A second-order rule (Newton) solves with the whole Hessian: it has no per-array form.
@pytest.mark.parametrize("name", sorted(n for n, o in OPTIMIZER_CLASSES.items()
                                        if not o.second_order))
def test_flat_update_gives_the_per_array_numbers_bit_for_bit(name):
    plan = compile_plan(small_net())
    layout = FlatLayout(plan)
    rng = np.random.default_rng(3)
    settings = TrainingSettings(optimizer=name)
    per_array, flat = make_optimizer(settings), make_optimizer(settings)
    params = plan.pack(small_net())
    fparams = layout.pack(params, np.float64)
    for _ in range(5):
        grads = [rng.normal(size=a.shape) for a in params.arrays()]
        per_array.step(params.arrays(), grads, 0.05)
        g = layout.pack(type(params)(grads[:-1], grads[-1]), np.float64)
        flat.step_flat(fparams.flat, g.flat, 0.05, layout.views)
    for a, b in zip(params.arrays(), fparams.arrays()):
        np.testing.assert_array_equal(a, b)
    for slot in per_array.state:
        for a, b in zip(per_array.state[slot], flat.state[slot]):
            np.testing.assert_array_equal(a, b)


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
