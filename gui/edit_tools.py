"""Clipboard (copy, cut, paste, duplicate) and the bulk tools (add a layer, connect A to B,
auto-layout), each as one undoable edit."""
from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
from PySide6.QtWidgets import QApplication

from core.activations import DEFAULT_ACTIVATION
from core.edits import AddNeuron, Compound, ConnectMany, MoveNeurons, RemoveItems, SetValue
from core.initializers import draw_weights
from core.layout import layout_by_depth
from core.network import Network, NetworkError, Neuron
from core.project import MAX_EDGES, MAX_NEURONS
from gui.canvas.edge_item import EdgeItem
from gui.canvas.neuron_item import NeuronItem
from gui.canvas.scene import CanvasScene

CLIP_TAG = "backprop-studio-subgraph:"
PASTE_OFFSET = 40.0


def selected_ids(scene: CanvasScene) -> tuple[list[str], list[str]]:
    items = scene.selectedItems()
    return ([i.nid for i in items if isinstance(i, NeuronItem)],
            [i.eid for i in items if isinstance(i, EdgeItem)])


def delete_selection(scene: CanvasScene) -> None:
    neurons, edges = selected_ids(scene)
    if neurons or edges:
        scene.push(RemoveItems(neurons, edges))


def copy_selection(scene: CanvasScene) -> int:
    """The selected neurons and the edges among them, as JSON on the clipboard."""
    neurons, _ = selected_ids(scene)
    net = scene.network
    keep = set(neurons)
    # As the project file writes them: every field comes along (an input's feature, frozen
    # flags; pasted copies lost both, and the copied input read a column that is not there).
    doc = net.to_dict()
    data = {"neurons": [n for n in doc["neurons"] if n["id"] in keep],
            "edges": [e for e in doc["edges"] if e["source"] in keep and e["target"] in keep]}
    # Plain text with a tag (not a QMimeData: the clipboard would own a Python-made object).
    QApplication.clipboard().setText(CLIP_TAG + json.dumps(data))
    return len(neurons)


def paste(scene: CanvasScene) -> list[str]:
    """New copies (new ids, offset positions, same weights) of what was copied."""
    text = QApplication.clipboard().text()
    if not text.startswith(CLIP_TAG):
        scene.message.emit("Nothing to paste: copy some neurons first")
        return []
    try:
        data = json.loads(text[len(CLIP_TAG):])
    except ValueError:
        scene.message.emit("Nothing to paste: the clipboard holds no neurons")
        return []
    net = scene.network
    try:  # read as a file's network is: every field, checked
        copied = Network.from_dict({
            "neurons": data.get("neurons", []),
            "edges": [{**e, "id": f"copied{i}"} for i, e in enumerate(data.get("edges", []))]})
    except (NetworkError, AttributeError, TypeError) as exc:
        scene.message.emit(f"Nothing to paste: the clipboard's neurons cannot be read ({exc})")
        return []
    if too_big(scene, len(copied.neurons), len(copied.edges)):
        return []
    ids: dict[str, str] = {}
    edits: list = []
    for n in copied.neurons.values():
        ids[n.id] = net.new_id("n")
        edits.append(AddNeuron(replace(n, id=ids[n.id], x=n.x + PASTE_OFFSET,
                                       y=n.y + PASTE_OFFSET)))
    edges = list(copied.edges.values())
    if edges:
        eids = [net.new_id("e") for _ in edges]  # known now, for the frozen flags
        edits.append(ConnectMany([(ids[e.source], ids[e.target]) for e in edges],
                                 [e.weight for e in edges], "Paste edges", _ids=eids,
                                 delays=[e.delay for e in edges]))
        edits += [SetValue("edge_frozen", eid, False, True)
                  for eid, e in zip(eids, edges) if e.frozen]
    if edits and scene.push(Compound(edits, f"Paste {len(ids)} neuron(s)")):
        scene.clearSelection()
        for nid in ids.values():
            scene.neuron_items[nid].setSelected(True)
        return list(ids.values())
    return []


