"""Project files: round trips, every refusal's message, atomic saving, hostile input."""
import json
import os
import time
from dataclasses import replace

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core import files as files_module
from core.project import (MAX_NEURONS, Project, ProjectError, dumps_project, json_slices,
                          load_project, loads_project, save_project)
from core.templates import TEMPLATES, xor


def test_round_trip_through_a_file_keeps_everything(tmp_path):
    for name, template in TEMPLATES.items():
        original = template.build()
        path = tmp_path / f"{name}.json"
        save_project(original, path)
        loaded = load_project(path)
        assert loaded.same_as(original)
        assert list(loaded.network.neurons) == list(original.network.neurons)
        assert dumps_project(loaded) == path.read_text()


def valid():
    return json.loads(dumps_project(xor()))


def mutate(edit):
    data = valid()
    edit(data)
    return json.dumps(data)


@pytest.mark.parametrize("edit, message", [
    (lambda d: d["neurons"][2].update(bias="big"), "neurons[2].bias must be a number"),
    (lambda d: d["neurons"][1].pop("role"), "neurons[1] has no 'role'"),
    (lambda d: d["neurons"][0].update(role="wizard"), "neurons[0].role must be one of"),
    (lambda d: d["neurons"][0].update(colour="red"), "neurons[0].colour is not a known field"),
    (lambda d: d["edges"][0].update(target="n42"), "edges[0]: there is no neuron 'n42'"),
    (lambda d: d["edges"].append({"id": "e99", "source": "n5", "target": "n3"}),
     "edges[6]: y is an output neuron"),
    (lambda d: d["edges"].extend([{"id": "e98", "source": "n4", "target": "n3"},
                                  {"id": "e99", "source": "n3", "target": "n4"}]),
     "edges[7]: connecting n3 to n4 would close a cycle (n4 -> n3 -> n4)"),
    (lambda d: d["neurons"].append(dict(d["neurons"][0])), "neurons[5]: the id 'n1' is already in use"),
    (lambda d: d.update(format=2), "format 2 was made by a newer version"),
    (lambda d: d.pop("format"), "no \"format\" field"),
    (lambda d: d["training"].update(learning_rate=-1), "training.learning_rate must be between"),
    (lambda d: d["data"].update(generator="mnist"), "data.generator"),
])
def test_refusals_name_the_bad_field(edit, message):
    with pytest.raises(ProjectError) as info:
        loads_project(mutate(edit), "xor.json")
    assert str(info.value).startswith("xor.json: ") and message in str(info.value), str(info.value)


@pytest.mark.parametrize("text, message", [
    ("", "empty"), ("[1, 2]", "JSON object"), ("{\"format\": 1,", "not JSON (line 1"),
    ("{\"format\": NaN}", "NaN is not allowed"), ("{\"format\": 1e999}", "too large"),
    ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
])
def test_not_a_project(text, message):
    with pytest.raises(ProjectError, match=message.replace("(", r"\(")):
        loads_project(text, "x.json")


def test_too_many_neurons_is_refused_quickly():
    neurons = ",".join(f'{{"id":"n{i}","role":"hidden"}}' for i in range(1_000_000))
    text = f'{{"format":1,"neurons":[{neurons}],"edges":[]}}'
    start = time.perf_counter()
    with pytest.raises(ProjectError, match=f"1,000,000 neurons; the limit is {MAX_NEURONS:,}"):
        loads_project(text)
    assert time.perf_counter() - start < 10  # generous: the real bound is issue 7's 2 s


def test_large_graphs_use_the_fast_path_with_the_same_messages():
    data = valid()
    for i in range(3000):
        data["neurons"].append({"id": f"h{i}", "role": "hidden"})
        data["edges"].append({"id": f"x{i}", "source": "n1", "target": f"h{i}"})
    loads_project(json.dumps(data))  # fine
    data["edges"][1000]["weight"] = "heavy"
    with pytest.raises(ProjectError, match=r"edges\[1000\].weight must be a number"):
        loads_project(json.dumps(data))


