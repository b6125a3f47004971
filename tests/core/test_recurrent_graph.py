"""Delayed edges in the document: the cycle rule, its refusals, the undoable delay edit, and
files (round trip, older files unchanged)."""
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core import graph
from core.edits import Connect, ConnectMany, RemoveItems, SetValue
from core.errors import NetworkError, ProjectError
from core.experiments.run import structure_fingerprint
from core.network import Network
from core.project import Project, dumps_project
from tests.core.strategies import random_dag, random_recurrent


def elman() -> tuple[Network, str, str, str]:
    """x -> h -> y with h feeding itself through a delay."""
    net = Network()
    x, h, y = (net.add_neuron(r, label=name).id for r, name in
               (("input", "x"), ("hidden", "h"), ("output", "y")))
    net.connect(x, h, 0.5)
    net.connect(h, y, -1.0)
    return net, x, h, y


def test_a_delayed_self_loop_is_allowed_and_an_instant_one_refused():
    net, x, h, y = elman()
    with pytest.raises(NetworkError, match=r"cannot feed itself \(h\) except through a delayed"):
        net.connect(h, h)
    loop = net.connect(h, h, 0.9, delay=1)
    assert loop.delay == 1 and net.is_recurrent
    assert net.depths() == {x: 0, h: 1, y: 2}  # the loop is not a step within the time step


def test_a_cycle_through_a_delay_is_allowed_and_one_without_is_refused_with_its_path():
    net, x, h, y = elman()
    g = net.add_neuron("hidden", label="g").id
    net.connect(h, g, 1.0)
    net.connect(g, h, 1.0, delay=1)  # h -> g -> (delay) h: allowed
    with pytest.raises(NetworkError) as info:
        net.connect(g, h, 1.0)  # the pair exists already
    assert "already connected" in str(info.value)
    k = net.add_neuron("hidden", label="k").id
    net.connect(g, k, 1.0)
    with pytest.raises(NetworkError) as info:
        net.connect(k, h)  # h -> g -> k -> h without a delay
    assert str(info.value) == "connecting k to h would close a cycle (h -> g -> k -> h)"
    net.connect(k, h, delay=1)
    assert net.topological_order().index(h) < net.topological_order().index(k)


def test_only_a_delayed_edge_may_leave_an_output():
    net, x, h, y = elman()
    with pytest.raises(NetworkError, match="y is an output neuron: it can feed other neurons "
                                           "only through a delayed edge"):
        net.connect(y, h)
    net.connect(y, h, 0.3, delay=1)  # a Jordan net's feedback
    with pytest.raises(NetworkError, match="x is an input neuron"):
        net.connect(h, x, delay=1)


@pytest.mark.parametrize("delay", [2, -1, True, 1.0, "1", None])
def test_a_delay_other_than_0_or_1_is_refused(delay):
    net, x, h, y = elman()
    with pytest.raises(NetworkError, match="delay must be 0 or 1"):
        net.connect(h, h, delay=delay)
    with pytest.raises(NetworkError, match="delay must be 0 or 1"):
        net.set_edge_delay(net.find_edge(x, h).id, delay)


def test_the_delay_edit_is_undoable_and_refused_where_an_instant_edge_would_be():
    net, x, h, y = elman()
    g = net.add_neuron("hidden", label="g").id
    net.connect(h, g)
    back = net.connect(g, h, delay=1)
    before = net.to_dict()
    with pytest.raises(NetworkError) as info:
        SetValue("delay", back.id, 1, 0).apply(net)
    assert str(info.value) == ("the edge g -> h needs its delay: without it, it would close "
                               "a cycle (h -> g -> h)")
    assert net.to_dict() == before
    forward = net.find_edge(x, h)
    edit = SetValue("delay", forward.id, 0, 1)
    version = net.structure_version
    edit.apply(net)
    assert forward.delay == 1 and net.structure_version > version  # the plan goes stale
    edit.revert(net)
    assert net.to_dict() == before
    loop = net.connect(h, h, delay=1)
    with pytest.raises(NetworkError, match="cannot feed itself"):
        net.set_edge_delay(loop.id, 0)
    jordan = net.connect(y, g, delay=1)
    with pytest.raises(NetworkError, match="y is an output neuron"):
        net.set_edge_delay(jordan.id, 0)


