"""What the window's experiment views compute, without Qt: evaluation (confusion matrices,
residuals), the spread of repeated runs (median band, minima), and runs added as one
undoable edit."""
from __future__ import annotations

import numpy as np
import pytest

from core.data.dataset import Dataset, make_dataset
from core.engine import compile_plan, forward
from core.experiments.add_runs import AddRuns
from core.experiments.curve import Curve
from core.experiments.evaluation import confusion, evaluate
from core.experiments.run import Run
from core.experiments.run_log import RunLog
from core.experiments.spread import band, minima
from core.network import Network
from core.templates import regression, softmax3, xor
from core.training.trainer import Trainer


# ----- evaluation -------------------------------------------------------------------------
def test_confusion_by_hand():
    """Four samples, one output: two of class 1 (one predicted right), two of class 0 (both
    right). Worked out by hand: [[2, 0], [1, 1]]."""
    y = np.array([[1.0], [1.0], [0.0], [0.0]])
    predicted = np.array([[0.9], [0.2], [0.4], [0.1]])
    c = confusion(predicted, y, ("0", "1"))
    assert c.counts.tolist() == [[2, 0], [1, 1]]
    assert c.accuracy == 0.75
    assert c.per_class().tolist() == [1.0, 0.5]


def test_confusion_of_three_classes_and_an_absent_class():
    y = np.eye(3)[[0, 0, 1]]  # no sample of class 2
    predicted = np.array([[0.1, 0.8, 0.1], [0.7, 0.2, 0.1], [0.0, 0.3, 0.7]])
    c = confusion(predicted, y, ("a", "b", "c"))
    assert c.counts.tolist() == [[1, 1, 0], [0, 0, 1], [0, 0, 0]]
    pc = c.per_class()
    assert pc[0] == 0.5 and pc[1] == 0.0 and np.isnan(pc[2])


@pytest.mark.parametrize("make", [xor, softmax3])
def test_the_diagonal_share_is_the_trainers_accuracy(make):
    """Second implementation: Trainer.evaluate's accuracy, train and test, after training."""
    p = make()
    data = make_dataset(p.data)
    trainer = Trainer(p.network, data, p.training)
    trainer.run(steps=150)
    trainer.sync_network()
    expected = trainer.evaluate()
    plan = compile_plan(p.network)
    report = evaluate(plan, plan.pack(p.network), p.training.loss, data)
    assert report.task == "classification"
    assert report.train.accuracy == pytest.approx(expected.train_accuracy, abs=1e-12)
    if expected.test_accuracy is not None:
        assert report.test.accuracy == pytest.approx(expected.test_accuracy, abs=1e-12)
    assert report.train.samples == len(data.x_train)


def test_regression_residuals_one_sample_at_a_time():
    """Each prediction against a forward pass of that sample alone."""
    p = regression()
    data = make_dataset(p.data)
    plan = compile_plan(p.network)
    params = plan.pack(p.network)
    report = evaluate(plan, params, p.training.loss, data)
    assert report.task == "regression"
    for i in (0, 5, len(data.x_train) - 1):
        one = forward(plan, params, plan.inputs_from(data.x_train[i: i + 1])).outputs(plan)[1]
        assert report.train.predicted[i] == pytest.approx(one[0], abs=1e-12)
        assert report.train.residuals[i] == pytest.approx(data.y_train[i] - one[0], abs=1e-12)
    rmse = np.sqrt(np.mean((data.y_train - report.train.predicted) ** 2))
    assert report.train.rmse()[0] == pytest.approx(rmse)


def test_no_test_part_gives_no_test_report():
    p = xor()
    data = make_dataset(p.data)
    data = Dataset(data.x_train, data.y_train, data.x_train[:0], data.y_train[:0], data.task,
                   data.input_names, data.target_names, data.class_names)
    plan = compile_plan(p.network)
    assert evaluate(plan, plan.pack(p.network), p.training.loss, data).test is None


# ----- the spread of repeated runs ------------------------------------------------------------
def test_band_by_hand():
    """Three straight lines over steps 0..10: at step 5 the values are 5, 10 and 2.5."""
    curves = [Curve.of([0, 10], [0.0, 10.0]), Curve.of([0, 10], [0.0, 20.0]),
              Curve.of([0, 10], [0.0, 5.0])]
    b = band(curves, points=11)
    at5 = list(b.steps).index(5)
    assert (b.median[at5], b.low[at5], b.high[at5]) == (5.0, 2.5, 10.0)
    assert b.count.tolist() == [3] * 11


