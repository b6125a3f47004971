"""Kept runs (core.experiments): decimated curves, fingerprints, the observable RunLog, and
runs in the project file (round trip, bounds, older and newer files, hostile entries)."""
import json
from dataclasses import replace

import numpy as np
import pytest

from core.errors import RunError
from core.experiments.curve import CURVE_POINTS, Curve, decimate
from core.experiments.run import (MAX_RUN_PARAMETERS, Run, RunWeights, structure_fingerprint,
                                  weights_fingerprint)
from core.experiments.run_log import MAX_RUNS, RunChange, RunLog
from core.project import Project, dumps_project, load_project, loads_project, save_project
from core.settings import DataSettings, TrainingSettings
from core.templates import xor
from core.training.trainer import Evaluation


def a_run(name="Run 1", lr=0.1, seed=0, points=50, project=None) -> Run:
    project = project or xor()
    t = replace(project.training, learning_rate=lr, seed=seed)
    run = Run.starting(project.network, project.data, t, initialised=True, name=name)
    steps = np.arange(points) * 10
    loss = 1.0 / (1.0 + steps)
    curves = {"train_loss": Curve.of(steps, loss), "test_loss": Curve.of(steps, loss * 1.5),
              "train_accuracy": Curve.of(steps, 1 - loss / 2)}
    return replace(run, steps=int(steps[-1]), epochs=int(steps[-1]), seconds=0.25,
                   curves=curves, final=Evaluation(float(loss[-1]), float(loss[-1] * 1.5),
                                                   0.75, None),
                   weights=RunWeights.of(project.network))