def test_edits_keep_delays_through_undo_and_redo():
    net, x, h, y = elman()
    connect = Connect(h, h, 0.7, "loop", delay=1)
    connect.apply(net)
    assert connect.title == f"Connect {h} -> {h} (delayed)"
    g = net.add_neuron("hidden").id
    many = ConnectMany([(h, g), (g, h)], [0.1, 0.2], delays=[0, 1])
    many.apply(net)
    after = net.to_dict()
    remove = RemoveItems([h], [])
    remove.apply(net)
    remove.revert(net)  # h's delayed edges come back delayed, in place
    assert net.to_dict() == after
    many.revert(net)
    many.apply(net)
    assert net.to_dict() == after
    connect_cycle = ConnectMany([(y, g), (g, y)], [0.0, 0.0])
    with pytest.raises(NetworkError, match="only through a delayed edge"):
        connect_cycle.apply(net)
    q = net.add_neuron("hidden", label="q").id
    with pytest.raises(NetworkError,
                       match=r"connecting q to h would close a cycle \(h -> q -> h\)"):
        net.connect_many([(h, q), (q, h)])
    net.connect_many([(h, q), (q, h)], delays=[0, 1])
    assert net.find_edge(h, g).delay == 0 and net.find_edge(g, h).delay == 1


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_the_cycle_rule_is_acyclicity_of_the_instant_edges(data):
    """Whatever is tried, an edge is accepted exactly when the edges without a delay stay
    acyclic (with the simple refusals aside), by connect, connect_many and from_dict alike."""
    net = data.draw(random_recurrent())
    others = [n.id for n in net.neurons.values() if n.role != "input"]
    for _ in range(6):
        s, t = data.draw(st.sampled_from(others)), data.draw(st.sampled_from(others))
        delay = data.draw(st.sampled_from([0, 1]))
        trial = net.copy()
        edges = [*graph.instant(trial.edges.values()), *([graph.Arc(s, t)] if not delay else [])]
        acyclic = s != t and graph.is_acyclic(list(trial.neurons), edges)
        simple = trial._simple_refusal(s, t, {(e.source, e.target) for e in trial.edges.values()},
                                       delay)
        reason = net.edge_refusal(s, t, delay)
        assert (reason is None) == (simple is None and (delay == 1 or acyclic))
        bulk = net.copy()
        try:
            bulk.connect_many([(s, t)], [0.5], delays=[delay])
            assert reason is None
        except NetworkError as exc:
            assert str(exc) == reason
        if reason is None:
            net.connect(s, t, 0.5, delay=delay)
            assert Network.from_dict(net.to_dict()).same_as(net)


def test_a_file_round_trips_delays_and_refuses_an_instant_cycle_by_its_index():
    net, x, h, y = elman()
    net.connect(h, h, 0.9, delay=1)
    net.connect(y, h, -0.2, delay=1)
    project = Project(net)
    text = dumps_project(project)
    data = json.loads(text)
    assert data["format"] == 1
    assert [e.get("delay", 0) for e in data["edges"]] == [0, 0, 1, 1]
    again = Project.from_dict(json.loads(text))
    assert again.same_as(project) and again.network.find_edge(h, h).delay == 1
    bad = json.loads(text)
    bad["edges"][3]["delay"] = 0  # y -> h without a delay: an output feeding on
    with pytest.raises(ProjectError, match=r"edges\[3\]: y is an output neuron"):
        Project.from_dict(bad)
    g = {"id": "g", "role": "hidden"}
    bad = json.loads(text)
    bad["neurons"].append(g)
    bad["edges"] += [{"id": "a", "source": h, "target": "g"},
                     {"id": "b", "source": "g", "target": h, "delay": 1},
                     {"id": "c", "source": "g", "target": y}]
    assert Project.from_dict(bad).network.is_recurrent
    bad["edges"][5]["delay"] = 0
    with pytest.raises(ProjectError, match=r"edges\[5\]: connecting g to h would close a cycle "
                                           r"\(h -> g -> h\)"):
        Project.from_dict(bad)
    for wrong, message in ((2, "edges.2.delay must be at most 1|delay must be 0 or 1"),
                           (True, "delay must be"), ("1", "delay must be")):
        bad = json.loads(text)
        bad["edges"][2]["delay"] = wrong
        with pytest.raises(ProjectError, match=message.replace(".2.", r"\[2\]\.")):
            Project.from_dict(bad)


@settings(max_examples=30, deadline=None)
@given(random_dag())
def test_feed_forward_files_and_fingerprints_are_as_before(net):
    """No delay is written where there is none, so a feed-forward file is what it was; its
    structure fingerprint too (the recipe before delayed edges, written out here)."""
    import hashlib
    data = net.to_dict()
    assert all(set(e) == {"id", "source", "target", "weight", "frozen"} for e in data["edges"])
    shape = ([(n.id, n.role, n.activation, n.frozen, n.feature) for n in net.neurons.values()],
             [(e.id, e.source, e.target, e.frozen) for e in net.edges.values()])
    old = hashlib.sha256(json.dumps(shape, default=str).encode()).hexdigest()[:16]
    assert structure_fingerprint(net) == old
    assert not net.is_recurrent


def test_the_delay_changes_the_fingerprint():
    net, x, h, y = elman()
    before = structure_fingerprint(net)
    net.set_edge_delay(net.find_edge(x, h).id, 1)
    assert structure_fingerprint(net) != before


@pytest.mark.parametrize("name", ["chain", "circles", "regression", "softmax3", "spiral", "xor",
                                  "xor.trained"])
def test_the_shipped_example_files_load_and_save_as_they_were(name):
    """Files written before delayed edges existed: the same network and format number when
    saved again, and no delay field or sequence setting added (the settings other versions
    added since the files were written do appear)."""
    from pathlib import Path

    from core.project import load_project
    path = Path(__file__).resolve().parents[2] / "assets" / "examples" / f"{name}.json"
    before = json.loads(path.read_text())
    project = load_project(path)
    assert not project.network.is_recurrent
    again = json.loads(dumps_project(project))
    for key in ("format", "neurons", "edges"):
        assert again[key] == before[key]
    assert not {"sequence_loss", "bptt_steps"} & again["training"].keys()
