"""The training process's minibatch report (core.training.minibatch_probe, asked for with the
loop's "minibatch" command): the share of checked steps that went downhill against the
training loss recomputed here with a plain-Python forward pass (tests.core.strategies'
naive_activations) at the parameters before and after each step, and the minibatch's rows
against the gradient the step itself reported."""
from __future__ import annotations

import numpy as np
import pytest

from core.engine import compile_plan, compiled, loss_and_gradients
from core.training import kernel_warmup
from core.training.trainer import Trainer
from tests.core.strategies import naive_activations
from tests.core.test_training import regression_data, small_net
from tests.core.test_training_loop import (SETTINGS, drive, loop_on_a_thread,  # noqa: F401
                                           numpy_path, receive, reference, theta)


def naive_loss(net, names, values, data) -> float:
    """Mean squared error over the whole training set, the net's values set from theta."""
    net = net.copy()
    weights = {n: v for n, v in zip(names, values) if not n.startswith("bias:")}
    biases = {n[5:]: v for n, v in zip(names, values) if n.startswith("bias:")}
    net.set_values(weights, biases)
    out = net.outputs[0].id
    predictions = [naive_activations(net, row)[out] for row in data.x_train]
    return float(np.mean((np.array(predictions) - data.y_train[:, 0]) ** 2))


def downhill_recomputed(thetas, names, checked) -> list[bool]:
    """For each checked step s: the loss at theta_s below the loss at theta_(s-1)."""
    net, data = small_net(), regression_data()
    return [naive_loss(net, names, thetas[s], data) < naive_loss(net, names, thetas[s - 1], data)
            for s in checked]


def test_nothing_is_reported_or_changed_unless_asked():
    plain = drive(("steps", 4)).of("progress")[-1][2]
    assert plain.minibatch is None
    stopped = drive(("minibatch", 10), ("steps", 2), ("minibatch", 0), ("steps", 2))
    assert stopped.of("progress")[-1][2].minibatch is None
    # a probed step is an ordinary step: the run is the same as without it
    probed = drive(("minibatch", 10), *[("steps", 1)] * 4).of("progress")[-1][2]
    np.testing.assert_array_equal(probed.theta, plain.theta)
    np.testing.assert_array_equal(probed.theta, theta(reference(4)))


def test_step_by_step_every_step_is_checked_and_the_share_is_the_losses():
    # 300 steps in, minibatches of 4 of the 16 samples often go uphill on all 16
    replies = drive(("steps", 300), ("minibatch", 12), *[("steps", 1)] * 16)
    progress = [m[2] for m in replies.of("progress")]
    names = progress[0].parameter_names
    thetas = {p.step: p.theta for p in progress}
    report = progress[-1].minibatch
    assert list(report.checked) == list(range(305, 317))  # the last 12 kept
    expected = downhill_recomputed(thetas, names, report.checked)
    assert list(report.downhill) == expected
    assert report.share == sum(expected) / 12 and report.lowered == sum(expected)
    assert 0 < report.share < 1  # so the comparison above can tell a wrong share
    assert report.sample_rows == 16 and report.step == 316


def test_the_rows_are_the_minibatch_the_step_took():
    """Step k's gradient (Progress.gradients) is the loss's gradient on its minibatch at
    theta_(k-1): recomputed here on the reported rows."""
    replies = drive(("minibatch", 5), *[("steps", 1)] * 6)
    progress = [m[2] for m in replies.of("progress")]
    data, plan = regression_data(), compile_plan(small_net())
    before = plan.flatten(plan.pack(small_net()))
    seen = set()
    for p in progress:
        rows = p.minibatch.rows
        assert len(rows) == SETTINGS.batch_size
        _, grads = loss_and_gradients(plan, plan.unflatten(before), data.x_train[rows],
                                      data.y_train[rows], "mse")
        np.testing.assert_allclose(p.gradients, plan.edge_vector(grads.weights), rtol=1e-12)
        seen.update(rows.tolist())
        before = p.theta
    assert len(seen) == 16  # an epoch's four minibatches and more: every row once at least


def test_full_batch_training_reports_every_row():
    full = SETTINGS.__class__(**{**SETTINGS.to_dict(), "batch_size": 0})
    p = drive(("minibatch", 5), ("steps", 2), settings=full).of("progress")[-1][2]
    assert list(p.minibatch.rows) == list(range(16))


