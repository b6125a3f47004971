"""Reversible edits of the network document: plain objects with apply(net) and revert(net).

The GUI wraps each in one QUndoCommand; scripts and tests use them directly. Removal keeps
indices and attached edges, so revert restores order and ids exactly. apply after revert
re-creates with the same ids, so redo after undo gives the same document too.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace

from core.network import Change, Edge, Network, Neuron


class Edit:
    title = "Edit"
    merge_key: tuple | None = None  # edits with equal keys in a row merge into one undo step

    def apply(self, net: Network) -> None:
        raise NotImplementedError

    def revert(self, net: Network) -> None:
        raise NotImplementedError

    def merge(self, later: "Edit") -> bool:
        return False


@dataclass
class AddNeuron(Edit):
    neuron: Neuron
    index: int | None = None

    @property
    def title(self) -> str:
        return f"Add {self.neuron.role} neuron"

    def apply(self, net: Network) -> None:
        n = self.neuron
        net.add_neuron(n.role, n.activation, n.bias, n.label, n.x, n.y, n.frozen, id=n.id,
                       index=self.index, feature=n.feature)

    def revert(self, net: Network) -> None:
        net.remove_neuron(self.neuron.id)


@dataclass
class RemoveItems(Edit):
    """Delete neurons (with their edges) and edges; revert puts everything back in place."""

    neuron_ids: list[str]
    edge_ids: list[str]
    _neurons: list[tuple[int, Neuron]] = field(default_factory=list)
    _edges: list[tuple[int, Edge]] = field(default_factory=list)

    @property
    def title(self) -> str:
        n, e = len(self.neuron_ids), len(self.edge_ids)
        return "Delete " + " and ".join(p for p in (f"{n} neuron(s)" if n else "",
                                                    f"{e} edge(s)" if e else "") if p)

    def apply(self, net: Network) -> None:
        # One pass and one event (net.remove_items): a neuron of a 51k-edge net cost a pass
        # for its edges, another in remove_neuron, and two rounds of every view.
        self._neurons, self._edges = net.remove_items(self.neuron_ids, self.edge_ids)

    def revert(self, net: Network) -> None:
        for index, n in self._neurons:
            net.add_neuron(n.role, n.activation, n.bias, n.label, n.x, n.y, n.frozen, id=n.id,
                           index=index, feature=n.feature)
        net.restore_edges([(index, replace(e)) for index, e in self._edges])


@dataclass
class Connect(Edit):
    source: str
    target: str
    weight: float
    edge_id: str
    delay: int = 0  # 1: a recurrent edge (the source's output one step earlier)

    @property
    def title(self) -> str:
        return f"Connect {self.source} -> {self.target}" + (" (delayed)" if self.delay else "")

    def apply(self, net: Network) -> None:
        net.connect(self.source, self.target, self.weight, id=self.edge_id, delay=self.delay)

    def revert(self, net: Network) -> None:
        net.disconnect(self.edge_id)


@dataclass
class ConnectMany(Edit):
    pairs: list[tuple[str, str]]
    weights: list[float]
    title: str = "Connect"
    _ids: list[str] = field(default_factory=list)
    delays: list[int] | None = None  # each edge's delay; None: all 0

    def apply(self, net: Network) -> None:
        # Redo gives the edges the ids they had the first time.
        edges = net.connect_many(self.pairs, self.weights, self._ids or None, self.delays)
        self._ids = [e.id for e in edges]

    def revert(self, net: Network) -> None:
        for eid in reversed(self._ids):
            net.disconnect(eid)


@dataclass
class SetValue(Edit):
    """One attribute of a neuron or edge: weight, bias, activation, label, frozen, role, an
    input's feature (a core.features.Feature or None), or an edge's delay (0 or 1)."""

    kind: str  # "weight", "edge_frozen", "delay", "bias", "activation", "label", "frozen",
    # "role", "feature"
    item_id: str
    old: object
    new: object

    @property
    def title(self) -> str:
        name = {"edge_frozen": "frozen flag"}.get(self.kind, self.kind)
        return f"Set {name} of {self.item_id}"

    @property
    def merge_key(self) -> tuple | None:  # typing into a weight field is one undo step
        return (self.kind, self.item_id) if self.kind in ("weight", "bias") else None

    def apply(self, net: Network) -> None:
        self._set(net, self.new)

    def revert(self, net: Network) -> None:
        self._set(net, self.old)

    def merge(self, later: Edit) -> bool:
        if isinstance(later, SetValue) and later.merge_key == self.merge_key is not None:
            self.new = later.new
            return True
        return False

    def _set(self, net: Network, value: object) -> None:
        setter = {"weight": net.set_weight, "edge_frozen": net.set_edge_frozen,
                  "delay": net.set_edge_delay,
                  "bias": net.set_bias, "activation": net.set_activation, "label": net.set_label,
                  "frozen": net.set_frozen, "role": net.set_role,
                  "feature": net.set_feature}[self.kind]
        setter(self.item_id, value)


@dataclass
class MoveNeurons(Edit):
    """A drag: every moved neuron's old and new position, one undo step."""

    old: dict[str, tuple[float, float]]
    new: dict[str, tuple[float, float]]
    title: str = "Move"

    def apply(self, net: Network) -> None:
        for nid, (x, y) in self.new.items():
            net.move_neuron(nid, x, y)

    def revert(self, net: Network) -> None:
        for nid, (x, y) in self.old.items():
            net.move_neuron(nid, x, y)


