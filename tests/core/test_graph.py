"""core.graph against brute force, and the document's three cycle checks held to its one rule."""
import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core import graph
from core.errors import NetworkError
from core.network import Network
from tests.core.strategies import random_dag


@st.composite
def dags(draw, max_nodes: int = 9):
    """(nodes, edges, roots): nodes in a shuffled document order, edges from earlier to later
    nodes of a hidden random order, listed in shuffled order."""
    n = draw(st.integers(1, max_nodes))
    nodes = [f"v{i}" for i in range(n)]
    hidden = draw(st.permutations(nodes))
    pairs = [(a, b) for i, a in enumerate(hidden) for b in hidden[i + 1:]]
    edges = draw(st.lists(st.sampled_from(pairs), unique=True) if pairs else st.just([]))
    roots = draw(st.sets(st.sampled_from([v for v in nodes if all(t != v for _, t in edges)]))
                 if any(all(t != v for _, t in edges) for v in nodes) else st.just(set()))
    return draw(st.permutations(nodes)), [graph.Arc(*e) for e in edges], roots


@st.composite
def edge_lists(draw, max_nodes: int = 7):
    """(nodes, edges): any edges between distinct nodes, cycles allowed, no duplicates."""
    nodes = [f"v{i}" for i in range(draw(st.integers(2, max_nodes)))]
    pairs = [(a, b) for a in nodes for b in nodes if a != b]
    edges = draw(st.lists(st.sampled_from(pairs), unique=True, max_size=20))
    return nodes, [graph.Arc(*e) for e in edges]


def brute_order(nodes, edges):
    """Repeatedly take the first node in document order all of whose sources are placed."""
    order, left = [], list(nodes)
    while left:
        ready = next(v for v in left if all(s in order for s, t in edges if t == v))
        order.append(ready)
        left.remove(ready)
    return order


def brute_depths(nodes, edges, roots):
    """Longest path from the roots by repeated relaxation (len(nodes) rounds suffice)."""
    depth = {v: 0 if v in roots else 1 for v in nodes}
    for _ in nodes:
        for s, t in edges:
            if t not in roots:
                depth[t] = max(depth[t], depth[s] + 1)
    return depth


def reaches(edges, start, goal):
    """Brute force: the transitive closure, by repeated joining."""
    seen = {start}
    while True:
        more = {t for s, t in edges if s in seen} - seen
        if not more:
            return goal in seen
        seen |= more


def shortest(edges, start, goal):
    """The length (in edges) of the shortest path, trying path lengths in turn."""
    hops = {start}
    for length in itertools.count():
        if goal in hops:
            return length
        hops = {t for s, t in edges if s in hops}


@settings(max_examples=200, deadline=None)
@given(dags())
def test_topological_order_and_depths_equal_brute_force(case):
    nodes, edges, roots = case
    assert graph.topological_order(nodes, edges) == brute_order(nodes, edges)
    depths = graph.depths(nodes, edges, roots)
    assert depths == brute_depths(nodes, edges, roots)
    assert list(depths) == list(nodes)
    assert graph.is_acyclic(nodes, edges) and graph.first_closing_edge(nodes, edges) is None


@settings(max_examples=60, deadline=None)
@given(random_dag())
def test_the_documents_order_and_depths_are_the_graph_modules(net):
    nodes = list(net.neurons)
    edges = [graph.Arc(e.source, e.target) for e in net.edges.values()]
    inputs = {n.id for n in net.inputs}
    assert net.topological_order() == brute_order(nodes, edges)
    assert net.depths() == brute_depths(nodes, edges, inputs)


@settings(max_examples=300, deadline=None)
@given(edge_lists())
def test_the_first_closing_edge_is_what_adding_one_at_a_time_refuses(case):
    nodes, edges = case
    first = next((k for k, (s, t) in enumerate(edges) if reaches(edges[:k], t, s)), None)
    hit = graph.first_closing_edge(nodes, edges)
    assert graph.is_acyclic(nodes, edges) == (first is None)
    if first is None:
        assert hit is None
        return
    k, path = hit
    s, t = edges[k]
    assert k == first
    assert path[0] == t and path[-1] == s
    assert all(hop in edges[:k] for hop in zip(path, path[1:]))
    assert len(path) - 1 == shortest(edges[:k], t, s)
    with pytest.raises(NetworkError, match="the graph has a cycle"):
        graph.topological_order(nodes, edges)
    with pytest.raises(NetworkError, match="the graph has a cycle"):
        graph.depths(nodes, edges, ())


