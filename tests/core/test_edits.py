"""Every edit's apply / revert / re-apply round trip restores the document exactly."""
import pytest

from core.edits import (AddNeuron, Compound, Connect, ConnectMany, MoveNeurons, RemoveItems,
                        ReplaceNetwork, SetValue, SetValues, values_of)
from core.network import Neuron
from core.templates import layered, xor


def edits_for(net):
    h = [n.id for n in net.neurons.values() if n.role == "hidden"]
    e = list(net.edges)
    return [
        AddNeuron(Neuron("n99", "hidden", "relu", 0.5, "new", 10, 20), index=1),
        RemoveItems([h[0]], [e[-1]]),
        Connect("n1", "n5", 0.7, "e50"),
        ConnectMany([("n1", "n90"), ("n90", "n5")], [0.1, 0.2]),
        SetValue("weight", e[0], net.edges[e[0]].weight, 3.5),
        SetValue("activation", h[1], "sigmoid", "tanh"),
        SetValue("frozen", h[1], False, True),
        SetValue("label", h[1], "", "hidden!"),
        SetValue("edge_frozen", e[1], False, True),
        MoveNeurons({h[0]: (net.neurons[h[0]].x, net.neurons[h[0]].y)}, {h[0]: (500.0, 5.0)}),
        SetValues(values_of(net), ({e[0]: 9.0}, {h[0]: -1.0})),
        ReplaceNetwork(net.copy(), layered([3, 2, 1])),
    ]


@pytest.mark.parametrize("index", range(12))
def test_apply_revert_reapply(index):
    net = xor().network
    if index == 3:
        net.add_neuron("hidden", id="n90")
    edit = edits_for(net)[index]
    before = net.copy()
    edit.apply(net)
    after = net.copy()
    assert not after.same_as(before)
    edit.revert(net)
    assert net.same_as(before)
    edit.apply(net)
    assert net.same_as(after)


def test_remove_restores_edge_order_and_ids():
    net = xor().network
    before = net.copy()
    edit = RemoveItems(["n3", "n4"], [])
    edit.apply(net)
    assert len(net.edges) == 0
    edit.revert(net)
    assert list(net.edges) == list(before.edges) and net.same_as(before)


def test_weight_edits_merge_into_one_step():
    net = xor().network
    first = SetValue("weight", "e1", net.edges["e1"].weight, 1.0)
    assert first.merge(SetValue("weight", "e1", 1.0, 2.0))
    assert not first.merge(SetValue("weight", "e2", 0.0, 2.0))
    assert first.new == 2.0


def test_compound_reverts_in_reverse_order():
    net = xor().network
    before = net.copy()
    edit = Compound([AddNeuron(Neuron("n7", "hidden")), Connect("n1", "n7", 0.5, "e9")])
    edit.apply(net)
    edit.revert(net)
    assert net.same_as(before)


def test_replace_project_swaps_network_and_settings_together_and_back():
    from core.edits import ReplaceProject
    from core.project import Project
    from core.templates import softmax3, xor

    project = xor()
    original = project.to_dict()
    events = []
    project.network.changed.connect(lambda change: events.append(
        (change.kind, project.training.loss)))  # settings are in place when the event comes
    edit = ReplaceProject(project, project.snapshot(), softmax3().snapshot(), "Template")
    edit.apply(project.network)
    assert project.to_dict() == softmax3().to_dict()
    assert events == [("reset", "softmax_ce")]
    edit.revert(project.network)
    assert project.to_dict() == original and events[-1] == ("reset", "mse")
    edit.apply(project.network)  # redo gives the same document again
    assert project.to_dict() == softmax3().to_dict()
    project.replace_with(Project())
    assert project.network.new_id("n") == "n1"  # ids restart with each document


def test_undoing_a_deletion_on_a_big_net_restores_every_edge_in_order_fast():
    """784-64-10: a hidden neuron's 794 edges come back with their ids, weights, frozen
    flags and places, in one event (one connect per edge scanned all 51k edges each)."""
    import time

    net = layered([784, 64, 10])
    hidden = net.by_role("hidden")
    for k, e in enumerate(list(net.edges.values())[::97]):
        net.set_weight(e.id, 0.001 * k)
        net.set_edge_frozen(e.id, k % 2 == 0)
    before = net.copy()
    events = []
    net.changed.connect(events.append)
    edit = RemoveItems([hidden[3].id, hidden[40].id], [])
    edit.apply(net)
    assert len(net.edges) == len(before.edges) - 2 * (784 + 10)
    events.clear()
    start = time.perf_counter()
    edit.revert(net)
    assert time.perf_counter() - start < 1.0
    assert net.same_as(before)
    assert [e.kind for e in events] == ["neuron_added", "neuron_added", "edge_added"]
    edit.apply(net)  # redo, then undo again
    edit.revert(net)
    assert net.same_as(before)
