"""The network document: neurons and weighted edges forming any directed graph whose cycles
each pass through a delayed edge (core.graph: the one cycle rule).

It is the single source of truth that the canvas, the engine and the files read.
Every change goes through a method here that validates, changes, then emits one
`Change` on `network.changed`.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field, replace
from operator import attrgetter
from typing import AbstractSet, Iterator, Sequence

import numpy as np

from core import graph
from core.activations import ACTIVATIONS, DEFAULT_ACTIVATION
from core.errors import NetworkError, UserError, shorten
from core.events import Signal
from core.features import Feature
from core.network_index import SETS_CHANGED, InstantTargets, ItemsAt, Rewire, Wiring

ROLES = ("input", "hidden", "output")


@dataclass
class Neuron:
    id: str
    role: str = "hidden"
    activation: str = DEFAULT_ACTIVATION["hidden"]
    bias: float = 0.0
    label: str = ""
    x: float = 0.0
    y: float = 0.0
    frozen: bool = False
    # What an input neuron computes from the data's columns (core.features); None: the column
    # at its position among the inputs. Kept but unused while the neuron is not an input.
    feature: Feature | None = None

    @property
    def name(self) -> str:
        """What a message calls this neuron: its label, else its feature's, else its id."""
        return self.label or (self.feature.label if self.feature and self.role == "input"
                              else "") or self.id


@dataclass
class Edge:
    id: str
    source: str
    target: str
    weight: float = 0.0
    frozen: bool = False
    # 1: the edge carries the source's output of the previous time step (0 at the first), which
    # makes the net recurrent; 0: an ordinary edge, within the same step.
    delay: int = 0


DELAYS = (0, 1)


@dataclass(frozen=True)
class Change:
    """One event on `Network.changed`.

    kind is one of: neuron_added, neuron_removed, neuron_changed, neuron_moved,
    edge_added, edge_removed, edge_changed, values (many weights/biases at once),
    reset (everything replaced). `structural` says whether a compiled plan goes stale: true
    for the graph's shape, roles, activations and frozen flags; false for values and positions.
    """

    kind: str
    ids: tuple[str, ...] = ()
    structural: bool = False


@dataclass(frozen=True)
class NetworkDelta:
    """Edited items of a document, for a copy of it elsewhere (the training process)."""

    neurons: dict[str, "Neuron"]
    edges: dict[str, "Edge"]
    gone: tuple[str, ...]
    order: tuple[tuple[str, ...], tuple[str, ...]] | None