@pytest.mark.parametrize("length", [2, 3, 4, 8, 9, 50])
def test_a_cycle_of_any_length_is_named_the_same_by_every_check(length):
    """A chain h0 -> ... -> h(n-1), then the edge back to h0: edge_refusal, connect_many and
    from_dict all name the same cycle in the same words (from_dict adds where)."""
    net = Network()
    ids = [net.add_neuron("hidden", label=f"h{i}").id for i in range(length)]
    net.connect_many(list(zip(ids, ids[1:])))
    closing = (ids[-1], ids[0])
    names = [f"h{i}" for i in range(length)]
    if length > 8:
        names = [*names[:4], f"... ({length - 8:,} more)", *names[-4:]]
    expected = (f"connecting h{length - 1} to h0 would close a cycle "
                f"({' -> '.join(names)} -> h0)")
    assert net.edge_refusal(*closing) == expected
    with pytest.raises(NetworkError) as bulk:
        Network.from_dict({"neurons": net.to_dict()["neurons"], "edges": []}).connect_many(
            [*zip(ids, ids[1:]), closing])
    assert str(bulk.value) == expected
    data = net.to_dict()
    data["edges"].append({"id": "back", "source": closing[0], "target": closing[1]})
    with pytest.raises(NetworkError) as loaded:
        Network.from_dict(data)
    assert str(loaded.value) == f"edges[{length - 1}]: {expected}"


@settings(max_examples=100, deadline=None)
@given(edge_lists())
def test_refusal_bulk_connect_and_loading_share_one_rule(case):
    """Whatever edge list: loading names edges[k], the first one that connecting one at a time
    refuses, with connect's words; connect_many refuses with the same words."""
    nodes, edges = case
    blank = {"neurons": [{"id": v, "role": "hidden"} for v in nodes], "edges": []}
    one_by_one = Network.from_dict(blank)
    refusal = None
    for k, (s, t) in enumerate(edges):
        refusal = one_by_one.edge_refusal(s, t)
        if refusal:
            break
        one_by_one.connect(s, t)
    bulk = Network.from_dict(blank)
    data = {**blank, "edges": [{"id": f"e{k}", "source": s, "target": t}
                               for k, (s, t) in enumerate(edges)]}
    if refusal is None:
        bulk.connect_many(edges)
        loaded = Network.from_dict(data)
        assert [(e.source, e.target) for e in loaded.edges.values()] == edges
        assert [(e.source, e.target) for e in bulk.edges.values()] == edges
        return
    with pytest.raises(NetworkError) as info:
        bulk.connect_many(edges)
    assert str(info.value) == refusal
    assert not bulk.edges  # all or none
    with pytest.raises(NetworkError) as info:
        Network.from_dict(data)
    assert str(info.value) == f"edges[{k}]: {refusal}"


def test_every_cycle_check_goes_through_the_one_rule(monkeypatch):
    """Changing graph.cycle_closed_by changes every check: there is no second copy."""
    calls = []
    real = graph.cycle_closed_by

    def spy(succ, source, target):
        calls.append((source, target))
        return real(succ, source, target)

    monkeypatch.setattr(graph, "cycle_closed_by", spy)
    net = Network()
    a, b = net.add_neuron("hidden").id, net.add_neuron("hidden").id
    net.connect(a, b)
    assert net.edge_refusal(b, a) and calls[-1] == (b, a)
    with pytest.raises(NetworkError):
        Network.from_dict({"neurons": net.to_dict()["neurons"], "edges": []}).connect_many(
            [(a, b), (b, a)])
    assert calls[-1] == (b, a)
    data = net.to_dict()
    data["edges"].append({"id": "x", "source": b, "target": a})
    with pytest.raises(NetworkError):
        Network.from_dict(data)
    assert calls[-1] == (b, a) and len(calls) == 4  # connect(a, b) asked once too
