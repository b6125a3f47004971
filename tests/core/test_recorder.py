"""Runs recorded from training: RunRecorder fed the Progress messages of the real training
loop (as the window is), and the Run a sweep's job makes; each held to a Trainer run here."""
from dataclasses import replace

import numpy as np
import pytest

from core.data.dataset import make_dataset
from core.experiments.job import Job, SweepBase, run_job
from core.experiments.recorder import RunRecorder
from core.experiments.run import weights_fingerprint
from core.experiments.run_log import RunLog
from core.project import Project, loads_project, dumps_project
from core.settings import DataSettings
from core.templates import spiral
from tests.core.test_training_loop import SETTINGS, drive, reference
from tests.core.test_training import small_net


@pytest.fixture(autouse=True)
def numpy_path(monkeypatch):
    monkeypatch.setenv("BACKPROP_ENGINE", "numpy")  # bit-for-bit against Trainer.step


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def progresses(*commands):
    return [m[2] for m in drive(*commands).of("progress")]


def take(net, p) -> None:
    """What the window does with a Progress: its values into the document."""
    net.set_values(dict(zip(p.edge_ids, p.weights.tolist())),
                   dict(zip(p.bias_ids, p.biases.tolist())))


def test_a_run_paused_and_resumed_unchanged_is_one_run_with_the_trainers_numbers():
    net, data, clock = small_net(), DataSettings(), Clock()
    start_fp = weights_fingerprint(net)
    log = RunLog()
    rec = RunRecorder(log, clock=clock)
    first, second = progresses(("steps", 5), ("steps", 3))
    rec.start(net, data, SETTINGS, step=0, initialised=True)
    clock.now += 2.0
    rec.observe(first)
    take(net, first)
    rec.stop()
    clock.now += 50.0  # paused: not counted
    rec.start(net, data, SETTINGS, step=first.step)
    clock.now += 1.5
    rec.observe(second)
    take(net, second)
    rec.stop()
    run, = log
    t = reference(8)
    assert (run.name, run.steps, run.seconds, run.initialised) == ("Run 1", 8, 3.5, True)
    assert run.start == start_fp and run.training == SETTINGS.to_dict()
    assert run.final == t.evaluate()
    np.testing.assert_array_equal(list(run.weights.edges.values()),
                                  t.plan.edge_vector(t.params.weights))
    # The curve: the loop's evaluations (at its start and at each reported stretch's end).
    assert run.curves["train_loss"].steps == (0, 5, 8)
    assert run.curves["train_loss"].values == tuple(reference(k).evaluate().train_loss
                                                    for k in (0, 5, 8))


def test_an_edit_between_two_stretches_starts_a_new_run_counted_from_its_start():
    net, data = small_net(), DataSettings()
    log = RunLog()
    rec = RunRecorder(log)
    first, second = progresses(("steps", 5), ("steps", 3))
    rec.start(net, data, SETTINGS)
    rec.observe(first)
    take(net, first)
    rec.stop()
    net.set_weight(next(iter(net.edges)), 0.5)  # the user's edit
    rec.changed(net, data, SETTINGS, step=first.step)
    rec.start(net, data, SETTINGS, step=first.step)
    rec.observe(second)
    rec.stop()
    one, two = log
    assert (one.steps, two.steps) == (5, 3) and two.name == "Run 2"
    assert two.start == weights_fingerprint(net) != one.start
    assert two.curves["train_loss"].steps[0] == 0
    assert log.differences(two.id) == []  # same settings: only the weights differ


def test_a_settings_change_while_running_ends_the_run_there():
    net, data = small_net(), DataSettings()
    log = RunLog()
    rec = RunRecorder(log)
    first, second = progresses(("steps", 5), ("steps", 3))
    rec.start(net, data, SETTINGS)
    rec.observe(first)
    take(net, first)
    faster = replace(SETTINGS, learning_rate=0.2)
    rec.changed(net, data, faster, step=first.step, epoch=first.epoch, running=True)
    rec.observe(second)
    rec.stop()
    one, two = log
    assert (one.steps, two.steps) == (5, 3)
    assert log.differences(two.id) == [("learning_rate", 0.05, 0.2)]
    assert one.weights is not None  # the ended run kept its weights