def too_big(scene: CanvasScene, new_neurons: int = 0, new_edges: int = 0) -> bool:
    """Refuse (with a message) what would pass the project limits: it could not be saved
    or opened again, and the canvas would crawl long before."""
    net = scene.network
    if len(net.neurons) + new_neurons > MAX_NEURONS:
        scene.message.emit(f"Not done: the network would have {len(net.neurons) + new_neurons:,} "
                           f"neurons; the limit is {MAX_NEURONS:,}")
        return True
    if len(net.edges) + new_edges > MAX_EDGES:
        scene.message.emit(f"Not done: the network would have {len(net.edges) + new_edges:,} "
                           f"edges; the limit is {MAX_EDGES:,}")
        return True
    return False


def add_layer(scene: CanvasScene, count: int, role: str, activation: str) -> list[str]:
    """A column of `count` neurons to the right of everything."""
    net = scene.network
    if too_big(scene, new_neurons=count):
        return []
    x = max((n.x for n in net.neurons.values()), default=-180.0) + 180.0
    top = -(count - 1) * 80.0 / 2
    edits, ids = [], []
    for i in range(count):
        nid = net.new_id("n")
        ids.append(nid)
        edits.append(AddNeuron(Neuron(nid, role, activation if role != "input" else DEFAULT_ACTIVATION["input"],
                                      0.0, "", x, top + 80.0 * i)))
    scene.push(Compound(edits, f"Add layer of {count}"))
    return ids


def connect_sets(scene: CanvasScene, sources: list[str], targets: list[str], mode: str,
                 probability: float = 0.5, seed: int | None = None, delay: int = 0) -> int:
    """Connect sources to targets: "all" (all-to-all), "one" (one-to-one in order) or "random";
    `delay` 1: every new edge delayed (z⁻¹), self-loops included.

    Pairs that are already connected or invalid (into an input, an ordinary self-loop) are
    skipped; a cycle refuses the whole operation with the document's message.
    """
    net = scene.network
    if mode == "one":
        if len(sources) != len(targets):
            scene.message.emit(f"One-to-one needs equal sets: {len(sources)} sources, "
                               f"{len(targets)} targets")
            return 0
        pairs = list(zip(sources, targets))
    else:
        pairs = [(s, t) for t in targets for s in sources]
        if mode == "random":
            rng = np.random.default_rng(seed)
            pairs = [p for p in pairs if rng.random() < probability]
    if too_big(scene, new_edges=len(pairs)):
        return 0
    existing = {(e.source, e.target) for e in net.edges.values()}
    pairs = [p for p in pairs if net._simple_refusal(*p, existing, delay) is None]
    if not pairs:
        scene.message.emit("No new edges: every pair is connected already or not allowed")
        return 0
    fan_in = np.array([len(net.incoming(t)) + sum(1 for _, b in pairs if b == t) for _, t in pairs])
    fan_out = np.array([len(net.outgoing(s)) + sum(1 for a, _ in pairs if a == s) for s, _ in pairs])
    weights = draw_weights(scene.initializer, fan_in, fan_out, scene.rng,
                           scene.init_constant).tolist()
    kind = " delayed" if delay else ""
    if scene.push(ConnectMany(pairs, weights, f"Connect {len(pairs)}{kind} edge(s)",
                              delays=[delay] * len(pairs) if delay else None)):
        scene.message.emit(f"Added {len(pairs)}{kind} edge(s)")
        return len(pairs)
    return 0


def auto_layout(scene: CanvasScene) -> None:
    net = scene.network
    new = layout_by_depth(net)
    old = {nid: (n.x, n.y) for nid, n in net.neurons.items()}
    moved = {nid: xy for nid, xy in new.items() if xy != old[nid]}
    if moved:
        scene.push(MoveNeurons({n: old[n] for n in moved}, moved, "Auto-layout"))
