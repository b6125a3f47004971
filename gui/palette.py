"""The palette of neuron kinds: drag one onto the canvas (or double-click to add at the
centre of the view)."""
from __future__ import annotations

from PySide6.QtCore import QMimeData, Qt, Signal
from PySide6.QtWidgets import QAbstractItemView, QListWidget, QListWidgetItem

from core.activations import ACTIVATIONS, DEFAULT_ACTIVATION
from core.features import PLAYGROUND
from gui.canvas.view import MIME, kind_payload, parse_kind


def kinds() -> list[tuple[str, str, str]]:
    """(role, activation, title) per palette entry: a plain input, TF Playground's seven
    derived inputs of two-column data (x1, x2, x1², x2², x1·x2, sin x1, sin x2), a hidden
    kind for every registered activation, read when the palette is built."""
    plain = DEFAULT_ACTIVATION["input"]
    return [("input", plain, "Input")] + \
        [("input", kind_payload("input", plain, f).partition(":")[2], f"Input · {f.label}")
         for f in PLAYGROUND] + \
        [("hidden", a, f"Hidden · {a}") for a in ACTIVATIONS] + \
        [("output", "sigmoid", "Output · sigmoid"), ("output", "identity", "Output · linear"),
         ("output", "tanh", "Output · tanh")]


class Palette(QListWidget):
    activated_kind = Signal(str, str)  # role, activation[:feature] (double-click)

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setDragEnabled(True)
        self.setDragDropMode(QAbstractItemView.DragOnly)
        self.setSelectionMode(QAbstractItemView.SingleSelection)
        self.setSpacing(2)
        for role, activation, title in kinds():
            item = QListWidgetItem(title)
            item.setData(Qt.UserRole, f"{role}:{activation}")
            feature = parse_kind(f"{role}:{activation}")[2]
            item.setToolTip(f"Drag onto the canvas to add a {role} neuron"
                            + (f" computing {feature.label} from the data's columns"
                               f" ({feature.spec.words})" if feature else "")
                            + ("" if role == "input" else f" with {activation} activation"))
            self.addItem(item)
        self.itemDoubleClicked.connect(self._on_double_clicked)

    def show_for(self, data) -> None:
        """TF Playground's derived inputs are offered for two-column data (a Dataset, or
        None when there is none), as it does; the plain input, hidden and output kinds
        always."""
        two = data is not None and data.n_inputs == 2
        for i in range(self.count()):
            item = self.item(i)
            if parse_kind(item.data(Qt.UserRole))[2] is not None:
                item.setHidden(not two)

    def mimeTypes(self) -> list[str]:
        return [MIME]

    def mimeData(self, items) -> QMimeData:
        data = QMimeData()
        if items:
            data.setData(MIME, items[0].data(Qt.UserRole).encode())
        return data

    def _on_double_clicked(self, item: QListWidgetItem) -> None:
        role, _, activation = item.data(Qt.UserRole).partition(":")
        self.activated_kind.emit(role, activation)