def test_a_structure_edit_while_running_ends_the_run_and_each_keeps_its_own_shape():
    """The recorder tells a structure edit by the network's structure version (no hash at the
    edit) and fingerprints each run's shape when it is first written: the run before the edit
    keeps the shape it trained, the one after the edited shape, each equal to a fingerprint
    taken at that time; an edit of a neuron's position is not structural and ends nothing."""
    from core.experiments.run import structure_fingerprint

    net, data = small_net(), DataSettings()
    shape_before = structure_fingerprint(net)
    log = RunLog()
    rec = RunRecorder(log)
    first, second = progresses(("steps", 5), ("steps", 3))
    rec.start(net, data, SETTINGS)
    rec.observe(first)
    take(net, first)
    net.move_neuron(next(iter(net.neurons)), 3.0, 4.0)
    rec.changed(net, data, SETTINGS, step=first.step, running=True)
    assert len(log) == 1 and rec.current is not None and rec.current.steps == 5
    hidden = net.add_neuron("hidden", "tanh").id  # the user's structure edit
    rec.changed(net, data, SETTINGS, step=first.step, running=True)
    shape_after = structure_fingerprint(net)
    net.remove_items([hidden])  # and its undo: the shape is as before, the run is not
    rec.changed(net, data, SETTINGS, step=first.step, running=True)
    rec.observe(second)
    rec.stop()
    one, two = log
    assert one.structure == shape_before != shape_after
    assert two.structure == shape_before and two.steps == 3
    assert one.steps == 5


def test_frames_wait_for_a_shape_hashed_elsewhere_and_stop_never_waits():
    """While the window hashes a new run's shape in pieces (shape_pending), frames are kept but
    not written (writing would hash at once); flush() writes them; stop() writes at once."""
    net, data = small_net(), DataSettings()
    log = RunLog()
    rec = RunRecorder(log)
    first, second = progresses(("steps", 5), ("steps", 3))
    rec.start(net, data, SETTINGS)
    assert rec.shape_to_hash is net
    rec.shape_pending = True
    rec.observe(first)
    assert len(log) == 0  # waiting for the pieces
    rec.shape_pending = False
    rec.flush()
    run, = log
    assert run.steps == 5 and run.structure
    rec.observe(second)
    rec.stop()
    assert log[run.id].steps == 8
    rec2 = RunRecorder(RunLog())
    rec2.start(net, data, SETTINGS)
    rec2.shape_pending = True
    rec2.observe(first)
    rec2.stop()  # a pause writes whatever the pieces' state
    assert len(rec2.log) == 1 and rec2.log.runs[0].structure == run.structure


def test_a_new_trainer_counting_from_zero_closes_the_run_and_nothing_is_recorded_unstarted():
    net, data = small_net(), DataSettings()
    log = RunLog()
    rec = RunRecorder(log)
    p, = progresses(("steps", 5))
    rec.observe(p)  # not started: ignored
    assert len(log) == 0
    rec.start(net, data, SETTINGS, step=10)
    rec.observe(p)  # step 5 < 10: another trainer
    assert not rec.open and len(log) == 0


def test_a_run_the_user_deletes_while_it_trains_stays_deleted():
    net, data = small_net(), DataSettings()
    log = RunLog()
    rec = RunRecorder(log)
    first, second = progresses(("steps", 5), ("steps", 3))
    rec.start(net, data, SETTINGS)
    rec.observe(first)
    log.remove(log.ids())
    rec.observe(second)
    rec.stop()
    assert len(log) == 0


def test_a_sweep_jobs_run_is_kept_in_a_project_file_and_restores_its_weights():
    from core.experiments.run_edits import restore_weights

    project = spiral()
    base = SweepBase(project.network.to_dict(), make_dataset(project.data), project.data,
                     project.training, epochs=3)
    run = run_job(base, Job(0, (("learning_rate", 0.05),), seed=4))
    assert run.name == "learning_rate=0.05 seed=4" and run.initialised
    assert run.training["learning_rate"] == 0.05 and run.seed == 4 and run.epochs == 3
    run = project.runs.add(run)
    loaded = loads_project(dumps_project(project))
    assert loaded.runs == project.runs
    restore_weights(loaded.network, loaded.runs[run.id]).apply(loaded.network)
    assert {e.id: e.weight for e in loaded.network.edges.values()} == run.weights.edges
    assert isinstance(loaded, Project)


