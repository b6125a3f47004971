"""Automatic placement: neurons in columns by depth, each column centred vertically."""
from __future__ import annotations

import math

from core.network import Network

COLUMN_GAP = 180.0
ROW_GAP = 80.0
# A recurrent net's columns spaced wider: the canvas bows the delayed edges among a column's
# neurons out to its sides, each with a z⁻¹ mark, and loops self-loops over their neurons
# (gui/canvas/edge_item.py); at 80 px an Elman layer's 16 such edges were one tangle.
RECURRENT_COLUMN_GAP = 260.0
RECURRENT_ROW_GAP = 120.0
FOLD_ABOVE = 48  # neurons in one column


def layout_by_depth(net: Network, column_gap: float | None = None,
                    row_gap: float | None = None) -> dict[str, tuple[float, float]]:
    """A position for every neuron: x by depth, outputs in the last column, y centred on 0.
    Gaps not given are COLUMN_GAP and ROW_GAP, wider for a recurrent net.

    Within a column neurons keep their current top-to-bottom order, so re-running the layout
    after a small edit does not shuffle what the user already arranged.
    """
    recurrent = net.is_recurrent
    if column_gap is None:
        column_gap = RECURRENT_COLUMN_GAP if recurrent else COLUMN_GAP
    if row_gap is None:
        row_gap = RECURRENT_ROW_GAP if recurrent else ROW_GAP
    depth = net.depths()
    last = max(depth.values(), default=0)
    for n in net.outputs:  # outputs line up on the right even when some are shallow
        depth[n.id] = max(last, 1)
    columns: dict[int, list[str]] = {}
    for nid in net.neurons:
        columns.setdefault(depth[nid], []).append(nid)
    positions = {}
    x = 0.0
    for d in sorted(columns):
        members = sorted(columns[d], key=lambda nid: (net.neurons[nid].y, net.neurons[nid].x))
        # A tall column folds into a square grid (784 inputs: 28 x 28, as the image they
        # come from); a column 784 neurons high would leave Fit view a thin unreadable line.
        width = 1 if len(members) <= FOLD_ABOVE else math.ceil(math.sqrt(len(members)))
        height = math.ceil(len(members) / width)
        top = -(height - 1) * row_gap / 2.0
        for i, nid in enumerate(members):
            row, col = divmod(i, width)
            positions[nid] = (x + col * row_gap, top + row * row_gap)
        x += (width - 1) * row_gap + column_gap
    return positions


def apply_layout(net: Network) -> None:
    """Move every neuron to its layout position (scripts; the GUI wraps this in an undoable edit)."""
    for nid, (x, y) in layout_by_depth(net).items():
        net.move_neuron(nid, x, y)


def free_spot(net: Network, x: float, y: float, spacing: float) -> tuple[float, float]:
    """The point nearest (x, y), on a grid of `spacing` around it, at least `spacing` from
    every neuron: where a neuron added "at the centre of the view" does not cover another.
    Rings of grid points are searched outwards; (x, y) itself when it is free."""
    taken = [(n.x, n.y) for n in net.neurons.values()]

    def free(px: float, py: float) -> bool:
        return all((px - qx) ** 2 + (py - qy) ** 2 >= spacing * spacing for qx, qy in taken)

    for ring in range(0, 1000):
        spots = [(x + i * spacing, y + j * spacing) for i in range(-ring, ring + 1)
                 for j in range(-ring, ring + 1) if max(abs(i), abs(j)) == ring]
        spots.sort(key=lambda p: ((p[0] - x) ** 2 + (p[1] - y) ** 2, p[1], p[0]))
        for px, py in spots:
            if free(px, py):
                return px, py
    return x, y  # a canvas packed for a thousand rings around: the centre, as before
