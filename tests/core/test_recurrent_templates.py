"""The recurrent templates train to results far beyond a baseline in a bounded number of steps,
and the two self-loop templates' gradients through 40 steps differ by orders of magnitude
(finite differences through the engine's forward pass)."""
import numpy as np
import pytest

from core.data.dataset import make_dataset
from core.engine.plan import compile_plan
from core.engine.recurrent import sequence_predict
from core.templates import RECURRENT_TEMPLATES, TEMPLATES, self_loop
from core.training.trainer import Trainer


def trained(name: str, steps: int):
    project = RECURRENT_TEMPLATES[name].build()
    data = make_dataset(project.data)
    trainer = Trainer(project.network, data, project.training)
    trainer.run(steps=steps)
    return project, data, trainer


def target_variance(data) -> float:
    return float(np.var(data.y_test[data.mask_test]))


def test_the_elman_net_echoes_the_input_of_three_steps_ago():
    """A net without memory can do no better than the target's variance (its inputs are
    independent of the input 3 steps back)."""
    _, data, trainer = trained("elman_echo", 600)
    assert trainer.evaluate().test_loss < target_variance(data) / 30


def test_the_jordan_net_predicts_the_next_value_of_the_sine():
    """One value of a sine leaves the direction open: the best guess from it alone errs by
    sin(2 pi / 20)^2 E[1 - s^2] ~ 0.048 (before noise); the state unit removes that doubt."""
    _, data, trainer = trained("jordan_sine", 600)
    loss = trainer.evaluate().test_loss
    assert loss < 0.02 and loss < target_variance(data) / 20


def test_the_elman_net_learns_the_embedded_reber_grammar_but_for_its_long_range_step():
    project, data, trainer = trained("elman_reber", 1200)
    legal = data.y_test > 0.5  # the symbols the grammar allows next
    freq = data.y_train[data.mask_train].mean(axis=0)  # each symbol's share of the targets
    y = data.y_test[data.mask_test]
    baseline = -np.mean(y * np.log(freq) + (1 - y) * np.log(1 - freq))
    assert trainer.evaluate().test_loss < baseline / 10
    likely = sequence_predict(trainer.plan, trainer.params, data.x_test) > 0.5
    right = (likely == legal).all(axis=2)  # the predicted-likely set is exactly the legal one
    assert right[data.mask_test].mean() > 0.9


def gain_through(project, k: int) -> float:
    """How a change of the input k steps before the last reaches the last output, relative
    to the same change at the last step (the error's gradient through k steps, by finite
    differences): the self-loop template's h(T) = y(T)."""
    net = project.network
    plan = compile_plan(net)
    params = plan.pack(net)
    data = make_dataset(project.data)
    x = data.x_train[:4]
    T = x.shape[1]

    def last(xs):
        return sequence_predict(plan, params, xs)[:, -1, 0]

    base, eps = last(x), 1e-3
    moved = {}
    for step in (T - 1 - k, T - 1):
        xs = x.copy()
        xs[:, step, 0] += eps
        moved[step] = (last(xs) - base) / eps
    return float(np.median(moved[T - 1 - k] / moved[T - 1]))


def test_the_self_loops_gradients_through_40_steps_shrink_and_grow_as_the_weight_to_the_40th():
    vanishing = gain_through(RECURRENT_TEMPLATES["self_loop_vanishing"].build(), 40)
    exploding = gain_through(RECURRENT_TEMPLATES["self_loop_exploding"].build(), 40)
    assert vanishing == pytest.approx(0.5 ** 40, rel=1e-3)  # a linear neuron: exactly w^k
    assert exploding == pytest.approx(1.5 ** 40, rel=1e-3)
    assert exploding / vanishing > 1e18


def test_training_the_15_loop_brings_it_below_1_and_the_loss_down_from_1e16():
    """What the 1.5 template's description says: the loss starts near 1e16, clipping keeps
    every step finite, the loop weight falls, and once it is below 1 the loss is about 1 and
    the gain through 40 steps has turned from 1.5^40 to below 1."""
    project = RECURRENT_TEMPLATES["self_loop_exploding"].build()
    trainer = Trainer(project.network, make_dataset(project.data), project.training)
    start = trainer.evaluate().train_loss
    assert 1e14 < start < 1e18
    trainer.run(steps=60)
    trainer.sync_network()
    loop = next(e for e in project.network.edges.values() if e.delay)
    assert loop.weight < 1.0
    assert trainer.evaluate().train_loss < 10.0
    assert abs(gain_through(project, 40)) < 1.0


def test_the_recurrent_templates_are_listed_apart_from_the_feed_forward_ones():
    assert set(RECURRENT_TEMPLATES).isdisjoint(TEMPLATES)
    for template in RECURRENT_TEMPLATES.values():
        project = template.build()
        assert project.network.is_recurrent and project.description
        assert make_dataset(project.data).is_sequence
