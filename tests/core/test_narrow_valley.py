"""The narrow-valley template: its Hessian's condition number against NumPy's eigenvalues of
(2/N) A^T A worked here, what standardising does to it, and the story it tells (SGD
zig-zags, momentum and Adam do better, Newton goes straight), each against the least-squares
minimum solved here."""
from __future__ import annotations

from dataclasses import replace

import numpy as np

from core.curvature import TrainingLoss, spectrum
from core.data.dataset import make_dataset
from core.engine import compile_plan
from core.templates import TEMPLATES, narrow_valley
from core.training.race import race
from core.training.trainer import Trainer


def design(x: np.ndarray) -> np.ndarray:
    return np.hstack([x, np.ones((len(x), 1))])


def condition(project, standardize: bool) -> tuple[float, float]:
    """(core.curvature's condition number, NumPy's of (2/N) A^T A) on the training part."""
    data = make_dataset(replace(project.data, standardize=standardize))
    plan = compile_plan(project.network)
    loss = TrainingLoss(plan, plan.inputs_from(data.x_train), data.y_train, "mse")
    ours = spectrum(loss, plan.flatten(plan.pack(project.network))).condition_number
    a = design(data.x_train)
    values = np.linalg.eigvalsh(2.0 / len(a) * a.T @ a)
    return ours, values[-1] / values[0]


def test_standardising_the_inputs_turns_the_valley_round():
    project = narrow_valley()
    raw, raw_by_hand = condition(project, standardize=False)
    std, std_by_hand = condition(project, standardize=True)
    assert abs(raw / raw_by_hand - 1) < 1e-6
    assert abs(std / std_by_hand - 1) < 1e-6
    assert raw > 200 and std < 6  # a valley 400:1 in curvature, then nearly round
    assert raw / std > 50
    # standardised, correlation 0.7 is what is left: (1 + r) / (1 - r) with r the sample's
    x = make_dataset(replace(project.data, standardize=True)).x_train
    r = abs(np.corrcoef(x.T)[0, 1])
    assert std <= (1 + r) / (1 - r) + 1e-9


def test_the_surface_opens_on_the_plane_of_the_two_weights():
    """The exact plane takes the first two trainable parameters: here the weights of x1 and
    x2 (the bias comes after every weight in Plan.flatten order)."""
    project = TEMPLATES["narrow_valley"].build()
    plan = compile_plan(project.network)
    names = [n for n, ok in zip(plan.parameter_names(), plan.trainable_vector()) if ok]
    net = project.network
    first, second = (net.edges[n] for n in names[:2])
    assert {net.neurons[first.source].label, net.neurons[second.source].label} == {"x1", "x2"}
    assert first.target == second.target == net.outputs[0].id


def test_sgd_zig_zags_across_the_valley_and_newton_goes_straight():
    project = narrow_valley()
    data = make_dataset(project.data)
    a = design(data.x_train)
    best = np.linalg.lstsq(a, data.y_train, rcond=None)[0].ravel()
    h = 2.0 / len(a) * a.T @ a
    steep = np.linalg.eigh(h)[1][:, -1]  # across the valley
    racers = {r.optimizer: r for r in race(project.network, data, project.training, 200,
                                           ("sgd", "momentum", "adam", "newton"))}
    # SGD: across the valley each step overshoots, so the crossing alternates in sign
    moves = np.diff(racers["sgd"].thetas[:8], axis=0) @ steep
    assert np.all(moves[:-1] * moves[1:] < 0)
    distance = {name: np.linalg.norm(r.thetas[-1] - best) for name, r in racers.items()}
    assert distance["momentum"] < 0.1 * distance["sgd"]
    assert distance["adam"] < 0.1 * distance["sgd"]
    assert distance["sgd"] > 0.3  # still creeping along the floor after 200 steps
    # Newton's method (rate 1, undamped): the minimum in one step, on a straight line
    newton = Trainer(project.network.copy(), data,
                     replace(project.training, optimizer="newton", learning_rate=1.0,
                             damping=0.0, adapt_damping=False))
    newton.step()
    np.testing.assert_allclose(newton.plan.flatten(newton.params), best, rtol=1e-6,
                               atol=1e-9)


def test_the_template_reaches_its_goal_with_sgd():
    project = narrow_valley()
    trainer = Trainer(project.network, make_dataset(project.data), project.training)
    assert trainer.run(epochs=project.goal["epochs"]).train_loss <= project.goal["loss"]
