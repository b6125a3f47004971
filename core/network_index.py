"""Indexes the network document keeps so that a 51k-edge net answers in milliseconds: each
neuron's edges (the wiring), and where the items named by a tuple of ids are. Both are
plain caches of the document (core.network): never a second copy of a weight, and each knows
which version of the document it describes.

An edge here is anything with `.id`, `.source` and `.target`: the document's own Edge.
"""
from __future__ import annotations

from dataclasses import dataclass
from itertools import compress, repeat
from operator import is_
from typing import Any, Iterable, Sequence

import numpy as np

# Which sets of items a structural change adds to, removes from or replaces (neuron_changed
# and edge_changed change items in place; "edge_flags" counts the latter, for caches of the
# edges' shape: core.experiments.run.structure_fingerprint).
SETS_CHANGED = {"neuron_added": ("neurons",), "neuron_removed": ("neurons", "edges"),
                "edge_added": ("edges",), "edge_removed": ("edges",),
                "edge_changed": ("edge_flags",),  # an edge's frozen flag or delay
                "reset": ("neurons", "edges", "edge_flags")}


@dataclass
class Rewire:
    """An edit's change to the wiring: what Wiring.after follows."""

    added: Sequence[Any] = ()  # edges, at the end of the edge order
    removed: Sequence[Any] = ()  # edges
    neurons_added: Sequence[str] = ()
    neurons_removed: Sequence[str] = ()  # with all their edges (in `removed`)


class Wiring:
    """Each neuron's incoming and outgoing edges, in edge order, as of one structure version
    of the document. Wiring one edge by hand asked four questions that each scanned all 51k
    edges of a big net (40-80 ms); built once, the wiring follows the edits that only add
    neurons or add and remove edges (Rewire). Each neuron's edges are a dict by edge id (in
    insertion order): removing a neuron's 800 edges from its neighbours' lists is 1,600 dict
    deletions, where filtering those lists was a pass over every edge."""

    def __init__(self, version: int, into: dict[str, dict], out: dict[str, dict]) -> None:
        self.version, self.into, self.out = version, into, out

    @classmethod
    def build(cls, version: int, neurons: Iterable[str], edges: Iterable[Any]) -> "Wiring":
        into: dict[str, dict] = {}
        out: dict[str, dict] = {}
        for n in neurons:
            into[n], out[n] = {}, {}
        for e in edges:
            out[e.source][e.id] = e
            into[e.target][e.id] = e
        return cls(version, into, out)

    def after(self, rewire: Rewire | None) -> "Wiring | None":
        """This wiring one version on, changed as `rewire` says (None: it cannot follow,
        the edges' order changed; it is built again when next asked)."""
        if rewire is None:
            return None
        into, out = self.into, self.out
        for nid in rewire.neurons_added:
            into[nid], out[nid] = {}, {}
        for e in rewire.added:
            out[e.source][e.id] = e
            into[e.target][e.id] = e
        dropped = set(rewire.neurons_removed)
        for e in rewire.removed:
            if e.source not in dropped:
                del out[e.source][e.id]
            if e.target not in dropped:
                del into[e.target][e.id]
        for nid in dropped:
            del into[nid], out[nid]
        self.version += 1
        return self

    def incoming(self, nid: str) -> list:
        return list(self.into.get(nid, {}).values())

    def outgoing(self, nid: str) -> list:
        return list(self.out.get(nid, {}).values())

    def find(self, source: str, target: str) -> Any | None:
        return next((e for e in self.out.get(source, {}).values() if e.target == target), None)

    def get(self, nid: str, default: Sequence[str] = ()) -> list[str]:
        """A neuron's targets: the successor map core.graph's cycle search reads, one neuron
        at a time as it asks (a map of every neuron's targets was a pass over all edges)."""
        return [e.target for e in self.out.get(nid, {}).values()] or list(default)


class InstantTargets:
    """A successor map over the edges without a delay (core.graph.instant), read one neuron
    at a time from a Wiring as core.graph's cycle search asks: the graph in which a new
    instantaneous edge may close no cycle."""

    def __init__(self, wiring: Wiring) -> None:
        self.wiring = wiring

    def get(self, nid: str, default: Sequence[str] = ()) -> list[str]:
        return [e.target for e in self.wiring.out.get(nid, {}).values()
                if not getattr(e, "delay", 0)] or list(default)


class ItemsAt:
    """Where the items named by a tuple of ids are, remembered for the last few tuples asked
    about: a training frame's ids are one tuple frame after frame (gui/live/training_link.py),
    the edge drawing's another, and looking 51k freshly unpickled strings up cost 25 ms a
    frame."""

    SIZE = 4

    def __init__(self) -> None:
        self._found: dict[tuple, tuple] = {}

    def find(self, items: dict, ids: Sequence[str], kind: str, version: int
             ) -> tuple[list, np.ndarray | None]:
        """The items of `items` named by `ids` that it has, and their positions in `ids`
        (None: all of them), as of `version` of that kind of item (the document's count of
        additions, removals and replacements of its `kind`)."""
        key = (id(ids), kind)  # (ids itself is held below, so its id is not reused)
        cached = self._found.get(key)
        if cached is not None and cached[0] is ids and cached[1] == version:
            return cached[2], cached[3]
        found = list(map(items.get, ids))
        at = None
        if any(map(is_, found, repeat(None))):  # ids the document no longer has
            present = [item is not None for item in found]
            at = np.flatnonzero(present)
            found = list(compress(found, present))
        if len(self._found) >= self.SIZE:
            self._found.clear()
        self._found[key] = (ids, version, found, at)
        return found, at