@dataclass
class Network:
    neurons: dict[str, Neuron] = field(default_factory=dict)
    edges: dict[str, Edge] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.changed = Signal()
        # Bumped on every structural change: a compiled plan remembers the version it was built from.
        self.structure_version = 0
        self._next_id: dict[str, int] = {}
        self._found = ItemsAt()  # see _items_at
        # Bumped when edges (neurons) are added, removed or replaced: what _items_at found
        # stays right through other edits (a neuron added leaves every Edge where it was).
        self._set_versions = {"edges": 0, "neurons": 0, "edge_flags": 0}
        self._wiring_index: Wiring | None = None  # see _wiring

    # ----- queries -------------------------------------------------------------------------
    def neuron(self, nid: str) -> Neuron:
        try:
            return self.neurons[nid]
        except KeyError:
            raise NetworkError(f"there is no neuron {nid!r}") from None

    def edge(self, eid: str) -> Edge:
        try:
            return self.edges[eid]
        except KeyError:
            raise NetworkError(f"there is no edge {eid!r}") from None

    def by_role(self, role: str) -> list[Neuron]:
        return [n for n in self.neurons.values() if n.role == role]

    @property
    def inputs(self) -> list[Neuron]:
        return self.by_role("input")

    @property
    def outputs(self) -> list[Neuron]:
        return self.by_role("output")

    def incoming(self, nid: str) -> list[Edge]:
        return self._wiring().incoming(nid)

    def outgoing(self, nid: str) -> list[Edge]:
        return self._wiring().outgoing(nid)

    def find_edge(self, source: str, target: str) -> Edge | None:
        return self._wiring().find(source, target)

    def _wiring(self) -> Wiring:
        """Each neuron's edges (core.network_index.Wiring), built when stale."""
        wiring = self._wiring_index
        if wiring is None or wiring.version != self.structure_version:
            wiring = self._wiring_index = Wiring.build(self.structure_version, self.neurons,
                                                       self.edges.values())
        return wiring

    def new_id(self, prefix: str) -> str:
        """A fresh id such as 'n7' or 'e12', never used by this document before."""
        while True:
            number = self._next_id.get(prefix, 1)
            self._next_id[prefix] = number + 1
            candidate = f"{prefix}{number}"
            if candidate not in self.neurons and candidate not in self.edges:
                return candidate

    def edge_refusal(self, source: str, target: str, delay: int = 0) -> str | None:
        """Why an edge source -> target (with that delay) may not be added, or None if it may.
        A delayed edge closes no cycle that counts (core.graph), so only an instantaneous one
        is searched for a cycle, among the instantaneous edges."""
        existing = {(source, target)} if self.find_edge(source, target) else set()
        reason = _delay_refusal(delay) or self._simple_refusal(source, target, existing, delay)
        if reason:
            return reason
        if delay:
            return None
        path = graph.cycle_closed_by(InstantTargets(self._wiring()), source, target)
        return None if path is None else self._cycle_message(source, target, path)

    @property
    def is_recurrent(self) -> bool:
        """Whether some edge has a delay (the net runs over time steps)."""
        return any(e.delay for e in self.edges.values())

    def _cycle_message(self, source: str, target: str, path: list[str]) -> str:
        """What every refusal of a cycle says; path is target -> ... -> source."""
        s, t = self.neurons[source].name, self.neurons[target].name
        names = _path_names([self.neurons[n].name for n in path])
        return f"connecting {s} to {t} would close a cycle ({names} -> {t})"

    def topological_order(self) -> list[str]:
        """Neuron ids, every source before its targets; ties keep document order (Kahn).
        A cycle (only reachable through from_dict of a bad file) raises NetworkError."""
        return graph.topological_order(list(self.neurons), graph.instant(self.edges.values()))

    def depths(self) -> dict[str, int]:
        """Inputs are depth 0; any other neuron is one more than its deepest source (at least 1)
        along instantaneous edges: the order within one time step."""
        inputs = {nid for nid, n in self.neurons.items() if n.role == "input"}
        return graph.depths(list(self.neurons), graph.instant(self.edges.values()), inputs)

    # ----- structural edits ----------------------------------------------------------------
    def add_neuron(
        self,
        role: str = "hidden",
        activation: str | None = None,
        bias: float = 0.0,
        label: str = "",
        x: float = 0.0,
        y: float = 0.0,
        frozen: bool = False,
        id: str | None = None,
        index: int | None = None,
        feature: Feature | None = None,
    ) -> Neuron:
        if role not in ROLES:
            raise NetworkError(f"unknown role {role!r}; use one of {', '.join(ROLES)}")
        if activation is None:
            activation = DEFAULT_ACTIVATION[role]
        _check_activation(activation)
        nid = id if id is not None else self.new_id("n")
        if nid in self.neurons or nid in self.edges:
            raise NetworkError(f"the id {nid!r} is already in use")
        neuron = Neuron(nid, role, activation, _finite(bias, "bias"), str(label), _finite(x, "x"),
                        _finite(y, "y"), bool(frozen), _check_feature(feature))
        self.neurons = _insert(self.neurons, nid, neuron, index)
        self._structure_changed(Change("neuron_added", (nid,)), Rewire(neurons_added=(nid,)))
        return neuron

    def remove_neuron(self, nid: str) -> tuple[Neuron, int, list[tuple[int, Edge]]]:
        """Remove a neuron and its edges.

        Returns the neuron, its index and its edges with their indices (ascending): what undo
        needs to put everything back with the same order and ids.
        """
        ((index, neuron),), removed = self.remove_items([nid])
        return neuron, index, removed

    def remove_items(self, neuron_ids: Sequence[str], edge_ids: Sequence[str] = ()
                     ) -> tuple[list[tuple[int, Neuron]], list[tuple[int, Edge]]]:
        """Remove neurons with their edges, and edges: one pass over the edges and one event
        (a `neuron_removed` naming them all, or `edge_removed` when no neuron goes). Deleting a
        neuron of a 51k-edge net took two passes and sent every view two events.

        Returns the neurons and the edges removed with their indices (ascending): what undo
        needs to put everything back with the same order and ids."""
        for nid in neuron_ids:
            self.neuron(nid)
        for eid in edge_ids:
            self.edge(eid)
        doomed, chosen = set(neuron_ids), set(edge_ids)
        wiring = self._wiring_index
        if wiring is not None and wiring.version == self.structure_version:
            # The doomed neurons' edges from the wiring index, placed by their ids: a pass
            # over the edges' keys, not over three fields of each of 51k edges (40 ms).
            going = {eid: e for nid in doomed for part in (wiring.into[nid], wiring.out[nid])
                     for eid, e in part.items()}
            going.update((eid, self.edges[eid]) for eid in chosen)
            if len(going) * 8 < len(self.edges):
                place = dict(zip(self.edges, range(len(self.edges))))
                edges = sorted(((place[eid], e) for eid, e in going.items()),
                               key=lambda pair: pair[0])
            else:
                edges = [(i, e) for i, e in enumerate(self.edges.values()) if e.id in going]
        else:
            edges = [(i, e) for i, e in enumerate(self.edges.values())
                     if e.id in chosen or e.source in doomed or e.target in doomed]
        neurons = [(i, n) for i, n in enumerate(self.neurons.values()) if n.id in doomed]
        for _, e in edges:
            del self.edges[e.id]
        for _, n in neurons:
            del self.neurons[n.id]
        if edges or neurons:
            ids = (*(n.id for _, n in neurons), *(e.id for _, e in edges))
            self._structure_changed(Change("neuron_removed" if neurons else "edge_removed", ids),
                                    Rewire(removed=[e for _, e in edges],
                                           neurons_removed=[n.id for _, n in neurons]))
        return neurons, edges

    def connect(self, source: str, target: str, weight: float = 0.0, frozen: bool = False,
                id: str | None = None, index: int | None = None, delay: int = 0) -> Edge:
        reason = self.edge_refusal(source, target, delay)
        if reason:
            raise NetworkError(reason)
        eid = id if id is not None else self.new_id("e")
        if eid in self.edges or eid in self.neurons:
            raise NetworkError(f"the id {eid!r} is already in use")
        edge = Edge(eid, source, target, _finite(weight, "weight"), bool(frozen), int(delay))
        appended = index is None or index >= len(self.edges)
        self.edges = _insert(self.edges, eid, edge, index)
        self._structure_changed(Change("edge_added", (eid,)),
                                Rewire(added=[edge]) if appended else None)
        return edge

    def connect_many(self, pairs: list[tuple[str, str]], weights: list[float] | None = None,
                     ids: list[str] | None = None, delays: list[int] | None = None) -> list[Edge]:
        """Add many edges at once (bulk tools, templates): all or none, one event.

        Checks every pair as edge_refusal would, adding them in order, but finds cycles with
        one topological sort of the whole result instead of one search per edge, so 50k edges
        take milliseconds. `delays`: each edge's delay (default 0).
        """
        weights = list(weights) if weights is not None else [0.0] * len(pairs)
        delays = list(delays) if delays is not None else [0] * len(pairs)
        if len(weights) != len(pairs) or len(delays) != len(pairs):
            raise NetworkError("connect_many needs one weight and one delay per pair")
        existing = {(e.source, e.target) for e in self.edges.values()}
        for (s, t), w, d in zip(pairs, weights, delays):
            reason = _delay_refusal(d) or self._simple_refusal(s, t, existing, d)
            if reason:
                raise NetworkError(reason)
            existing.add((s, t))
            _finite(w, "weight")
        if ids is not None and (len(ids) != len(pairs) or len(set(ids)) != len(ids) or
                                any(i in self.edges or i in self.neurons for i in ids)):
            raise NetworkError("connect_many needs one new, unused id per pair")
        old = graph.instant(self.edges.values())
        instant_new = [k for k, d in enumerate(delays) if not d]
        hit = graph.first_closing_edge(list(self.neurons),
                                       old + [graph.Arc(*pairs[k]) for k in instant_new])
        if hit is not None:
            k, path = hit
            raise NetworkError(self._cycle_message(*pairs[instant_new[k - len(old)]], path))
        new_edges = []
        for k, ((s, t), w, d) in enumerate(zip(pairs, weights, delays)):
            eid = ids[k] if ids is not None else self.new_id("e")
            new_edges.append(Edge(eid, s, t, float(w), False, int(d)))
        for edge in new_edges:
            self.edges[edge.id] = edge
        self._structure_changed(Change("edge_added", tuple(e.id for e in new_edges)),
                                Rewire(added=new_edges))
        return new_edges

    def restore_edges(self, indexed: list[tuple[int, Edge]]) -> None:
        """Put removed edges back at their indices (ascending, as remove_neuron reports
        them), with their ids, weights and frozen flags: checked as connect_many checks, one
        event (undoing a neuron's deletion re-added 800 edges one search of 51k each)."""
        if not indexed:
            return
        edges = [e for _, e in indexed]
        with self.changed.blocked():
            self.connect_many([(e.source, e.target) for e in edges], [e.weight for e in edges],
                              [e.id for e in edges], [e.delay for e in edges])
        # The others' order with each restored edge at its index: slices of the others copied
        # between them (a list.insert per edge moved 51k items each time).
        placed = {e.id for e in edges}
        old = self.edges
        others = [k for k in old if k not in placed]
        merged: dict[str, Edge] = {}
        taken = 0
        for index, e in indexed:
            part = others[taken:taken + max(0, index - len(merged))]
            merged.update(zip(part, map(old.__getitem__, part)))
            taken += len(part)
            merged[e.id] = old[e.id]
            merged[e.id].frozen = bool(e.frozen)
        part = others[taken:]
        merged.update(zip(part, map(old.__getitem__, part)))
        self.edges = merged
        self._structure_changed(Change("edge_added", tuple(e.id for e in edges)))

    def _simple_refusal(self, source: str, target: str, existing: set[tuple[str, str]],
                        delay: int = 0) -> str | None:
        """edge_refusal without the cycle search. A delayed edge may join a neuron to itself
        and leave an output (a Jordan net feeds the last output back)."""
        if source not in self.neurons:
            return f"there is no neuron {source!r}"
        if target not in self.neurons:
            return f"there is no neuron {target!r}"
        s, t = self.neurons[source], self.neurons[target]
        if source == target and not delay:
            return f"a neuron cannot feed itself ({s.name}) except through a delayed edge"
        if t.role == "input":
            return f"{t.name} is an input neuron: nothing can feed it"
        if s.role == "output" and not delay:
            return (f"{s.name} is an output neuron: it can feed other neurons only through a "
                    f"delayed edge")
        if (source, target) in existing:
            return f"{s.name} is already connected to {t.name}"
        return None

    def disconnect(self, eid: str) -> Edge:
        edge = self.edge(eid)
        del self.edges[eid]
        self._structure_changed(Change("edge_removed", (eid,)), Rewire(removed=[edge]))
        return edge

    def disconnect_many(self, eids: list[str]) -> None:
        """Remove several edges: one event (a neuron's 800 edges, one by one, cost each view
        800 updates)."""
        removed = [self.edge(eid) for eid in eids]
        for eid in eids:
            del self.edges[eid]
        if eids:
            self._structure_changed(Change("edge_removed", tuple(eids)), Rewire(removed=removed))

    # ----- value edits ---------------------------------------------------------------------
    def set_weight(self, eid: str, weight: float) -> None:
        self.edge(eid).weight = _finite(weight, "weight")
        self.changed.emit(Change("edge_changed", (eid,)))

    def set_edge_delay(self, eid: str, delay: int) -> None:
        """Make an edge delayed (1) or instantaneous (0); refused when an instantaneous edge
        there would be refused (a self-loop, an output's edge, a cycle without a delay)."""
        edge = self.edge(eid)
        reason = _delay_refusal(delay)
        if reason is None and not delay and edge.delay:
            s, t = self.neurons[edge.source], self.neurons[edge.target]
            reason = self._simple_refusal(edge.source, edge.target, set())
            path = None if reason else graph.cycle_closed_by(
                InstantTargets(self._wiring()), edge.source, edge.target)
            if path is not None:
                names = _path_names([self.neurons[n].name for n in path])
                reason = (f"the edge {s.name} -> {t.name} needs its delay: without it, it "
                          f"would close a cycle ({names} -> {t.name})")
        if reason:
            raise NetworkError(reason)
        edge.delay = int(delay)
        self._structure_changed(Change("edge_changed", (eid,)), Rewire())

    def set_edge_frozen(self, eid: str, frozen: bool) -> None:
        self.edge(eid).frozen = bool(frozen)
        self._structure_changed(Change("edge_changed", (eid,)), Rewire())

    def set_bias(self, nid: str, bias: float) -> None:
        self.neuron(nid).bias = _finite(bias, "bias")
        self.changed.emit(Change("neuron_changed", (nid,)))

    def set_activation(self, nid: str, activation: str) -> None:
        _check_activation(activation)
        self.neuron(nid).activation = activation
        self._structure_changed(Change("neuron_changed", (nid,)), Rewire())

    def set_label(self, nid: str, label: str) -> None:
        self.neuron(nid).label = str(label)
        self.changed.emit(Change("neuron_changed", (nid,)))

    def set_feature(self, nid: str, feature: Feature | None) -> None:
        """What an input neuron computes from the data's columns (None: its own column)."""
        self.neuron(nid).feature = _check_feature(feature)
        self._structure_changed(Change("neuron_changed", (nid,)), Rewire())

    def set_frozen(self, nid: str, frozen: bool) -> None:
        self.neuron(nid).frozen = bool(frozen)
        self._structure_changed(Change("neuron_changed", (nid,)), Rewire())

    def set_role(self, nid: str, role: str) -> None:
        """Change a neuron's role; refused if its existing edges would become invalid."""
        if role not in ROLES:
            raise NetworkError(f"unknown role {role!r}; use one of {', '.join(ROLES)}")
        n = self.neuron(nid)
        if role == "input" and self.incoming(nid):
            raise NetworkError(f"{n.name} has incoming edges, so it cannot become an input")
        if role == "output" and self.outgoing(nid):
            raise NetworkError(f"{n.name} has outgoing edges, so it cannot become an output")
        n.role = role
        self._structure_changed(Change("neuron_changed", (nid,)), Rewire())

    def move_neuron(self, nid: str, x: float, y: float) -> None:
        n = self.neuron(nid)
        n.x, n.y = _finite(x, "x"), _finite(y, "y")
        self.changed.emit(Change("neuron_moved", (nid,)))

    def set_values(self, weights: dict[str, float] | None = None,
                   biases: dict[str, float] | None = None) -> None:
        """Write many weights and biases at once (training results): one `values` event.
        All or nothing: a non-finite value is refused before anything changes, as in
        set_weight and set_bias."""
        weights = _floats(weights or {})
        biases = _floats(biases or {})
        for what, values in (("weight", weights), ("bias", biases)):
            bad = next((k for k, v in values.items() if not math.isfinite(v)), None)
            if bad is not None:
                raise NetworkError(f"the {what} of {bad} would be {values[bad]}, not a finite "
                                   f"number")
        # Unknown ids found with one set difference, then plain assignments: a lookup
        # through edge() per item cost a training frame of 51k edges 0.1 s.
        for values, items, what in ((weights, self.edges, "edge"), (biases, self.neurons, "neuron")):
            unknown = next(iter(values.keys() - items.keys()), None)
            if unknown is not None:
                raise NetworkError(f"there is no {what} {unknown!r}")
        edges, neurons = self.edges, self.neurons
        for eid, w in weights.items():
            edges[eid].weight = w
        for nid, b in biases.items():
            neurons[nid].bias = b
        self.changed.emit(Change("values"))

    def set_value_arrays(self, edge_ids: Sequence[str], weights: np.ndarray,
                         bias_ids: Sequence[str], biases: np.ndarray,
                         keep: AbstractSet[str] = frozenset()) -> None:
        """set_values for values given as arrays aligned to tuples of ids (a training
        frame, in its plan's order): one `values` event, and no dict of 51k entries built
        per frame. Ids the document no longer has, and ids in `keep` (edited since the frame
        was made), are left as they are. All or nothing: a non-finite value is refused
        before anything changes."""
        parts = (("weight", self.edges, edge_ids, np.asarray(weights)),
                 ("bias", self.neurons, bias_ids, np.asarray(biases)))
        for what, _, ids, values in parts:
            if values.shape != (len(ids),):
                raise NetworkError(f"{len(ids)} ids but {values.shape} {what} values")
            bad = np.flatnonzero(~np.isfinite(values))
            if bad.size:
                raise NetworkError(f"the {what} of {ids[bad[0]]} would be {values[bad[0]]}, "
                                   f"not a finite number")
        for what, items, ids, values in parts:
            found, at = self._items_at(items, ids)
            numbers = (values if at is None else values[at]).astype(float).tolist()
            # Every value written, then the few kept ones put back: cheaper than leaving them
            # out of 51k (and no one hears of the document before the event).
            kept = [(item, getattr(item, what)) for item in map(items.get, keep) if item]
            if what == "weight":  # plain assignments: setattr() tripled the cost
                for edge, number in zip(found, numbers):
                    edge.weight = number
            else:
                for neuron, number in zip(found, numbers):
                    neuron.bias = number
            for item, value in kept:
                setattr(item, what, value)
        self.changed.emit(Change("values"))

    def weights_of(self, edge_ids: Sequence[str]) -> np.ndarray:
        """The weights of these edges (all in the document) as an array: what a view of a
        51k-edge net reads on every training frame, at C speed."""
        found, at = self._items_at(self.edges, edge_ids)
        if at is not None:
            raise NetworkError("weights_of: an edge the document does not have")
        return np.fromiter(map(attrgetter("weight"), found), float, len(found))

    def _items_at(self, items: dict, ids: Sequence[str]) -> tuple[list, np.ndarray | None]:
        """The items named by `ids` that the document has, and their positions in `ids`
        (None: all of them): core.network_index.ItemsAt."""
        kind = "edges" if items is self.edges else "neurons"
        return self._found.find(items, ids, kind, self._set_versions[kind])

    def replace_with(self, other: "Network", copy: bool = True) -> None:
        """Take over another document's contents (New, Open, templates): one `reset` event.
        With copy=False the items are taken as they are (a network nobody else holds)."""
        if copy:
            self.neurons = {k: replace(v) for k, v in other.neurons.items()}
            self.edges = {k: replace(v) for k, v in other.edges.items()}
        else:
            self.neurons, self.edges = dict(other.neurons), dict(other.edges)
        # Ids restart with each document: a fresh net gets n1, e1, not the last one's n37.
        self._next_id = dict(other._next_id)
        self._structure_changed(Change("reset"))

    def delta(self, ids: set[str] | frozenset[str], structural: bool) -> "NetworkDelta":
        """What another copy of this document needs to catch up with edits of `ids`: the
        items as they are now, the ids gone, and (after a structure edit) the order. Costs
        the edited items, not the whole network (51k edges copied took 0.6 s per edit)."""
        return NetworkDelta({i: replace(self.neurons[i]) for i in ids if i in self.neurons},
                            {i: replace(self.edges[i]) for i in ids if i in self.edges},
                            tuple(i for i in ids if i not in self.neurons and i not in self.edges),
                            (tuple(self.neurons), tuple(self.edges)) if structural else None)

    def apply_delta(self, delta: "NetworkDelta") -> None:
        """Catch up with the copy a delta was taken from: one `reset` event."""
        for i in delta.gone:
            self.neurons.pop(i, None)
            self.edges.pop(i, None)
        self.neurons.update({i: replace(n) for i, n in delta.neurons.items()})
        self.edges.update({i: replace(e) for i, e in delta.edges.items()})
        if delta.order is not None:  # the same order: the same compiled plan
            self.neurons = {i: self.neurons[i] for i in delta.order[0]}
            self.edges = {i: self.edges[i] for i in delta.order[1]}
        self._structure_changed(Change("reset"))

    # ----- copies and plain data -------------------------------------------------------------
    def copy(self) -> "Network":
        net = Network({k: replace(v) for k, v in self.neurons.items()},
                      {k: replace(v) for k, v in self.edges.items()})
        net._next_id = dict(self._next_id)
        return net

    def to_dict(self) -> dict:
        return {
            "neurons": [_neuron_dict(n) for n in self.neurons.values()],
            "edges": [_edge_dict(e, e.weight, e.frozen) for e in self.edges.values()],
        }

    def to_dict_in_slices(self, edges_per_slice: int) -> tuple[list[dict], Iterator[list[dict]]]:
        """to_dict's neurons, and its edges a slice at a time, of the document as it is when
        this is called (its weights and flags read now, at C speed): what writing a 51k-edge
        net aside between other events needs. (An edge's id and ends never change.)"""
        edges = list(self.edges.values())
        weights = list(map(attrgetter("weight"), edges))
        frozen = list(map(attrgetter("frozen"), edges))

        def slices() -> Iterator[list[dict]]:
            for start in range(0, len(edges), edges_per_slice):
                part = slice(start, start + edges_per_slice)
                yield list(map(_edge_dict, edges[part], weights[part], frozen[part]))
        return [_neuron_dict(n) for n in self.neurons.values()], slices()

    @classmethod
    def from_dict(cls, data: dict) -> "Network":
        """Build a document from plain data, validating as the edit methods do.

        Linear in the size of the graph: edges are checked one by one without the cycle
        search, then one topological sort finds any cycle (and only then is the first edge
        that closes one looked for, to name it, as edge_refusal would).
        """
        net = cls()
        for i, n in enumerate(data.get("neurons", [])):
            try:
                nid = n["id"]
                if nid in net.neurons:
                    raise NetworkError(f"the id {nid!r} is already in use")
                activation = n.get("activation")
                role = n["role"]
                if role not in ROLES:
                    raise NetworkError(f"unknown role {role!r}; use one of {', '.join(ROLES)}")
                activation = activation or DEFAULT_ACTIVATION[role]
                _check_activation(activation)
                net.neurons[nid] = Neuron(nid, role, activation, _finite(n.get("bias", 0.0), "bias"),
                                          str(n.get("label", "")), _finite(n.get("x", 0.0), "x"),
                                          _finite(n.get("y", 0.0), "y"), bool(n.get("frozen", False)),
                                          None if n.get("feature") is None
                                          else Feature.from_dict(n["feature"]))
            except KeyError as exc:
                raise NetworkError(f"neurons[{i}] has no {exc.args[0]!r}") from None
            except (NetworkError, TypeError, ValueError) as exc:
                raise NetworkError(f"neurons[{i}]: {exc}") from None
        pairs: set[tuple[str, str]] = set()
        for i, e in enumerate(data.get("edges", [])):
            try:
                eid, src, dst = e["id"], e["source"], e["target"]
                if eid in net.edges or eid in net.neurons:
                    raise NetworkError(f"the id {eid!r} is already in use")
                delay = e.get("delay", 0)
                reason = _delay_refusal(delay) or net._simple_refusal(src, dst, pairs, delay)
                if reason:
                    raise NetworkError(reason)
                pairs.add((src, dst))
                net.edges[eid] = Edge(eid, src, dst, _finite(e.get("weight", 0.0), "weight"),
                                      bool(e.get("frozen", False)), int(delay))
            except KeyError as exc:
                raise NetworkError(f"edges[{i}] has no {exc.args[0]!r}") from None
            except (NetworkError, TypeError, ValueError) as exc:
                raise NetworkError(f"edges[{i}]: {exc}") from None
        # The instantaneous edges in file order, with their positions in the file
        at = [i for i, e in enumerate(net.edges.values()) if not e.delay]
        edges = list(net.edges.values())
        hit = graph.first_closing_edge(list(net.neurons), [edges[i] for i in at])
        if hit is not None:
            k, path = hit
            e = edges[at[k]]
            message = net._cycle_message(e.source, e.target, path)
            raise NetworkError(f"edges[{at[k]}]: {message}")
        for prefix, items in (("n", net.neurons), ("e", net.edges)):
            net._next_id[prefix] = 1 + max((_numeric_suffix(k) for k in items), default=0)
        return net

    @property
    def edges_shape_version(self) -> tuple[int, int]:
        """Changes when an edge is added or removed or an edge's frozen flag or delay changes
        (not with neurons or values): what a cache of the edges' shape is keyed by."""
        return self._set_versions["edges"], self._set_versions["edge_flags"]

    def same_as(self, other: "Network") -> bool:
        """Equal contents, order and ids (what undo and file round trips must preserve)."""
        return self.to_dict() == other.to_dict()

    def _structure_changed(self, change: Change, rewire: Rewire | None = None) -> None:
        """Bump the structure version and say so. `rewire`: how the edges changed, so the
        wiring index follows (each rebuild of it is a pass over every edge); None when they
        changed in a way it does not follow (their order): it is made again when next asked."""
        wiring = self._wiring_index
        if wiring is not None and wiring.version == self.structure_version:
            self._wiring_index = wiring.after(rewire)
        for kind in SETS_CHANGED.get(change.kind, ()):
            self._set_versions[kind] += 1
        self.structure_version += 1
        self.changed.emit(replace(change, structural=True))


