"""The document: refusals and their messages, removal that undo can reverse exactly, events."""
import gc

import pytest

from core.events import Signal
from core.network import Network, NetworkError


def chain3():
    net = Network()
    a = net.add_neuron("input", label="x").id
    b = net.add_neuron("hidden", "tanh", label="h").id
    c = net.add_neuron("output", label="y").id
    net.connect(a, b, 0.5)
    net.connect(b, c, -1.0)
    return net, a, b, c


@pytest.mark.parametrize("edit, message", [
    (lambda n, a, b, c: n.connect(b, b), "cannot feed itself (h)"),
    (lambda n, a, b, c: n.connect(a, b), "x is already connected to h"),
    (lambda n, a, b, c: n.connect(b, a), "x is an input neuron"),
    (lambda n, a, b, c: n.connect(c, b), "y is an output neuron"),
    (lambda n, a, b, c: n.add_neuron("wizard"), "unknown role 'wizard'"),
    (lambda n, a, b, c: n.set_activation(b, "swish"), "unknown activation 'swish'"),
    (lambda n, a, b, c: n.set_weight("e1", float("nan")), "finite number"),
    (lambda n, a, b, c: n.set_bias(b, "heavy"), "must be a number"),
    (lambda n, a, b, c: n.connect(a, "n99"), "no neuron 'n99'"),
    (lambda n, a, b, c: n.set_role(a, "output"), "has outgoing edges"),
])
def test_refusals_name_the_neurons(edit, message):
    net, a, b, c = chain3()
    before = net.to_dict()
    with pytest.raises(NetworkError) as info:
        edit(net, a, b, c)
    assert message in str(info.value)
    assert net.to_dict() == before  # nothing half-done


def test_a_cycle_is_refused_with_its_path():
    net, a, b, c = chain3()
    d = net.add_neuron("hidden", label="g").id
    net.connect(b, d)
    with pytest.raises(NetworkError, match=r"connecting g to h would close a cycle \(h -> g -> h\)"):
        net.connect(d, b)


def test_remove_neuron_returns_what_restores_it_exactly():
    net, a, b, c = chain3()
    extra = net.add_neuron("hidden").id
    net.connect(a, extra, 0.25)
    original = net.copy()
    neuron, index, edges = net.remove_neuron(b)
    assert b not in net.neurons and all(b not in (e.source, e.target) for e in net.edges.values())
    net.add_neuron(neuron.role, neuron.activation, neuron.bias, neuron.label, neuron.x,
                   neuron.y, neuron.frozen, id=neuron.id, index=index)
    for i, e in edges:
        net.connect(e.source, e.target, e.weight, e.frozen, id=e.id, index=i)
    assert net.same_as(original)


def test_each_edit_emits_one_event_with_its_kind():
    net, a, b, c = chain3()
    seen = []
    net.changed.connect(seen.append)
    net.set_weight("e1", 2.0)
    net.move_neuron(b, 10, 20)
    net.set_activation(b, "relu")
    d = net.add_neuron("hidden").id
    net.connect_many([(a, d), (d, c)])
    net.remove_neuron(d)
    kinds = [(ch.kind, ch.structural) for ch in seen]
    assert kinds == [("edge_changed", False), ("neuron_moved", False), ("neuron_changed", True),
                     ("neuron_added", True), ("edge_added", True), ("neuron_removed", True)]
    assert seen[-1].ids[0] == d and len(seen[-1].ids) == 3


def test_connect_many_is_all_or_nothing():
    net, a, b, c = chain3()
    d = net.add_neuron("hidden").id
    before = net.to_dict()
    with pytest.raises(NetworkError, match="already connected"):
        net.connect_many([(a, d), (a, b)])
    with pytest.raises(NetworkError, match="close a cycle"):
        net.connect_many([(b, d), (d, b)])
    assert net.to_dict() == before


def test_topological_order_and_depths_are_deterministic():
    net, a, b, c = chain3()
    net.connect(a, c, 0.1)  # skip connection
    assert net.topological_order() == [a, b, c]
    assert net.depths() == {a: 0, b: 1, c: 2}