def test_band_against_a_loop_with_a_run_that_stopped_early():
    rng = np.random.default_rng(3)
    curves = []
    for last in (100, 100, 40):
        steps = np.unique(np.r_[0, rng.integers(1, last, 15), last])
        curves.append(Curve.of(steps, rng.random(len(steps))))
    b = band(curves, points=60)
    for j, s in enumerate(b.steps):
        here = [np.interp(s, c.steps, c.values) for c in curves if c.steps[-1] >= s]
        assert b.count[j] == len(here)
        assert b.median[j] == pytest.approx(np.median(here))
        assert b.low[j] == pytest.approx(min(here)) and b.high[j] == pytest.approx(max(here))
    assert band([]) is None and band([Curve.of([], [])]) is None


def test_minima_groups_nearby_losses_and_marks_divergence():
    labels = minima({"s0": 0.0011, "s1": 0.125, "s2": 0.0012, "s3": 0.1255,
                     "s4": float("nan"), "s5": 0.5})
    assert labels == {"s0": "A", "s2": "A", "s1": "B", "s3": "B", "s5": "C", "s4": "-"}
    assert minima({}) == {}


# ----- runs added as one undo step --------------------------------------------------------------
def _run(name: str) -> Run:
    p = xor()
    return Run.starting(p.network, p.data, p.training, name=name)


def test_added_runs_merge_undo_and_redo_with_their_ids():
    log, net = RunLog([_run("kept")]), Network()
    first = AddRuns(log, [_run("a")], batch="sweep 1", label="Sweep")
    first.apply(net)
    second = AddRuns(log, [_run("b")], batch="sweep 1", label="Sweep")
    second.apply(net)
    assert first.merge(second) and first.title == "Sweep (2 runs)"
    other = AddRuns(log, [_run("c")], batch="sweep 2")
    assert not first.merge(other)
    ids = log.ids()
    first.revert(net)
    assert [r.name for r in log] == ["kept"]
    first.apply(net)
    assert log.ids() == ids and [r.name for r in log] == ["kept", "a", "b"]


@pytest.mark.parametrize("steps", ["every", "last"])
def test_evaluation_on_sequences_counts_the_steps_the_loss_reads(steps):
    """A recurrent net on running parity (sequences of uneven length, padded): the confusion
    matrix counts one sample per step the loss reads, each class decided from the net's output
    at that step computed here one sequence at a time; its diagonal share is the Trainer's
    accuracy. (It raised inside the engine: the rows' path was handed sequences.)"""
    from core.engine.recurrent import sequence_predict
    from core.settings import DataSettings, TrainingSettings
    from core.templates import layered
    from core.training.trainer import inputs_of

    net = layered([1, 3, 1], hidden="tanh", output="sigmoid")
    for h in [n.id for n in net.neurons.values() if n.role == "hidden"]:
        net.connect(h, h, 0.5, delay=1)
    data = make_dataset(DataSettings(generator="parity", samples=30, task="classification",
                                     sequence_length=6))
    rng = np.random.default_rng(0)
    mask = np.arange(6)[None, :] < rng.integers(1, 7, size=len(data.x_train))[:, None]
    data = Dataset(data.x_train * mask[..., None], data.y_train * mask[..., None],
                   data.x_test, data.y_test, "classification", data.input_names,
                   data.target_names, mask_train=mask, mask_test=data.mask_test)
    settings = TrainingSettings(loss="bce", sequence_loss=steps)
    plan = compile_plan(net)
    report = evaluate(plan, plan.pack(net), "bce", data, steps)
    truth, guess = [], []
    for b in range(len(data.x_train)):
        valid = np.flatnonzero(mask[b])
        out = sequence_predict(plan, plan.pack(net), inputs_of(plan, data.x_train[b:b + 1]))[0]
        read = valid if steps == "every" else valid[-1:]
        truth += [int(data.y_train[b, t, 0] > 0.5) for t in read]
        guess += [int(out[t, 0] > 0.5) for t in read]
    expected = np.zeros((2, 2), int)
    np.add.at(expected, (truth, guess), 1)
    np.testing.assert_array_equal(report.train.counts, expected)
    trainer = Trainer(net.copy(), data, settings)
    assert report.train.accuracy == pytest.approx(trainer.evaluate().train_accuracy)
