"""The inspector: edit the selected neuron(s) or edge(s). Every change is an undoable edit;
several selected items are edited at once."""
from __future__ import annotations

import re

from PySide6.QtWidgets import (QCheckBox, QComboBox, QDoubleSpinBox, QFormLayout, QLabel,
                               QLineEdit, QStackedWidget, QVBoxLayout, QWidget)

from core.activations import ACTIVATIONS
from core.edits import Compound, SetValue
from core.features import Feature, choices, columns_needed
from core.network import ROLES
from gui.canvas.edge_item import EdgeItem
from gui.canvas.neuron_item import NeuronItem
from gui.canvas.scene import CanvasScene


# Above this many columns the feature list leaves out products (64 columns: 2,016 of them).
MAX_PRODUCT_COLUMNS = 8


def _spin() -> QDoubleSpinBox:
    box = QDoubleSpinBox()
    box.setRange(-1e6, 1e6)
    box.setDecimals(6)
    box.setSingleStep(0.1)
    box.setKeyboardTracking(False)  # one edit per committed value, not per keystroke
    return box


class Inspector(QWidget):
    def __init__(self, scene: CanvasScene, parent=None) -> None:
        super().__init__(parent)
        self.scene = scene
        self.neurons: list[str] = []
        self.edges: list[str] = []
        self._updating = False
        self._feature_key: tuple | None = None  # (columns, current feature) the combo shows
        self._feature_options: list[Feature] = []
        self.title = QLabel("Nothing selected")
        self.title.setWordWrap(True)
        self.stack = QStackedWidget()
        self.stack.addWidget(QWidget())
        self.stack.addWidget(self._neuron_form())
        self.stack.addWidget(self._edge_form())
        layout = QVBoxLayout(self)
        layout.addWidget(self.title)
        layout.addWidget(self.stack)
        layout.addStretch(1)
        scene.selectionChanged.connect(self.refresh)
        scene.network.changed.connect(self._on_network_changed)
        self.refresh()

    def _neuron_form(self) -> QWidget:
        w = QWidget()
        form = QFormLayout(w)
        self.role = QComboBox()
        self.role.addItems(ROLES)
        self.activation = QComboBox()
        self.activation.addItems(list(ACTIVATIONS))
        self.bias = _spin()
        self.label = QLineEdit()
        self.label.setPlaceholderText("(the id)")
        self.feature = QComboBox()
        self.feature.setToolTip("What an input neuron takes from the data's columns: a column, "
                                "its square, a product of two, a sine or cosine")
        self.frozen = QCheckBox("bias never trained")
        form.addRow("Role", self.role)
        form.addRow("Activation", self.activation)
        form.addRow("Bias", self.bias)
        form.addRow("Label", self.label)
        form.addRow("Feature", self.feature)
        form.addRow("Frozen", self.frozen)
        self.role.activated.connect(lambda i: self._set_neurons("role", ROLES[i]))
        self.activation.activated.connect(
            lambda i: self._set_neurons("activation", self.activation.itemText(i)))
        self.bias.valueChanged.connect(lambda v: self._set_neurons("bias", v))
        self.label.editingFinished.connect(lambda: self._set_neurons("label", self.label.text()))
        self.frozen.toggled.connect(lambda v: self._set_neurons("frozen", v))
        self.feature.activated.connect(self._on_feature_chosen)
        return w

    def _edge_form(self) -> QWidget:
        w = QWidget()
        form = QFormLayout(w)
        self.weight = _spin()
        self.edge_frozen = QCheckBox("weight never trained")
        self.delayed = QCheckBox("Delayed (z⁻¹)")
        self.delayed.setToolTip("The edge carries its source's output of the previous time "
                                "step: what makes a recurrent net. A cycle is allowed only "
                                "through a delayed edge.")
        form.addRow("Weight", self.weight)
        form.addRow("Frozen", self.edge_frozen)
        form.addRow("Time", self.delayed)
        self.weight.valueChanged.connect(lambda v: self._set_edges("weight", v))
        self.edge_frozen.toggled.connect(lambda v: self._set_edges("edge_frozen", v))
        self.delayed.toggled.connect(lambda v: self._set_edges("delay", int(v)))
        return w

    def _on_network_changed(self, change) -> None:
        if not self._updating:
            self.refresh()

    def refresh(self) -> None:
        try:
            selected = self.scene.selectedItems()
        except RuntimeError:  # the scene is being destroyed
            return
        net = self.scene.network
        self.neurons = [i.nid for i in selected if isinstance(i, NeuronItem) and i.nid in net.neurons]
        self.edges = [i.eid for i in selected if isinstance(i, EdgeItem) and i.eid in net.edges]
        self._updating = True
        try:
            if self.neurons:
                self._show_neurons()
            elif self.edges:
                self._show_edges()
            else:
                self.title.setText("Nothing selected.<br><span style='color:gray'>Click a neuron "
                                   "or an edge to edit it; drag a box to select several.</span>")
                self.stack.setCurrentIndex(0)
        finally:
            self._updating = False

    def _show_neurons(self) -> None:
        net = self.scene.network
        first = net.neurons[self.neurons[0]]
        many = len(self.neurons) > 1
        self.title.setText(f"<b>{len(self.neurons)} neurons</b> (edits apply to all)" if many
                           else f"<b>Neuron {first.name}</b> <span style='color:gray'>({first.id})</span>")
        self.role.setCurrentText(first.role)
        self.activation.setCurrentText(first.activation)
        self.bias.setValue(first.bias)
        self.label.setText("" if many else first.label)
        self.label.setEnabled(not many)
        self.frozen.setChecked(first.frozen)
        is_input = all(net.neurons[n].role == "input" for n in self.neurons)
        self.activation.setEnabled(not is_input)
        self.bias.setEnabled(not is_input)
        self._show_feature(first.feature if is_input else None, is_input)
        self.stack.setCurrentIndex(1)

    def _show_edges(self) -> None:
        net = self.scene.network
        e = net.edges[self.edges[0]]
        src, dst = net.neurons[e.source].name, net.neurons[e.target].name
        self.title.setText(f"<b>{len(self.edges)} edges</b> (edits apply to all)"
                           if len(self.edges) > 1 else f"<b>Edge {src} → {dst}</b> "
                           f"<span style='color:gray'>({e.id})</span>")
        self.weight.setValue(e.weight)
        self.edge_frozen.setChecked(e.frozen)
        self.delayed.setChecked(bool(e.delay))
        self.stack.setCurrentIndex(2)

    def _show_feature(self, current: Feature | None, enabled: bool) -> None:
        """The feature choices for the data's columns (as many as the inputs read, at least
        TF Playground's two), the current one selected."""
        if not enabled:  # not an input: the row shows "its own column", greyed out; the
            # choices are made when an input is selected (3,137 items for 784 columns cost
            # selecting a hidden neuron 0.15 s)
            if self.feature.count() == 0:
                self.feature.addItem("its own column (by position)", None)
            self.feature.setCurrentIndex(0)
            self.feature.setEnabled(False)
            return
        net = self.scene.network
        n = max(2, columns_needed([net.neurons[i].feature for i in net.neurons
                                   if net.neurons[i].role == "input"]))
        # Refilled only when the choices change: the inspector refreshes on every document
        # change, and 784 columns make 3,136 items (and once 307k products were made and
        # dropped: seconds per edit of a big net while a neuron was selected).
        if self._feature_key != (n, current):
            options = choices(n, products=n <= MAX_PRODUCT_COLUMNS)
            if current is not None and current not in options:
                options.append(current)
            self.feature.clear()
            self.feature.addItem("its own column (by position)", None)
            for f in options:
                self.feature.addItem(f"{f.label}  ({f.spec.words})", f)
            self._feature_key, self._feature_options = (n, current), options
        options = self._feature_options
        self.feature.setCurrentIndex(0 if current is None else 1 + options.index(current))
        self.feature.setEnabled(enabled)

    def _on_feature_chosen(self, index: int) -> None:
        """One undo step: the feature, and a label that only named a column cleared so the
        neuron shows its feature (x1 becoming x1² would otherwise still read x1)."""
        net, new = self.scene.network, self.feature.itemData(index)
        edits = []
        for nid in self.neurons:
            n = net.neurons[nid]
            if n.role != "input" or n.feature == new:
                continue
            edits.append(SetValue("feature", nid, n.feature, new))
            if n.label and (re.fullmatch(r"x\d+", n.label) or
                            (n.feature is not None and n.label == n.feature.label)):
                edits.append(SetValue("label", nid, n.label, ""))
        self._push([Compound(edits, "Set feature")] if len(edits) > 1 else edits)

    def _set_neurons(self, kind: str, value) -> None:
        net = self.scene.network
        self._push([SetValue(kind, n, getattr(net.neurons[n], kind), value) for n in self.neurons
                    if getattr(net.neurons[n], kind) != value])

    def _set_edges(self, kind: str, value) -> None:
        net = self.scene.network
        attr = "frozen" if kind == "edge_frozen" else kind
        self._push([SetValue(kind, e, getattr(net.edges[e], attr), value) for e in self.edges
                    if getattr(net.edges[e], attr) != value])

    def _push(self, edits: list[SetValue]) -> None:
        if self._updating or not edits:
            return
        self._updating = True
        try:
            self.scene.push(edits[0] if len(edits) == 1 else
                            Compound(edits, f"{edits[0].title.split(' of ')[0]} of {len(edits)} items"))
        finally:
            self._updating = False
        self.refresh()