def test_copy_is_independent_and_dict_round_trip_keeps_ids_and_counters():
    net, a, b, c = chain3()
    other = net.copy()
    other.set_weight("e1", 9.0)
    assert net.edges["e1"].weight == 0.5
    loaded = Network.from_dict(net.to_dict())
    assert loaded.same_as(net)
    assert loaded.add_neuron().id == "n4" and loaded.connect("n1", "n4").id == "e3"


def test_signal_holds_bound_methods_weakly_and_blocks():
    class View:
        def __init__(self):
            self.got = []

        def on(self, value):
            self.got.append(value)

    sig, view, plain = Signal(), View(), []
    sig.connect(view.on)
    sig.connect(plain.append)
    sig.emit(1)
    with sig.blocked():
        sig.emit(2)
    sig.disconnect(plain.append)
    sig.emit(3)
    assert view.got == [1, 3] and plain == [1]
    del view
    gc.collect()
    sig.emit(4)
    assert len(sig) == 0


def test_set_values_refuses_non_finite_values_and_changes_nothing():
    net = Network()
    a, b = net.add_neuron("input").id, net.add_neuron("output").id
    eid = net.connect(a, b, 0.5).id
    events = []
    net.changed.connect(events.append)
    for weights, biases in (({eid: float("inf")}, {b: 1.0}), ({eid: 2.0}, {b: float("nan")})):
        with pytest.raises(NetworkError, match="not a finite number"):
            net.set_values(weights, biases)
        assert net.edges[eid].weight == 0.5 and net.neurons[b].bias == 0.0
    assert events == []
    net.set_values({eid: 2.0}, {b: 1.0})
    assert net.edges[eid].weight == 2.0 and net.neurons[b].bias == 1.0 and len(events) == 1


def test_a_delta_brings_a_copy_level_with_the_document_in_order():
    from core.templates import layered

    doc = layered([3, 4, 2])
    copy = doc.copy()
    edited: set[str] = set()
    doc.changed.connect(lambda change: edited.update(change.ids))
    new = doc.add_neuron("hidden", "tanh").id
    doc.connect("n1", new, 0.5)
    doc.set_weight("e1", -2.0)
    doc.remove_neuron("n4") if not list(doc.incoming("n4")) else None
    doc.disconnect(next(iter(doc.edges)))
    copy.apply_delta(doc.delta(frozenset(edited), True))
    assert copy.to_dict() == doc.to_dict()  # same items, same order


def test_tall_columns_fold_into_square_grids_without_overlap():
    from core.layout import layout_by_depth
    from core.templates import layered

    net = layered([784, 64, 10])
    pos = layout_by_depth(net)
    inputs = [pos[n.id] for n in net.inputs]
    assert len({x for x, _ in inputs}) == 28 and len({y for _, y in inputs}) == 28
    assert len(set(pos.values())) == len(pos)  # no two neurons on one spot
    xs = {role: [pos[n.id][0] for n in net.neurons.values() if n.role == role]
          for role in ("input", "hidden", "output")}
    assert max(xs["input"]) < min(xs["hidden"]) and max(xs["hidden"]) < min(xs["output"])
    small = layered([2, 8, 1])  # small columns stay columns
    assert len({p[0] for p in layout_by_depth(small).values()}) == 3


def test_a_free_spot_is_the_nearest_grid_point_clear_of_every_neuron():
    """Where a neuron added at the centre of the view goes: the centre when it is free, else
    the nearest point of the grid around it at least `spacing` from every neuron (checked
    against a brute-force scan of the same grid)."""
    import itertools
    import math

    from core.layout import free_spot

    net = Network()
    assert free_spot(net, 10.0, 20.0, 70.0) == (10.0, 20.0)
    for x, y in ((0, 0), (70, 0), (0, 70), (-70, -70), (35, -40)):
        net.add_neuron("hidden", x=x, y=y)
    x, y = free_spot(net, 0.0, 0.0, 70.0)
    clear = [(i * 70.0, j * 70.0) for i, j in itertools.product(range(-5, 6), repeat=2)
             if all(math.dist((i * 70.0, j * 70.0), (n.x, n.y)) >= 70.0
                    for n in net.neurons.values())]
    nearest = min(math.hypot(px, py) for px, py in clear)
    assert (x, y) in clear and math.hypot(x, y) == nearest


