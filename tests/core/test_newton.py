"""Newton's method with Levenberg-Marquardt damping as a training optimiser, held to the
normal equations of linear regression and to -(H + lambda I)^-1 g worked here with
H = (2/N) X^T X (X with a column of ones), never core.curvature."""
from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest

from core.errors import SettingsError, TrainingError
from core.optimizers import Newton
from core.project import Project, dumps_project, loads_project
from core.settings import DataSettings, TrainingSettings
from core.templates import layered
from core.training.trainer import Trainer
from tests.core.test_training import make_data

PLAIN = TrainingSettings(optimizer="newton", learning_rate=1.0, damping=0.0,
                         adapt_damping=False, batch_size=0, shuffle=False)


def regression(n: int = 40, seed: int = 0, inputs: int = 2):
    """y = W x + b on correlated inputs, a net of one identity output: the loss is exactly
    quadratic in (W, b)."""
    rng = np.random.default_rng(seed)
    u = rng.normal(size=(n, 1))
    x = np.hstack([3.0 + u, 10.0 * (0.8 * u + 0.6 * rng.normal(size=(n, inputs - 1)))])
    y = x @ rng.normal(size=(inputs, 1)) + 0.5 + 0.1 * rng.normal(size=(n, 1))
    net = layered([inputs, 1], output="identity")
    net.set_values({e: 0.2 for e in net.edges}, {o.id: -0.3 for o in net.outputs})
    return net, make_data(x, y)


def design(x: np.ndarray) -> np.ndarray:
    return np.hstack([x, np.ones((len(x), 1))])


def theta(trainer: Trainer) -> np.ndarray:
    return trainer.plan.flatten(trainer.params)  # weights in edge order, then the bias


def loss_at(t: np.ndarray, x: np.ndarray, y: np.ndarray) -> float:
    return float(np.mean((design(x) @ t[:, None] - y) ** 2))


def lm_step(t: np.ndarray, x: np.ndarray, y: np.ndarray, damping: float) -> np.ndarray:
    """-(H + damping I)^-1 g of the mean squared error, by hand."""
    a = design(x)
    h = 2.0 / len(x) * a.T @ a
    g = 2.0 / len(x) * a.T @ (a @ t[:, None] - y)
    return -np.linalg.solve(h + damping * np.eye(len(t)), g).ravel()


def test_undamped_newton_at_rate_1_reaches_the_minimum_in_one_step():
    net, data = regression()
    trainer = Trainer(net, data, PLAIN)
    trainer.step()
    best = np.linalg.lstsq(design(data.x_train), data.y_train, rcond=None)[0].ravel()
    np.testing.assert_allclose(theta(trainer), best, rtol=1e-6, atol=1e-9)
    # so far from round that plain gradient descent could not do this in a thousand steps
    a = design(data.x_train)
    curvatures = np.linalg.eigvalsh(2.0 / len(a) * a.T @ a)
    assert curvatures[-1] / curvatures[0] > 1e3


def test_one_step_solves_the_minibatchs_own_problem_and_holds_frozen_parameters():
    net, data = regression(n=60, inputs=3)
    net.set_frozen(net.outputs[0].id, True)  # the bias stays; the weights solve without it
    settings = replace(PLAIN, batch_size=20)  # no shuffle: the first batch is rows 0-19
    trainer = Trainer(net, data, settings)
    trainer.step()
    x, y = data.x_train[:20], data.y_train[:20]
    best = np.linalg.lstsq(x, y - (-0.3), rcond=None)[0].ravel()
    np.testing.assert_allclose(theta(trainer), [*best, -0.3], rtol=1e-6, atol=1e-9)


def test_the_learning_rate_scales_the_newton_step():
    net, data = regression()
    trainer = Trainer(net, data, replace(PLAIN, learning_rate=0.25, damping=2.0))
    start = theta(trainer)
    trainer.step()
    want = start + 0.25 * lm_step(start, data.x_train, data.y_train, 2.0)
    np.testing.assert_allclose(theta(trainer), want, rtol=1e-6, atol=1e-9)
    assert trainer.optimizer.damping == 2.0  # fixed: never adapted


def test_a_step_that_lowers_the_loss_is_taken_and_the_damping_falls_tenfold():
    net, data = regression()
    trainer = Trainer(net, data, replace(PLAIN, damping=5.0, adapt_damping=True))
    start = theta(trainer)
    trainer.step()
    np.testing.assert_allclose(theta(trainer),
                               start + lm_step(start, data.x_train, data.y_train, 5.0),
                               rtol=1e-6, atol=1e-9)
    assert trainer.optimizer.damping == pytest.approx(0.5) and trainer.optimizer.rejected == 0