def test_the_structure_fingerprint_is_remembered_per_version_and_follows_edits():
    """The cached fingerprint is the one hashed afresh, before and after a structure edit,
    and another network of the same shape gets the same fingerprint."""
    from core.experiments import run as run_module
    from core.templates import layered

    net = layered([3, 4, 2])
    first = run_module.structure_fingerprint(net)
    assert run_module.structure_fingerprint(net) == first
    twin = layered([3, 4, 2])
    assert run_module.structure_fingerprint(twin) == first
    net.set_edge_frozen(next(iter(net.edges)), True)
    after = run_module.structure_fingerprint(net)
    assert after != first
    run_module._last_structure[:] = [lambda: None, -1, ""]  # forget: hash afresh
    assert run_module.structure_fingerprint(net) == after


def test_the_remembered_fingerprint_after_any_edit_is_the_one_hashed_afresh():
    """The edges' part of the text is remembered per edges' shape: after each edit of a random
    sequence (neurons added, removed, changed; edges added, removed, frozen, delayed; undo of a
    removal; Open) the fingerprint equals the recipe written out here, hashed from scratch."""
    import hashlib
    import json
    import random

    from core.errors import NetworkError
    from core.experiments.run import structure_fingerprint
    from core.templates import layered

    def afresh(net) -> str:
        shape = ([(n.id, n.role, n.activation, n.frozen, n.feature)
                  for n in net.neurons.values()],
                 [(e.id, e.source, e.target, e.frozen, *((e.delay,) if e.delay else ()))
                  for e in net.edges.values()])
        return hashlib.sha256(json.dumps(shape, default=str).encode()).hexdigest()[:16]

    rng = random.Random(7)
    net = layered([3, 4, 2])
    seen, removed = set(), []
    for _ in range(120):
        ids, edges = list(net.neurons), list(net.edges)
        kind = rng.randrange(8)
        try:
            if kind == 0:
                net.add_neuron("hidden", "tanh")
            elif kind == 1:
                net.connect(rng.choice(ids), rng.choice(ids), 0.1, delay=rng.choice([0, 1]))
            elif kind == 2 and edges:
                net.set_edge_frozen(rng.choice(edges), rng.random() < 0.5)
            elif kind == 3 and edges:
                net.set_edge_delay(rng.choice(edges), rng.choice([0, 1]))
            elif kind == 4:
                removed.append(net.remove_items([rng.choice(ids)]))
            elif kind == 5 and removed:
                net.restore_edges([(i, e) for i, e in removed.pop()[1]
                                   if e.source in net.neurons and e.target in net.neurons])
            elif kind == 6:
                net.set_activation(rng.choice(ids), rng.choice(["relu", "tanh"]))
            elif kind == 7:
                net.replace_with(layered([3, rng.randrange(2, 6), 2]))
        except NetworkError:
            continue  # a refused edit (a cycle, a duplicate): nothing changed
        fingerprint = structure_fingerprint(net)
        assert fingerprint == afresh(net)
        seen.add(fingerprint)
    assert len(seen) > 40  # the edits did change the shape, many times


@pytest.mark.parametrize("chunk", [1, 3, 7, 10_000])
def test_the_fingerprint_made_in_pieces_is_the_one_made_at_once(chunk):
    """structure_fingerprint_job (the window runs it between events) remembers what
    structure_fingerprint computes at once; an edit while it runs leaves nothing stale."""
    from core.experiments import run as run_module
    from core.experiments.run import structure_fingerprint, structure_fingerprint_job
    from core.templates import layered

    def forget():
        run_module._last_structure[:] = [lambda: None, -1, ""]
        run_module._last_edges[:] = [lambda: None, (-1, -1), ""]

    net = layered([4, 5, 3])
    net.connect(net.outputs[0].id, net.outputs[0].id, delay=1)
    forget()
    expected = structure_fingerprint(net)
    forget()
    steps = sum(1 for _ in structure_fingerprint_job(net, chunk))
    assert steps >= len(net.edges) // chunk  # it did yield between pieces
    assert run_module._last_structure[2] == expected  # remembered: the next call is free
    assert structure_fingerprint(net) == expected
    # An edit half way: the job ends, and what is asked next is the edited net's.
    forget()
    job = structure_fingerprint_job(net, chunk)
    next(job)
    net.set_edge_frozen(next(iter(net.edges)), True)
    assert sum(1 for _ in job) <= 1
    edited = structure_fingerprint(net)
    forget()
    assert edited == structure_fingerprint(net) != expected