def test_wiring_questions_follow_every_structure_edit():
    """incoming, outgoing, find_edge and edge_refusal read an index that each edit updates
    (or drops): after each edit of a random sequence they answer as a scan of every edge
    does."""
    import random

    from core import graph

    rng = random.Random(4)
    net = Network()
    for role in ["input"] * 3 + ["hidden"] * 5 + ["output"] * 2:
        net.add_neuron(role)

    def check():
        ids = list(net.neurons)
        for n in ids:
            assert net.incoming(n) == [e for e in net.edges.values() if e.target == n]
            assert net.outgoing(n) == [e for e in net.edges.values() if e.source == n]
        for s in ids:
            for t in ids:
                found = [e for e in net.edges.values() if (e.source, e.target) == (s, t)]
                assert net.find_edge(s, t) == (found[0] if found else None)
                reason = net.edge_refusal(s, t)
                if reason is None or "cycle" in reason:
                    path = graph.cycle_closed_by(graph.successors(net.neurons, net.edges.values()),
                                                 s, t)
                    assert (reason is None) == (path is None and not found)

    removals = []
    for step in range(150):
        ids = list(net.neurons)
        s, t = rng.choice(ids), rng.choice(ids)
        edges = list(net.edges)
        kind = rng.randrange(11)
        if kind in (0, 1) and net.edge_refusal(s, t) is None:
            net.connect(s, t, 0.1, index=rng.choice([None, 0, len(edges) // 2]))
        elif kind == 2:
            pairs = [(a, b) for a in ids for b in ids if net.edge_refusal(a, b) is None]
            try:
                net.connect_many(rng.sample(pairs, min(3, len(pairs))))
            except NetworkError:
                pass  # together they close a cycle
        elif kind == 3 and edges:
            net.disconnect(rng.choice(edges))
        elif kind == 4 and edges:
            net.disconnect_many(rng.sample(edges, min(3, len(edges))))
        elif kind == 5:
            removals.append(net.remove_items([rng.choice(ids)], rng.sample(edges, min(2, len(edges)))))
            net.add_neuron(rng.choice(["hidden", "output"]))
        elif kind == 6 and removals:
            _, removed = removals.pop()
            try:
                net.restore_edges([(i, e) for i, e in removed if e.source in net.neurons
                                   and e.target in net.neurons])
            except NetworkError:
                pass  # their neurons have other edges now, closing a cycle
        elif kind == 7:
            try:
                net.set_role(s, "hidden")
            except NetworkError:
                pass
            net.set_activation(t, "relu")
        elif kind == 8 and edges:
            net.set_edge_frozen(rng.choice(edges), True)
            net.set_weight(rng.choice(edges), 0.5)
        elif kind == 9:
            net.add_neuron("input")
        elif kind == 10:
            net.replace_with(net.copy())
        check()


def test_remove_items_removes_in_one_event_what_undo_needs():
    net, a, b, c = chain3()
    extra = net.add_neuron("hidden").id
    e3 = net.connect(a, extra).id
    events = []
    net.changed.connect(events.append)
    neurons, edges = net.remove_items([b], [e3])
    assert [(i, n.id) for i, n in neurons] == [(1, b)]
    assert [(i, e.id) for i, e in edges] == [(0, "e1"), (1, "e2"), (2, e3)]
    assert [(ev.kind, set(ev.ids)) for ev in events] == [("neuron_removed", {b, "e1", "e2", e3})]
    assert list(net.neurons) == [a, c, extra] and not net.edges
    with pytest.raises(NetworkError, match="no neuron 'n99'"):
        net.remove_items(["n99"])
