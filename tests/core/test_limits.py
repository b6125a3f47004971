"""Linear and bounded: memory estimated before allocating, schedules that cannot overflow,
cycle messages cut, gradient checks that report progress and can be cancelled."""
from __future__ import annotations

import io
import time
from dataclasses import replace

import numpy as np
import pytest

import core.training.trainer as training
from core import cli
from core.data.dataset import make_dataset
from core.gradcheck import GradCheckCancelled, check_network
from core.network import Network, NetworkError
from core.optimizers import learning_rate
from core.project import save_project
from core.settings import TrainingSettings
from core.templates import xor
from core.training.trainer import Trainer, TrainingError


def test_a_step_that_cannot_fit_in_memory_is_refused_before_allocating(monkeypatch):
    project = xor()
    data = make_dataset(replace(project.data, samples=4))
    monkeypatch.setattr(training, "physical_memory", lambda: 1000)
    # 4 arrays x 8 bytes x 4 samples x 5 neurons = 640 bytes, above half of 1000.
    with pytest.raises(TrainingError) as info:
        Trainer(project.network, data, project.training)
    assert str(info.value).startswith("full batch on 4 samples x 5 neurons needs about")
    assert "use a smaller batch size" in str(info.value)
    monkeypatch.setattr(training, "physical_memory", lambda: 1280)  # exactly twice: fits
    Trainer(project.network, data, project.training)


def test_a_batch_size_makes_the_same_data_fit(monkeypatch):
    project = xor()
    project.data = replace(project.data, samples=1000, test_fraction=0.0)
    data = make_dataset(project.data)
    monkeypatch.setattr(training, "physical_memory", lambda: 2 * 4 * 8 * 10 * 5)
    with pytest.raises(TrainingError, match="full batch on 1,000 samples x 5 neurons"):
        Trainer(project.network, data, project.training)
    trainer = Trainer(project.network, data, replace(project.training, batch_size=10))
    trainer.run(steps=3)  # evaluation over all 1,000 samples runs in chunks
    with pytest.raises(TrainingError, match="full batch"):
        trainer.set_settings(replace(project.training, batch_size=0))


def test_chunked_evaluation_equals_the_whole_batch(monkeypatch):
    project = xor()
    project.data = replace(project.data, samples=300, noise=0.2, test_fraction=0.2)
    data = make_dataset(project.data)
    whole = Trainer(project.network.copy(), data, project.training).evaluate()
    monkeypatch.setattr(training, "EVALUATION_BYTES", 16 * 5 * 7)  # 7 rows a chunk
    chunked = Trainer(project.network.copy(), data, project.training).evaluate()
    assert chunked.train_loss == pytest.approx(whole.train_loss, rel=1e-12)
    assert chunked.test_loss == pytest.approx(whole.test_loss, rel=1e-12)
    assert chunked.train_accuracy == whole.train_accuracy


@pytest.mark.parametrize("decay", ["step", "exponential"])
def test_growing_schedules_are_capped_instead_of_overflowing(decay):
    s = TrainingSettings(learning_rate=0.1, decay=decay, decay_rate=1e6, decay_steps=1)
    rates = [learning_rate(s, step, 0) for step in (0, 1, 52, 10**6)]
    assert rates[0] == 0.1 and rates[1] == pytest.approx(1e5)
    assert rates[2] == rates[3] == 1e6  # the largest learning rate a setting may hold
    shrinking = TrainingSettings(learning_rate=0.1, decay=decay, decay_rate=0.5, decay_steps=1)
    assert learning_rate(shrinking, 3, 0) == pytest.approx(0.1 * 0.5 ** 3)
    assert learning_rate(shrinking, 10**6, 0) == 0.0


def test_training_past_the_step_where_the_schedule_overflowed(tmp_path):
    project = xor()
    project.training = replace(project.training, decay="step", decay_rate=1e6, decay_steps=1)
    path = tmp_path / "p.json"
    save_project(project, path)
    out, err = io.StringIO(), io.StringIO()
    code = cli.main(["train", str(path), "--epochs", "100", "--quiet"], out, err)
    # Saturated sigmoids keep the weights finite here: the run ends, past step 52.
    assert (code, err.getvalue()) == (0, "") and "after 100 epochs" in out.getvalue()


def _ring(n: int) -> dict:
    neurons = [{"id": "in", "role": "input"}, {"id": "out", "role": "output"}]
    neurons += [{"id": f"h{i}", "role": "hidden"} for i in range(n)]
    edges = [{"id": "a", "source": "in", "target": "h0"}, {"id": "b", "source": "h0", "target": "out"}]
    edges += [{"id": f"e{i}", "source": f"h{i}", "target": f"h{(i + 1) % n}"} for i in range(n)]
    return {"neurons": neurons, "edges": edges}


def test_a_20k_neuron_cycle_is_named_quickly_in_one_short_line():
    start = time.monotonic()
    with pytest.raises(NetworkError) as info:
        Network.from_dict(_ring(19_998))
    message = str(info.value)
    assert time.monotonic() - start < 2
    assert "would close a cycle" in message and "h0 -> h1 -> h2 -> h3 -> ... (19,990 more) -> h19994" in message, message
    assert len(message) < 300
    small = str(pytest.raises(NetworkError, Network.from_dict, _ring(3)).value)
    assert "(h0 -> h1 -> h2 -> h0)" in small  # short cycles are named in full


def test_the_edge_refusal_message_is_cut_too():
    net = Network()
    ids = [net.add_neuron("hidden").id for _ in range(50)]
    for a, b in zip(ids, ids[1:]):
        net.connect(a, b)
    reason = net.edge_refusal(ids[-1], ids[0])
    assert "would close a cycle" in reason and "(42 more)" in reason and len(reason) < 300


def test_gradient_check_reports_progress_and_can_be_cancelled():
    project = xor()
    x = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], float)
    y = np.array([[0], [1], [1], [0]], float)
    seen = []
    result = check_network(project.network, x, y, "mse", progress=lambda d, t: seen.append((d, t)))
    n = len(result.names)
    assert seen == [(k, n) for k in range(1, n + 1)]
    calls = []

    def stop_after_three(done, total):
        calls.append(done)
        return done < 3

    with pytest.raises(GradCheckCancelled, match=f"cancelled after 3 of {n} parameters"):
        check_network(project.network, x, y, "mse", progress=stop_after_three)
    assert calls == [1, 2, 3]


def test_the_cli_progress_bar_shows_counts_and_time_left():
    stream = io.StringIO()
    bar = cli._ProgressBar(1000, stream, unit="parameters")
    bar._start -= 10  # as if ten seconds had passed
    bar._last = 0.0
    bar.update(500)
    assert "500/1,000 parameters, about 10 s left" in stream.getvalue()
    quiet = io.StringIO()
    fast = cli._ProgressBar(5, quiet, unit="parameters")
    for k in range(1, 6):
        fast.update(k)
    fast.close()
    assert quiet.getvalue() == ""  # a check that ends within a second draws nothing


def test_a_network_that_cannot_run_stops_training_with_a_training_error():
    # The window's training process catches TrainingError; anything else would kill it.
    project = xor()
    for n in list(project.network.outputs):
        project.network.set_role(n.id, "hidden")
    data = make_dataset(project.data)
    with pytest.raises(TrainingError, match="no output neuron"):
        Trainer(project.network, data, project.training)
