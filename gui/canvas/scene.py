"""The canvas scene: a view of the network document.

It subscribes to the document's changes and keeps a dict from id to item; items paint what
the document says. Gestures (wiring from a neuron's port, moving, dropping a new neuron) turn
into core edits pushed on the undo stack; the document then tells the scene what changed.
"""
from __future__ import annotations

import contextlib
from typing import Iterator

import numpy as np
from PySide6.QtCore import QLineF, QPointF, QRectF, QSignalBlocker, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QPainter, QPen, QUndoStack
from PySide6.QtWidgets import QGraphicsItem, QGraphicsLineItem, QGraphicsScene

from core.activations import DEFAULT_ACTIVATION
from core.edits import AddNeuron, Connect, MoveNeurons
from core.features import Feature
from core.initializers import wiring_weight
from core.network import Change, Network, Neuron
from core.training.progress import ValuesById
from gui import theme
from gui.canvas.batched_edges import THRESHOLD, BatchedEdgesItem
from gui.canvas.edge_item import EdgeItem
from gui.canvas.neuron_item import NeuronItem
from gui.commands import apply_and_push


class CanvasScene(QGraphicsScene):
    message = Signal(str)  # for the status bar: why a gesture did nothing, what it did
    neuron_hovered = Signal(str)  # a neuron id, or "" when the mouse leaves it
    edges_drawn = Signal(int, int)  # of a big graph: edges drawn, edges in the graph

    def __init__(self, network: Network, undo_stack: QUndoStack, parent=None) -> None:
        super().__init__(parent)
        self.network = network
        self.undo_stack = undo_stack
        self.neuron_items: dict[str, NeuronItem] = {}
        self.edge_items: dict[str, EdgeItem] = {}
        self.batched: BatchedEdgesItem | None = None
        self.weak_threshold = 0.0
        self.snap_to_grid = False
        self.initializer = "xavier_uniform"  # the project's, kept here by the training UI
        self.init_constant = 0.1
        self.rng = np.random.default_rng()
        self.gradients: ValuesById | None = None  # set: the gradients view is on
        self.maps_shown = False  # neurons are drawn larger, each with its map inside
        self._scale: float | None = None
        self._wire: tuple[str, QGraphicsLineItem] | None = None
        self._drag_start: dict[str, tuple[float, float]] = {}
        self._adjacent: dict[str, list[str]] | None = None  # neuron id -> its edge ids
        # What each item last showed (see _on_values): a bias text, an edge's style_key.
        self._shown_bias: dict[str, str] = {}
        self._edge_style: dict[str, tuple] = {}
        self._moving_on_canvas: set[str] = set()
        self._batch_timer = QTimer(self, singleShot=True, interval=30)
        self._batch_timer.timeout.connect(self._rebuild_batched)
        self.setSceneRect(QRectF(-5000, -5000, 10000, 10000))
        self.setItemIndexMethod(QGraphicsScene.NoIndex)
        network.changed.connect(self._on_network_changed)
        self.rebuild()

    # ----- building items from the document --------------------------------------------------
    def rebuild(self) -> None:
        if self.batched is not None:
            self.batched.dispose()
        self.clear()
        self.neuron_items, self.edge_items, self.batched, self._wire = {}, {}, None, None
        self._shown_bias, self._edge_style = {}, {}
        for nid in self.network.neurons:
            self._add_neuron_item(nid)
        self._build_edges()

    def _build_edges(self) -> None:
        for item in self.edge_items.values():
            self.removeItem(item)
        self.edge_items = {}
        if self.batched is not None:
            self.batched.dispose()
            self.removeItem(self.batched)
            self.batched = None
        self._scale = None
        if len(self.network.edges) > THRESHOLD:
            self.batched = BatchedEdgesItem(self)
            self.addItem(self.batched)
            for e in self.network.edges.values():
                if e.delay:
                    self._add_edge_item(e.id)
        else:
            for eid in self.network.edges:
                self._add_edge_item(eid)
            self.edges_drawn.emit(len(self.network.edges), len(self.network.edges))

    def _add_neuron_item(self, nid: str) -> None:
        item = NeuronItem(self, nid)
        self.neuron_items[nid] = item
        self.addItem(item)

    def _add_edge_item(self, eid: str) -> None:
        item = EdgeItem(self, eid)
        self.edge_items[eid] = item
        self.addItem(item)

    def _on_network_changed(self, change: Change) -> None:
        handler = getattr(self, f"_on_{change.kind}", None)
        self._scale = None
        if change.structural:
            self._adjacent = None
        if self.batched is not None:
            if change.kind == "edge_added":
                self.batched.edges_added(change.ids)
            elif change.kind in ("edge_removed", "neuron_removed"):
                self.batched.edges_removed(change.ids)  # a neuron's ids include its edges'
            # (a move marks the geometry stale in _refresh_edges_of, drags included)
        if handler:
            handler(change.ids)

    def _on_reset(self, ids) -> None:
        self.rebuild()

    def _on_neuron_added(self, ids) -> None:
        self._add_neuron_item(ids[0])

    def _on_neuron_removed(self, ids) -> None:
        # All items go before anyone hears of the selection: one event can remove several
        # selected neurons, and a listener must not meet an item whose neuron is gone.
        selected = False
        with QSignalBlocker(self):
            for i in ids:
                for table in (self.neuron_items, self.edge_items):
                    item = table.pop(i, None)
                    if item is not None:
                        selected = selected or item.isSelected()
                        self.removeItem(item)
        if selected:
            self.selectionChanged.emit()
        self._edges_changed()

    def _on_edge_added(self, ids) -> None:
        if self.batched is None and len(self.network.edges) <= THRESHOLD:
            for eid in ids:
                self._add_edge_item(eid)
        else:
            if self.batched is not None:
                edges = self.network.edges
                for eid in ids:
                    if edges[eid].delay and eid not in self.edge_items:
                        self._add_edge_item(eid)
            self._edges_changed()

    def _on_edge_removed(self, ids) -> None:
        for eid in ids:
            item = self.edge_items.pop(eid, None)
            if item is not None:
                self.removeItem(item)
        self._edges_changed()

    def _on_neuron_changed(self, ids) -> None:
        for nid in ids:
            self._shown_bias.pop(nid, None)
            if nid in self.neuron_items:
                self.neuron_items[nid].update()

    def _on_neuron_moved(self, ids) -> None:
        for nid in ids:
            if nid in self.neuron_items and nid not in self._moving_on_canvas:
                self.neuron_items[nid].sync()
        self._refresh_edges_of(ids)

    def _edges_of(self, nid: str) -> list[str]:
        if self._adjacent is None:
            self._adjacent = {n: [] for n in self.network.neurons}
            for e in self.network.edges.values():
                self._adjacent[e.source].append(e.id)
                self._adjacent[e.target].append(e.id)
        return self._adjacent.get(nid, [])

    def _refresh_edges_of(self, nids) -> None:
        if self.batched is not None:
            self.batched.geometry_stale = True
            self._batch_timer.start()
            if not self.edge_items:  # no delayed edges drawn apart
                return
        for nid in nids:
            for eid in self._edges_of(nid):
                if eid in self.edge_items:
                    self.edge_items[eid].refresh_geometry()

    def _on_edge_changed(self, ids) -> None:
        edges = self.network.edges
        for eid in ids:
            self._edge_style.pop(eid, None)
            if self.batched is not None and eid in edges:
                self._delay_toggled_in_batch(eid)
            item = self.edge_items.get(eid)
            if item is not None:
                if item.delayed != bool(edges[eid].delay):  # toggled: another kind of line
                    item.refresh_geometry()
                item.update()
        self._edges_changed()

    def _delay_toggled_in_batch(self, eid: str) -> None:
        """A big graph draws its delayed edges as items of their own (they are few, and a
        straight batched line would hide what makes them different): an edge whose delay
        was toggled moves between the batch and the items."""
        delayed = bool(self.network.edges[eid].delay)
        if delayed and eid not in self.edge_items:
            self.batched.edges_removed([eid])
            self._add_edge_item(eid)
        elif not delayed and eid in self.edge_items:
            self.removeItem(self.edge_items.pop(eid))
            self.batched.edges_added([eid])

    def _on_values(self, ids) -> None:
        # A training frame sets every value: redraw only what looks different. A neuron shows
        # its bias to two decimals (NeuronItem.paint); an input shows none.
        neurons = self.network.neurons
        for nid, item in self.neuron_items.items():
            n = neurons[nid]
            if n.role != "input" and self._shown_bias.get(nid) != f"{n.bias:+.2f}":
                self._shown_bias[nid] = f"{n.bias:+.2f}"
                item.update()
        self.refresh_edges(changed_only=True)

    def _edges_changed(self) -> None:
        """Switch between one item per edge and the batched drawing at THRESHOLD edges."""
        if (len(self.network.edges) > THRESHOLD) != (self.batched is not None):
            self._build_edges()
        elif self.batched is not None:
            self._batch_timer.start()

    def _rebuild_batched(self) -> None:
        if self.batched is not None:
            self.batched.rebuild()

    def refresh_edges(self, changed_only: bool = False) -> None:
        """Repaint every edge (new weights, threshold, or gradients); `changed_only`: only
        those whose look changed (a training frame: repainting 88 antialiased curves cost
        the window 20 ms a frame, and most barely move)."""
        self._scale = None
        if self.batched is not None:
            self._batch_timer.start()
        for eid, item in self.edge_items.items():
            key = item.style_key()
            if not changed_only or self._edge_style.get(eid) != key:
                self._edge_style[eid] = key
                item.update()

    @contextlib.contextmanager
    def uncached(self) -> Iterator[None]:
        """Items drawn afresh inside the block (a picture export: a cached item would go into
        an SVG as a pixmap instead of lines and text)."""
        items = [i for i in self.items() if i.cacheMode() != QGraphicsItem.NoCache]
        modes = [i.cacheMode() for i in items]
        for i in items:
            i.setCacheMode(QGraphicsItem.NoCache)
        try:
            yield
        finally:
            for i, mode in zip(items, modes):
                i.setCacheMode(mode)

    # ----- what items show ---------------------------------------------------------------------
    def edge_value(self, eid: str) -> float:
        if self.gradients is not None:
            return self.gradients.get(eid, 0.0)
        return self.network.edges[eid].weight

    def edge_scale(self) -> float:
        """The |value| that draws at full width: the largest on the canvas (cached)."""
        if self._scale is None:
            values = [abs(self.edge_value(e)) for e in self.network.edges]
            self._scale = max(values, default=1.0) or 1.0
        return self._scale

    def set_weak_threshold(self, value: float) -> None:
        self.weak_threshold = value
        self.refresh_edges()

    def set_neuron_values(self, values: dict[str, float] | None) -> None:
        """Colour neurons by a value each (an activation for one sample), or back to plain."""
        for nid, item in self.neuron_items.items():
            if values is None or nid not in values:
                item.highlight, item.value_text = None, None
            else:
                item.highlight = activation_colour(values[nid])
                item.value_text = f"a={values[nid]:+.3f}"
            item.update()

    def set_maps_shown(self, shown: bool) -> None:
        """Grow every neuron to hold its map, or shrink them back (and forget the maps)."""
        if shown == self.maps_shown:
            return
        for item in self.neuron_items.values():
            item.prepareGeometryChange()  # its bounding rect changes with maps_shown
        self.maps_shown = shown
        for item in self.neuron_items.values():
            if not shown:
                item.map_image = None
            item.update()
        self._refresh_edges_of(list(self.neuron_items))  # the ports moved

    def set_neuron_maps(self, images: dict) -> None:
        """Each neuron's map (a QImage per neuron id) while the maps are shown."""
        for nid, item in self.neuron_items.items():
            image = images.get(nid)
            if image is not item.map_image:
                item.map_image = image
                item.update()

    def set_gradients(self, gradients: ValuesById | None,
                      changed_only: bool = False) -> None:
        """Edges show these gradients (None: their weights); `changed_only`: a new frame of
        the gradients view, repainting only edges that look different."""
        self.gradients = gradients
        self.refresh_edges(changed_only)

    def neuron_formula(self, nid: str) -> str:
        net = self.network
        n = net.neurons[nid]
        if n.role == "input":
            return f"<b>{n.name}</b>: input neuron"
        terms = " + ".join(f"{e.weight:.3g}·{net.neurons[e.source].name}" for e in net.incoming(nid))
        formula = f"net = {terms} + {n.bias:.3g}" if terms else f"net = {n.bias:.3g} (no inputs)"
        return (f"<b>{n.name}</b> ({n.role}, {n.activation})<br>{formula}<br>"
                f"out = {n.activation}(net)" + ("<br><i>frozen</i>" if n.frozen else ""))

    def edge_tooltip(self, eid: str) -> str:
        e = self.network.edges[eid]
        src, dst = self.network.neurons[e.source].name, self.network.neurons[e.target].name
        text = f"{src} → {dst}<br>w = {e.weight:.6g}"
        if e.delay:
            text += "<br>delayed (z⁻¹): reads the output of the step before"
        if self.gradients is not None:
            text += f"<br>dL/dw = {self.gradients.get(eid, 0.0):.4g}"
        return text + ("<br><i>frozen</i>" if e.frozen else "")

    # ----- edits -----------------------------------------------------------------------------
    def push(self, edit) -> bool:
        reason = apply_and_push(self.undo_stack, self.network, edit)
        if reason:
            self.message.emit(reason)
        return reason is None

    def add_neuron_at(self, role: str, activation: str | None, pos: QPointF,
                      feature: Feature | None = None) -> str:
        nid = self.network.new_id("n")
        if activation is None:
            activation = DEFAULT_ACTIVATION[role]
        if self.snap_to_grid:
            g = theme.GRID
            pos = QPointF(round(pos.x() / g) * g, round(pos.y() / g) * g)
        self.push(AddNeuron(Neuron(nid, role, activation, 0.0, "", pos.x(), pos.y(),
                                   feature=feature if role == "input" else None)))
        return nid

    def connect_neurons(self, source: str, target: str, delay: int = 0) -> bool:
        """One undoable edge, delayed (z⁻¹) when `delay` is 1. A refused ordinary edge that
        would be allowed delayed (a cycle, a self-loop) says how to make it so."""
        reason = self.network.edge_refusal(source, target, delay)
        if reason:
            if not delay and self.network.edge_refusal(source, target, 1) is None:
                reason += "; Shift-drag makes a delayed edge (z⁻¹), which may close a cycle"
            self.message.emit(f"No edge: {reason}")
            return False
        weight = wiring_weight(self.network, source, target, self.initializer, self.rng,
                               self.init_constant)
        eid = self.network.new_id("e")
        ok = self.push(Connect(source, target, weight, eid, delay))
        if ok:
            kind = "delayed edge (z⁻¹) " if delay else ""
            self.message.emit(f"Connected {kind}{self.network.neurons[source].name} → "
                              f"{self.network.neurons[target].name} (w = {weight:.3f})")
        return ok

    def neuron_moved_on_canvas(self, nid: str) -> None:
        """An item is being dragged: its edges follow now; the document learns on release."""
        self._moving_on_canvas.add(nid)
        self._refresh_edges_of([nid])

    # ----- gestures ----------------------------------------------------------------------------
    def neuron_at(self, pos: QPointF) -> NeuronItem | None:
        for item in self.items(pos):
            if isinstance(item, NeuronItem):
                return item
        return None

    def mousePressEvent(self, event) -> None:
        item = self.neuron_at(event.scenePos())
        shift = bool(event.modifiers() & Qt.ShiftModifier)
        if event.button() == Qt.LeftButton and item is not None and \
                item.on_port(event.scenePos(), delayed=shift):
            line = QGraphicsLineItem(QLineF(item.port_pos(), event.scenePos()))
            pen = QPen(theme.MUTED_TEXT, 2, Qt.DashLine)
            line.setPen(pen)
            line.setZValue(5)
            self.addItem(line)
            self._wire = (item.nid, line)
            event.accept()
            return
        super().mousePressEvent(event)
        self._drag_start = {i.nid: (i.neuron.x, i.neuron.y) for i in self.selectedItems()
                            if isinstance(i, NeuronItem)}

    def mouseMoveEvent(self, event) -> None:
        if self._wire is not None:
            source, line = self._wire
            line.setLine(QLineF(self.neuron_items[source].port_pos(), event.scenePos()))
            return
        super().mouseMoveEvent(event)

    def mouseReleaseEvent(self, event) -> None:
        if self._wire is not None:
            source, line = self._wire
            self.removeItem(line)
            self._wire = None
            target = self.neuron_at(event.scenePos())
            if target is None:
                self.message.emit("No edge: release the wire on a neuron")
            else:
                # Back onto its own neuron: a self-loop, which only a delayed edge can be; and
                # from an output neuron only a delayed edge leaves (Shift began the wire).
                delayed = target.nid == source or bool(event.modifiers() & Qt.ShiftModifier) \
                    or self.network.neurons[source].role == "output"
                self.connect_neurons(source, target.nid, int(delayed))
            return
        super().mouseReleaseEvent(event)
        self._finish_move()

    def _finish_move(self) -> None:
        moved = {nid: (self.neuron_items[nid].pos().x(), self.neuron_items[nid].pos().y())
                 for nid in self._drag_start if nid in self.neuron_items}
        old = {nid: xy for nid, xy in self._drag_start.items() if nid in moved}
        self._drag_start = {}
        changed = {nid for nid in moved if moved[nid] != old[nid]}
        self._moving_on_canvas = set()
        if changed:
            self.push(MoveNeurons({n: old[n] for n in changed}, {n: moved[n] for n in changed},
                                  f"Move {len(changed)} neuron(s)"))

    def drawBackground(self, painter: QPainter, rect: QRectF) -> None:
        painter.fillRect(rect, theme.BACKGROUND)
        scale = painter.worldTransform().m11()
        if scale < 0.35:
            return
        g = theme.GRID
        left, top = int(rect.left() // g) * g, int(rect.top() // g) * g
        minor, major = [], []
        x = left
        while x < rect.right():
            (major if round(x / g) % 5 == 0 else minor).append(QLineF(x, rect.top(), x, rect.bottom()))
            x += g
        y = top
        while y < rect.bottom():
            (major if round(y / g) % 5 == 0 else minor).append(QLineF(rect.left(), y, rect.right(), y))
            y += g
        for lines, colour in ((minor, theme.GRID_MINOR), (major, theme.GRID_MAJOR)):
            pen = QPen(colour, 1)
            pen.setCosmetic(True)
            painter.setPen(pen)
            painter.drawLines(lines)


def activation_colour(value: float) -> QColor:
    """White at 0, towards blue for positive and orange for negative activations (|a| <= 1)."""
    t = max(-1.0, min(1.0, value))
    end = theme.POSITIVE if t >= 0 else theme.NEGATIVE
    k = 0.75 * abs(t)
    return QColor(round(255 + (end.red() - 255) * k), round(255 + (end.green() - 255) * k),
                  round(255 + (end.blue() - 255) * k))
