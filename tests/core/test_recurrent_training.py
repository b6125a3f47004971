"""Training recurrent nets on sequences: the Trainer on minibatches of sequences (with masks),
its evaluation, its refusals, the settings, and `python main.py train / gradcheck` on a
recurrent project."""
import io
import json

import numpy as np
import pytest

from core import cli
from core.data.dataset import Dataset
from core.engine.recurrent import sequence_loss, sequence_loss_and_gradients
from core.errors import SettingsError, TrainingError
from core.network import Network
from core.project import Project, save_project
from core.settings import TrainingSettings
from core.training.trainer import Trainer


def echo_data(n=48, t=10, seed=0, lengths=None) -> Dataset:
    """Target at step t: the input at step t - 1 (0 at the first): needs one step of memory.
    lengths: each sequence's valid steps (padded with zeros at the end, masked)."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, t, 1))
    y = np.concatenate([np.zeros((n, 1, 1)), x[:, :-1]], axis=1)
    mask = None
    if lengths is not None:
        mask = np.arange(t)[None, :] < np.asarray(lengths)[:, None]
        x, y = x * mask[..., None], y * mask[..., None]
    k = n * 3 // 4
    return Dataset(x[:k], y[:k], x[k:], y[k:], "regression", ["x"], ["y"],
                   mask_train=None if mask is None else mask[:k],
                   mask_test=None if mask is None else mask[k:])


def elman(hidden=4, recurrent=True, seed=1) -> Network:
    """1-hidden-1, tanh hidden neurons each fed by every hidden neuron one step earlier."""
    rng = np.random.default_rng(seed)
    net = Network()
    x = net.add_neuron("input").id
    hs = [net.add_neuron("hidden", "tanh").id for _ in range(hidden)]
    y = net.add_neuron("output", "identity").id
    for h in hs:
        net.connect(x, h, float(rng.normal(0, 0.5)))
        net.connect(h, y, float(rng.normal(0, 0.5)))
    if recurrent:
        net.connect_many([(a, b) for a in hs for b in hs],
                         list(rng.normal(0, 0.3, hidden * hidden)), delays=[1] * hidden ** 2)
    return net


def adam(**kw) -> TrainingSettings:
    return TrainingSettings(**{"optimizer": "adam", "learning_rate": 0.03, "batch_size": 12,
                               **kw})


def test_an_elman_net_learns_to_echo_and_a_feed_forward_one_cannot():
    """The delays are what carry the memory: the same net without them stays near the
    variance of the input one step earlier (1), the recurrent one goes far below it."""
    data = echo_data()
    losses = {}
    for recurrent in (True, False):
        trainer = Trainer(elman(recurrent=recurrent), data, adam())
        for _ in range(400):
            trainer.step()
        losses[recurrent] = trainer.evaluate().test_loss
    assert losses[True] < 0.05
    assert losses[False] > 0.7


def test_a_step_is_the_engines_gradient_on_the_minibatch_of_sequences_with_their_mask():
    data = echo_data(lengths=[10, 4, 7, 1, 9, 10] * 8)
    net = elman()
    trainer = Trainer(net, data, TrainingSettings(optimizer="sgd", learning_rate=0.1,
                                                  batch_size=5, sequence_loss="last",
                                                  bptt_steps=3, clip_norm=0.5))
    trainer.step()
    trainer.step()
    rows = trainer.last_batch_rows()
    assert len(rows) == 5  # sequences, not time steps
    before = trainer.plan.flatten(trainer._spare)  # the parameters the second step started from
    x, y, mask = data.x_train[rows], data.y_train[rows], data.mask_train[rows]
    loss, grads = sequence_loss_and_gradients(trainer.plan, trainer.plan.unflatten(before),
                                              x, y, mask, "mse", "last", 3)
    assert trainer.batch_loss.y[-1] == pytest.approx(loss, rel=1e-12)
    g = trainer.plan.flatten(grads)
    norm = float(np.sqrt(g @ g))
    assert norm > 0.5  # so clipping by norm acted
    expected = before - 0.1 * g * (0.5 / norm)
    np.testing.assert_allclose(trainer.plan.flatten(trainer.params), expected, rtol=1e-12,
                               atol=1e-15)


@pytest.mark.parametrize("kind", ["every", "last"])
def test_evaluation_is_the_sequence_loss_over_the_whole_sets(kind):
    data = echo_data(lengths=[10, 3, 6, 8] * 12)
    trainer = Trainer(elman(), data, adam(sequence_loss=kind))
    for _ in range(5):
        trainer.step()
    ev = trainer.evaluate()
    plan, params = trainer.plan, trainer.params
    assert ev.train_loss == pytest.approx(sequence_loss(plan, params, data.x_train, data.y_train,
                                                        data.mask_train, "mse", kind), rel=1e-12)
    assert ev.test_loss == pytest.approx(sequence_loss(plan, params, data.x_test, data.y_test,
                                                       data.mask_test, "mse", kind), rel=1e-12)


def test_sequence_classification_reports_accuracy_over_the_steps_the_loss_reads():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(20, 6, 1))
    y = (np.cumsum(x, axis=1) > 0).astype(float)  # the sign of the running sum
    data = Dataset(x[:16], y[:16], x[16:], y[16:], "classification", ["x"], ["s"])
    net = elman()
    net.set_activation([n.id for n in net.outputs][0], "sigmoid")
    trainer = Trainer(net, data, adam(loss="bce", batch_size=0))
    for _ in range(300):
        trainer.step()
    ev = trainer.evaluate()
    a = trainer.plan  # the predictions, counted here from the engine's outputs
    from core.engine.recurrent import sequence_predict
    predicted = sequence_predict(a, trainer.params, data.x_train) > 0.5
    assert ev.train_accuracy == pytest.approx(np.mean(predicted == (data.y_train > 0.5)))
    assert ev.train_accuracy > 0.9


def test_recurrent_training_refusals_say_what_to_do():
    rows = Dataset(np.zeros((4, 1)), np.zeros((4, 1)), np.zeros((0, 1)), np.zeros((0, 1)),
                   "regression", ["x"], ["y"])
    with pytest.raises(TrainingError, match="delayed edges .* learns from sequences"):
        Trainer(elman(), rows, TrainingSettings())
    trainer = Trainer(elman(), echo_data(), TrainingSettings())
    assert trainer.compiled_path() == "sequence data steps through time in NumPy"


def test_the_compiled_path_says_why_a_recurrent_plan_does_not_take_it():
    from core.engine import compile_plan
    from core.engine.compiled import unavailable
    assert unavailable(compile_plan(elman()), TrainingSettings()) == \
        "a recurrent net steps through time in NumPy"


def test_sequence_settings_are_validated_and_written_only_when_set():
    assert "sequence_loss" not in TrainingSettings().to_dict()
    assert "bptt_steps" not in TrainingSettings().to_dict()
    s = TrainingSettings(sequence_loss="last", bptt_steps=20)
    assert TrainingSettings.from_dict(s.to_dict()) == s
    assert s.to_dict()["sequence_loss"] == "last" and s.to_dict()["bptt_steps"] == 20
    with pytest.raises(SettingsError, match="training.sequence_loss must be one of every, "
                                            "last, not 'first'"):
        TrainingSettings.from_dict({"sequence_loss": "first"})
    with pytest.raises(SettingsError, match="training.bptt_steps must be between 0 and "
                                            "1e\\+06, not -1"):
        TrainingSettings.from_dict({"bptt_steps": -1})
    with pytest.raises(SettingsError, match="training.bptt_steps must be a whole number"):
        TrainingSettings.from_dict({"bptt_steps": 2.5})


@pytest.fixture
def recurrent_file(tmp_path, monkeypatch):
    """A recurrent project on echo sequences (the data comes from this test: sequence
    generators are not this module's to test)."""
    import core.data.dataset
    monkeypatch.setattr(core.data.dataset, "make_dataset",
                        lambda settings, base=None: echo_data(lengths=[10, 5, 8] * 16))
    path = tmp_path / "echo.json"
    save_project(Project(elman(), training=adam(epochs=100, clip_norm=1.0)), path)
    return path


def test_train_command_trains_a_recurrent_project(recurrent_file, tmp_path):
    out, err = io.StringIO(), io.StringIO()
    target = tmp_path / "trained.json"
    assert cli.main(["train", str(recurrent_file), "-o", str(target), "--quiet"], out, err) == 0, \
        err.getvalue()
    last = out.getvalue().strip().splitlines()[-1]
    assert last.startswith("after 100 epochs: train loss")
    trained = json.loads(target.read_text())
    assert sum(e.get("delay", 0) for e in trained["edges"]) == 16  # the delays are kept
    train_loss = float(last.split("train loss ")[1].split(",")[0])
    assert train_loss < 0.05


def test_gradcheck_command_checks_a_recurrent_project(recurrent_file):
    out, err = io.StringIO(), io.StringIO()
    assert cli.main(["gradcheck", str(recurrent_file)], out, err) == 0, out.getvalue()
    assert out.getvalue().startswith("OK: largest relative error")
    assert "8 sequences of 10 steps, the loss at every step" in out.getvalue()


def test_gradcheck_command_fails_when_bptt_is_wrong(recurrent_file, monkeypatch):
    import core.gradcheck
    real = core.gradcheck.sequence_loss_and_gradients

    def truncated(*args, **kw):  # what truncation to one step would give: not the gradient
        return real(*args[:6], bptt_steps=1)
    monkeypatch.setattr(core.gradcheck, "sequence_loss_and_gradients", truncated)
    out = io.StringIO()
    assert cli.main(["gradcheck", str(recurrent_file)], out, io.StringIO()) == 1
    assert out.getvalue().startswith("FAILED")


# (curvature and export handle recurrent projects: tests/core/test_recurrent_curvature.py,
# tests/core/test_export_recurrent.py)


def test_clipping_by_norm_is_what_keeps_an_exploding_recurrence_finite():
    """A self-loop of weight 1.5 on a linear neuron over 40 steps: the gradient grows like
    1.5^40; clipped by norm, the step is bounded."""
    net = Network()
    x = net.add_neuron("input").id
    o = net.add_neuron("output", "identity").id
    net.connect(x, o, 1.0)
    net.connect(o, o, 1.5, delay=1)
    data = Dataset(np.ones((2, 40, 1)), np.zeros((2, 40, 1)), np.zeros((0, 40, 1)),
                   np.zeros((0, 40, 1)), "regression", ["x"], ["y"])
    trainer = Trainer(net, data, TrainingSettings(optimizer="sgd", learning_rate=0.01,
                                                  clip_norm=1.0, momentum=0.0))
    info = trainer.step()
    assert info.gradient_norm > 1e6  # the norm before clipping
    moved = np.abs(trainer.plan.flatten(trainer.params) - [1.0, 1.5, 0.0])
    assert np.linalg.norm(moved) == pytest.approx(0.01, rel=1e-9)


def test_the_training_process_loop_runs_a_recurrent_net_on_sequences(monkeypatch):
    """The loop the window's training process runs: steps, an epoch and its progress report
    (evaluation, neuron health, gradients) on a recurrent net, each held to a Trainer."""
    import queue

    from core.training.loop import TrainingLoop
    from tests.core.test_training_loop import Replies
    monkeypatch.setenv("BACKPROP_ENGINE", "numpy")
    data, settings = echo_data(lengths=[10, 6] * 24), adam(sequence_loss="last", bptt_steps=4)
    commands = queue.Queue()
    for command in (("steps", 3), ("epoch",), ("quit",)):
        commands.put(command)
    replies = Replies()
    TrainingLoop(commands, replies, elman(), data, settings, 0).loop()
    progress = [m[2] for m in replies.of("progress")]
    assert [p.step for p in progress] == [3, 6]  # 36 sequences in batches of 12: 3 a epoch
    reference = Trainer(elman(), data, settings)
    for _ in range(6):
        reference.step()
    np.testing.assert_array_equal(progress[-1].theta, reference.plan.flatten(reference.params))
    assert progress[-1].evaluation == reference.evaluate()
    assert not replies.of("error")


def test_max_norm_bounds_each_neurons_ordinary_and_delayed_weights_together():
    net = elman(hidden=3)
    for e in net.edges.values():
        net.set_weight(e.id, 2.0)
    trainer = Trainer(net, echo_data(), TrainingSettings(max_norm=1.0, learning_rate=1e-9))
    trainer.step()
    trainer.sync_network()
    for h in (n.id for n in net.neurons.values() if n.role != "input"):
        incoming = [e.weight for e in net.incoming(h)]
        assert np.linalg.norm(incoming) == pytest.approx(1.0, rel=1e-6)  # was 2 sqrt(4) or more


def test_float32_training_on_sequences_follows_float64():
    data = echo_data(lengths=[10, 7, 3] * 16)
    runs = {}
    for precision in ("float64", "float32"):
        trainer = Trainer(elman(), data, adam(precision=precision))
        runs[precision] = [trainer.step().loss for _ in range(5)]
        assert trainer.params.biases.dtype == np.dtype(precision)
    np.testing.assert_allclose(runs["float32"], runs["float64"], rtol=1e-4)


def test_gradcheck_command_says_it_checks_full_bptt_when_training_truncates(tmp_path,
                                                                            monkeypatch):
    import core.data.dataset
    monkeypatch.setattr(core.data.dataset, "make_dataset",
                        lambda settings, base=None: echo_data(lengths=[10, 5, 8] * 16))
    path = tmp_path / "echo.json"
    save_project(Project(elman(), training=adam(sequence_loss="last", bptt_steps=5)), path)
    out = io.StringIO()
    assert cli.main(["gradcheck", str(path)], out, io.StringIO()) == 0, out.getvalue()
    first, second = out.getvalue().strip().splitlines()
    assert "8 sequences of 10 steps, the loss at last step" in first
    assert second == ("(checked: full backpropagation through time; training truncates it to "
                      "5 steps, which is not this loss's gradient)")
