"""The gradient through time (core/training/through_time.py) against independent computations:
one self-looping tanh neuron worked by hand (a product of u f'(z) per step), and finite
differences of each sequence's last-step loss in a nudge of one neuron's output at one step,
on random recurrent graphs with several delayed edges, by an unrolling written out here."""
import math

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from core.engine import compile_plan
from core.losses import LOSSES
from core.network import Network
from core.settings import TrainingSettings
from core.training.through_time import (NEEDS, ThroughTimeWatch, gradient_through_time,
                                        measure)
from core.training.trainer import Trainer
from tests.core.strategies import NAIVE_F, random_recurrent, targets_for
from tests.core.test_recurrent import KINKED, self_loop
from tests.core.test_recurrent_training import echo_data, elman


@pytest.mark.parametrize("u", [0.5, 1.5, -0.9])
def test_one_self_looping_tanh_neuron_by_hand(u):
    """a_t = tanh(w x_t + u a_{t-1} + b), L = (a_T - y)^2: dL/da_T = 2 (a_T - y), and each step
    back multiplies by u (1 - a^2) of the step it leaves."""
    w, b, y_t = 0.7, 0.1, 0.3
    xs = [0.5, -1.0, 0.2, 1.5, -0.3, 0.8]
    a, before = [], 0.0
    for x in xs:
        before = math.tanh(w * x + u * before + b)
        a.append(before)
    expected = [2 * (a[-1] - y_t)]
    for t in range(len(xs) - 1, 0, -1):
        expected.append(expected[-1] * u * (1 - a[t] ** 2))
    plan = compile_plan(self_loop(u, w, b))
    net = self_loop(u, w, b)
    curve = gradient_through_time(plan, plan.pack(net), np.array(xs)[None, :, None],
                                  np.full((1, len(xs), 1), y_t), None, "mse")
    np.testing.assert_allclose(curve.norms, np.abs(expected), rtol=1e-12)
    assert list(curve.counts) == [1] * len(xs)
    assert curve.reach() == (len(xs) - 1, pytest.approx(abs(expected[-1] / expected[0])))


def unrolled(net: Network, x_seq, nudge=None):
    """(z, a) of every neuron at every step, written out neuron by neuron; nudge = (step,
    neuron id, eps) adds eps to that neuron's output at that step, after its activation."""
    inputs = [m.id for m in net.inputs]
    zs, outs = [], []
    for t, row in enumerate(x_seq):
        before = outs[-1] if outs else None
        z, a = {}, {}
        for nid in net.topological_order():
            n = net.neurons[nid]
            if n.role == "input":
                z[nid] = a[nid] = float(row[inputs.index(nid)])
            else:
                z[nid] = n.bias + sum(
                    e.weight * ((before[e.source] if before is not None else 0.0) if e.delay
                                else a[e.source]) for e in net.incoming(nid))
                a[nid] = NAIVE_F[n.activation](z[nid])
            if nudge is not None and nudge[:2] == (t, nid):
                a[nid] += nudge[2]
        zs.append(z)
        outs.append(a)
    return zs, outs


def last_step_loss(net, x_seq, y_last, loss, nudge=None):
    zs, outs = unrolled(net, x_seq, nudge)
    ids = [n.id for n in net.outputs]
    z = np.array([[zs[-1][o] for o in ids]])
    a = np.array([[outs[-1][o] for o in ids]])
    return LOSSES[loss].compute(z, a, np.asarray(y_last)[None, :]).value


@st.composite
def problems(draw):
    loss = draw(st.sampled_from(["mse", "bce", "softmax_ce"]))
    net = draw(random_recurrent(output_activation="sigmoid" if loss == "bce" else "tanh",
                                min_outputs=2 if loss == "softmax_ce" else 1,
                                max_delayed=5))
    # finite differences across a kink (relu's at 0) are not the derivative on either side
    assume(all(n.activation not in KINKED for n in net.neurons.values()))
    b, t = 3, 5
    lengths = draw(st.lists(st.integers(1, t), min_size=b, max_size=b))
    seed = draw(st.integers(0, 2**32 - 1))
    y = draw(targets_for(loss, b * t, len(net.outputs))).reshape(b, t, -1)
    return loss, net, lengths, seed, y


@settings(max_examples=25, deadline=None)
@given(problems())
def test_the_curve_is_finite_differences_of_each_sequences_last_loss(problem):
    """Sequences of different lengths, padded: each one's curve counts back from its own
    last step, and the mean at k is over the sequences that long."""
    loss, net, lengths, seed, y = problem
    rng = np.random.default_rng(seed)
    b, t = len(lengths), y.shape[1]
    x = rng.normal(size=(b, t, len(net.inputs)))
    mask = np.arange(t)[None, :] < np.array(lengths)[:, None]
    plan = compile_plan(net)
    curve = gradient_through_time(plan, plan.pack(net), x, y, mask, loss)

    hidden = [n.id for n in net.neurons.values() if n.role != "input"]
    h = 1e-6
    sums, counts = np.zeros(max(lengths)), np.zeros(max(lengths), int)
    for s, length in enumerate(lengths):
        xs, y_last = x[s, :length], y[s, length - 1]
        for k in range(length):
            g = [(last_step_loss(net, xs, y_last, loss, (length - 1 - k, nid, h)) -
                  last_step_loss(net, xs, y_last, loss, (length - 1 - k, nid, -h))) / (2 * h)
                 for nid in hidden]
            sums[k] += np.linalg.norm(g)
            counts[k] += 1
    np.testing.assert_array_equal(curve.counts, counts)
    np.testing.assert_allclose(curve.norms, sums / counts, rtol=1e-5, atol=1e-8)