def _path_names(names: list[str], keep: int = 8) -> str:
    """'a -> b -> c': a long path keeps its two ends, 'a -> b -> ... (19,990 more) -> y -> z'."""
    names = [shorten(n, 40) for n in names]
    if len(names) <= keep:
        return " -> ".join(names)
    half = keep // 2
    hidden = len(names) - 2 * half
    return " -> ".join([*names[:half], f"... ({hidden:,} more)", *names[-half:]])


def _neuron_dict(n: Neuron) -> dict:
    d = {"id": n.id, "role": n.role, "activation": n.activation, "bias": n.bias,
         "label": n.label, "x": n.x, "y": n.y, "frozen": n.frozen}
    if n.feature is not None:  # absent when unset: files without features stay as they were
        d["feature"] = n.feature.to_dict()
    return d


def _edge_dict(e: Edge, weight: float, frozen: bool) -> dict:
    d = {"id": e.id, "source": e.source, "target": e.target, "weight": weight, "frozen": frozen}
    if e.delay:  # absent when 0: files without delayed edges stay as they were
        d["delay"] = e.delay
    return d


def _delay_refusal(delay: object) -> str | None:
    if type(delay) is not int or delay not in DELAYS:  # true and 1.0 are not delays
        return f"an edge's delay must be 0 or 1, not {shorten(repr(delay), 40)}"
    return None