def test_atomic_save_leaves_the_old_file_intact_when_writing_fails(tmp_path, monkeypatch):
    path = tmp_path / "p.json"
    save_project(xor(), path)
    before = path.read_bytes()

    real_fdopen = os.fdopen

    class Failing:
        def __init__(self, f):
            self.f = f

        def write(self, text):
            self.f.write(text[: len(text) // 2])
            raise OSError(28, "No space left on device")

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.f.close()

    monkeypatch.setattr(files_module.os, "fdopen", lambda *a, **k: Failing(real_fdopen(*a, **k)))
    changed = xor()
    changed.title = "changed"
    with pytest.raises(OSError) as info:
        save_project(changed, path)
    # The error names the user's file, not the temporary one, and says what went wrong.
    assert info.value.filename == str(path) and info.value.strerror == "No space left on device"
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["p.json"]


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(json_values)
def test_random_json_loads_or_gives_a_project_error(value):
    try:
        assert isinstance(loads_project(json.dumps(value)), Project)
    except ProjectError:
        pass


@settings(max_examples=150, deadline=None)
@given(st.data())
def test_mutated_valid_files_load_or_give_a_project_error(data):
    doc = valid()
    for _ in range(data.draw(st.integers(1, 3))):
        section = data.draw(st.sampled_from(["neurons", "edges", "data", "training", "goal"]))
        if section in ("neurons", "edges"):
            item = data.draw(st.sampled_from(doc[section]))
            key = data.draw(st.sampled_from(sorted(item)))
            item[key] = data.draw(json_values)
        else:
            doc[section] = data.draw(json_values)
    start = time.perf_counter()
    try:
        loads_project(json.dumps(doc))
    except ProjectError:
        pass
    assert time.perf_counter() - start < 2


def test_very_long_strings_are_refused_quickly():
    for field, value in (("label", "x" * 5_000_000), ("id", "n" * 1_000_000)):
        doc = valid()
        doc["neurons"][0][field] = value
        start = time.perf_counter()
        with pytest.raises(ProjectError, match=f"neurons\\[0\\].{field} must have at most 200"):
            loads_project(json.dumps(doc))
        assert time.perf_counter() - start < 2


@pytest.mark.parametrize("name", sorted(TEMPLATES))
@pytest.mark.parametrize("per_slice", [1, 3, 500])
def test_json_in_slices_is_the_saved_projects_data(name, per_slice):
    """The autosave's pieces, joined, hold exactly what a save writes (only the spacing
    differs), for every example, a label full of JSON's own characters included."""
    project = TEMPLATES[name].build()
    project.title = 'a "title", with {braces} and \\ and \u00e9'
    first = next(iter(project.network.neurons))
    project.network.set_label(first, '"edges": [], }{')
    pieces = list(json_slices(project, per_slice))
    assert len(pieces) == 2 + -(-len(project.network.edges) // per_slice)
    text = "".join(pieces)
    assert json.loads(text) == json.loads(dumps_project(project))
    assert loads_project(text).same_as(project)


def test_json_in_slices_keeps_the_project_as_it_was_when_asked():
    """Edits and training frames after the pieces were asked for do not reach them."""
    from core.initializers import initialize
    from core.templates import layered

    project = Project(layered([30, 20, 5]))
    project.network.set_values(*initialize(project.network, "he", 0))
    expected = json.loads(dumps_project(project))
    pieces = json_slices(project, 50)
    text = next(pieces)
    net = project.network
    net.set_values(*initialize(net, "he", 1))  # a training frame
    net.remove_items([net.by_role("hidden")[0].id])  # a structure edit
    net.set_edge_frozen(next(iter(net.edges)), True)
    project.title = "renamed"
    text += "".join(pieces)
    assert json.loads(text) == expected


def test_json_in_slices_writes_kept_runs_in_bounded_pieces():
    """A project with kept runs holding their weights: the pieces join to what a save
    writes, no piece holds a run's weights whole, and a run added after the pieces were
    asked for does not reach them."""
    from core.experiments.run import Run, RunWeights
    from core.initializers import initialize
    from core.templates import layered

    project = Project(layered([40, 30, 5]))
    net = project.network
    net.set_values(*initialize(net, "he", 0))
    for seed in range(3):
        run = Run.starting(net, project.data, project.training)
        project.runs.add(replace(run, weights=RunWeights.of(net)))
    expected = json.loads(dumps_project(project))
    pieces = json_slices(project, 20)
    project.runs.add(Run.starting(net, project.data, project.training))
    text = "".join(pieces)
    assert json.loads(text) == expected
    assert len(expected["runs"]) == 3
    longest_weights = max(len(json.dumps(r["weights"]["edges"])) for r in expected["runs"])
    assert max(len(p) for p in json_slices(project, 20)) < longest_weights / 2
