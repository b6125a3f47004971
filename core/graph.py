"""Directed graphs over node ids: topological order, depths and the one cycle rule.

Pure functions over node ids and edges, shared by the document (core.network), and through
it the engine's plan, the layout and the step-through. An edge is anything with `.source` and
`.target` ids: the document's own Edge, or an Arc for plain pairs. (Reading two attributes is
what the document's loops did; making a (source, target) tuple per edge first cost 50k-edge
nets 60% more time per sort and search.)

The rule, stated once: an edge source -> target closes a cycle when target already reaches
source, and the cycle it closes is named by the shortest such path (breadth first, successors
in edge order). For a whole list of edges (a file, a bulk connect) the edge named is the first
one, in list order, that closes a cycle with the edges before it: what adding them one at a
time would refuse. Everything is iterative (no recursion limit).

Delayed edges (`delay` 1: the source's output one time step earlier, core.network) are what
make a recurrent net. A cycle is allowed exactly when it passes through at least one delayed
edge, a delayed self-loop included: unrolled over time, such a cycle goes from step t - 1 to
step t and so closes nothing. That is the same as saying the instantaneous edges alone form an
acyclic graph, so every function here that orders or searches is given `instant(edges)`: the
order and depths the engine computes within one time step are over those edges only, and a
cycle refused is named by a path of them.
"""
from __future__ import annotations

import heapq
from collections import deque
from collections.abc import Collection, Iterable, Sequence
from typing import NamedTuple, Protocol

from core.errors import NetworkError


class Ends(Protocol):
    @property
    def source(self) -> str: ...

    @property
    def target(self) -> str: ...


class Arc(NamedTuple):
    """An edge that is only its ends."""

    source: str
    target: str


def instant(edges: Iterable[Ends]) -> list[Ends]:
    """The edges without a delay (an edge with no `delay` attribute, an Arc, has none): the
    graph within one time step, which must be acyclic."""
    return [e for e in edges if not getattr(e, "delay", 0)]


def successors(nodes: Iterable[str], edges: Iterable[Ends]) -> dict[str, list[str]]:
    """Each node's targets, in edge order."""
    succ: dict[str, list[str]] = {n: [] for n in nodes}
    for e in edges:
        succ[e.source].append(e.target)
    return succ


def topological_order(nodes: Sequence[str], edges: Iterable[Ends]) -> list[str]:
    """Every source before its targets; ties keep the order of `nodes` (Kahn with a heap).
    Raises NetworkError if the edges hold a cycle."""
    indeg, succ = _adjacency(nodes, edges)
    names = list(indeg)
    position = {n: i for i, n in enumerate(names)}
    heap = [i for i, d in enumerate(indeg.values()) if d == 0]  # ascending: already a heap
    order: list[str] = []
    while heap:
        n = names[heapq.heappop(heap)]
        order.append(n)
        for m in succ[n]:
            indeg[m] -= 1
            if indeg[m] == 0:
                heapq.heappush(heap, position[m])
    if len(order) != len(indeg):
        raise NetworkError("the graph has a cycle")
    return order


def depths(nodes: Sequence[str], edges: Iterable[Ends], roots: Collection[str]) -> dict[str, int]:
    """Roots are depth 0; any other node is one more than its deepest source (at least 1):
    the longest path from the roots. In the order of `nodes`; NetworkError on a cycle."""
    pred: dict[str, list[str]] = {n: [] for n in nodes}
    succ: dict[str, list[str]] = {n: [] for n in pred}
    for e in edges:
        pred[e.target].append(e.source)
        succ[e.source].append(e.target)
    order = _kahn({n: len(p) for n, p in pred.items()}, succ)
    if order is None:
        raise NetworkError("the graph has a cycle")
    depth: dict[str, int] = {}
    for n in order:
        depth[n] = 0 if n in roots else 1 + max(map(depth.__getitem__, pred[n]), default=0)
    return {n: depth[n] for n in pred}


def is_acyclic(nodes: Iterable[str], edges: Iterable[Ends]) -> bool:
    return _kahn(*_adjacency(nodes, edges)) is not None


def cycle_closed_by(succ: dict[str, list[str]], source: str, target: str) -> list[str] | None:
    """The cycle an edge source -> target would close, as the path target -> ... -> source
    (shortest, breadth first), or None if target does not reach source."""
    parent: dict[str, str | None] = {target: None}
    queue = deque([target])
    while queue:
        n = queue.popleft()
        if n == source:
            path = [n]
            while parent[path[-1]] is not None:
                path.append(parent[path[-1]])  # type: ignore[arg-type]
            return path[::-1]
        for m in succ.get(n, ()):
            if m not in parent:
                parent[m] = n
                queue.append(m)
    return None


def first_closing_edge(nodes: Sequence[str], edges: Sequence[Ends]
                       ) -> tuple[int, list[str]] | None:
    """The first edge, in list order, that closes a cycle with the edges before it: its index
    and the path target -> ... -> source it closes (cycle_closed_by). None for a DAG.

    One linear pass when there is no cycle. Otherwise any cycle's last edge bounds the answer;
    when no earlier edge closes one (a single cycle) one more pass proves it, else a binary
    search over prefixes: a logarithmic number of passes, never one search per edge.
    """
    indeg, succ = _adjacency(nodes, edges)
    if _kahn(indeg, succ) is not None:
        return None
    stuck = {n for n, d in indeg.items() if d > 0}
    hi = 1 + _last_edge_of_a_cycle(stuck, edges)  # edges[:hi] holds a cycle
    lo = hi - 1 if is_acyclic(nodes, edges[: hi - 1]) else 0  # edges[:lo] holds none
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if is_acyclic(nodes, edges[:mid]):
            lo = mid
        else:
            hi = mid
    closing = edges[hi - 1]
    path = cycle_closed_by(successors(nodes, edges[: hi - 1]), closing.source, closing.target)
    assert path is not None  # edges[:hi - 1] holds no cycle and edges[:hi] does
    return hi - 1, path


def _last_edge_of_a_cycle(stuck: set[str], edges: Sequence[Ends]) -> int:
    """The index of the last edge of one cycle among the nodes a topological sort could not
    place. Each of them has a predecessor among them, so walking back must revisit one."""
    pred: dict[str, tuple[str, int]] = {}
    for i, e in enumerate(edges):
        if e.source in stuck and e.target in stuck and e.target not in pred:
            pred[e.target] = (e.source, i)
    walk: dict[str, int] = {}  # node -> index of the edge walked back along
    node = next(iter(stuck))
    while node not in walk:
        walk[node] = pred[node][1]
        node = pred[node][0]
    loop = list(walk)[list(walk).index(node):]
    return max(walk[n] for n in loop)


def _adjacency(nodes: Iterable[str], edges: Iterable[Ends]
               ) -> tuple[dict[str, int], dict[str, list[str]]]:
    indeg = dict.fromkeys(nodes, 0)
    succ: dict[str, list[str]] = {n: [] for n in indeg}
    for e in edges:
        indeg[e.target] += 1
        succ[e.source].append(e.target)
    return indeg, succ


def _kahn(indeg: dict[str, int], succ: dict[str, list[str]]) -> list[str] | None:
    """Nodes in some topological order, None on a cycle; consumes indeg, whose entries left
    above 0 are then the nodes no order can place."""
    placed = [n for n, d in indeg.items() if d == 0]
    for n in placed:  # the list grows as it is read: a queue without popleft
        for m in succ[n]:
            indeg[m] -= 1
            if indeg[m] == 0:
                placed.append(m)
    return placed if len(placed) == len(indeg) else None
