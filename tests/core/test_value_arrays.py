"""A training frame's values as arrays, held to the dict path they replaced: the document
written by Network.set_value_arrays equals the one set_values writes from dicts pruned as the
window pruned them; weights_of and ValuesById read what a dict would; a frame's ids sent once
per plan come back as they were sent."""
import pickle

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.engine import compile_plan
from core.network import Change, NetworkError
from core.training.progress import IdsOnce, Progress, SeriesCopy, ValuesById
from tests.core.strategies import random_dag


def dict_path(net, edge_ids, weights, bias_ids, biases, keep):
    """What the window did before: dicts of every id, pruned of ids the document lacks and
    ids edited since, then set_values."""
    w = dict(zip(edge_ids, weights.tolist()))
    b = dict(zip(bias_ids, biases.tolist()))
    for values, present in ((w, net.edges), (b, net.neurons)):
        for gone in (values.keys() - present.keys()) | (values.keys() & keep):
            del values[gone]
    net.set_values(w, b)


@settings(max_examples=60, deadline=None)
@given(net=random_dag(), data=st.data())
def test_set_value_arrays_writes_what_the_dict_path_wrote(net, data):
    gone = data.draw(st.lists(st.sampled_from(["e900", "e901"]), unique=True))  # since the frame
    edge_ids = tuple(data.draw(st.permutations(list(net.edges) + gone)))
    bias_ids = tuple(n for n in net.neurons if net.neurons[n].role != "input") + ("n900",)
    keep = set(data.draw(st.lists(st.sampled_from(edge_ids + bias_ids), max_size=4)))
    seed = data.draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    weights, biases = rng.normal(size=len(edge_ids)), rng.normal(size=len(bias_ids))
    expected = net.copy()
    dict_path(expected, edge_ids, weights, bias_ids, biases, keep)
    events = []
    net.changed.connect(events.append)
    for _ in range(2):  # the second time from the ids remembered for this tuple
        net.set_value_arrays(edge_ids, weights, bias_ids, biases, keep)
        assert net.same_as(expected)
    assert events == [Change("values")] * 2


def test_set_value_arrays_follows_structure_edits_and_float32():
    from core.templates import layered
    net = layered([3, 4, 2])
    ids, bias_ids = tuple(net.edges), tuple(n.id for n in net.neurons.values()
                                           if n.role != "input")
    net.set_value_arrays(ids, np.arange(len(ids), dtype=np.float32), bias_ids,
                         np.zeros(len(bias_ids), np.float32))
    assert [e.weight for e in net.edges.values()] == list(range(len(ids)))
    doomed = next(iter(net.edges))
    net.disconnect(doomed)  # the same tuple of ids, another structure: looked up again
    net.set_value_arrays(ids, -np.arange(len(ids), dtype=float), bias_ids, np.ones(len(bias_ids)))
    assert [e.weight for e in net.edges.values()] == [-k for k in range(1, len(ids))]
    assert all(n.bias == 1.0 for n in net.neurons.values() if n.role != "input")
    # Undo of a deletion puts new Edge objects under the same ids: found again.
    from core.edits import RemoveItems
    edit = RemoveItems([bias_ids[0]], [])
    edit.apply(net)
    net.set_value_arrays(ids, np.full(len(ids), 2.0), bias_ids, np.ones(len(bias_ids)))
    edit.revert(net)
    net.set_value_arrays(ids, np.full(len(ids), 3.0), bias_ids, np.ones(len(bias_ids)))
    assert all(e.weight == 3.0 for e in net.edges.values())
    net.add_neuron("hidden")  # no edge changes: what was found still holds
    net.set_value_arrays(ids, np.full(len(ids), 4.0), bias_ids, np.ones(len(bias_ids)))
    assert all(e.weight == 4.0 for e in net.edges.values())


@pytest.mark.parametrize("weights, message", [
    ([1.0, float("nan"), 0.0], "the weight of e2 would be nan, not a finite number"),
    ([1.0, 2.0], "3 ids but (2,) weight values"),
])
def test_set_value_arrays_refuses_like_set_values_and_changes_nothing(weights, message):
    from core.templates import layered
    net = layered([1, 3])
    before = net.to_dict()
    with pytest.raises(NetworkError, match=message.replace("(", r"\(").replace(")", r"\)")):
        net.set_value_arrays(tuple(net.edges), np.array(weights), (), np.zeros(0))
    assert net.to_dict() == before
    with pytest.raises(NetworkError, match="finite number"):
        net.set_values(dict(zip(net.edges, [1.0, float("nan"), 0.0])))


def test_weights_of_reads_the_documents_weights_in_any_order():
    from core.initializers import initialize
    from core.templates import layered
    net = layered([4, 3, 2])
    net.set_values(*initialize(net, "he", 1))
    order = list(net.edges)[::-1]
    np.testing.assert_array_equal(net.weights_of(order), [net.edges[i].weight for i in order])
    with pytest.raises(NetworkError):
        net.weights_of(["e999"])


def test_values_by_id_agree_with_a_dict():
    ids = ("e3", "e1", "e7")
    values = ValuesById(ids, np.array([0.5, -1.0, 2.0]))
    as_dict = dict(zip(ids, values.values.tolist()))
    for key in ("e1", "e3", "e7", "e9"):
        assert values.get(key, 0.0) == as_dict.get(key, 0.0)
    other = ("e7", "e9", "e3")
    np.testing.assert_array_equal(values.aligned(other), [as_dict.get(k, 0.0) for k in other])
    assert values.aligned(ids) is not None and values.aligned(list(ids)).tolist() == [0.5, -1.0, 2.0]


def frame(plan, weights, step=1):
    empty = SeriesCopy(np.zeros(0), np.zeros(0))
    return Progress(step, 0, True, empty, empty, empty, empty, empty, None, plan.edge_ids,
                    weights, weights * 0, plan.bias_ids, np.zeros(len(plan.bias_ids)),
                    np.zeros(1))


def test_ids_go_once_per_plan_and_come_back_as_sent():
    from core.templates import layered
    net = layered([2, 3, 1])
    plan = compile_plan(net)
    sender, receiver = IdsOnce(), IdsOnce()
    sent = [sender.outgoing(frame(plan, np.full(len(plan.edge_ids), float(k)), k))
            for k in range(3)]
    assert sent[0].edge_ids == plan.edge_ids and sent[1].edge_ids is None
    net.add_neuron("hidden")
    other = compile_plan(net)  # another plan: its ids go with its first frame
    sent.append(sender.outgoing(frame(other, np.zeros(len(other.edge_ids)))))
    assert sent[-1].bias_ids == other.bias_ids
    got = [receiver.incoming(pickle.loads(pickle.dumps(p))) for p in sent]
    assert [p.edge_ids for p in got] == [plan.edge_ids] * 3 + [other.edge_ids]
    assert [p.bias_ids for p in got] == [plan.bias_ids] * 3 + [other.bias_ids]
    assert got[1].edge_ids is got[2].edge_ids  # one tuple: the document remembers its lookups
    again = compile_plan(net)  # compiled anew, the same ids: not sent again
    assert again.edge_ids is not other.edge_ids
    repeat = sender.outgoing(frame(again, np.zeros(len(again.edge_ids))))
    assert repeat.edge_ids is None and receiver.incoming(repeat).edge_ids is got[-1].edge_ids
    np.testing.assert_array_equal(got[2].theta, plan.flatten(plan.unflatten(got[2].theta)))
    assert got[2].parameter_names == tuple(plan.parameter_names())
    with pytest.raises(ValueError):
        IdsOnce().incoming(sent[1])  # a frame whose ids never came is refused, not guessed
