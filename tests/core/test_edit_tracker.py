"""The one account of a run's edits (core.training.edit_tracker), shared by the Trainer and the
window's TrainingController."""
from core.network import Network
from core.training.edit_tracker import EditTracker
from tests.core.test_training import small_net


def test_value_edits_are_recorded_by_id_and_structure_edits_as_structural():
    net = small_net()
    tracker = EditTracker(net)
    eid = next(iter(net.edges))
    net.set_weight(eid, 1.5)
    assert tracker.edited == {eid} and not tracker.structural
    n = net.add_neuron("hidden", "tanh")
    assert tracker.edited == {eid, n.id} and tracker.structural
    assert tracker.take() == (frozenset({eid, n.id}), True)
    assert not tracker.pending() and tracker.edited == set()


def test_values_and_reset_edit_every_item():
    net = small_net()
    tracker = EditTracker(net)
    net.set_values({next(iter(net.edges)): 0.5}, {})
    everything = set(net.edges) | set(net.neurons)
    assert tracker.edited == everything and not tracker.structural
    tracker.clear()
    net.replace_with(small_net(seed=4))
    assert tracker.edited == everything and tracker.structural


def test_our_own_writes_are_not_edits_and_are_not_noticed():
    net = small_net()
    tracker = EditTracker(net)
    noticed = []
    tracker.noticed.connect(noticed.append)
    with tracker.ours():
        net.set_values({e: 0.0 for e in net.edges}, {})
    assert not tracker.pending() and noticed == []
    net.set_bias(net.outputs[0].id, 2.0)
    assert [c.kind for c in noticed] == ["neuron_changed"]


def test_edits_made_elsewhere_are_marked_and_close_stops_listening():
    net = Network()
    tracker = EditTracker(net)
    tracker.mark({"e9"}, structural=False)
    tracker.mark(set(), structural=True)
    assert tracker.take() == (frozenset({"e9"}), True)
    tracker.close()
    net.add_neuron("input")
    assert not tracker.pending()