def test_a_step_that_raises_the_loss_is_rejected_and_the_damping_rises_tenfold():
    """At rate 3 the undamped step overshoots the quadratic's minimum (the loss rises by
    1.5 d^T H d): rejected; lambda climbs x10 from its floor until a step lowers the loss."""
    net, data = regression()
    x, y = data.x_train, data.y_train
    trainer = Trainer(net, data, replace(PLAIN, learning_rate=3.0, adapt_damping=True))
    start = theta(trainer)
    trainer.step()
    newton = trainer.optimizer
    taken = 10.0 * newton.damping  # lowered x0.1 once the step was taken
    assert newton.rejected >= 2
    np.testing.assert_allclose(theta(trainer), start + 3.0 * lm_step(start, x, y, taken),
                               rtol=1e-6, atol=1e-9)
    assert loss_at(theta(trainer), x, y) < loss_at(start, x, y)
    # the try before, with a tenth of that damping, would have raised the loss
    assert loss_at(start + 3.0 * lm_step(start, x, y, taken / 10), x, y) > loss_at(start, x, y)


def test_when_no_try_lowers_the_loss_the_weights_stay_and_the_damping_keeps_its_rise():
    """From lambda 0 the first rise goes to DAMPING_FLOOR of H's largest diagonal entry, then
    x10 a try; at rate 1e6 every one of MAX_TRIES steps overshoots."""
    net, data = regression()
    trainer = Trainer(net, data, replace(PLAIN, learning_rate=1e6, adapt_damping=True))
    start = theta(trainer)
    trainer.step()
    np.testing.assert_array_equal(theta(trainer), start)
    assert trainer.optimizer.rejected == Newton.MAX_TRIES
    a = design(data.x_train)
    floor = Newton.DAMPING_FLOOR * np.max(np.diag(2.0 / len(a) * a.T @ a))
    assert trainer.optimizer.damping == pytest.approx(floor * 10.0 ** (Newton.MAX_TRIES - 1),
                                                      rel=1e-6)


def test_damping_carries_across_other_setting_changes_but_not_a_new_damping():
    net, data = regression()
    trainer = Trainer(net, data, replace(PLAIN, damping=5.0, adapt_damping=True))
    trainer.step()
    trainer.set_settings(replace(trainer.settings, learning_rate=0.5))
    assert trainer.optimizer.damping == pytest.approx(0.5)
    trainer.set_settings(replace(trainer.settings, damping=7.0))
    assert trainer.optimizer.damping == 7.0


def test_newton_trains_in_numpy_and_says_why():
    net, data = regression()
    assert "newton" in Trainer(net, data, PLAIN).compiled_path()


def test_a_net_too_large_for_the_whole_hessian_is_refused_in_words():
    net = layered([2, 30, 14, 1], hidden="tanh", output="identity")  # 539 parameters
    rng = np.random.default_rng(0)
    data = make_data(rng.normal(size=(10, 2)), rng.normal(size=(10, 1)))
    with pytest.raises(TrainingError, match=r"539 trainable parameters .*limit is 500"):
        Trainer(net, data, PLAIN)
    trainer = Trainer(net, data, replace(PLAIN, optimizer="adam"))
    with pytest.raises(TrainingError, match="Newton's method"):
        trainer.set_settings(PLAIN)
    assert trainer.settings.optimizer == "adam"  # the refused settings were not taken
    for edge in list(net.edges)[:60]:  # frozen weights do not count
        net.set_edge_frozen(edge, True)
    Trainer(net, data, PLAIN).step()


def test_dropout_is_refused_in_words():
    net, data = regression()
    with pytest.raises(TrainingError, match="dropout"):
        Trainer(net, data, replace(PLAIN, dropout=0.2))


def test_the_new_settings_survive_a_file_and_older_files_load_unchanged():
    net, data = regression()
    settings = replace(PLAIN, damping=0.25, adapt_damping=False)
    project = Project(net, DataSettings(generator="plane"), settings, "LM")
    back = loads_project(dumps_project(project))
    assert back.training == settings
    older = json.loads(dumps_project(Project(net, DataSettings(), TrainingSettings(), "old")))
    del older["training"]["damping"], older["training"]["adapt_damping"]
    loaded = loads_project(json.dumps(older))
    assert loaded.training == TrainingSettings()
    assert (loaded.training.damping, loaded.training.adapt_damping) == (1e-3, True)


@pytest.mark.parametrize("field, value, message", [
    ("damping", -1.0, "training.damping must be between 0 and 1e+12"),
    ("damping", "big", "training.damping must be a number"),
    ("adapt_damping", "yes", "training.adapt_damping must be true or false"),
])
def test_bad_settings_are_refused_by_name(field, value, message):
    with pytest.raises(SettingsError, match=message.replace("+", r"\+")):
        TrainingSettings.from_dict({"optimizer": "newton", field: value})