def test_the_watch_costs_nothing_off_and_follows_the_run_and_its_step():
    data = echo_data(n=48, t=10)
    trainer = Trainer(elman(), data, TrainingSettings(batch_size=12, learning_rate=0.05))
    watch = ThroughTimeWatch(clock=Clock())  # a clock that stands still: always in budget
    trainer.advance(3, compiled=False)
    assert watch.report(trainer) is None  # off
    watch.enabled = True
    report = watch.report(trainer)
    assert report.step == 3 and report.problem == ""
    assert watch.report(trainer) is report  # the same step: not made again
    rows = trainer.last_batch_rows()
    np.testing.assert_array_equal(report.rows, rows)
    expected = gradient_through_time(trainer.plan, trainer.params, data.x_train[rows],
                                     data.y_train[rows], None, "mse")
    np.testing.assert_allclose(report.curve.norms, expected.norms, rtol=1e-12)
    trainer.advance(1, compiled=False)
    assert watch.report(trainer).step == 4
    other = Trainer(elman(), data, TrainingSettings(batch_size=12))
    assert watch.report(other) is None  # a new run before its first step: nothing


class Clock:
    """A clock the test moves: each curve takes `cost` seconds of it."""
    def __init__(self) -> None:
        self.now, self.reads = 0.0, 0

    def __call__(self) -> float:
        self.reads += 1
        return self.now


def test_while_running_curves_keep_to_their_share_of_the_time(monkeypatch):
    """Each curve costs 1 s of a fake clock; with a share of 0.1 and no credit, after the
    first the next is made only once 10 s have passed per second spent; a forced one (a step
    the user asked for) is made at once."""
    import core.training.through_time as through_time

    clock = Clock()
    real = through_time.measure

    def measured(trainer):
        clock.now += 1.0  # the curve's cost
        return real(trainer)

    monkeypatch.setattr(through_time, "measure", measured)
    trainer = Trainer(elman(), echo_data(n=48, t=10), TrainingSettings(batch_size=12))
    watch = ThroughTimeWatch(share=0.1, credit=0.0, clock=clock)
    watch.enabled = True
    trainer.advance(1, compiled=False)
    assert watch.report(trainer).step == 1  # the first: 1 s spent at t = 1
    made = []
    for _ in range(30):
        trainer.advance(1, compiled=False)
        clock.now += 1.0  # a second of training
        made.append(watch.report(trainer).step == trainer.step_count)
    # made when spent <= 0.1 * elapsed: at t = 10 (1 s spent), 20 (2 s), 30 (3 s); each
    # curve's own second moves the clock too
    assert [i for i, m in enumerate(made) if m] == [8, 17, 26]
    assert watch.report(trainer).step < trainer.step_count  # over budget: the last one made
    assert watch.report(trainer, force=True).step == trainer.step_count


def test_a_feed_forward_net_or_rows_get_one_line_saying_what_is_needed():
    trainer = Trainer(elman(recurrent=False), echo_data(), TrainingSettings(batch_size=12))
    trainer.advance(1, compiled=False)
    report = measure(trainer)
    assert report.curve is None and report.problem == NEEDS


def test_a_linear_self_loop_multiplies_the_gradient_by_its_weight_per_step():
    """u = 1.5 on a linear neuron (f' = 1): the norm grows as exactly 1.5^k going back."""
    net = self_loop(1.5, activation="identity")
    plan = compile_plan(net)
    x = np.zeros((1, 40, 1))
    x[0, -1] = 1.0
    curve = gradient_through_time(plan, plan.pack(net), x, np.zeros((1, 40, 1)), None, "mse")
    ratios = curve.norms[1:] / curve.norms[:-1]
    np.testing.assert_allclose(ratios, 1.5, rtol=1e-12)


def test_the_loop_carries_the_curve_only_while_asked_and_each_run_its_own():
    """Through the training process's loop (no process): off, no Progress carries a curve;
    turned on while paused, the step on screen gets one at once; a restart's run starts with
    none until its first step, whose curve is at its own weights."""
    from tests.core.test_training_loop import drive

    data = echo_data(n=48, t=10)
    settings = TrainingSettings(batch_size=12, learning_rate=0.05)
    replies = drive(("steps", 2), ("through_time", True), ("steps", 1), ("restart", 1),
                    ("fresh_progress",), ("steps", 1), ("through_time", False), ("steps", 1),
                    net=elman(), data=data, settings=settings)
    assert replies.of("fresh_progress") == [("fresh_progress", 1, None)]  # no run yet
    frames = [m[2] for m in replies.of("progress")]
    assert [(f.step, f.through_time is not None) for f in frames] == [
        (2, False), (2, True), (3, True), (1, True), (2, False)]
    for f in frames:
        if f.through_time is not None:
            assert f.through_time.step == f.step
            trainer = Trainer(elman(), data, settings)
            plan = trainer.plan
            params = plan.unflatten(f.theta)
            rows = f.through_time.rows
            expected = gradient_through_time(plan, params, data.x_train[rows],
                                             data.y_train[rows], None, "mse")
            np.testing.assert_allclose(f.through_time.curve.norms, expected.norms, rtol=1e-10)