@dataclass
class SetValues(Edit):
    """Many weights and biases at once (reset weights, a stretch of training, an import)."""

    old: tuple[dict[str, float], dict[str, float]]
    new: tuple[dict[str, float], dict[str, float]]
    title: str = "Set weights"

    def apply(self, net: Network) -> None:
        net.set_values(*self.new)

    def revert(self, net: Network) -> None:
        net.set_values(*self.old)


@dataclass
class ReplaceNetwork(Edit):
    """New document or template: the whole network at once."""

    old: Network
    new: Network
    title: str = "Replace network"

    def apply(self, net: Network) -> None:
        net.replace_with(self.new)

    def revert(self, net: Network) -> None:
        net.replace_with(self.old)


@dataclass
class Compound(Edit):
    edits: list[Edit]
    title: str = "Edit"

    def apply(self, net: Network) -> None:
        """All or nothing: when one edit is refused, those before it are reverted (a delay
        turned off on three edges, the third closing a cycle, leaves all three as they were)."""
        done: list[Edit] = []
        try:
            for e in self.edits:
                e.apply(net)
                done.append(e)
        except Exception:
            for e in reversed(done):
                e.revert(net)
            raise

    def revert(self, net: Network) -> None:
        for e in reversed(self.edits):
            e.revert(net)


def values_of(net: Network) -> tuple[dict[str, float], dict[str, float]]:
    return ({e.id: e.weight for e in net.edges.values()},
            {n.id: n.bias for n in net.neurons.values()})


@dataclass
class SetSettings(Edit):
    """A change of the project's data or training settings (undoable like any other edit)."""

    project: object  # core.project.Project (kept loose: edits need no project import)
    field_name: str  # "data" or "training"
    old: object
    new: object
    title: str = "Change settings"

    def apply(self, net: Network) -> None:
        setattr(self.project, self.field_name, self.new)
        net.changed.emit(Change("settings"))

    def revert(self, net: Network) -> None:
        setattr(self.project, self.field_name, self.old)
        net.changed.emit(Change("settings"))


@dataclass
class ReplaceProject(Edit):
    """New, a template, a restore: the whole project (network, data and training settings,
    title) at once, so undo gives back the network and its settings together."""

    project: object  # core.project.Project (kept loose: edits need no project import)
    old: object  # Project snapshots
    new: object
    title: str = "Replace project"

    def apply(self, net: Network) -> None:
        self.project.replace_with(self.new.snapshot(), copy=False)

    def revert(self, net: Network) -> None:
        self.project.replace_with(self.old.snapshot(), copy=False)

