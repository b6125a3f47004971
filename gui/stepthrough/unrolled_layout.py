"""Where the unrolled net's copies go: one copy of the net per time step, side by side, time
running left to right.

Each copy is the canvas's drawing turned a quarter: the canvas's left-to-right flow (inputs,
hidden, outputs) runs bottom to top in a copy, so a neuron's copies at successive steps sit in
one row and a delayed edge runs from copy t-1 to copy t along it, as textbooks draw a net
unrolled in time. Plain numbers, no Qt: the view paints from them and tests read them.
"""
from __future__ import annotations

from dataclasses import dataclass

from core.network import Network

ACROSS = 1.3  # the canvas's vertical distances, across a copy: room for a label each
UP = 0.6  # the canvas's horizontal distances, up a copy: a 1-4-1 net fits 1024x700
SIDE = 56.0  # left and right of a copy's neurons
TOP = 36.0  # above its top neurons: the delayed edges bow up into it
BOTTOM = 44.0  # below its bottom neurons: their labels
GAP = 60.0  # between copies
HEADER = 24.0  # the "t = 1" line above the copies


@dataclass(frozen=True)
class UnrolledLayout:
    steps: int
    positions: dict[tuple[str, int], tuple[float, float]]  # (neuron, t) -> centre
    copies: tuple[tuple[float, float, float, float], ...]  # per step: x, y, width, height
    instant: tuple[tuple[str, int], ...]  # (edge, t): within copy t
    delayed: tuple[tuple[str, int], ...]  # (edge, t): from copy t-1 to copy t, t >= 2
    starts_at_zero: tuple[str, ...]  # delayed edges, which bring 0 into copy 1

    def ends(self, net: Network, key: tuple[str, int]) -> tuple[tuple[float, float],
                                                                  tuple[float, float]]:
        """Where an edge copy starts and ends (a delayed one: at its source in copy t-1)."""
        e = net.edges[key[0]]
        return (self.positions[(e.source, key[1] - e.delay)], self.positions[(e.target, key[1])])


def unrolled_layout(net: Network, steps: int) -> UnrolledLayout:
    neurons = list(net.neurons.values())
    xs, ys = [n.x for n in neurons], [n.y for n in neurons]
    width = (max(ys) - min(ys)) * ACROSS + 2 * SIDE
    height = (max(xs) - min(xs)) * UP + TOP + BOTTOM
    positions, copies = {}, []
    for t in range(1, steps + 1):
        left = (t - 1) * (width + GAP)
        copies.append((left, HEADER, width, height))
        for n in neurons:
            positions[(n.id, t)] = (left + SIDE + (n.y - min(ys)) * ACROSS,
                                    HEADER + TOP + (max(xs) - n.x) * UP)
    edges = list(net.edges.values())
    return UnrolledLayout(
        steps, positions, tuple(copies),
        tuple((e.id, t) for t in range(1, steps + 1) for e in edges if not e.delay),
        tuple((e.id, t) for t in range(2, steps + 1) for e in edges if e.delay),
        tuple(e.id for e in edges if e.delay))