# ----- curves -------------------------------------------------------------------------------
def _decimate_by_loops(values: np.ndarray, limit: int) -> list[int]:
    """The decimation rule, written out point by point: first, last, and each bucket's
    minimum and maximum (the first of equal values)."""
    n = len(values)
    buckets = (limit - 2) // 2
    members: dict[int, list[int]] = {}
    for i in range(1, n - 1):
        members.setdefault((i - 1) * buckets // (n - 2), []).append(i)
    keep = {0, n - 1}
    for idx in members.values():
        keep.add(min(idx, key=lambda i: (values[i], i)))
        keep.add(max(idx, key=lambda i: (values[i], -i)))
    return sorted(keep)


@pytest.mark.parametrize("n, limit", [(10, 500), (501, 500), (1000, 500), (12345, 500),
                                      (100, 4), (7, 6)])
def test_decimation_keeps_first_last_and_each_buckets_extremes(n, limit):
    rng = np.random.default_rng(n)
    values = rng.standard_normal(n).cumsum()
    values[n // 3] = 100.0  # a spike that every-k-th sampling would step over
    steps = np.arange(n) * 3
    s, v = decimate(steps, values, limit)
    assert len(s) <= max(limit, n if n <= limit else 0)
    if n <= limit:
        assert np.array_equal(s, steps)
        return
    expected = _decimate_by_loops(values, limit)
    assert s.tolist() == steps[expected].tolist()
    assert v[0] == values[0] and v[-1] == values[-1] and 100.0 in v


def test_a_curve_leaves_out_values_that_are_not_finite():
    c = Curve.of([0, 1, 2, 3], [1.0, np.nan, np.inf, 0.5])
    assert c.steps == (0, 3) and c.values == (1.0, 0.5)


def test_of_points_at_one_step_the_last_is_kept():
    c = Curve.of([0, 0, 5, 5, 9], [3.0, 2.0, 1.5, 1.0, 0.5])
    assert c.steps == (0, 5, 9) and c.values == (2.0, 1.0, 0.5)


def test_a_million_steps_become_a_bounded_curve():
    c = Curve.of(np.arange(1_000_000), np.linspace(1, 0, 1_000_000))
    assert len(c) <= CURVE_POINTS and c.steps[0] == 0 and c.steps[-1] == 999_999


# ----- fingerprints -------------------------------------------------------------------------
def test_the_weights_fingerprint_changes_with_any_weight_or_bias_only():
    net = xor().network
    fp, shape = weights_fingerprint(net), structure_fingerprint(net)
    copy = net.copy()
    assert weights_fingerprint(copy) == fp
    copy.set_weight(next(iter(copy.edges)), 0.123)
    assert weights_fingerprint(copy) != fp and structure_fingerprint(copy) == shape
    copy = net.copy()
    copy.set_bias(copy.outputs[0].id, 0.5)
    assert weights_fingerprint(copy) != fp
    copy = net.copy()
    copy.move_neuron(copy.outputs[0].id, 5.0, 5.0)
    assert weights_fingerprint(copy) == fp and structure_fingerprint(copy) == shape
    copy.set_activation(copy.outputs[0].id, "tanh")
    assert structure_fingerprint(copy) != shape


# ----- the log ------------------------------------------------------------------------------
def test_each_change_to_the_log_is_one_event():
    log, events = RunLog(), []
    log.changed.connect(events.append)
    first = log.add(a_run())
    second = log.add(a_run("Run 2", lr=0.5))
    assert (first.id, second.id) == ("r1", "r2")
    log.rename("r2", "  fast   rate ")
    assert log["r2"].name == "fast rate"
    log.update(replace(log["r1"], steps=99))
    removed = log.remove(["r1"])
    log.insert(removed)
    assert log.ids() == ["r1", "r2"] and log["r1"].steps == 99
    log.replace_with(RunLog())
    assert [e.kind for e in events] == ["added", "added", "renamed", "updated", "removed",
                                        "added", "reset"]
    assert events[4] == RunChange("removed", ("r1",)) and len(log) == 0


def test_the_log_refuses_what_it_cannot_do():
    log = RunLog([a_run()])
    with pytest.raises(RunError, match="there is no run 'r9'"):
        log.rename("r9", "x")
    with pytest.raises(RunError, match="cannot be empty"):
        log.rename("r1", "   ")
    with pytest.raises(RunError, match="at most 200 characters"):
        log.rename("r1", "x" * 201)


def test_ids_are_never_reused_within_a_log_and_names_count_on():
    log = RunLog()
    for _ in range(3):
        log.add(a_run(name=log.next_name()))
    log.remove(["r3"])
    assert log.add(a_run(name=log.next_name())).id == "r4"
    assert [r.name for r in log] == ["Run 1", "Run 2", "Run 3"]
    assert log.add(replace(a_run(), id="r1")).id == "r5"  # a taken id is replaced


def test_the_log_keeps_at_most_max_runs_dropping_the_oldest():
    log, events = RunLog([a_run(points=2)] * MAX_RUNS), []
    assert len(log) == MAX_RUNS
    log.changed.connect(events.append)
    log.add(a_run(points=2))
    assert len(log) == MAX_RUNS and "r1" not in log
    assert events == [RunChange("removed", ("r1",)), RunChange("added", (f"r{MAX_RUNS + 1}",))]


def test_differences_name_the_settings_that_changed_since_the_run_before():
    p = xor()
    log = RunLog([a_run(project=p), a_run(lr=0.5, seed=3, project=p)])
    assert log.differences("r1") == []
    assert log.differences("r2") == [("learning_rate", 0.1, 0.5), ("seed", 0, 3)]
    p.data = replace(p.data, noise=0.3)
    p.network.set_activation(p.network.outputs[0].id, "tanh")
    log.add(a_run(lr=0.5, seed=3, project=p))
    assert [d[0] for d in log.differences("r3")] == ["data.noise", "network"]


# ----- in the project file ------------------------------------------------------------------
def test_runs_round_trip_through_the_project_file(tmp_path):
    project = xor()
    project.runs.add(a_run())
    project.runs.add(replace(a_run("Run 2"), weights=None, final=None, note="diverged"))
    path = tmp_path / "p.json"
    save_project(project, path)
    loaded = load_project(path)
    assert loaded.runs == project.runs and loaded.notes == []
    assert dumps_project(loaded) == path.read_text()


def test_a_project_without_runs_is_written_as_before():
    assert "runs" not in xor().to_dict()
    assert "runs" not in json.loads((_example("xor")))


def test_a_file_written_before_runs_loads_unchanged():
    text = _example("xor")
    project = loads_project(text)
    assert len(project.runs) == 0 and project.notes == []
    written, read = json.loads(dumps_project(project)), json.loads(text)
    assert "runs" not in written
    for key, value in read.items():  # (settings it leaves out are written with their defaults)
        assert written[key] == value or written[key].items() >= value.items(), key


def test_a_newer_versions_runs_load_with_their_new_fields_ignored():
    data = xor().to_dict()
    run = a_run().to_dict()
    run["colour"] = "teal"
    run["curves"]["gradient_norm"] = {"steps": [0], "values": [1.0]}
    data["runs"] = [run]
    project = loads_project(json.dumps(data), "new.json")
    assert len(project.runs) == 1
    assert project.notes == ["new.json: runs[0].colour is not a known field; ignored",
                             "new.json: runs[0].curves.gradient_norm is not a known curve; "
                             "ignored"]


def test_runs_in_a_file_are_bounded():
    data = xor().to_dict()
    small = a_run(points=2).to_dict()
    data["runs"] = [small] * (MAX_RUNS + 3)
    long = a_run(points=2).to_dict()
    long["curves"]["train_loss"] = {"steps": list(range(5000)), "values": [1.0] * 5000}
    data["runs"][-1] = long
    project = loads_project(json.dumps(data), "big.json")
    assert len(project.runs) == MAX_RUNS
    assert len(list(project.runs)[-1].curves["train_loss"]) <= CURVE_POINTS
    assert project.notes == [f"big.json: runs holds {MAX_RUNS + 3:,} runs; the last "
                             f"{MAX_RUNS} were kept"]


def _bad(edit):
    run = a_run().to_dict()
    edit(run)
    return run


@pytest.mark.parametrize("entry, message", [
    ("a run", "runs[0] must be an object"),
    (_bad(lambda r: r.update(id="r" * 201)), "runs[0].id must have at most 200 characters"),
    (_bad(lambda r: r.update(name=7)), "runs[0].name must be text"),
    (_bad(lambda r: r.update(steps=-1)), "runs[0].steps must be a whole number from 0"),
    (_bad(lambda r: r.update(steps=1.5)), "runs[0].steps must be a whole number"),
    (_bad(lambda r: r.update(steps=True)), "runs[0].steps must be a whole number"),
    (_bad(lambda r: r.update(seconds="fast")), "runs[0].seconds must be a number from 0"),
    (_bad(lambda r: r.update(initialised="yes")), "runs[0].initialised must be true or false"),
    (_bad(lambda r: r.update(training=[1])), "runs[0].training must be an object"),
    (_bad(lambda r: r["training"].update(learning_rate={"a": 1})),
     "runs[0].training.learning_rate must be a number, text"),
    (_bad(lambda r: r.update(training={f"k{i}": 1 for i in range(300)})),
     "runs[0].training has more than 200 fields"),
    (_bad(lambda r: r["curves"].update(train_loss=[1, 2])),
     "runs[0].curves.train_loss must be an object"),
    (_bad(lambda r: r["curves"]["train_loss"]["values"].pop()),
     "runs[0].curves.train_loss.steps and runs[0].curves.train_loss.values must be lists of "
     "equal length"),
    (_bad(lambda r: r["curves"]["train_loss"]["steps"].reverse()),
     "runs[0].curves.train_loss.steps must not go down"),
    (_bad(lambda r: r["curves"]["test_loss"]["values"].__setitem__(0, "x")),
     "runs[0].curves.test_loss.values must be finite numbers"),
    (_bad(lambda r: r["final"].update(train_loss=None)),
     "runs[0].final.train_loss must be a number"),
    (_bad(lambda r: r["final"].update(test_accuracy="high")),
     "runs[0].final.test_accuracy must be a number or null"),
    (_bad(lambda r: r.update(weights={"edges": {}})),
     "runs[0].weights must have \"edges\" and \"biases\""),
    (_bad(lambda r: r["weights"]["edges"].update(e1="heavy")),
     "runs[0].weights.edges must map ids to finite numbers"),
    (_bad(lambda r: r["weights"]["edges"].update(
        {f"x{i}": 0.0 for i in range(MAX_RUN_PARAMETERS)})),
     f"runs[0].weights holds more than {MAX_RUN_PARAMETERS:,} values"),
    (_bad(lambda r: r.update(note="x" * 5000)), "runs[0].note must have at most 1000 characters"),
])
def test_a_bad_run_is_dropped_with_one_line_and_the_project_opens(entry, message):
    data = xor().to_dict()
    data["runs"] = [entry, a_run("good").to_dict()]
    project = loads_project(json.dumps(data), "x.json")
    assert [r.name for r in project.runs] == ["good"]
    assert project.notes == [f"x.json: {message}; that run was dropped"] or \
        project.notes[0].startswith(f"x.json: {message}"), project.notes
    assert "\n" not in project.notes[0]


def test_runs_that_are_not_a_list_refuse_the_file_by_name():
    data = xor().to_dict()
    data["runs"] = {"r1": {}}
    with pytest.raises(Exception, match="x.json: runs must be a list"):
        loads_project(json.dumps(data), "x.json")


def test_duplicate_or_missing_run_ids_in_a_file_get_fresh_ones():
    data = xor().to_dict()
    runs = [replace(a_run(n), id="r1").to_dict() for n in "ab"] + [a_run("c").to_dict()]
    del runs[2]["id"]
    data["runs"] = runs
    loaded = loads_project(json.dumps(data)).runs
    assert [r.id for r in loaded] == ["r1", "r2", "r3"]
    assert [r.name for r in loaded] == ["a", "b", "c"]


def test_open_and_snapshots_carry_the_runs():
    project, other = xor(), xor()
    other.runs.add(a_run())
    events = []
    project.runs.changed.connect(events.append)
    project.replace_with(other.snapshot())
    assert len(project.runs) == 1 and events == [RunChange("reset")]
    snap = project.snapshot()
    project.runs.remove(["r1"])
    assert len(snap.runs) == 1  # a snapshot is not reached by later edits


def test_a_project_made_in_code_has_an_empty_log_of_its_own():
    a, b = Project(), Project()
    a.runs.add(a_run())
    assert len(b.runs) == 0
    assert DataSettings() == Project().data and TrainingSettings() == Project().training


def _example(name: str) -> str:
    from pathlib import Path

    return (Path(__file__).resolve().parents[2] / "assets" / "examples" / f"{name}.json").read_text()


# ----- undoable edits -----------------------------------------------------------------------
def test_rename_and_delete_are_undoable_edits():
    from core.experiments.run_edits import DeleteRuns, RenameRun

    project = xor()
    log = project.runs
    for n in ("a", "b", "c"):
        log.add(a_run(n))
    before = log.to_list()
    rename = RenameRun(log, "r2", "b", "best")
    rename.apply(project.network)
    assert log["r2"].name == "best"
    rename.revert(project.network)
    delete = DeleteRuns(log, ["r3", "r1"])
    delete.apply(project.network)
    assert log.ids() == ["r2"] and delete.title == "Delete 2 runs"
    delete.revert(project.network)
    assert log.to_list() == before
    delete.apply(project.network)  # redo after undo
    assert log.ids() == ["r2"]


def test_restoring_a_runs_weights_is_one_undoable_edit():
    from core.edits import values_of
    from core.experiments.run_edits import restore_weights

    project = xor()
    run = a_run(project=project)
    original = values_of(project.network)
    for eid in project.network.edges:
        project.network.set_weight(eid, 0.5)
    edit = restore_weights(project.network, run)
    events = []
    project.network.changed.connect(events.append)
    edit.apply(project.network)
    assert values_of(project.network) == original and len(events) == 1
    edit.revert(project.network)
    assert set(values_of(project.network)[0].values()) == {0.5}


def test_restoring_weights_of_another_network_is_refused_by_name():
    from core.experiments.run_edits import restore_weights

    project = xor()
    run = a_run(project=project)
    project.network.add_neuron("hidden")
    with pytest.raises(RunError, match=r"Run 1's weights are for another network \(neuron n6 "
                                       r"is not in the run\)"):
        restore_weights(project.network, run)
    with pytest.raises(RunError, match="kept no weights"):
        restore_weights(project.network, replace(run, weights=None))