def test_in_slow_motion_each_frames_first_step_is_checked():
    with loop_on_a_thread() as (commands_in, window_end):
        commands_in.put(("minibatch", 50))
        commands_in.put(("speed", 3))
        commands_in.put(("run",))
        assert receive(window_end) == ("running", 0, True)
        for _ in range(4):
            p = receive(window_end)[2]
            commands_in.put(("drawn",))
        commands_in.put(("pause",))
        commands_in.put(("trajectory", -1, -1))
        messages = [receive(window_end) for _ in range(3)]
    assert p.step == 12 and list(p.minibatch.checked) == [1, 4, 7, 10]
    (_, _, _, steps, thetas, names), = [m for m in messages if m[0] == "trajectory"]
    start = compile_plan(small_net())
    path = np.vstack([start.flatten(start.pack(small_net()))[None], thetas])
    assert list(steps) == list(range(1, len(path)))
    assert list(p.minibatch.downhill) == downhill_recomputed(path, names, p.minibatch.checked)


def test_running_flat_out_the_checked_steps_agree_with_the_path():
    with loop_on_a_thread() as (commands_in, window_end):
        commands_in.put(("minibatch", 20))
        commands_in.put(("run",))
        assert receive(window_end) == ("running", 0, True)
        for _ in range(5):
            receive(window_end)
            commands_in.put(("drawn",))
        commands_in.put(("pause",))
        commands_in.put(("trajectory", -1, -1))
        messages = [receive(window_end) for _ in range(3)]
    p = [m for m in messages if m[0] == "progress"][-1][2]
    (_, _, _, steps, thetas, names), = [m for m in messages if m[0] == "trajectory"]
    report = p.minibatch
    assert 5 <= len(report.checked) <= 20 and len(set(report.checked)) == len(report.checked)
    assert report.checked[-1] < p.step  # one a frame, the frame's first: far apart
    start = compile_plan(small_net())
    path = np.vstack([start.flatten(start.pack(small_net()))[None], thetas])
    assert list(steps) == list(range(1, len(path)))  # every step kept: a small net
    assert list(report.downhill) == downhill_recomputed(path, names, report.checked)


def test_a_new_document_or_run_starts_the_record_afresh():
    other = small_net(seed=5)
    replies = drive(("minibatch", 10), ("steps", 1), ("steps", 1),
                    ("document", 2, other, regression_data(), SETTINGS), ("steps", 1),
                    ("restart",), ("steps", 1), ("steps", 1))
    reports = [m[2].minibatch for m in replies.of("progress")]
    assert [list(r.checked) for r in reports] == [[1], [1, 2], [1], [1], [1, 2]]


def test_a_trainer_reports_no_rows_before_its_first_step_and_after_new_data():
    trainer = Trainer(small_net(), regression_data(), SETTINGS)
    assert trainer.last_batch_rows() is None
    trainer.step()
    assert len(trainer.last_batch_rows()) == 4
    trainer.set_data(regression_data(seed=3))
    assert trainer.last_batch_rows() is None


@pytest.mark.skipif(compiled.numba_module() is None, reason="Numba not installed")
def test_after_a_compiled_block_the_rows_are_its_last_minibatch(monkeypatch):
    """The probe's step is a NumPy step; the frame's other steps run in the compiled kernel,
    whose blocks leave the batch order as step by step would: the reported rows are those
    of the block's last step, whose gradient the Progress carries."""
    monkeypatch.delenv(compiled.ENGINE_VARIABLE)  # this module's NumPy-only fixture, undone
    kernel_warmup.warm_up()
    assert kernel_warmup.ready()
    replies = drive(("minibatch", 5), ("steps", 43), ("trajectory", -1, -1))
    p = replies.of("progress")[-1][2]
    (_, _, _, steps, thetas, _), = replies.of("trajectory")
    assert p.step == 43 and list(p.minibatch.checked) == [1] and steps[-2] == 42
    data, plan = regression_data(), compile_plan(small_net())
    rows = p.minibatch.rows
    _, grads = loss_and_gradients(plan, plan.unflatten(thetas[-2]), data.x_train[rows],
                                  data.y_train[rows], "mse")
    np.testing.assert_allclose(p.gradients, plan.edge_vector(grads.weights), rtol=1e-9)