def _floats(values: dict) -> dict[str, float]:
    """The values as floats, and all finite unless one is not (checked by the caller); at
    C speed when they are numbers already (a training frame: 51k of them)."""
    try:
        numbers = list(map(float, values.values()))
    except (TypeError, ValueError):
        raise NetworkError("a weight or bias must be a number") from None
    return dict(zip(values.keys(), numbers))


def _check_feature(feature: object) -> Feature | None:
    if feature is not None and not isinstance(feature, Feature):
        raise NetworkError(f"a feature must be a core.features.Feature, not {feature!r}"[:200])
    return feature


def _check_activation(name: str) -> None:
    if name not in ACTIVATIONS:
        raise NetworkError(f"unknown activation {name!r}; use one of {', '.join(ACTIVATIONS)}")


def _finite(value: float, what: str) -> float:
    if isinstance(value, bool):
        raise NetworkError(f"{what} must be a number, not {value!r}")
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise NetworkError(f"{what} must be a number, not {shorten(repr(value), 40)}") from None
    except OverflowError:  # an int beyond float range
        raise NetworkError(f"{what} must be a finite number; this one is too large") from None
    if not math.isfinite(v):
        raise NetworkError(f"{what} must be a finite number, not {value!r}")
    return v


def _insert(d: dict, key: str, value: object, index: int | None) -> dict:
    if index is None or index >= len(d):
        d[key] = value
        return d
    items = list(d.items())
    items.insert(max(index, 0), (key, value))
    return dict(items)


def _numeric_suffix(key: str) -> int:
    match = re.search(r"(\d+)$", key)
    return int(match.group(1)) if match else 0
